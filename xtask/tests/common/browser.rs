//! Debian's headless Chromium for the HTML report's tests: the page loaded
//! with the network off (a network namespace of its own, `unshare -rn`), its
//! DOM after layout, console messages, and screenshots kept under
//! `target/tmp/html-report/` for a person to look at.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

/// What Chromium made of a page.
pub struct Loaded {
    pub dom: String,
    /// Console lines (`INFO:CONSOLE...`): the page has no script, so any
    /// line here is an error (a refused resource, a CSP violation).
    pub console: Vec<String>,
}

fn chromium() -> &'static str {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if Command::new(name)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return name;
        }
    }
    panic!("Chromium is missing: `apt-get install chromium` (cargo xtask ci installs it)");
}

fn headless(page: &Path, extra: &[String]) -> std::process::Output {
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    let out = Command::new("unshare")
        .args(["--net", "--map-root-user", "--"])
        .arg(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .args(extra)
        .arg(url)
        .output()
        .expect("unshare (util-linux) runs Chromium without a network");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Loads `page` with no network and returns its DOM and console lines.
pub fn load(page: &Path) -> Loaded {
    let out = headless(page, &["--dump-dom".into()]);
    let console = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        // Chromium's own pages (chrome://...) log too, e.g. "Slow network is
        // detected" on a loaded machine; only what our page logs counts.
        .filter(|l| !l.contains("source: chrome://"))
        .map(String::from)
        .collect();
    Loaded {
        dom: String::from_utf8_lossy(&out.stdout).into_owned(),
        console,
    }
}

/// A PNG of `page` at `width` CSS pixels, kept as `target/tmp/html-report/NAME`.
pub fn screenshot(page: &Path, width: u32, height: u32, name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("html-report");
    std::fs::create_dir_all(&dir).unwrap();
    let png = dir.join(name);
    let _ = std::fs::remove_file(&png);
    headless(
        page,
        &[
            format!("--window-size={width},{height}"),
            format!("--screenshot={}", png.display()),
        ],
    );
    let bytes = std::fs::read(&png).unwrap_or_default();
    assert!(
        bytes.starts_with(b"\x89PNG"),
        "no screenshot at {}",
        png.display()
    );
    png
}
