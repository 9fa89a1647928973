//! `cargo xtask release-gate`: compile and the release-gate classes in one
//! Gradle run (the legacy script started Gradle twice), then, when asked, the
//! API script suite (`cargo xtask api-scripts`, its own report).
//!
//! Report fields kept from run-release-gate.sh: Result, whether the API
//! scripts were included, the gates and classes executed, the log path. The
//! exit code is the first failing command's.

use anyhow::bail;

use crate::{
    cmd::api_scripts,
    context::{Ctx, Exit},
    flags,
    gradle::{self, GradleOpts},
    report::{Report, RunOptions},
};

pub const SUITE: &str = "release-gate";
pub const TITLE: &str = "Release Gate Report";

impl flags::ReleaseGate {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        let cfg = &ctx.config.release_gate;
        let classes = if self.tests.is_empty() {
            cfg.classes.clone()
        } else {
            self.tests.clone()
        };
        if classes.is_empty() {
            bail!(
                "no test classes to run: set [release_gate].classes in {} or pass --tests CLASS",
                ctx.relative(&ctx.config_path)
            );
        }
        // Resolved up front: a bad variable or a missing folder is one line
        // before anything runs.
        let api = if self.with_api_scripts.unwrap_or(cfg.with_api_scripts) {
            Some(api_scripts::Plan::resolve(
                ctx,
                &flags::ApiScripts::default(),
                &|k| std::env::var(k).ok(),
            )?)
        } else {
            None
        };
        let opts = RunOptions {
            stamp: self.run_stamp.clone(),
            log_file: self.log_file.as_deref().map(|p| ctx.path(p)),
            report_file: self.report_file.as_deref().map(|p| ctx.path(p)),
        };
        let retries = self.gradle.retries.unwrap_or(ctx.config.gradle.retries);
        let gradle_opts = GradleOpts {
            classes: classes.clone(),
            env: vec![],
            daemon: self.gradle.gradle_daemon,
            timeout: self.gradle.timeout,
        };
        // A missing Gradle is exit 127 before the run: no FAIL report (a
        // dry run only prints the command).
        ctx.runner
            .real_only(|| gradle::step(ctx, &gradle_opts).require())
            .transpose()?;
        let (_, exit) = ctx.run_suite(SUITE, TITLE, opts, |report, run| {
            let mut gates = vec![format!(
                "compile + {} test classes (one Gradle run)",
                classes.len()
            )];
            if let Some(api) = &api {
                gates.push(format!("API scripts ({})", api.scripts.len()));
            }
            report.param(
                "API scripts included",
                if api.is_some() { "yes" } else { "no" },
            );
            report.param("Gates", gates.join("; "));
            report.param("Test classes", classes.join(", "));
            report.param("Log", ctx.relative(&run.log));
            let runs = crate::flaky::run(ctx, &gradle_opts, retries)?;
            runs.add_to(report, ctx.config.gradle.fail_on_flaky);
            crate::runner::check_interrupt()?;
            let mut suites = runs.junit_suites();
            if let Some(api) = &api {
                suites.extend(run_api_scripts(ctx, report, api)?);
            }
            crate::junit::write_for_run(ctx, run, report, suites)
        })?;
        Ok(exit)
    }
}

/// The API script suite as its own suite run; its verdict is a line of this
/// report, and its FAIL this report's FAIL. Its scripts, as JUnit cases.
fn run_api_scripts(
    ctx: &Ctx,
    report: &mut Report,
    api: &api_scripts::Plan,
) -> anyhow::Result<Option<crate::junit::Suite>> {
    let latest = ctx.relative(&ctx.layout.latest(api_scripts::SUITE, "md"));
    let mut cases = None;
    match api.run(ctx)? {
        None => report.param("API script suite", "no script selected"),
        Some((r, _)) => {
            cases = crate::junit::script_suite(&r);
            let count = |name: &str| {
                r.parameters
                    .iter()
                    .find(|p| p.name == name)
                    .map_or("0".to_string(), |p| p.value.clone())
            };
            report.param(
                "API script suite",
                format!(
                    "{} ({} passed, {} failed, {} skipped; {latest})",
                    r.result.as_str(),
                    count("Passed"),
                    count("Failed"),
                    count("Skipped")
                ),
            );
            if ctx.runner.answer(|| !r.passed(), || false) {
                let why = r.notes.first().cloned().unwrap_or_default();
                report.fail(format!("API script suite FAIL: {why} (see {latest})"));
            }
        }
    }
    Ok(cases)
}
