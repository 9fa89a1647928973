//! Background services (a local environment's redis, app replicas, nginx):
//! started in their own process group with output to their own log, stopped
//! with the whole group (SIGTERM, grace, SIGKILL) when the handle goes.

use std::{fs::File, os::unix::process::CommandExt, time::Duration};

use anyhow::Context;
use camino::Utf8Path;

use super::{
    command, kill_group, resolve_program, step::exit_outcome, terminate::terminate_group, InFlight,
    Outcome, Runner, Step,
};

impl Runner {
    /// Starts a long-running service in the background: output to `log`
    /// only, stopped (whole group) when the handle is dropped.
    pub fn spawn_service(&self, step: &Step, log: &Utf8Path) -> anyhow::Result<Service> {
        let program = resolve_program(&step.program, step.cwd.as_deref(), &step.hint)?;
        self.say(&format!("--> start {}: {}", step.name, step.display()));
        let out = File::options()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("cannot open service log {log}"))?;
        let marker = crate::procs::step_marker();
        let mut cmd = command(step, &program, &marker);
        cmd.stdout(out.try_clone()?).stderr(out);
        // A service may outlive this command (`env up`): it must not keep
        // open what we inherited, such as the lock of a `flock` around us.
        // SAFETY: only an async-signal-safe syscall between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                // Closed at exec (std's own exec-error pipe still works);
                // on kernels before 5.11 the call fails and changes nothing.
                libc::syscall(
                    libc::SYS_close_range,
                    3u32,
                    u32::MAX,
                    libc::CLOSE_RANGE_CLOEXEC,
                );
                Ok(())
            });
        }
        crate::procs::lease(None, None);
        let starting = InFlight::begin();
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {}: `{}`", step.name, step.display()))?;
        crate::procs::track(child.id());
        drop(starting);
        crate::procs::lease_group(child.id());
        Ok(Service {
            child,
            grace: step.grace,
            keep: false,
            marker,
        })
    }
}

/// A background service (local environment). Dropping it stops it.
#[derive(Debug)]
pub struct Service {
    child: std::process::Child,
    grace: Duration,
    /// Left running when dropped (an environment brought up to outlive us).
    keep: bool,
    /// Its `XTASK_STEP`: what it started outside its group is found by it.
    marker: String,
}

impl Service {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
    /// Dropping the handle no longer stops the service; `stop` still does.
    pub fn keep_running(&mut self) {
        self.keep = true;
    }
    /// `Some(outcome)` if it already exited.
    pub fn exited(&mut self) -> Option<Outcome> {
        self.child.try_wait().ok().flatten().map(exit_outcome)
    }
    /// SIGTERM to the group, then SIGKILL after the grace period; then
    /// whatever it started outside its group.
    pub fn stop(&mut self) -> Outcome {
        let outcome = self.stop_group();
        crate::procs::kill_marked(crate::procs::STEP_VAR, &self.marker);
        crate::procs::untrack(self.child.id());
        outcome
    }

    fn stop_group(&mut self) -> Outcome {
        let pgid = self.child.id() as i32;
        if let Some(o) = self.exited() {
            kill_group(pgid, libc::SIGKILL);
            return o;
        }
        let mut status = None;
        let child = &mut self.child;
        terminate_group(pgid, libc::SIGTERM, self.grace, || {
            status = child.try_wait().ok().flatten();
            status.is_some()
        });
        status
            .or_else(|| self.child.wait().ok())
            .map(exit_outcome)
            .unwrap_or(Outcome::Signaled {
                signal: libc::SIGKILL,
            })
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        if self.child.try_wait().ok().flatten().is_none() {
            self.stop();
        } else {
            kill_group(self.child.id() as i32, libc::SIGKILL);
            crate::procs::kill_marked(crate::procs::STEP_VAR, &self.marker);
            crate::procs::untrack(self.child.id());
        }
    }
}
