//! `[project]`, `[reports]`, `[gradle]` and `[tools]`: where the service is, where reports
//! go, how Gradle runs, where tools are installed.

use camino::Utf8PathBuf;
use serde::Deserialize;

use crate::units::NonZeroDuration;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Project {
    pub name: String,
    /// The service root (where Gradle runs), relative to the workspace root.
    pub service_dir: Utf8PathBuf,
}

impl Default for Project {
    fn default() -> Self {
        Project {
            name: "ticket-core-service".into(),
            service_dir: ".".into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Reports {
    pub dir: Utf8PathBuf,
    /// How many per-run folders to keep per suite (the newest).
    pub keep_runs: usize,
    /// `suites` (`<dir>/<suite>/latest/`), `legacy` (the legacy scripts'
    /// areas: `<dir>/integration/latest/...`, with `dir =
    /// ".codex/tmp/ticket-core-service"` where the team's documents point),
    /// or `flat` (what `CODEX_TMP_DIR` means: `<dir>/latest/`).
    pub layout: crate::report::Shape,
}

impl Default for Reports {
    fn default() -> Self {
        Reports {
            dir: "reports".into(),
            keep_runs: 20,
            layout: crate::report::Shape::Suites,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Gradle {
    /// Program to run; empty means `./gradlew` in the service folder when it
    /// exists, else `gradle` on PATH.
    pub command: Option<String>,
    pub daemon: bool,
    pub offline: bool,
    pub extra_args: Vec<String>,
    pub timeout: NonZeroDuration,
    /// Gradle's build cache (`--build-cache`) in this folder of the project,
    /// relative to the root, so that CI can keep it; empty: off.
    pub build_cache: Utf8PathBuf,
    /// Reruns of the failed test classes (`--retries`); a test passing on one is FLAKY.
    pub retries: u32,
    /// A FLAKY test fails the suite.
    pub fail_on_flaky: bool,
}

impl Default for Gradle {
    fn default() -> Self {
        Gradle {
            command: None,
            daemon: false,
            offline: false,
            extra_args: vec![],
            timeout: NonZeroDuration::secs(20 * 60),
            build_cache: ".gradle-build-cache".into(),
            retries: 0,
            fail_on_flaky: false,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tools {
    /// Project-local folder for tools `setup` installs (the pinned k6).
    pub dir: Utf8PathBuf,
    /// Debian packages the service's build needs besides the tools (e.g. the
    /// demo's offline Gradle build needs junit4 and libhamcrest-java).
    pub apt: Vec<String>,
}

impl Default for Tools {
    fn default() -> Self {
        Tools {
            dir: ".tools".into(),
            apt: vec![],
        }
    }
}
