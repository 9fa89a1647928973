//! The compose environment: the service's docker-compose.yml on a Docker
//! engine; `docker-compose` (v1) when on PATH, else `docker compose` (v2)
//! when it answers (the legacy order).
//!
//! - `up -d --build --scale app=N <services>`; readiness: where the compose
//!   file declares healthchecks, every container healthy first (`up --wait`
//!   on v2, the containers' health state on v1; one turning unhealthy fails
//!   at once, by name, with its last log lines), then our own polling of the
//!   health URL through the balancer (which `--wait` knows nothing of), then
//!   every replica serving (counted from outside).
//! - The fixed host ports the file publishes are checked before `up`.
//! - The load balancer's host port follows the health URL (`APP_LB_PORT`,
//!   which the service's compose file reads), so tests can use their own
//!   port; the offline image stands in for the registry images when it
//!   exists and the `TCS_*_IMAGE` variables are unset.
//! - Scaling needs no balancer restart: the service's nginx re-resolves
//!   `app` through Docker's DNS.
//! - `down -v --remove-orphans`, then a sweep by project label, so an
//!   interrupted `up` (containers created after compose was stopped) leaves
//!   nothing behind either.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use camino::Utf8PathBuf;

use super::{
    published, served,
    state::{self, ComposeState, Recorded, State},
    Endpoints, EnvSpec, Environment, Served,
};
use crate::{
    config::{self, EnvKind},
    context::Ctx,
    images,
    runner::{ensure_success, MissingTool, Runner, Step, Verbosity},
};

/// The programs to look for; tests put stand-ins here.
#[derive(Clone, Debug)]
pub(super) struct Programs {
    pub docker: String,
    pub docker_compose: String,
}

impl Default for Programs {
    fn default() -> Self {
        Programs {
            docker: "docker".into(),
            docker_compose: "docker-compose".into(),
        }
    }
}

pub struct Compose {
    runner: Runner,
    verbosity: Verbosity,
    dry_run: bool,
    cfg: config::ComposeEnv,
    spec: EnvSpec,
    /// `["docker", "compose"]` or `["docker-compose"]`.
    command: Vec<String>,
    docker: String,
    project: String,
    /// Variables we add for compose (LB port, offline images).
    extra_env: Vec<(String, String)>,
    env_file: Option<Utf8PathBuf>,
    created_env_file: bool,
    build: Option<Step>,
    state_path: Option<Utf8PathBuf>,
    run_dir: Utf8PathBuf,
    poll: Duration,
    started_at: String,
    /// `up` was attempted: something may exist to tear down.
    started: bool,
    stopped: bool,
    found: Endpoints,
}

impl Compose {
    pub fn open(ctx: &Ctx, spec: &EnvSpec) -> anyhow::Result<Compose> {
        Compose::open_with(ctx, spec, &Programs::default())
    }

    pub(super) fn open_with(ctx: &Ctx, spec: &EnvSpec, p: &Programs) -> anyhow::Result<Compose> {
        let cfg = ctx.config.environment.compose.clone();
        if !spec.compose_file.is_file() {
            bail!(
                "compose file {} not found: set --compose-file (IT_COMPOSE_FILE) or [environment.compose].file",
                spec.compose_file
            );
        }
        let command = detect(&ctx.runner, p)?;
        let project = spec.compose_project.clone().unwrap_or_else(unique_project);
        Ok(Compose {
            runner: ctx.runner.clone(),
            verbosity: ctx.verbosity,
            dry_run: ctx.dry_run,
            command,
            docker: p.docker.clone(),
            project,
            // The published port (`${APP_LB_PORT:-18080}:8080` in the
            // service's compose file) follows the health URL, probed through it.
            extra_env: vec![(LB_PORT_VAR.into(), spec.health_url.port().to_string())],
            env_file: cfg.env_file.as_deref().map(|f| ctx.path(f)),
            created_env_file: false,
            build: if cfg.build {
                super::build_step(ctx, &cfg.build_tasks)?
            } else {
                None
            },
            state_path: spec.keep_env.then(|| state::path(ctx)),
            run_dir: super::run_dir(ctx),
            poll: ctx.config.environment.poll_interval.std(),
            started_at: crate::report::rfc3339(std::time::SystemTime::now()),
            started: false,
            stopped: false,
            found: Endpoints::default(),
            cfg,
            spec: spec.clone(),
        })
    }

    /// The project an earlier `env up` recorded.
    pub fn reattach(ctx: &Ctx, st: &State, c: &ComposeState) -> anyhow::Result<Compose> {
        let spec = EnvSpec {
            kind: EnvKind::Compose,
            replicas: st.replicas,
            compose_project: Some(c.project.clone()),
            compose_file: c.file.clone(),
            keep_env: true,
            health_url: st
                .health_url
                .parse()
                .with_context(|| format!("bad health URL in {}", state::path(ctx)))?,
            ready_timeout: ctx.config.environment.ready_timeout.get(),
        };
        let cfg = ctx.config.environment.compose.clone();
        Ok(Compose {
            runner: ctx.runner.clone(),
            verbosity: ctx.verbosity,
            dry_run: ctx.dry_run,
            command: c.command.clone(),
            docker: Programs::default().docker,
            project: c.project.clone(),
            extra_env: c.env.clone(),
            env_file: c
                .created_env_file
                .clone()
                .or_else(|| cfg.env_file.as_deref().map(|f| ctx.path(f))),
            created_env_file: c.created_env_file.is_some(),
            build: None,
            state_path: Some(state::path(ctx)),
            run_dir: st.run_dir.clone(),
            poll: ctx.config.environment.poll_interval.std(),
            started_at: st.started.clone(),
            started: true,
            stopped: false,
            found: Endpoints::default(),
            cfg,
            spec,
        })
    }

    /// As if `up` had run: `down` then removes the project.
    pub fn adopted(mut self) -> Compose {
        self.started = true;
        self
    }

    fn env(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = self
            .cfg
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        env.extend(self.extra_env.iter().cloned());
        env
    }

    /// `<compose> -f FILE -p PROJECT <args>`, run beside the compose file.
    fn step(&self, name: &str, args: &[String]) -> Step {
        let file = &self.spec.compose_file;
        let mut step = Step::new(format!("compose {name}"), &self.command[0])
            .args(self.command[1..].iter().cloned())
            .args(["-f", file.as_str(), "-p", &self.project])
            .args(args.iter().cloned())
            .envs(self.env())
            .hint(INSTALL_HINT);
        if let Some(dir) = file.parent().filter(|d| !d.as_str().is_empty()) {
            step = step.cwd(dir);
        }
        step
    }

    fn up_args(&self, replicas: u32, recreate: bool) -> Vec<String> {
        let mut a = vec!["up".to_string(), "-d".into()];
        if !recreate {
            a.push("--no-recreate".into());
        } else if self.cfg.build {
            a.push("--build".into());
        }
        if recreate && self.command.len() > 1 && self.healthchecks() {
            // v2 waits for the healthchecks itself (v1 has no --wait: see `ready`).
            a.push("--wait".into());
            a.push("--wait-timeout".into());
            a.push(self.spec.ready_timeout.std().as_secs().max(1).to_string());
        }
        a.push("--scale".into());
        a.push(format!("{}={replicas}", self.cfg.app_service));
        a.extend(self.cfg.services.iter().cloned());
        a
    }

    fn docker(&self, name: &str, args: &[&str]) -> Step {
        Step::new(name, &self.docker)
            .args(args.iter().copied())
            .hint(INSTALL_HINT)
    }

    /// Our variables for the offline image, unless the user chose images.
    fn offline_images(&self) -> Vec<(String, String)> {
        let unset: Vec<(String, String)> = images::compose_env(images::OFFLINE_IMAGE)
            .into_iter()
            .filter(|(k, _)| std::env::var_os(k).is_none() && !self.cfg.env.contains_key(k))
            .collect();
        if unset.is_empty() {
            return vec![];
        }
        let argv = images::image_exists_argv(images::OFFLINE_IMAGE);
        let check = self
            .docker("docker image inspect", &[])
            .args(argv[1..].iter().cloned());
        if self.dry_run {
            println!("[dry-run] {}", check.display());
            return vec![];
        }
        if self.runner.read(&check).is_err() {
            return vec![];
        }
        let keys: Vec<&str> = unset.iter().map(|(k, _)| k.as_str()).collect();
        self.runner.say(&format!(
            "compose: the offline image {} stands in for {} (no registry needed)",
            images::OFFLINE_IMAGE,
            keys.join(", ")
        ));
        unset
    }

    fn save_state(&self) -> anyhow::Result<()> {
        let Some(path) = self.state_path.as_ref().filter(|_| !self.dry_run) else {
            return Ok(());
        };
        State {
            started: self.started_at.clone(),
            health_url: self.spec.health_url.to_string(),
            replicas: self.spec.replicas,
            run_dir: self.run_dir.clone(),
            origin: None,
            env: Recorded::Compose(ComposeState {
                command: self.command.clone(),
                file: self.spec.compose_file.clone(),
                project: self.project.clone(),
                env: self.extra_env.clone(),
                created_env_file: self.env_file.clone().filter(|_| self.created_env_file),
            }),
        }
        .save(path)
    }

    /// Redis's published port and the replicas' container names, for the
    /// suites. Missing answers leave them unknown.
    fn discover(&mut self) {
        let read = |step: Step| self.runner.read(&step).unwrap_or_default();
        self.found.redis = self.cfg.redis_service.as_ref().and_then(|svc| {
            let out = read(self.step("port", &["port".into(), svc.clone(), "6379".into()]));
            let (host, port) = config::parse_host_port(out.trim()).ok()?;
            let host = match host.as_str() {
                "0.0.0.0" | "::" | "" => "127.0.0.1".to_string(),
                _ => host,
            };
            (port != 0).then_some((host, port))
        });
        let ids = read(self.step(
            "ps",
            &["ps".into(), "-q".into(), self.cfg.app_service.clone()],
        ));
        let ids: Vec<&str> = ids.split_whitespace().collect();
        self.found.replicas = if ids.is_empty() {
            vec![]
        } else {
            let mut args = vec!["inspect", "--format", "{{.Name}}"];
            args.extend(ids);
            read(self.docker("docker inspect", &args))
                .lines()
                .map(|l| l.trim().trim_start_matches('/').to_string())
                .filter(|l| !l.is_empty())
                .collect()
        };
    }

    /// The app containers' TCP passive opens (see `served.rs`): from
    /// `/proc/<pid>/net/snmp` on this host when the engine runs here (the
    /// pid's network namespace is not ours), else `docker exec ... cat`.
    fn count_served(&self) -> anyhow::Result<Served> {
        let app = &self.cfg.app_service;
        let ids = self
            .runner
            .read(&self.step("ps", &["ps".into(), "-q".into(), app.clone()]))
            .with_context(|| format!("cannot list the `{app}` containers"))?;
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if ids.is_empty() {
            bail!("no `{app}` container in compose project {}", self.project);
        }
        let mut args = vec![
            "inspect",
            "--format",
            "{{.Id}} {{.State.Pid}} {{.State.Running}} {{.Name}}",
        ];
        args.extend(ids);
        let out = self
            .runner
            .read(&self.docker("docker inspect", &args))
            .context("cannot inspect the app containers")?;
        let own_netns = std::fs::read_link("/proc/self/ns/net").ok();
        let mut counts = std::collections::BTreeMap::new();
        let mut via_exec = false;
        for line in out.lines() {
            let mut f = line.split_whitespace();
            let (Some(id), Some(pid), Some(running), Some(name)) =
                (f.next(), f.next(), f.next(), f.next())
            else {
                continue;
            };
            if running != "true" {
                continue;
            }
            let on_host = pid
                .parse::<u32>()
                .ok()
                .filter(|p| *p > 0)
                .filter(|p| {
                    let ns = std::fs::read_link(format!("/proc/{p}/ns/net")).ok();
                    ns.is_some() && ns != own_netns
                })
                .and_then(|p| std::fs::read_to_string(format!("/proc/{p}/net/snmp")).ok());
            let snmp = match on_host {
                Some(text) => text,
                None => {
                    via_exec = true;
                    self.runner
                        .read(&self.docker("docker exec", &["exec", id, "cat", "/proc/net/snmp"]))
                        .with_context(|| {
                            format!("cannot read the TCP counters of container {name}")
                        })?
                }
            };
            let n = served::passive_opens(&snmp).with_context(|| {
                format!("no `Tcp: PassiveOpens` counter in /proc/net/snmp of container {name}")
            })?;
            counts.insert(name.trim_start_matches('/').to_string(), n);
        }
        Ok(Served::Counted {
            method: format!(
                "TCP connections each `{app}` container accepted (the kernel's PassiveOpens of its network namespace, read {}); the balancer opens one per request",
                if via_exec { "with docker exec" } else { "in /proc on this host" }
            ),
            counts,
        })
    }

    /// Fixed host ports the compose file publishes that something else
    /// holds, checked before `up` unless the project already runs (then
    /// they are its own).
    pub fn check_fixed_ports(&self) -> anyhow::Result<()> {
        let label = format!("label=com.docker.compose.project={}", self.project);
        let running = self
            .runner
            .read(&self.docker("docker ps", &["ps", "-q", "--filter", &label]))
            .unwrap_or_default();
        if !running.trim().is_empty() {
            return Ok(());
        }
        let file = &self.spec.compose_file;
        for p in self.fixed_ports()? {
            let hosts = match &p.host_ip {
                Some(ip) => vec![ip.as_str()],
                None => vec!["0.0.0.0", "127.0.0.1"],
            };
            for host in hosts {
                if let Err(e) = std::net::TcpListener::bind((host, p.port)) {
                    bail!(
                        "port {} for compose service `{}` ({} publishes it) is not free ({e}): stop what listens there (`ss -ltnp 'sport = :{}'`, or `cargo xtask env down`); nothing was started",
                        p.port,
                        p.service,
                        self.runner.relative(file),
                        p.port
                    );
                }
            }
        }
        Ok(())
    }

    /// The fixed host ports of the compose file, its variables resolved
    /// as compose would (ours, the process's, then `.env` beside the file).
    fn fixed_ports(&self) -> anyhow::Result<Vec<published::Published>> {
        let file = &self.spec.compose_file;
        let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {file}"))?;
        let env = self.env();
        let dotenv = file
            .parent()
            .and_then(|d| std::fs::read_to_string(d.join(".env")).ok())
            .unwrap_or_default();
        let var = |k: &str| {
            env.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .or_else(|| std::env::var(k).ok())
                .or_else(|| {
                    dotenv.lines().find_map(|l| {
                        let (n, v) = l.split_once('=')?;
                        (n.trim() == k).then(|| v.trim().to_string())
                    })
                })
        };
        Ok(published::fixed_ports(&text, &var))
    }

    /// Removes what carries the project's label and is still there (an
    /// interrupted `up` may have created containers after compose stopped).
    fn sweep(&self) -> anyhow::Result<()> {
        remove_project(&self.runner, &self.docker, &self.project)
    }

    /// The compose file's `env_file` must exist (compose refuses to read the
    /// file otherwise, even for `down`); the legacy script created it empty.
    fn ensure_env_file(&mut self) -> anyhow::Result<()> {
        let Some(f) = &self.env_file else {
            return Ok(());
        };
        if f.exists() {
            return Ok(());
        }
        if self.dry_run {
            println!("[dry-run] create an empty {f} (removed again at teardown)");
            return Ok(());
        }
        crate::procs::lease(None, Some(f));
        std::fs::write(f, b"")
            .with_context(|| format!("cannot create the empty env file {f} compose needs"))?;
        self.created_env_file = true;
        self.runner.say(&format!(
            "compose: created an empty {f} (removed again at teardown)"
        ));
        Ok(())
    }

    /// Runs `f` with the env file present: compose v1 reads the whole file,
    /// `env_file` included, for any command. After a keep-env run removed
    /// the one we made, a later `logs` or `scale` makes it again just for
    /// that command.
    fn with_env_file<T>(&self, f: impl FnOnce() -> T) -> T {
        let made = match &self.env_file {
            Some(p) if !self.dry_run && !p.exists() => std::fs::write(p, b"").is_ok(),
            _ => false,
        };
        let out = f();
        if let (true, Some(p)) = (made, &self.env_file) {
            let _ = std::fs::remove_file(p);
        }
        out
    }

    fn remove_created_env_file(&mut self) -> anyhow::Result<()> {
        if let (true, Some(f)) = (self.created_env_file, &self.env_file) {
            match std::fs::remove_file(f) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e)
                        .with_context(|| format!("cannot remove {f} (created empty for compose)"));
                }
                _ => self.created_env_file = false,
            }
        }
        Ok(())
    }

    /// Whether the compose file declares a healthcheck.
    fn healthchecks(&self) -> bool {
        std::fs::read_to_string(&self.spec.compose_file).is_ok_and(|t| super::health::declared(&t))
    }

    /// Every container of the project with its health state (empty when
    /// Docker does not answer: the health URL then decides).
    fn containers(&self) -> Vec<super::health::Container> {
        let ids = self
            .runner
            .read(&self.step("ps", &["ps".into(), "-q".into()]))
            .unwrap_or_default();
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if ids.is_empty() {
            return vec![];
        }
        let mut args = vec!["inspect", "--format", super::health::INSPECT_FORMAT];
        args.extend(ids);
        let out = self
            .runner
            .read(&self.docker("docker inspect", &args))
            .unwrap_or_default();
        super::health::parse(&out)
    }

    /// An unhealthy container, as an error naming its service, with its last
    /// log lines shown (terminal and log).
    fn unhealthy_error(&self) -> Option<anyhow::Error> {
        let cs = self.containers();
        let c = super::health::unhealthy(&cs)?;
        let tail = 20;
        let logs = self
            .logs(&c.service, tail)
            .unwrap_or_else(|e| format!("{e:#}"));
        self.runner.say(&format!(
            "compose: service `{}` is unhealthy (container {}); its last {tail} log lines:\n{logs}",
            c.service, c.name
        ));
        Some(anyhow::anyhow!(
            "compose service `{}` turned unhealthy (container {}, last healthcheck {}): see its last log lines in the log",
            c.service,
            c.name,
            c.last_probe.as_deref().unwrap_or("unknown")
        ))
    }

    /// Waits until every container with a healthcheck is healthy; one that
    /// turns unhealthy ends the wait at once.
    fn wait_healthy(&self, deadline: Duration) -> anyhow::Result<()> {
        let what = format!("healthchecks of compose project {}", self.project);
        crate::probe::wait_until(&what, deadline, self.poll, self.verbosity, || {
            let cs = self.containers();
            if super::health::unhealthy(&cs).is_some() {
                return Ok(self.unhealthy_error());
            }
            if cs.is_empty() || !super::health::all_healthy(&cs) {
                bail!(
                    "still starting: {}",
                    super::health::starting(&cs).join(", ")
                );
            }
            Ok(None)
        })
        .and_then(|e| e.map_or(Ok(()), Err))
    }

    fn display_command(&self) -> String {
        let c = self.command.join(" ");
        if self.command.len() == 1 {
            format!("{c} (v1)")
        } else {
            c
        }
    }
}

const INSTALL_HINT: &str = "install Docker Engine and the Compose plugin (apt-get install docker-compose-plugin), or docker-compose v1 (apt-get install docker-compose)";

/// The variable the service's compose file reads for the balancer's host port.
pub(super) const LB_PORT_VAR: &str = "APP_LB_PORT";

impl Environment for Compose {
    fn kind(&self) -> EnvKind {
        EnvKind::Compose
    }

    fn up(&mut self) -> anyhow::Result<()> {
        // Before anything exists: if we die, the next run removes the project.
        if !self.dry_run {
            crate::procs::lease(Some(&self.project), None);
            self.check_fixed_ports()?;
        }
        // A signal during the checks above (a `docker ps` that hung) stops
        // us before anything exists to tear down.
        crate::runner::check_interrupt()?;
        self.ensure_env_file()?;
        if let Some(step) = &self.build {
            let turn = crate::gradle::shared::turn(crate::gradle::shared::Build::Env)?;
            let rec = self.runner.run(step)?;
            drop(turn);
            crate::runner::check_interrupt()?;
            ensure_success(&rec).context(
                "cannot build what the compose file copies into the app image; see the log above",
            )?;
        }
        let images = self.offline_images();
        self.extra_env
            .retain(|(k, _)| !images.iter().any(|(i, _)| i == k));
        self.extra_env.extend(images);
        self.started = true;
        self.save_state()?;
        let up = self
            .step("up", &self.up_args(self.spec.replicas, true))
            .deadline(Duration::from_secs(20 * 60))
            // Interrupted: stop compose quickly, teardown follows.
            .grace(Duration::from_secs(1));
        let rec = self.runner.run(&up)?;
        crate::runner::check_interrupt()?;
        if !rec.ok() {
            // `up --wait` fails on an unhealthy container: name it.
            if let Some(e) = self.unhealthy_error() {
                return Err(e);
            }
        }
        ensure_success(&rec).with_context(|| {
            format!(
                "cannot start compose project {} ({}); see the log above",
                self.project, self.spec.compose_file
            )
        })
    }

    fn ready(&mut self) -> anyhow::Result<()> {
        let url = self.spec.health_url.clone();
        let deadline = self.spec.ready_timeout.std();
        if super::dry_run_ready(self.dry_run, &url, deadline) {
            return Ok(());
        }
        let until = Instant::now() + deadline;
        let checks = self.healthchecks();
        if checks {
            self.wait_healthy(deadline)?;
        }
        let what = format!("{url} (compose project {})", self.project);
        let left = until.saturating_duration_since(Instant::now());
        // A container turning unhealthy later still ends the wait at once.
        let named = std::cell::Cell::new(false);
        let fatal = || match checks.then(|| self.unhealthy_error()).flatten() {
            Some(e) => {
                named.set(true);
                Err(e)
            }
            None => Ok(()),
        };
        if let Err(e) = super::wait_http_ok(&what, &url, left, self.poll, self.verbosity, fatal) {
            if named.get() {
                // Named, and its logs shown, already.
                return Err(e);
            }
            if crate::runner::interrupted().is_some() {
                return Err(e);
            }
            // The containers' own words go to the log, for the report.
            for svc in [&self.cfg.app_service, &self.cfg.lb_service] {
                let args = ["logs", "--no-color", "--tail", "50", svc.as_str()].map(String::from);
                let _ = self
                    .runner
                    .run(&self.step("logs", &args).deadline(Duration::from_secs(30)));
            }
            return Err(e).context("the compose environment is not ready; its app and load-balancer logs are in the log");
        }
        self.discover();
        let n = self.spec.replicas;
        super::wait_every_replica_serves(
            &self.runner,
            &url,
            n,
            || self.served(),
            until,
            self.poll,
            self.verbosity,
        )
    }

    fn endpoints(&self) -> Endpoints {
        Endpoints {
            api: Some(super::origin(&self.spec.health_url)),
            // A dry run asks compose nothing: the port the file fixes, if any.
            redis: self.found.redis.clone().or_else(|| {
                let svc = self.cfg.redis_service.as_ref().filter(|_| self.dry_run)?;
                let p =
                    self.fixed_ports().ok()?.into_iter().find(|p| {
                        &p.service == svc && p.target.split('/').next() == Some("6379")
                    })?;
                Some((p.host_ip.unwrap_or_else(|| "127.0.0.1".into()), p.port))
            }),
            replicas: self.found.replicas.clone(),
            network: Some(self.cfg.network.replace("{project}", &self.project)),
            internal_api: format!("http://{}:{}", self.cfg.lb_service, self.cfg.lb_port)
                .parse()
                .ok(),
        }
    }

    fn logs(&self, service: &str, tail: u32) -> anyhow::Result<String> {
        let args = [
            "logs".to_string(),
            "--no-color".into(),
            "--tail".into(),
            tail.to_string(),
            service.into(),
        ];
        if self.dry_run {
            println!("[dry-run] {}", self.step("logs", &args).display());
            return Ok(String::new());
        }
        self.with_env_file(|| self.runner.read(&self.step("logs", &args)))
            .with_context(|| {
                format!(
                    "cannot read the logs of `{service}` in compose project {}",
                    self.project
                )
            })
    }

    fn show_logs(
        &self,
        service: Option<&str>,
        tail: Option<u32>,
        follow: bool,
    ) -> anyhow::Result<()> {
        let mut args = vec!["logs".to_string(), "--no-color".into()];
        if follow {
            args.push("--follow".into());
        }
        if let Some(n) = tail {
            args.extend(["--tail".into(), n.to_string()]);
        }
        if let Some(s) = service {
            super::services::check_service_name(s)?;
            args.extend(["--".into(), s.into()]);
        }
        // Following ends with Ctrl-C (or when the containers stop).
        let deadline = Duration::from_secs(if follow { 7 * 24 * 3600 } else { 120 });
        let step = self.step("logs", &args).deadline(deadline);
        let rec = self.with_env_file(|| self.runner.run(&step))?;
        if matches!(rec.outcome, crate::runner::Outcome::Interrupted { .. }) {
            return Ok(());
        }
        ensure_success(&rec)
            .with_context(|| format!("cannot read the logs of compose project {}", self.project))
    }

    fn scale(&mut self, replicas: u32) -> anyhow::Result<()> {
        if !(1..=32).contains(&replicas) {
            bail!("cannot scale to {replicas} replicas: choose 1 to 32");
        }
        // Scaling back after Ctrl-C (a reused environment) is cleanup.
        let cleanup = crate::runner::interrupted().is_some();
        let mut up = self
            .step("scale", &self.up_args(replicas, false))
            .deadline(Duration::from_secs(10 * 60))
            .grace(Duration::from_secs(1));
        if cleanup {
            up = up.cleanup();
        }
        ensure_success(&self.with_env_file(|| self.runner.run(&up))?).with_context(|| {
            format!(
                "cannot scale compose project {} to {replicas} replicas",
                self.project
            )
        })?;
        self.spec.replicas = replicas;
        self.save_state()?;
        // No balancer restart: the service's nginx re-resolves `app` through
        // Docker's DNS; readiness waits until every replica serves.
        self.ready()
    }

    fn down(&mut self) -> anyhow::Result<()> {
        if self.stopped {
            return Ok(());
        }
        self.stopped = true;
        if self.dry_run {
            let step = self.step(
                "down",
                &["down", "-v", "--remove-orphans"].map(String::from),
            );
            println!("[dry-run] {}", step.display());
            return Ok(());
        }
        let mut result = Ok(());
        if self.started {
            self.ensure_env_file()?;
            // After a signal, teardown must finish within seconds: containers
            // get 1 s to stop instead of compose's 10.
            let interrupted = crate::runner::interrupted().is_some();
            let mut args = vec!["down".to_string(), "-v".into(), "--remove-orphans".into()];
            let mut deadline = self.cfg.down_timeout.std();
            if interrupted {
                args.extend(["--timeout".into(), "1".into()]);
                deadline = deadline.min(Duration::from_secs(5));
            }
            let step = self
                .step("down", &args)
                .cleanup()
                .deadline(deadline)
                .grace(Duration::from_millis(500));
            result = self
                .runner
                .run(&step)
                .and_then(|r| ensure_success(&r))
                .with_context(|| format!("compose down failed for project {}", self.project));
            let swept = self.sweep();
            if result.is_ok() {
                result = swept;
            }
        }
        let removed = self.remove_created_env_file();
        if let Some(p) = &self.state_path {
            State::remove(p)?;
        }
        result.and(removed)
    }

    fn describe(&self) -> Vec<(String, String)> {
        vec![
            ("Provider".to_string(), "compose".to_string()),
            ("Compose project".into(), self.project.clone()),
            (
                "Compose file".into(),
                self.runner.relative(&self.spec.compose_file).to_string(),
            ),
            ("Replicas".into(), self.spec.replicas.to_string()),
            ("Health URL".into(), self.spec.health_url.to_string()),
            ("Keep env".into(), self.spec.keep_env.to_string()),
            ("Compose command".into(), self.display_command()),
        ]
    }

    fn served(&self) -> Served {
        if self.dry_run {
            return Served::NotMeasured("a dry run counts nothing".into());
        }
        self.with_env_file(|| self.count_served())
            .unwrap_or_else(|e| Served::NotMeasured(format!("{e:#}")))
    }

    fn keep_running(&mut self) -> anyhow::Result<()> {
        // As the legacy script: the empty env file we made goes, even with
        // keep-env (a later `down` makes it again for as long as it needs it).
        self.remove_created_env_file()
    }
}

/// Removes every container, network and volume labelled with `project`:
/// after `down`, and for a project a run that died left (the reaper), which
/// needs no compose file.
pub(super) fn remove_project(runner: &Runner, docker: &str, project: &str) -> anyhow::Result<()> {
    let label = format!("label=com.docker.compose.project={project}");
    let docker = |name: &str, args: &[&str]| {
        Step::new(name, docker)
            .args(args.iter().copied())
            .hint(INSTALL_HINT)
    };
    for (what, list, rm) in [
        (
            "containers",
            vec!["ps", "-aq", "--filter"],
            vec!["rm", "-f", "-v"],
        ),
        (
            "networks",
            vec!["network", "ls", "-q", "--filter"],
            vec!["network", "rm"],
        ),
        (
            "volumes",
            vec!["volume", "ls", "-q", "--filter"],
            vec!["volume", "rm", "-f"],
        ),
    ] {
        let mut args = list.clone();
        args.push(&label);
        let out = runner
            // Teardown: it lists even after an interrupt.
            .read(&docker(&format!("docker {} ls", what), &args).cleanup())
            .with_context(|| format!("cannot list the project's {what}"))?;
        let ids: Vec<&str> = out.split_whitespace().collect();
        if ids.is_empty() {
            continue;
        }
        runner.say(&format!(
            "compose: removing {} leftover {what} of {}",
            ids.len(),
            project
        ));
        let mut args = rm.clone();
        args.extend(ids);
        let step = docker(&format!("docker remove {what}"), &args)
            .cleanup()
            .deadline(Duration::from_secs(20));
        ensure_success(&runner.run(&step)?)?;
    }
    Ok(())
}

/// The legacy order: `docker-compose` (v1) when on PATH, else `docker
/// compose` (v2) when `docker compose version` answers, else a `MissingTool`
/// (exit 127). A dry run asks the same, so it names the tool the real run
/// uses (the one question it asks, and only without v1 on PATH).
pub(super) fn detect(runner: &Runner, p: &Programs) -> anyhow::Result<Vec<String>> {
    if crate::runner::resolve_program(&p.docker_compose, None, "").is_ok() {
        return Ok(vec![p.docker_compose.clone()]);
    }
    let version = Step::new("docker compose version", &p.docker).args(["compose", "version"]);
    match runner.read(&version) {
        Ok(_) => return Ok(vec![p.docker.clone(), "compose".into()]),
        // Asked to stop while docker thinks: stop there.
        Err(e) if e.is::<crate::runner::Interrupted>() => return Err(e),
        Err(_) => {}
    }
    Err(MissingTool {
        tool: "docker compose".into(),
        hint: format!(
            "neither `{} compose` (v2) nor `{}` (v1) answers: {INSTALL_HINT}",
            p.docker, p.docker_compose
        ),
    }
    .into())
}

/// `xt` and 8 hex digits: distinct per run, a valid project name.
fn unique_project() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64 ^ d.as_secs())
        .unwrap_or(0);
    let mixed = (nanos ^ ((std::process::id() as u64) << 32)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    format!("xt{:08x}", (mixed >> 32) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    use crate::runner::Verbosity;

    /// A stand-in `docker` that records each call (one argv per line, tab
    /// separated) and the variables compose would read.
    fn fake_docker(dir: &camino::Utf8Path, compose_v2: bool, offline_image: bool) -> String {
        let path = dir.join("docker");
        let script = format!(
            r#"#!/bin/sh
{{ printf '%s\t' "$@"; printf '\n'; }} >> {dir}/calls
echo "APP_LB_PORT=$APP_LB_PORT TCS_REDIS_IMAGE=$TCS_REDIS_IMAGE" >> {dir}/env
case "$1 $2" in
  "compose version") [ {v2} = 1 ] && echo "Docker Compose version v2.99.0" && exit 0; echo "unknown command" >&2; exit 1;;
  "image inspect") [ {img} = 1 ] && echo sha256:abc && exit 0; exit 1;;
esac
case "$*" in
  *" logs "*) echo "app_1  | QUEUE_MONITOR join"; echo "app_1  | demo started";;
esac
exit 0
"#,
            v2 = compose_v2 as u8,
            img = offline_image as u8
        );
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path.to_string()
    }

    fn fake_v1(dir: &camino::Utf8Path) -> String {
        let path = dir.join("docker-compose");
        std::fs::write(
            &path,
            format!("#!/bin/sh\n{{ printf '%s\\t' \"$@\"; printf '\\n'; }} >> {dir}/calls\n"),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path.to_string()
    }

    fn calls(dir: &camino::Utf8Path) -> Vec<Vec<String>> {
        std::fs::read_to_string(dir.join("calls"))
            .unwrap_or_default()
            .lines()
            .map(|l| {
                l.trim_end_matches('\t')
                    .split('\t')
                    .map(String::from)
                    .collect()
            })
            .collect()
    }

    fn runner(dir: &camino::Utf8Path) -> Runner {
        Runner::new(dir.to_owned(), false, Verbosity::Quiet)
    }

    #[test]
    fn docker_compose_on_path_comes_first_as_in_the_legacy_script() {
        let d = super::super::tests::tempdir("detect-v1");
        let p = Programs {
            docker: fake_docker(&d, true, false),
            docker_compose: fake_v1(&d),
        };
        assert_eq!(detect(&runner(&d), &p).unwrap(), vec![p.docker_compose]);
        assert!(calls(&d).is_empty(), "v2 is not even asked");
    }

    #[test]
    fn compose_v2_when_no_docker_compose_and_docker_compose_version_answers() {
        let d = super::super::tests::tempdir("detect-v2");
        let p = Programs {
            docker: fake_docker(&d, true, false),
            docker_compose: d.join("no-such-docker-compose").to_string(),
        };
        assert_eq!(
            detect(&runner(&d), &p).unwrap(),
            [p.docker.clone(), "compose".into()]
        );
        assert_eq!(calls(&d), [["compose", "version"]]);
    }

    #[test]
    fn a_dry_run_chooses_the_same_compose_as_the_real_run() {
        for (v1, v2) in [(true, true), (true, false), (false, true)] {
            let d = super::super::tests::tempdir(&format!("detect-dry-{v1}-{v2}"));
            let p = Programs {
                docker: fake_docker(&d, v2, false),
                docker_compose: if v1 {
                    fake_v1(&d)
                } else {
                    d.join("none").to_string()
                },
            };
            let dry = Runner::new(d.clone(), true, Verbosity::Quiet);
            assert_eq!(
                detect(&dry, &p).unwrap(),
                detect(&runner(&d), &p).unwrap(),
                "v1 on PATH: {v1}, v2 answers: {v2}"
            );
        }
    }

    #[test]
    fn no_compose_at_all_is_a_missing_tool_saying_how_to_install() {
        let d = super::super::tests::tempdir("detect-none");
        let p = Programs {
            docker: fake_docker(&d, false, false),
            docker_compose: d.join("no-such-docker-compose").to_string(),
        };
        let e = detect(&runner(&d), &p).unwrap_err();
        let m = e
            .downcast_ref::<MissingTool>()
            .expect("a MissingTool error (exit 127)");
        assert_eq!(m.tool, "docker compose");
        assert!(
            e.to_string().contains("apt-get install docker-compose"),
            "{e}"
        );
    }

    fn ctx(dir: &camino::Utf8Path, health_port: u16) -> Ctx {
        let compose_file = dir.join("docker-compose.yml");
        std::fs::write(&compose_file, "services: {}\n").unwrap();
        super::super::tests::ctx(
            dir,
            &format!(
                r#"
[environment]
health_url = "http://127.0.0.1:{health_port}/api/concerts"
[environment.compose]
file = "{compose_file}"
services = ["redis", "app", "nginx-lb"]
env_file = "{dir}/.env.local"
redis_service = "redis"
"#
            ),
        )
    }

    fn spec(ctx: &Ctx) -> EnvSpec {
        let opts = crate::flags::EnvOpts {
            compose_project: Some("xtenvunit".into()),
            replicas: Some("2".parse().unwrap()),
            ..Default::default()
        };
        let mut spec = EnvSpec::resolve(ctx, &opts, &Default::default()).unwrap();
        spec.kind = EnvKind::Compose;
        spec
    }

    #[test]
    fn up_logs_and_down_run_exactly_these_commands() {
        let d = super::super::tests::tempdir("compose-argv");
        let ctx = ctx(&d, 21099);
        let p = Programs {
            docker: fake_docker(&d, true, true),
            docker_compose: d.join("no-docker-compose").to_string(),
        };
        let mut env = Compose::open_with(&ctx, &spec(&ctx), &p).unwrap();
        let file = d.join("docker-compose.yml");
        let base = [
            p.docker.as_str(),
            "compose",
            "-f",
            file.as_str(),
            "-p",
            "xtenvunit",
        ];
        let with = |rest: &[&str]| -> Vec<String> {
            base[1..]
                .iter()
                .chain(rest)
                .map(|s| s.to_string())
                .collect()
        };

        env.up().unwrap();
        assert!(
            d.join(".env.local").is_file(),
            "the env file compose needs is created"
        );
        let c = calls(&d);
        assert_eq!(c[0], ["compose", "version"]);
        // Before `up`: is the project running already (else its fixed ports are checked)?
        assert_eq!(
            c[1],
            [
                "ps",
                "-q",
                "--filter",
                "label=com.docker.compose.project=xtenvunit"
            ]
        );
        assert_eq!(c[2][..2], ["image", "inspect"]);
        assert_eq!(
            c[3],
            with(&["up", "-d", "--build", "--scale", "app=2", "redis", "app", "nginx-lb"])
        );
        // The balancer's host port follows the health URL; the offline image is used.
        let env_seen = std::fs::read_to_string(d.join("env")).unwrap();
        assert!(
            env_seen.lines().last().unwrap()
                == format!(
                    "APP_LB_PORT=21099 TCS_REDIS_IMAGE={}",
                    images::OFFLINE_IMAGE
                ),
            "{env_seen}"
        );

        let logs = env.logs("app", 7).unwrap();
        assert!(logs.contains("QUEUE_MONITOR join"), "{logs}");
        assert_eq!(
            calls(&d)[4],
            with(&["logs", "--no-color", "--tail", "7", "app"])
        );

        env.down().unwrap();
        let c = calls(&d);
        assert_eq!(c[5], with(&["down", "-v", "--remove-orphans"]));
        let label = "label=com.docker.compose.project=xtenvunit";
        assert_eq!(c[6], ["ps", "-aq", "--filter", label]);
        assert_eq!(c[7], ["network", "ls", "-q", "--filter", label]);
        assert_eq!(c[8], ["volume", "ls", "-q", "--filter", label]);
        assert_eq!(c.len(), 9);
        assert!(
            !d.join(".env.local").exists(),
            "the env file we created is gone again"
        );
        env.down().unwrap();
        assert_eq!(calls(&d).len(), 9, "a second down does nothing");
    }

    #[test]
    fn scale_adds_replicas_without_recreating_nor_restarting_the_balancer() {
        let d = super::super::tests::tempdir("compose-scale");
        let ctx = ctx(&d, 21098);
        let p = Programs {
            docker: fake_docker(&d, true, false),
            docker_compose: fake_v1(&d),
        };
        let env = Compose::open_with(&ctx, &spec(&ctx), &p).unwrap();
        assert_eq!(
            env.up_args(3, false),
            [
                "up",
                "-d",
                "--no-recreate",
                "--scale",
                "app=3",
                "redis",
                "app",
                "nginx-lb"
            ]
        );
        let e = env.endpoints();
        assert_eq!(e.network.as_deref(), Some("xtenvunit_ticket-network"));
        assert_eq!(e.internal_api.unwrap().as_str(), "http://nginx-lb:8080");
        assert_eq!(e.api.unwrap().as_str(), "http://127.0.0.1:21098");
    }

    /// An HTTP server answering 200 to everything, on a port it holds.
    fn always_ok() -> u16 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for mut c in l.incoming().flatten() {
                let mut buf = [0u8; 1024];
                let _ = std::io::Read::read(&mut c, &mut buf);
                let _ = std::io::Write::write_all(
                    &mut c,
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n[]",
                );
            }
        });
        port
    }

    #[test]
    fn scaling_never_restarts_the_balancer_which_re_resolves_app_itself() {
        let d = super::super::tests::tempdir("compose-scale-run");
        let ctx = ctx(&d, always_ok());
        let p = Programs {
            docker: fake_docker(&d, true, false),
            docker_compose: fake_v1(&d),
        };
        let mut env = Compose::open_with(&ctx, &spec(&ctx), &p).unwrap();
        env.scale(3).unwrap();
        let c = calls(&d);
        assert!(
            c.iter().any(|a| a.contains(&"--no-recreate".to_string())),
            "{c:?}"
        );
        assert!(
            !c.iter().any(|a| a.contains(&"restart".to_string())),
            "the balancer was restarted: {c:?}"
        );
    }

    /// A `docker` whose engine runs elsewhere: the app containers' pids are
    /// not on this host (0), so their counters come through `docker exec`.
    fn remote_engine_docker(dir: &camino::Utf8Path) -> String {
        let path = dir.join("docker");
        let script = format!(
            r#"#!/bin/sh
{{ printf '%s\t' "$@"; printf '\n'; }} >> {dir}/calls
case "$*" in
  "compose version") echo "Docker Compose version v2.99.0";;
  *" ps -q app") printf 'c1\nc2\n';;
  "inspect --format "*) echo "c1 0 true /p_app_1"; echo "c2 0 true /p_app_2";;
  "exec c1 cat /proc/net/snmp") printf 'Tcp: ActiveOpens PassiveOpens\nTcp: 3 41\n';;
  "exec c2 cat /proc/net/snmp") printf 'Tcp: ActiveOpens PassiveOpens\nTcp: 5 39\n';;
esac
exit 0
"#
        );
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path.to_string()
    }

    #[test]
    fn requests_per_replica_come_through_docker_exec_when_the_engine_is_elsewhere() {
        let d = super::super::tests::tempdir("compose-served-exec");
        let ctx = ctx(&d, 21094);
        let p = Programs {
            docker: remote_engine_docker(&d),
            docker_compose: d.join("no-docker-compose").to_string(),
        };
        let env = Compose::open_with(&ctx, &spec(&ctx), &p).unwrap();
        match env.served() {
            Served::Counted { method, counts } => {
                assert_eq!(
                    counts,
                    [("p_app_1".to_string(), 41), ("p_app_2".to_string(), 39)].into()
                );
                assert!(method.contains("with docker exec"), "{method}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn keep_env_still_removes_the_env_file_it_created() {
        let d = super::super::tests::tempdir("compose-keep");
        let ctx = ctx(&d, 21096);
        let p = Programs {
            docker: fake_docker(&d, true, false),
            docker_compose: fake_v1(&d),
        };
        let mut spec = spec(&ctx);
        spec.keep_env = true;
        let mut env = Compose::open_with(&ctx, &spec, &p).unwrap();
        env.up().unwrap();
        assert!(d.join(".env.local").is_file());
        let guard = super::super::EnvGuard::new(Box::new(env), true);
        guard.finish().unwrap();
        assert!(
            !d.join(".env.local").exists(),
            "IT_KEEP_ENV=true left the .env.local we created"
        );
        assert!(
            !calls(&d).iter().any(|a| a.contains(&"down".to_string())),
            "keep-env brought the project down"
        );
    }

    #[test]
    fn after_keep_env_logs_find_the_env_file_for_as_long_as_they_run() {
        let d = super::super::tests::tempdir("compose-keep-logs");
        let ctx = ctx(&d, 21093);
        // A docker that, like compose v1, refuses to read a file whose env_file is missing.
        let path = d.join("docker");
        std::fs::write(
            &path,
            format!(
                "#!/bin/sh\n[ \"$1 $2\" = \"compose version\" ] && exit 0\n[ -f {d}/.env.local ] || {{ echo \"Couldn't find env file\" >&2; exit 1; }}\necho app_1 QUEUE_MONITOR join\n"
            ),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let p = Programs {
            docker: path.to_string(),
            docker_compose: d.join("no-docker-compose").to_string(),
        };
        let env = Compose::open_with(&ctx, &spec(&ctx), &p).unwrap();
        assert!(!d.join(".env.local").exists());
        assert!(env.logs("app", 5).unwrap().contains("QUEUE_MONITOR"));
        assert!(
            !d.join(".env.local").exists(),
            "made for the command, gone again"
        );
    }

    #[test]
    fn a_taken_fixed_port_is_named_before_up() {
        let d = super::super::tests::tempdir("compose-port");
        let ctx = ctx(&d, 21095);
        let held = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
        let port = held.local_addr().unwrap().port();
        std::fs::write(
            d.join("docker-compose.yml"),
            format!("services:\n  redis:\n    ports:\n      - \"{port}:6379\"\n"),
        )
        .unwrap();
        let p = Programs {
            docker: fake_docker(&d, true, false),
            docker_compose: fake_v1(&d),
        };
        let mut env = Compose::open_with(&ctx, &spec(&ctx), &p).unwrap();
        let e = env.up().unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("port {port} for compose service `redis` ("))
                && e.contains("docker-compose.yml publishes it) is not free"),
            "{e}"
        );
        assert!(e.ends_with("nothing was started"), "{e}");
        assert!(
            !calls(&d).iter().any(|a| a.contains(&"up".to_string())),
            "compose up ran"
        );
        assert!(!d.join(".env.local").exists(), "nothing was created");
    }

    #[test]
    fn an_existing_env_file_is_left_alone() {
        let d = super::super::tests::tempdir("compose-envfile");
        let ctx = ctx(&d, 21097);
        std::fs::write(d.join(".env.local"), "A=1\n").unwrap();
        let p = Programs {
            docker: fake_docker(&d, true, false),
            docker_compose: fake_v1(&d),
        };
        let mut env = Compose::open_with(&ctx, &spec(&ctx), &p).unwrap();
        env.up().unwrap();
        env.down().unwrap();
        assert_eq!(
            std::fs::read_to_string(d.join(".env.local")).unwrap(),
            "A=1\n"
        );
    }

    #[test]
    fn unique_projects_are_valid_names() {
        let p = unique_project();
        assert!(p.starts_with("xt") && p.len() == 10, "{p}");
        super::super::check_project_name(&p).unwrap();
    }
}
