//! Where a suite's files live: the reports folder's `Shape` (`suites`, the legacy areas,
//! `flat` for `CODEX_TMP_DIR`) and the paths of a suite's run folders, latest files, lock
//! and legacy copies.

use camino::{Utf8Path, Utf8PathBuf};

/// How suites share the reports folder.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Shape {
    /// `<dir>/<suite>/latest/<suite>-latest.md`, run folders in `<dir>/<suite>/`.
    #[default]
    Suites,
    /// The legacy scripts' areas under `<dir>` (`.codex/tmp/ticket-core-service`):
    /// `integration/`, `release-gate/`, `k6/` (distributed runs in
    /// `k6/distributed/`), `ops/`, `api-test/`, each with its `latest/`.
    Legacy,
    /// `CODEX_TMP_DIR`: it replaced each legacy script's own area folder, so
    /// every suite writes `<dir>/latest/<suite>-latest.md` and its run
    /// folders beside it.
    Flat,
}

/// Where a suite's files live and how a run of it ends.
pub struct Layout {
    pub root: Utf8PathBuf,
    pub reports_dir: Utf8PathBuf,
    pub shape: Shape,
}

impl Layout {
    #[cfg(test)]
    pub fn new(root: Utf8PathBuf, reports_dir: Utf8PathBuf) -> Layout {
        Layout {
            root,
            reports_dir,
            shape: Shape::Suites,
        }
    }

    /// The legacy area of a suite: (run folders, latest folder), relative.
    fn legacy_area(suite: &str) -> (&str, &str) {
        match suite {
            "runtime-integration" => ("integration", "integration/latest"),
            "k6" | "k6-baseline" => ("k6", "k6/latest"),
            "k6-distributed" => ("k6/distributed", "k6/latest"),
            "runtime-health-check" | "runtime-monitor-snapshot" => ("ops", "ops/latest"),
            "api-scripts" => ("api-test", "api-test/latest"),
            _ => (suite, ""),
        }
    }

    /// The folder that holds a suite's run folders.
    pub fn suite_dir(&self, suite: &str) -> Utf8PathBuf {
        match self.shape {
            Shape::Suites => self.reports_dir.join(suite),
            Shape::Flat => self.reports_dir.clone(),
            Shape::Legacy => self.reports_dir.join(Self::legacy_area(suite).0),
        }
    }
    /// The folder of a suite's `latest` files.
    pub fn latest_dir(&self, suite: &str) -> Utf8PathBuf {
        match (self.shape, Self::legacy_area(suite).1) {
            (Shape::Legacy, latest) if !latest.is_empty() => self.reports_dir.join(latest),
            _ => self.suite_dir(suite).join("latest"),
        }
    }
    pub fn latest(&self, suite: &str, ext: &str) -> Utf8PathBuf {
        self.latest_dir(suite).join(format!("{suite}-latest.{ext}"))
    }
    /// Whether other suites keep their run folders in this suite's folder
    /// too (then retention only counts folders holding this suite's log).
    pub fn shares_runs(&self, suite: &str) -> bool {
        match self.shape {
            Shape::Suites => false,
            Shape::Flat => true,
            Shape::Legacy => Self::legacy_area(suite).0 != suite,
        }
    }
    /// The suite's lock file: one per suite, even in a shared folder.
    pub fn lock_path(&self, suite: &str) -> Utf8PathBuf {
        match self.shape {
            Shape::Suites => self.suite_dir(suite).join(".lock"),
            _ => self.suite_dir(suite).join(format!(".{suite}.lock")),
        }
    }
    /// Copies of the Markdown report where legacy documents point at them
    /// (the API script harness wrote `api-test/latest.md`).
    pub fn legacy_copies(&self, suite: &str) -> Vec<Utf8PathBuf> {
        match (self.shape, suite) {
            (Shape::Legacy, "api-scripts") => vec![self.reports_dir.join("api-test/latest.md")],
            _ => vec![],
        }
    }
    pub fn relative(&self, p: &Utf8Path) -> String {
        crate::files::relative(&self.root, p).to_string()
    }
}
