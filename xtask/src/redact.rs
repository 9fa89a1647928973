//! Secrets never reach a log or a report. A value is secret when the name of
//! the variable or key that holds it contains PASSWORD, SECRET, TOKEN or KEY.
//! Names are checked where parameters are recorded; values are also scrubbed
//! from every streamed output line, because a tool may echo them.

use std::sync::{OnceLock, RwLock};

pub const MASK: &str = "***";

static SECRETS: OnceLock<RwLock<Vec<String>>> = OnceLock::new();

fn secrets() -> &'static RwLock<Vec<String>> {
    SECRETS.get_or_init(|| RwLock::new(Vec::new()))
}

pub fn is_secret_name(name: &str) -> bool {
    let up = name.to_ascii_uppercase();
    ["PASSWORD", "SECRET", "TOKEN", "KEY"]
        .iter()
        .any(|w| up.contains(w))
}

/// Remembers `value` as secret if `name` says it is. Very short values are
/// not scrubbed from text: masking every `1` in a log would make it unreadable.
pub fn note(name: &str, value: &str) {
    if is_secret_name(name) && value.len() >= 4 {
        let mut s = secrets().write().unwrap();
        if !s.iter().any(|v| v == value) {
            s.push(value.to_string());
            // Longest first, so a secret containing another is masked whole.
            s.sort_by_key(|v| std::cmp::Reverse(v.len()));
        }
    }
}

/// Records every secret-looking variable of this process's environment.
pub fn note_process_env() {
    for (k, v) in std::env::vars_os() {
        if let (Some(k), Some(v)) = (k.to_str(), v.to_str()) {
            note(k, v);
        }
    }
}

/// The value as it may be shown for a parameter called `name`.
pub fn param(name: &str, value: &str) -> String {
    if is_secret_name(name) {
        MASK.to_string()
    } else {
        text(value)
    }
}

pub fn text(s: &str) -> String {
    let secrets = secrets().read().unwrap();
    let mut out = s.to_string();
    for v in secrets.iter() {
        if out.contains(v.as_str()) {
            out = out.replace(v.as_str(), MASK);
        }
    }
    out
}

/// Scrubs secrets from raw output bytes (which need not be UTF-8).
pub fn bytes(line: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let secrets = secrets().read().unwrap();
    let hit = secrets.iter().any(|v| find(line, v.as_bytes()).is_some());
    if !hit {
        return std::borrow::Cow::Borrowed(line);
    }
    let mut out = line.to_vec();
    for v in secrets.iter() {
        let v = v.as_bytes();
        let mut scrubbed = Vec::with_capacity(out.len());
        let mut rest = &out[..];
        while let Some(i) = find(rest, v) {
            scrubbed.extend_from_slice(&rest[..i]);
            scrubbed.extend_from_slice(MASK.as_bytes());
            rest = &rest[i + v.len()..];
        }
        scrubbed.extend_from_slice(rest);
        out = scrubbed;
    }
    std::borrow::Cow::Owned(out)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_hold_secrets() {
        for n in [
            "DB_PASSWORD",
            "api_token",
            "JWT_SECRET",
            "KAFKA_KEY",
            "apiKey",
        ] {
            assert!(is_secret_name(n), "{n}");
        }
        for n in ["IT_KEEP_ENV", "K6_VUS", "API_HOST"] {
            assert!(!is_secret_name(n), "{n}");
        }
    }

    #[test]
    fn secret_values_are_scrubbed_from_text_and_bytes() {
        note("CANARY_TOKEN", "canary-7f3a9");
        note("PLAIN_SETTING", "plain-value");
        assert_eq!(text("token=canary-7f3a9 ok"), "token=*** ok");
        assert_eq!(text("plain-value"), "plain-value");
        let raw = b"\xff canary-7f3a9 canary-7f3a9\n";
        assert_eq!(&*bytes(raw), b"\xff *** ***\n");
        assert_eq!(param("DB_PASSWORD", "x"), MASK);
    }
}
