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

use anyhow::Context;
use camino::{Utf8Path, Utf8PathBuf};

use crate::{github, redact};

mod effects;
pub mod lane;
mod plan;
pub mod procfs;
pub mod procs;
mod progress;
mod read;
mod service;
mod signals;
mod step;
mod terminate;

pub use plan::Plan;
pub use progress::Waiting;
pub use read::ask;
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
    /// Known here alone: the rest says what it does (`effects.rs`).
    dry_run: bool,
    verbosity: Verbosity,
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

    /// Sends every later step's output to `path` as well (appending). A
    /// dry run writes no log.
    pub fn set_log(&self, path: &Utf8Path) -> anyhow::Result<()> {
        if self.dry_run {
            return Ok(());
        }
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

    /// A line for the terminal only, unless quiet (not the log).
    pub fn info(&self, msg: &str) {
        if self.verbosity > Verbosity::Quiet {
            lane::err_line(msg);
        }
    }

    fn log_line(&self, line: &[u8]) {
        if let Some((_, f)) = self.slot().lock().unwrap().as_mut() {
            let _ = f.write_all(line);
            if !line.ends_with(b"\n") {
                let _ = f.write_all(b"\n");
            }
        }
    }

    /// Runs `step` to completion (or its deadline). A missing program is an
    /// error (`MissingTool`), and so is an interrupt (`Interrupted`, exit
    /// 128 + signal: the step's output is in the log, its group stopped);
    /// any other outcome, failure included, is returned for the caller to
    /// judge. In a dry run only a read-only step runs; any other is printed.
    pub fn run(&self, step: &Step) -> anyhow::Result<StepRecord> {
        let rec = self.run_even_if_interrupted(step)?;
        match rec.outcome {
            Outcome::Interrupted { signal } => Err(Interrupted(signal).into()),
            _ => Ok(rec),
        }
    }

    /// `run`, returning an interrupted step's record too
    /// (`Outcome::Interrupted`), for a caller whose report keeps what the
    /// step did before it was stopped (k6 writes its summary on SIGINT,
    /// Gradle its results so far). That caller ends with `check_interrupt`.
    pub fn run_even_if_interrupted(&self, step: &Step) -> anyhow::Result<StepRecord> {
        let started = Instant::now();
        let log = self.log_path().map(|p| self.relative(&p));
        let record = |outcome, duration_ms| StepRecord {
            name: step.name.clone(),
            argv: step.argv(),
            outcome,
            duration_ms,
            log: log.clone(),
        };
        if self.dry_run && !step.read_only {
            println!("[dry-run] {}", step.display());
            return Ok(record(Outcome::DryRun, 0));
        }
        if let Some(sig) = interrupted().filter(|_| !step.cleanup) {
            return Ok(record(Outcome::Interrupted { signal: sig }, 0));
        }
        let program = resolve_program(&step.program, step.cwd.as_deref(), &step.hint)?;
        // A stage's lane prints its whole output as one group when it ends.
        let _group = lane::current().is_none().then(|| github::group(&step.name));
        self.say(&format!("==> {}: {}", step.name, step.display()));

        // One pipe for stdout and stderr: the log keeps their order.
        let (reader, writer) = io::pipe().context("cannot create a pipe for a child's output")?;
        let marker = crate::procs::step_marker();
        let mut cmd = command(step, &program, &marker);
        cmd.stdout(writer.try_clone()?).stderr(writer);
        let mut child = Child::spawn(cmd, step)?;
        let (done, pumped) = std::sync::mpsc::channel::<()>();
        {
            let runner = self.clone();
            let lane = lane::current();
            std::thread::spawn(move || {
                let _in = lane::enter(lane);
                runner.pump(&mut &reader);
                let _ = done.send(());
            });
        }
        let outcome = child.supervise(step, started, |m| self.say(m))?;
        self.sweep(step, &marker, pumped);
        drop(child); // no longer in flight: orphans it left are ours to end
        let record = record(outcome, started.elapsed().as_millis() as u64);
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
        crate::files::relative(&self.root, p).to_path_buf()
    }
}

/// The child of `step`: `program` with its arguments, folder and
/// variables, our markers (`procs`), stdin closed, leading its own process
/// group (the terminal's Ctrl-C reaches only us, and we can signal the
/// child with everything it started).
fn command(step: &Step, program: &Utf8Path, marker: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new(program.as_std_path());
    cmd.args(&step.args)
        .stdin(std::process::Stdio::null())
        .process_group(0);
    if let Some(d) = &step.cwd {
        cmd.current_dir(d);
    }
    cmd.envs(step.env.iter().map(|(k, v)| (k, v)));
    cmd.envs(crate::procs::child_env(marker));
    cmd
}

/// A step's child while it runs: counted in flight (so another step ending
/// meanwhile never takes it for an orphan), its group killed if we unwind
/// (panic) before it was reaped.
struct Child {
    child: std::process::Child,
    _in_flight: InFlight,
    group: GroupGuard,
}

impl Child {
    /// Spawns `cmd` (which it drops: the parent's copies of the child's
    /// pipe ends close, so its output ends when the child's does).
    fn spawn(mut cmd: std::process::Command, step: &Step) -> anyhow::Result<Child> {
        crate::procs::lease(None, None);
        let mut in_flight = InFlight::begin();
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start `{}`", step.display()))?;
        drop(cmd);
        in_flight.track(child.id());
        let group = GroupGuard {
            pgid: child.id() as i32,
            armed: true,
        };
        Ok(Child {
            child,
            _in_flight: in_flight,
            group,
        })
    }

    /// Waits for the child, enforcing the deadline and interrupts (`say`
    /// tells why it is being stopped).
    fn supervise(
        &mut self,
        step: &Step,
        started: Instant,
        say: impl Fn(&str),
    ) -> anyhow::Result<Outcome> {
        let pgid = self.group.pgid;
        let deadline = started + step.deadline;
        let mut stop: Option<Outcome> = None;
        let mut pause = Duration::from_micros(500);
        loop {
            if let Some(status) = self.child.try_wait().context("cannot wait for child")? {
                kill_group(pgid, libc::SIGKILL); // leftovers of the group
                self.group.disarm();
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
                    say(&format!(
                        "!!! {}: {}; stopping it (SIGINT, then SIGKILL after {:?})",
                        step.name,
                        why.describe(),
                        step.grace
                    ));
                    let child = &mut self.child;
                    terminate_group(pgid, libc::SIGINT, step.grace, || {
                        matches!(child.try_wait(), Ok(Some(_)))
                    });
                }
            }
            // Quick tools finish in milliseconds: poll fast at first, then
            // settle at 20 ms (bench P1 measures this overhead).
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(20));
        }
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
