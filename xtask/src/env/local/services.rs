//! The local services as process groups: their command lines (the
//! configured app command with `{port}`, `{index}`, ... filled in, Redis,
//! nginx), starting one with its own log, waiting for its own probe, and
//! stopping them all (SIGTERM, then SIGKILL).

use crate::probe::Try;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use super::{substitute, Local, Proc};
use crate::runner::{kill_group, procfs, Runner, Step};

impl Local {
    pub(super) fn vars(&self, index: u32, port: u16) -> Vec<(&'static str, String)> {
        vec![
            ("port", port.to_string()),
            ("index", index.to_string()),
            ("redis_host", "127.0.0.1".to_string()),
            ("redis_port", self.redis_port.to_string()),
        ]
    }

    pub(super) fn app_step(&self, index: u32, port: u16) -> anyhow::Result<Step> {
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

    pub(super) fn redis_step(&self) -> Step {
        Step::new("redis", &self.cfg.redis_command)
            .args(["--bind", "127.0.0.1", "--port"])
            .arg(self.redis_port.to_string())
            // A throw-away cache: no snapshot, no append-only file.
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(self.run_dir.as_str())
            .grace(Duration::from_secs(2))
            .hint("apt-get install redis-server")
    }

    /// Starts one service with its own log (a dry run prints `STEP > LOG`).
    pub(super) fn spawn(&mut self, step: &Step, port: u16) -> anyhow::Result<()> {
        let log = self.run_dir.join(format!("{}.log", step.name));
        let runner = self.runner.clone();
        runner.effect(format_args!("{} > {log}", step.display()), || {
            self.start(step, port, log.clone())
        })
    }

    fn start(&mut self, step: &Step, port: u16, log: camino::Utf8PathBuf) -> anyhow::Result<()> {
        let mut svc = self.runner.spawn_service(step, &log)?;
        if self.state_path.is_some() {
            svc.keep_running();
        }
        let pid = svc.pid();
        self.procs.push(Proc {
            name: step.name.clone(),
            pid,
            start_ticks: procfs::start_ticks(pid),
            port,
            log,
            marker: Some(crate::procs::run_marker().to_string()),
            handle: Some(svc),
        });
        self.save_state()
    }

    /// An error naming the first service that died, with its last log line.
    pub(super) fn check_alive(&mut self) -> anyhow::Result<()> {
        for p in &mut self.procs {
            if let Some(how) = p.exited() {
                let last = crate::env::tail_file(&p.log, 1).unwrap_or_default();
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
    pub(super) fn wait_service(
        &mut self,
        name: &str,
        port: u16,
        until: Instant,
    ) -> anyhow::Result<()> {
        let left = until.saturating_duration_since(Instant::now());
        let what = format!("{name} on 127.0.0.1:{port}");
        let runner = self.runner.clone();
        if name.starts_with("app-") {
            let url = format!("http://127.0.0.1:{port}{}", self.cfg.app_ready_path)
                .parse()
                .context("[environment.local].app_ready_path must be a path like /api/concerts")?;
            return crate::env::wait_http_ok(&runner, &what, &url, left, self.poll, || {
                self.check_alive()
            });
        }
        let redis = name == "redis";
        runner.wait_until(&what, left, self.poll, || {
            if let Err(e) = self.check_alive() {
                return Ok(Try::GiveUp(e));
            }
            let addr = format!("127.0.0.1:{port}");
            let t = Duration::from_secs(1);
            if redis {
                crate::probe::redis_ping(&addr, t)?;
            } else {
                crate::probe::tcp(&addr, t)?;
            }
            Ok(Try::Ready(()))
        })
    }

    pub(super) fn start_app(&mut self, index: u32, port: u16) -> anyhow::Result<()> {
        let step = self.app_step(index, port)?;
        self.spawn(&step, port)
    }
}

/// Stops every process group at once: SIGTERM, up to 3 s, then SIGKILL.
/// Never gives up on an interrupt: this is the teardown.
pub(super) fn stop_all(runner: &Runner, procs: &mut Vec<Proc>) -> anyhow::Result<()> {
    let ours: Vec<usize> = (0..procs.len())
        .filter(|&i| {
            procs[i].handle.is_some() || procfs::is_running(procs[i].pid, procs[i].start_ticks)
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
                !procfs::group_members(procs[i].pid).is_empty()
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
