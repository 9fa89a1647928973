//! Runs the graph: each stage in a thread of this process, in its own lane
//! (`runner::lane`: prefixed output, its own log, a cancel that goes through
//! the runner), at most `jobs` at once, a stage starting as soon as what it
//! needs has ended. Fail-fast cancels what runs (interrupt, then teardown:
//! the stage's own guards bring down what it started) and skips the rest
//! with the reason; env-down always runs.
//!
//! Afterwards, `Timeline` turns the stages' start and end times into the
//! report's schedule: one time axis, the critical path (the longest chain
//! of the graph by the stages' own durations), and the time saved against
//! running them one by one.

use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, Instant},
};

use camino::Utf8PathBuf;

use super::{describe, graph::Stage, StageResult, StageRun};
use crate::{
    context::Exit,
    report::{self, Report},
    runner::{self, lane, lane::Lane, Interrupted},
};

/// What one stage returned: its exit and the path of its report.
pub type StageOutput = anyhow::Result<(Exit, Option<String>)>;

pub struct Scheduler {
    pub jobs: usize,
    pub keep_going: bool,
    /// Each stage's lane is the runner's (a dry run's lanes write no log).
    pub runner: runner::Runner,
    /// Stages that do not run, with why.
    pub not_run: BTreeMap<Stage, String>,
    /// Where each stage's own log goes (`<dir>/<stage>.log`).
    pub logs_dir: Utf8PathBuf,
}

pub struct Ran {
    pub stages: Vec<StageRun>,
    /// The signal that stopped the gate, if one did.
    pub interrupted: Option<i32>,
}

struct Running<'scope> {
    stage: Stage,
    lane: Arc<Lane>,
    started: Instant,
    handle: Option<std::thread::ScopedJoinHandle<'scope, StageOutput>>,
}

impl Scheduler {
    /// Runs every stage. `exec` runs one (in its lane's thread); `has_env`
    /// says whether env-up left an environment to use.
    pub fn run(
        &self,
        exec: &(dyn Fn(Stage) -> StageOutput + Sync),
        has_env: &(dyn Fn() -> bool + Sync),
        info: &dyn Fn(&str),
    ) -> anyhow::Result<Ran> {
        let t0 = Instant::now();
        let mut done: BTreeMap<Stage, StageRun> = BTreeMap::new();
        for (s, why) in &self.not_run {
            done.insert(*s, skipped(*s, why.clone()));
        }
        let mut failed: Option<Stage> = None;
        let mut interrupted = None;
        let hold = crate::github::enabled();
        std::thread::scope(|scope| -> anyhow::Result<()> {
            let mut running: Vec<Running> = vec![];
            loop {
                // Collect what ended.
                let mut i = 0;
                while i < running.len() {
                    if !running[i].handle.as_ref().is_some_and(|h| h.is_finished()) {
                        i += 1;
                        continue;
                    }
                    let mut r = running.remove(i);
                    let handle = r.handle.take().expect("joined once");
                    let output = handle.join().unwrap_or_else(|_| {
                        Err(anyhow::anyhow!("the stage panicked; see its log"))
                    });
                    let run = self.finish(&r, output, failed, t0, &mut interrupted);
                    lane::hide(&r.lane);
                    if r.lane.hold {
                        lane::replay_group(&r.lane, &describe(&run.result));
                    }
                    info(&format!("gate: {}: {}", r.stage, describe(&run.result)));
                    if matches!(run.result, StageResult::Fail(_))
                        && !self.keep_going
                        && failed.is_none()
                    {
                        failed = Some(r.stage);
                        for other in &running {
                            if other.stage != Stage::EnvDown {
                                info(&format!(
                                    "gate: {}: cancelling ({} failed): interrupt, then teardown",
                                    other.stage, r.stage
                                ));
                                other.lane.cancel();
                            }
                        }
                    }
                    done.insert(r.stage, run);
                }
                if let Some(sig) = runner::interrupted() {
                    interrupted = Some(sig);
                }
                // Start or skip what can be decided now, in one-by-one order.
                for stage in Stage::ALL {
                    if done.contains_key(&stage) || running.iter().any(|r| r.stage == stage) {
                        continue;
                    }
                    let ended = |n: &Stage| done.contains_key(n);
                    let deps_ended = stage.needs().iter().all(ended);
                    // Teardown always runs, once every user of the environment ended.
                    if stage != Stage::EnvDown {
                        let why = if let Some(sig) = interrupted {
                            Some(format!("interrupted ({})", runner::signal_name(sig)))
                        } else if let Some(f) = failed {
                            Some(format!("{f} failed"))
                        } else if stage.uses_env() && done.contains_key(&Stage::EnvUp) && !has_env()
                        {
                            Some("no environment (env-up failed)".into())
                        } else {
                            None
                        };
                        if let Some(why) = why {
                            done.insert(stage, skipped(stage, why));
                            continue;
                        }
                    }
                    if !deps_ended || running.len() >= self.jobs {
                        if self.jobs == 1 {
                            // One by one means in order.
                            break;
                        }
                        continue;
                    }
                    if stage.loads() && running.iter().any(|r| r.stage.loads()) {
                        continue;
                    }
                    let lane = Lane::new(
                        stage.name(),
                        &self.logs_dir.join(format!("{stage}.log")),
                        hold,
                        &self.runner,
                    )?;
                    lane::show(&lane);
                    let thread_lane = Arc::clone(&lane);
                    let handle = std::thread::Builder::new()
                        .name(stage.name().into())
                        .spawn_scoped(scope, move || {
                            let _in = lane::enter(Some(thread_lane));
                            exec(stage)
                        })?;
                    running.push(Running {
                        stage,
                        lane,
                        started: Instant::now(),
                        handle: Some(handle),
                    });
                }
                if running.is_empty() && Stage::ALL.iter().all(|s| done.contains_key(s)) {
                    return Ok(());
                }
                lane::redraw();
                std::thread::sleep(Duration::from_millis(20));
            }
        })?;
        let stages: Vec<StageRun> = Stage::ALL.iter().filter_map(|s| done.remove(s)).collect();
        Ok(Ran {
            stages,
            interrupted,
        })
    }

    fn finish(
        &self,
        r: &Running,
        output: StageOutput,
        failed: Option<Stage>,
        t0: Instant,
        interrupted: &mut Option<i32>,
    ) -> StageRun {
        let cancelled = r.lane.cancelled().is_some() && runner::interrupted().is_none();
        // A dry run's stage that went well was planned, not passed.
        let ok = self
            .runner
            .answer(|| StageResult::Pass, || StageResult::Planned);
        let (result, report) = match output {
            Ok((Exit::OK, path)) => (ok, path),
            _ if cancelled => {
                let why = failed.map_or("cancelled".to_string(), |f| {
                    format!("cancelled: {f} failed (interrupted, then torn down)")
                });
                (StageResult::Skipped(why), None)
            }
            Ok((Exit(code), path)) => (StageResult::Fail(format!("exit {code}")), path),
            Err(e) => {
                if let Some(Interrupted(sig)) = e.downcast_ref::<Interrupted>() {
                    interrupted.get_or_insert(*sig);
                }
                (StageResult::Fail(format!("{e:#}")), None)
            }
        };
        StageRun {
            name: r.stage.name(),
            result,
            duration_ms: r.started.elapsed().as_millis() as u64,
            report,
            start_ms: Some((r.started - t0).as_millis() as u64),
            log: self.runner.real_only(|| r.lane.log_path().to_owned()),
        }
    }
}

fn skipped(s: Stage, why: String) -> StageRun {
    StageRun {
        name: s.name(),
        result: StageResult::Skipped(why),
        duration_ms: 0,
        report: None,
        start_ms: None,
        log: None,
    }
}

// ---------------------------------------------------------------------------
// The schedule in the report.
// ---------------------------------------------------------------------------

/// The stages that ran, on one time axis.
pub struct Timeline<'a> {
    ran: Vec<(&'a StageRun, Stage, u64, u64)>,
}

impl<'a> Timeline<'a> {
    pub fn new(stages: &'a [StageRun]) -> Timeline<'a> {
        let ran = stages
            .iter()
            .filter_map(|s| {
                let st = Stage::from_name(s.name)?;
                let start = s.start_ms?;
                Some((s, st, start, start + s.duration_ms))
            })
            .collect();
        Timeline { ran }
    }

    /// From the first start to the last end.
    pub fn wall_ms(&self) -> u64 {
        let first = self.ran.iter().map(|r| r.2).min().unwrap_or(0);
        let last = self.ran.iter().map(|r| r.3).max().unwrap_or(0);
        last - first
    }

    /// The stages' durations added up: the gate run one by one.
    pub fn serial_ms(&self) -> u64 {
        self.ran.iter().map(|r| r.0.duration_ms).sum()
    }

    /// The longest chain of the graph through the stages that ran, by
    /// their own durations: no schedule can beat it.
    pub fn critical_path(&self) -> (Vec<Stage>, u64) {
        let dur: BTreeMap<Stage, u64> = self.ran.iter().map(|r| (r.1, r.0.duration_ms)).collect();
        let mut best: BTreeMap<Stage, (u64, Option<Stage>)> = BTreeMap::new();
        for s in Stage::ALL {
            let Some(d) = dur.get(&s) else { continue };
            let before = s
                .needs()
                .iter()
                .filter_map(|n| best.get(n).map(|(len, _)| (*len, *n)))
                .max();
            let (len, prev) = before.map_or((0, None), |(l, n)| (l, Some(n)));
            best.insert(s, (len + d, prev));
        }
        let Some((&end, &(len, _))) = best.iter().max_by_key(|(_, (l, _))| *l) else {
            return (vec![], 0);
        };
        let mut path = vec![end];
        while let Some(prev) = best[path.last().unwrap()].1 {
            path.push(prev);
        }
        path.reverse();
        (path, len)
    }

    /// The schedule table, a bar per stage on one axis, and the metrics.
    pub fn add_to(&self, report: &mut Report, relative: impl Fn(&camino::Utf8Path) -> String) {
        if self.ran.is_empty() {
            return;
        }
        const WIDTH: u64 = 40;
        let t0 = self.ran.iter().map(|r| r.2).min().unwrap_or(0);
        let wall = self.wall_ms().max(1);
        let rows = self
            .ran
            .iter()
            .map(|(run, st, start, end)| {
                let a = (start - t0) * WIDTH / wall;
                let b = ((end - t0) * WIDTH).div_ceil(wall).max(a + 1).min(WIDTH);
                let bar: String = (0..WIDTH)
                    .map(|i| if i >= a && i < b { '█' } else { '·' })
                    .collect();
                vec![
                    st.name().to_string(),
                    report::fmt_ms(start - t0),
                    report::fmt_ms(end - t0),
                    report::fmt_ms(run.duration_ms),
                    format!("`{bar}`"),
                    run.log.as_deref().map_or("-".into(), &relative),
                ]
            })
            .collect();
        report.table(
            "Schedule",
            &["Stage", "Start", "End", "Duration", "Timeline", "Log"],
            rows,
        );
        let (path, cp) = self.critical_path();
        let serial = self.serial_ms();
        let names: Vec<&str> = path.iter().map(|s| s.name()).collect();
        report.param("Critical path", names.join(" → "));
        report.metric("gate wall time", Some(wall as f64), "ms");
        report.metric("stages one by one", Some(serial as f64), "ms");
        report.metric("critical path", Some(cp as f64), "ms");
        report.metric(
            "time saved against one by one",
            Some(serial.saturating_sub(wall) as f64),
            "ms",
        );
        if serial > 0 {
            report.metric(
                "wall ÷ one by one",
                Some(round3(wall as f64 / serial as f64)),
                "",
            );
        }
        if cp > 0 {
            report.metric(
                "wall ÷ critical path",
                Some(round3(wall as f64 / cp as f64)),
                "",
            );
        }
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ran(name: &'static str, start: u64, dur: u64) -> StageRun {
        StageRun {
            name,
            result: StageResult::Pass,
            duration_ms: dur,
            report: None,
            start_ms: Some(start),
            log: None,
        }
    }

    #[test]
    fn the_critical_path_is_the_longest_chain_and_overlap_is_time_saved() {
        let stages = vec![
            ran("release-gate", 0, 30_000),
            ran("env-up", 0, 10_000),
            ran("integration", 30_000, 20_000),
            ran("ops-health", 10_000, 1_000),
            ran("env-down", 50_000, 2_000),
        ];
        let t = Timeline::new(&stages);
        assert_eq!(t.wall_ms(), 52_000);
        assert_eq!(t.serial_ms(), 63_000);
        // release-gate is not on a chain with integration: env-up is.
        let (path, len) = t.critical_path();
        assert_eq!(path, [Stage::EnvUp, Stage::Integration, Stage::EnvDown]);
        assert_eq!(len, 32_000);
        let mut r = Report::new("gate", "Gate");
        t.add_to(&mut r, |p| p.to_string());
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains("env-up → integration → env-down"), "{json}");
        assert!(json.contains("time saved against one by one"), "{json}");
    }

    fn scheduler(jobs: usize, name: &str) -> Scheduler {
        let logs_dir = Utf8PathBuf::from_path_buf(std::env::temp_dir())
            .unwrap()
            .join(format!("xtask-schedule-{name}-{}", std::process::id()));
        Scheduler {
            jobs,
            keep_going: false,
            runner: runner::Runner::new(logs_dir.clone(), false, runner::Verbosity::Quiet),
            not_run: [(Stage::TestClasses, "not selected".to_string())].into(),
            logs_dir,
        }
    }

    fn result(ran: &Ran, s: Stage) -> StageResult {
        ran.stages
            .iter()
            .find(|r| r.name == s.name())
            .unwrap()
            .result
            .clone()
    }

    #[test]
    fn a_failure_cancels_the_running_stages_skips_the_rest_and_still_tears_down() {
        let s = scheduler(8, "cancel");
        let exec = |st: Stage| -> StageOutput {
            match st {
                Stage::ReleaseGate => {
                    std::thread::sleep(Duration::from_millis(100));
                    Ok((Exit(1), None))
                }
                // Waits as env-up's readiness does: only a cancel ends it.
                Stage::EnvUp => {
                    runner::sleep(Duration::from_secs(60))?;
                    Ok((Exit::OK, None))
                }
                _ => Ok((Exit::OK, None)),
            }
        };
        let t = Instant::now();
        let ran = s.run(&exec, &|| false, &|_| {}).unwrap();
        assert!(t.elapsed() < Duration::from_secs(10));
        assert_eq!(
            result(&ran, Stage::ReleaseGate),
            StageResult::Fail("exit 1".into())
        );
        assert_eq!(
            result(&ran, Stage::EnvUp),
            StageResult::Skipped(
                "cancelled: release-gate failed (interrupted, then torn down)".into()
            )
        );
        assert_eq!(
            result(&ran, Stage::Integration),
            StageResult::Skipped("release-gate failed".into())
        );
        assert_eq!(result(&ran, Stage::EnvDown), StageResult::Pass);
        assert_eq!(ran.interrupted, None, "a cancel is not a signal");
        // Both ran at once.
        let span = |st: Stage| {
            let r = ran.stages.iter().find(|r| r.name == st.name()).unwrap();
            (r.start_ms.unwrap(), r.start_ms.unwrap() + r.duration_ms)
        };
        let (rg, up) = (span(Stage::ReleaseGate), span(Stage::EnvUp));
        assert!(rg.0 < up.1 && up.0 < rg.1, "{rg:?} {up:?}");
    }

    #[test]
    fn one_job_runs_the_stages_one_by_one_in_order() {
        let s = scheduler(1, "serial");
        let order = std::sync::Mutex::new(vec![]);
        let running = std::sync::atomic::AtomicUsize::new(0);
        let exec = |st: Stage| -> StageOutput {
            assert_eq!(running.fetch_add(1, std::sync::atomic::Ordering::SeqCst), 0);
            order.lock().unwrap().push(st);
            std::thread::sleep(Duration::from_millis(5));
            running.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            Ok((Exit::OK, None))
        };
        let ran = s.run(&exec, &|| true, &|_| {}).unwrap();
        let want: Vec<Stage> = Stage::ALL
            .into_iter()
            .filter(|s| *s != Stage::TestClasses)
            .collect();
        assert_eq!(*order.lock().unwrap(), want);
        assert!(ran
            .stages
            .iter()
            .all(|r| r.result == StageResult::Pass || r.name == "test-classes"));
    }

    #[test]
    fn keep_going_runs_the_rest_after_a_failure() {
        let mut s = scheduler(8, "keep");
        s.keep_going = true;
        let exec = |st: Stage| -> StageOutput {
            Ok((
                if st == Stage::Integration {
                    Exit(1)
                } else {
                    Exit::OK
                },
                None,
            ))
        };
        let ran = s.run(&exec, &|| true, &|_| {}).unwrap();
        assert!(matches!(
            result(&ran, Stage::Integration),
            StageResult::Fail(_)
        ));
        assert_eq!(result(&ran, Stage::K6Distributed), StageResult::Pass);
    }

    #[test]
    fn skipped_stages_are_not_on_the_axis() {
        let mut s = ran("release-gate", 0, 5);
        s.start_ms = None;
        assert_eq!(Timeline::new(&[s]).wall_ms(), 0);
    }
}
