//! Value types parsed once at the edge (flags, environment, xtask.toml):
//! durations, rates, HTTP URLs, hosts, run stamps. Everything past the edge
//! uses these types, so a value that got this far is bounded and cannot be
//! read by a tool as an option.

use std::{fmt, str::FromStr};

use anyhow::{bail, Context};
use serde::{Deserialize, Deserializer, Serialize};

/// A duration written as `90s`, `2m`, `1m30s`, `500ms`, or a bare number of
/// seconds (the legacy `*_SEC` variables are bare numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration(pub std::time::Duration);

impl Duration {
    pub const fn secs(s: u64) -> Duration {
        Duration(std::time::Duration::from_secs(s))
    }
    pub const fn millis(ms: u64) -> Duration {
        Duration(std::time::Duration::from_millis(ms))
    }
    pub fn std(self) -> std::time::Duration {
        self.0
    }
    /// The form k6 and Go accept: `90s`, `1500ms`, never with spaces.
    pub fn to_go_string(self) -> String {
        let ms = self.0.as_millis();
        if ms.is_multiple_of(1000) {
            format!("{}s", ms / 1000)
        } else {
            format!("{ms}ms")
        }
    }
}

/// The longest duration anything takes: no run, deadline or pause of ours
/// is longer, and sums of two of them stay far from overflowing.
pub const MAX_DURATION: Duration = Duration::secs(30 * 24 * 3600);

impl Duration {
    /// `a × n`, bounded like a parsed duration (the legacy attempts × sleep).
    pub fn times(self, n: u32) -> Option<Duration> {
        self.0
            .checked_mul(n)
            .map(Duration)
            .filter(|d| *d <= MAX_DURATION)
    }
}

impl FromStr for Duration {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Duration> {
        let t = s.trim();
        let shown = quote(s);
        if t.is_empty() {
            bail!("empty duration: write e.g. `90s`, `2m` or `500ms`");
        }
        let d = if let Ok(secs) = t.parse::<f64>() {
            if !(secs.is_finite() && secs >= 0.0) {
                bail!("bad duration `{shown}`: must be zero or more seconds");
            }
            // Checked before the conversion, which panics on overflow.
            if secs > MAX_DURATION.0.as_secs_f64() {
                bail!("duration `{shown}` is too long: at most 30 days");
            }
            std::time::Duration::from_secs_f64(secs)
        } else {
            // humantime rejects `1m30s` without a space only in old versions; accept both.
            humantime::parse_duration(t).map_err(|e| {
                anyhow::anyhow!("bad duration `{shown}` ({e}): write e.g. `90s`, `2m` or `500ms`")
            })?
        };
        if d > MAX_DURATION.0 {
            bail!("duration `{shown}` is too long: at most 30 days");
        }
        // k6 and our deadlines count whole milliseconds: `0.0001` would
        // pass a "> 0" check and reach k6 as `0s`.
        if d.subsec_nanos() % 1_000_000 != 0 {
            bail!("duration `{shown}` is finer than a millisecond: durations are whole milliseconds (e.g. `1ms`, `0.25`)");
        }
        Ok(Duration(d))
    }
}

/// A duration that must be more than zero: deadlines, timeouts, the k6
/// run's length. Zero would mean "fail at once" (or, for k6, run nothing).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct NonZeroDuration(Duration);

impl NonZeroDuration {
    /// For built-in defaults; `s` must not be 0.
    pub const fn secs(s: u64) -> NonZeroDuration {
        assert!(s > 0);
        NonZeroDuration(Duration::secs(s))
    }
    pub fn get(self) -> Duration {
        self.0
    }
    pub fn std(self) -> std::time::Duration {
        self.0.std()
    }
}

impl From<NonZeroDuration> for Duration {
    fn from(d: NonZeroDuration) -> Duration {
        d.0
    }
}

impl FromStr for NonZeroDuration {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<NonZeroDuration> {
        let d: Duration = s.parse()?;
        if d.0.is_zero() {
            bail!(
                "duration `{}` must be longer than 0s (e.g. `30s`)",
                quote(s)
            );
        }
        Ok(NonZeroDuration(d))
    }
}

impl fmt::Display for NonZeroDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<'de> Deserialize<'de> for NonZeroDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_go_string())
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A fraction in `0..=1` (failure rate, checks rate, ...).
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub struct Rate(f64);

impl Rate {
    pub fn new(v: f64) -> anyhow::Result<Rate> {
        if !(0.0..=1.0).contains(&v) {
            bail!("rate {v} is out of range: a rate is a fraction from 0 to 1 (e.g. 0.02 for 2%)");
        }
        Ok(Rate(v))
    }
    pub fn get(self) -> f64 {
        self.0
    }
}

impl FromStr for Rate {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Rate> {
        let v: f64 = s
            .trim()
            .parse()
            .with_context(|| format!("bad rate `{s}`: write a fraction from 0 to 1, e.g. 0.98"))?;
        Rate::new(v)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(d)?;
        Rate::new(v).map_err(serde::de::Error::custom)
    }
}

/// How many app replicas run behind the load balancer: 1 to 32 (the local
/// environment's fixed ports and the balancer's upstream list are sized for
/// 32). Parsed here from flags, legacy variables, xtask.toml and the
/// environment record, so nothing past the edge checks the bound again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Replicas(u32);

impl Replicas {
    pub const ONE: Replicas = Replicas(1);
    pub const MAX: u32 = 32;

    pub fn new(n: u32) -> anyhow::Result<Replicas> {
        if !(1..=Replicas::MAX).contains(&n) {
            bail!("{n} app replicas: choose 1 to {}", Replicas::MAX);
        }
        Ok(Replicas(n))
    }
    pub fn get(self) -> u32 {
        self.0
    }
}

impl FromStr for Replicas {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Replicas> {
        let n: u32 = s.trim().parse().map_err(|_| {
            anyhow::anyhow!(
                "bad replica count `{}`: write a whole number from 1 to {}",
                quote(s),
                Replicas::MAX
            )
        })?;
        Replicas::new(n)
    }
}

impl fmt::Display for Replicas {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl<'de> Deserialize<'de> for Replicas {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = u32::deserialize(d)?;
        Replicas::new(n).map_err(serde::de::Error::custom)
    }
}

/// How many k6 processes make the load (`--generators`, `[k6] generators`):
/// 1 to 32, each with its own execution segment. Bounded here, at the edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Generators(u32);

impl Generators {
    pub const ONE: Generators = Generators(1);
    pub const MAX: u32 = 32;

    pub fn new(n: u32) -> anyhow::Result<Generators> {
        if !(1..=Generators::MAX).contains(&n) {
            bail!("{n} k6 generators: choose 1 to {}", Generators::MAX);
        }
        Ok(Generators(n))
    }
    pub fn get(self) -> u32 {
        self.0
    }
}

impl FromStr for Generators {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Generators> {
        let n: u32 = s.trim().parse().map_err(|_| {
            anyhow::anyhow!(
                "bad generator count `{}`: write a whole number from 1 to {}",
                quote(s),
                Generators::MAX
            )
        })?;
        Generators::new(n)
    }
}

impl fmt::Display for Generators {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl<'de> Deserialize<'de> for Generators {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = u32::deserialize(d)?;
        Generators::new(n).map_err(serde::de::Error::custom)
    }
}

/// A plain-HTTP URL, the only kind the built-in probes speak (local services,
/// load balancers on loopback or a compose network).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpUrl {
    raw: String,
    host: String,
    port: u16,
    /// Path and query, always starting with `/`.
    path: String,
}

impl HttpUrl {
    pub fn host(&self) -> &str {
        &self.host
    }
    pub fn port(&self) -> u16 {
        self.port
    }
    pub fn path(&self) -> &str {
        &self.path
    }
    pub fn as_str(&self) -> &str {
        &self.raw
    }
    /// `host:port`, for TCP connects.
    pub fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
    /// The same origin with another path: `http://h:p` + `/api/concerts`.
    pub fn with_path(&self, path: &str) -> HttpUrl {
        let origin = self.origin();
        format!("{origin}{path}")
            .parse()
            .expect("origin plus an absolute path is a valid URL")
    }
    /// `http://host:port` with no path (as written: a default port stays implicit).
    pub fn origin(&self) -> String {
        let rest = &self.raw["http://".len()..];
        let end = rest.find('/').unwrap_or(rest.len());
        format!("http://{}", &rest[..end])
    }
}

impl FromStr for HttpUrl {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<HttpUrl> {
        let raw = s.trim().to_string();
        let shown = quote(s);
        // A space or control character would split the request line (and
        // the `-e API_HOST=...` k6 gets); nothing valid has one.
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            bail!("`{shown}`: a URL has no spaces or control characters");
        }
        let Some(rest) = raw.strip_prefix("http://") else {
            if raw.starts_with("https://") {
                bail!("`{shown}`: https is not supported by the built-in probes; use the plain-HTTP address of the service or load balancer");
            }
            bail!("`{shown}` is not an http:// URL (expected e.g. http://127.0.0.1:8080/api/concerts)");
        };
        let (authority, path) = match rest.find(['/', '?', '#']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if !path.starts_with('/') {
            bail!("`{shown}`: expected http://HOST[:PORT]/PATH");
        }
        if authority.is_empty() || authority.contains('@') {
            bail!("`{shown}`: expected http://HOST[:PORT]/PATH");
        }
        // One message (clap shows no context chain): the URL, then what is wrong.
        let (host, port) =
            split_authority(authority).map_err(|e| anyhow::anyhow!("`{shown}`: {e}"))?;
        let path = path.to_string();
        Ok(HttpUrl {
            raw,
            host: host.0,
            port: port.unwrap_or(80),
            path,
        })
    }
}

/// `HOST`, `HOST:PORT`, `[V6]` or `[V6]:PORT`, each part checked.
fn split_authority(a: &str) -> anyhow::Result<(Host, Option<u16>)> {
    let (host, port) = if let Some(h) = a.strip_prefix('[') {
        let (h, after) = h.split_once(']').context("unclosed IPv6 bracket")?;
        if !h.contains(':') {
            bail!("`[{h}]` is not an IPv6 address");
        }
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .with_context(|| format!("`{}` after `[{h}]`: expected `:PORT`", quote(p)))?,
            ),
        };
        (h, port)
    } else {
        match a.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (a, None),
        }
    };
    let port = port.map(parse_port).transpose()?;
    Ok((host.parse()?, port))
}

/// A TCP port we connect to: 1-65535 (0 means "any" only to `bind`).
pub fn parse_port(p: &str) -> anyhow::Result<u16> {
    match p.parse::<u16>() {
        Ok(0) => bail!("port 0 is not a port to connect to: give 1-65535"),
        Ok(n) => Ok(n),
        Err(_) => bail!("bad port `{}`: give 1-65535", quote(p)),
    }
}

/// clap's parser for port flags (`--redis-port`, `OPS_REDIS_PORT`, ...).
pub fn port(p: &str) -> Result<u16, String> {
    parse_port(p.trim()).map_err(|e| e.to_string())
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl<'de> Deserialize<'de> for HttpUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A host name or address to connect to: a DNS name (letters, digits,
/// `-`, `.`, `_`; not starting with `-`), an IPv4 address, or an IPv6
/// address (written without brackets here).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Host(pub String);

impl FromStr for Host {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Host> {
        let h = s.trim();
        let shown = quote(s);
        if h.is_empty() {
            bail!("missing host");
        }
        if h.contains(':') {
            let v6 = h.trim_start_matches('[').trim_end_matches(']');
            if v6.parse::<std::net::Ipv6Addr>().is_ok() {
                return Ok(Host(v6.to_string()));
            }
            bail!("host `{shown}` has a `:`: give the host alone (the port has its own option), or an IPv6 address");
        }
        let ok = h.len() <= 253
            && !h.starts_with(['-', '.'])
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
        if !ok {
            bail!(
                "bad host `{shown}`: a host is a name (letters, digits, `-`, `.`) or an IP address"
            );
        }
        Ok(Host(h.to_string()))
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `host:port` (IPv6 as `[::1]:6379`) with a real host and port 1-65535.
pub fn parse_host_port(s: &str) -> anyhow::Result<(String, u16)> {
    let shown = quote(s);
    let t = s.trim();
    if t.chars().any(|c| c.is_whitespace() || c.is_control()) {
        bail!("`{shown}`: expected HOST:PORT, e.g. 127.0.0.1:6379 (no spaces)");
    }
    let (host, port) = split_authority(t).map_err(|e| anyhow::anyhow!("`{shown}`: {e}"))?;
    let port =
        port.with_context(|| format!("`{shown}`: expected HOST:PORT, e.g. 127.0.0.1:6379"))?;
    Ok((host.0, port))
}

/// A run-folder name (`--run-stamp`, `*_RUN_STAMP`): letters, digits, `-`
/// and `_`, at most 64, never a name the reports folder uses itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunStamp(String);

/// Names beside run folders that are not runs: `latest/`, and in the
/// shared layouts the environment's state (`env/`), the legacy k6 area's
/// `distributed/`, the report schema.
const RESERVED_STAMPS: [&str; 4] = ["latest", "env", "distributed", "schema"];

impl FromStr for RunStamp {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<RunStamp> {
        if s.is_empty()
            || s.len() > 64
            || !s
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            bail!(
                "bad run stamp `{}`: use letters, digits, `-` and `_` only, at most 64 (e.g. 20261124T101500Z)",
                quote(s)
            );
        }
        if RESERVED_STAMPS.iter().any(|r| r.eq_ignore_ascii_case(s)) {
            bail!("run stamp `{s}` is reserved (the reports folder uses that name): choose another, e.g. 20261124T101500Z");
        }
        Ok(RunStamp(s.to_string()))
    }
}

impl fmt::Display for RunStamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Gradle `--tests` filter: a Java name pattern (`com.x.FooTest`,
/// `com.x.FooTest.method`, `*IntegrationTest`): identifiers joined by `.`,
/// with `*` wildcards. Nothing else, so no filter can be read by Gradle as
/// one of its options (`--init-script=...`).
pub fn check_test_filter(s: &str) -> anyhow::Result<()> {
    if s.trim().is_empty() {
        bail!("empty: name a test class, e.g. com.ticketrush.demo.queue.QueuePolicyTest");
    }
    let ident = |part: &str| {
        !part.is_empty()
            && !part.starts_with(|c: char| c.is_ascii_digit())
            && part
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '$' | '*'))
    };
    if !s.split('.').all(ident) {
        bail!(
            "`{}` is not a test class or pattern: write a Java name such as com.ticketrush.demo.queue.QueuePolicyTest, a method (Class.method) or a pattern with `*`",
            quote(s)
        );
    }
    Ok(())
}

/// A docker image reference (`grafana/k6:latest`, `reg:5000/a/b@sha256:...`):
/// it starts with a letter or digit, so `docker run` can never take it for
/// one of its options (`-v=/:/host`).
pub fn check_image_ref(s: &str) -> anyhow::Result<()> {
    let ok = s.len() <= 512
        && s.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/' | b':' | b'@')
        })
        && !s.contains("//");
    if !ok {
        bail!(
            "`{}` is not a docker image reference (e.g. grafana/k6:latest)",
            quote(s)
        );
    }
    Ok(())
}

/// A name handed to a tool as a value (a compose service, a docker network
/// or user, a Gradle task, a Debian package): starts with a letter or digit
/// (never `-`), then letters, digits and `extra`.
pub fn check_name(what: &str, s: &str, extra: &str) -> anyhow::Result<()> {
    let ok = !s.is_empty()
        && s.len() <= 255
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || extra.contains(c));
    if !ok {
        bail!(
            "bad {what} `{}`: use letters, digits and any of `{extra}`, starting with a letter or digit",
            quote(s)
        );
    }
    Ok(())
}

/// Characters each kind of name may have besides letters and digits.
pub const SERVICE_CHARS: &str = "_.-";
pub const NETWORK_CHARS: &str = "_.-";
pub const USER_CHARS: &str = "_.-:";
/// `:app:jar`-style paths start with `:`, so they are allowed first too.
pub const TASK_CHARS: &str = "_.-:";
pub const PACKAGE_CHARS: &str = "+.-:=~";

/// clap parsers for the same checks.
pub fn image_ref(s: &str) -> Result<String, String> {
    check_image_ref(s).map_err(|e| e.to_string())?;
    Ok(s.to_string())
}
pub fn service(s: &str) -> Result<String, String> {
    check_name("compose service", s, SERVICE_CHARS).map_err(|e| e.to_string())?;
    Ok(s.to_string())
}
pub fn network(s: &str) -> Result<String, String> {
    check_name("docker network", s, NETWORK_CHARS).map_err(|e| e.to_string())?;
    Ok(s.to_string())
}
pub fn docker_user(s: &str) -> Result<String, String> {
    check_name("docker user (UID:GID)", s, USER_CHARS).map_err(|e| e.to_string())?;
    Ok(s.to_string())
}

/// A message that must stay one line (an `error:` line): every control
/// character escaped, whatever put it there.
pub fn quote_lines(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let esc: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            esc
        })
        .collect()
}

/// A value as it may be echoed in a one-line message: control characters
/// (a newline above all) escaped, very long values cut.
pub fn quote(s: &str) -> String {
    const MAX: usize = 200;
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i == MAX {
            out.push_str("...");
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// `KEY=N`, as in `--min QUEUE_MONITOR=1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyCount {
    pub key: String,
    pub count: u64,
}

impl FromStr for KeyCount {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<KeyCount> {
        let (k, n) = s
            .split_once('=')
            .with_context(|| format!("`{s}`: expected KEY=N, e.g. QUEUE_MONITOR=1"))?;
        let count = n
            .trim()
            .parse()
            .with_context(|| format!("`{s}`: N must be a whole number"))?;
        Ok(KeyCount {
            key: k.trim().to_string(),
            count,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_accept_units_and_bare_seconds() {
        assert_eq!("90s".parse::<Duration>().unwrap(), Duration::secs(90));
        assert_eq!("2m".parse::<Duration>().unwrap(), Duration::secs(120));
        assert_eq!("1m30s".parse::<Duration>().unwrap(), Duration::secs(90));
        assert_eq!("2".parse::<Duration>().unwrap(), Duration::secs(2));
        assert_eq!("0.2".parse::<Duration>().unwrap(), Duration::millis(200));
        assert_eq!("500ms".parse::<Duration>().unwrap(), Duration::millis(500));
    }

    #[test]
    fn bad_durations_say_how_to_write_one() {
        for bad in ["", "ten seconds", "-3", "5 parsecs"] {
            let e = bad.parse::<Duration>().unwrap_err().to_string();
            assert!(e.contains("duration"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn k6_gets_durations_without_spaces() {
        assert_eq!(Duration::secs(90).to_go_string(), "90s");
        assert_eq!(Duration::millis(1500).to_go_string(), "1500ms");
    }

    #[test]
    fn replicas_are_one_to_thirty_two_from_text_toml_and_json() {
        assert_eq!("1".parse::<Replicas>().unwrap(), Replicas::ONE);
        assert_eq!("32".parse::<Replicas>().unwrap().get(), 32);
        let e = "33".parse::<Replicas>().unwrap_err().to_string();
        assert_eq!(e, "33 app replicas: choose 1 to 32");
        let e = "0".parse::<Replicas>().unwrap_err().to_string();
        assert_eq!(e, "0 app replicas: choose 1 to 32");
        let e = "-1".parse::<Replicas>().unwrap_err().to_string();
        assert!(e.starts_with("bad replica count `-1`"), "{e}");
        assert!(serde_json::from_str::<Replicas>("0").is_err());
        assert_eq!(serde_json::from_str::<Replicas>("3").unwrap().get(), 3);
        assert_eq!(serde_json::to_string(&Replicas::ONE).unwrap(), "1");
    }

    #[test]
    fn rates_are_fractions() {
        assert_eq!("0.98".parse::<Rate>().unwrap().get(), 0.98);
        assert!("1.5".parse::<Rate>().is_err());
        assert!("-0.1".parse::<Rate>().is_err());
        assert!("abc".parse::<Rate>().is_err());
    }

    #[test]
    fn http_urls_split_into_parts() {
        let u: HttpUrl = "http://127.0.0.1:18080/api/concerts".parse().unwrap();
        assert_eq!(
            (u.host(), u.port(), u.path()),
            ("127.0.0.1", 18080, "/api/concerts")
        );
        assert_eq!(u.origin(), "http://127.0.0.1:18080");
        let u: HttpUrl = "http://nginx-lb".parse().unwrap();
        assert_eq!((u.host(), u.port(), u.path()), ("nginx-lb", 80, "/"));
        assert_eq!(
            u.with_path("/api/concerts").as_str(),
            "http://nginx-lb/api/concerts"
        );
        let u: HttpUrl = "http://[::1]:9/x".parse().unwrap();
        assert_eq!((u.host(), u.port()), ("::1", 9));
        assert!("https://x"
            .parse::<HttpUrl>()
            .unwrap_err()
            .to_string()
            .contains("https"));
        assert!("ftp://x".parse::<HttpUrl>().is_err());
        assert!("http://x:99999/".parse::<HttpUrl>().is_err());
    }

    #[test]
    fn huge_durations_are_refused_not_a_panic() {
        for bad in [
            "1e20",
            "1e19",
            "18446744073709551616",
            "2592001",
            "31days",
            "1000000000years",
        ] {
            let e = bad.parse::<Duration>().unwrap_err().to_string();
            assert!(e.contains("duration"), "{bad}: {e}");
        }
        assert_eq!("30days".parse::<Duration>().unwrap(), MAX_DURATION);
        assert_eq!("2592000".parse::<Duration>().unwrap(), MAX_DURATION);
    }

    #[test]
    fn durations_finer_than_a_millisecond_are_refused() {
        for bad in ["0.0001", "0.0005", "1.0001", "1us", "999ns", "1ms 1ns"] {
            let e = bad.parse::<Duration>().unwrap_err().to_string();
            assert!(e.contains("finer than a millisecond"), "{bad}: {e}");
        }
        assert_eq!("0.001".parse::<Duration>().unwrap(), Duration::millis(1));
        assert_eq!("0".parse::<Duration>().unwrap(), Duration::millis(0));
        assert_eq!(Duration::millis(1).to_go_string(), "1ms");
    }

    #[test]
    fn zero_is_refused_where_a_duration_must_be_positive() {
        for bad in ["0", "0s", "0ms", "0.000"] {
            let e = bad.parse::<NonZeroDuration>().unwrap_err().to_string();
            assert!(e.contains("must be longer than 0s"), "{bad}: {e}");
        }
        assert_eq!(
            "2s".parse::<NonZeroDuration>().unwrap().get(),
            Duration::secs(2)
        );
    }

    #[test]
    fn legacy_products_are_bounded() {
        assert_eq!(Duration::secs(2).times(60), Some(Duration::secs(120)));
        assert_eq!(Duration::secs(3600).times(u32::MAX), None);
        assert_eq!(MAX_DURATION.times(2), None);
    }

    #[test]
    fn bad_hosts_and_ports_in_urls_are_refused() {
        for bad in [
            "http://a b:80/",
            "http://a\tb/",
            "http://x:0/",
            "http://x:/",
            "http://[::1]junk:80/",
            "http://[::1]x/",
            "http://[nope]:80/",
            "http://[::1/",
            "http://-x/",
            "http://x y/path",
            "http://x/pa th",
            "http://x/a\nb",
            "http://x:65536/",
            "http://:80/",
            "http://x?y",
        ] {
            assert!(bad.parse::<HttpUrl>().is_err(), "{bad:?} was accepted");
        }
        let u: HttpUrl = "http://[::1]/x".parse().unwrap();
        assert_eq!((u.host(), u.port()), ("::1", 80));
        let u: HttpUrl = "http://app_1.local:8080".parse().unwrap();
        assert_eq!((u.host(), u.port(), u.path()), ("app_1.local", 8080, "/"));
    }

    #[test]
    fn host_port_needs_a_host_and_a_real_port() {
        assert_eq!(
            parse_host_port("127.0.0.1:6379").unwrap(),
            ("127.0.0.1".into(), 6379)
        );
        assert_eq!(parse_host_port("[::1]:6379").unwrap(), ("::1".into(), 6379));
        for bad in [
            "localhost",
            "redis:0",
            ":6379",
            "a b:1",
            "[::1]x:1",
            "h:port",
            "-h:1",
            "h:99999",
        ] {
            assert!(parse_host_port(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn a_host_is_a_host_alone() {
        let e = "redis:6379".parse::<Host>().unwrap_err().to_string();
        assert!(e.contains("the port has its own option"), "{e}");
        for bad in ["", "a b", "-x", "x/y", "x\ny"] {
            assert!(bad.parse::<Host>().is_err(), "{bad:?} was accepted");
        }
        assert_eq!("::1".parse::<Host>().unwrap().0, "::1");
        assert_eq!("[::1]".parse::<Host>().unwrap().0, "::1");
        assert_eq!(
            "redis-1.internal".parse::<Host>().unwrap().0,
            "redis-1.internal"
        );
    }

    #[test]
    fn run_stamps_are_names_and_never_reserved() {
        for bad in [
            "",
            "../x",
            "a b",
            "x/y",
            "a\nb",
            "latest",
            "LATEST",
            &"x".repeat(65),
        ] {
            assert!(bad.parse::<RunStamp>().is_err(), "{bad:?}");
        }
        let e = "a\n- Result: PASS"
            .parse::<RunStamp>()
            .unwrap_err()
            .to_string();
        assert!(!e.contains('\n') && e.contains("a\\n- Result"), "{e}");
        assert_eq!(
            "20261124T021238Z".parse::<RunStamp>().unwrap().to_string(),
            "20261124T021238Z"
        );
    }

    #[test]
    fn test_filters_are_java_name_patterns() {
        for ok in [
            "com.x.FooTest",
            "FooTest",
            "*IntegrationTest",
            "com.x.Foo$Inner",
            "com.x.FooTest.method_1",
            "com.*.Foo*",
        ] {
            check_test_filter(ok).unwrap();
        }
        for bad in [
            "--init-script=F",
            "-x",
            "a b",
            "a..b",
            ".a",
            "a.",
            "1a",
            "a;b",
            "a/b",
            " ",
        ] {
            assert!(check_test_filter(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn names_for_tools_never_start_with_a_dash() {
        for bad in ["-v=/:/host", "--privileged", "", "UPPER", "a b", "a//b"] {
            assert!(check_image_ref(bad).is_err(), "{bad:?} was accepted");
        }
        for ok in [
            "grafana/k6:latest",
            "reg.local:5000/a/b:1.2",
            "k6@sha256:abc",
            "tcs-offline-runtime:1",
        ] {
            check_image_ref(ok).unwrap();
        }
        for bad in ["-f", "--follow", "", "a b", "a;b"] {
            assert!(
                check_name("compose service", bad, SERVICE_CHARS).is_err(),
                "{bad:?}"
            );
        }
        check_name("docker user", "1000:1000", USER_CHARS).unwrap();
        assert!(check_name("docker user", "-v", USER_CHARS).is_err());
    }

    #[test]
    fn quoted_values_stay_on_one_line() {
        assert_eq!(quote("a\nb\r\u{1b}"), "a\\nb\\r\\u{1b}");
        assert_eq!(quote_lines("x\ny"), "x\\ny");
        assert!(quote(&"x".repeat(500)).ends_with("..."));
    }

    #[test]
    fn key_counts_parse() {
        assert_eq!(
            "QUEUE_MONITOR=3".parse::<KeyCount>().unwrap(),
            KeyCount {
                key: "QUEUE_MONITOR".into(),
                count: 3
            }
        );
        assert!("QUEUE_MONITOR".parse::<KeyCount>().is_err());
    }
}
