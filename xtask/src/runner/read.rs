//! Questions to tools: a short command whose answer we read instead of
//! streaming it (`git status`, `docker inspect`, `tool --version`). The
//! rules of a step hold: an argument vector, its own process group, its
//! deadline, interrupts, markers, leftovers swept.
//!
//! Dry run: a read-only step (`Step::read_only`) runs even in a dry run,
//! because its answer decides the plan; any other step read in a dry run is
//! printed, not run, and answers nothing.

use std::{
    io::Read,
    time::{Duration, Instant},
};

use anyhow::{bail, Context};

use super::{
    command, interrupted, lane, resolve_program, Child, Interrupted, Outcome, Runner, Step,
};

/// A question's answer is small: never hold more than this of either stream.
const MAX_ANSWER: u64 = 16 << 20;

/// What a tool answered.
#[derive(Debug)]
pub struct Answer {
    pub outcome: Outcome,
    /// Standard output, trailing newline removed; invalid UTF-8 replaced.
    pub stdout: String,
    /// Standard error, likewise (tools explain their failures there).
    pub stderr: String,
}

impl Answer {
    /// Exit 0 (or a dry run, where nothing ran).
    pub fn ok(&self) -> bool {
        self.outcome.success()
    }
    /// The first line of standard error, for a message saying what failed.
    pub fn first_error_line(&self) -> &str {
        self.stderr
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("")
    }
}

/// Asks a read-only question where no runner is at hand (provenance, tool
/// versions): it prints nothing and logs nothing. Interrupted: the error
/// `Interrupted`.
pub fn ask(step: &Step) -> anyhow::Result<Answer> {
    if !step.read_only {
        // A programming error: only a runner knows whether this is a dry run.
        bail!(
            "`{}` is not marked read-only: it must go through the runner",
            step.display()
        );
    }
    answer(step, &|msg| lane::log_only(msg.as_bytes()))
}

impl Runner {
    /// Runs a short command and returns its standard output (trimmed), for
    /// questions like `git rev-parse HEAD`; a failure is an error naming the
    /// command and what it said. Output is not streamed.
    pub fn read(&self, step: &Step) -> anyhow::Result<String> {
        let a = self.ask(step)?;
        if !a.ok() {
            let said = a.first_error_line();
            bail!(
                "`{}` failed: {}{}",
                step.display(),
                a.outcome.describe(),
                if said.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", crate::units::quote(&crate::redact::text(said)))
                }
            );
        }
        Ok(a.stdout)
    }

    /// `read`, keeping the output whatever the exit status (tools such as
    /// `dpkg-query` exit 1 when only some of their answers are "no").
    pub fn read_any_status(&self, step: &Step) -> anyhow::Result<String> {
        Ok(self.ask(step)?.stdout)
    }

    /// Runs a command and hands its standard output, as it arrives, to
    /// `consume` (on a thread of its own): for output too large to hold,
    /// such as `kubectl logs` of a k6 runner. A failed exit is an error. In
    /// a dry run a step that is not read-only is printed and `consume`
    /// reads nothing.
    pub fn read_with<T: Send + 'static>(
        &self,
        step: &Step,
        consume: impl FnOnce(&mut dyn Read) -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        if self.dry_run && !step.read_only {
            println!("[dry-run] {}", step.display());
            return Ok(consume(&mut std::io::empty()));
        }
        let (outcome, out, _) = answer_via(
            step,
            &|msg| self.log_quietly(msg),
            Duration::from_secs(10),
            consume,
        )?;
        if !outcome.success() {
            bail!("`{}` failed: {}", step.display(), outcome.describe());
        }
        out.with_context(|| {
            format!(
                "`{}` ended but its output was still held open; not waiting for it",
                step.display()
            )
        })
    }

    /// The whole answer; in a dry run a step that is not read-only is
    /// printed and answers nothing (`Outcome::DryRun`).
    pub fn ask(&self, step: &Step) -> anyhow::Result<Answer> {
        if self.dry_run && !step.read_only {
            println!("[dry-run] {}", step.display());
            return Ok(Answer {
                outcome: Outcome::DryRun,
                stdout: String::new(),
                stderr: String::new(),
            });
        }
        answer(step, &|msg| self.log_quietly(msg))
    }

    /// A question asked in passing prints no progress lines; why it was
    /// stopped goes to the log.
    fn log_quietly(&self, msg: &str) {
        let msg = crate::redact::text(msg);
        lane::log_only(msg.as_bytes());
        self.log_line(msg.as_bytes());
    }
}

fn answer(step: &Step, say: &dyn Fn(&str)) -> anyhow::Result<Answer> {
    let (outcome, stdout, stderr) =
        answer_via(step, say, Duration::from_secs(1), |out| read_all(out))?;
    Ok(Answer {
        outcome,
        stdout: text(stdout.unwrap_or_default()),
        stderr,
    })
}

/// Runs `step` quietly, its standard output piped to `consume` (`None`
/// when the output is still held open `linger` after the command ended),
/// its standard error collected.
fn answer_via<T: Send + 'static>(
    step: &Step,
    say: &dyn Fn(&str),
    linger: Duration,
    consume: impl FnOnce(&mut dyn Read) -> T + Send + 'static,
) -> anyhow::Result<(Outcome, Option<T>, String)> {
    if let Some(sig) = interrupted().filter(|_| !step.cleanup) {
        return Err(Interrupted(sig).into());
    }
    let program = resolve_program(&step.program, step.cwd.as_deref(), &step.hint)?;
    let started = Instant::now();
    let marker = crate::procs::step_marker();
    let mut cmd = command(step, &program, &marker);
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = Child::spawn(cmd, step)?;
    let stdout = on_thread(child.child.stdout.take(), consume);
    let stderr = on_thread(child.child.stderr.take(), read_all);
    let outcome = child.supervise(step, started, say)?;
    crate::procs::kill_marked(crate::procs::STEP_VAR, &marker);
    drop(child);
    // Whatever holds the pipes open past the step's end does not hold us.
    let stdout = stdout.recv_timeout(linger).ok();
    let stderr = text(
        stderr
            .recv_timeout(Duration::from_secs(1))
            .unwrap_or_default(),
    );
    if let Outcome::Interrupted { signal } = outcome {
        return Err(Interrupted(signal).into());
    }
    Ok((outcome, stdout, stderr))
}

/// A question's answer is small: at most `MAX_ANSWER` of it is kept.
fn read_all(out: &mut dyn Read) -> Vec<u8> {
    let mut buf = Vec::new();
    let _ = out.take(MAX_ANSWER).read_to_end(&mut buf);
    buf
}

/// Tool output as text: not always UTF-8 (replaced, never a failure), the
/// trailing newline removed.
fn text(out: Vec<u8>) -> String {
    let mut text = String::from_utf8_lossy(&out).into_owned();
    for end in ['\n', '\r'] {
        if text.ends_with(end) {
            text.pop();
        }
    }
    text
}

/// Hands `pipe` to `consume` on a thread of its own.
fn on_thread<P: Read + Send + 'static, T: Send + 'static>(
    pipe: Option<P>,
    consume: impl FnOnce(&mut dyn Read) -> T + Send + 'static,
) -> std::sync::mpsc::Receiver<T> {
    let (tx, rx) = std::sync::mpsc::channel();
    if let Some(mut pipe) = pipe {
        std::thread::spawn(move || {
            let _ = tx.send(consume(&mut pipe));
        });
    }
    rx
}
