//! Flaky tests: `--retries N` (or `[gradle].retries`) reruns only the test
//! classes that failed, one more Gradle run per retry, and a test that
//! passes on a rerun is FLAKY: it passes, the report names it (table, note,
//! `flaky` metric) and the JUnit carries its failed attempts as Surefire's
//! `<flakyFailure>`. With `[gradle].fail_on_flaky` a flaky test fails the
//! suite.
//!
//! Only a run whose failures are test failures is retried: a compile
//! error, a timeout, an interrupt, "no tests found" or an unreadable result
//! file is reported as it is.

use std::collections::BTreeMap;

use crate::{
    context::Ctx,
    gradle::{self, first_line, ClassResult, FailedTest, GradleOpts, GradleRun, TestResults},
    junit::{self, Case, Outcome},
    report::{Report, StepView},
    runner::Outcome as StepOutcome,
};

/// Failing tests named one by one in the notes.
const MAX_NOTES: usize = 10;

/// Every Gradle run of one suite: the first, then the reruns.
pub struct Runs {
    pub runs: Vec<GradleRun>,
    /// Every test case, final outcome, failed attempts kept.
    pub cases: Vec<Case>,
}

/// Runs the tests, then reruns the failed classes up to `retries` times.
pub fn run(ctx: &Ctx, opts: &GradleOpts, retries: u32) -> anyhow::Result<Runs> {
    let first = gradle::run_tests(ctx, opts)?;
    let mut cases = first.results.cases.clone();
    let mut runs = vec![first];
    for attempt in 1..=retries {
        let last = runs.last().expect("one run at least");
        let failed = failed_classes(&cases);
        if failed.is_empty() || !retryable(last) {
            break;
        }
        crate::runner::check_interrupt()?;
        ctx.runner.say(&format!(
            "rerun {attempt}/{retries}: the {} failed test class(es) only: {}",
            failed.len(),
            failed.join(", ")
        ));
        let rerun = gradle::run_tests(
            ctx,
            &GradleOpts {
                classes: failed,
                ..opts.clone()
            },
        )?;
        merge(&mut cases, &rerun.results.cases);
        runs.push(rerun);
    }
    Ok(Runs { runs, cases })
}

/// Test failures only: Gradle exited, wrote readable results, named the failures.
fn retryable(run: &GradleRun) -> bool {
    matches!(run.step.outcome, StepOutcome::Exited { .. })
        && run.no_tests_found.is_none()
        && run.results.unreadable.is_empty()
        && !run.results.failed.is_empty()
}

fn failed_classes(cases: &[Case]) -> Vec<String> {
    let mut out: Vec<String> = cases
        .iter()
        .filter(|c| c.failed())
        .map(|c| c.classname.clone())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// A rerun's outcome replaces a failed one; the failure is kept as an attempt.
fn merge(cases: &mut [Case], rerun: &[Case]) {
    for c in cases.iter_mut().filter(|c| c.failed()) {
        let Some(again) = rerun
            .iter()
            .find(|r| r.classname == c.classname && r.name == c.name)
        else {
            continue;
        };
        let previous = std::mem::replace(&mut c.outcome, again.outcome.clone());
        if let Outcome::Failed(p) | Outcome::Error(p) = previous {
            c.flaky.push(p);
        }
        c.time_s = again.time_s;
        if again.system_out.is_some() {
            c.system_out = again.system_out.clone();
        }
    }
}

/// Counts per class and failing tests, from the final cases.
fn results(cases: &[Case], unreadable: &[String]) -> TestResults {
    let mut classes: BTreeMap<String, ClassResult> = BTreeMap::new();
    for c in cases {
        let r = classes
            .entry(c.classname.clone())
            .or_insert_with(|| ClassResult {
                class: c.classname.clone(),
                ..ClassResult::default()
            });
        r.tests += 1;
        r.time_s += c.time_s;
        match c.outcome {
            Outcome::Failed(_) => r.failures += 1,
            Outcome::Error(_) => r.errors += 1,
            Outcome::Skipped(_) => r.skipped += 1,
            Outcome::Passed => {}
        }
    }
    TestResults {
        classes: classes.into_values().collect(),
        failed: cases
            .iter()
            .filter_map(|c| match &c.outcome {
                Outcome::Failed(p) | Outcome::Error(p) => Some(FailedTest {
                    class: c.classname.clone(),
                    name: c.name.clone(),
                    message: first_line(if p.message.is_empty() {
                        &p.kind
                    } else {
                        &p.message
                    }),
                }),
                _ => None,
            })
            .collect(),
        unreadable: unreadable.to_vec(),
        cases: cases.to_vec(),
    }
}

impl Runs {
    pub fn flaky(&self) -> Vec<&Case> {
        self.cases.iter().filter(|c| c.is_flaky()).collect()
    }

    /// The report: without reruns exactly what one Gradle run says; with
    /// them every run's step, the final outcome of each test, and the
    /// FLAKY ones named.
    pub fn add_to(&self, report: &mut Report, fail_on_flaky: bool) {
        let last = self.runs.last().expect("one run at least");
        if self.runs.len() == 1 {
            last.add_to(report);
        } else {
            // Earlier runs are shown; their failures are judged by the reruns.
            for r in &self.runs[..self.runs.len() - 1] {
                report.steps.push(StepView::from(&r.step));
            }
            let first = &self.runs[0];
            let merged = GradleRun {
                step: last.step.clone(),
                results: results(&self.cases, &first.results.unreadable),
                classes: first.classes.clone(),
                no_tests_found: None,
            };
            merged.add_to(report);
            report.param(
                "Gradle runs",
                format!("{} (reruns of the failed classes)", self.runs.len()),
            );
        }
        if self
            .runs
            .first()
            .is_some_and(|r| r.step.outcome == StepOutcome::DryRun)
        {
            return;
        }
        let flaky = self.flaky();
        report.metric("flaky", Some(flaky.len() as f64), "");
        if flaky.is_empty() {
            return;
        }
        report.table(
            "Flaky tests",
            &["Class", "Test", "Failed attempts", "First failure"],
            flaky
                .iter()
                .map(|c| {
                    vec![
                        c.classname.clone(),
                        c.name.clone(),
                        c.flaky.len().to_string(),
                        first_line(&c.flaky[0].message),
                    ]
                })
                .collect(),
        );
        for c in flaky.iter().take(MAX_NOTES) {
            let simple = c.classname.rsplit('.').next().unwrap_or(&c.classname);
            let line = format!(
                "FLAKY: {simple}.{} failed ({}), then passed on a rerun",
                c.name,
                first_line(&c.flaky[0].message)
            );
            if fail_on_flaky {
                report.fail(format!("{line}; fail_on_flaky fails the suite"));
            } else {
                report.note(line);
            }
        }
        if flaky.len() > MAX_NOTES {
            report.note(format!(
                "... and {} more flaky tests (see the table)",
                flaky.len() - MAX_NOTES
            ));
        }
    }

    /// The cases as JUnit suites, one per class.
    pub fn junit_suites(&self) -> Vec<junit::Suite> {
        let mut by_class: BTreeMap<String, Vec<Case>> = BTreeMap::new();
        for c in &self.cases {
            by_class
                .entry(c.classname.clone())
                .or_default()
                .push(c.clone());
        }
        by_class
            .into_iter()
            .map(|(name, cases)| junit::Suite {
                name,
                timestamp: None,
                cases,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::junit::Problem;

    fn failed(class: &str, name: &str, msg: &str) -> Case {
        Case {
            outcome: Outcome::Failed(Problem {
                message: msg.into(),
                kind: "java.lang.AssertionError".into(),
                text: String::new(),
            }),
            ..Case::passed(class, name, 0.1)
        }
    }

    #[test]
    fn a_test_passing_on_rerun_is_flaky_and_one_failing_again_stays_failed() {
        let mut cases = vec![
            Case::passed("a.A", "ok", 0.1),
            failed("a.B", "once", "first time"),
            failed("a.B", "always", "broken"),
        ];
        assert_eq!(failed_classes(&cases), ["a.B"]);
        merge(
            &mut cases,
            &[
                Case::passed("a.B", "once", 0.2),
                failed("a.B", "always", "broken again"),
            ],
        );
        assert!(cases[1].is_flaky());
        assert_eq!(cases[1].flaky[0].message, "first time");
        assert!(cases[2].failed());
        assert_eq!(
            cases[2].flaky.len(),
            1,
            "the earlier failure kept as an attempt"
        );
        let r = results(&cases, &[]);
        assert_eq!((r.tests(), r.failures()), (3, 1));
        assert_eq!(r.failed[0].message, "broken again");
    }
}
