//! A stand-in for the GitHub REST API (GitHub cannot be reached from these
//! machines): a plain-HTTP server on a loopback port it holds, with the
//! request and response shapes GitHub documents for the endpoints the gate
//! uses. Commit statuses: create (`POST /repos/{o}/{r}/statuses/{sha}`), list
//! (`GET .../commits/{ref}/statuses`) and the combined status (`GET
//! .../commits/{ref}/status`); issue comments: list (`GET
//! .../issues/{n}/comments`), create (`POST` there) and update (`PATCH
//! .../issues/comments/{id}`). Lists are paginated with `per_page`/`page`
//! and `Link` headers; every answer carries the `x-ratelimit-*` headers; a
//! wrong token gets GitHub's 401. Faults queued with `fail_next` answer the
//! next requests instead (502, rate limits, 403, 404).
//!
//! Every request is recorded, so tests assert on exactly what was sent.
//! Also compiled into the unit tests (`src/github_api/tests.rs`).

#![allow(dead_code)]

use std::{
    collections::{BTreeMap, VecDeque},
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    thread::JoinHandle,
};

use serde_json::{json, Value};

/// One request as received.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    /// Lower-case names, in the order sent.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The request as a golden file shows it: the request line, the headers
    /// the API cares about (sorted), and the JSON body pretty-printed with
    /// sorted keys.
    pub fn golden(&self) -> String {
        let mut out = format!("{} {}\n", self.method, self.target);
        let mut hs: Vec<&(String, String)> = self
            .headers
            .iter()
            .filter(|(k, _)| {
                [
                    "accept",
                    "authorization",
                    "content-type",
                    "user-agent",
                    "x-github-api-version",
                ]
                .contains(&k.as_str())
            })
            .collect();
        hs.sort();
        for (k, v) in hs {
            out += &format!("{k}: {v}\n");
        }
        if !self.body.is_empty() {
            let v: Value = serde_json::from_str(&self.body).expect("a JSON body");
            out += &serde_json::to_string_pretty(&v).unwrap();
            out += "\n";
        }
        out
    }
}

/// A canned answer to the next request, instead of the normal one.
#[derive(Clone, Debug)]
pub enum Fault {
    /// 502 Bad Gateway, as GitHub's front end answers when the API hiccups.
    BadGateway,
    /// 403 with `x-ratelimit-remaining: 0` and a reset `in_secs` from now.
    RateLimited { in_secs: u64 },
    /// 403 with `Retry-After` (GitHub's secondary rate limit).
    SecondaryRateLimit { retry_after: u64 },
    /// 403 Resource not accessible by integration (a token without permission).
    Forbidden,
    /// 404 Not Found.
    NotFound,
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    faults: VecDeque<Fault>,
    /// sha → statuses, oldest first.
    statuses: BTreeMap<String, Vec<Value>>,
    /// issue number → comments, oldest first.
    comments: BTreeMap<u64, Vec<Value>>,
    next_id: u64,
    remaining: u64,
}

/// The server; stops when dropped.
pub struct FakeGitHub {
    pub base: String,
    pub token: String,
    pub owner: String,
    pub repo: String,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    port: u16,
    thread: Option<JoinHandle<()>>,
}

impl FakeGitHub {
    /// Serves `owner/repo`, accepting only `token`.
    pub fn start(owner: &str, repo: &str, token: &str) -> FakeGitHub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().unwrap().port();
        let base = format!("http://127.0.0.1:{port}");
        let state = Arc::new(Mutex::new(State {
            next_id: 1000,
            remaining: 5000,
            ..State::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let ctx = Server {
            base: base.clone(),
            token: token.to_string(),
            prefix: format!("/repos/{owner}/{repo}"),
            state: state.clone(),
        };
        let stop2 = stop.clone();
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(conn) = conn {
                    ctx.serve(conn);
                }
            }
        });
        FakeGitHub {
            base,
            token: token.into(),
            owner: owner.into(),
            repo: repo.into(),
            state,
            stop,
            port,
            thread: Some(thread),
        }
    }

    pub fn slug(&self) -> String {
        format!("{}/{}", self.owner, self.repo)
    }

    /// The next requests get these answers, in order.
    pub fn fail_next(&self, faults: &[Fault]) {
        self.state
            .lock()
            .unwrap()
            .faults
            .extend(faults.iter().cloned());
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    pub fn clear_received(&self) {
        self.state.lock().unwrap().received.clear();
    }

    /// Every request, as golden files show them, separated by blank lines.
    pub fn golden(&self) -> String {
        self.received()
            .iter()
            .map(Received::golden)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The statuses of a commit, oldest first.
    pub fn statuses(&self, sha: &str) -> Vec<Value> {
        self.state
            .lock()
            .unwrap()
            .statuses
            .get(sha)
            .cloned()
            .unwrap_or_default()
    }

    /// The comments of an issue, oldest first.
    pub fn comments(&self, issue: u64) -> Vec<Value> {
        self.state
            .lock()
            .unwrap()
            .comments
            .get(&issue)
            .cloned()
            .unwrap_or_default()
    }

    /// A comment someone else wrote, as a thread has them.
    pub fn seed_comment(&self, issue: u64, body: &str) -> u64 {
        let mut st = self.state.lock().unwrap();
        st.next_id += 1;
        let id = st.next_id;
        let c = comment_json(&self.base, &self.owner, &self.repo, issue, id, body);
        st.comments.entry(issue).or_default().push(c);
        id
    }

    /// A status someone else set.
    pub fn seed_status(&self, sha: &str, context: &str, state: &str, description: &str) {
        let mut st = self.state.lock().unwrap();
        st.next_id += 1;
        let id = st.next_id;
        let s = status_json(id, context, state, Some(description), None);
        st.statuses.entry(sha.to_string()).or_default().push(s);
    }
}

impl Drop for FakeGitHub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Server {
    base: String,
    token: String,
    prefix: String,
    state: Arc<Mutex<State>>,
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

fn reply(status: u16, body: Value) -> Reply {
    Reply {
        status,
        headers: vec![],
        body: body.to_string(),
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn status_json(
    id: u64,
    context: &str,
    state: &str,
    description: Option<&str>,
    target_url: Option<&str>,
) -> Value {
    json!({
        "id": id,
        "node_id": format!("SC_{id}"),
        "state": state,
        "description": description,
        "target_url": target_url,
        "context": context,
        "created_at": format!("2026-12-01T00:00:{:02}Z", id % 60),
        "updated_at": format!("2026-12-01T00:00:{:02}Z", id % 60),
        "creator": {"login": "github-actions[bot]", "id": 41898282, "type": "Bot"}
    })
}

fn comment_json(base: &str, owner: &str, repo: &str, issue: u64, id: u64, body: &str) -> Value {
    json!({
        "id": id,
        "node_id": format!("IC_{id}"),
        "url": format!("{base}/repos/{owner}/{repo}/issues/comments/{id}"),
        "html_url": format!("https://github.com/{owner}/{repo}/issues/{issue}#issuecomment-{id}"),
        "issue_url": format!("{base}/repos/{owner}/{repo}/issues/{issue}"),
        "body": body,
        "user": {"login": "github-actions[bot]", "id": 41898282, "type": "Bot"},
        "created_at": "2026-12-01T00:00:00Z",
        "updated_at": "2026-12-01T00:00:00Z",
        "author_association": "NONE"
    })
}

/// `per_page` (default 30, at most 100) and `page` (default 1) of a query.
fn paging(query: &str) -> (usize, usize) {
    let get = |k: &str| {
        query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(key, _)| *key == k)
            .and_then(|(_, v)| v.parse::<usize>().ok())
    };
    (
        get("per_page").unwrap_or(30).clamp(1, 100),
        get("page").unwrap_or(1).max(1),
    )
}

impl Server {
    fn serve(&self, conn: TcpStream) {
        let _ = conn.set_read_timeout(Some(std::time::Duration::from_secs(10)));
        let mut r = BufReader::new(match conn.try_clone() {
            Ok(c) => c,
            Err(_) => return,
        });
        let mut line = String::new();
        if r.read_line(&mut line).is_err() || line.trim().is_empty() {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let target = parts.next().unwrap_or("").to_string();
        let mut headers = vec![];
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).is_err() {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let len = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse::<usize>().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        let req = Received {
            method,
            target,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        };
        let mut reply = self.answer(&req);
        let mut st = self.state.lock().unwrap();
        st.received.push(req);
        st.remaining = st.remaining.saturating_sub(1);
        let has = |reply: &Reply, k: &str| reply.headers.iter().any(|(h, _)| h == k);
        for (k, v) in [
            ("x-ratelimit-limit", "5000".to_string()),
            ("x-ratelimit-remaining", st.remaining.to_string()),
            ("x-ratelimit-reset", (now() + 3600).to_string()),
            ("x-ratelimit-used", (5000 - st.remaining).to_string()),
            ("x-ratelimit-resource", "core".to_string()),
        ] {
            if !has(&reply, k) {
                reply.headers.push((k.into(), v));
            }
        }
        drop(st);
        let mut out = format!(
            "HTTP/1.1 {} {}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\nx-github-api-version-selected: 2022-11-28\r\n",
            reply.status,
            reason(reply.status),
            reply.body.len()
        );
        for (k, v) in &reply.headers {
            out += &format!("{k}: {v}\r\n");
        }
        out += "\r\n";
        out += &reply.body;
        let mut conn = conn;
        let _ = conn.write_all(out.as_bytes());
        let _ = conn.flush();
    }

    fn answer(&self, req: &Received) -> Reply {
        if req.header("authorization") != Some(format!("Bearer {}", self.token).as_str()) {
            return reply(
                401,
                json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"}),
            );
        }
        let fault = self.state.lock().unwrap().faults.pop_front();
        if let Some(f) = fault {
            return match f {
                Fault::BadGateway => Reply {
                    status: 502,
                    headers: vec![],
                    body: "<html><body><h1>502 Bad Gateway</h1></body></html>".into(),
                },
                Fault::RateLimited { in_secs } => Reply {
                    status: 403,
                    headers: vec![
                        ("x-ratelimit-remaining".into(), "0".into()),
                        ("x-ratelimit-reset".into(), (now() + in_secs).to_string()),
                        ("x-ratelimit-used".into(), "5000".into()),
                    ],
                    body: json!({"message": "API rate limit exceeded for installation ID 1.", "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api", "status": "403"}).to_string(),
                },
                Fault::SecondaryRateLimit { retry_after } => Reply {
                    status: 403,
                    headers: vec![("retry-after".into(), retry_after.to_string())],
                    body: json!({"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.", "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits", "status": "403"}).to_string(),
                },
                Fault::Forbidden => reply(
                    403,
                    json!({"message": "Resource not accessible by integration", "documentation_url": "https://docs.github.com/rest/commits/statuses#create-a-commit-status", "status": "403"}),
                ),
                Fault::NotFound => reply(
                    404,
                    json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"}),
                ),
            };
        }
        let (path, query) = req.target.split_once('?').unwrap_or((&req.target, ""));
        let Some(rest) = path.strip_prefix(&self.prefix) else {
            return reply(404, json!({"message": "Not Found", "status": "404"}));
        };
        let segs: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
        let mut st = self.state.lock().unwrap();
        match (req.method.as_str(), segs.as_slice()) {
            ("POST", ["statuses", sha]) => {
                let Ok(b) = serde_json::from_str::<Value>(&req.body) else {
                    return reply(400, json!({"message": "Problems parsing JSON"}));
                };
                let state = b["state"].as_str().unwrap_or("");
                if !["error", "failure", "pending", "success"].contains(&state) {
                    return reply(
                        422,
                        json!({"message": "Validation Failed", "errors": [{"resource": "Status", "code": "custom", "field": "state", "message": "state is not included in the list"}]}),
                    );
                }
                if b["description"]
                    .as_str()
                    .is_some_and(|d| d.chars().count() > 140)
                {
                    return reply(
                        422,
                        json!({"message": "Validation Failed", "errors": [{"resource": "Status", "code": "custom", "field": "description", "message": "description is too long (maximum is 140 characters)"}]}),
                    );
                }
                st.next_id += 1;
                let id = st.next_id;
                let s = status_json(
                    id,
                    b["context"].as_str().unwrap_or("default"),
                    state,
                    b["description"].as_str(),
                    b["target_url"].as_str(),
                );
                st.statuses
                    .entry(sha.to_string())
                    .or_default()
                    .push(s.clone());
                reply(201, s)
            }
            ("GET", ["commits", sha, "statuses"]) => {
                let all: Vec<Value> = st
                    .statuses
                    .get(*sha)
                    .map(|v| v.iter().rev().cloned().collect())
                    .unwrap_or_default();
                self.page(path, query, all, Value::Array)
            }
            ("GET", ["commits", sha, "status"]) => {
                let mut latest: BTreeMap<String, Value> = BTreeMap::new();
                for s in st.statuses.get(*sha).into_iter().flatten() {
                    latest.insert(s["context"].as_str().unwrap_or("").to_string(), s.clone());
                }
                let all: Vec<Value> = latest.into_values().collect();
                let states: Vec<&str> = all.iter().filter_map(|s| s["state"].as_str()).collect();
                let combined = if states.iter().any(|s| *s == "error" || *s == "failure") {
                    "failure"
                } else if states.is_empty() || states.contains(&"pending") {
                    "pending"
                } else {
                    "success"
                };
                let total = all.len();
                let sha = sha.to_string();
                self.page(path, query, all, move |items| {
                    json!({
                        "state": combined,
                        "statuses": items,
                        "sha": sha,
                        "total_count": total,
                        "repository": {"full_name": "fake"},
                        "commit_url": "",
                        "url": ""
                    })
                })
            }
            ("GET", ["issues", n, "comments"]) => {
                let n: u64 = n.parse().unwrap_or(0);
                let all = st.comments.get(&n).cloned().unwrap_or_default();
                self.page(path, query, all, Value::Array)
            }
            ("POST", ["issues", n, "comments"]) => {
                let n: u64 = n.parse().unwrap_or(0);
                let Some(body) = serde_json::from_str::<Value>(&req.body)
                    .ok()
                    .and_then(|b| b["body"].as_str().map(String::from))
                else {
                    return reply(422, json!({"message": "Validation Failed"}));
                };
                st.next_id += 1;
                let id = st.next_id;
                let (owner, repo) = self.owner_repo();
                let c = comment_json(&self.base, &owner, &repo, n, id, &body);
                st.comments.entry(n).or_default().push(c.clone());
                reply(201, c)
            }
            ("PATCH", ["issues", "comments", id]) => {
                let id: u64 = id.parse().unwrap_or(0);
                let Some(body) = serde_json::from_str::<Value>(&req.body)
                    .ok()
                    .and_then(|b| b["body"].as_str().map(String::from))
                else {
                    return reply(422, json!({"message": "Validation Failed"}));
                };
                for c in st.comments.values_mut().flatten() {
                    if c["id"].as_u64() == Some(id) {
                        c["body"] = Value::String(body);
                        c["updated_at"] = Value::String("2026-12-01T00:10:00Z".into());
                        return reply(200, c.clone());
                    }
                }
                reply(404, json!({"message": "Not Found", "status": "404"}))
            }
            _ => reply(404, json!({"message": "Not Found", "status": "404"})),
        }
    }

    fn owner_repo(&self) -> (String, String) {
        let mut p = self.prefix.trim_start_matches("/repos/").splitn(2, '/');
        (
            p.next().unwrap_or("").to_string(),
            p.next().unwrap_or("").to_string(),
        )
    }

    /// One page of `all`, with GitHub's `Link` header.
    fn page(
        &self,
        path: &str,
        query: &str,
        all: Vec<Value>,
        wrap: impl Fn(Vec<Value>) -> Value,
    ) -> Reply {
        let (per_page, page) = paging(query);
        let last = all.len().div_ceil(per_page).max(1);
        let items: Vec<Value> = all
            .into_iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .collect();
        let mut links = vec![];
        let url = |p: usize| format!("<{}{path}?per_page={per_page}&page={p}>", self.base);
        if page < last {
            links.push(format!("{}; rel=\"next\"", url(page + 1)));
            links.push(format!("{}; rel=\"last\"", url(last)));
        }
        if page > 1 {
            links.push(format!("{}; rel=\"first\"", url(1)));
            links.push(format!("{}; rel=\"prev\"", url(page - 1)));
        }
        let mut r = reply(200, wrap(items));
        if !links.is_empty() {
            r.headers.push(("link".into(), links.join(", ")));
        }
        r
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        422 => "Unprocessable Entity",
        502 => "Bad Gateway",
        _ => "",
    }
}
