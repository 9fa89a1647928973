//! The one process runner. Every external command goes through here as an
//! argument vector (never a shell string).
//!
//! - Output streams live to the terminal and is tee'd, line by line, to the
//!   run's log through a fixed-size buffer, so memory stays flat however much
//!   a child prints.
//! - Each child leads its own process group. On its deadline, on Ctrl-C or
//!   SIGTERM, or when a guard is dropped during a panic, the whole group gets
//!   SIGINT (k6 writes its summary on SIGINT), a grace period, then SIGKILL:
//!   grandchildren included.
//! - Each step yields a `StepRecord`: command, outcome, duration, log path.

use std::{
    fs::File,
    io::{self, IsTerminal, Read, Write},
    os::unix::process::{CommandExt, ExitStatusExt},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use camino::{Utf8Path, Utf8PathBuf};
use serde::Serialize;

use crate::{github, redact};

pub mod lane;

/// The signal that asked us to stop (0: none yet).
static INTERRUPT: AtomicUsize = AtomicUsize::new(0);

/// Routes SIGINT, SIGTERM and SIGHUP (a closed terminal) to a flag that
/// every wait loop checks, so a signal turns into an orderly stop: children
/// terminated, environment torn down, a FAIL report saying "interrupted".
pub fn install_signal_handlers() -> anyhow::Result<()> {
    for sig in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        // SAFETY: the handler only stores into a static atomic.
        unsafe {
            signal_hook::low_level::register(sig, move || {
                INTERRUPT.store(sig as usize, Ordering::SeqCst)
            })
            .context("cannot install the signal handler")?;
        }
    }
    Ok(())
}

/// The signal received, if any; inside a gate stage's lane, also the
/// stage's cancel (see `lane`).
pub fn interrupted() -> Option<i32> {
    match INTERRUPT.load(Ordering::SeqCst) {
        0 => lane::current().and_then(|l| l.cancelled()),
        s => Some(s as i32),
    }
}

/// Errors out with the exit code a shell would give (130 for SIGINT) when a
/// signal arrived; for loops that do no I/O through the runner.
pub fn check_interrupt() -> anyhow::Result<()> {
    match interrupted() {
        Some(sig) => Err(Interrupted(sig).into()),
        None => Ok(()),
    }
}

#[derive(Debug)]
pub struct Interrupted(pub i32);

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "interrupted by {}", signal_name(self.0))
    }
}
impl std::error::Error for Interrupted {}

/// A required program is not installed. `main` turns this into exit 127.
#[derive(Debug)]
pub struct MissingTool {
    pub tool: String,
    pub hint: String,
}

impl std::fmt::Display for MissingTool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` not found on PATH: {}", self.tool, self.hint)
    }
}
impl std::error::Error for MissingTool {}

pub fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGKILL => "SIGKILL",
        libc::SIGHUP => "SIGHUP",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGPIPE => "SIGPIPE",
        _ => "a signal",
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

/// One prepared command.
#[derive(Clone, Debug)]
pub struct Step {
    pub name: String,
    pub program: String,
    pub args: Vec<String>,
    pub cwd: Option<Utf8PathBuf>,
    pub env: Vec<(String, String)>,
    pub deadline: Duration,
    /// Between SIGINT and SIGKILL.
    pub grace: Duration,
    /// How to get `program` when it is missing.
    pub hint: String,
    /// Teardown: runs even after an interrupt, bounded by its deadline only.
    pub cleanup: bool,
}

impl Step {
    pub fn new(name: impl Into<String>, program: impl Into<String>) -> Step {
        Step {
            name: name.into(),
            program: program.into(),
            args: Vec::new(),
            cwd: None,
            env: Vec::new(),
            deadline: Duration::from_secs(600),
            grace: Duration::from_secs(5),
            hint: String::new(),
            cleanup: false,
        }
    }
    pub fn arg(mut self, a: impl Into<String>) -> Step {
        self.args.push(a.into());
        self
    }
    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, a: I) -> Step {
        self.args.extend(a.into_iter().map(Into::into));
        self
    }
    pub fn cwd(mut self, dir: impl Into<Utf8PathBuf>) -> Step {
        self.cwd = Some(dir.into());
        self
    }
    pub fn env(mut self, k: impl Into<String>, v: impl Into<String>) -> Step {
        self.env.push((k.into(), v.into()));
        self
    }
    pub fn envs<I: IntoIterator<Item = (String, String)>>(mut self, kv: I) -> Step {
        self.env.extend(kv);
        self
    }
    pub fn deadline(mut self, d: Duration) -> Step {
        self.deadline = d;
        self
    }
    pub fn grace(mut self, d: Duration) -> Step {
        self.grace = d;
        self
    }
    pub fn hint(mut self, h: impl Into<String>) -> Step {
        self.hint = h.into();
        self
    }
    /// Marks a teardown step: an interrupt must not stop the cleanup itself.
    pub fn cleanup(mut self) -> Step {
        self.cleanup = true;
        self
    }

    /// Fails with `MissingTool` (exit 127) when the program is not there:
    /// checked before a suite starts, so a missing tool writes no report.
    pub fn require(&self) -> anyhow::Result<()> {
        resolve_program(&self.program, self.cwd.as_deref(), &self.hint).map(drop)
    }

    /// The command as a person would type it (quoted, secrets masked).
    pub fn display(&self) -> String {
        let mut parts = Vec::new();
        if let Some(d) = &self.cwd {
            parts.push(format!("(cd {})", quote(d.as_str())));
        }
        for (k, v) in &self.env {
            parts.push(format!("{k}={}", quote(&redact::param(k, v))));
        }
        parts.push(quote(&self.program));
        parts.extend(self.args.iter().map(|a| quote(&redact::text(a))));
        parts.join(" ")
    }

    pub fn argv(&self) -> Vec<String> {
        std::iter::once(self.program.clone())
            .chain(self.args.iter().map(|a| redact::text(a)))
            .collect()
    }
}

/// POSIX-shell quoting, for display only: commands are never run through a shell.
pub fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=,@%+".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    Exited {
        code: i32,
    },
    Signaled {
        signal: i32,
    },
    TimedOut {
        after_ms: u64,
    },
    Interrupted {
        signal: i32,
    },
    /// `--dry-run`: printed, not run.
    DryRun,
}

impl Outcome {
    pub fn success(&self) -> bool {
        matches!(self, Outcome::Exited { code: 0 } | Outcome::DryRun)
    }
    /// The exit code a shell would report for this outcome.
    pub fn exit_code(&self) -> i32 {
        match self {
            Outcome::Exited { code } => *code,
            Outcome::Signaled { signal } | Outcome::Interrupted { signal } => 128 + signal,
            Outcome::TimedOut { .. } => 124,
            Outcome::DryRun => 0,
        }
    }
    pub fn describe(&self) -> String {
        match self {
            Outcome::Exited { code } => format!("exit {code}"),
            Outcome::Signaled { signal } => format!("killed by {}", signal_name(*signal)),
            Outcome::TimedOut { after_ms } => {
                format!(
                    "timed out after {}",
                    crate::units::Duration::millis(*after_ms)
                )
            }
            Outcome::Interrupted { signal } => format!("interrupted ({})", signal_name(*signal)),
            Outcome::DryRun => "dry run".into(),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct StepRecord {
    pub name: String,
    pub argv: Vec<String>,
    pub outcome: Outcome,
    pub duration_ms: u64,
    /// Repo-relative path of the log the output went to.
    pub log: Option<Utf8PathBuf>,
}

impl StepRecord {
    pub fn ok(&self) -> bool {
        self.outcome.success()
    }
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
            // A question's answer is small: never hold more than 16 MiB.
            let mut out = Vec::new();
            let _ = (&mut stdout).take(16 << 20).read_to_end(&mut out);
            let _ = tx.send(out);
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
        let out = rx.recv_timeout(Duration::from_secs(1)).unwrap_or_default();
        match outcome {
            Outcome::Interrupted { signal } => return Err(Interrupted(signal).into()),
            Outcome::Exited { code: 0 } => {}
            o if check => bail!("`{}` failed: {}", step.display(), o.describe()),
            _ => {}
        }
        // Logs and tool output are not always UTF-8: replace, never fail.
        let mut text = String::from_utf8_lossy(&out).into_owned();
        for end in ['\n', '\r'] {
            if text.ends_with(end) {
                text.pop();
            }
        }
        Ok(text)
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
                    terminate_group(pgid, step.grace, || matches!(try_wait(()), Ok(Some(_))));
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
        let mut cmd = std::process::Command::new(program.as_std_path());
        cmd.args(&step.args)
            .stdin(std::process::Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .process_group(0);
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
        if let Some(d) = &step.cwd {
            cmd.current_dir(d);
        }
        for (k, v) in &step.env {
            cmd.env(k, v);
        }
        let marker = crate::procs::step_marker();
        cmd.envs(crate::procs::child_env(&marker));
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
        kill_group(pgid, libc::SIGTERM);
        let until = Instant::now() + self.grace;
        while Instant::now() < until {
            if let Ok(Some(st)) = self.child.try_wait() {
                kill_group(pgid, libc::SIGKILL);
                return exit_outcome(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        kill_group(pgid, libc::SIGKILL);
        self.child
            .wait()
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

/// Kills the group if the supervising code unwinds (panic) before the child
/// was reaped.
struct GroupGuard {
    pgid: i32,
    armed: bool,
}

impl GroupGuard {
    fn disarm_after_sweep(mut self) {
        self.armed = false;
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if self.armed {
            kill_group(self.pgid, libc::SIGKILL);
        }
    }
}

fn exit_outcome(status: std::process::ExitStatus) -> Outcome {
    match (status.code(), status.signal()) {
        (Some(code), _) => Outcome::Exited { code },
        (None, Some(signal)) => Outcome::Signaled { signal },
        (None, None) => Outcome::Exited { code: -1 },
    }
}

pub fn kill_group(pgid: i32, sig: i32) {
    if pgid > 1 {
        // SAFETY: plain syscall; ESRCH (group gone) is fine.
        unsafe {
            libc::killpg(pgid, sig);
        }
    }
}

/// SIGINT, then up to `grace` for the leader to exit, then SIGKILL.
fn terminate_group(pgid: i32, grace: Duration, mut exited: impl FnMut() -> bool) {
    kill_group(pgid, libc::SIGINT);
    let until = Instant::now() + grace;
    while Instant::now() < until {
        if exited() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    kill_group(pgid, libc::SIGKILL);
}

/// Finds a program: a path (relative to `cwd`) or a name on PATH.
pub fn resolve_program(
    program: &str,
    cwd: Option<&Utf8Path>,
    hint: &str,
) -> anyhow::Result<Utf8PathBuf> {
    let missing = || MissingTool {
        tool: program.to_string(),
        hint: if hint.is_empty() {
            "install it, or run `cargo xtask setup`".into()
        } else {
            hint.to_string()
        },
    };
    if program.contains('/') {
        let p = Utf8Path::new(program);
        let p = match cwd {
            Some(d) if p.is_relative() => d.join(p),
            _ => p.to_path_buf(),
        };
        if p.is_file() {
            return Ok(p);
        }
        return Err(missing().into());
    }
    match which::which(program) {
        Ok(p) => Utf8PathBuf::from_path_buf(p)
            .map_err(|p| anyhow::anyhow!("non-UTF-8 path to {program}: {}", p.display())),
        Err(_) => Err(missing().into()),
    }
}

/// Shows that we are waiting for something: a live line on a terminal,
/// a plain line every 10 s otherwise (CI logs).
pub struct Waiting {
    what: String,
    started: Instant,
    deadline: Duration,
    tty: bool,
    last_print: Option<Instant>,
    quiet: bool,
}

impl Waiting {
    pub fn new(what: impl Into<String>, deadline: Duration, verbosity: Verbosity) -> Waiting {
        // In a gate stage's lane the stage's progress line shows the wait.
        let tty = match lane::current() {
            Some(_) => lane::live_progress(),
            None => io::stderr().is_terminal(),
        };
        Waiting {
            what: what.into(),
            started: Instant::now(),
            deadline,
            tty,
            last_print: None,
            quiet: verbosity == Verbosity::Quiet,
        }
    }
    pub fn expired(&self) -> bool {
        self.started.elapsed() >= self.deadline
    }
    pub fn tick(&mut self) {
        if self.quiet {
            return;
        }
        let now = Instant::now();
        let every = if self.tty {
            Duration::from_millis(200)
        } else {
            Duration::from_secs(10)
        };
        if self.last_print.is_some_and(|t| now - t < every) {
            return;
        }
        if !self.tty && self.last_print.is_none() && self.started.elapsed() < Duration::from_secs(1)
        {
            // Don't print for waits that end at once.
            return;
        }
        self.last_print = Some(now);
        let line = format!(
            "waiting for {}: {:.1}s of {}s",
            self.what,
            self.started.elapsed().as_secs_f64(),
            self.deadline.as_secs()
        );
        match (lane::current(), self.tty) {
            (Some(l), true) => l.set_status(&line),
            (Some(_), false) => lane::err_line(&line),
            (None, true) => eprint!("\r\x1b[2K{line}"),
            (None, false) => eprintln!("{line}"),
        }
    }
    pub fn done(&mut self) {
        if self.tty && self.last_print.is_some() && !self.quiet && lane::current().is_none() {
            eprint!("\r\x1b[2K");
        }
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.done();
    }
}

/// Sleeps in small slices so that a signal is noticed at once.
pub fn sleep(d: Duration) -> anyhow::Result<()> {
    let until = Instant::now() + d;
    while Instant::now() < until {
        check_interrupt()?;
        std::thread::sleep((until - Instant::now()).min(Duration::from_millis(20)));
    }
    check_interrupt()
}

pub fn ensure_success(rec: &StepRecord) -> anyhow::Result<()> {
    if !rec.ok() {
        bail!("step `{}` failed: {}", rec.name, rec.outcome.describe());
    }
    Ok(())
}

#[cfg(test)]
mod tests;
