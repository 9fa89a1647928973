//! `cargo xtask release-gate`: compile and the release-gate classes in one
//! Gradle run (the legacy script started Gradle twice), then, when asked, the
//! API scripts against a live API after a health probe.
//!
//! Report fields kept from run-release-gate.sh: Result, whether the API
//! scripts were included, the gates and classes executed, the log path. The
//! exit code is the first failing command's.

use anyhow::{bail, Context};

use crate::{
    config::ApiScript,
    context::{Ctx, Exit},
    flags,
    gradle::{self, GradleOpts},
    probe,
    report::{Report, RunOptions},
    runner::Step,
    units::HttpUrl,
};

pub const SUITE: &str = "release-gate";
pub const TITLE: &str = "Release Gate Report";

/// The API-script part, resolved before anything runs.
struct ApiSuite {
    health_url: HttpUrl,
    scripts: Vec<ApiScript>,
}

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
        let api = if self.with_api_scripts.unwrap_or(cfg.with_api_scripts) {
            Some(api_suite(ctx)?)
        } else {
            None
        };
        let opts = RunOptions {
            stamp: self.run_stamp.clone(),
            log_file: self.log_file.as_deref().map(|p| ctx.path(p)),
            report_file: self.report_file.as_deref().map(|p| ctx.path(p)),
        };
        let gradle_opts = GradleOpts {
            classes: classes.clone(),
            env: vec![],
            daemon: self.gradle_daemon,
            timeout: self.timeout,
        };
        if !ctx.dry_run {
            // A missing Gradle is exit 127 before the run: no FAIL report.
            gradle::step(ctx, &gradle_opts).require()?;
        }
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
            gradle::run_tests(ctx, &gradle_opts)?.add_to(report);
            crate::runner::check_interrupt()?;
            if let Some(api) = &api {
                report.param("API health URL", &api.health_url);
                run_api_scripts(ctx, report, api)?;
            }
            Ok(())
        })?;
        Ok(exit)
    }
}

/// Checks the API-script settings up front: a bad setting is a one-line
/// error before anything runs, not a half-done gate.
fn api_suite(ctx: &Ctx) -> anyhow::Result<ApiSuite> {
    let cfg = &ctx.config.release_gate;
    if cfg.api_scripts.is_empty() {
        bail!(
            "API scripts were asked for (--with-api-scripts or RELEASE_GATE_WITH_API_SCRIPTS) but {} lists none: add [[release_gate.api_scripts]] entries with name and argv",
            ctx.relative(&ctx.config_path)
        );
    }
    Ok(ApiSuite {
        // Without its own URL the suite probes the environment's health URL.
        health_url: cfg
            .api_health_url
            .clone()
            .unwrap_or_else(|| ctx.config.environment.health_url.clone()),
        scripts: cfg.api_scripts.clone(),
    })
}

/// The health probe, then each script in turn (all of them, so one report
/// shows every failing script; the exit code stays the first failure's).
fn run_api_scripts(ctx: &Ctx, report: &mut Report, api: &ApiSuite) -> anyhow::Result<()> {
    let timeout = ctx.config.ops.health.timeout.std();
    let probe = probe::http_get(&api.health_url, timeout).and_then(|r| {
        if r.is_success() {
            Ok(r)
        } else {
            bail!("HTTP {}", r.status)
        }
    });
    match probe {
        Ok(r) => ctx.runner.say(&format!(
            "API health {}: HTTP {} in {} ms",
            api.health_url,
            r.status,
            r.latency.as_millis()
        )),
        Err(e) => {
            report.fail(format!(
                "API health probe {} failed ({e:#}); API scripts not run: start the API first",
                api.health_url
            ));
            return Ok(());
        }
    }
    for script in &api.scripts {
        let rec = ctx
            .runner
            .run(&script_step(ctx, script, &api.health_url))
            .with_context(|| format!("cannot run API script `{}`", script.name))?;
        report.step(&rec);
        if !rec.ok() {
            report.fail(format!(
                "API script `{}` failed: {}",
                script.name,
                rec.outcome.describe()
            ));
        }
        crate::runner::check_interrupt()?;
    }
    Ok(())
}

/// An API script runs in the service folder, told where the API is.
fn script_step(ctx: &Ctx, script: &ApiScript, health_url: &HttpUrl) -> Step {
    Step::new(
        format!("api script {}", script.name),
        script.argv[0].as_str(),
    )
    .args(script.argv[1..].iter().cloned())
    .cwd(ctx.service_dir())
    .env("API_HOST", health_url.origin())
    .env("API_HEALTH_URL", health_url.as_str())
    .deadline(script.timeout.std())
}
