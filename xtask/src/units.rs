//! Value types parsed once at the edge (flags, environment, xtask.toml):
//! durations, rates, HTTP URLs. Everything past the edge uses these types.

use std::{fmt, str::FromStr};

use anyhow::{bail, Context};
use serde::{Deserialize, Deserializer};

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

impl FromStr for Duration {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Duration> {
        let t = s.trim();
        if t.is_empty() {
            bail!("empty duration: write e.g. `90s`, `2m` or `500ms`");
        }
        if let Ok(secs) = t.parse::<f64>() {
            if !(secs.is_finite() && secs >= 0.0) {
                bail!("bad duration `{s}`: must be zero or more seconds");
            }
            return Ok(Duration(std::time::Duration::from_secs_f64(secs)));
        }
        // humantime rejects `1m30s` without a space only in old versions; accept both.
        humantime::parse_duration(t).map(Duration).map_err(|e| {
            anyhow::anyhow!("bad duration `{s}` ({e}): write e.g. `90s`, `2m` or `500ms`")
        })
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
        let Some(rest) = raw.strip_prefix("http://") else {
            if raw.starts_with("https://") {
                bail!("`{s}`: https is not supported by the built-in probes; use the plain-HTTP address of the service or load balancer");
            }
            bail!("`{s}` is not an http:// URL (expected e.g. http://127.0.0.1:8080/api/concerts)");
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() || authority.contains('@') {
            bail!("`{s}`: expected http://HOST[:PORT]/PATH");
        }
        let (host, port) = if let Some(h) = authority.strip_prefix('[') {
            // [::1]:8080
            let (h, p) = h
                .split_once(']')
                .with_context(|| format!("`{s}`: unclosed IPv6 bracket"))?;
            (h.to_string(), p.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (authority.to_string(), None),
            }
        };
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .with_context(|| format!("`{s}`: bad port `{p}`"))?,
            None => 80,
        };
        if host.is_empty() {
            bail!("`{s}`: missing host");
        }
        let path = path.to_string();
        Ok(HttpUrl {
            raw,
            host,
            port,
            path,
        })
    }
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
