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

use std::{
    net::TcpListener,
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use camino::{Utf8Path, Utf8PathBuf};

use super::{
    served,
    state::{self, LocalState, ProcState, Recorded, State},
    Endpoints, EnvSpec, Environment, Served,
};
use crate::{
    config::{self, EnvKind},
    context::Ctx,
    runner::{kill_group, Runner, Service, Step, Verbosity},
};

pub struct Local {
    runner: Runner,
    verbosity: Verbosity,
    dry_run: bool,
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
    /// Has it exited? (Reaps our own children.)
    fn exited(&mut self) -> Option<String> {
        match &mut self.handle {
            Some(h) => h.exited().map(|o| o.describe()),
            None => (!state::is_running(self.pid, self.start_ticks)).then(|| "gone".into()),
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
            verbosity: ctx.verbosity,
            dry_run: ctx.dry_run,
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
        let spec = EnvSpec {
            kind: EnvKind::Local,
            replicas: st.replicas,
            compose_project: None,
            compose_file: Utf8PathBuf::new(),
            keep_env: true,
            health_url: st
                .health_url
                .parse()
                .with_context(|| format!("bad health URL in {}", state::path(ctx)))?,
            ready_timeout: ctx.config.environment.ready_timeout.get(),
        };
        let mut env = Local::open(ctx, &spec)?;
        env.run_dir = st.run_dir.clone();
        env.started = st.started.clone();
        env.lb_port = l.lb_port;
        env.redis_port = l.redis_port;
        env.procs = l
            .processes
            .iter()
            .map(|p| Proc {
                name: p.name.clone(),
                pid: p.pid,
                start_ticks: p.start_ticks,
                port: p.port,
                log: p.log.clone(),
                marker: p.marker.clone(),
                handle: None,
            })
            .collect();
        Ok(env)
    }

    fn apps(&self) -> impl Iterator<Item = &Proc> {
        self.procs.iter().filter(|p| p.is_app())
    }

    fn app_ports(&self) -> Vec<u16> {
        self.apps().map(|p| p.port).collect()
    }

    fn nginx_conf_path(&self) -> Utf8PathBuf {
        self.run_dir.join("nginx").join("nginx.conf")
    }

    /// Ports the configuration fixes, with who wants them; 0 means "any".
    fn fixed_ports(
        &self,
        replicas: std::ops::RangeInclusive<u32>,
    ) -> anyhow::Result<Vec<(String, u16)>> {
        let mut want = vec![];
        if *replicas.start() == 1 {
            if self.cfg.redis_port != 0 {
                want.push(("redis".to_string(), self.cfg.redis_port));
            }
            want.push(("nginx (load balancer)".to_string(), self.lb_port));
        }
        if self.cfg.app_base_port != 0 {
            for i in replicas {
                let port = u16::try_from(self.cfg.app_base_port as u32 + i - 1).map_err(|_| {
                    anyhow::anyhow!("app-{i} would listen on port {} (beyond 65535): lower [environment.local].app_base_port", self.cfg.app_base_port as u32 + i - 1)
                })?;
                want.push((format!("app-{i}"), port));
            }
        }
        Ok(want)
    }

    fn vars(&self, index: u32, port: u16) -> Vec<(&'static str, String)> {
        vec![
            ("port", port.to_string()),
            ("index", index.to_string()),
            ("redis_host", "127.0.0.1".to_string()),
            ("redis_port", self.redis_port.to_string()),
        ]
    }

    fn app_step(&self, index: u32, port: u16) -> anyhow::Result<Step> {
        let vars = self.vars(index, port);
        let argv = self
            .cfg
            .app_command
            .iter()
            .map(|a| substitute(a, &vars))
            .collect::<anyhow::Result<Vec<_>>>()
            .context("in [environment.local].app_command")?;
        let mut step = Step::new(format!("app-{index}"), &argv[0])
            .args(argv[1..].iter().cloned())
            .cwd(&self.service_dir)
            .grace(Duration::from_secs(2));
        for (k, v) in &self.cfg.app_env {
            let v = substitute(v, &vars)
                .with_context(|| format!("in [environment.local.app_env].{k}"))?;
            step = step.env(k, v);
        }
        Ok(step)
    }

    /// The programs and the fixed ports, before anything starts.
    pub fn preflight(&self) -> anyhow::Result<()> {
        if self.cfg.app_command.is_empty() {
            bail!("[environment.local].app_command is empty: set the command that starts one replica, e.g. [\"java\", \"-jar\", \"build/libs/demo.jar\"]");
        }
        if let Some(build) = &self.build {
            build.require()?;
        }
        self.redis_step().require()?;
        self.app_step(1, 0)?.require()?;
        self.nginx_step().require()?;
        check_ports_free(&self.fixed_ports(1..=self.spec.replicas)?)
    }

    fn redis_step(&self) -> Step {
        Step::new("redis", &self.cfg.redis_command)
            .args(["--bind", "127.0.0.1", "--port"])
            .arg(self.redis_port.to_string())
            // A throw-away cache: no snapshot, no append-only file.
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(self.run_dir.as_str())
            .grace(Duration::from_secs(2))
            .hint("apt-get install redis-server")
    }

    fn nginx_step(&self) -> Step {
        Step::new("nginx", &self.cfg.nginx_command)
            .arg("-e")
            .arg(self.run_dir.join("nginx.log").as_str())
            .arg("-p")
            .arg(self.run_dir.join("nginx").as_str())
            .arg("-c")
            .arg(self.nginx_conf_path().as_str())
            .args(["-g", "daemon off;"])
            .grace(Duration::from_secs(2))
            .hint("apt-get install nginx-light")
    }

    fn spawn(&mut self, step: &Step, port: u16) -> anyhow::Result<()> {
        let log = self.run_dir.join(format!("{}.log", step.name));
        let mut svc = self.runner.spawn_service(step, &log)?;
        if self.state_path.is_some() {
            svc.keep_running();
        }
        let pid = svc.pid();
        self.procs.push(Proc {
            name: step.name.clone(),
            pid,
            start_ticks: state::start_ticks(pid),
            port,
            log,
            marker: Some(crate::procs::run_marker().to_string()),
            handle: Some(svc),
        });
        self.save_state()
    }

    fn save_state(&self) -> anyhow::Result<()> {
        let Some(path) = self.state_path.as_ref().filter(|_| !self.dry_run) else {
            return Ok(());
        };
        State {
            started: self.started.clone(),
            health_url: self.spec.health_url.to_string(),
            replicas: self.apps().count() as u32,
            run_dir: self.run_dir.clone(),
            origin: None,
            env: Recorded::Local(LocalState {
                lb_port: self.lb_port,
                redis_port: self.redis_port,
                nginx_conf: self.nginx_conf_path(),
                processes: self
                    .procs
                    .iter()
                    .map(|p| ProcState {
                        name: p.name.clone(),
                        pid: p.pid,
                        start_ticks: p.start_ticks,
                        port: p.port,
                        log: p.log.clone(),
                        marker: p.marker.clone(),
                    })
                    .collect(),
            }),
        }
        .save(path)
    }

    /// An error naming the first service that died, with its last log line.
    fn check_alive(&mut self) -> anyhow::Result<()> {
        for p in &mut self.procs {
            if let Some(how) = p.exited() {
                let last = super::tail_file(&p.log, 1).unwrap_or_default();
                bail!(
                    "{} exited ({how}): {}; log: {}",
                    p.name,
                    last.trim(),
                    self.runner.relative(&p.log)
                );
            }
        }
        Ok(())
    }

    /// Waits for one service's own readiness probe, failing at once if it dies.
    fn wait_service(&mut self, name: &str, until: Instant) -> anyhow::Result<()> {
        let i = self
            .procs
            .iter()
            .position(|p| p.name == name)
            .expect("waiting for a started service");
        let port = self.procs[i].port;
        let left = until.saturating_duration_since(Instant::now());
        let what = format!("{name} on 127.0.0.1:{port}");
        if self.procs[i].is_app() {
            let url = format!("http://127.0.0.1:{port}{}", self.cfg.app_ready_path)
                .parse()
                .context("[environment.local].app_ready_path must be a path like /api/concerts")?;
            let v = self.verbosity;
            return super::wait_http_ok(&what, &url, left, self.poll, v, || self.check_alive());
        }
        let redis = name == "redis";
        crate::probe::wait_until(&what, left, self.poll, self.verbosity, || {
            if let Err(e) = self.check_alive() {
                return Ok(Err(e));
            }
            let addr = format!("127.0.0.1:{port}");
            let t = Duration::from_secs(1);
            if redis {
                crate::probe::redis_ping(&addr, t)?;
            } else {
                crate::probe::tcp(&addr, t)?;
            }
            Ok(Ok(()))
        })?
    }

    fn start_app(&mut self, index: u32, port: u16) -> anyhow::Result<()> {
        let step = self.app_step(index, port)?;
        if self.dry_run {
            println!(
                "[dry-run] {} > {}",
                step.display(),
                self.run_dir.join(format!("app-{index}.log"))
            );
            return Ok(());
        }
        self.spawn(&step, port)
    }

    /// Writes the balancer's config for the current replicas.
    fn write_nginx_conf(&self) -> anyhow::Result<()> {
        let conf = nginx_conf(&self.run_dir, self.lb_port, &self.app_ports());
        let path = self.nginx_conf_path();
        crate::report::write_atomic(&path, conf.as_bytes())
            .with_context(|| format!("cannot write the nginx config {path}"))
    }

    /// New config, then SIGHUP: nginx re-reads it and replaces its workers
    /// without dropping the connections in flight.
    fn reload_nginx(&mut self) -> anyhow::Result<()> {
        self.write_nginx_conf()?;
        let nginx = self.procs.iter().find(|p| p.name == "nginx").context(
            "the local load balancer is not running: `cargo xtask env down`, then `env up`",
        )?;
        self.runner.say(&format!(
            "--> reload nginx (pid {}): {} replica(s)",
            nginx.pid,
            self.apps().count()
        ));
        // SAFETY: plain syscall on a pid we started (and, reattached, verified).
        if unsafe { libc::kill(nginx.pid as i32, libc::SIGHUP) } != 0 {
            bail!(
                "cannot signal nginx (pid {}) to reload: {}",
                nginx.pid,
                std::io::Error::last_os_error()
            );
        }
        Ok(())
    }

    /// One line per request nginx passed on: the replica's address.
    fn upstream_log_path(&self) -> Utf8PathBuf {
        self.run_dir.join("nginx-upstream.log")
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
        let n = self.spec.replicas;
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
        if !self.dry_run {
            std::fs::create_dir_all(self.run_dir.join("nginx"))
                .with_context(|| format!("cannot create the run folder {}", self.run_dir))?;
        }
        if let Some(step) = &self.build {
            let turn = crate::gradle::shared::turn(crate::gradle::shared::Build::Env)?;
            let rec = self.runner.run(step)?;
            drop(turn);
            crate::runner::check_interrupt()?;
            crate::runner::ensure_success(&rec).with_context(|| {
                format!(
                    "cannot build the app for the local environment (in {}); see the log above",
                    self.service_dir
                )
            })?;
        }
        if self.dry_run {
            println!(
                "[dry-run] {} > {}",
                self.redis_step().display(),
                self.run_dir.join("redis.log")
            );
            for (i, port) in (1..=n).zip(app_ports) {
                self.start_app(i, port)?;
            }
            println!("[dry-run] write {}", self.nginx_conf_path());
            println!(
                "[dry-run] {} > {}",
                self.nginx_step().display(),
                self.run_dir.join("nginx.log")
            );
            return Ok(());
        }
        // Service start-up shares one deadline; the build above does not count.
        let until = Instant::now() + self.spec.ready_timeout.std();
        let redis = self.redis_step();
        self.spawn(&redis, self.redis_port)?;
        self.wait_service("redis", until)?;
        for (i, port) in (1..=n).zip(app_ports) {
            self.start_app(i, port)?;
        }
        for i in 1..=n {
            self.wait_service(&format!("app-{i}"), until)?;
        }
        self.write_nginx_conf()?;
        let nginx = self.nginx_step();
        self.spawn(&nginx, self.lb_port)?;
        self.wait_service("nginx", until)
    }

    fn ready(&mut self) -> anyhow::Result<()> {
        let url = self.spec.health_url.clone();
        let deadline = self.spec.ready_timeout.std();
        if super::dry_run_ready(self.dry_run, &url, deadline) {
            return Ok(());
        }
        let until = Instant::now() + deadline;
        let (v, poll) = (self.verbosity, self.poll);
        super::wait_http_ok(&format!("{url} (local)"), &url, deadline, poll, v, || {
            self.check_alive()
        })?;
        let n = self.apps().count() as u32;
        super::wait_every_replica_serves(&self.runner, &url, n, || self.served(), until, poll, v)
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
        if self.dry_run {
            println!(
                "[dry-run] read the last {tail} lines of each `{service}` log in {}",
                self.runner.relative(&self.run_dir)
            );
            return Ok(String::new());
        }
        let mut out = String::new();
        for p in self.pick(service)? {
            out.push_str(&super::tail_file(&p.log, tail)?);
        }
        Ok(out)
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
            pick.iter().any(|p| state::is_running(p.pid, p.start_ticks))
        })
    }

    fn scale(&mut self, replicas: u32) -> anyhow::Result<()> {
        if !(1..=32).contains(&replicas) {
            bail!("cannot scale to {replicas} replicas: choose 1 to 32");
        }
        let current = self.apps().count() as u32;
        if replicas == current || self.dry_run {
            self.spec.replicas = replicas;
            return Ok(());
        }
        self.runner.say(&format!(
            "local environment: {current} -> {replicas} replicas"
        ));
        if replicas > current {
            let more = current + 1..=replicas;
            check_ports_free(&self.fixed_ports(more.clone())?)?;
            let mut free = free_ports(more.clone().count())?.into_iter();
            let until = Instant::now() + self.spec.ready_timeout.std();
            for i in more.clone() {
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
            }
            for i in more {
                self.wait_service(&format!("app-{i}"), until)?;
            }
            self.save_state()?;
            self.reload_nginx()?;
        } else {
            let keep = |p: &Proc| {
                !p.is_app()
                    || p.name
                        .trim_start_matches("app-")
                        .parse::<u32>()
                        .is_ok_and(|i| i <= replicas)
            };
            let (stay, mut gone): (Vec<Proc>, Vec<Proc>) =
                std::mem::take(&mut self.procs).into_iter().partition(keep);
            self.procs = stay;
            // The balancer forgets them first, so no request reaches a stopping replica.
            self.reload_nginx()?;
            self.save_state()?;
            stop_all(&self.runner, &mut gone)?;
        }
        self.spec.replicas = replicas;
        self.ready()
    }

    fn down(&mut self) -> anyhow::Result<()> {
        if self.stopped {
            return Ok(());
        }
        self.stopped = true;
        if self.dry_run {
            for p in self.procs.iter().rev() {
                println!(
                    "[dry-run] stop {} (process group {}: SIGTERM, SIGKILL after 3 s)",
                    p.name, p.pid
                );
            }
            return Ok(());
        }
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
        if self.dry_run {
            return Served::NotMeasured("a dry run counts nothing".into());
        }
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

/// Stops every process group at once: SIGTERM, up to 3 s, then SIGKILL.
/// Never gives up on an interrupt: this is the teardown.
fn stop_all(runner: &Runner, procs: &mut Vec<Proc>) -> anyhow::Result<()> {
    let ours: Vec<usize> = (0..procs.len())
        .filter(|&i| {
            procs[i].handle.is_some() || state::is_running(procs[i].pid, procs[i].start_ticks)
        })
        .collect();
    if !ours.is_empty() {
        let names: Vec<&str> = ours.iter().map(|&i| procs[i].name.as_str()).collect();
        runner.say(&format!("--> stop {}", names.join(", ")));
    }
    let alive = |procs: &mut Vec<Proc>| -> Vec<usize> {
        ours.iter()
            .copied()
            .filter(|&i| {
                let _ = procs[i].exited(); // reap, so a dead child is not a zombie
                !state::group_members(procs[i].pid).is_empty()
            })
            .collect()
    };
    for &i in &ours {
        kill_group(procs[i].pid as i32, libc::SIGTERM);
    }
    for (signal, wait) in [
        (None, Duration::from_secs(3)),
        (Some(libc::SIGKILL), Duration::from_secs(2)),
    ] {
        if let Some(sig) = signal {
            for i in alive(procs) {
                runner.say(&format!(
                    "!!! {} (pid {}) ignored SIGTERM; killing it",
                    procs[i].name, procs[i].pid
                ));
                kill_group(procs[i].pid as i32, sig);
            }
        }
        let until = Instant::now() + wait;
        while !alive(procs).is_empty() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let left: Vec<String> = alive(procs)
        .into_iter()
        .map(|i| format!("{} (pid {})", procs[i].name, procs[i].pid))
        .collect();
    procs.clear(); // the handles' Drop finds them dead
    if !left.is_empty() {
        bail!("cannot stop {}: kill them by hand", left.join(", "));
    }
    Ok(())
}

/// The balancer's configuration: round robin over the replicas, listening on
/// loopback only, every path (pid, temp, logs) inside the run folder so it
/// runs unprivileged and leaves nothing elsewhere.
pub(super) fn nginx_conf(run_dir: &Utf8Path, lb_port: u16, apps: &[u16]) -> String {
    let dir = run_dir.join("nginx");
    let log = run_dir.join("nginx.log");
    let upstream_log = run_dir.join("nginx-upstream.log");
    let upstream_format = served::UPSTREAM_LOG_FORMAT;
    let servers: String = apps
        .iter()
        .map(|p| format!("        server 127.0.0.1:{p};\n"))
        .collect();
    format!(
        "# Generated by cargo xtask (local environment); rewritten on scale.
worker_processes 1;
pid {dir}/nginx.pid;
error_log {log} warn;

events {{
    worker_connections 1024;
}}

http {{
    access_log {log};
    # Which replica served each request, counted by the xtask (the service
    # tells nothing of it): one address per line.
    log_format upstream '{upstream_format}';
    access_log {upstream_log} upstream;
    client_body_temp_path {dir}/client-body;
    proxy_temp_path       {dir}/proxy;
    fastcgi_temp_path     {dir}/fastcgi;
    uwsgi_temp_path       {dir}/uwsgi;
    scgi_temp_path        {dir}/scgi;

    # No keepalive: each request is balanced on its own.
    upstream app_backend {{
{servers}    }}

    server {{
        listen 127.0.0.1:{lb_port};

        location / {{
            proxy_pass http://app_backend;
            proxy_set_header Host $host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_connect_timeout 2s;
            proxy_read_timeout 30s;
        }}
    }}
}}
"
    )
}

/// Replaces `{name}` placeholders. An unknown name is an error (a typo would
/// otherwise reach the service as text); braces around anything that is not
/// a plain lower-case name (JSON, say) are kept as they are.
pub(crate) fn substitute(template: &str, vars: &[(&str, String)]) -> anyhow::Result<String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
            .unwrap_or(after.len());
        if name_len > 0 && after[name_len..].starts_with('}') {
            let name = &after[..name_len];
            let value = vars
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v)
                .with_context(|| {
                    let known: Vec<String> = vars.iter().map(|(k, _)| format!("{{{k}}}")).collect();
                    format!(
                        "unknown placeholder `{{{name}}}` in `{template}`: use {}",
                        known.join(", ")
                    )
                })?;
            out.push_str(value);
            rest = &after[name_len + 1..];
        } else {
            out.push('{');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Fails, naming the service and the port, when a port is taken or wanted twice.
/// A port wanted twice is a mistake in the config whatever the machine
/// does, so it is found first, before any port is tried.
pub(super) fn check_ports_free(want: &[(String, u16)]) -> anyhow::Result<()> {
    for (i, (name, port)) in want.iter().enumerate() {
        if let Some((other, _)) = want[..i].iter().find(|(_, p)| p == port) {
            bail!("port {port} is configured for both {other} and {name}: give each its own ([environment.local] redis_port, app_base_port, and the health URL's port for the balancer)");
        }
    }
    for (name, port) in want {
        // Either address taken means the service could not listen.
        for host in ["127.0.0.1", "0.0.0.0"] {
            if let Err(e) = TcpListener::bind((host, *port)) {
                bail!("port {port} for {name} is not free ({e}): stop what listens there (`ss -ltnp 'sport = :{port}'`) or configure another port; nothing was started");
            }
        }
    }
    Ok(())
}

/// `n` distinct free ports on loopback (held together while picked, so they differ).
fn free_ports(n: usize) -> anyhow::Result<Vec<u16>> {
    let held = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").and_then(|l| Ok((l.local_addr()?.port(), l))))
        .collect::<std::io::Result<Vec<_>>>()
        .context("cannot find a free port on 127.0.0.1")?;
    Ok(held.into_iter().map(|(p, _)| p).collect())
}

fn join(ports: &[u16]) -> String {
    ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vec<(&'static str, String)> {
        vec![
            ("port", "21081".into()),
            ("index", "2".into()),
            ("redis_host", "127.0.0.1".into()),
            ("redis_port", "40000".into()),
        ]
    }

    #[test]
    fn placeholders_are_replaced_in_values() {
        assert_eq!(substitute("app-{index}", &vars()).unwrap(), "app-2");
        assert_eq!(
            substitute("{redis_host}:{redis_port}/{port}", &vars()).unwrap(),
            "127.0.0.1:40000/21081"
        );
        assert_eq!(substitute("plain", &vars()).unwrap(), "plain");
    }

    #[test]
    fn braces_that_are_not_placeholders_stay() {
        assert_eq!(substitute(r#"{"a":1}"#, &vars()).unwrap(), r#"{"a":1}"#);
        assert_eq!(substitute("{}{ port}{", &vars()).unwrap(), "{}{ port}{");
        assert_eq!(substitute("{{port}}", &vars()).unwrap(), "{21081}");
    }

    #[test]
    fn a_mistyped_placeholder_is_an_error_listing_the_known_ones() {
        let e = substitute("{prot}", &vars()).unwrap_err().to_string();
        assert_eq!(
            e,
            "unknown placeholder `{prot}` in `{prot}`: use {port}, {index}, {redis_host}, {redis_port}"
        );
    }

    #[test]
    fn nginx_balances_over_every_replica_and_keeps_its_files_in_the_run_folder() {
        let conf = nginx_conf(Utf8Path::new("/r/env/run1"), 21080, &[21081, 21082]);
        assert!(conf.contains("listen 127.0.0.1:21080;"), "{conf}");
        assert!(conf.contains(
            "upstream app_backend {\n        server 127.0.0.1:21081;\n        server 127.0.0.1:21082;\n    }"
        ), "{conf}");
        assert!(conf.contains("proxy_pass http://app_backend;"));
        assert!(conf.contains("pid /r/env/run1/nginx/nginx.pid;"));
        assert!(conf.contains("error_log /r/env/run1/nginx.log warn;"));
        assert!(conf.contains("access_log /r/env/run1/nginx.log;"));
        for line in conf.lines().filter(|l| l.contains("_temp_path")) {
            assert!(
                line.trim_end().ends_with(';') && line.contains(" /r/env/run1/nginx/"),
                "{line}"
            );
        }
        // Every brace closes: nginx would refuse the file otherwise.
        assert_eq!(conf.matches('{').count(), conf.matches('}').count());
    }

    #[test]
    fn nginx_accepts_the_generated_config() {
        let d = super::super::tests::tempdir("nginx-t");
        std::fs::create_dir_all(d.join("nginx")).unwrap();
        let port = free_ports(1).unwrap()[0];
        let conf = d.join("nginx").join("nginx.conf");
        std::fs::write(&conf, nginx_conf(&d, port, &[1, 2])).unwrap();
        let out = std::process::Command::new("nginx")
            .args([
                "-t",
                "-e",
                d.join("nginx.log").as_str(),
                "-p",
                d.join("nginx").as_str(),
                "-c",
                conf.as_str(),
            ])
            .output()
            .expect("nginx is needed by the local environment: apt-get install nginx-light");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn a_taken_port_is_reported_with_its_service_before_anything_starts() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let e = check_ports_free(&[("nginx (load balancer)".into(), port)])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(&format!(
                "port {port} for nginx (load balancer) is not free"
            )),
            "{e}"
        );
        assert!(e.ends_with("nothing was started"), "{e}");
    }

    #[test]
    fn one_port_for_two_services_is_refused() {
        // Held by the test, so whatever else the machine runs, the answer
        // cannot depend on the port's freedom: the duplicate comes first.
        let held = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = held.local_addr().unwrap().port();
        for want in [
            vec![("redis".into(), port), ("app-1".into(), port)],
            vec![
                ("nginx".into(), 1),
                ("redis".into(), port),
                ("app-1".into(), port),
            ],
        ] {
            let e = check_ports_free(&want).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!(
                    "port {port} is configured for both redis and app-1"
                )),
                "{e}"
            );
        }
    }

    #[test]
    fn free_ports_are_distinct() {
        let mut p = free_ports(5).unwrap();
        p.sort();
        p.dedup();
        assert_eq!(p.len(), 5);
    }
}
