//! The suites run on their own: `release-gate`, `integration`, `api-scripts`, with the
//! legacy variables of each (RELEASE_GATE_*, IT_*).

use camino::Utf8PathBuf;
use clap::Args;

use super::{class_name, EnvOpts, Switch};
use crate::units::{HttpUrl, NonZeroDuration, RunStamp};

#[derive(Debug, Args)]
pub struct ReleaseGate {
    /// Also run the API script suite (`cargo xtask api-scripts`) after the classes
    #[arg(long, env = "RELEASE_GATE_WITH_API_SCRIPTS", switch())]
    pub with_api_scripts: Option<bool>,
    /// Test class to run (repeatable) [default: release_gate.classes]
    #[arg(long = "tests", value_name = "CLASS", value_parser = class_name)]
    pub tests: Vec<String>,
    #[command(flatten)]
    pub gradle: GradleArgs,
    #[arg(
        long,
        env = "RELEASE_GATE_RUN_STAMP",
        value_name = "STAMP",
        hide = true
    )]
    pub run_stamp: Option<RunStamp>,
    #[arg(long, env = "RELEASE_GATE_LOG_FILE", value_name = "PATH", hide = true)]
    pub log_file: Option<Utf8PathBuf>,
    #[arg(
        long,
        env = "RELEASE_GATE_REPORT_FILE",
        value_name = "PATH",
        hide = true
    )]
    pub report_file: Option<Utf8PathBuf>,
}

#[derive(Debug, Args, Default)]
pub struct ApiScripts {
    /// Scripts to run (names in [api_scripts].dir, or paths) [default: all]
    #[arg(value_name = "SCRIPT")]
    pub scripts: Vec<String>,
    /// Probed first, any 2xx within 3 s [default: API_SCRIPT_HEALTH_URL, TICKETRUSH_HEALTH_URL, api_scripts.health_url]
    #[arg(long, value_name = "URL")]
    pub health_url: Option<HttpUrl>,
    /// The app's push mode; scripts of the other mode are skipped [default: APP_PUSH_MODE, STEP7_PUSH_MODE, websocket]
    #[arg(long, value_enum, ignore_case = true, value_name = "MODE")]
    pub push_mode: Option<crate::config::PushMode>,
    /// Deadline per script [default: api_scripts.timeout]
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<NonZeroDuration>,
}

#[derive(Debug, Args)]
pub struct Integration {
    #[command(flatten)]
    pub env: EnvOpts,
    /// Start an environment of its own even when one recorded by `env up` (or keep-env) runs
    #[arg(long)]
    pub fresh: bool,
    /// Test class to run (repeatable) [default: integration.classes]
    #[arg(long = "tests", value_name = "CLASS", value_parser = class_name)]
    pub tests: Vec<String>,
    #[command(flatten)]
    pub gradle: GradleArgs,
    #[arg(long, env = "IT_RUN_STAMP", value_name = "STAMP", hide = true)]
    pub run_stamp: Option<RunStamp>,
    #[arg(long, env = "IT_LOG_FILE", value_name = "PATH", hide = true)]
    pub log_file: Option<Utf8PathBuf>,
    #[arg(long, env = "IT_REPORT_FILE", value_name = "PATH", hide = true)]
    pub report_file: Option<Utf8PathBuf>,
}

/// How a suite's Gradle run goes: the same options for `release-gate` and `integration`
/// (which classes is each suite's own `--tests`).
#[derive(Debug, Args, Clone, Default)]
pub struct GradleArgs {
    /// Use the Gradle daemon (faster when run again; default --no-daemon)
    #[arg(long)]
    pub gradle_daemon: bool,
    /// Deadline for the Gradle run [default: gradle.timeout]
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<NonZeroDuration>,
    /// Rerun only the failed test classes up to N times (one Gradle run each); a test passing on a rerun is FLAKY [default: gradle.retries]
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(0..=5))]
    pub retries: Option<u32>,
}
