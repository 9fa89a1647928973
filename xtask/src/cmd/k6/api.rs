//! `k6 run` and `k6 baseline`: against an API that already runs (the legacy
//! behaviour) or one `--env KIND` brings up (one replica, torn down after);
//! the health probe that keeps k6 from running against a dead API.

use anyhow::{bail, Context};

use super::{execute::execute, finish_env, settings::api_base, Settings, HTTP_TIMEOUT};
use crate::{
    config::EnvKind,
    context::Ctx,
    env::{self, EnvDefaults, EnvGuard, EnvSpec, Environment},
    flags,
    k6::Summary,
    probe,
    report::{Report, Run},
    runner,
    units::HttpUrl,
};

/// `k6 run` and `k6 baseline`: the API already runs at --api-host (the
/// legacy behaviour), or --env brings one up first.
pub(super) fn run_against_api(
    ctx: &Ctx,
    cmd: &flags::K6Run,
    s: &Settings,
    own: Option<&EnvSpec>,
    report: &mut Report,
    run: &Run,
    shared: Option<&mut dyn Environment>,
) -> anyhow::Result<Option<Summary>> {
    let mut up = None;
    let api = match (shared, own) {
        (Some(env), _) => {
            // The gate's environment: on this machine unless external.
            if s.engine == crate::operator::Engine::K6Operator && env.kind() != EnvKind::External {
                bail!(crate::operator::NO_LOCAL_ENV);
            }
            env::reuse::record(report, env);
            env.endpoints()
                .api
                .unwrap_or_else(|| ctx.config.environment.health_url.with_path("/"))
        }
        (None, None) => cmd
            .api_host
            .clone()
            .unwrap_or_else(|| ctx.config.k6.api_host.clone()),
        (None, Some(spec)) => {
            let kind = spec.kind;
            report.param("Environment", kind.as_str());
            let e = EnvGuard::start(ctx, spec, report)?;
            let api = e
                .endpoints()
                .api
                .unwrap_or_else(|| spec.health_url.with_path("/"));
            if let Some(flag) = &cmd.api_host {
                report.note(format!(
                    "--api-host {flag} was not used: k6 ran against the {} environment at {api}",
                    kind.as_str()
                ));
            }
            up = Some(e);
            api
        }
    };
    report.param("API host", api_base(&api));
    let health = match &cmd.health_url {
        Some(u) => u.clone(),
        None => format!("{}/api/concerts", api_base(&api)).parse()?,
    };
    report.param("Health URL", &health);
    s.params(ctx, report);
    if s.engine == crate::operator::Engine::K6Operator {
        // The runners reach the API from inside the cluster, not from here.
        report.note(format!(
            "k6-operator: {health} was not probed from here; the runners reach the API from the cluster"
        ));
        on_cluster(ctx, s, &api, report, run)?;
        return Ok(None);
    }
    probe_api(ctx, &health)?;
    let rt = s.runtime(ctx, run, &s.docker_network);
    let summary = execute(ctx, s, &rt, &api, report, run)?;
    if let Some(e) = up {
        finish_env(e, false, report);
    }
    Ok(summary)
}

/// The environment `k6 run|baseline --env KIND` brings up: one replica,
/// torn down afterwards. None: external, the API already runs (exactly the
/// legacy behaviour).
pub(super) fn own_env(ctx: &Ctx, cmd: &flags::K6Run) -> anyhow::Result<Option<EnvSpec>> {
    let Some(kind) = cmd
        .env
        .or(ctx.config.k6.environment)
        .filter(|k| *k != EnvKind::External)
    else {
        return Ok(None);
    };
    let opts = flags::EnvOpts {
        kind: Some(kind),
        ..Default::default()
    };
    let one = EnvDefaults {
        replicas: Some(crate::units::Replicas::ONE),
        ..Default::default()
    };
    EnvSpec::resolve(ctx, &opts, &one).map(Some)
}

impl flags::K6Run {
    /// `--env` or `--api-host` said where to run: a recorded environment
    /// that contradicts it is refused (`--env external`, `--api-host`: not
    /// reused).
    pub(super) fn reuse_wanted(&self) -> env::reuse::Want {
        let points_elsewhere = self.env.is_none() && self.api_host.is_some();
        env::reuse::Want {
            kind: self.env,
            project: None,
            fresh: self.fresh || points_elsewhere,
        }
    }
}

/// `k6 run|baseline` before the run: k6 itself, and the environment it
/// would bring up (tools, compose file, ports), unless it reuses one.
pub(super) fn preflight(
    ctx: &Ctx,
    s: &Settings,
    own: Option<&EnvSpec>,
    reused: bool,
) -> anyhow::Result<()> {
    if s.engine == crate::operator::Engine::K6Operator && (reused || own.is_some()) {
        bail!(crate::operator::NO_LOCAL_ENV);
    }
    s.preflight(ctx)?;
    match own {
        Some(spec) if !reused => env::preflight(ctx, spec),
        _ => Ok(()),
    }
}

/// `--engine k6-operator`: k6 as a TestRun on the cluster, its runners'
/// samples merged into the report (`operator::execute`).
pub(super) fn on_cluster(
    ctx: &Ctx,
    s: &Settings,
    api: &HttpUrl,
    report: &mut Report,
    run: &Run,
) -> anyhow::Result<()> {
    let mut vars = s.script_vars(api);
    vars.extend(s.k6_env());
    let plan = crate::operator::Plan {
        cluster: &ctx.config.k6.operator,
        name: crate::operator::Label::for_run(&run.suite, &run.stamp),
        script: s.script.clone(),
        vars,
        parallelism: s.generators.get(),
        deadline: s.deadline(),
    };
    crate::operator::execute(ctx, &plan, report, &run.dir)?;
    runner::check_interrupt()
}

/// A dead API fails here, at once, before k6 starts.
fn probe_api(ctx: &Ctx, url: &HttpUrl) -> anyhow::Result<()> {
    ctx.runner
        .effect(format_args!("would probe {url} (any 2xx)"), || {
            probe_now(url)
        })
}

fn probe_now(url: &HttpUrl) -> anyhow::Result<()> {
    let r = probe::http_get(url, HTTP_TIMEOUT).with_context(|| {
        format!("the API is not answering at {url}, so k6 was not run (start the API, point --api-host or --health-url at it, or use --env local)")
    })?;
    if !r.is_success() {
        bail!(
            "the API health check {url} answered HTTP {}, so k6 was not run (wait until the API is ready, or check its logs)",
            r.status
        );
    }
    Ok(())
}
