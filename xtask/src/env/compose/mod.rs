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

mod cli;
mod counters;
mod files;
mod readiness;
mod teardown;
#[cfg(test)]
mod tests;

pub use files::configured_env_file;

use crate::units::Replicas;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use camino::Utf8PathBuf;

use super::{
    state::{self, ComposeState, Recorded, State},
    Endpoints, EnvSpec, Environment, Served,
};
use crate::{
    config::{self, EnvKind},
    context::Ctx,
    runner::{ensure_success, Runner, Step},
};
pub(super) use cli::Programs;
use cli::{detect, INSTALL_HINT};
pub(super) use teardown::remove_project;

pub struct Compose {
    runner: Runner,
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
            command,
            docker: p.docker.clone(),
            project,
            // The published port (`${APP_LB_PORT:-18080}:8080` in the
            // service's compose file) follows the health URL, probed through it.
            extra_env: vec![(LB_PORT_VAR.into(), spec.health_url.port().to_string())],
            env_file: files::configured_env_file(ctx),
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
        let spec = EnvSpec::recorded(ctx, st)?;
        let cfg = ctx.config.environment.compose.clone();
        Ok(Compose {
            runner: ctx.runner.clone(),
            command: c.command.clone(),
            docker: Programs::default().docker,
            project: c.project.clone(),
            extra_env: c.env.clone(),
            env_file: c
                .created_env_file
                .clone()
                .or_else(|| files::configured_env_file(ctx)),
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

    /// The record a later process reattaches by (a real run's only).
    fn save_state(&self) -> anyhow::Result<()> {
        let Some(path) = &self.state_path else {
            return Ok(());
        };
        let st = State {
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
        };
        self.runner.real_only(|| st.save(path)).unwrap_or(Ok(()))
    }

    /// Readiness for real: healthchecks first where declared, then the
    /// health URL through the balancer, then every replica serving.
    fn wait_ready(
        &mut self,
        url: &crate::units::HttpUrl,
        deadline: Duration,
    ) -> anyhow::Result<()> {
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
        if let Err(e) = super::wait_http_ok(&self.runner, &what, url, left, self.poll, fatal) {
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
        let n = self.spec.replicas.get();
        super::wait_every_replica_serves(&self.runner, url, n, || self.served(), until, self.poll)
    }

    /// The Redis port the compose file fixes, if any: what a dry run plans with.
    fn fixed_redis_port(&self) -> Option<(String, u16)> {
        let svc = self.cfg.redis_service.as_ref()?;
        let p = self
            .fixed_ports()
            .ok()?
            .into_iter()
            .find(|p| &p.service == svc && p.target.split('/').next() == Some("6379"))?;
        Some((p.host_ip.unwrap_or_else(|| "127.0.0.1".into()), p.port))
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

/// The variable the service's compose file reads for the balancer's host port.
pub(super) const LB_PORT_VAR: &str = "APP_LB_PORT";

impl Environment for Compose {
    fn kind(&self) -> EnvKind {
        EnvKind::Compose
    }

    fn up(&mut self) -> anyhow::Result<()> {
        // Before anything exists: if we die, the next run removes the project.
        // (A dry run's plan names the ports; it holds no lease.)
        self.runner
            .real_only(|| {
                crate::procs::lease(Some(&self.project), None);
                self.check_fixed_ports()
            })
            .transpose()?;
        // A signal during the checks above (a `docker ps` that hung) stops
        // us before anything exists to tear down.
        crate::runner::check_interrupt()?;
        self.ensure_env_file()?;
        if let Some(step) = &self.build {
            let turn = crate::gradle::shared::turn(crate::gradle::shared::Build::Env)?;
            let rec = self.runner.run(step)?;
            drop(turn);
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
        let runner = self.runner.clone();
        runner.wait(format_args!("{url} to answer 2xx"), deadline, || {
            self.wait_ready(&url, deadline)
        })
    }

    fn endpoints(&self) -> Endpoints {
        Endpoints {
            api: Some(super::origin(&self.spec.health_url)),
            // A dry run asks compose nothing: the port the file fixes, if any.
            redis: self
                .runner
                .answer(|| self.found.redis.clone(), || self.fixed_redis_port()),
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
        // A dry run prints the command and reads nothing.
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
        // Ctrl-C is how `--follow` ends: not an error.
        let rec = self.with_env_file(|| self.runner.run_even_if_interrupted(&step))?;
        if matches!(rec.outcome, crate::runner::Outcome::Interrupted { .. }) {
            return Ok(());
        }
        ensure_success(&rec)
            .with_context(|| format!("cannot read the logs of compose project {}", self.project))
    }

    fn scale(&mut self, replicas: Replicas) -> anyhow::Result<()> {
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
            // Leftovers only a real run can have.
            let swept = self.runner.real_only(|| self.sweep()).unwrap_or(Ok(()));
            if result.is_ok() {
                result = swept;
            }
        }
        let removed = self.remove_created_env_file();
        if let Some(p) = &self.state_path {
            self.runner.real_only(|| State::remove(p)).transpose()?;
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
        self.runner.answer(
            || {
                self.with_env_file(|| self.count_served())
                    .unwrap_or_else(|e| Served::NotMeasured(format!("{e:#}")))
            },
            || Served::NotMeasured("a dry run counts nothing".into()),
        )
    }

    fn keep_running(&mut self) -> anyhow::Result<()> {
        // As the legacy script: the empty env file we made goes, even with
        // keep-env (a later `down` makes it again for as long as it needs it).
        self.remove_created_env_file()
    }
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
