//! `cargo xtask gate publish` (and `gate --publish`): the verdict where the
//! team looks. For one commit (HEAD): a status per required suite
//! (`xtask/<suite>`) and one for the frontend gate (`xtask/gate`); on the
//! pull request one sticky comment (found by a hidden marker, edited in
//! place); with `--issue N` one comment there with the verdict, the
//! conditions and the evidence.
//!
//! And the way back, `gate status --remote`: in a fresh clone without
//! reports, HEAD's statuses answer READY / NOT READY, and a commit without
//! them is STALE when an ancestor has them.
//!
//! On GitHub Actions everything comes from the runner's variables
//! (`GITHUB_REPOSITORY`, `GITHUB_API_URL`, `GITHUB_SERVER_URL`,
//! `GITHUB_RUN_ID`, `GITHUB_SHA`, `GITHUB_TOKEN` as the workflow passes it,
//! and the event payload for the pull request); elsewhere from flags and
//! the same variables.

use crate::{
    cmd::gate_status::{self, State, Status},
    context::{Ctx, Exit},
    flags::{self, GitHubOpts, PublishOpts},
    git::GitInfo,
    github_api::{self, Api, CommitStatus, Repo, StatusState},
    report::{self, Report},
};
use anyhow::{bail, Context};

/// The hidden markers that find our comments again.
pub const PR_MARKER: &str = "<!-- cargo-xtask:gate-pr -->";
pub const ISSUE_MARKER: &str = "<!-- cargo-xtask:gate-issue -->";
/// Status contexts: `xtask/<suite>` and this one for the frontend gate.
pub const GATE_CONTEXT: &str = "xtask/gate";
const DEFAULT_API: &str = "https://api.github.com";
/// Commits walked back from HEAD to find statuses for a STALE answer.
const MAX_ANCESTORS: usize = 20;
/// Where `gate` leaves the status it evaluated, for a publishing job that
/// has the reports but no checkout.
pub const SAVED_STATUS: &str = "gate-status.json";

impl flags::GatePublish {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        publish(ctx, &self.target)?;
        Ok(Exit::OK)
    }
}

/// The runner's variables that matter here, read once.
#[derive(Clone, Debug, Default)]
struct Actions {
    repository: Option<String>,
    api_url: Option<String>,
    server_url: Option<String>,
    run_id: Option<String>,
    sha: Option<String>,
    event_path: Option<String>,
}

impl Actions {
    fn read() -> Actions {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        Actions {
            repository: var("GITHUB_REPOSITORY"),
            api_url: var("GITHUB_API_URL"),
            server_url: var("GITHUB_SERVER_URL"),
            run_id: var("GITHUB_RUN_ID"),
            sha: var("GITHUB_SHA"),
            event_path: var("GITHUB_EVENT_PATH"),
        }
    }

    /// `{server}/{repo}/actions/runs/{id}`.
    fn run_url(&self) -> Option<String> {
        Some(format!(
            "{}/{}/actions/runs/{}",
            self.server_url.as_deref()?.trim_end_matches('/'),
            self.repository.as_deref()?,
            self.run_id.as_deref()?
        ))
    }

    /// The pull request of the event: `pull_request.number`, or an issue
    /// comment's issue when that issue is a pull request.
    fn pull_request(&self) -> anyhow::Result<Option<u64>> {
        let Some(path) = &self.event_path else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path).with_context(|| {
            format!("cannot read the Actions event payload {path} (GITHUB_EVENT_PATH)")
        })?;
        let event: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("the Actions event payload {path} is not JSON"))?;
        if let Some(n) = event["pull_request"]["number"].as_u64() {
            return Ok(Some(n));
        }
        if event["issue"]["pull_request"].is_object() {
            return Ok(event["issue"]["number"].as_u64());
        }
        Ok(None)
    }
}

fn token() -> Option<String> {
    ["GITHUB_TOKEN", "GH_TOKEN"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
        .map(|t| t.trim().to_string())
}

/// The repository: flag, `GITHUB_REPOSITORY`, the `origin` remote.
fn repo(ctx: &Ctx, gh: &GitHubOpts, actions: &Actions) -> anyhow::Result<Repo> {
    if let Some(r) = &gh.repo {
        return Ok(r.clone());
    }
    if let Some(r) = &actions.repository {
        return r.parse().context("GITHUB_REPOSITORY");
    }
    if let Some(r) =
        git_line(ctx, &["remote", "get-url", "origin"]).and_then(|u| Repo::from_remote_url(&u))
    {
        return Ok(r);
    }
    bail!("which repository? pass --repo OWNER/NAME or set GITHUB_REPOSITORY (the origin remote is not on github.com)")
}

fn api(ctx: &Ctx, gh: &GitHubOpts, actions: &Actions, need_token: bool) -> anyhow::Result<Api> {
    let repo = repo(ctx, gh, actions)?;
    let base = gh
        .api_url
        .clone()
        .or_else(|| actions.api_url.clone())
        .unwrap_or_else(|| DEFAULT_API.into());
    let token = token();
    if token.is_none() && need_token {
        // A dry run sends nothing, so it needs no token.
        let missing = || -> anyhow::Result<()> {
            bail!("no GitHub token: set GITHUB_TOKEN (on Actions: `env: GITHUB_TOKEN: ${{{{ github.token }}}}` in the publishing step, with statuses, pull-requests and issues write permissions)")
        };
        ctx.runner.real_only(missing).transpose()?;
    }
    Api::new(&base, repo, token, &ctx.runner)
}

fn git_line(ctx: &Ctx, args: &[&str]) -> Option<String> {
    let step = crate::runner::Step::new(format!("git {}", args[0]), "git")
        .args(args.iter().copied())
        .cwd(&ctx.root)
        .deadline(std::time::Duration::from_secs(60))
        .read_only();
    let out = ctx.runner.read(&step).ok()?;
    let out = out.trim();
    (!out.is_empty()).then(|| out.to_string())
}

/// The commit: flag, HEAD, the saved status's, `GITHUB_SHA`.
fn sha(
    ctx: &Ctx,
    gh: &GitHubOpts,
    actions: &Actions,
    saved: Option<&Status>,
) -> anyhow::Result<String> {
    let sha = gh
        .sha
        .clone()
        .or_else(|| GitInfo::read(&ctx.root).commit)
        .or_else(|| saved.and_then(|s| s.head.clone()))
        .or_else(|| actions.sha.clone())
        .context("which commit? not a git checkout: pass --sha or set GITHUB_SHA")?;
    if sha.len() != 40 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("bad commit `{sha}`: pass the full 40-character SHA");
    }
    Ok(sha.to_ascii_lowercase())
}

/// The status with the suites it requires: a publishing job without the
/// checkout has no xtask.toml to read them from.
#[derive(serde::Serialize, serde::Deserialize)]
struct Saved {
    required: Vec<String>,
    #[serde(flatten)]
    status: Status,
}

fn saved_path(ctx: &Ctx) -> camino::Utf8PathBuf {
    ctx.layout
        .latest_dir(crate::cmd::gate::SUITE)
        .join(SAVED_STATUS)
}

/// Written by `gate` beside its report.
pub fn save_status(ctx: &Ctx, status: &Status) -> anyhow::Result<()> {
    let saved = Saved {
        required: ctx.config.gate.required.clone(),
        status: status.clone(),
    };
    report::write_atomic(
        &saved_path(ctx),
        (serde_json::to_string_pretty(&saved)? + "\n").as_bytes(),
    )
}

/// The status to publish and its required suites: evaluated now in a
/// checkout, else the one `gate` saved with the reports (a publishing job
/// without a checkout).
fn status_to_publish(ctx: &Ctx) -> anyhow::Result<(Status, Vec<String>, &'static str)> {
    if GitInfo::read(&ctx.root).commit.is_some() {
        let required = ctx.config.gate.required.clone();
        return Ok((gate_status::evaluate(ctx)?, required, "evaluated now"));
    }
    let path = saved_path(ctx);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!("not a git checkout and no saved gate status at {path}: run `cargo xtask gate` first, or publish from a checkout")
    })?;
    let saved: Saved = serde_json::from_str(&text)
        .with_context(|| format!("{path} is not a gate status of this xtask"))?;
    Ok((saved.status, saved.required, "saved by the gate"))
}

/// One required suite as a status: its row and report.
struct SuiteView {
    suite: String,
    row: gate_status::Row,
    report: Option<Report>,
}

fn suites(ctx: &Ctx, required: &[String], status: &Status) -> Vec<SuiteView> {
    // `evaluate` lists the required suites first, in order.
    required
        .iter()
        .zip(&status.rows)
        .map(|(suite, row)| SuiteView {
            suite: suite.clone(),
            row: row.clone(),
            report: report::load_latest(&ctx.layout, suite).ok(),
        })
        .collect()
}

/// "12 tests, 1 failed, 1 flaky" or "3/3 thresholds met", from a report.
fn counts(r: &Report) -> Option<String> {
    let metric = |name: &str| {
        r.metrics
            .iter()
            .find(|m| m.name == name)
            .and_then(|m| m.value)
    };
    if let Some(tests) = metric("tests") {
        let failed = metric("failures").unwrap_or(0.0) + metric("errors").unwrap_or(0.0);
        let mut s = format!("{tests} tests, {failed} failed");
        if let Some(f) = metric("flaky").filter(|f| *f > 0.0) {
            s += &format!(", {f} flaky");
        }
        return Some(s);
    }
    if !r.thresholds.is_empty() {
        let ok = r.thresholds.iter().filter(|t| t.ok).count();
        return Some(format!("{ok}/{} thresholds met", r.thresholds.len()));
    }
    None
}

fn suite_status(v: &SuiteView, target_url: Option<&str>) -> CommitStatus {
    let counts = v.report.as_ref().and_then(counts);
    let (state, text) = match v.row.state {
        State::Ok => (
            StatusState::Success,
            format!(
                "PASS from this commit{}",
                counts.map(|c| format!(": {c}")).unwrap_or_default()
            ),
        ),
        State::Fail => (
            StatusState::Failure,
            match counts {
                Some(c) => format!("FAIL: {c}; {}", v.row.reason),
                None => v.row.reason.clone(),
            },
        ),
        // No verdict about this commit: an error, never a success.
        State::Stale => (StatusState::Error, format!("STALE: {}", v.row.reason)),
        State::Missing => (StatusState::Error, format!("MISSING: {}", v.row.reason)),
    };
    CommitStatus {
        context: format!("xtask/{}", v.suite),
        state,
        description: Some(github_api::description(&text)),
        target_url: target_url.map(String::from),
        updated_at: None,
    }
}

fn gate_description(status: &Status, suites: &[SuiteView]) -> String {
    let n = suites.len();
    let ok = suites.iter().filter(|s| s.row.state == State::Ok).count();
    let conds = &status.rows[n.min(status.rows.len())..];
    let held = conds.iter().filter(|r| r.state == State::Ok).count();
    let bad: Vec<String> = [State::Fail, State::Stale, State::Missing]
        .into_iter()
        .filter_map(|st| {
            let c = suites.iter().filter(|s| s.row.state == st).count();
            (c > 0).then(|| format!("{c} {}", state_word(st)))
        })
        .collect();
    let suites_part = if bad.is_empty() {
        format!("{ok}/{n} suites PASS from this commit")
    } else {
        format!("{ok}/{n} suites PASS ({})", bad.join(", "))
    };
    let verdict = if status.ready { "READY" } else { "NOT READY" };
    if conds.is_empty() {
        format!("{verdict}: {suites_part}")
    } else {
        format!(
            "{verdict}: {suites_part}; {held}/{} conditions hold",
            conds.len()
        )
    }
}

fn state_word(s: State) -> &'static str {
    match s {
        State::Ok => "OK",
        State::Fail => "FAIL",
        State::Stale => "STALE",
        State::Missing => "MISSING",
    }
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The sticky pull-request comment: the stage table and the verdict.
fn pr_comment(ctx: &Ctx, status: &Status, sha: &str, run_url: Option<&str>, now: &str) -> String {
    let mut md = format!("{PR_MARKER}\n");
    let verdict = if status.ready {
        "READY ✅"
    } else {
        "NOT READY ❌"
    };
    md += &format!("### Frontend gate: {verdict} on `{}`\n\n", &sha[..12]);
    if let Ok(gate) = report::load_latest(&ctx.layout, crate::cmd::gate::SUITE) {
        if let Some(t) = gate.tables.iter().find(|t| t.title == "Stages") {
            md += &format!(
                "Gate run {} ({}, `{}`):\n\n| Stage | Result | Duration |\n|---|---|---|\n",
                gate.run_stamp,
                gate.result.as_str(),
                gate.git
                    .commit
                    .as_deref()
                    .map(|c| &c[..c.len().min(12)])
                    .unwrap_or("?")
            );
            for r in &t.rows {
                md += &format!(
                    "| {} | {} | {} |\n",
                    md_cell(r.first().map(String::as_str).unwrap_or("")),
                    md_cell(r.get(1).map(String::as_str).unwrap_or("")),
                    md_cell(r.get(2).map(String::as_str).unwrap_or(""))
                );
            }
            md += "\n";
        }
    }
    md += &conditions_table(status);
    md += &footer(run_url, now);
    md
}

fn conditions_table(status: &Status) -> String {
    let mut md = String::from("| Condition | Status | Reason |\n|---|---|---|\n");
    for r in &status.rows {
        md += &format!(
            "| {} | {} | {} |\n",
            md_cell(&r.condition),
            state_word(r.state),
            md_cell(&r.reason)
        );
    }
    md
}

fn footer(run_url: Option<&str>, now: &str) -> String {
    let run = run_url
        .map(|u| format!(" · [workflow run]({u})"))
        .unwrap_or_default();
    format!(
        "\n<sub>`cargo xtask gate publish` at {now}{run} · edited in place on every run</sub>\n"
    )
}

/// The issue comment: verdict, conditions and the evidence behind them.
fn issue_comment(
    ctx: &Ctx,
    status: &Status,
    suites: &[SuiteView],
    sha: &str,
    run_url: Option<&str>,
    now: &str,
) -> String {
    let verdict = if status.ready { "READY" } else { "NOT READY" };
    let mut md = format!("{ISSUE_MARKER}\n## May frontend work start? {verdict}\n\nCommit `{sha}`.\n\n### Conditions\n\n");
    md += &conditions_table(status);
    md += "\n### Evidence\n\n| Suite | Result | Commit | Finished | Report |\n|---|---|---|---|---|\n";
    for s in suites {
        let (result, commit, ended, path) = match &s.report {
            Some(r) => (
                r.result.as_str().to_string(),
                r.git
                    .commit
                    .as_deref()
                    .map(|c| c[..c.len().min(12)].to_string())
                    .unwrap_or_else(|| "?".into()),
                r.ended.clone(),
                ctx.relative(&ctx.layout.latest(&r.suite, "md")),
            ),
            None => ("MISSING".into(), "-".into(), "-".into(), "-".into()),
        };
        let link = match (run_url, s.report.is_some()) {
            (Some(u), true) => format!("[`{path}`]({u}) (run artifacts)"),
            _ => format!("`{path}`"),
        };
        md += &format!(
            "| {} | {} | `{commit}` | {} | {link} |\n",
            md_cell(&s.suite),
            result,
            md_cell(&ended)
        );
    }
    md += &footer(run_url, now);
    md
}

/// Statuses, the sticky PR comment, the issue comment.
pub fn publish(ctx: &Ctx, opts: &PublishOpts) -> anyhow::Result<()> {
    let actions = Actions::read();
    let api = api(ctx, &opts.github, &actions, true)?;
    let (status, required, source) = status_to_publish(ctx)?;
    let sha = sha(ctx, &opts.github, &actions, Some(&status))?;
    if status
        .head
        .as_deref()
        .is_some_and(|h| !h.eq_ignore_ascii_case(&sha))
    {
        ctx.info(&format!(
            "publish: note: the verdict was evaluated for {}, published on {sha}",
            status.head.as_deref().unwrap_or("?")
        ));
    }
    let run_url = opts.run_url.clone().or_else(|| actions.run_url());
    let pr = match opts.pr {
        Some(n) => Some(n),
        None => actions.pull_request()?,
    };
    let now = report::rfc3339(std::time::SystemTime::now());
    let suites = suites(ctx, &required, &status);
    ctx.info(&format!(
        "publish: {} on {} ({}), verdict {} ({source})",
        api.repo,
        &sha[..12],
        api.base(),
        if status.ready { "READY" } else { "NOT READY" }
    ));
    for v in &suites {
        let s = suite_status(v, run_url.as_deref());
        api.create_status(&sha, &s)?;
        ctx.info(&format!(
            "publish: status {} {}",
            s.context,
            s.state.as_str()
        ));
    }
    let gate = CommitStatus {
        context: GATE_CONTEXT.into(),
        state: if status.ready {
            StatusState::Success
        } else {
            StatusState::Failure
        },
        description: Some(github_api::description(&gate_description(&status, &suites))),
        target_url: run_url.clone(),
        updated_at: None,
    };
    api.create_status(&sha, &gate)?;
    ctx.info(&format!(
        "publish: status {GATE_CONTEXT} {}",
        gate.state.as_str()
    ));
    match pr {
        Some(n) => {
            let done = api.upsert_comment(n, PR_MARKER, &pr_comment(ctx, &status, &sha, run_url.as_deref(), &now))?;
            ctx.info(&format!("publish: pull request: {done}"));
        }
        None => ctx.info("publish: no pull request (not a pull_request event; --pr N to name one): no PR comment"),
    }
    if let Some(n) = opts.issue {
        let done = api.upsert_comment(
            n,
            ISSUE_MARKER,
            &issue_comment(ctx, &status, &suites, &sha, run_url.as_deref(), &now),
        )?;
        ctx.info(&format!("publish: issue: {done}"));
    }
    Ok(())
}

/// What `gate status --remote` answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answer {
    Ready,
    NotReady,
    Stale,
}

impl Answer {
    fn as_str(self) -> &'static str {
        match self {
            Answer::Ready => "READY",
            Answer::NotReady => "NOT READY",
            Answer::Stale => "STALE",
        }
    }
}

/// `gate status --remote`: HEAD's statuses on GitHub, else the nearest
/// ancestor's (STALE).
pub fn remote(ctx: &Ctx, gh: &GitHubOpts, json: bool) -> anyhow::Result<Exit> {
    let actions = Actions::read();
    let api = api(ctx, gh, &actions, false)?;
    let head = sha(ctx, gh, &actions, None)?;
    // First parents from HEAD: the history a fresh clone has.
    let mut commits = vec![head.clone()];
    if gh.sha.is_none() {
        if let Some(list) = git_line(
            ctx,
            &[
                "rev-list",
                "--first-parent",
                &format!("--max-count={}", MAX_ANCESTORS + 1),
                "HEAD",
            ],
        ) {
            commits.extend(list.lines().skip(1).map(str::to_string));
        }
    }
    for (behind, commit) in commits.iter().enumerate() {
        let Some(combined) = api.combined_status(commit)? else {
            return Ok(Exit::OK); // dry run: the request was printed
        };
        let ours: Vec<&CommitStatus> = combined
            .statuses
            .iter()
            .filter(|s| s.context.starts_with("xtask/"))
            .collect();
        let Some(gate) = ours.iter().find(|s| s.context == GATE_CONTEXT) else {
            continue;
        };
        let all_ok = ours.iter().all(|s| s.state == StatusState::Success);
        let answer = match (behind, gate.state == StatusState::Success && all_ok) {
            (0, true) => Answer::Ready,
            (0, false) => Answer::NotReady,
            _ => Answer::Stale,
        };
        let source = format!(
            "GitHub commit statuses of {} on {} ({}){}",
            &commit[..12],
            api.repo,
            api.base(),
            if behind > 0 {
                format!(", {behind} commit(s) before HEAD {}", &head[..12])
            } else {
                String::new()
            }
        );
        if json {
            let v = serde_json::json!({
                "answer": answer.as_str(),
                "ready": answer == Answer::Ready,
                "head": head,
                "source": {"kind": "github-statuses", "commit": commit, "repository": api.repo.to_string(), "api": api.base(), "commits_behind": behind},
                "statuses": ours,
            });
            println!("{}", serde_json::to_string_pretty(&v)?);
        } else {
            let w = ours
                .iter()
                .map(|s| s.context.len())
                .max()
                .unwrap_or(7)
                .max(7);
            println!("{:<w$}  {:<7}  description", "context", "state");
            for s in &ours {
                println!(
                    "{:<w$}  {:<7}  {}",
                    s.context,
                    s.state.as_str(),
                    s.description.as_deref().unwrap_or("")
                );
            }
            println!("source: {source}");
            match answer {
                Answer::Stale => println!(
                    "frontend gate: STALE (HEAD {} has no xtask statuses; {} said {}: run the gate on HEAD)",
                    &head[..12],
                    &commit[..12],
                    if gate.state == StatusState::Success && all_ok { "READY" } else { "NOT READY" }
                ),
                a => println!("frontend gate: {} (from the commit statuses of HEAD)", a.as_str()),
            }
        }
        return Ok(if answer == Answer::Ready {
            Exit::OK
        } else {
            Exit::FAIL
        });
    }
    let searched = commits.len();
    if json {
        let v = serde_json::json!({
            "answer": "NOT READY", "ready": false, "head": head,
            "source": {"kind": "github-statuses", "commit": null, "repository": api.repo.to_string(), "api": api.base(), "commits_searched": searched},
            "statuses": [],
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!(
            "source: GitHub commit statuses on {} ({}): no `{GATE_CONTEXT}` status on HEAD {} or the {} commit(s) before it",
            api.repo,
            api.base(),
            &head[..12],
            searched - 1
        );
        println!("frontend gate: NOT READY (nothing published: run `cargo xtask gate --publish`)");
    }
    Ok(Exit::FAIL)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::gate_status::Row;

    fn row(condition: &str, state: State, reason: &str) -> Row {
        Row {
            condition: condition.into(),
            state,
            reason: reason.into(),
        }
    }

    #[test]
    fn the_gate_status_counts_suites_and_conditions() {
        let status = Status {
            ready: false,
            head: None,
            rows: vec![
                row("release-gate report", State::Ok, "PASS"),
                row("k6-baseline report", State::Stale, "PASS from abc"),
                row("handoff", State::Ok, "holds"),
            ],
        };
        let suites: Vec<SuiteView> = ["release-gate", "k6-baseline"]
            .iter()
            .zip(&status.rows)
            .map(|(s, r)| SuiteView {
                suite: s.to_string(),
                row: r.clone(),
                report: None,
            })
            .collect();
        assert_eq!(
            gate_description(&status, &suites),
            "NOT READY: 1/2 suites PASS (1 STALE); 1/1 conditions hold"
        );
        let stale = suite_status(&suites[1], None);
        assert_eq!(stale.state, StatusState::Error);
        assert_eq!(stale.context, "xtask/k6-baseline");
        assert_eq!(stale.description.as_deref(), Some("STALE: PASS from abc"));
    }

    #[test]
    fn counts_come_from_the_report() {
        let mut r = Report::new("release-gate", "t");
        r.metric("tests", Some(12.0), "");
        r.metric("failures", Some(1.0), "");
        r.metric("errors", Some(0.0), "");
        r.metric("flaky", Some(2.0), "");
        assert_eq!(counts(&r).as_deref(), Some("12 tests, 1 failed, 2 flaky"));
        let mut k = Report::new("k6-baseline", "t");
        k.threshold(crate::report::Threshold::check(
            "p95",
            Some(10.0),
            crate::report::Cmp::AtMost,
            20.0,
        ));
        k.threshold(crate::report::Threshold::check(
            "fail rate",
            Some(0.5),
            crate::report::Cmp::AtMost,
            0.01,
        ));
        assert_eq!(counts(&k).as_deref(), Some("1/2 thresholds met"));
    }

    #[test]
    fn the_event_payload_names_the_pull_request() {
        let d = std::env::temp_dir().join(format!("xtask-event-{}", std::process::id()));
        std::fs::write(
            &d,
            r#"{"action":"synchronize","number":5,"pull_request":{"number":5}}"#,
        )
        .unwrap();
        let a = Actions {
            event_path: Some(d.to_string_lossy().into()),
            ..Actions::default()
        };
        assert_eq!(a.pull_request().unwrap(), Some(5));
        std::fs::write(
            &d,
            r#"{"issue":{"number":8,"pull_request":{"url":"x"}},"comment":{}}"#,
        )
        .unwrap();
        assert_eq!(a.pull_request().unwrap(), Some(8));
        std::fs::write(&d, r#"{"inputs":{}}"#).unwrap();
        assert_eq!(a.pull_request().unwrap(), None);
        let _ = std::fs::remove_file(&d);
        let a = Actions {
            server_url: Some("https://github.com".into()),
            repository: Some("o/r".into()),
            run_id: Some("77".into()),
            ..Actions::default()
        };
        assert_eq!(
            a.run_url().as_deref(),
            Some("https://github.com/o/r/actions/runs/77")
        );
    }

    #[test]
    fn only_the_publishing_job_may_write_statuses_pull_requests_and_issues() {
        let dir = crate::context::project_root().join(".github/workflows");
        let mut writers = vec![];
        for e in dir.read_dir_utf8().unwrap() {
            let path = e.unwrap().into_path();
            let text = std::fs::read_to_string(&path).unwrap();
            let mut job = String::new();
            for line in text.lines() {
                // Jobs are the keys two spaces in under `jobs:`.
                if line.len() > 2
                    && line.starts_with("  ")
                    && !line.starts_with("   ")
                    && line.ends_with(':')
                {
                    job = line.trim().trim_end_matches(':').to_string();
                }
                let l = line.trim();
                for perm in ["statuses:", "pull-requests:", "issues:"] {
                    if l.starts_with(perm) {
                        writers.push(format!(
                            "{}:{job}:{}",
                            path.file_name().unwrap(),
                            l.split('#').next().unwrap().trim()
                        ));
                    }
                }
            }
        }
        writers.sort();
        assert_eq!(
            writers,
            [
                "gate.yml:publish:issues: write",
                "gate.yml:publish:pull-requests: write",
                "gate.yml:publish:statuses: write",
            ]
        );
    }
}
