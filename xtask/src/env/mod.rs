//! Environments the suites run against, behind one small trait: compose (a
//! Docker engine), local (child processes) and external (already running).
//!
//! `EnvSpec::resolve` merges flags, legacy variables, xtask.toml and the
//! calling suite's defaults; `open` builds the environment it asks for;
//! `EnvGuard` brings it down on every exit path: explicitly through
//! `finish()` (whose error is reported), and from `Drop` as a fallback for
//! panics, early returns and interrupts (wait loops turn a signal into an
//! error, the error unwinds to the guard).
//!
//! An environment left running on purpose (`env up`, or keep-env) is
//! recorded in `<reports>/env/state.json`, so a later `env status|down`
//! finds it (see `state.rs`).

mod compose;
mod external;
mod health;
mod local;
mod logs;
mod published;
pub mod reuse;
mod served;
pub mod services;
pub mod state;

pub use served::{Served, EXTERNAL_NOT_MEASURED};

pub(crate) use local::substitute;

use crate::probe::Try;
use std::time::Instant;

use anyhow::{bail, Context};
use camino::Utf8PathBuf;

use crate::{
    config::{Config, EnvKind},
    context::Ctx,
    flags::EnvOpts,
    runner::Step,
    units::{Duration, HttpUrl, Replicas},
};

/// Everything an environment needs, resolved (flag > env var > config > default).
#[derive(Clone, Debug)]
pub struct EnvSpec {
    pub kind: EnvKind,
    pub replicas: Replicas,
    /// Compose project name; None: unique per run.
    pub compose_project: Option<String>,
    pub compose_file: Utf8PathBuf,
    pub keep_env: bool,
    /// Any 2xx here means ready (through the load balancer).
    pub health_url: HttpUrl,
    pub ready_timeout: Duration,
}

/// What the calling suite falls back to when neither a flag nor a legacy
/// variable decides (its own section of xtask.toml).
#[derive(Clone, Debug, Default)]
pub struct EnvDefaults {
    /// None: `[environment].default`.
    pub kind: Option<EnvKind>,
    /// None: 1.
    pub replicas: Option<Replicas>,
    /// None: a unique name per run.
    pub compose_project: Option<String>,
    pub keep_env: bool,
}

impl EnvDefaults {
    /// `integration`: `[integration]` (legacy project `tcsit`).
    pub fn integration(c: &Config) -> EnvDefaults {
        EnvDefaults {
            kind: c.integration.environment,
            replicas: Some(c.integration.replicas),
            compose_project: Some(c.integration.compose_project.clone()),
            keep_env: c.integration.keep_env,
        }
    }
    /// `gate`: `[gate]` (project `tcsgate`).
    pub fn gate(c: &Config) -> EnvDefaults {
        EnvDefaults {
            kind: c.gate.environment,
            replicas: None,
            compose_project: Some(c.gate.compose_project.clone()),
            keep_env: false,
        }
    }
    /// `k6 distributed`: `[k6.distributed]` (compose, 3 replicas, `tcsdist`).
    pub fn distributed(c: &Config) -> EnvDefaults {
        let d = &c.k6.distributed;
        EnvDefaults {
            kind: Some(d.environment.unwrap_or(EnvKind::Compose)),
            replicas: Some(d.replicas),
            compose_project: Some(d.compose_project.clone()),
            keep_env: d.keep_env,
        }
    }
    /// `runtime-monitor-snapshot`: `[ops.monitor]`; it only reads logs, so
    /// whatever it finds running stays running.
    pub fn monitor(c: &Config) -> EnvDefaults {
        EnvDefaults {
            kind: c.ops.monitor.environment,
            replicas: Some(c.integration.replicas),
            compose_project: Some(c.ops.monitor.compose_project.clone()),
            keep_env: true,
        }
    }
}

impl EnvSpec {
    /// The one way to an `EnvSpec`: flag (or its legacy variable) > the
    /// suite's defaults > `[environment]`.
    pub fn resolve(ctx: &Ctx, o: &EnvOpts, d: &EnvDefaults) -> anyhow::Result<EnvSpec> {
        let env = &ctx.config.environment;
        let replicas = o.replicas.or(d.replicas).unwrap_or(Replicas::ONE);
        let compose_project = o
            .compose_project
            .clone()
            .or_else(|| d.compose_project.clone())
            .filter(|p| !p.is_empty());
        if let Some(p) = &compose_project {
            check_project_name(p)?;
        }
        let compose_file = ctx.path(o.compose_file.as_deref().unwrap_or(&env.compose.file));
        // Legacy: IT_HEALTH_ATTEMPTS polls, IT_HEALTH_SLEEP_SEC apart (60 x 2 s).
        let ready_timeout = match (o.ready_timeout, o.health_attempts, o.health_sleep) {
            (Some(t), _, _) => t.get(),
            (None, None, None) => env.ready_timeout.get(),
            (None, attempts, sleep) => {
                let (attempts, sleep) =
                    (attempts.unwrap_or(60), sleep.unwrap_or(Duration::secs(2)));
                match sleep.times(attempts) {
                    Some(d) if !d.std().is_zero() => d,
                    Some(_) => bail!("IT_HEALTH_ATTEMPTS ({attempts}) x IT_HEALTH_SLEEP_SEC ({sleep}) is no time at all: the readiness deadline must be longer than 0s"),
                    None => bail!("IT_HEALTH_ATTEMPTS ({attempts}) x IT_HEALTH_SLEEP_SEC ({sleep}) is more than 30 days: give a shorter readiness deadline (--ready-timeout)"),
                }
            }
        };
        Ok(EnvSpec {
            kind: o.kind.or(d.kind).unwrap_or(env.default),
            replicas,
            compose_project,
            compose_file,
            keep_env: o.keep_env.unwrap_or(d.keep_env),
            health_url: o
                .health_url
                .clone()
                .unwrap_or_else(|| env.health_url.clone()),
            ready_timeout,
        })
    }
}

impl EnvSpec {
    /// The environment a state record describes (reattached by `env
    /// status|down|logs` and by reuse): never stopped by whoever reattaches.
    pub fn recorded(ctx: &Ctx, st: &state::State) -> anyhow::Result<EnvSpec> {
        let health_url = st
            .health_url
            .parse()
            .with_context(|| format!("bad health URL in {}", state::path(ctx)))?;
        let (compose_project, compose_file) = match &st.env {
            state::Recorded::Compose(c) => (Some(c.project.clone()), Some(c.file.clone())),
            state::Recorded::Local(_) => (None, None),
        };
        let opts = EnvOpts {
            kind: Some(st.kind()),
            compose_file,
            compose_project,
            replicas: Some(st.replicas),
            keep_env: Some(true),
            health_url: Some(health_url),
            ..EnvOpts::default()
        };
        EnvSpec::resolve(ctx, &opts, &EnvDefaults::default())
    }
}

/// Whether `p` is a project name we would use (for names read back from files).
pub fn valid_project_name(p: &str) -> bool {
    check_project_name(p).is_ok()
}

/// Compose lower-cases and strips what it dislikes; we refuse instead, so the
/// name in reports is the name of the containers.
fn check_project_name(p: &str) -> anyhow::Result<()> {
    let ok = p
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && p.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !ok {
        bail!("compose project `{p}`: use lower-case letters, digits, `-` and `_`, starting with a letter or digit (e.g. tcsit)");
    }
    Ok(())
}

/// Where the suites find the running environment.
#[derive(Clone, Debug, Default)]
pub struct Endpoints {
    /// The API through the load balancer, as seen from this host.
    pub api: Option<HttpUrl>,
    /// Redis as seen from this host, when reachable.
    pub redis: Option<(String, u16)>,
    /// The app replicas' names (compose containers, local `app-N`), when known.
    pub replicas: Vec<String>,
    /// For compose: the network, and the API as seen from inside it.
    pub network: Option<String>,
    pub internal_api: Option<HttpUrl>,
}

/// `Send`: the gate's stages use one environment from their own threads.
pub trait Environment: Send {
    fn kind(&self) -> EnvKind;
    /// Start everything (idempotent for compose `up`).
    fn up(&mut self) -> anyhow::Result<()>;
    /// Wait until the health URL answers 2xx, within the spec's deadline.
    fn ready(&mut self) -> anyhow::Result<()>;
    fn endpoints(&self) -> Endpoints;
    /// The last `tail` lines of a service's logs.
    fn logs(&self, service: &str, tail: u32) -> anyhow::Result<String>;
    /// Change the number of app replicas (and the balancer's view of them).
    fn scale(&mut self, replicas: Replicas) -> anyhow::Result<()>;
    /// Stop and remove everything this environment started. A second call
    /// does nothing.
    fn down(&mut self) -> anyhow::Result<()>;
    /// Name/value pairs for reports (provider, project, file, replicas...).
    fn describe(&self) -> Vec<(String, String)>;
    /// Requests each replica has served so far, counted from outside the
    /// service (see `served.rs`); the difference of two snapshots is what
    /// was served in between.
    fn served(&self) -> Served {
        Served::NotMeasured(format!(
            "the {} environment cannot count requests per replica",
            self.kind().as_str()
        ))
    }
    /// Called when a run leaves the environment running (keep-env): remove
    /// what only the run needed.
    fn keep_running(&mut self) -> anyhow::Result<()> {
        Ok(())
    }
    /// Where it came from, when the suite did not start it (`reuse.rs`).
    fn origin(&self) -> Option<crate::report::EnvOrigin> {
        None
    }
    /// Prints the logs of `service` (all when None) to the terminal, the
    /// last `tail` lines of each (all when None), then, with `follow`, new
    /// lines as they come until Ctrl-C. Secrets are masked.
    fn show_logs(
        &self,
        service: Option<&str>,
        tail: Option<u32>,
        follow: bool,
    ) -> anyhow::Result<()> {
        let _ = (service, tail, follow);
        bail!("the {} environment starts nothing, so it has no logs here: read them where the service runs", self.kind().as_str())
    }
}

/// Scales the app to `replicas` and returns once the environment answers
/// again: what a stage that reshapes the environment needs before it
/// measures. (Compose and local wait inside `scale`; one already of that
/// shape returns from `scale` at once, so readiness is checked here.)
pub fn rescale(env: &mut dyn Environment, replicas: Replicas) -> anyhow::Result<()> {
    env.scale(replicas)
        .with_context(|| format!("cannot scale the app to {replicas} replicas"))?;
    env.ready()
        .context("the environment is not ready after scaling")
}

/// Builds the environment the spec asks for. Nothing is started yet.
pub fn open(ctx: &Ctx, spec: &EnvSpec) -> anyhow::Result<Box<dyn Environment>> {
    Ok(match spec.kind {
        EnvKind::Compose => Box::new(compose::Compose::open(ctx, spec)?),
        EnvKind::Local => Box::new(local::Local::open(ctx, spec)?),
        EnvKind::External => Box::new(external::External::open(ctx, spec)?),
    })
}

/// What can be known before anything starts: the tools the environment runs
/// (`MissingTool`, exit 127), its files, its fixed ports. A suite calls this
/// before its run begins, so that bad input fails in one line and leaves the
/// latest report alone. Nothing is started or created; a dry run (whose
/// plan names the tools and ports) checks nothing here.
pub fn preflight(ctx: &Ctx, spec: &EnvSpec) -> anyhow::Result<()> {
    let check = || {
        // A dead run's leftovers would hold the ports checked below.
        reap_dead_runs(ctx);
        match spec.kind {
            // The compose file, `docker-compose` or `docker compose`, the fixed ports.
            EnvKind::Compose => compose::Compose::open(ctx, spec)?.check_fixed_ports(),
            EnvKind::Local => local::Local::open(ctx, spec)?.preflight(),
            EnvKind::External => Ok(()),
        }
    };
    ctx.runner.real_only(check).unwrap_or(Ok(()))
}

/// Stops what runs that died (SIGKILL, OOM) left behind: their processes,
/// their compose projects, the empty env file they created (procs.rs).
/// Runs before a suite's preflight and `env up|down`; a failure here is a
/// warning, the leases stay for the next run. A dry run reaps nothing.
pub fn reap_dead_runs(ctx: &Ctx) {
    ctx.runner.real_only(|| reap(ctx));
}

fn reap(ctx: &Ctx) {
    let env_file = compose::configured_env_file(ctx);
    let reaped = crate::procs::reap_dead_runs(
        &ctx.lock_dir().join("runs"),
        |project| compose::remove_project(&ctx.runner, "docker", project),
        |f| env_file.as_deref() == Some(f),
    );
    match reaped {
        Ok(reaped) => {
            for r in reaped {
                let mut what = vec![format!("{} process(es)", r.processes)];
                what.extend(r.compose.iter().map(|p| format!("compose project {p}")));
                ctx.runner.say(&format!(
                    "reaper: removed what a run that died (pid {}) left: {}",
                    r.pid,
                    what.join(", ")
                ));
            }
        }
        Err(e) => ctx.runner.say(&format!("warning: {e:#}")),
    }
}

/// Reopens an environment recorded by an earlier process (`env up`), to
/// scale it, probe it or bring it down.
pub fn reattach(ctx: &Ctx, st: &state::State) -> anyhow::Result<Box<dyn Environment>> {
    // The record may be forged: it names nothing the config does not allow.
    st.check(ctx)
        .context("the environment record was not written by `env up` of this configuration")?;
    Ok(match &st.env {
        state::Recorded::Local(l) => Box::new(local::Local::reattach(ctx, st, l)?),
        state::Recorded::Compose(c) => Box::new(compose::Compose::reattach(ctx, st, c)?),
    })
}

/// An environment something else started (a keep-env run of a named
/// compose project), opened only to bring it down.
pub fn adopt(ctx: &Ctx, spec: &EnvSpec) -> anyhow::Result<Box<dyn Environment>> {
    Ok(match spec.kind {
        EnvKind::Compose => Box::new(compose::Compose::open(ctx, spec)?.adopted()),
        _ => open(ctx, spec)?,
    })
}

/// Owns an environment and brings it down on every exit path unless
/// keep-env: `finish()` explicitly (its error is returned), `Drop` as the
/// fallback (its error is printed).
pub struct EnvGuard {
    env: Option<Box<dyn Environment>>,
    keep: bool,
}

impl EnvGuard {
    pub fn new(env: Box<dyn Environment>, keep_env: bool) -> EnvGuard {
        EnvGuard {
            env: Some(env),
            keep: keep_env,
        }
    }

    /// open + up + ready, with the environment's fields (provider, project,
    /// replicas...) recorded in `report`. Whatever started is brought down
    /// again by the guard when a step fails (unless keep-env).
    pub fn start(
        ctx: &Ctx,
        spec: &EnvSpec,
        report: &mut crate::report::Report,
    ) -> anyhow::Result<EnvGuard> {
        let mut guard = EnvGuard::new(open(ctx, spec)?, spec.keep_env);
        for (k, v) in guard.describe() {
            report.param(&k, v);
        }
        let kind = spec.kind.as_str();
        guard
            .up()
            .with_context(|| format!("cannot bring the {kind} environment up"))?;
        guard.ready().with_context(|| {
            format!(
                "the {kind} environment did not become ready ({} within {})",
                spec.health_url, spec.ready_timeout
            )
        })?;
        if spec.keep_env {
            // Left running for later runs to reuse: say where it came from.
            reuse::stamp(ctx)?;
        }
        Ok(guard)
    }

    /// Brings the environment down (unless keep-env) and says whether that worked.
    pub fn finish(mut self) -> anyhow::Result<()> {
        let mut env = self.env.take().expect("the guard owns its environment");
        if self.keep {
            return env.keep_running();
        }
        env.down()
    }

    /// Leaves it running (`env up`): no teardown, now or at exit.
    pub fn release(mut self) -> Box<dyn Environment> {
        self.env.take().expect("the guard owns its environment")
    }
}

impl std::ops::Deref for EnvGuard {
    type Target = dyn Environment;
    fn deref(&self) -> &Self::Target {
        self.env.as_deref().expect("the guard owns its environment")
    }
}

impl std::ops::DerefMut for EnvGuard {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.env
            .as_deref_mut()
            .expect("the guard owns its environment")
    }
}

impl Drop for EnvGuard {
    fn drop(&mut self) {
        if let Some(mut env) = self.env.take() {
            if self.keep {
                let _ = env.keep_running();
            } else if let Err(e) = env.down() {
                eprintln!(
                    "error: {}",
                    crate::redact::text(&format!(
                        "cannot tear the {} environment down: {e:#}",
                        env.kind().as_str()
                    ))
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Shared by the implementations.
// ---------------------------------------------------------------------------

/// The folder for the environment's own files (service logs, nginx config):
/// the suite's run folder when a suite runs (its log lives there), else a
/// fresh `<reports>/env/<stamp>/` (also when a legacy `*_LOG_FILE` put the
/// log outside the reports folder).
pub fn run_dir(ctx: &Ctx) -> Utf8PathBuf {
    if let Some(dir) = ctx
        .runner
        .log_path()
        .and_then(|p| p.parent().map(Utf8PathBuf::from))
        .filter(|d| d.starts_with(&ctx.layout.reports_dir))
    {
        return dir;
    }
    let base = ctx.layout.reports_dir.join("env");
    let stamp = crate::report::stamp(std::time::SystemTime::now());
    let mut dir = base.join(&stamp);
    let mut n = 1;
    while dir.exists() {
        dir = base.join(format!("{stamp}-{n}"));
        n += 1;
    }
    dir
}

/// The Gradle run that builds what the environment starts (`-q <tasks>` in
/// the service folder, the wrapper first), or None when there is nothing to build.
fn build_step(ctx: &Ctx, tasks: &[String]) -> anyhow::Result<Option<Step>> {
    if tasks.is_empty() {
        return Ok(None);
    }
    crate::gradle::shared::prepare_cache(ctx)?;
    let gradle = crate::tools::gradle_program(ctx);
    let g = &ctx.config.gradle;
    let mut step = Step::new(format!("build ({})", tasks.join(" ")), gradle.program())
        .cwd(ctx.service_dir())
        .deadline(g.timeout.std())
        // Interrupted builds stop fast: teardown must fit in a few seconds.
        .grace(std::time::Duration::from_secs(1))
        .hint("install Gradle (apt-get install gradle) or add ./gradlew to the service");
    if g.offline {
        step = step.arg("--offline");
    }
    if !g.daemon {
        step = step.arg("--no-daemon");
    }
    Ok(Some(
        step.args(crate::gradle::shared::cache_args(ctx))
            .arg("-q")
            .args(tasks.iter().cloned()),
    ))
}

/// Polls `url` until it answers 2xx (each try bounded by 3 s, as the legacy
/// script's curl was), at most `interval` apart, until `deadline`.
/// `fatal` is asked between tries: an error from it ends the wait at once
/// (a service that died will not become ready).
fn wait_http_ok(
    runner: &crate::runner::Runner,
    what: &str,
    url: &HttpUrl,
    deadline: std::time::Duration,
    interval: std::time::Duration,
    mut fatal: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let until = Instant::now() + deadline;
    runner.wait_until(what, deadline, interval, || {
        if let Err(e) = fatal() {
            return Ok(Try::GiveUp(e));
        }
        let left = until.saturating_duration_since(Instant::now());
        let timeout = left.clamp(
            std::time::Duration::from_millis(200),
            std::time::Duration::from_secs(3),
        );
        let r = crate::probe::http_get(url, timeout)?;
        if r.is_success() {
            Ok(Try::Ready(()))
        } else {
            bail!("{url} answered HTTP {}", r.status)
        }
    })
}

/// Waits until every replica has served a request through the balancer
/// (counted from outside, see `served.rs`), so that a fresh or rescaled
/// environment spreads load at once: the service's balancer learns new
/// replicas from Docker's DNS some seconds after they start. Skipped, with a
/// line in the log, where requests per replica cannot be counted.
fn wait_every_replica_serves(
    runner: &crate::runner::Runner,
    url: &HttpUrl,
    replicas: u32,
    served: impl Fn() -> Served,
    until: Instant,
    interval: std::time::Duration,
) -> anyhow::Result<()> {
    if replicas < 2 {
        return Ok(());
    }
    let before = served();
    if let Served::NotMeasured(why) = &before {
        runner.say(&format!(
            "note: cannot check that every replica serves through the load balancer: {why}"
        ));
        return Ok(());
    }
    let left = until.saturating_duration_since(Instant::now());
    let what = format!("all {replicas} replicas serving behind {}", url.origin());
    runner.wait_until(&what, left, interval, || {
        for _ in 0..replicas {
            crate::probe::http_get(url, std::time::Duration::from_secs(3))?;
        }
        let Served::Counted { counts, .. } = served().since(&before) else {
            return Ok(Try::Ready(()));
        };
        let idle: Vec<&str> = counts
            .iter()
            .filter(|(_, n)| **n == 0)
            .map(|(k, _)| k.as_str())
            .collect();
        if counts.len() < replicas as usize {
            bail!("{} of {replicas} replicas running", counts.len());
        }
        if !idle.is_empty() {
            bail!("not served yet: {}", idle.join(", "));
        }
        Ok(Try::Ready(()))
    })?;
    runner.say(&format!(
        "all {replicas} replicas serve through the load balancer"
    ));
    Ok(())
}

/// The origin of a URL (`http://host:port`), as an `HttpUrl`.
fn origin(url: &HttpUrl) -> HttpUrl {
    url.origin()
        .parse()
        .expect("the origin of a valid URL is a valid URL")
}

fn is_loopback(host: &str) -> bool {
    matches!(host, "127.0.0.1" | "localhost" | "::1")
}

/// The last `n` lines of a file, read from its end (service logs can be
/// large after a load test). Invalid UTF-8 is replaced, not an error.
fn tail_file(path: &camino::Utf8Path, n: u32) -> anyhow::Result<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path).with_context(|| format!("cannot read log {path}"))?;
    let len = f.metadata()?.len();
    let mut buf: Vec<u8> = Vec::new();
    let mut pos = len;
    const CHUNK: u64 = 64 * 1024;
    // n lines need n+1 newlines before them (the file usually ends with one).
    while pos > 0 && buf.iter().filter(|&&b| b == b'\n').count() <= n as usize {
        let start = pos.saturating_sub(CHUNK);
        let mut chunk = vec![0u8; (pos - start) as usize];
        f.seek(SeekFrom::Start(start))?;
        f.read_exact(&mut chunk)
            .with_context(|| format!("cannot read log {path}"))?;
        chunk.extend_from_slice(&buf);
        buf = chunk;
        pos = start;
    }
    let text = String::from_utf8_lossy(&buf);
    let lines: Vec<&str> = text.lines().collect();
    let skip = lines.len().saturating_sub(n as usize);
    let mut out = lines[skip..].join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use camino::Utf8Path;

    #[test]
    fn project_names_compose_would_change_are_refused() {
        for ok in ["tcsit", "xtenv-1", "a_b", "9x"] {
            check_project_name(ok).unwrap();
        }
        for bad in ["TCS", "", "-x", "a b", "a.b"] {
            let e = check_project_name(bad).unwrap_err().to_string();
            assert!(e.contains("lower-case"), "{bad}: {e}");
        }
    }

    #[test]
    fn tail_reads_the_last_lines_across_chunks() {
        let d = tempdir("tail");
        let p = d.join("x.log");
        let body: String = (1..=20_000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&p, &body).unwrap();
        assert_eq!(tail_file(&p, 2).unwrap(), "line 19999\nline 20000\n");
        assert_eq!(tail_file(&p, 30_000).unwrap().lines().count(), 20_000);
        std::fs::write(&p, b"a\n\xff\xfeb\nc").unwrap();
        assert_eq!(tail_file(&p, 2).unwrap(), "\u{fffd}\u{fffd}b\nc\n");
        std::fs::write(&p, b"").unwrap();
        assert_eq!(tail_file(&p, 5).unwrap(), "");
    }

    /// A context on a temporary config (reports beside it).
    pub(super) fn ctx(dir: &Utf8Path, config: &str) -> Ctx {
        let path = dir.join("xtask.toml");
        std::fs::write(&path, config).unwrap();
        let reports = dir.join("reports");
        let flags = <crate::flags::Xtask as clap::Parser>::try_parse_from([
            "cargo xtask",
            "-q",
            "--config",
            path.as_str(),
            "--reports-dir",
            reports.as_str(),
            "env",
            "status",
        ])
        .unwrap();
        Ctx::new(&flags).unwrap()
    }

    const CONFIG: &str = r#"
[environment]
default = "local"
health_url = "http://127.0.0.1:21301/api/concerts"
ready_timeout = "45s"
[environment.compose]
file = "demo/docker-compose.yml"
"#;

    #[test]
    fn flags_win_over_the_suite_then_the_config_then_the_defaults() {
        let d = tempdir("resolve");
        let ctx = ctx(&d, CONFIG);
        let none = EnvSpec::resolve(&ctx, &EnvOpts::default(), &EnvDefaults::default()).unwrap();
        assert_eq!(none.kind, EnvKind::Local, "[environment].default");
        assert_eq!(none.replicas, Replicas::ONE);
        assert_eq!(none.compose_project, None, "unique per run");
        assert!(!none.keep_env);
        assert_eq!(
            none.health_url.as_str(),
            "http://127.0.0.1:21301/api/concerts"
        );
        assert_eq!(none.ready_timeout, Duration::secs(45));
        assert_eq!(none.compose_file, ctx.root.join("demo/docker-compose.yml"));

        let suite = EnvDefaults::integration(&ctx.config);
        let it = EnvSpec::resolve(&ctx, &EnvOpts::default(), &suite).unwrap();
        assert_eq!(
            (it.compose_project.as_deref(), it.replicas.get()),
            (Some("tcsit"), 1)
        );

        let flags = EnvOpts {
            kind: Some(EnvKind::Compose),
            compose_project: Some("xtenvflag".into()),
            replicas: Some("3".parse().unwrap()),
            keep_env: Some(true),
            health_url: Some("http://127.0.0.1:21302/h".parse().unwrap()),
            ready_timeout: Some(crate::units::NonZeroDuration::secs(5)),
            health_attempts: Some(10),
            ..Default::default()
        };
        let f = EnvSpec::resolve(&ctx, &flags, &suite).unwrap();
        assert_eq!(f.kind, EnvKind::Compose);
        assert_eq!(
            (f.compose_project.as_deref(), f.replicas.get(), f.keep_env),
            (Some("xtenvflag"), 3, true)
        );
        assert_eq!(f.health_url.as_str(), "http://127.0.0.1:21302/h");
        assert_eq!(
            f.ready_timeout,
            Duration::secs(5),
            "--ready-timeout beats the legacy pair"
        );
    }

    #[test]
    fn legacy_attempts_times_sleep_is_the_readiness_deadline() {
        let d = tempdir("resolve-legacy");
        let ctx = ctx(&d, CONFIG);
        let deadline = |attempts, sleep: Option<&str>| {
            let o = EnvOpts {
                health_attempts: attempts,
                health_sleep: sleep.map(|s| s.parse().unwrap()),
                ..Default::default()
            };
            EnvSpec::resolve(&ctx, &o, &EnvDefaults::default())
                .unwrap()
                .ready_timeout
        };
        assert_eq!(deadline(Some(30), Some("3")), Duration::secs(90));
        assert_eq!(
            deadline(Some(5), None),
            Duration::secs(10),
            "legacy sleep 2 s"
        );
        assert_eq!(
            deadline(None, Some("1")),
            Duration::secs(60),
            "legacy 60 attempts"
        );
        assert_eq!(deadline(None, None), Duration::secs(45), "the config");
    }

    #[test]
    fn bad_project_names_are_refused_at_resolve() {
        // (A replica count out of 1..=32 cannot get this far: `Replicas`.)
        let d = tempdir("resolve-bad");
        let ctx = ctx(&d, CONFIG);
        let o = EnvOpts {
            compose_project: Some("My Project".into()),
            ..Default::default()
        };
        let e = EnvSpec::resolve(&ctx, &o, &EnvDefaults::default())
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("compose project `My Project`"), "{e}");
    }

    /// Records what the guard does with it.
    struct Probe(std::sync::Arc<std::sync::Mutex<Vec<&'static str>>>, bool);
    impl Environment for Probe {
        fn kind(&self) -> EnvKind {
            EnvKind::External
        }
        fn up(&mut self) -> anyhow::Result<()> {
            self.0.lock().unwrap().push("up");
            Ok(())
        }
        fn ready(&mut self) -> anyhow::Result<()> {
            self.0.lock().unwrap().push("ready");
            Ok(())
        }
        fn endpoints(&self) -> Endpoints {
            Endpoints::default()
        }
        fn logs(&self, _: &str, _: u32) -> anyhow::Result<String> {
            Ok(String::new())
        }
        fn scale(&mut self, _: Replicas) -> anyhow::Result<()> {
            Ok(())
        }
        fn down(&mut self) -> anyhow::Result<()> {
            self.0.lock().unwrap().push("down");
            if self.1 {
                bail!("docker went away");
            }
            Ok(())
        }
        fn describe(&self) -> Vec<(String, String)> {
            vec![]
        }
    }

    fn probe(
        fail_down: bool,
    ) -> (
        Box<dyn Environment>,
        std::sync::Arc<std::sync::Mutex<Vec<&'static str>>>,
    ) {
        let log = std::sync::Arc::new(std::sync::Mutex::new(vec![]));
        (Box::new(Probe(log.clone(), fail_down)), log)
    }

    #[test]
    fn the_guard_tears_down_on_early_exit_and_panic_but_not_with_keep_env() {
        let (env, log) = probe(false);
        let early = || -> anyhow::Result<()> {
            let mut g = EnvGuard::new(env, false);
            g.up()?;
            bail!("a suite step failed")
        };
        assert!(early().is_err());
        assert_eq!(*log.lock().unwrap(), ["up", "down"]);

        let (env, log) = probe(false);
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _g = EnvGuard::new(env, false);
            panic!("a bug");
        }));
        assert!(panicked.is_err());
        assert_eq!(*log.lock().unwrap(), ["down"]);

        let (env, log) = probe(false);
        EnvGuard::new(env, true).finish().unwrap();
        let (env, dropped) = probe(false);
        drop(EnvGuard::new(env, true));
        assert_eq!(
            *log.lock().unwrap(),
            Vec::<&str>::new(),
            "keep-env: finish leaves it running"
        );
        assert_eq!(
            *dropped.lock().unwrap(),
            Vec::<&str>::new(),
            "keep-env: so does Drop"
        );

        let (env, log) = probe(false);
        EnvGuard::new(env, false).release();
        assert_eq!(
            *log.lock().unwrap(),
            Vec::<&str>::new(),
            "released: env up by hand"
        );
    }

    #[test]
    fn finish_tears_down_once_and_returns_the_error() {
        let (env, log) = probe(true);
        let e = EnvGuard::new(env, false).finish().unwrap_err();
        assert_eq!(e.to_string(), "docker went away");
        assert_eq!(
            *log.lock().unwrap(),
            ["down"],
            "no second teardown from Drop"
        );
    }

    pub(super) fn tempdir(name: &str) -> Utf8PathBuf {
        let d = Utf8PathBuf::from_path_buf(std::env::temp_dir())
            .unwrap()
            .join(format!("xtask-env-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
