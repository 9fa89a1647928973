//! One prepared command (`Step`: an argument vector, never a shell string),
//! how it is shown (`quote`, secrets masked), how it ended (`Outcome`) and
//! what a report keeps of it (`StepRecord`).

use std::{os::unix::process::ExitStatusExt, time::Duration};

use anyhow::bail;
use camino::{Utf8Path, Utf8PathBuf};
use serde::Serialize;

use super::signal_name;
use crate::redact;

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
    /// Only observes (`git status`, `docker inspect`, `tool --version`):
    /// runs even in a dry run, because its answer decides the plan. Any
    /// other step is printed in a dry run, never run.
    pub read_only: bool,
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
            read_only: false,
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
    /// Marks a step that only observes: it runs in a dry run too.
    pub fn read_only(mut self) -> Step {
        self.read_only = true;
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

pub(super) fn exit_outcome(status: std::process::ExitStatus) -> Outcome {
    match (status.code(), status.signal()) {
        (Some(code), _) => Outcome::Exited { code },
        (None, Some(signal)) => Outcome::Signaled { signal },
        (None, None) => Outcome::Exited { code: -1 },
    }
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

pub fn ensure_success(rec: &StepRecord) -> anyhow::Result<()> {
    if !rec.ok() {
        bail!("step `{}` failed: {}", rec.name, rec.outcome.describe());
    }
    Ok(())
}
