//! Plans (Bevy's `tools/ci` way): a command that is a list of prepared
//! steps builds a `Plan` and hands it to `Runner::execute`, so stopping at
//! the first failure or keeping going, the steps that always run at the end
//! (cleanup), dry-run, timing and the summary of what failed are written
//! once, here.

use anyhow::Context;

use super::{Runner, Step, StepRecord};

/// Ordered prepared steps, executed by `Runner::execute`.
#[derive(Debug, Default)]
pub struct Plan {
    steps: Vec<Step>,
    /// Run every step even after one failed (else stop at the first).
    keep_going: bool,
    /// Run at the end whatever happened before (cleanup).
    finally: Vec<Step>,
}

impl Plan {
    pub fn new() -> Plan {
        Plan::default()
    }

    pub fn keep_going(mut self, yes: bool) -> Plan {
        self.keep_going = yes;
        self
    }

    pub fn steps(mut self, steps: impl IntoIterator<Item = Step>) -> Plan {
        self.steps.extend(steps);
        self
    }

    /// A step that runs last, even when an earlier one failed.
    pub fn finally(mut self, step: Step) -> Plan {
        self.finally.push(step);
        self
    }
}

/// What a plan did: every step's record, in order, and one line per failure.
#[derive(Debug)]
pub struct Executed {
    pub records: Vec<StepRecord>,
    /// `NAME: HOW`, one per failed step.
    pub failed: Vec<String>,
}

impl Executed {
    pub fn ok(&self) -> bool {
        self.failed.is_empty()
    }

    /// An error naming the failed steps (as `runner::ensure_success` does
    /// one), or `Ok`.
    pub fn ensure_success(&self) -> anyhow::Result<()> {
        let failed: Vec<String> = (self.records.iter().filter(|r| !r.ok()))
            .map(|r| format!("step `{}` failed: {}", r.name, r.outcome.describe()))
            .collect();
        match failed.is_empty() {
            true => Ok(()),
            false => Err(anyhow::anyhow!("{}", failed.join("; "))),
        }
    }
}

impl Runner {
    /// Runs `plan`: its steps in order (all of them with `keep_going`, else
    /// until one fails), then its `finally` steps whatever happened. A step
    /// that cannot start at all (a missing tool) is an error at once, after
    /// the `finally` steps. A dry run prints every step (`run`).
    pub fn execute(&self, plan: &Plan) -> anyhow::Result<Executed> {
        let mut done = Executed {
            records: vec![],
            failed: vec![],
        };
        let mut result = Ok(());
        for step in &plan.steps {
            match self
                .run(step)
                .with_context(|| format!("cannot run {}", step.name))
            {
                Ok(rec) => {
                    let ok = rec.ok();
                    if !ok {
                        done.failed
                            .push(format!("{}: {}", rec.name, rec.outcome.describe()));
                    }
                    done.records.push(rec);
                    if !ok && !plan.keep_going {
                        break;
                    }
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        for step in &plan.finally {
            let rec = self
                .run(&step.clone().cleanup())
                .with_context(|| format!("cannot run {}", step.name));
            match rec {
                Ok(rec) => {
                    if !rec.ok() {
                        done.failed
                            .push(format!("{}: {}", rec.name, rec.outcome.describe()));
                    }
                    done.records.push(rec);
                }
                Err(e) if result.is_ok() => result = Err(e),
                Err(_) => {}
            }
        }
        result.map(|()| done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::Verbosity;

    fn runner(dry: bool) -> Runner {
        let d = camino::Utf8PathBuf::from_path_buf(std::env::temp_dir()).unwrap();
        Runner::new(d, dry, Verbosity::Quiet)
    }

    fn sh(name: &str, script: &str) -> Step {
        Step::new(name, "sh").args(["-c", script])
    }

    #[test]
    fn a_plan_stops_at_the_first_failure_but_runs_its_cleanup() {
        let plan = Plan::new()
            .steps([
                sh("one", "exit 0"),
                sh("two", "exit 3"),
                sh("three", "exit 0"),
            ])
            .finally(sh("cleanup", "exit 0"));
        let done = runner(false).execute(&plan).unwrap();
        let names: Vec<&str> = done.records.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["one", "two", "cleanup"]);
        assert_eq!(done.failed, ["two: exit 3"]);
        let e = done.ensure_success().unwrap_err().to_string();
        assert_eq!(e, "step `two` failed: exit 3");
    }

    #[test]
    fn keep_going_runs_every_step_and_names_every_failure() {
        let plan = Plan::new().keep_going(true).steps([
            sh("a", "exit 1"),
            sh("b", "exit 0"),
            sh("c", "exit 2"),
        ]);
        let done = runner(false).execute(&plan).unwrap();
        assert_eq!(done.records.len(), 3);
        assert_eq!(done.failed, ["a: exit 1", "c: exit 2"]);
    }

    #[test]
    fn a_dry_run_plan_runs_nothing_and_passes() {
        let plan = Plan::new()
            .steps([sh("x", "exit 9")])
            .finally(sh("y", "exit 9"));
        let done = runner(true).execute(&plan).unwrap();
        assert!(done.ok());
        assert_eq!(done.records.len(), 2);
    }
}
