//! `k6 run|baseline|distributed`: the options every k6 run shares (legacy K6_* variables)
//! and each subcommand's own (baseline limits and `--compare`, distributed's DIST_* and
//! warm-up).

use camino::Utf8PathBuf;
use clap::{Args, Subcommand};

use super::Switch;
use crate::{
    config::EnvKind,
    units::{self, Duration, HttpUrl, NonZeroDuration, Rate, Replicas, RunStamp},
};

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
    /// k6 processes making the load, each its own execution segment, started paused and resumed together; their samples merged exactly and judged once [default: k6.generators, else 1]
    #[arg(long, value_name = "N")]
    pub generators: Option<crate::units::Generators>,
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
