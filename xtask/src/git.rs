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
        let git = |args: &[&str]| -> Option<String> {
            sh.cmd("git").args(args).quiet().ignore_stderr().read().ok()
        };
        let commit = git(&["rev-parse", "HEAD"]);
        let branch = git(&["rev-parse", "--abbrev-ref", "HEAD"]).filter(|b| b != "HEAD");
        let dirty = commit
            .as_ref()
            .and_then(|_| git(&["status", "--porcelain"]))
            .map(|s| !s.is_empty());
        GitInfo {
            commit,
            branch,
            dirty,
        }
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
