//! `cargo xtask gate status`: may frontend work start?
//!
//! The team's rule (legacy-behavior §8), checked instead of read by a person:
//! every required suite's latest report is PASS and was produced from the
//! current HEAD on a clean tree (else STALE, naming the commit it came
//! from), and every configured file condition holds.

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::{
    config::FileCondition,
    context::{Ctx, Exit},
    flags,
    git::GitInfo,
    report::{self, Verdict},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum State {
    Ok,
    Fail,
    Stale,
    Missing,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Ok => "OK",
            State::Fail => "FAIL",
            State::Stale => "STALE",
            State::Missing => "MISSING",
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row {
    pub condition: String,
    pub state: State,
    pub reason: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Status {
    pub ready: bool,
    pub head: Option<String>,
    pub rows: Vec<Row>,
}

impl flags::GateStatus {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        if self.remote {
            return crate::cmd::gate_publish::remote(ctx, &self.github, self.json);
        }
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
    let head = GitInfo::read_checked(&ctx.root);
    let mut rows: Vec<Row> = ctx
        .config
        .gate
        .required
        .iter()
        .map(|suite| suite_row(ctx, suite, &head))
        .collect();
    let docs = DocsRoot::resolve(
        ctx,
        std::env::var("XTASK_DOCS_ROOT")
            .ok()
            .filter(|s| !s.is_empty()),
    );
    let (in_docs, others): (Vec<&FileCondition>, Vec<&FileCondition>) = ctx
        .config
        .gate
        .conditions
        .iter()
        .partition(|c| c.path.as_str().starts_with(DOCS_PREFIX));
    if !in_docs.is_empty() {
        if let Some(row) = docs.missing_row(&in_docs) {
            // One plain row, not one "does not exist" per file.
            rows.push(row);
        } else {
            for cond in in_docs {
                rows.push(file_row(ctx, cond, &docs)?);
            }
        }
    }
    for cond in others {
        rows.push(file_row(ctx, cond, &docs)?);
    }
    let ready = rows.iter().all(|r| r.state == State::Ok);
    Ok(Status {
        ready,
        head: head.ok().and_then(|h| h.commit),
        rows,
    })
}

fn suite_row(ctx: &Ctx, suite: &str, head: &Result<GitInfo, String>) -> Row {
    let condition = format!("{suite} report");
    let row = |state, reason: String| Row {
        condition: condition.clone(),
        state,
        reason,
    };
    let report = match report::load_latest(&ctx.layout, suite) {
        Ok(r) => r,
        Err(e) if crate::files::is_not_found(&e) => {
            return row(
                State::Missing,
                format!("no report yet: run `cargo xtask {}`", suite_command(suite)),
            );
        }
        // A latest report that cannot be read is not "no report": it is
        // broken (or forged), and says so.
        Err(e) => {
            return row(
                State::Fail,
                format!(
                    "the latest report is corrupt ({e:#}): run `cargo xtask {}` again",
                    suite_command(suite)
                ),
            );
        }
    };
    let short = |c: &Option<String>| {
        c.as_deref()
            .map(crate::git::short)
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
    // Unknown provenance is never fresh: git that cannot run, a HEAD
    // without a commit, a report without one.
    let head = match head {
        Ok(h) if h.commit.is_some() => h,
        Ok(_) => {
            return row(
                State::Stale,
                "PASS, but HEAD has no commit (not a git checkout?): a report is fresh only from a known HEAD".into(),
            )
        }
        Err(why) => {
            return row(
                State::Stale,
                format!("PASS, but HEAD is unknown: {why}; a report is fresh only from a known HEAD"),
            )
        }
    };
    if report.git.commit.is_none() {
        return row(
            State::Stale,
            "PASS from an unknown commit (git could not say when it ran)".into(),
        );
    }
    if report.git.commit != head.commit {
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
    if let Some(stale) = report.environment.as_ref().and_then(|e| stale_env(e, head)) {
        return row(State::Stale, stale);
    }
    row(State::Ok, format!("PASS at {} from HEAD", report.ended))
}

/// A reused environment runs what was built when it started: from another
/// commit, or from uncommitted changes, its PASS does not speak for HEAD.
fn stale_env(env: &report::EnvOrigin, head: &GitInfo) -> Option<String> {
    let short = |c: &str| c[..c.len().min(12)].to_string();
    let restart = "restart it (`cargo xtask env down`, `cargo xtask env up`) or run with --fresh";
    match (&env.git.commit, &head.commit) {
        (Some(e), Some(h)) if e != h => Some(format!(
            "PASS from HEAD, on an environment started at {} from {}: {restart}",
            env.started,
            short(e)
        )),
        (None, Some(_)) => Some(format!(
            "PASS from HEAD, on an environment of unknown origin (started at {}): {restart}",
            env.started
        )),
        _ if env.git.dirty != Some(false) => Some(format!(
            "PASS from HEAD, on an environment started at {} with uncommitted changes: {restart}",
            env.started
        )),
        _ => None,
    }
}

/// The command that produces a suite's report, for the hint.
fn suite_command(suite: &str) -> &'static str {
    match suite {
        "runtime-integration" => "integration",
        "release-gate" => "release-gate",
        "api-scripts" => "api-scripts",
        "k6" => "k6 run",
        "k6-baseline" => "k6 baseline",
        "k6-distributed" => "k6 distributed",
        "runtime-health-check" => "ops health",
        "runtime-monitor-snapshot" => "ops monitor",
        _ => "gate",
    }
}

/// What a condition's path may start with to live in the docs repository.
const DOCS_PREFIX: &str = "{docs_root}/";

/// The docs repository's folder, and where that setting came from.
struct DocsRoot {
    dir: Option<camino::Utf8PathBuf>,
    source: &'static str,
}

impl DocsRoot {
    fn resolve(ctx: &Ctx, var: Option<String>) -> DocsRoot {
        match (var, &ctx.config.gate.docs_root) {
            (Some(v), _) => DocsRoot {
                dir: Some(ctx.path(camino::Utf8Path::new(&v))),
                source: "XTASK_DOCS_ROOT",
            },
            (None, Some(p)) => DocsRoot {
                dir: Some(ctx.path(p)),
                source: "[gate].docs_root",
            },
            (None, None) => DocsRoot {
                dir: None,
                source: "",
            },
        }
    }

    /// The one row that says the docs are not there, naming what was not
    /// checked and how to point at them.
    fn missing_row(&self, conds: &[&FileCondition]) -> Option<Row> {
        let names = conds
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let reason = match &self.dir {
            Some(d) if d.is_dir() => return None,
            Some(d) => format!(
                "the docs repository is not there: {d} (from {}) does not exist, so {names} cannot be checked; \
                 check out the docs and set XTASK_DOCS_ROOT (or [gate].docs_root) to its project folder",
                self.source
            ),
            None => format!(
                "no docs root is set, so {names} cannot be checked: set XTASK_DOCS_ROOT (or [gate].docs_root) \
                 to the docs repository's project folder"
            ),
        };
        Some(Row {
            condition: "docs root".into(),
            state: State::Missing,
            reason,
        })
    }

    /// The folder a condition's path must stay in: the docs root or the project.
    fn base(&self, ctx: &Ctx, p: &camino::Utf8Path) -> camino::Utf8PathBuf {
        match (p.as_str().strip_prefix(DOCS_PREFIX), &self.dir) {
            (Some(_), Some(d)) => d.clone(),
            _ => ctx.root.clone(),
        }
    }

    fn path(&self, ctx: &Ctx, p: &camino::Utf8Path) -> camino::Utf8PathBuf {
        match (p.as_str().strip_prefix(DOCS_PREFIX), &self.dir) {
            (Some(rest), Some(d)) => d.join(rest),
            _ => ctx.path(p),
        }
    }
}

fn file_row(ctx: &Ctx, cond: &FileCondition, docs: &DocsRoot) -> anyhow::Result<Row> {
    let path = docs.path(ctx, &cond.path);
    let row = |state, reason: String| Row {
        condition: cond.name.clone(),
        state,
        reason,
    };
    // The path was checked at load (relative, no `..`); a link may still
    // lead out of the repository: what it names must lie inside.
    let base = docs.base(ctx, &cond.path);
    if let (Ok(real), Ok(base)) = (path.canonicalize_utf8(), base.canonicalize_utf8()) {
        if !real.starts_with(&base) {
            return Ok(row(
                State::Fail,
                format!(
                    "{} leads out of {base} (to {real}): a condition reads only files inside it",
                    cond.path
                ),
            ));
        }
    }
    let text = match crate::files::read(&path, crate::files::LARGE) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) if crate::files::is_not_found(&e) => {
            return Ok(row(State::Missing, format!("{} does not exist", cond.path)))
        }
        // A folder, a FIFO, a file too big: there, but not a file to judge.
        Err(e) => return Ok(row(State::Fail, format!("{e:#}"))),
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
        // The file's own repository (the docs may be another one).
        let step = crate::runner::Step::new("git log", "git")
            .args(["log", "-1", "--format=%cs", "--", path.as_str()])
            .cwd(path.parent().unwrap_or(&ctx.root))
            .deadline(std::time::Duration::from_secs(60))
            .read_only();
        let date = ctx.runner.read(&step);
        let Ok(date) = date else {
            return Ok(row(
                State::Fail,
                format!("cannot tell when {} last changed: `git log` failed (no git, or not a repository)", cond.path),
            ));
        };
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
    if !s.rows.is_empty() && s.rows.iter().all(|r| r.state == State::Missing) {
        out.push_str("no local reports: `cargo xtask gate status --remote` answers from the commit statuses on GitHub\n");
    }
    out
}
