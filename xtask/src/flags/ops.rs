//! `ops health|monitor`: the components probed (legacy OPS_* hosts and ports) and the
//! monitor snapshot's log source and minimums.

use camino::Utf8PathBuf;
use clap::{Args, Subcommand};

use crate::{
    config::EnvKind,
    units::{self, Host, HttpUrl, KeyCount, NonZeroDuration},
};

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
