//! `cargo xtask gate status`: may frontend work start?
//!
//! The team's rule (legacy-behavior §8), checked instead of read by a person:
//! every required suite's latest report is PASS and was produced from the
//! current HEAD on a clean tree (else STALE, naming the commit it came
//! from), and every configured file condition holds.

use anyhow::Context;
use serde::Serialize;

use crate::{
    config::FileCondition,
    context::{Ctx, Exit},
    flags,
    git::GitInfo,
    report::{self, Verdict},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum State {
    Ok,
    Fail,
    Stale,
    Missing,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            State::Ok => "OK",
            State::Fail => "FAIL",
            State::Stale => "STALE",
            State::Missing => "MISSING",
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub condition: String,
    pub state: State,
    pub reason: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Status {
    pub ready: bool,
    pub head: Option<String>,
    pub rows: Vec<Row>,
}

impl flags::GateStatus {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        let status = evaluate(ctx)?;
        if self.json {
            println!("{}", serde_json::to_string_pretty(&status)?);
        } else {
            print!("{}", render(&status));
        }
        Ok(if status.ready { Exit::OK } else { Exit::FAIL })
    }
}

pub fn evaluate(ctx: &Ctx) -> anyhow::Result<Status> {
    let head = GitInfo::read(&ctx.root);
    let mut rows: Vec<Row> = ctx
        .config
        .gate
        .required
        .iter()
        .map(|suite| suite_row(ctx, suite, &head))
        .collect();
    for cond in &ctx.config.gate.conditions {
        rows.push(file_row(ctx, cond)?);
    }
    let ready = rows.iter().all(|r| r.state == State::Ok);
    Ok(Status {
        ready,
        head: head.commit,
        rows,
    })
}

fn suite_row(ctx: &Ctx, suite: &str, head: &GitInfo) -> Row {
    let condition = format!("{suite} report");
    let row = |state, reason: String| Row {
        condition: condition.clone(),
        state,
        reason,
    };
    let report = match report::load_latest(&ctx.layout, suite) {
        Ok(r) => r,
        Err(_) => {
            return row(
                State::Missing,
                format!("no report yet: run `cargo xtask {}`", suite_command(suite)),
            );
        }
    };
    let short = |c: &Option<String>| {
        c.as_deref()
            .map(|c| c[..c.len().min(12)].to_string())
            .unwrap_or_else(|| "an unknown commit".into())
    };
    if report.result == Verdict::Fail {
        let why = report.notes.first().cloned().unwrap_or_default();
        return row(
            State::Fail,
            format!(
                "FAIL at {} ({}): {why}",
                report.ended,
                short(&report.git.commit)
            ),
        );
    }
    if head.commit.is_some() && report.git.commit != head.commit {
        return row(
            State::Stale,
            format!(
                "PASS from {}, not from HEAD {}",
                short(&report.git.commit),
                short(&head.commit)
            ),
        );
    }
    if report.git.dirty != Some(false) {
        return row(
            State::Stale,
            format!(
                "PASS from {} with uncommitted changes",
                short(&report.git.commit)
            ),
        );
    }
    row(State::Ok, format!("PASS at {} from HEAD", report.ended))
}

/// The command that produces a suite's report, for the hint.
fn suite_command(suite: &str) -> &'static str {
    match suite {
        "runtime-integration" => "integration",
        "release-gate" => "release-gate",
        "k6" => "k6 run",
        "k6-baseline" => "k6 baseline",
        "k6-distributed" => "k6 distributed",
        "runtime-health-check" => "ops health",
        "runtime-monitor-snapshot" => "ops monitor",
        _ => "gate",
    }
}

fn file_row(ctx: &Ctx, cond: &FileCondition) -> anyhow::Result<Row> {
    let path = ctx.path(&cond.path);
    let row = |state, reason: String| Row {
        condition: cond.name.clone(),
        state,
        reason,
    };
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(row(State::Missing, format!("{} does not exist", cond.path)));
    };
    if let Some(pattern) = &cond.pattern {
        let re = regex_lite::Regex::new(pattern)
            .with_context(|| format!("gate condition `{}`: bad pattern `{pattern}`", cond.name))?;
        if !re.is_match(&text) {
            return Ok(row(
                State::Fail,
                format!("{} does not match `{pattern}`", cond.path),
            ));
        }
    }
    if let Some(after) = &cond.changed_after {
        let sh = xshell::Shell::new()?;
        sh.change_dir(&ctx.root);
        let date = sh
            .cmd("git")
            .args(["log", "-1", "--format=%cs", "--"])
            .arg(cond.path.as_str())
            .quiet()
            .ignore_stderr()
            .read()
            .unwrap_or_default();
        // YYYY-MM-DD compares correctly as text.
        if date.is_empty() {
            return Ok(row(
                State::Fail,
                format!(
                    "{} has no commit yet (needs one on or after {after})",
                    cond.path
                ),
            ));
        }
        if date.as_str() < after.as_str() {
            return Ok(row(
                State::Stale,
                format!("{} last changed {date}, before {after}", cond.path),
            ));
        }
    }
    Ok(row(State::Ok, format!("{} holds", cond.path)))
}

pub fn render(s: &Status) -> String {
    let mut out = String::new();
    let w = s
        .rows
        .iter()
        .map(|r| r.condition.len())
        .max()
        .unwrap_or(9)
        .max(9);
    out.push_str(&format!("{:<w$}  {:<7}  reason\n", "condition", "status"));
    for r in &s.rows {
        out.push_str(&format!(
            "{:<w$}  {:<7}  {}\n",
            r.condition,
            r.state.as_str(),
            r.reason
        ));
    }
    out.push_str(if s.ready {
        "frontend gate: READY (every condition holds)\n"
    } else {
        "frontend gate: NOT READY\n"
    });
    out
}
