//! Ports and HTTP: each group of tests has its own range of ports, so test
//! binaries running at the same time do not collide.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    ops::Range,
    sync::atomic::{AtomicU16, Ordering},
    time::Duration,
};

/// The k6 tests (tests/k6_*.rs, precedence.rs).
pub const K6_PORTS: Range<u16> = 22000..23000;
/// The reliability tests (bad_inputs.rs, interrupt_campaign.rs).
pub const RELIABILITY_PORTS: Range<u16> = 24000..25000;

/// A listener on the first free port from `first` up to the end of its
/// thousand (the ops and release-gate tests name their ports, 20000-20999).
pub fn listen_from(first: u16) -> TcpListener {
    let end = first - first % 1000 + 1000;
    (first..end)
        .find_map(|p| TcpListener::bind(("127.0.0.1", p)).ok())
        .unwrap_or_else(|| panic!("no free port in {first}-{}", end - 1))
}

/// A listener on a free port of `range`. Ports are handed out in turn (from
/// a per-process start), so parallel tests and a port just closed by
/// another test do not collide.
pub fn listen_in(range: Range<u16>) -> TcpListener {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let len = range.end - range.start;
    let start = (std::process::id() % 40) as u16 * (len / 40);
    for _ in 0..len {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let port = range.start + (start + n % len) % len;
        if let Ok(l) = TcpListener::bind(("127.0.0.1", port)) {
            return l;
        }
    }
    panic!("no free port in {}-{}", range.start, range.end - 1);
}

/// Whether nothing listens on `port` any more (after a run that used it).
pub fn port_is_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// The port of `l`, closed again: free for a server the test starts next.
pub fn free_port(l: TcpListener) -> u16 {
    l.local_addr().unwrap().port()
}

/// A stand-in API on `l`: answers `200 []` to every request until the test
/// process ends (enough for the health probe before k6 or API scripts).
pub fn stub_api(l: TcpListener) -> u16 {
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            let mut c = c;
            // The whole request head, so the client never sees a reset.
            let mut r = BufReader::new(c.try_clone().unwrap());
            let mut line = String::new();
            while r.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                line.clear();
            }
            let _ = c.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n[]",
            );
        }
    });
    port
}

pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// One HTTP/1.1 request to 127.0.0.1:port, connection closed after it.
pub fn http(method: &str, port: u16, path: &str, body: Option<&str>) -> std::io::Result<Answer> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let body = body.unwrap_or("");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)?;
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok(Answer {
        status,
        body: body.to_string(),
    })
}

/// 200 from `GET path` on 127.0.0.1:port.
pub fn answers_200(port: u16, path: &str) -> bool {
    http("GET", port, path, None).is_ok_and(|a| a.status == 200)
}
