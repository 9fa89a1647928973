//! The runners' output: the pods by k6-operator's labels, their logs
//! (`kubectl logs`, followed while they run, or read once they ended)
//! streamed into one histogram per runner (merged by `samples::merge`), and the
//! report's per-runner table.

use std::{io::BufRead, time::Instant};

use anyhow::{bail, Context};
use serde::Deserialize;

use super::{cluster::Kubectl, Plan};
use crate::{context::Ctx, report::Report, runner, samples::Samples};

/// What the runners measured: each runner's samples, and all of them
/// together.
pub struct Collected {
    pub runners: Vec<Part>,
}

pub struct Part {
    pub pod: String,
    /// The pod's phase: Succeeded when its k6 exited 0.
    pub phase: String,
    pub samples: Samples,
    /// The log starts inside k6's output: the kubelet rotated it.
    pub cut: bool,
    /// Lines of the pod's log that were not samples (k6's own messages).
    pub other_lines: u64,
    pub first_other: Vec<String>,
}

#[derive(Deserialize)]
struct PodList {
    #[serde(default)]
    items: Vec<Pod>,
}

#[derive(Deserialize)]
struct Pod {
    metadata: PodMeta,
    #[serde(default)]
    status: PodStatus,
}

#[derive(Default, Deserialize)]
struct PodStatus {
    /// Pending, Running, Succeeded, Failed, Unknown.
    #[serde(default)]
    phase: String,
}

#[derive(Deserialize)]
struct PodMeta {
    name: String,
}

/// The runners' logs read once they ended, each streamed into the
/// runners' samples, each its own (merged afterwards).
pub(super) fn collect(ctx: &Ctx, plan: &Plan, kubectl: &Kubectl) -> anyhow::Result<Collected> {
    let pods = runner_pods(ctx, plan, kubectl)?;
    if pods.len() != plan.parallelism as usize {
        bail!(
            "k6-operator: {} runner pod(s) of TestRun {} found, {} expected: the merged numbers would miss some runners' samples",
            pods.len(),
            plan.name,
            plan.parallelism
        );
    }
    let mut runners = Vec::new();
    for (pod, phase) in pods {
        let step = kubectl
            .step("logs", ["logs", pod.as_str(), "--container=k6"])
            .read_only();
        let part = ctx
            .runner
            .read_with(&step, read_runner)
            .with_context(|| format!("cannot read the log of runner pod {pod}"))?;
        runners.push(Part { pod, phase, ..part });
    }
    Ok(Collected { runners })
}

/// The runner pods by k6-operator's labels, sorted, with their phases.
fn runner_pods(ctx: &Ctx, plan: &Plan, kubectl: &Kubectl) -> anyhow::Result<Vec<(String, String)>> {
    let selector = format!("--selector=app=k6,k6_cr={},runner=true", plan.name);
    let list = kubectl
        .step(
            "get pods",
            ["get", "pods", selector.as_str(), "--output=json"],
        )
        .read_only();
    let out = ctx.runner.read(&list)?;
    let pods: PodList = serde_json::from_str(&out)
        .with_context(|| format!("`{}` printed no pod list", list.display()))?;
    let mut pods: Vec<(String, String)> = pods
        .items
        .into_iter()
        .map(|p| (p.metadata.name, p.status.phase))
        .collect();
    pods.sort();
    if let Some((pod, _)) = pods
        .iter()
        .find(|(p, _)| !p.starts_with(|c: char| c.is_ascii_alphanumeric()))
    {
        bail!(
            "k6-operator: a runner pod is named `{}`",
            crate::units::quote(pod)
        );
    }
    Ok(pods)
}

/// The runners' logs followed while they run (`kubectl logs --follow`,
/// one thread each): the kubelet rotates a container's log at its
/// containerLogMaxSize, and a log being followed loses nothing to that.
pub(super) struct Following {
    threads: Vec<(String, std::thread::JoinHandle<anyhow::Result<Part>>)>,
}

impl Following {
    /// Once every runner pod exists (stage `started`); None before.
    pub(super) fn start(
        ctx: &Ctx,
        plan: &Plan,
        kubectl: &Kubectl,
        until: Instant,
    ) -> anyhow::Result<Option<Following>> {
        let pods = runner_pods(ctx, plan, kubectl)?;
        if pods.len() != plan.parallelism as usize {
            return Ok(None);
        }
        let mut threads = Vec::new();
        for (pod, _) in pods {
            let step = kubectl
                .step(
                    "logs --follow",
                    ["logs", "--follow", pod.as_str(), "--container=k6"],
                )
                .deadline(
                    until.saturating_duration_since(Instant::now())
                        + std::time::Duration::from_secs(30),
                )
                .read_only();
            let runner = ctx.runner.clone();
            // A gate stage's cancel reaches the follower through its lane.
            let lane = runner::lane::current();
            let handle = std::thread::spawn(move || {
                let _in = runner::lane::enter(lane);
                runner.read_with(&step, read_runner)
            });
            threads.push((pod, handle));
        }
        Ok(Some(Following { threads }))
    }

    /// After the TestRun finished: every follower's part, phases as they ended.
    pub(super) fn finish(
        self,
        ctx: &Ctx,
        plan: &Plan,
        kubectl: &Kubectl,
    ) -> anyhow::Result<Collected> {
        let mut runners = Vec::new();
        for (pod, handle) in self.threads {
            let part = handle
                .join()
                .map_err(|_| anyhow::anyhow!("the follower of runner pod {pod} panicked"))?
                .with_context(|| format!("cannot follow the log of runner pod {pod}"))?;
            runners.push(Part { pod, ..part });
        }
        let phases = runner_pods(ctx, plan, kubectl)?;
        for r in &mut runners {
            r.phase = phases
                .iter()
                .find(|(p, _)| *p == r.pod)
                .map_or_else(|| "gone".to_string(), |(_, ph)| ph.clone());
        }
        Ok(Collected { runners })
    }

    /// After an error, the TestRun deleted: its pods' streams end, and so
    /// do the followers; waits for them at most `limit`, so that no
    /// kubectl outlives the run (an interrupt stops them at once).
    pub(super) fn abandon(self, ctx: &Ctx, limit: std::time::Duration) {
        let until = Instant::now() + limit;
        while Instant::now() < until && self.threads.iter().any(|(_, h)| !h.is_finished()) {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let left = self
            .threads
            .iter()
            .filter(|(_, h)| !h.is_finished())
            .count();
        if left > 0 {
            ctx.runner.say(&format!(
                "k6-operator: {left} log follower(s) still running {limit:?} after the TestRun was deleted; not waiting for them"
            ));
        }
    }
}

/// One runner's log: lines that are JSON go to k6's sample parser (its
/// histograms), the rest are k6's messages.
fn read_runner(out: &mut dyn std::io::Read) -> Part {
    let mut part = Part {
        pod: String::new(),
        phase: String::new(),
        samples: Samples::default(),
        other_lines: 0,
        first_other: Vec::new(),
        cut: false,
    };
    let mut first_json = true;
    let mut input = std::io::BufReader::new(out);
    let mut line = Vec::with_capacity(1024);
    loop {
        line.clear();
        // A line longer than 1 MiB is not k6's: cut, it fails to parse.
        match std::io::Read::take(&mut input, 1 << 20).read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let complete = line.last() == Some(&b'\n');
        if line.first() == Some(&b'{') {
            // k6 declares every metric before its first point: a log
            // that starts with a point lost its beginning.
            if first_json {
                part.cut = !line.starts_with(br#"{"type":"Metric""#);
                first_json = false;
            }
            part.samples.feed(&line, complete);
        } else if !line.trim_ascii().is_empty() {
            part.other_lines += 1;
            if part.first_other.len() < 5 {
                part.first_other
                    .push(String::from_utf8_lossy(line.trim_ascii()).into_owned());
            }
        }
    }
    part
}

/// The per-runner table and the notes on what was not a sample.
pub fn describe(c: &Collected, report: &mut Report) {
    let rows = c
        .runners
        .iter()
        .map(|r| {
            let p95 = crate::samples::quantile(&r.samples.duration, 0.95)
                .map_or("N/A".to_string(), |us| {
                    crate::report::fmt_num((us / 10.0).round() / 100.0)
                });
            vec![
                r.pod.clone(),
                r.phase.clone(),
                r.samples.requests.to_string(),
                p95,
                r.samples.failed.to_string(),
            ]
        })
        .collect();
    report.table(
        "k6-operator runners",
        &[
            "Runner pod",
            "Phase",
            "Requests",
            "p95 (ms)",
            "Failed requests",
        ],
        rows,
    );
    for r in &c.runners {
        // Thresholds are ours (`--no-thresholds`): a runner whose k6 failed
        // hit an error, and its part of the load is missing or short.
        if r.cut {
            report.fail(format!(
                "k6-operator: the log of runner pod {} starts inside k6's output (the kubelet rotated it at its containerLogMaxSize, 10 MiB by default): its first samples are lost and the merged numbers would be short; raise containerLogMaxSize on the nodes, or shorten the run",
                r.pod
            ));
        }
        if r.phase == "Failed" {
            report.fail(format!(
                "k6-operator: runner pod {} failed (its k6 exited non-zero){}",
                r.pod,
                r.first_other
                    .first()
                    .map(|l| format!(": {l}"))
                    .unwrap_or_default()
            ));
        }
        if r.other_lines > 0 {
            report.note(format!(
                "runner pod {}: {} line(s) of k6's own output (first: {})",
                r.pod,
                r.other_lines,
                r.first_other.first().map(String::as_str).unwrap_or("")
            ));
        }
    }
}
