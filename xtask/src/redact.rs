//! Secrets never reach a log, a report or the terminal. A value is secret
//! when the name of the variable or key that holds it contains PASSWORD,
//! SECRET, TOKEN or KEY. Names are checked where parameters are recorded;
//! values are also scrubbed from every streamed output line and every line
//! we print (`out.rs`), because a tool, or clap, may echo them.
//!
//! Values are kept as bytes, so a secret that is not UTF-8 is masked in raw
//! output too. A secret of 4 bytes or more is masked wherever it occurs; a
//! shorter one wherever it stands as a whole token (not inside a longer run
//! of letters and digits): masking every `1` of a log would make it
//! unreadable, and a 2-byte fragment of a word reveals nothing.

use std::sync::{OnceLock, RwLock};

pub const MASK: &str = "***";

/// Shorter secrets are masked as whole tokens only.
const MIN_ANYWHERE: usize = 4;

static SECRETS: OnceLock<RwLock<Vec<Vec<u8>>>> = OnceLock::new();

fn secrets() -> &'static RwLock<Vec<Vec<u8>>> {
    SECRETS.get_or_init(|| RwLock::new(Vec::new()))
}

pub fn is_secret_name(name: &str) -> bool {
    let up = name.to_ascii_uppercase();
    ["PASSWORD", "SECRET", "TOKEN", "KEY"]
        .iter()
        .any(|w| up.contains(w))
}

/// Remembers `value` as secret if `name` says it is.
pub fn note(name: &str, value: &str) {
    note_bytes(name, value.as_bytes());
}

/// `note` for a value that need not be UTF-8 (a process's environment).
pub fn note_bytes(name: &str, value: &[u8]) {
    if !is_secret_name(name) || value.is_empty() {
        return;
    }
    let mut s = secrets().write().unwrap_or_else(|e| e.into_inner());
    if !s.iter().any(|v| v == value) {
        s.push(value.to_vec());
        // Longest first, so a secret containing another is masked whole.
        s.sort_by_key(|v| std::cmp::Reverse(v.len()));
    }
}

/// Records every secret-looking variable of this process's environment.
pub fn note_process_env() {
    use std::os::unix::ffi::OsStrExt;
    for (k, v) in std::env::vars_os() {
        note_bytes(&k.to_string_lossy(), v.as_bytes());
    }
}

/// The length of the longest secret: a stream cut into pieces keeps this
/// many bytes back, so that a secret across a cut is seen whole.
pub fn longest() -> usize {
    secrets()
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .first()
        .map_or(0, Vec::len)
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
    match bytes(s.as_bytes()) {
        std::borrow::Cow::Borrowed(_) => s.to_string(),
        // Masking a secret that is not UTF-8 may cut a character in two.
        std::borrow::Cow::Owned(b) => String::from_utf8_lossy(&b).into_owned(),
    }
}

/// Scrubs secrets from raw output bytes (which need not be UTF-8).
pub fn bytes(line: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let secrets = secrets().read().unwrap_or_else(|e| e.into_inner());
    if !secrets.iter().any(|v| next_hit(line, v).is_some()) {
        return std::borrow::Cow::Borrowed(line);
    }
    let mut out = line.to_vec();
    for v in secrets.iter() {
        let mut scrubbed = Vec::with_capacity(out.len());
        let mut rest = &out[..];
        let mut prev: Option<u8> = None;
        while let Some(i) = next_hit_after(rest, v, prev) {
            scrubbed.extend_from_slice(&rest[..i]);
            scrubbed.extend_from_slice(MASK.as_bytes());
            prev = Some(b'*');
            rest = &rest[i + v.len()..];
        }
        scrubbed.extend_from_slice(rest);
        out = scrubbed;
    }
    std::borrow::Cow::Owned(out)
}

fn next_hit(hay: &[u8], secret: &[u8]) -> Option<usize> {
    next_hit_after(hay, secret, None)
}

/// The next occurrence of `secret` in `hay` that must be masked; `before`
/// is the byte just before `hay` (None: its start).
fn next_hit_after(hay: &[u8], secret: &[u8], before: Option<u8>) -> Option<usize> {
    let word = |b: u8| b.is_ascii_alphanumeric();
    let mut from = 0;
    while let Some(i) = find(&hay[from..], secret).map(|i| i + from) {
        if secret.len() >= MIN_ANYWHERE {
            return Some(i);
        }
        let left = if i == 0 { before } else { Some(hay[i - 1]) };
        let right = hay.get(i + secret.len()).copied();
        let bounded =
            |b: Option<u8>, edge: Option<u8>| !b.is_some_and(word) || !edge.is_some_and(word);
        if bounded(left, secret.first().copied()) && bounded(right, secret.last().copied()) {
            return Some(i);
        }
        from = i + 1;
    }
    None
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

    #[test]
    fn short_secrets_are_masked_as_whole_tokens() {
        note("SHORT_TOKEN", "q7z");
        note("TINY_SECRET", "Z");
        assert_eq!(text("http://u:q7z@127.0.0.1/"), "http://u:***@127.0.0.1/");
        assert_eq!(text("q7z"), "***");
        assert_eq!(text("pass=Z;"), "pass=***;");
        assert_eq!(text("q7z q7z"), "*** ***");
        // Inside a longer word they reveal nothing and stay.
        assert_eq!(text("Zebra aq7zb"), "Zebra aq7zb");
    }

    #[test]
    fn secrets_that_are_not_utf8_are_masked_in_bytes_and_text() {
        note_bytes("BINARY_KEY", b"\xfe\xfd\xfc\x01");
        assert_eq!(&*bytes(b"k=\xfe\xfd\xfc\x01."), b"k=***.");
        note_bytes("LATIN1_PASSWORD", b"caf\xe9");
        assert_eq!(&*bytes(b"[caf\xe9]"), b"[***]");
        assert!(longest() >= 4);
    }

    #[test]
    fn a_secret_inside_a_longer_one_never_shows_a_part() {
        note("OUTER_TOKEN", "outer-inner-77x");
        note("INNER_TOKEN", "inner-77x");
        assert_eq!(text("[outer-inner-77x]"), "[***]");
        assert_eq!(text("[inner-77x]"), "[***]");
    }
}
