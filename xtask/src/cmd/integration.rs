//! `cargo xtask integration`: environment up, readiness, the integration
//! classes in one Gradle run with the environment's addresses handed to the
//! tests, report, teardown (legacy run-runtime-integration-tests.sh).
//!
//! Report fields kept from the legacy script: Result, compose project and
//! file (or the local provider), replicas, health URL, keep-env, the executed
//! classes and the log path; plus the test counts.

use anyhow::{bail, Context};

use crate::{
    context::{Ctx, Exit},
    env::{self, EnvDefaults, EnvGuard, EnvSpec, Environment},
    flags,
    gradle::{self, GradleOpts},
    report::{Report, RunOptions},
};

pub const SUITE: &str = "runtime-integration";
pub const TITLE: &str = "Runtime Integration Test Report";

impl flags::Integration {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        self.run_on(ctx, None)
    }

    /// On `shared` (the gate's environment) when given, else on an
    /// environment of its own, torn down on every exit path.
    pub fn run_on(self, ctx: &Ctx, shared: Option<&mut dyn Environment>) -> anyhow::Result<Exit> {
        let classes = if self.tests.is_empty() {
            ctx.config.integration.classes.clone()
        } else {
            self.tests.clone()
        };
        if classes.is_empty() {
            bail!(
                "no integration test classes: set [integration].classes in {} or pass --tests CLASS",
                ctx.relative(&ctx.config_path)
            );
        }
        let spec = EnvSpec::resolve(ctx, &self.env, &EnvDefaults::integration(&ctx.config))?;
        let opts = RunOptions {
            stamp: self.run_stamp.clone(),
            log_file: self.log_file.as_deref().map(|p| ctx.path(p)),
            report_file: self.report_file.as_deref().map(|p| ctx.path(p)),
        };
        let retries = self.gradle.retries.unwrap_or(ctx.config.gradle.retries);
        let gradle_opts = GradleOpts {
            classes,
            env: vec![],
            daemon: self.gradle.gradle_daemon,
            timeout: self.gradle.timeout,
        };
        // The environment `env up` left running, unless told otherwise.
        let reused = env::reuse::find_unless_shared(ctx, shared.is_some(), &self.reuse_wanted())?;
        if shared.is_none() {
            // Missing tools, a missing compose file, a taken port: one line
            // before the run, not a FAIL report (a dry run checks nothing).
            let check = || -> anyhow::Result<()> {
                gradle::step(ctx, &gradle_opts).require()?;
                if reused.is_none() {
                    env::preflight(ctx, &spec)?;
                }
                Ok(())
            };
            ctx.runner.real_only(check).transpose()?;
        }
        let (_, exit) = ctx.run_suite(SUITE, TITLE, opts, |report, run| {
            report.param("Log", ctx.relative(&run.log));
            match shared {
                Some(env) => {
                    env::reuse::record(report, env);
                    test_against(ctx, env, &gradle_opts, retries, report, run)
                }
                None => {
                    let mut guard = match reused {
                        Some(found) => found.guard(ctx, report, self.env.replicas)?,
                        None => EnvGuard::start(ctx, &spec, report)?,
                    };
                    let tested = test_against(ctx, &mut *guard, &gradle_opts, retries, report, run);
                    if spec.keep_env && guard.origin().is_none() {
                        report.note(
                            "environment left running (keep-env): `cargo xtask env down` stops it",
                        );
                    }
                    let down = guard.finish();
                    tested?;
                    down.context("environment teardown failed")
                }
            }
        })?;
        Ok(exit)
    }
}

impl flags::Integration {
    /// Only what was said on the command line (or in a legacy variable)
    /// contradicts a recorded environment; the config's defaults do not.
    fn reuse_wanted(&self) -> env::reuse::Want {
        env::reuse::Want {
            kind: self.env.kind,
            project: self.env.compose_project.clone(),
            fresh: self.fresh,
        }
    }
}

/// The classes against a ready environment, its addresses in the tests'
/// environment ([integration].test_env).
fn test_against(
    ctx: &Ctx,
    env: &mut dyn Environment,
    base: &GradleOpts,
    retries: u32,
    report: &mut Report,
    run: &crate::report::Run,
) -> anyhow::Result<()> {
    report.param("Test classes", base.classes.join(", "));
    let vars = test_env(ctx, &env.endpoints(), env.kind().as_str())?;
    for (k, v) in &vars {
        report.param(&format!("Test env {k}"), v);
    }
    let opts = GradleOpts {
        env: vars,
        ..base.clone()
    };
    let runs = crate::flaky::run(ctx, &opts, retries)?;
    runs.add_to(report, ctx.config.gradle.fail_on_flaky);
    crate::junit::write_for_run(ctx, run, report, runs.junit_suites())
}

/// `[integration].test_env` with `{api_origin}`, `{api_url}`, `{redis_host}`,
/// `{redis_port}` filled from the environment.
fn test_env(ctx: &Ctx, ep: &env::Endpoints, kind: &str) -> anyhow::Result<Vec<(String, String)>> {
    let api = ep
        .api
        .clone()
        .unwrap_or_else(|| ctx.config.environment.health_url.clone());
    let mut vars = vec![("api_origin", api.origin()), ("api_url", api.to_string())];
    if let Some((host, port)) = &ep.redis {
        vars.push(("redis_host", host.clone()));
        vars.push(("redis_port", port.to_string()));
    }
    ctx.config
        .integration
        .test_env
        .iter()
        .map(|(k, template)| {
            let v = env::substitute(template, &vars).with_context(|| {
                format!("[integration].test_env {k}: the {kind} environment does not offer what it names (Redis needs [environment.external].redis or a published compose port)")
            })?;
            Ok((k.clone(), v))
        })
        .collect()
}
