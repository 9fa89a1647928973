//! The one process runner. Every external command goes through here as an
//! argument vector (never a shell string).
//!
//! - Output streams live to the terminal and is tee'd, line by line, to the
//!   run's log through a fixed-size buffer, so memory stays flat however much
//!   a child prints.
//! - Each child leads its own process group. On its deadline, on Ctrl-C or
//!   SIGTERM, or when a guard is dropped during a panic, the whole group gets
//!   SIGINT (k6 writes its summary on SIGINT), a grace period, then SIGKILL:
//!   grandchildren included (`terminate`).
//! - Each step yields a `StepRecord`: command, outcome, duration, log path
//!   (`step`).
//!
//! The rest of the layer: `signals` (what asked us to stop), `service`
//! (background processes of a local environment), `progress` (waiting
//! lines), `lane` (a gate stage's view of all of it).

use std::{
    fs::File,
    io::{self, Read, Write},
    os::unix::process::CommandExt,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use camino::{Utf8Path, Utf8PathBuf};

use crate::{github, redact};

pub mod lane;
mod progress;
mod service;
mod signals;
mod step;
mod terminate;

pub use progress::Waiting;
pub use service::Service;
pub use signals::{
    check_interrupt, install_signal_handlers, interrupted, signal_name, sleep, Interrupted,
};
pub use step::{ensure_success, resolve_program, MissingTool, Outcome, Step, StepRecord};
pub use terminate::kill_group;

use step::exit_outcome;
use terminate::{terminate_group, GroupGuard};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

/// Runs steps. Cheap to clone; shared by every command of one invocation.
#[derive(Clone, Debug)]
pub struct Runner {
    pub dry_run: bool,
    pub verbosity: Verbosity,
    /// The run's log: every step appends its output here.
    log: Arc<Mutex<Option<(Utf8PathBuf, File)>>>,
    /// Repo root, to show log paths repo-relative.
    root: Utf8PathBuf,
}

impl Runner {
    pub fn new(root: Utf8PathBuf, dry_run: bool, verbosity: Verbosity) -> Runner {
        Runner {
            dry_run,
            verbosity,
            log: Arc::new(Mutex::new(None)),
            root,
        }
    }

    /// The log slot of this thread: its lane's when it runs in one, so that
    /// stages at once each keep their own suite log.
    fn slot(&self) -> lane::LogSlot {
        match lane::current() {
            Some(l) => Arc::clone(&l.log),
            None => Arc::clone(&self.log),
        }
    }

    /// Sends every later step's output to `path` as well (appending).
    pub fn set_log(&self, path: &Utf8Path) -> anyhow::Result<()> {
        if let Some(l) = lane::current().filter(|l| l.log_path() == path) {
            // Back to the stage's own log, which every line reaches anyway.
            *l.log.lock().unwrap() = None;
            return Ok(());
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create log folder {dir}"))?;
        }
        let f = File::options()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open log file {path}"))?;
        *self.slot().lock().unwrap() = Some((path.to_owned(), f));
        Ok(())
    }

    pub fn log_path(&self) -> Option<Utf8PathBuf> {
        let own = self.slot().lock().unwrap().as_ref().map(|(p, _)| p.clone());
        own.or_else(|| lane::current().map(|l| l.log_path().to_owned()))
    }

    /// Writes a line of our own to the log (and the terminal unless quiet).
    pub fn say(&self, msg: &str) {
        let msg = redact::text(msg);
        if self.verbosity > Verbosity::Quiet {
            lane::err_line(&msg);
        } else {
            lane::log_only(msg.as_bytes());
        }
        self.log_line(msg.as_bytes());
    }

    fn log_line(&self, line: &[u8]) {
        if let Some((_, f)) = self.slot().lock().unwrap().as_mut() {
            let _ = f.write_all(line);
            if !line.ends_with(b"\n") {
                let _ = f.write_all(b"\n");
            }
        }
    }

    /// Runs `step` to completion (or its deadline, or an interrupt).
    /// A missing program is an error (`MissingTool`); any other outcome,
    /// failure included, is returned for the caller to judge.
    pub fn run(&self, step: &Step) -> anyhow::Result<StepRecord> {
        let started = Instant::now();
        let log = self.log_path().map(|p| self.relative(&p));
        if self.dry_run {
            println!("[dry-run] {}", step.display());
            return Ok(StepRecord {
                name: step.name.clone(),
                argv: step.argv(),
                outcome: Outcome::DryRun,
                duration_ms: 0,
                log,
            });
        }
        if let Some(sig) = interrupted().filter(|_| !step.cleanup) {
            return Ok(StepRecord {
                name: step.name.clone(),
                argv: step.argv(),
                outcome: Outcome::Interrupted { signal: sig },
                duration_ms: 0,
                log,
            });
        }
        let program = resolve_program(&step.program, step.cwd.as_deref(), &step.hint)?;
        // A stage's lane prints its whole output as one group when it ends.
        let _group = lane::current().is_none().then(|| github::group(&step.name));
        self.say(&format!("==> {}: {}", step.name, step.display()));

        let mut expr = duct::cmd(program.as_std_path(), &step.args)
            .stdin_null()
            .stderr_to_stdout()
            .unchecked()
            .before_spawn(|cmd| {
                // Own process group: the terminal's Ctrl-C reaches only us, and
                // we can signal the child with everything it started.
                cmd.process_group(0);
                Ok(())
            });
        if let Some(dir) = &step.cwd {
            expr = expr.dir(dir.as_std_path());
        }
        for (k, v) in &step.env {
            expr = expr.env(k, v);
        }
        let marker = crate::procs::step_marker();
        for (k, v) in crate::procs::child_env(&marker) {
            expr = expr.env(k, v);
        }
        crate::procs::lease(None, None);
        let mut in_flight = InFlight::begin();
        let handle = Arc::new(
            expr.reader()
                .with_context(|| format!("cannot start `{}`", step.display()))?,
        );
        let pgid = handle.pids()[0] as i32;
        let guard = GroupGuard { pgid, armed: true };
        in_flight.track(pgid as u32);

        let (done, pumped) = std::sync::mpsc::channel::<()>();
        {
            let handle = Arc::clone(&handle);
            let runner = self.clone();
            let lane = lane::current();
            std::thread::spawn(move || {
                let _in = lane::enter(lane);
                runner.pump(&mut &*handle);
                let _ = done.send(());
            });
        }

        let outcome = self.supervise(step, pgid, started, |_| {
            handle.try_wait().map(|o| o.map(|o| o.status))
        })?;
        guard.disarm_after_sweep();
        self.sweep(step, &marker, pumped);
        let record = StepRecord {
            name: step.name.clone(),
            argv: step.argv(),
            outcome,
            duration_ms: started.elapsed().as_millis() as u64,
            log,
        };
        self.say(&format!(
            "<== {}: {} in {}",
            step.name,
            record.outcome.describe(),
            crate::units::Duration::millis(record.duration_ms)
        ));
        Ok(record)
    }

    /// After a step: kills whatever it started that is still there (a
    /// daemon in its own session, out of reach of the group), then waits a
    /// moment for the rest of its output. A process we cannot find that
    /// holds the output open does not hold us past the step's end.
    fn sweep(&self, step: &Step, marker: &str, pumped: std::sync::mpsc::Receiver<()>) {
        let killed = crate::procs::kill_marked(crate::procs::STEP_VAR, marker);
        if killed > 0 {
            self.say(&format!(
                "!!! {}: killed {killed} process(es) it left running",
                step.name
            ));
        }
        if pumped.recv_timeout(Duration::from_secs(1)).is_err() {
            self.say(&format!(
                "!!! {}: its output is still held open by a process outside its group; not waiting for it",
                step.name
            ));
        }
    }

    /// Runs a short command and returns its standard output (trimmed), for
    /// questions like `git rev-parse HEAD`. Output is not streamed.
    pub fn read(&self, step: &Step) -> anyhow::Result<String> {
        self.read_output(step, true)
    }

    /// `read`, keeping the output whatever the exit status (tools such as
    /// `dpkg-query` exit 1 when only some of their answers are "no").
    pub fn read_any_status(&self, step: &Step) -> anyhow::Result<String> {
        self.read_output(step, false)
    }

    fn read_output(&self, step: &Step, check: bool) -> anyhow::Result<String> {
        // A question's answer is small: never hold more than 16 MiB.
        let read_all = |out: &mut dyn Read| {
            let mut buf = Vec::new();
            let _ = out.take(16 << 20).read_to_end(&mut buf);
            buf
        };
        let out = self
            .read_via(step, check, Duration::from_secs(1), read_all)?
            .unwrap_or_default();
        // Logs and tool output are not always UTF-8: replace, never fail.
        let mut text = String::from_utf8_lossy(&out).into_owned();
        for end in ['\n', '\r'] {
            if text.ends_with(end) {
                text.pop();
            }
        }
        Ok(text)
    }

    /// Runs a command and hands its standard output, as it arrives, to
    /// `consume` (on a thread of its own): for output too large to hold,
    /// such as `kubectl logs` of a k6 runner. A failed exit is an error.
    pub fn read_with<T: Send + 'static>(
        &self,
        step: &Step,
        consume: impl FnOnce(&mut dyn Read) -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        self.read_via(step, true, Duration::from_secs(10), consume)?
            .with_context(|| {
                format!(
                    "`{}` ended but its output was still held open; not waiting for it",
                    step.display()
                )
            })
    }

    /// Quiet, output piped to `consume`; `None` when the output is still
    /// held open `linger` after the command ended.
    fn read_via<T: Send + 'static>(
        &self,
        step: &Step,
        check: bool,
        linger: Duration,
        consume: impl FnOnce(&mut dyn Read) -> T + Send + 'static,
    ) -> anyhow::Result<Option<T>> {
        if let Some(sig) = interrupted().filter(|_| !step.cleanup) {
            return Err(Interrupted(sig).into());
        }
        let program = resolve_program(&step.program, step.cwd.as_deref(), &step.hint)?;
        let started = Instant::now();
        let mut cmd = std::process::Command::new(program.as_std_path());
        cmd.args(&step.args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .process_group(0);
        if let Some(d) = &step.cwd {
            cmd.current_dir(d);
        }
        cmd.envs(step.env.iter().map(|(k, v)| (k, v)));
        let marker = crate::procs::step_marker();
        cmd.envs(crate::procs::child_env(&marker));
        crate::procs::lease(None, None);
        let mut in_flight = InFlight::begin();
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot start `{}`", step.display()))?;
        let pgid = child.id() as i32;
        let guard = GroupGuard { pgid, armed: true };
        in_flight.track(pgid as u32);
        let mut stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(consume(&mut stdout));
        });
        // Quiet: a question asked in passing prints no progress lines.
        let quiet = Runner {
            verbosity: Verbosity::Quiet,
            log: Arc::new(Mutex::new(None)),
            ..self.clone()
        };
        let outcome = quiet.supervise(step, pgid, started, |_| child.try_wait())?;
        guard.disarm_after_sweep();
        crate::procs::kill_marked(crate::procs::STEP_VAR, &marker);
        let out = rx.recv_timeout(linger).ok();
        match outcome {
            Outcome::Interrupted { signal } => return Err(Interrupted(signal).into()),
            Outcome::Exited { code: 0 } => {}
            o if check => bail!("`{}` failed: {}", step.display(), o.describe()),
            _ => {}
        }
        Ok(out)
    }

    /// Waits for the child, enforcing the deadline and interrupts.
    fn supervise(
        &self,
        step: &Step,
        pgid: i32,
        started: Instant,
        mut try_wait: impl FnMut(()) -> io::Result<Option<std::process::ExitStatus>>,
    ) -> anyhow::Result<Outcome> {
        let deadline = started + step.deadline;
        let mut stop: Option<Outcome> = None;
        let mut pause = Duration::from_micros(500);
        loop {
            if let Some(status) = try_wait(()).context("cannot wait for child")? {
                kill_group(pgid, libc::SIGKILL); // leftovers of the group
                return Ok(stop.unwrap_or_else(|| exit_outcome(status)));
            }
            if stop.is_none() {
                if let Some(sig) = interrupted().filter(|_| !step.cleanup) {
                    stop = Some(Outcome::Interrupted { signal: sig });
                } else if Instant::now() >= deadline {
                    stop = Some(Outcome::TimedOut {
                        after_ms: step.deadline.as_millis() as u64,
                    });
                }
                if let Some(why) = &stop {
                    self.say(&format!(
                        "!!! {}: {}; stopping it (SIGINT, then SIGKILL after {:?})",
                        step.name,
                        why.describe(),
                        step.grace
                    ));
                    terminate_group(pgid, libc::SIGINT, step.grace, || {
                        matches!(try_wait(()), Ok(Some(_)))
                    });
                }
            }
            // Quick tools finish in milliseconds: poll fast at first, then
            // settle at 20 ms (bench P1 measures this overhead).
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }

    /// Copies the child's output to the terminal and the log, line by line,
    /// through a fixed buffer (an endless line is cut into 64 KiB pieces).
    fn pump(&self, src: &mut impl Read) {
        let show = self.verbosity > Verbosity::Quiet;
        pump_lines(src, |line| {
            // Inside a gate lane the lane prints it (with its prefix).
            if !show {
                // Quiet prints nothing; a gate stage's own log keeps it all.
                lane::log_only(line);
            } else if !lane::out_line(line) {
                crate::out::write_bytes(crate::out::Stream::Out, line);
                if !line.ends_with(b"\n") {
                    crate::out::write_bytes(crate::out::Stream::Out, b"\n");
                }
            }
            self.log_line(line);
        });
    }

    pub fn relative(&self, p: &Utf8Path) -> Utf8PathBuf {
        p.strip_prefix(&self.root)
            .map(Utf8Path::to_path_buf)
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

/// An endless line is cut into pieces of at most this size.
const MAX_LINE: usize = 64 * 1024;

/// Splits `src` into lines, masked, for `emit`. A line longer than
/// `MAX_LINE` is cut into pieces; each cut keeps the last bytes back (as
/// many as the longest secret) for the next piece, after masking the whole
/// buffer, so a secret across a cut is seen whole and never shows in halves.
fn pump_lines(src: &mut impl Read, mut emit: impl FnMut(&[u8])) {
    let mut buf = [0u8; 16 * 1024];
    let mut line: Vec<u8> = Vec::with_capacity(MAX_LINE);
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let mut chunk = &buf[..n];
        while let Some(i) = chunk.iter().position(|&b| b == b'\n') {
            line.extend_from_slice(&chunk[..=i]);
            emit(&redact::bytes(&line));
            line.clear();
            chunk = &chunk[i + 1..];
        }
        line.extend_from_slice(chunk);
        while line.len() >= MAX_LINE {
            let masked = redact::bytes(&line).into_owned();
            // A secret starting before `cut` ends inside the buffer, so it
            // is masked already; one starting after it waits for more bytes.
            let keep = (redact::longest() + 1).min(MAX_LINE / 2);
            let cut = masked.len().min(MAX_LINE).saturating_sub(keep);
            if cut > 0 {
                emit(&masked[..cut]);
            }
            line = masked[cut..].to_vec();
        }
    }
    if !line.is_empty() {
        emit(&redact::bytes(&line));
    }
}

/// A step in flight: counted from before its child is spawned (so another
/// step ending meanwhile never takes it for an orphan), its child ours to
/// wait for while it runs; when it ends, orphans it left are found
/// (procs.rs).
struct InFlight(Option<u32>);

impl InFlight {
    fn begin() -> InFlight {
        crate::procs::step_begins();
        InFlight(None)
    }
    fn track(&mut self, pid: u32) {
        crate::procs::track(pid);
        self.0 = Some(pid);
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            crate::procs::untrack(pid);
        }
        crate::procs::step_ends();
    }
}

#[cfg(test)]
mod tests;
