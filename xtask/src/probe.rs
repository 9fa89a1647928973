//! Readiness and health probes, each in its component's own protocol:
//! HTTP (a small HTTP/1.1 client: plain HTTP on local or compose addresses is
//! all the probes and warm-up need), TCP connect, Redis PING, PostgreSQL
//! (SSLRequest) and Kafka (ApiVersions). `check` picks one by kind.

use std::{
    io::{Read, Write},
    net::{TcpStream, ToSocketAddrs},
    time::{Duration, Instant},
};

use anyhow::{bail, Context};

use crate::{config::ProbeKind, units::HttpUrl};

/// Largest response body we keep (probes and warm-up read small JSON).
const MAX_BODY: usize = 1024 * 1024;

#[derive(Clone, Debug)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names lower-cased (nothing reads them today: the service's
    /// answers say nothing the xtask needs, e.g. no replica name).
    #[cfg_attr(not(test), allow(dead_code))]
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub latency: Duration,
}

impl HttpResponse {
    #[cfg(test)]
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
    #[cfg(test)]
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

/// More header lines than any server we probe sends (nginx: about ten).
const MAX_HEADERS: usize = 100;

/// The head by httparse (fuzzed upstream; strict about what HTTP/1.x
/// allows), the body framed by Content-Length, chunks or the close.
/// None: the head is not complete yet.
fn parse_response(raw: &[u8]) -> anyhow::Result<Option<Parsed>> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut head = httparse::Response::new(&mut slots);
    let end = match head.parse(raw) {
        Ok(httparse::Status::Complete(end)) => end,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => {
            let first = raw.split(|b| *b == b'\n').next().unwrap_or_default();
            bail!(
                "not an HTTP answer ({e}): `{}`",
                crate::units::quote(String::from_utf8_lossy(first).trim_end())
            )
        }
    };
    // A complete head always has its status code.
    let status = head.code.context("an HTTP answer without a status code")?;
    let headers: Vec<(String, String)> = head
        .headers
        .iter()
        .map(|h| {
            let value = String::from_utf8_lossy(h.value).trim().to_string();
            (h.name.to_ascii_lowercase(), value)
        })
        .collect();
    let body = &raw[end..];
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

/// A chunked body, as far as it has come; true once the last chunk is in.
fn dechunk(mut b: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    loop {
        let Ok(httparse::Status::Complete((start, size))) = httparse::parse_chunk_size(b) else {
            // Partial, or a size line that is not one: not complete.
            return (out, false);
        };
        if size == 0 {
            return (out, true);
        }
        let Some(end) = usize::try_from(size)
            .ok()
            .and_then(|n| start.checked_add(n))
        else {
            return (out, false);
        };
        if b.len() < end + 2 {
            return (out, false);
        }
        out.extend_from_slice(&b[start..end]);
        b = &b[end + 2..];
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

/// PostgreSQL's SSLRequest code (protocol 3, "Message Formats").
const PG_SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// PostgreSQL: an SSLRequest, the first message any client may send before
/// logging in. A server answers one byte: `S` (TLS offered) or `N` (not).
/// Needs no credentials, and the server logs nothing for it.
pub fn postgres(authority: &str, timeout: Duration) -> anyhow::Result<(Duration, String)> {
    let t = Instant::now();
    let mut s = connect(authority, timeout)?;
    s.write_all(&PG_SSL_REQUEST)
        .with_context(|| format!("cannot send an SSLRequest to {authority}"))?;
    let mut answer = [0u8; 1];
    match s.read(&mut answer) {
        Ok(0) => bail!(
            "{authority} closed the connection without answering the SSLRequest (not PostgreSQL?)"
        ),
        Ok(_) => {}
        Err(e) => {
            return Err(e).with_context(|| format!("no answer to the SSLRequest from {authority}"))
        }
    }
    let detail = match answer[0] {
        b'S' => "SSLRequest answered S (TLS offered)",
        b'N' => "SSLRequest answered N (no TLS)",
        other => bail!(
            "{authority} answered the SSLRequest with byte 0x{other:02x}, not S or N (not PostgreSQL?)"
        ),
    };
    Ok((t.elapsed(), detail.into()))
}

/// The correlation id our ApiVersions request carries ("xtk1"); each probe
/// is a fresh connection, so one fixed id is enough to tell a real answer.
pub const KAFKA_CORRELATION_ID: i32 = 0x7874_6b31;

/// Kafka ApiVersions v0 (api key 18): size, api key, version, correlation
/// id, client id. Every broker answers v0, older ones included.
fn kafka_api_versions_request() -> Vec<u8> {
    let client = b"cargo-xtask";
    let mut body = Vec::new();
    body.extend_from_slice(&18i16.to_be_bytes());
    body.extend_from_slice(&0i16.to_be_bytes());
    body.extend_from_slice(&KAFKA_CORRELATION_ID.to_be_bytes());
    body.extend_from_slice(&(client.len() as i16).to_be_bytes());
    body.extend_from_slice(client);
    let mut msg = (body.len() as i32).to_be_bytes().to_vec();
    msg.extend(body);
    msg
}

/// Kafka: an ApiVersions request, answered with our correlation id. The
/// detail gives the number of APIs the broker lists (or its error code).
pub fn kafka(authority: &str, timeout: Duration) -> anyhow::Result<(Duration, String)> {
    let t = Instant::now();
    let mut s = connect(authority, timeout)?;
    s.write_all(&kafka_api_versions_request())
        .with_context(|| format!("cannot send ApiVersions to {authority}"))?;
    let mut size = [0u8; 4];
    s.read_exact(&mut size)
        .with_context(|| format!("no answer to ApiVersions from {authority} (not Kafka?)"))?;
    let size = i32::from_be_bytes(size);
    if !(4..=1024 * 1024).contains(&size) {
        bail!("{authority} answered ApiVersions with a frame of {size} bytes (not Kafka?)");
    }
    let mut frame = vec![0u8; size as usize];
    s.read_exact(&mut frame)
        .with_context(|| format!("{authority} cut its ApiVersions answer short"))?;
    let correlation = i32::from_be_bytes(frame[..4].try_into().unwrap());
    if correlation != KAFKA_CORRELATION_ID {
        bail!(
            "{authority} answered ApiVersions with correlation id {correlation}, not {KAFKA_CORRELATION_ID} (not Kafka?)"
        );
    }
    let body = &frame[4..];
    let error = body.get(..2).map(|b| i16::from_be_bytes([b[0], b[1]]));
    let apis = body
        .get(2..6)
        .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    let detail = match (error, apis) {
        (Some(0), Some(n)) => format!("ApiVersions answered: {n} APIs"),
        (Some(code), _) => format!("ApiVersions answered with error code {code}"),
        (None, _) => "ApiVersions answered".into(),
    };
    Ok((t.elapsed(), detail))
}

/// A component that answered in its own protocol.
#[derive(Clone, Debug)]
pub struct Health {
    pub latency: Duration,
    /// What it answered: `HTTP 200`, `PONG`, ...
    pub detail: String,
}

/// Probes one component in its own protocol. `address` is a URL for
/// `http`, `host:port` for the others. Any error means DOWN.
pub fn check(kind: ProbeKind, address: &str, timeout: Duration) -> anyhow::Result<Health> {
    let (latency, detail) = match kind {
        ProbeKind::Http => {
            let url: HttpUrl = address.parse()?;
            let r = http_get(&url, timeout)?;
            if !r.is_success() {
                bail!("HTTP {} from {url}", r.status);
            }
            (r.latency, format!("HTTP {}", r.status))
        }
        ProbeKind::Tcp => (tcp(address, timeout)?, "TCP connect".into()),
        ProbeKind::Redis => (redis_ping(address, timeout)?, "PING answered PONG".into()),
        ProbeKind::Postgres => postgres(address, timeout)?,
        ProbeKind::Kafka => kafka(address, timeout)?,
    };
    Ok(Health { latency, detail })
}

/// What one try of [`wait_until`] found, besides "not yet" (an `Err`).
pub enum Try<T> {
    /// Ready: the wait ends with this.
    Ready(T),
    /// Never will be (a service died, a healthcheck failed): the wait ends
    /// at once with this error, before the deadline.
    GiveUp(anyhow::Error),
}

/// The fixture reader the end-to-end tests use too.
#[cfg(test)]
#[path = "../tests/common/fixtures.rs"]
mod test_fixtures;

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
        let addr = serve_once(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n[]",
        );
        let r = http_get(
            &format!("http://{addr}/api/concerts").parse().unwrap(),
            Duration::from_secs(2),
        )
        .unwrap();
        assert_eq!(
            (r.status, r.header("content-type"), r.text().as_str()),
            (200, Some("application/json"), "[]")
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
    fn a_head_is_parsed_once_complete_and_garbage_is_refused() {
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Le")
            .unwrap()
            .is_none());
        let p = parse_response(b"HTTP/1.1 204\r\nX-A:  b \r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(
            (p.status, p.headers[0].clone()),
            (204, ("x-a".into(), "b".into()))
        );
        // A chunk extension, and a body cut in the middle of a chunk.
        let p = parse_response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;x=y\r\nok\r\n3\r\nab",
        )
        .unwrap()
        .unwrap();
        assert_eq!((p.body.as_slice(), p.complete), (&b"ok"[..], false));
        let e = parse_response(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.starts_with("not an HTTP answer") && e.contains("SSH-2.0"),
            "{e}"
        );
        let e = parse_response(b"HTTP/1.1 2000 OK\r\n\r\n")
            .err()
            .unwrap()
            .to_string();
        assert!(e.starts_with("not an HTTP answer"), "{e}");
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

    /// A one-shot server on a port of this branch's range (20900-20999): it
    /// hands the first request to `check` and answers `reply`.
    fn serve_in_range(reply: Vec<u8>, check: impl FnOnce(&[u8]) + Send + 'static) -> String {
        let l = (20900..21000)
            .find_map(|p| TcpListener::bind(("127.0.0.1", p)).ok())
            .expect("a free port in 20900-20999");
        let addr = l.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            let (mut c, _) = l.accept().unwrap();
            let mut buf = [0u8; 4096];
            let n = c.read(&mut buf).unwrap_or(0);
            check(&buf[..n]);
            let _ = c.write_all(&reply);
        });
        addr
    }

    fn kafka_fixture() -> Vec<u8> {
        super::test_fixtures::kafka_api_versions_response()
    }

    #[test]
    fn kafka_answer_with_our_correlation_id_is_up() {
        let addr = serve_in_range(kafka_fixture(), |req| {
            // size, api key 18 (ApiVersions), version 0, our correlation id
            assert_eq!(&req[..4], &((req.len() - 4) as i32).to_be_bytes());
            assert_eq!(&req[4..8], &[0, 18, 0, 0]);
            assert_eq!(&req[8..12], &KAFKA_CORRELATION_ID.to_be_bytes());
        });
        let h = check(ProbeKind::Kafka, &addr, Duration::from_secs(2)).unwrap();
        assert_eq!(h.detail, "ApiVersions answered: 5 APIs");
    }

    #[test]
    fn kafka_answer_with_another_correlation_id_is_down() {
        let mut reply = kafka_fixture();
        reply[4..8].copy_from_slice(&7i32.to_be_bytes());
        let addr = serve_in_range(reply, |_| {});
        let e = check(ProbeKind::Kafka, &addr, Duration::from_secs(2)).unwrap_err();
        assert!(format!("{e:#}").contains("correlation id 7, not"), "{e:#}");
        // An HTTP server on a Kafka port: a frame size nobody would send.
        let addr = serve_in_range(b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec(), |_| {});
        let e = check(ProbeKind::Kafka, &addr, Duration::from_secs(2)).unwrap_err();
        assert!(format!("{e:#}").contains("not Kafka?"), "{e:#}");
    }

    #[test]
    fn postgres_answers_s_or_n_to_an_ssl_request() {
        let addr = serve_in_range(b"N".to_vec(), |req| assert_eq!(req, PG_SSL_REQUEST));
        let h = check(ProbeKind::Postgres, &addr, Duration::from_secs(2)).unwrap();
        assert_eq!(h.detail, "SSLRequest answered N (no TLS)");
        let addr = serve_in_range(b"+PONG\r\n".to_vec(), |_| {});
        let e = check(ProbeKind::Postgres, &addr, Duration::from_secs(2)).unwrap_err();
        assert!(format!("{e:#}").contains("byte 0x2b, not S or N"), "{e:#}");
        let addr = serve_in_range(vec![], |_| {});
        let e = check(ProbeKind::Postgres, &addr, Duration::from_secs(2)).unwrap_err();
        assert!(format!("{e:#}").contains("closed the connection"), "{e:#}");
    }

    #[test]
    fn http_component_is_up_only_on_2xx_with_the_code_shown() {
        let addr = serve_in_range(
            b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n".to_vec(),
            |_| {},
        );
        let h = check(
            ProbeKind::Http,
            &format!("http://{addr}/health"),
            Duration::from_secs(2),
        )
        .unwrap();
        assert_eq!(h.detail, "HTTP 204");
        let addr = serve_in_range(
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n".to_vec(),
            |_| {},
        );
        let e = check(
            ProbeKind::Http,
            &format!("http://{addr}/health"),
            Duration::from_secs(2),
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("HTTP 503"), "{e}");
    }
}
