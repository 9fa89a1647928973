//! How reports are stored: atomic writes (write beside, rename over), run folders by
//! their stamp, and retention of the newest `keep_runs`.

use std::{fs::File, io::Write};

use anyhow::Context;
use camino::{Utf8Path, Utf8PathBuf};

/// Writes beside the target and renames over it: readers see the old file or
/// the new one, never half of one.
pub fn write_atomic(path: &Utf8Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(Utf8Path::new("."));
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create {dir}: check that it is writable"))?;
    let tmp = temp_path(path);
    let result = (|| -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write {path}"));
    }
    Ok(())
}

/// Beside `path`, unique per process and thread: two threads (gate stages)
/// writing the same file must not share a temporary, or one rename finds it
/// gone.
pub(super) fn temp_path(path: &Utf8Path) -> Utf8PathBuf {
    let dir = path.parent().unwrap_or(Utf8Path::new("."));
    let thread: String = format!("{:?}", std::thread::current().id())
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    dir.join(format!(
        ".{}.tmp-{}-{thread}",
        path.file_name().unwrap_or("report"),
        std::process::id()
    ))
}

pub fn is_run_folder(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() >= 16
        && b[8] == b'T'
        && b[15] == b'Z'
        && b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit)
}

/// Keeps the newest `keep` run folders (by name: stamps sort by time).
pub fn prune_runs(suite_dir: &Utf8Path, keep: usize, current: &str) -> anyhow::Result<Vec<String>> {
    prune_runs_of(suite_dir, keep, current, None)
}

/// As `prune_runs`; in a folder shared by several suites, only the run
/// folders holding `only_with` (this suite's log) count.
pub fn prune_runs_of(
    suite_dir: &Utf8Path,
    keep: usize,
    current: &str,
    only_with: Option<&str>,
) -> anyhow::Result<Vec<String>> {
    let mut runs: Vec<String> = std::fs::read_dir(suite_dir)
        .with_context(|| format!("cannot list {suite_dir}"))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| is_run_folder(n))
        .filter(|n| only_with.is_none_or(|f| suite_dir.join(n).join(f).exists()))
        .collect();
    runs.sort();
    let excess = runs.len().saturating_sub(keep.max(1));
    let mut removed = vec![];
    for name in runs.into_iter().take(excess) {
        if name == current {
            continue;
        }
        let p = suite_dir.join(&name);
        std::fs::remove_dir_all(&p).with_context(|| format!("cannot remove old run folder {p}"))?;
        removed.push(name);
    }
    Ok(removed)
}
