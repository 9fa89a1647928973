//! The GitHub REST API, as far as the gate publishes and reads its verdict:
//! commit statuses (create, combined status of a commit) and issue comments
//! (list, create, update; a pull request is an issue here).
//!
//! One client, `Api`, over ureq (rustls with ring for `https://`; the tests
//! talk plain `http://` to a local stand-in). What it does for every call:
//! - the token goes only to the API's own origin (pagination links included)
//!   and is masked everywhere else (`redact`), dry-run output included;
//! - 5xx answers and transport errors are retried with exponential backoff;
//!   rate limits (`Retry-After`, `x-ratelimit-remaining: 0` with
//!   `x-ratelimit-reset`) are waited out when the wait is short, else a
//!   one-line error says when the limit resets;
//! - 401, 403 and 404 become one line naming the request and what to check;
//! - lists follow `Link: <...>; rel="next"` to the end;
//! - in a dry run nothing is sent: each request is printed instead.

use std::{fmt, time::Duration};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::redact;

/// `Accept` and version headers GitHub documents for its REST API.
const ACCEPT: &str = "application/vnd.github+json";
const API_VERSION: &str = "2022-11-28";
/// Largest page GitHub serves for the lists used here.
const PER_PAGE: u32 = 100;
/// Pages followed at most: 100 × 100 comments is far beyond a real thread.
const MAX_PAGES: usize = 100;
/// GitHub cuts a status description at 140 characters.
pub const MAX_DESCRIPTION: usize = 140;

/// `owner/name`, checked once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repo {
    pub owner: String,
    pub name: String,
}

impl std::str::FromStr for Repo {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Repo> {
        let ok = |p: &str| {
            !p.is_empty()
                && p.len() <= 100
                && p != "."
                && p != ".."
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        };
        match s.split_once('/') {
            Some((o, n)) if ok(o) && ok(n) => Ok(Repo {
                owner: o.into(),
                name: n.into(),
            }),
            _ => bail!(
                "bad repository `{s}`: write it OWNER/NAME, e.g. rag-cargoo/ticket-core-service"
            ),
        }
    }
}

impl fmt::Display for Repo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

impl Repo {
    /// `owner/name` from a GitHub remote URL (`https://github.com/o/n.git`,
    /// `git@github.com:o/n.git`); `None` for anything else.
    pub fn from_remote_url(url: &str) -> Option<Repo> {
        let rest = url
            .trim()
            .strip_prefix("https://github.com/")
            .or_else(|| url.trim().strip_prefix("git@github.com:"))
            .or_else(|| url.trim().strip_prefix("ssh://git@github.com/"))?;
        let rest = rest.trim_end_matches('/');
        rest.strip_suffix(".git").unwrap_or(rest).parse().ok()
    }
}

/// A commit status's state, as the API spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusState {
    Success,
    Failure,
    Error,
    Pending,
}

impl StatusState {
    pub fn as_str(self) -> &'static str {
        match self {
            StatusState::Success => "success",
            StatusState::Failure => "failure",
            StatusState::Error => "error",
            StatusState::Pending => "pending",
        }
    }
}

/// One commit status, as created and as read back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CommitStatus {
    pub context: String,
    pub state: StatusState,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub target_url: Option<String>,
    #[serde(default, skip_serializing)]
    pub updated_at: Option<String>,
}

/// `GET /repos/{o}/{r}/commits/{ref}/status`: the latest status per context.
#[derive(Clone, Debug, Deserialize)]
pub struct CombinedStatus {
    /// GitHub's own roll-up of every context (ours and others').
    #[cfg_attr(not(test), allow(dead_code))]
    pub state: StatusState,
    #[cfg_attr(not(test), allow(dead_code))]
    pub sha: String,
    pub statuses: Vec<CommitStatus>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Comment {
    pub id: u64,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub html_url: Option<String>,
}

/// How long to wait before retries; the tests shorten it.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    /// The first wait after a 5xx or a transport error; doubled each time.
    pub base: Duration,
    /// Attempts in all, the first one included.
    pub attempts: u32,
    /// A rate limit that resets later than this is an error, not a wait.
    pub max_wait: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_secs(1),
            attempts: 4,
            max_wait: Duration::from_secs(60),
        }
    }
}

/// The API of one repository.
pub struct Api {
    /// `https://api.github.com` (or a GitHub Enterprise `.../api/v3`), no trailing `/`.
    base: String,
    pub repo: Repo,
    token: Option<String>,
    /// Sends the requests, or in a dry run prints them.
    runner: crate::runner::Runner,
    backoff: Backoff,
    agent: ureq::Agent,
}

/// An answer: status, lower-case headers, body text.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    /// GitHub's `message` field, for errors.
    fn message(&self) -> String {
        serde_json::from_str::<Value>(&self.body)
            .ok()
            .and_then(|v| v.get("message").and_then(Value::as_str).map(String::from))
            .unwrap_or_else(|| {
                self.body
                    .lines()
                    .next()
                    .unwrap_or("")
                    .chars()
                    .take(200)
                    .collect()
            })
    }
}

/// What to do with an answer.
enum Next {
    Done,
    /// After the given wait, else the backoff's.
    Retry(Option<Duration>, String),
}

impl Api {
    pub fn new(
        base: &str,
        repo: Repo,
        token: Option<String>,
        runner: &crate::runner::Runner,
    ) -> anyhow::Result<Api> {
        let base = base.trim_end_matches('/').to_string();
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            bail!("bad GitHub API URL `{base}`: use https://api.github.com (or your GitHub Enterprise's https://HOST/api/v3)");
        }
        if let Some(t) = &token {
            redact::note("GITHUB_TOKEN", t);
        }
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            // A redirect could carry the token elsewhere; the API does not need one.
            .max_redirects(0)
            .user_agent("cargo-xtask")
            .build();
        Ok(Api {
            base,
            repo,
            token,
            runner: runner.clone(),
            backoff: Backoff::default(),
            agent: config.into(),
        })
    }

    #[cfg(test)]
    pub fn with_backoff(mut self, backoff: Backoff) -> Api {
        self.backoff = backoff;
        self
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn repo_path(&self, rest: &str) -> String {
        format!("/repos/{}/{}{rest}", self.repo.owner, self.repo.name)
    }

    /// `POST /repos/{o}/{r}/statuses/{sha}`.
    pub fn create_status(&self, sha: &str, status: &CommitStatus) -> anyhow::Result<()> {
        check_sha(sha)?;
        let body = serde_json::to_value(status)?;
        self.call(
            "POST",
            &self.repo_path(&format!("/statuses/{sha}")),
            Some(&body),
        )?;
        Ok(())
    }

    /// `GET /repos/{o}/{r}/commits/{sha}/status`, every page of statuses.
    /// `None` in a dry run.
    pub fn combined_status(&self, sha: &str) -> anyhow::Result<Option<CombinedStatus>> {
        check_sha(sha)?;
        let path = self.repo_path(&format!("/commits/{sha}/status?per_page={PER_PAGE}"));
        let mut url = self.url(&path);
        let mut combined: Option<CombinedStatus> = None;
        for _ in 0..MAX_PAGES {
            let Some(answer) = self.call_url("GET", &url, None)? else {
                return Ok(None);
            };
            let page: CombinedStatus = serde_json::from_str(&answer.body).with_context(|| {
                format!(
                    "GitHub's answer to GET {} is not a combined status",
                    self.shown(&url)
                )
            })?;
            match &mut combined {
                None => combined = Some(page),
                Some(c) => c.statuses.extend(page.statuses),
            }
            match self.next_link(&answer)? {
                Some(next) => url = next,
                None => break,
            }
        }
        Ok(combined)
    }

    /// `GET /repos/{o}/{r}/issues/{n}/comments`, every page. Empty in a dry run.
    pub fn list_comments(&self, issue: u64) -> anyhow::Result<Vec<Comment>> {
        let path = self.repo_path(&format!("/issues/{issue}/comments?per_page={PER_PAGE}"));
        let mut out = vec![];
        let mut url = self.url(&path);
        for _ in 0..MAX_PAGES {
            let Some(answer) = self.call_url("GET", &url, None)? else {
                return Ok(vec![]);
            };
            let page: Vec<Comment> = serde_json::from_str(&answer.body).with_context(|| {
                format!(
                    "GitHub's answer to GET {} is not a list of comments",
                    self.shown(&url)
                )
            })?;
            out.extend(page);
            match self.next_link(&answer)? {
                Some(next) => url = next,
                None => break,
            }
        }
        Ok(out)
    }

    /// `POST /repos/{o}/{r}/issues/{n}/comments`.
    pub fn create_comment(&self, issue: u64, body: &str) -> anyhow::Result<Option<Comment>> {
        let json = serde_json::json!({ "body": body });
        let answer = self.call(
            "POST",
            &self.repo_path(&format!("/issues/{issue}/comments")),
            Some(&json),
        )?;
        answer.map(|a| parse_comment(&a)).transpose()
    }

    /// `PATCH /repos/{o}/{r}/issues/comments/{id}`.
    pub fn update_comment(&self, id: u64, body: &str) -> anyhow::Result<Option<Comment>> {
        let json = serde_json::json!({ "body": body });
        let answer = self.call(
            "PATCH",
            &self.repo_path(&format!("/issues/comments/{id}")),
            Some(&json),
        )?;
        answer.map(|a| parse_comment(&a)).transpose()
    }

    /// The comment carrying `marker` is edited; without one a comment is
    /// created. Returns what was done and the comment's link.
    pub fn upsert_comment(&self, issue: u64, marker: &str, body: &str) -> anyhow::Result<String> {
        let existing = self.list_comments(issue)?;
        // The oldest one: should two exist (two runs raced), the thread keeps its place.
        match existing.iter().find(|c| c.body.contains(marker)) {
            Some(c) => {
                let done = self.update_comment(c.id, body)?;
                Ok(format!(
                    "edited comment {} on #{issue}{}",
                    c.id,
                    link(done.as_ref().or(Some(c)))
                ))
            }
            None => {
                let done = self.create_comment(issue, body)?;
                let created = || {
                    let id = done.as_ref().map(|c| format!(" {}", c.id));
                    let link = link(done.as_ref());
                    format!(
                        "created comment{} on #{issue}{link}",
                        id.unwrap_or_default()
                    )
                };
                let planned = || {
                    self.runner.plan_lines("(the GET was not sent: a comment with the marker found there is edited with PATCH instead)");
                    format!("would comment on #{issue}")
                };
                Ok(self.runner.answer(created, planned))
            }
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The URL as shown to people: the API's origin kept, nothing secret.
    fn shown(&self, url: &str) -> String {
        redact::text(url.strip_prefix(&self.base).unwrap_or(url))
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Option<Answer>> {
        self.call_url(method, &self.url(path), body)
    }

    /// One request with retries; `None` in a dry run (printed, not sent).
    fn call_url(
        &self,
        method: &str,
        url: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Option<Answer>> {
        let text = body.map(|b| serde_json::to_string(b).expect("JSON values serialise"));
        // As a dry run shows it: the request, the token masked.
        let mut shown = format!("{method} {}\n  accept: {ACCEPT}\n", redact::text(url));
        if self.token.is_some() {
            shown.push_str(&format!("  authorization: Bearer {}\n", redact::MASK));
        }
        if let Some(b) = body {
            let pretty = serde_json::to_string_pretty(b).expect("JSON values serialise");
            for line in redact::text(&pretty).lines() {
                shown.push_str(&format!("  {line}\n"));
            }
        }
        self.runner
            .effect(shown, || self.send(method, url, text.as_deref()).map(Some))
    }

    /// One request, retried as the answer says.
    fn send(&self, method: &str, url: &str, text: Option<&str>) -> anyhow::Result<Answer> {
        let mut attempt = 1;
        loop {
            let result = self.send_once(method, url, text);
            let next = match &result {
                Ok(a) => self.judge(method, url, a)?,
                Err(e) => Next::Retry(None, format!("{e:#}")),
            };
            match next {
                Next::Done => return result,
                Next::Retry(wait, why) => {
                    let wait = wait.unwrap_or_else(|| self.backoff_for(attempt));
                    if attempt >= self.backoff.attempts {
                        bail!(
                            "GitHub API {method} {} failed {attempt} times, last: {}; try again later",
                            self.shown(url),
                            redact::text(&why)
                        );
                    }
                    eprintln!(
                        "github: {method} {}: {}; retrying in {} ms ({attempt}/{})",
                        self.shown(url),
                        redact::text(&why),
                        wait.as_millis(),
                        self.backoff.attempts - 1
                    );
                    std::thread::sleep(wait);
                    crate::runner::check_interrupt()?;
                    attempt += 1;
                }
            }
        }
    }

    fn backoff_for(&self, attempt: u32) -> Duration {
        self.backoff.base * 2u32.saturating_pow(attempt - 1)
    }

    fn send_once(&self, method: &str, url: &str, body: Option<&str>) -> anyhow::Result<Answer> {
        // The token only ever goes to the API's own origin.
        let auth = self
            .token
            .as_ref()
            .filter(|_| same_origin(&self.base, url))
            .map(|t| format!("Bearer {t}"));
        macro_rules! headers {
            ($req:expr) => {{
                let mut r = $req
                    .header("accept", ACCEPT)
                    .header("x-github-api-version", API_VERSION);
                if let Some(a) = &auth {
                    r = r.header("authorization", a.as_str());
                }
                r
            }};
        }
        let result = match (method, body) {
            ("GET", _) => headers!(self.agent.get(url)).call(),
            ("POST", Some(b)) => headers!(self.agent.post(url))
                .content_type("application/json")
                .send(b),
            ("PATCH", Some(b)) => headers!(self.agent.patch(url))
                .content_type("application/json")
                .send(b),
            _ => bail!("unsupported request {method} without a body"),
        };
        let mut resp = result.map_err(|e| anyhow::anyhow!("{}", redact::text(&e.to_string())))?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    v.to_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        let body = resp
            .body_mut()
            .with_config()
            .limit(16 * 1024 * 1024)
            .read_to_string()
            .with_context(|| {
                format!(
                    "cannot read GitHub's answer to {method} {}",
                    self.shown(url)
                )
            })?;
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// Done, retry (and after how long), or a one-line error.
    fn judge(&self, method: &str, url: &str, a: &Answer) -> anyhow::Result<Next> {
        let req = format!("{method} {}", self.shown(url));
        let remaining = a
            .header("x-ratelimit-remaining")
            .and_then(|v| v.trim().parse::<u64>().ok());
        let retry_after = a
            .header("retry-after")
            .and_then(|v| v.trim().parse::<u64>().ok());
        let limited =
            matches!(a.status, 403 | 429) && (remaining == Some(0) || retry_after.is_some());
        if limited {
            let wait = match retry_after {
                Some(s) => Duration::from_secs(s),
                None => {
                    let reset = a
                        .header("x-ratelimit-reset")
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .unwrap_or(0);
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_secs())
                        .unwrap_or(0);
                    Duration::from_secs(reset.saturating_sub(now) + 1)
                }
            };
            if wait > self.backoff.max_wait {
                let resets = a
                    .header("x-ratelimit-reset")
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(|t| crate::report::rfc3339(std::time::UNIX_EPOCH + Duration::from_secs(t)))
                    .unwrap_or_else(|| format!("in {} s", wait.as_secs()));
                bail!(
                    "GitHub's rate limit stopped {req} ({} {}: {}); it resets {resets}: publish again after that",
                    a.status,
                    reason(a.status),
                    a.message()
                );
            }
            return Ok(Next::Retry(
                Some(wait),
                format!("rate limited ({} {})", a.status, a.message()),
            ));
        }
        match a.status {
            200..=299 => Ok(Next::Done),
            500..=599 => Ok(Next::Retry(
                retry_after
                    .map(Duration::from_secs)
                    .filter(|w| *w <= self.backoff.max_wait),
                format!("{} {}", a.status, reason(a.status)),
            )),
            401 => bail!(
                "GitHub refused the token for {req} (401 {}): set GITHUB_TOKEN to a valid token",
                a.message()
            ),
            403 => bail!(
                "GitHub forbade {req} (403 {}): the token needs statuses: write, pull-requests: write and issues: write on {}",
                a.message(),
                self.repo
            ),
            404 => bail!(
                "GitHub found nothing at {req} (404 {}): check the repository `{}`, the commit or issue number, and that the token may see it",
                a.message(),
                self.repo
            ),
            s => bail!("GitHub answered {req} with {s} {}: {}", reason(s), a.message()),
        }
    }

    /// The `rel="next"` link, which must stay on the API's origin.
    fn next_link(&self, a: &Answer) -> anyhow::Result<Option<String>> {
        let Some(next) = a.header("link").and_then(next_link) else {
            return Ok(None);
        };
        if !same_origin(&self.base, &next) {
            bail!(
                "GitHub's next-page link leaves the API ({}): refusing to follow it",
                redact::text(&next)
            );
        }
        Ok(Some(next))
    }
}

impl Answer {
    #[cfg(test)]
    fn new(status: u16, headers: &[(&str, &str)], body: &str) -> Answer {
        Answer {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.into(),
        }
    }
}

fn parse_comment(a: &Answer) -> anyhow::Result<Comment> {
    serde_json::from_str(&a.body).context("GitHub's answer is not a comment")
}

fn link(c: Option<&Comment>) -> String {
    c.and_then(|c| c.html_url.as_deref())
        .map(|u| format!(" ({u})"))
        .unwrap_or_default()
}

fn check_sha(sha: &str) -> anyhow::Result<()> {
    if sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        bail!("bad commit `{sha}`: a full 40-character SHA is needed")
    }
}

/// Scheme, host and port of `a` and `b` agree.
fn same_origin(a: &str, b: &str) -> bool {
    fn origin(u: &str) -> &str {
        let after = u.find("://").map_or(0, |i| i + 3);
        let end = u[after..].find('/').map_or(u.len(), |i| after + i);
        &u[..end]
    }
    origin(a).eq_ignore_ascii_case(origin(b))
}

/// The `rel="next"` URL of a `Link` header.
pub fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        let url = url.trim().strip_prefix('<')?.strip_suffix('>')?;
        params
            .split(';')
            .any(|p| {
                let p = p.trim().replace(' ', "");
                p == "rel=\"next\"" || p == "rel=next"
            })
            .then(|| url.to_string())
    })
}

fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

/// A status description within GitHub's limit.
pub fn description(s: &str) -> String {
    if s.chars().count() <= MAX_DESCRIPTION {
        s.to_string()
    } else {
        s.chars().take(MAX_DESCRIPTION - 1).chain(['…']).collect()
    }
}

#[cfg(test)]
mod tests;
