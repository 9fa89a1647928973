//! GitHub Actions integration, active when `GITHUB_ACTIONS=true`: one
//! `::group::` per step (never nested), escaped `::error::` annotations (at
//! most 10 per step), and the Markdown report in `$GITHUB_STEP_SUMMARY`.

use std::{
    io::Write,
    sync::atomic::{AtomicBool, Ordering},
};

static GROUP_OPEN: AtomicBool = AtomicBool::new(false);

/// The most annotations one step may emit; more would drown the PR view.
pub const MAX_ERRORS: usize = 10;

/// GitHub keeps at most 1 MiB of step summary per step.
const SUMMARY_LIMIT: u64 = 1024 * 1024 - 1024;

pub fn enabled() -> bool {
    std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
}

/// Closes the group when dropped.
pub struct Group(bool);

pub fn group(name: &str) -> Group {
    if enabled() && !GROUP_OPEN.swap(true, Ordering::SeqCst) {
        println!("::group::{}", escape_data(name));
        Group(true)
    } else {
        Group(false)
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if self.0 {
            println!("::endgroup::");
            GROUP_OPEN.store(false, Ordering::SeqCst);
        }
    }
}

/// `::error title=...::message` lines, at most `MAX_ERRORS`.
pub fn error_lines(title: &str, messages: &[String]) -> Vec<String> {
    let mut out: Vec<String> = messages
        .iter()
        .take(MAX_ERRORS)
        .map(|m| {
            format!(
                "::error title={}::{}",
                escape_property(title),
                escape_data(m)
            )
        })
        .collect();
    if messages.len() > MAX_ERRORS {
        out.pop();
        out.push(format!(
            "::error title={}::{}",
            escape_property(title),
            escape_data(&format!(
                "... and {} more, see the report",
                messages.len() - (MAX_ERRORS - 1)
            ))
        ));
    }
    out
}

pub fn errors(title: &str, messages: &[String]) {
    if enabled() {
        for l in error_lines(title, messages) {
            println!("{l}");
        }
    }
}

pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Appends to the job summary, cut so the file stays under GitHub's limit.
pub fn append_summary(markdown: &str) {
    if !enabled() {
        return;
    }
    let Ok(path) = std::env::var("GITHUB_STEP_SUMMARY") else {
        return;
    };
    let used = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let room = SUMMARY_LIMIT.saturating_sub(used) as usize;
    if room < 200 {
        return;
    }
    let text = if markdown.len() + 1 > room {
        let mut cut = room - 100;
        while !markdown.is_char_boundary(cut) {
            cut -= 1;
        }
        format!(
            "{}\n\n_(cut: the full report is in the uploaded artifacts)_\n",
            &markdown[..cut]
        )
    } else {
        format!("{markdown}\n")
    };
    if let Ok(mut f) = std::fs::File::options()
        .create(true)
        .append(true)
        .open(&path)
    {
        let _ = f.write_all(text.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations_are_escaped() {
        assert_eq!(escape_data("50%\r\nnext"), "50%25%0D%0Anext");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
    }

    #[test]
    fn at_most_ten_errors_per_step() {
        let many: Vec<String> = (0..25).map(|i| format!("failure {i}")).collect();
        let lines = error_lines("release-gate", &many);
        assert_eq!(lines.len(), MAX_ERRORS);
        assert!(lines.last().unwrap().contains("16 more"));
        assert_eq!(error_lines("t", &many[..3]).len(), 3);
    }
}
