//! What commit a report comes from, so an old PASS never passes for a fresh one.

use std::time::Duration;

use camino::Utf8Path;
use serde::{Deserialize, Serialize};

use crate::runner::{self, Step};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitInfo {
    pub commit: Option<String>,
    pub branch: Option<String>,
    /// Uncommitted changes (tracked or untracked, not ignored) at run time.
    pub dirty: Option<bool>,
}

impl GitInfo {
    /// For a report: what git says, or nothing known (a report from an
    /// unknown commit is never fresh, see `gate status`).
    pub fn read(root: &Utf8Path) -> GitInfo {
        GitInfo::read_checked(root).unwrap_or_default()
    }

    /// What git says, or why it could not say it (no git on PATH, a broken
    /// GIT_DIR, not a repository): the caller judging provenance must not
    /// take "unknown" for "fresh".
    pub fn read_checked(root: &Utf8Path) -> Result<GitInfo, String> {
        // One git call: the commit, the branch and every change.
        let step = Step::new("git status", "git")
            .args(["status", "--porcelain=v2", "--branch"])
            .cwd(root)
            .deadline(Duration::from_secs(60))
            .read_only();
        let out = runner::ask(&step).map_err(|e| format!("git cannot run ({e})"))?;
        if !out.ok() {
            return Err(format!(
                "`git status` failed in {root} ({}): {}",
                out.outcome.describe(),
                crate::units::quote(out.first_error_line())
            ));
        }
        Ok(GitInfo::parse_status(&out.stdout))
    }

    /// `git status --porcelain=v2 --branch` output.
    fn parse_status(status: &str) -> GitInfo {
        let mut info = GitInfo {
            dirty: Some(false),
            ..GitInfo::default()
        };
        for line in status.lines() {
            if let Some(oid) = line.strip_prefix("# branch.oid ") {
                info.commit = (oid != "(initial)").then(|| oid.to_string());
            } else if let Some(head) = line.strip_prefix("# branch.head ") {
                info.branch = (head != "(detached)").then(|| head.to_string());
            } else if !line.starts_with('#') && !line.is_empty() {
                info.dirty = Some(true);
            }
        }
        if info.commit.is_none() {
            info.dirty = None;
        }
        info
    }

    pub fn describe(&self) -> String {
        match &self.commit {
            None => "unknown (not a git checkout)".into(),
            Some(c) => format!(
                "{} ({}, {})",
                short(c),
                self.branch.as_deref().unwrap_or("detached"),
                if self.dirty == Some(true) {
                    "dirty"
                } else {
                    "clean"
                }
            ),
        }
    }
}

/// The first 12 characters of a commit id (a forged report may hold any
/// text there: characters, never bytes, so it cannot split one).
pub fn short(c: &str) -> String {
    crate::units::quote(&c.chars().take(12).collect::<String>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_gives_commit_branch_and_dirty_flag() {
        let clean = "# branch.oid 0123456789abcdef0123456789abcdef01234567\n# branch.head main\n";
        let info = GitInfo::parse_status(clean);
        assert_eq!(
            info.commit.as_deref(),
            Some("0123456789abcdef0123456789abcdef01234567")
        );
        assert_eq!(
            (info.branch.as_deref(), info.dirty),
            (Some("main"), Some(false))
        );
        let dirty = format!("{clean}1 .M N... 100644 100644 100644 a b README.md\n? new.txt\n");
        assert_eq!(GitInfo::parse_status(&dirty).dirty, Some(true));
        let detached =
            "# branch.oid 0123456789abcdef0123456789abcdef01234567\n# branch.head (detached)\n";
        assert_eq!(GitInfo::parse_status(detached).branch, None);
        let odd = GitInfo {
            commit: Some("aéééééééééééé\n- Result: PASS".into()),
            ..GitInfo::default()
        };
        assert_eq!(odd.describe(), "aééééééééééé (detached, clean)");
        let empty = "# branch.oid (initial)\n# branch.head main\n";
        assert_eq!(GitInfo::parse_status(empty).commit, None);
    }
}
