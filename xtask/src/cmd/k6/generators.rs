//! `--generators N`: the load made by N k6 processes, one run's worth.
//!
//! Each generator is k6 on its own execution segment of one sequence
//! (`--execution-segment i/N:(i+1)/N`), started `--paused` with its REST
//! API on an address of its own, in its own thread and lane of the runner
//! (process group, deadline, SIGINT before the kill; its output in
//! `generator-I/k6.log`). Once every one answers "paused", all are resumed
//! at once (`k6 resume --address A`, one thread each). A generator that ends
//! before the resume, or a resume that fails, cancels the others through
//! their lanes (the path a Ctrl-C takes), and the run fails saying which.
//!
//! Each streams its raw samples into its own FIFO; the parts are merged
//! exactly (`samples::merge`) and everything is judged once on the union:
//! the script's thresholds (read with `k6 inspect`, judged by
//! `samples::thresholds`) and, for a baseline, our limits. Each generator
//! runs with `--no-thresholds`: its part alone decides nothing.
//!
//! Ports: a generator's API port is one the kernel just handed out; should
//! another process take it first, that k6 exits 106 before it is resumed
//! and is started again on another port (at most `PORT_TRIES` times).

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::{Duration as StdDuration, Instant},
};

use anyhow::{bail, Context};
use camino::Utf8PathBuf;

use super::{settings::num, Settings};
use crate::{
    context::Ctx,
    k6::{self, Invocation, Part, Runtime, Summary},
    probe,
    report::{Report, Run},
    runner::{self, lane::Lane, Outcome, Step, StepRecord},
    samples::{
        self,
        stream::Stream,
        thresholds::{self, Threshold},
        Samples,
    },
    units::{Duration, HttpUrl},
};

/// Starts of one generator when its API port was taken under it.
const PORT_TRIES: u32 = 3;
/// k6's exit code when its REST API cannot listen.
const API_NOT_LISTENING: i32 = 106;
/// A generator is an outlier when its p95 is above this many times the
/// merged p95, or its share of the requests is off 1/N by more than
/// `SHARE_TOLERANCE` of 1/N.
const OUTLIER_P95: f64 = 2.0;
const SHARE_TOLERANCE: f64 = 0.5;

/// One generator's end: its step, and what its FIFO gave.
struct Ended {
    rec: StepRecord,
    samples: anyhow::Result<samples::stream::Finished>,
}

/// Runs the N generators, merges their samples and fills the report.
/// Returns no summary: there is no single k6 summary of the whole run.
pub(super) fn execute(
    ctx: &Ctx,
    s: &Settings,
    rt: &Runtime,
    api: &HttpUrl,
    report: &mut Report,
    run: &Run,
) -> anyhow::Result<Option<Summary>> {
    let n = s.generators.get();
    report.param("Execution mode", rt.describe());
    report.param(
        "Generators",
        format!("{n} k6 processes, one execution segment each, resumed together; their samples merged, thresholds judged once on the union"),
    );
    report.param("Web dashboard", "disabled");
    if let Runtime::Docker { image, .. } = rt {
        let missing = (ctx.runner).answer(
            || !crate::images::image_present(&ctx.runner, "docker", image),
            || false,
        );
        if missing {
            bail!("--generators in docker needs the image {image} on this machine (no pull is tried for several generators): build it or install k6 locally with `cargo xtask setup`");
        }
    }
    let thresholds = script_thresholds(ctx, s, rt, api)?;
    let plans = (0..n)
        .map(|i| Generator::plan(ctx, s, rt, api, run, i))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let started = (ctx.runner)
        .real_only(|| run_all(ctx, s, &plans, report))
        .transpose()?;
    let Some(ended) = started else {
        // A dry run shows each generator's command.
        for g in &plans {
            ctx.runner.run(&g.step(&g.first_address())?)?;
        }
        return Ok(None);
    };
    let mut parts = vec![];
    for (g, e) in plans.iter().zip(ended) {
        let samples = g.judge_end(ctx, s, e, report);
        parts.push(samples);
    }
    runner::check_interrupt()?;
    let merged = samples::merge::merge(&parts);
    per_generator(&parts, &merged, report);
    samples::numbers::fill(
        ctx,
        &run.dir,
        Some(Ok(samples::stream::Finished {
            samples: merged.clone(),
            abandoned: false,
        })),
        None,
        report,
    );
    samples::thresholds::fill(&thresholds, &merged, report);
    Ok(None)
}

/// One generator, planned: its folder, FIFO, summary, runtime.
struct Generator {
    index: u32,
    of: u32,
    dir: Utf8PathBuf,
    rt: Runtime,
    inv: Invocation,
    stream: Mutex<Option<Stream>>,
}

impl Generator {
    fn plan(
        ctx: &Ctx,
        s: &Settings,
        rt: &Runtime,
        api: &HttpUrl,
        run: &Run,
        index: u32,
    ) -> anyhow::Result<Generator> {
        let dir = run.dir.join(format!("generator-{}", index + 1));
        let mut rt = rt.clone();
        if let Runtime::Docker { name, .. } = &mut rt {
            name.push_str(&format!("-g{}", index + 1));
        }
        let open = || -> anyhow::Result<Stream> {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {dir} for a generator's output"))?;
            Stream::open(&dir)
        };
        let stream = ctx.runner.real_only(open).transpose()?;
        let inv = Invocation {
            script: s.script.clone(),
            summary: dir.join("k6-summary.json"),
            vars: s.script_vars(api),
            dashboard: None,
            env: s.k6_env(),
            deadline: s.deadline(),
            samples: Some(dir.join(samples::stream::FIFO)),
            part: None,
        };
        Ok(Generator {
            index,
            of: s.generators.get(),
            dir,
            rt,
            inv,
            stream: Mutex::new(stream),
        })
    }

    fn name(&self) -> String {
        format!("generator {}", self.index + 1)
    }

    /// Its own network host (a container on a network other than the
    /// host's): k6's default port is free there. Else (local, `--network
    /// host`) a port the kernel hands out now, retried should it be taken.
    fn own_host(&self) -> bool {
        matches!(&self.rt, Runtime::Docker { network, .. } if network != "host")
    }

    fn first_address(&self) -> String {
        match self.own_host() {
            true => "0.0.0.0:6565".into(),
            false => format!("127.0.0.1:{}", kernel_port().unwrap_or(6565)),
        }
    }

    fn step(&self, address: &str) -> anyhow::Result<Step> {
        let mut inv = self.inv.clone();
        inv.part = Some(Part {
            index: self.index,
            of: self.of,
            address: address.to_string(),
        });
        let mut step = k6::command(&self.rt, &inv)?;
        step.name = format!("k6 run ({})", self.name());
        Ok(step)
    }

    /// `k6 status|resume` against this generator's API.
    fn api_step(&self, verb: &str, address: &str) -> Step {
        let local = address.replace("0.0.0.0", "127.0.0.1");
        let step = match &self.rt {
            Runtime::Local { program } => {
                Step::new(format!("k6 {verb}"), program.as_str()).args([verb, "--address", &local])
            }
            Runtime::Docker { name, .. } => Step::new(format!("k6 {verb}"), "docker").args([
                "exec",
                name,
                "k6",
                verb,
                "--address",
                &local,
            ]),
        };
        step.deadline(StdDuration::from_secs(10))
    }

    /// Reads the step's end and the FIFO; notes what went wrong.
    fn judge_end(&self, ctx: &Ctx, s: &Settings, e: Ended, report: &mut Report) -> Samples {
        let name = self.name();
        report.steps.push((&e.rec).into());
        report.artifact(
            &format!("{name} log"),
            ctx.relative(&self.dir.join("k6.log")),
        );
        if let (Runtime::Docker { name: c, .. }, false) = (&self.rt, e.rec.ok()) {
            // `docker run` killed after its grace leaves the container behind.
            let _ = ctx
                .runner
                .read(&Step::new("docker rm", "docker").args(["rm", "-f", c]));
        }
        match &e.rec.outcome {
            Outcome::Exited { code: 0 } | Outcome::DryRun => {}
            // (Not with --no-thresholds; should a k6 still say so, the union decides.)
            Outcome::Exited { code: 99 } => report.note(format!(
                "{name}: its k6 exited 99 (thresholds crossed on its own part); the thresholds are judged once, on the merged samples"
            )),
            Outcome::Exited { code } => {
                report.fail(format!("{name}: k6 failed: {}", k6::describe_exit(*code)))
            }
            Outcome::TimedOut { .. } => report.fail(format!(
                "{name}: k6 timed out: still running after {} (duration {} + deadline slack {}); it got SIGINT, then SIGKILL after {}s",
                Duration(s.deadline()),
                s.duration,
                s.deadline_slack,
                k6::GRACE.as_secs()
            )),
            Outcome::Interrupted { .. } => report.fail(format!(
                "{name}: k6 was interrupted: the numbers cover only the part that ran"
            )),
            Outcome::Signaled { signal } => report.fail(format!(
                "{name}: k6 was killed by {}",
                runner::signal_name(*signal)
            )),
        }
        match e.samples {
            Ok(f) => {
                if f.abandoned {
                    report.note(format!("{name}: its sample stream was still open after k6 ended; the samples read until then are used"));
                }
                // Its part kept beside it: the merge can be checked.
                if let Err(err) = samples::store::save(&self.dir, &f.samples) {
                    report.note(format!("{name}: its histograms were not kept: {err:#}"));
                }
                f.samples
            }
            Err(err) => {
                report.fail(format!("{name}: {err:#}"));
                Samples::default()
            }
        }
    }
}

fn kernel_port() -> Option<u16> {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0)).ok()?;
    l.local_addr().ok().map(|a| a.port())
}

/// Starts every generator in its own thread and lane, resumes them all
/// once all are paused, and waits for their ends.
fn run_all(
    ctx: &Ctx,
    s: &Settings,
    plans: &[Generator],
    report: &mut Report,
) -> anyhow::Result<Vec<Ended>> {
    let hold = runner::lane::current().is_some_and(|l| l.hold);
    let lanes = plans
        .iter()
        .map(|g| Lane::new(&g.name(), &g.dir.join("k6.log"), hold, &ctx.runner))
        .collect::<anyhow::Result<Vec<Arc<Lane>>>>()?;
    let addresses: Vec<Mutex<String>> = plans
        .iter()
        .map(|g| Mutex::new(g.first_address()))
        .collect();
    let resumed = AtomicBool::new(false);
    let (ended, failure) = std::thread::scope(|scope| {
        let handles: Vec<_> = plans
            .iter()
            .zip(&lanes)
            .zip(&addresses)
            .map(|((g, lane), address)| {
                let resumed = &resumed;
                scope.spawn(move || -> anyhow::Result<StepRecord> {
                    let _in = runner::lane::enter(Some(lane.clone()));
                    let mut tries = 0;
                    loop {
                        tries += 1;
                        let at = address.lock().unwrap().clone();
                        // Interrupted, k6 still ends its part: the report
                        // keeps it, then `check_interrupt` ends the suite.
                        let rec = ctx.runner.run_even_if_interrupted(&g.step(&at)?)?;
                        let taken = rec.outcome
                            == (Outcome::Exited {
                                code: API_NOT_LISTENING,
                            });
                        let retry = taken && !g.own_host() && tries < PORT_TRIES;
                        if retry && !resumed.load(Ordering::SeqCst) {
                            *address.lock().unwrap() = g.first_address();
                            continue;
                        }
                        return Ok(rec);
                    }
                })
            })
            .collect();
        let failure = resume_when_paused(ctx, s, plans, &addresses, &handles, &resumed);
        if failure.is_some() {
            for l in &lanes {
                l.cancel();
            }
        }
        let ended: Vec<_> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a generator's thread panicked")))
            })
            .collect();
        (ended, failure)
    });
    let mut out = vec![];
    for (g, rec) in plans.iter().zip(ended) {
        let rec = rec.with_context(|| format!("{} could not be run", g.name()))?;
        let stream = g.stream.lock().unwrap().take();
        let samples = match stream {
            Some(st) => st.finish(),
            None => Ok(samples::stream::Finished {
                samples: Samples::default(),
                abandoned: false,
            }),
        };
        out.push(Ended { rec, samples });
    }
    if let Some(why) = failure {
        report.fail(why);
    }
    Ok(out)
}

/// Waits until every generator answers "paused" (at most the deadline
/// slack), then resumes all at once. Some(why) when that did not happen:
/// the caller cancels every generator.
fn resume_when_paused<T>(
    ctx: &Ctx,
    s: &Settings,
    plans: &[Generator],
    addresses: &[Mutex<String>],
    handles: &[std::thread::ScopedJoinHandle<'_, T>],
    resumed: &AtomicBool,
) -> Option<String> {
    let started = Instant::now();
    let deadline = s.deadline_slack.std();
    let mut paused = vec![false; plans.len()];
    while !paused.iter().all(|p| *p) {
        if let Some(sig) = runner::interrupted() {
            return Some(format!(
                "interrupted by {} before the generators were resumed",
                runner::signal_name(sig)
            ));
        }
        for (i, g) in plans.iter().enumerate() {
            if handles[i].is_finished() {
                return Some(format!(
                    "{} ended before it was resumed (see its log, {}): the others were stopped",
                    g.name(),
                    ctx.relative(&g.dir.join("k6.log"))
                ));
            }
            if !paused[i] {
                let at = addresses[i].lock().unwrap().clone();
                paused[i] = is_paused(ctx, g, &at);
            }
        }
        if started.elapsed() > deadline {
            let waiting: Vec<String> = plans
                .iter()
                .zip(&paused)
                .filter(|(_, p)| !**p)
                .map(|(g, _)| g.name())
                .collect();
            return Some(format!(
                "{} did not answer on its REST API within {} (k6.deadline_slack): the generators were stopped",
                waiting.join(", "),
                s.deadline_slack
            ));
        }
        std::thread::sleep(StdDuration::from_millis(100));
    }
    resumed.store(true, Ordering::SeqCst);
    ctx.runner
        .say(&format!("==> resuming {} generators together", plans.len()));
    let failures: Vec<String> = std::thread::scope(|scope| {
        let hs: Vec<_> = plans
            .iter()
            .zip(addresses)
            .map(|(g, a)| {
                let at = a.lock().unwrap().clone();
                scope.spawn(move || {
                    ctx.runner
                        .read(&g.api_step("resume", &at))
                        .err()
                        .map(|e| format!("{}: {e:#}", g.name()))
                })
            })
            .collect();
        hs.into_iter()
            .filter_map(|h| h.join().ok().flatten())
            .collect()
    });
    (!failures.is_empty()).then(|| {
        format!(
            "resuming the generators failed ({}): every generator was stopped",
            failures.join("; ")
        )
    })
}

/// Whether the generator's own k6 answers "paused" on its API.
fn is_paused(ctx: &Ctx, g: &Generator, address: &str) -> bool {
    match &g.rt {
        // Reachable from here (on this host's network).
        _ if !g.own_host() => {
            let Ok(url) = format!("http://{address}/v1/status").parse::<HttpUrl>() else {
                return false;
            };
            probe::http_get(&url, StdDuration::from_secs(2)).is_ok_and(|r| {
                r.is_success()
                    && serde_json::from_slice::<serde_json::Value>(&r.body).is_ok_and(|v| {
                        v.pointer("/data/attributes/paused") == Some(&serde_json::Value::Bool(true))
                    })
            })
        }
        _ => ctx
            .runner
            .read(&g.api_step("status", address))
            .is_ok_and(|out| out.contains("paused: \"true\"")),
    }
}

/// The script's thresholds, from `k6 inspect` (with the run's variables:
/// the script may read them in its options). A read-only step: a dry run
/// runs it too.
fn script_thresholds(
    ctx: &Ctx,
    s: &Settings,
    rt: &Runtime,
    api: &HttpUrl,
) -> anyhow::Result<Vec<Threshold>> {
    let vars = s.script_vars(api);
    let step = match rt {
        Runtime::Local { program } => thresholds::inspect(program, &s.script, &vars),
        Runtime::Docker {
            image, user, root, ..
        } => Step::new("k6 inspect (docker)", "docker")
            .args(["run", "--rm", "--network", "none"])
            .args(crate::k6::docker_mount_args(user, root))
            .args([image.as_str(), "inspect"])
            .args(vars.iter().map(|(k, v)| format!("--env={k}={v}")))
            .arg(rt.path(&s.script)?)
            .deadline(StdDuration::from_secs(60))
            .read_only(),
    };
    let out = ctx
        .runner
        .read(&step.envs(s.k6_env()))
        .context("cannot read the script's thresholds with `k6 inspect`, so they could not be judged on the merged samples")?;
    thresholds::parse(&out)
}

/// The table per generator (requests, share, p95, errors) and a note for
/// each outlier.
fn per_generator(parts: &[Samples], merged: &Samples, report: &mut Report) {
    let n = parts.len() as f64;
    let total = merged.requests as f64;
    let merged_p95 = merged.p(0.95);
    let mut rows = vec![];
    for (i, p) in parts.iter().enumerate() {
        let share = if total > 0.0 {
            p.requests as f64 / total
        } else {
            0.0
        };
        let p95 = p.p(0.95);
        rows.push(vec![
            format!("generator {}", i + 1),
            p.requests.to_string(),
            format!("{:.1}%", share * 100.0),
            p95.map_or("n/a".into(), num),
            p.failed.to_string(),
        ]);
        let mut why = vec![];
        if let (Some(g), Some(m)) = (p95, merged_p95) {
            if g > OUTLIER_P95 * m {
                why.push(format!(
                    "its p95 {} ms is above {OUTLIER_P95}x the merged p95 {} ms",
                    num(g),
                    num(m)
                ));
            }
        }
        if total > 0.0 && (share - 1.0 / n).abs() > SHARE_TOLERANCE / n {
            why.push(format!(
                "it made {:.1}% of the requests, 1/{} is {:.1}%",
                share * 100.0,
                parts.len(),
                100.0 / n
            ));
        }
        if !why.is_empty() {
            report.note(format!(
                "generator {} is an outlier: {} (its machine, network path or CPU may be the bottleneck, not the service)",
                i + 1,
                why.join("; ")
            ));
        }
    }
    report.table(
        "Requests per generator",
        &["Generator", "Requests", "Share", "p95 (ms)", "Errors"],
        rows,
    );
}
