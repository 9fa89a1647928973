//! What commit a report comes from, so an old PASS never passes for a fresh one.

use camino::Utf8Path;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitInfo {
    pub commit: Option<String>,
    pub branch: Option<String>,
    /// Uncommitted changes (tracked or untracked, not ignored) at run time.
    pub dirty: Option<bool>,
}

impl GitInfo {
    pub fn read(root: &Utf8Path) -> GitInfo {
        let Ok(sh) = xshell::Shell::new() else {
            return GitInfo::default();
        };
        sh.change_dir(root);
        // One git call: the commit, the branch and every change.
        let Ok(status) = sh
            .cmd("git")
            .args(["status", "--porcelain=v2", "--branch"])
            .quiet()
            .ignore_stderr()
            .read()
        else {
            return GitInfo::default();
        };
        GitInfo::parse_status(&status)
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
                &c[..c.len().min(12)],
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
        let empty = "# branch.oid (initial)\n# branch.head main\n";
        assert_eq!(GitInfo::parse_status(empty).commit, None);
    }
}
