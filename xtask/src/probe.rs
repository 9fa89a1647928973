//! Readiness and health probes, each in its component's own protocol:
//! HTTP (a small HTTP/1.1 client: plain HTTP on local or compose addresses is
//! all the probes and warm-up need), TCP connect, Redis PING. PostgreSQL and
//! Kafka probes live here too.

use std::{
    io::{Read, Write},
    net::{TcpStream, ToSocketAddrs},
    time::{Duration, Instant},
};

use anyhow::{bail, Context};

use crate::units::HttpUrl;

/// Largest response body we keep (probes and warm-up read small JSON).
const MAX_BODY: usize = 1024 * 1024;

#[derive(Clone, Debug)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub latency: Duration,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub fn connect(authority: &str, timeout: Duration) -> anyhow::Result<TcpStream> {
    let addrs: Vec<_> = authority
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {authority}"))?
        .collect();
    let mut last = None;
    for a in addrs {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(s) => {
                s.set_read_timeout(Some(timeout))?;
                s.set_write_timeout(Some(timeout))?;
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    match last {
        Some(e) => Err(e).with_context(|| format!("cannot connect to {authority}")),
        None => bail!("{authority} resolved to no address"),
    }
}

pub fn http_get(url: &HttpUrl, timeout: Duration) -> anyhow::Result<HttpResponse> {
    http_request("GET", url, None, timeout)
}

pub fn http_post_json(
    url: &HttpUrl,
    body: &str,
    timeout: Duration,
) -> anyhow::Result<HttpResponse> {
    http_request("POST", url, Some(body), timeout)
}

/// One request on a fresh connection (`Connection: close`), the whole
/// exchange bounded by `timeout`.
pub fn http_request(
    method: &str,
    url: &HttpUrl,
    body: Option<&str>,
    timeout: Duration,
) -> anyhow::Result<HttpResponse> {
    let started = Instant::now();
    let mut s = connect(&url.authority(), timeout)?;
    let host = if url.port() == 80 {
        url.host().to_string()
    } else {
        url.authority()
    };
    let mut req = format!("{method} {} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: cargo-xtask\r\nAccept: */*\r\nConnection: close\r\n", url.path());
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    if let Some(b) = body {
        req.push_str(b);
    }
    s.write_all(req.as_bytes())
        .with_context(|| format!("cannot send {method} {url}"))?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        if started.elapsed() > timeout {
            bail!("{method} {url}: no complete answer within {timeout:?}");
        }
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                raw.extend_from_slice(&buf[..n]);
                if raw.len() > MAX_BODY + 64 * 1024 {
                    break;
                }
                if let Some(resp) = parse_response(&raw)? {
                    if resp.complete {
                        return Ok(resp.finish(started.elapsed()));
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).with_context(|| format!("{method} {url}: read failed")),
        }
    }
    match parse_response(&raw)? {
        Some(resp) => Ok(resp.finish(started.elapsed())),
        None => bail!("{method} {url}: connection closed before a complete HTTP header"),
    }
}

struct Parsed {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    complete: bool,
}

impl Parsed {
    fn finish(self, latency: Duration) -> HttpResponse {
        HttpResponse {
            status: self.status,
            headers: self.headers,
            body: self.body,
            latency,
        }
    }
}

fn parse_response(raw: &[u8]) -> anyhow::Result<Option<Parsed>> {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let (Some(proto), Some(code)) = (parts.next(), parts.next()) else {
        bail!("malformed HTTP status line `{status_line}`")
    };
    if !proto.starts_with("HTTP/") {
        bail!("not an HTTP answer: `{status_line}`");
    }
    let status: u16 = code
        .parse()
        .with_context(|| format!("bad HTTP status `{code}`"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let body = &raw[end + 4..];
    let header = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let (body, complete) =
        if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            dechunk(body)
        } else if let Some(len) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
            (body[..body.len().min(len)].to_vec(), body.len() >= len)
        } else {
            (body.to_vec(), false)
        };
    Ok(Some(Parsed {
        status,
        headers,
        body,
        complete,
    }))
}

fn dechunk(mut b: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    loop {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else {
            return (out, false);
        };
        let size_str = String::from_utf8_lossy(&b[..eol]);
        let Ok(size) = usize::from_str_radix(size_str.split(';').next().unwrap_or("").trim(), 16)
        else {
            return (out, false);
        };
        if size == 0 {
            return (out, true);
        }
        let start = eol + 2;
        if b.len() < start + size + 2 {
            return (out, false);
        }
        out.extend_from_slice(&b[start..start + size]);
        b = &b[start + size + 2..];
    }
}

/// TCP connect within `timeout`.
pub fn tcp(authority: &str, timeout: Duration) -> anyhow::Result<Duration> {
    let t = Instant::now();
    connect(authority, timeout)?;
    Ok(t.elapsed())
}

/// Redis PING, answered `+PONG`.
pub fn redis_ping(authority: &str, timeout: Duration) -> anyhow::Result<Duration> {
    let t = Instant::now();
    let mut s = connect(authority, timeout)?;
    s.write_all(b"*1\r\n$4\r\nPING\r\n")
        .with_context(|| format!("cannot send PING to {authority}"))?;
    let mut buf = [0u8; 64];
    let n = s
        .read(&mut buf)
        .with_context(|| format!("no answer to PING from {authority}"))?;
    let answer = String::from_utf8_lossy(&buf[..n]);
    if !answer.starts_with("+PONG") {
        bail!(
            "{authority} answered PING with `{}` (not Redis, or it needs AUTH)",
            answer.trim()
        );
    }
    Ok(t.elapsed())
}

/// Polls `check` until it succeeds or the deadline passes, at most
/// `interval` apart, showing progress. Interrupts end the wait at once.
pub fn wait_until<T>(
    what: &str,
    deadline: Duration,
    interval: Duration,
    verbosity: crate::runner::Verbosity,
    mut check: impl FnMut() -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let mut waiting = crate::runner::Waiting::new(what, deadline, verbosity);
    let mut last_err;
    loop {
        crate::runner::check_interrupt()?;
        let t = Instant::now();
        match check() {
            Ok(v) => return Ok(v),
            Err(e) => last_err = e,
        }
        if waiting.expired() {
            break;
        }
        waiting.tick();
        crate::runner::sleep(interval.saturating_sub(t.elapsed()))?;
    }
    Err(last_err).with_context(|| format!("{what}: not ready after {}s", deadline.as_secs()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A one-shot server answering `reply` to the first connection.
    fn serve_once(reply: &'static [u8]) -> String {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            let (mut c, _) = l.accept().unwrap();
            let mut buf = [0u8; 4096];
            let _ = c.read(&mut buf);
            c.write_all(reply).unwrap();
        });
        addr
    }

    #[test]
    fn http_get_reads_status_headers_and_body() {
        let addr =
            serve_once(b"HTTP/1.1 200 OK\r\nX-Instance: app-1\r\nContent-Length: 2\r\n\r\n[]");
        let r = http_get(
            &format!("http://{addr}/api/concerts").parse().unwrap(),
            Duration::from_secs(2),
        )
        .unwrap();
        assert_eq!(
            (r.status, r.header("x-instance"), r.text().as_str()),
            (200, Some("app-1"), "[]")
        );
    }

    #[test]
    fn http_reads_chunked_and_close_delimited_bodies() {
        let addr = serve_once(b"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nbusy\r\n0\r\n\r\n");
        let r = http_get(
            &format!("http://{addr}/").parse().unwrap(),
            Duration::from_secs(2),
        )
        .unwrap();
        assert_eq!(
            (r.status, r.text().as_str(), r.is_success()),
            (503, "busy", false)
        );
        let addr = serve_once(b"HTTP/1.0 200 OK\r\n\r\nhello");
        let r = http_get(
            &format!("http://{addr}/").parse().unwrap(),
            Duration::from_secs(2),
        )
        .unwrap();
        assert_eq!(r.text(), "hello");
    }

    #[test]
    fn refused_connection_is_an_error_naming_the_address() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        drop(l);
        let e = tcp(&addr, Duration::from_millis(500)).unwrap_err();
        assert!(format!("{e:#}").contains(&addr));
    }

    #[test]
    fn redis_ping_wants_pong() {
        let addr = serve_once(b"+PONG\r\n");
        redis_ping(&addr, Duration::from_secs(2)).unwrap();
        let addr = serve_once(b"-NOAUTH Authentication required.\r\n");
        let e = redis_ping(&addr, Duration::from_secs(2))
            .unwrap_err()
            .to_string();
        assert!(e.contains("NOAUTH"), "{e}");
    }
}
