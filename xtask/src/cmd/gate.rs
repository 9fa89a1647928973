//! `cargo xtask gate`: every stage on ONE environment, brought up once and
//! torn down once (the legacy scripts started a fresh compose environment
//! per script). The stages form a graph (`graph.rs`: release-gate beside
//! env-up, the k6 runs alone) and run in threads of this process, as many
//! at once as the graph and `--jobs` allow (`schedule.rs`); `--jobs 1` runs
//! them one by one in the legacy order:
//!
//! release-gate → env-up → integration → ops-health → k6-baseline →
//! ops-monitor → scale → k6-distributed → env-down
//!
//! Fail-fast by default (running stages are cancelled through the runner,
//! later ones SKIPPED with the reason), `--keep-going` runs all,
//! `--only`/`--skip` select. Each stage writes its own suite report and its
//! own log; the gate writes `gate-latest.{md,json}` with the schedule, a
//! JUnit XML of the stages and every test case (`gate_junit.rs`) for CI
//! test views, and ends with `gate status`.
//!
//! Each stage's options are read as its command reads them with no flag
//! given, so legacy variables and xtask.toml apply exactly as when the
//! stages run one by one; what the gate decides is set on the typed options.

use std::sync::{
    atomic::{AtomicBool, Ordering},
    Mutex,
};

use anyhow::{bail, Context};
use camino::Utf8PathBuf;

use crate::{
    context::{Ctx, Exit},
    env::{self, EnvDefaults, EnvGuard, EnvSpec},
    flags::{self, EnvOpts},
    report::{self, Report, RunOptions},
    runner::Interrupted,
    units::Replicas,
};

mod graph;
mod schedule;

pub use graph::Stage;

pub const SUITE: &str = "gate";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StageResult {
    Pass,
    /// `--dry-run`: its commands were printed, nothing ran.
    Planned,
    Fail(String),
    Skipped(String),
}

/// One stage's run, as the report shows it.
#[derive(Clone, Debug)]
pub struct StageRun {
    pub name: &'static str,
    pub result: StageResult,
    pub duration_ms: u64,
    /// Repo-relative path of the stage's own report.
    pub report: Option<String>,
    /// When it started, from the gate's start; None: it did not run.
    pub start_ms: Option<u64>,
    /// The stage's own log (every line it printed).
    pub log: Option<Utf8PathBuf>,
}

/// The environment the stages share, and whether there is one (read by
/// the scheduler without waiting for a stage that holds the environment).
#[derive(Default)]
struct Shared {
    env: Mutex<Option<EnvGuard>>,
    present: AtomicBool,
    endpoints: Mutex<env::Endpoints>,
}

impl flags::Gate {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        match self.sub {
            Some(flags::GateSub::Status(s)) => return s.run(ctx),
            Some(flags::GateSub::Publish(p)) => return p.run(ctx),
            None => {}
        }
        let selected = self.selection()?;
        if !self.no_setup {
            // A dry run installs nothing.
            (ctx.runner
                .real_only(|| crate::cmd::setup::ensure(ctx))
                .transpose())
            .context("setup before the gate failed (use --no-setup to skip it)")?;
        }
        let spec = EnvSpec::resolve(
            ctx,
            &EnvOpts {
                kind: self.env,
                ..EnvOpts::default()
            },
            &EnvDefaults::gate(&ctx.config),
        )?;
        let replicas = self.replicas.unwrap_or(ctx.config.k6.distributed.replicas);
        // The environment `env up` left running serves every stage (env-up
        // and env-down then only reshape it), unless --fresh.
        let mut found = match selected.iter().any(|s| s.uses_env()) {
            true => env::reuse::find(
                ctx,
                &env::reuse::Want {
                    kind: self.env,
                    project: None,
                    fresh: self.fresh,
                },
            )?,
            false => None,
        };
        // A dry run prints the plan in order.
        let jobs = ctx.runner.answer(|| self.jobs(), || 1);
        let mut stages: Vec<StageRun> = vec![];
        let mut interrupted = None;
        let (report, exit) = ctx.run_suite(
            SUITE,
            "Gate Report",
            RunOptions::default(),
            |report, run| {
                report.param("Environment", spec.kind.as_str());
                report.param("Fail fast", !self.keep_going);
                report.param("Distributed replicas", replicas);
                report.param("Jobs", jobs);
                let shared = Shared::default();
                if let Some(f) = found.take() {
                    let guard = f.guard(ctx, report, None)?;
                    *shared.endpoints.lock().unwrap() = guard.endpoints();
                    *shared.env.lock().unwrap() = Some(guard);
                    shared.present.store(true, Ordering::SeqCst);
                }
                let scheduler = schedule::Scheduler {
                    jobs,
                    keep_going: self.keep_going,
                    runner: ctx.runner.clone(),
                    not_run: Stage::ALL
                        .into_iter()
                        .filter_map(|s| s.needed(&selected, jobs).map(|why| (s, why.to_string())))
                        .collect(),
                    logs_dir: run.dir.join("stages"),
                };
                // The environment's Gradle build goes first: it unblocks the
                // long wait of env-up, which then overlaps the tests.
                let env_build_first = Mutex::new(
                    (!scheduler.not_run.contains_key(&Stage::EnvUp) && jobs > 1)
                        .then(crate::gradle::shared::expect_env_build),
                );
                let exec = |stage: Stage| {
                    let out = run_stage(ctx, stage, &spec, replicas, &shared);
                    if stage == Stage::EnvUp {
                        env_build_first.lock().unwrap().take();
                    }
                    out
                };
                let has_env = || shared.present.load(Ordering::SeqCst);
                let ran = scheduler.run(&exec, &has_env, &|m| ctx.info(m))?;
                // Should a stage have panicked past us, the guard's Drop tears down.
                drop(shared.env.lock().unwrap_or_else(|e| e.into_inner()).take());
                stages = ran.stages;
                interrupted = ran.interrupted;
                fill(report, &stages);
                schedule::Timeline::new(&stages).add_to(report, |p| ctx.relative(p));
                for s in &stages {
                    if let StageResult::Fail(why) = &s.result {
                        report.fail(format!("stage {} failed: {why}", s.name));
                    }
                }
                if let Some(sig) = interrupted {
                    return Err(Interrupted(sig).into());
                }
                Ok(())
            },
        )?;
        let junit = || {
            let xml = crate::cmd::gate_junit::xml(ctx, &stages, &report);
            report::write_atomic(
                &ctx.layout.latest_dir(SUITE).join("gate-junit.xml"),
                xml.as_bytes(),
            )
        };
        // A dry run's stages are a plan: no JUnit, no status, no page.
        ctx.runner.real_only(junit).transpose()?;
        println!("\n{}", table(&stages));
        let verdict = || -> anyhow::Result<()> {
            let status = crate::cmd::gate_status::evaluate(ctx)?;
            println!("{}", crate::cmd::gate_status::render(&status));
            let page = crate::cmd::report::write_html(ctx, SUITE)?;
            ctx.info(&format!(
                "gate: the whole run on one page: {}",
                ctx.relative(&page)
            ));
            crate::cmd::gate_publish::save_status(ctx, &status)
        };
        ctx.runner.real_only(verdict).transpose()?;
        if self.publish {
            crate::cmd::gate_publish::publish(ctx, &self.target)?;
        }
        Ok(exit)
    }

    /// `--jobs`, or as many stages at once as the graph allows.
    fn jobs(&self) -> usize {
        self.jobs.map_or(Stage::ALL.len(), |j| j as usize)
    }

    /// The stages to run, from --only/--skip (names checked).
    fn selection(&self) -> anyhow::Result<Vec<Stage>> {
        let names = || Stage::SELECTABLE.map(Stage::name).join(", ");
        for name in self.only.iter().chain(&self.skip) {
            if !Stage::from_name(name).is_some_and(|s| Stage::SELECTABLE.contains(&s)) {
                bail!(
                    "unknown stage `{name}`: choose from {} (environment stages follow them)",
                    names()
                );
            }
        }
        if let Some(both) = self.only.iter().find(|o| self.skip.contains(o)) {
            bail!("stage `{both}` is given to both --only and --skip: choose one");
        }
        let selected: Vec<Stage> = Stage::SELECTABLE
            .into_iter()
            .filter(|s| self.only.is_empty() || self.only.iter().any(|o| o == s.name()))
            .filter(|s| !self.skip.iter().any(|o| o == s.name()))
            .collect();
        // A gate that runs nothing must not end in PASS.
        if selected.is_empty() {
            bail!(
                "--only and --skip leave no stage to run: choose from {}",
                names()
            );
        }
        Ok(selected)
    }
}

/// Runs one stage (in its lane's thread); returns its exit and the path of its report.
fn run_stage(
    ctx: &Ctx,
    stage: Stage,
    spec: &EnvSpec,
    replicas: Replicas,
    shared: &Shared,
) -> anyhow::Result<(Exit, Option<String>)> {
    let latest = |suite: &str| Some(ctx.relative(&ctx.layout.latest(suite, "md")));
    // A stage that uses the environment holds it while it runs.
    let env = || shared.env.lock().unwrap_or_else(|e| e.into_inner());
    match stage {
        Stage::ReleaseGate => {
            let c: flags::ReleaseGate = stage_opts(stage)?;
            Ok((c.run(ctx)?, latest("release-gate")))
        }
        Stage::TestClasses => {
            let step = crate::gradle::shared::classes_step(ctx)?;
            let _turn = crate::gradle::shared::turn(crate::gradle::shared::Build::Other)?;
            let rec = ctx.runner.run(&step)?;
            crate::runner::ensure_success(&rec)?;
            Ok((Exit::OK, None))
        }
        // A reused environment is already up.
        Stage::EnvUp if shared.present.load(Ordering::SeqCst) => Ok((Exit::OK, None)),
        Stage::EnvUp => {
            let mut guard = EnvGuard::new(env::open(ctx, spec)?, false);
            let started = guard
                .up()
                .with_context(|| format!("cannot bring the {} environment up", spec.kind.as_str()))
                .and_then(|()| {
                    guard.ready().with_context(|| {
                        format!(
                            "the environment did not become ready within {}",
                            spec.ready_timeout
                        )
                    })
                });
            if let Err(e) = started {
                // Cancelled or failed: down now, in this stage's log.
                if let Err(down) = guard.finish() {
                    ctx.info(&format!("env-up: teardown failed: {down:#}"));
                }
                return Err(e);
            }
            *shared.endpoints.lock().unwrap() = guard.endpoints();
            *env() = Some(guard);
            shared.present.store(true, Ordering::SeqCst);
            Ok((Exit::OK, None))
        }
        Stage::Integration => {
            let c: flags::Integration = stage_opts(stage)?;
            Ok((
                c.run_on(ctx, self::shared(&mut env()))?,
                latest("runtime-integration"),
            ))
        }
        Stage::OpsHealth => {
            let ep = shared.endpoints.lock().unwrap().clone();
            let c = stage_opts::<flags::OpsHealth>(stage)?.on_env(spec.health_url.clone(), &ep);
            Ok((c.run(ctx)?, latest("runtime-health-check")))
        }
        Stage::K6Baseline => {
            let mut c: flags::K6Baseline = stage_opts(stage)?;
            if ctx.config.gate.require_no_regression {
                c.compare = Some(crate::regress::Target::LastPass);
            }
            Ok((
                c.run_on(ctx, self::shared(&mut env()))?,
                latest("k6-baseline"),
            ))
        }
        Stage::OpsMonitor => {
            let c: flags::OpsMonitor = stage_opts(stage)?;
            Ok((
                c.run_on(ctx, self::shared(&mut env()))?,
                latest("runtime-monitor-snapshot"),
            ))
        }
        Stage::Scale => {
            let mut env = env();
            let e = env.as_mut().context("no environment to scale")?;
            env::rescale(&mut **e, replicas)?;
            Ok((Exit::OK, None))
        }
        Stage::K6Distributed => {
            let mut c: flags::K6Distributed = stage_opts(stage)?;
            c.replicas = Some(replicas);
            Ok((
                c.run_on(ctx, self::shared(&mut env()))?,
                latest("k6-distributed"),
            ))
        }
        Stage::EnvDown => {
            let guard = env().take();
            shared.present.store(false, Ordering::SeqCst);
            match guard {
                Some(guard) => guard.finish().map(|()| (Exit::OK, None)),
                None => Ok((Exit::OK, None)),
            }
        }
    }
}

fn shared(env: &mut Option<EnvGuard>) -> Option<&mut dyn env::Environment> {
    match env {
        Some(g) => Some(&mut **g),
        None => None,
    }
}

/// A stage's options as its command reads them given no flag: its legacy
/// variables apply (clap reads them), exactly as when it runs alone. What
/// the gate decides (replicas, the environment's addresses) is then set on
/// the typed options, never formatted into flags to be parsed again.
fn stage_opts<T: clap::Args + clap::FromArgMatches>(stage: Stage) -> anyhow::Result<T> {
    let name = stage.name();
    let bad = |e: clap::Error| {
        let text = e.to_string();
        anyhow::anyhow!(
            "stage `{name}`: {}",
            text.lines().next().unwrap_or_default()
        )
    };
    let matches = T::augment_args(clap::Command::new(name))
        .try_get_matches_from([name])
        .map_err(bad)?;
    T::from_arg_matches(&matches).map_err(bad)
}

fn describe(r: &StageResult) -> String {
    match r {
        StageResult::Pass => "PASS".into(),
        StageResult::Planned => "DRY RUN (printed, not run)".into(),
        StageResult::Fail(why) => format!("FAIL ({why})"),
        StageResult::Skipped(why) => format!("SKIPPED ({why})"),
    }
}

fn fill(report: &mut Report, stages: &[StageRun]) {
    let rows = stages
        .iter()
        .map(|s| {
            vec![
                s.name.to_string(),
                describe(&s.result),
                report::fmt_ms(s.duration_ms),
                s.report.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    report.table("Stages", &["Stage", "Result", "Duration", "Report"], rows);
    let count =
        |f: fn(&StageResult) -> bool| Some(stages.iter().filter(|s| f(&s.result)).count() as f64);
    report.metric("stages passed", count(|r| *r == StageResult::Pass), "");
    report.metric(
        "stages failed",
        count(|r| matches!(r, StageResult::Fail(_))),
        "",
    );
    report.metric(
        "stages skipped",
        count(|r| matches!(r, StageResult::Skipped(_))),
        "",
    );
}

fn table(stages: &[StageRun]) -> String {
    let mut out = format!(
        "{:<16} {:<60} {:>9}  report\n",
        "stage", "result", "duration"
    );
    for s in stages {
        let mut result = describe(&s.result);
        if result.chars().count() > 60 {
            result = result.chars().take(57).collect::<String>() + "...";
        }
        out += &format!(
            "{:<16} {:<60} {:>9}  {}\n",
            s.name,
            result,
            report::fmt_ms(s.duration_ms),
            s.report.as_deref().unwrap_or("-")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_stage_names_are_refused() {
        let g = flags::Gate {
            sub: None,
            keep_going: false,
            only: vec!["k6-basline".into()],
            skip: vec![],
            no_setup: true,
            env: None,
            replicas: None,
            jobs: None,
            fresh: false,
            publish: false,
            target: Default::default(),
        };
        let e = g.selection().unwrap_err().to_string();
        assert!(e.contains("unknown stage `k6-basline`"), "{e}");
    }

    #[test]
    fn each_stage_reads_its_options_and_takes_the_gates_typed() {
        stage_opts::<flags::ReleaseGate>(Stage::ReleaseGate).unwrap();
        stage_opts::<flags::Integration>(Stage::Integration).unwrap();
        stage_opts::<flags::K6Baseline>(Stage::K6Baseline).unwrap();
        stage_opts::<flags::OpsMonitor>(Stage::OpsMonitor).unwrap();
        stage_opts::<flags::K6Distributed>(Stage::K6Distributed).unwrap();
        let ep = env::Endpoints {
            redis: Some(("127.0.0.1".into(), 16390)),
            ..Default::default()
        };
        let url: crate::units::HttpUrl = "http://127.0.0.1:18080/health".parse().unwrap();
        let h = stage_opts::<flags::OpsHealth>(Stage::OpsHealth)
            .unwrap()
            .on_env(url.clone(), &ep);
        assert_eq!(h.api_url, Some(url));
        assert_eq!(h.redis_host.map(|h| h.0).as_deref(), Some("127.0.0.1"));
        assert_eq!(h.redis_port, Some(16390));
    }
}
