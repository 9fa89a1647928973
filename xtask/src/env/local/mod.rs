//! The local environment: Redis, N app replicas and nginx in front of them,
//! as child processes of this machine, no Docker needed.
//!
//! - Every port is checked before anything starts; a taken one is reported
//!   with the service that wanted it.
//! - Services start in dependency order, each probed in its own protocol:
//!   Redis PING, each replica's ready path, then the balancer.
//! - Each service leads its own process group and logs to its own file in
//!   the run folder; stopping signals the whole group (SIGTERM, then SIGKILL).
//! - When the environment must outlive this process (`env up`, keep-env),
//!   services are left running at exit and recorded in the state file, so a
//!   later `env down` stops them.

mod nginx;
mod ports;
mod services;
mod template;

use crate::units::Replicas;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use camino::Utf8PathBuf;

use super::{
    served,
    state::{self, LocalState, ProcState, Recorded, State},
    Endpoints, EnvSpec, Environment, Served,
};
use crate::{
    config::{self, EnvKind},
    context::Ctx,
    runner::{Runner, Service, Step},
};
use ports::{check_ports_free, free_ports};
use services::stop_all;
pub(crate) use template::substitute;

pub struct Local {
    runner: Runner,
    cfg: config::LocalEnv,
    spec: EnvSpec,
    service_dir: Utf8PathBuf,
    run_dir: Utf8PathBuf,
    /// Some when the environment must outlive this process: it is recorded here.
    state_path: Option<Utf8PathBuf>,
    build: Option<Step>,
    poll: Duration,
    /// Names the compose config gives the app and the balancer, accepted by `logs`.
    app_alias: String,
    lb_alias: String,
    lb_port: u16,
    redis_port: u16,
    /// redis, app-1..app-N, nginx (start order).
    procs: Vec<Proc>,
    started: String,
    stopped: bool,
}

struct Proc {
    name: String,
    pid: u32,
    start_ticks: Option<u64>,
    port: u16,
    log: Utf8PathBuf,
    /// The `XTASK_RUN` it carries: the run that started it.
    marker: Option<String>,
    /// None when reattached from the state file (another process started it).
    handle: Option<Service>,
}

impl Proc {
    /// As the environment record keeps it.
    fn recorded(&self) -> ProcState {
        ProcState {
            name: self.name.clone(),
            pid: self.pid,
            start_ticks: self.start_ticks,
            port: self.port,
            log: self.log.clone(),
            marker: self.marker.clone(),
        }
    }
    /// From the record: started by another process, so no handle.
    fn reattached(p: &ProcState) -> Proc {
        Proc {
            name: p.name.clone(),
            pid: p.pid,
            start_ticks: p.start_ticks,
            port: p.port,
            log: p.log.clone(),
            marker: p.marker.clone(),
            handle: None,
        }
    }
    /// Has it exited? (Reaps our own children.)
    fn exited(&mut self) -> Option<String> {
        match &mut self.handle {
            Some(h) => h.exited().map(|o| o.describe()),
            None => (!crate::runner::procfs::is_running(self.pid, self.start_ticks))
                .then(|| "gone".into()),
        }
    }
    fn is_app(&self) -> bool {
        self.name.starts_with("app-")
    }
}

impl Local {
    pub fn open(ctx: &Ctx, spec: &EnvSpec) -> anyhow::Result<Local> {
        let cfg = ctx.config.environment.local.clone();
        // The health URL is probed through the balancer, so on this host the
        // balancer listens where it points.
        let lb_port = if super::is_loopback(spec.health_url.host()) {
            spec.health_url.port()
        } else {
            cfg.lb_port
        };
        if lb_port == 0 {
            bail!("the local load balancer needs a port: set [environment.local].lb_port or a health URL on 127.0.0.1 with a port");
        }
        let compose = &ctx.config.environment.compose;
        Ok(Local {
            runner: ctx.runner.clone(),
            build: super::build_step(ctx, &cfg.app_build_tasks)?,
            cfg,
            spec: spec.clone(),
            service_dir: ctx.service_dir(),
            run_dir: super::run_dir(ctx),
            state_path: spec.keep_env.then(|| state::path(ctx)),
            poll: ctx.config.environment.poll_interval.std(),
            app_alias: compose.app_service.clone(),
            lb_alias: compose.lb_service.clone(),
            lb_port,
            redis_port: 0,
            procs: vec![],
            started: crate::report::rfc3339(std::time::SystemTime::now()),
            stopped: false,
        })
    }

    /// The environment an earlier `env up` recorded.
    pub fn reattach(ctx: &Ctx, st: &State, l: &LocalState) -> anyhow::Result<Local> {
        let spec = EnvSpec::recorded(ctx, st)?;
        let mut env = Local::open(ctx, &spec)?;
        env.run_dir = st.run_dir.clone();
        env.started = st.started.clone();
        env.lb_port = l.lb_port;
        env.redis_port = l.redis_port;
        env.procs = l.processes.iter().map(Proc::reattached).collect();
        Ok(env)
    }

    /// Starts or stops replicas, then points nginx at the new set.
    fn rescale(&mut self, current: u32, replicas: Replicas) -> anyhow::Result<()> {
        let want = replicas.get();
        self.runner
            .say(&format!("local environment: {current} -> {want} replicas"));
        if want > current {
            let more = current + 1..=want;
            check_ports_free(&self.fixed_ports(more.clone())?)?;
            let mut free = free_ports(more.clone().count())?.into_iter();
            let until = Instant::now() + self.spec.ready_timeout.std();
            let mut started = vec![];
            for i in more {
                let port = match self.cfg.app_base_port {
                    0 => free.next().expect("enough free ports"),
                    base => base + (i - 1) as u16,
                };
                // Keep start order: replicas before the balancer.
                let nginx = self.procs.iter().position(|p| p.name == "nginx");
                self.start_app(i, port)?;
                if let Some(at) = nginx {
                    let p = self.procs.pop().expect("just started");
                    self.procs.insert(at, p);
                }
                started.push((i, port));
            }
            for (i, port) in started {
                self.wait_service(&format!("app-{i}"), port, until)?;
            }
            self.spec.replicas = replicas;
            self.save_state()?;
            self.reload_nginx()?;
        } else {
            let keep = |p: &Proc| {
                !p.is_app()
                    || p.name
                        .trim_start_matches("app-")
                        .parse::<u32>()
                        .is_ok_and(|i| i <= want)
            };
            let (stay, mut gone): (Vec<Proc>, Vec<Proc>) =
                std::mem::take(&mut self.procs).into_iter().partition(keep);
            self.procs = stay;
            // The balancer forgets them first, so no request reaches a stopping replica.
            self.reload_nginx()?;
            self.spec.replicas = replicas;
            self.save_state()?;
            stop_all(&self.runner, &mut gone)?;
        }
        Ok(())
    }

    /// Stops every service, the balancer first, and forgets the record.
    fn stop(&mut self) -> anyhow::Result<()> {
        let mut procs = std::mem::take(&mut self.procs);
        procs.reverse(); // the balancer first, Redis last
                         // Reattached: what the run that started them started outside their
                         // groups carries its marker too.
        let earlier: std::collections::BTreeSet<String> = procs
            .iter()
            .filter(|p| p.handle.is_none())
            .filter_map(|p| p.marker.clone())
            .filter(|m| crate::procs::run_ended(m))
            .collect();
        let stopped = stop_all(&self.runner, &mut procs);
        for m in earlier {
            crate::procs::kill_marked(crate::procs::RUN_VAR, &m);
        }
        if let Some(p) = &self.state_path {
            State::remove(p)?;
        }
        stopped
    }

    fn apps(&self) -> impl Iterator<Item = &Proc> {
        self.procs.iter().filter(|p| p.is_app())
    }

    fn app_ports(&self) -> Vec<u16> {
        self.apps().map(|p| p.port).collect()
    }

    /// The record a later process reattaches by (a real run's only).
    fn save_state(&self) -> anyhow::Result<()> {
        let Some(path) = &self.state_path else {
            return Ok(());
        };
        let st = State {
            started: self.started.clone(),
            health_url: self.spec.health_url.to_string(),
            // The shape being brought up or scaled to (`scale` sets it
            // before it records); `processes` says what runs.
            replicas: self.spec.replicas,
            run_dir: self.run_dir.clone(),
            origin: None,
            env: Recorded::Local(LocalState {
                lb_port: self.lb_port,
                redis_port: self.redis_port,
                nginx_conf: self.nginx_conf_path(),
                processes: self.procs.iter().map(Proc::recorded).collect(),
            }),
        };
        self.runner.real_only(|| st.save(path)).unwrap_or(Ok(()))
    }

    /// The processes a service name means: `app` (or the compose app
    /// service's name) every replica, `lb` (or the balancer's) nginx.
    fn pick(&self, service: &str) -> anyhow::Result<Vec<&Proc>> {
        let pick: Vec<&Proc> = self
            .procs
            .iter()
            .filter(|p| match service {
                s if s == "app" || s == self.app_alias => p.is_app(),
                s if s == "lb" || s == self.lb_alias => p.name == "nginx",
                s => p.name == s,
            })
            .collect();
        if pick.is_empty() {
            let known: Vec<&str> = self.procs.iter().map(|p| p.name.as_str()).collect();
            bail!(
                "the local environment has no service `{service}`: choose app (all replicas), {}",
                known.join(", ")
            );
        }
        Ok(pick)
    }
}

impl Environment for Local {
    fn kind(&self) -> EnvKind {
        EnvKind::Local
    }

    fn up(&mut self) -> anyhow::Result<()> {
        if !self.procs.is_empty() {
            return Ok(());
        }
        if self.cfg.app_command.is_empty() {
            bail!("[environment.local].app_command is empty: set the command that starts one replica, e.g. [\"java\", \"-jar\", \"build/libs/demo.jar\"]");
        }
        let n = self.spec.replicas.get();
        check_ports_free(&self.fixed_ports(1..=n)?)?;
        let mut free = free_ports(1 + n as usize)?.into_iter();
        self.redis_port = match self.cfg.redis_port {
            0 => free.next().expect("enough free ports"),
            p => p,
        };
        let app_ports: Vec<u16> = (1..=n)
            .map(|i| match self.cfg.app_base_port {
                0 => free.next().expect("enough free ports"),
                base => base + (i - 1) as u16,
            })
            .collect();
        self.runner.say(&format!(
            "local environment: redis on 127.0.0.1:{}, {n} replica(s) on {}, nginx on 127.0.0.1:{}; logs in {}",
            self.redis_port,
            join(&app_ports),
            self.lb_port,
            self.runner.relative(&self.run_dir)
        ));
        // The run folder: a dry run's plan names it, and makes nothing.
        self.runner
            .real_only(|| std::fs::create_dir_all(self.run_dir.join("nginx")))
            .transpose()
            .with_context(|| format!("cannot create the run folder {}", self.run_dir))?;
        if let Some(step) = &self.build {
            let turn = crate::gradle::shared::turn(crate::gradle::shared::Build::Env)?;
            let rec = self.runner.run(step)?;
            drop(turn);
            crate::runner::ensure_success(&rec).with_context(|| {
                format!(
                    "cannot build the app for the local environment (in {}); see the log above",
                    self.service_dir
                )
            })?;
        }
        // Service start-up shares one deadline; the build above does not count.
        let until = Instant::now() + self.spec.ready_timeout.std();
        let redis = self.redis_step();
        self.spawn(&redis, self.redis_port)?;
        self.wait_service("redis", self.redis_port, until)?;
        for (i, port) in (1..=n).zip(app_ports.iter().copied()) {
            self.start_app(i, port)?;
        }
        for (i, port) in (1..=n).zip(app_ports) {
            self.wait_service(&format!("app-{i}"), port, until)?;
        }
        self.write_nginx_conf()?;
        let nginx = self.nginx_step();
        self.spawn(&nginx, self.lb_port)?;
        self.wait_service("nginx", self.lb_port, until)
    }

    fn ready(&mut self) -> anyhow::Result<()> {
        let url = self.spec.health_url.clone();
        let deadline = self.spec.ready_timeout.std();
        let runner = self.runner.clone();
        runner.wait(format_args!("{url} to answer 2xx"), deadline, || {
            let until = Instant::now() + deadline;
            let (what, poll) = (format!("{url} (local)"), self.poll);
            super::wait_http_ok(&runner, &what, &url, deadline, poll, || self.check_alive())?;
            let n = self.apps().count() as u32;
            super::wait_every_replica_serves(&runner, &url, n, || self.served(), until, poll)
        })
    }

    fn endpoints(&self) -> Endpoints {
        Endpoints {
            api: Some(super::origin(&self.spec.health_url)),
            redis: (self.redis_port != 0).then(|| ("127.0.0.1".to_string(), self.redis_port)),
            replicas: self.apps().map(|p| p.name.clone()).collect(),
            network: None,
            internal_api: None,
        }
    }

    fn logs(&self, service: &str, tail: u32) -> anyhow::Result<String> {
        let what = format!(
            "read the last {tail} lines of each `{service}` log in {}",
            self.runner.relative(&self.run_dir)
        );
        self.runner.effect(what, || {
            let mut out = String::new();
            for p in self.pick(service)? {
                out.push_str(&super::tail_file(&p.log, tail)?);
            }
            Ok(out)
        })
    }

    fn show_logs(
        &self,
        service: Option<&str>,
        tail: Option<u32>,
        follow: bool,
    ) -> anyhow::Result<()> {
        let pick = match service {
            Some(s) => self.pick(s)?,
            None => self.procs.iter().collect(),
        };
        let files: Vec<(String, Utf8PathBuf)> = pick
            .iter()
            .map(|p| (p.name.clone(), p.log.clone()))
            .collect();
        super::logs::show_files(&files, tail, follow, || {
            pick.iter()
                .any(|p| crate::runner::procfs::is_running(p.pid, p.start_ticks))
        })
    }

    fn scale(&mut self, replicas: Replicas) -> anyhow::Result<()> {
        let current = self.apps().count() as u32;
        let want = replicas.get();
        if want == current {
            self.spec.replicas = replicas;
            return Ok(());
        }
        let runner = self.runner.clone();
        let what = format!("scale the local environment to {want} replicas (nginx reloaded)");
        runner.effect(what, || self.rescale(current, replicas))?;
        self.spec.replicas = replicas;
        self.ready()
    }

    fn down(&mut self) -> anyhow::Result<()> {
        if self.stopped {
            return Ok(());
        }
        self.stopped = true;
        let what: String = (self.procs.iter().rev())
            .map(|p| {
                let (name, pid) = (&p.name, p.pid);
                format!("stop {name} (process group {pid}: SIGTERM, SIGKILL after 3 s)\n")
            })
            .collect();
        let runner = self.runner.clone();
        runner.effect(what, || self.stop())
    }

    fn describe(&self) -> Vec<(String, String)> {
        let mut d = vec![
            ("Provider".to_string(), "local".to_string()),
            ("Replicas".into(), self.spec.replicas.to_string()),
            ("Health URL".into(), self.spec.health_url.to_string()),
            ("Keep env".into(), self.spec.keep_env.to_string()),
            (
                "Load balancer".into(),
                format!("nginx on 127.0.0.1:{}", self.lb_port),
            ),
        ];
        if !self.procs.is_empty() {
            d.push(("App ports".into(), join(&self.app_ports())));
            d.push(("Redis".into(), format!("127.0.0.1:{}", self.redis_port)));
        }
        d.push((
            "Service logs".into(),
            self.runner.relative(&self.run_dir).to_string(),
        ));
        d
    }

    fn served(&self) -> Served {
        self.runner.answer(
            || self.count_served(),
            || Served::NotMeasured("a dry run counts nothing".into()),
        )
    }
}

impl Local {
    /// Requests per replica from nginx's `$upstream_addr` log.
    fn count_served(&self) -> Served {
        let path = self.upstream_log_path();
        let log = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => {
                return Served::NotMeasured(format!("cannot read nginx's access log {path}: {e}"))
            }
        };
        let by_addr = served::count_upstreams(&log);
        let counts = self
            .apps()
            .map(|p| {
                let addr = format!("127.0.0.1:{}", p.port);
                (p.name.clone(), by_addr.get(&addr).copied().unwrap_or(0))
            })
            .collect();
        Served::Counted {
            method: format!(
                "requests nginx passed to each replica ($upstream_addr in its access log {})",
                self.runner.relative(&path)
            ),
            counts,
        }
    }
}

fn join(ports: &[u16]) -> String {
    ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
