//! Which environment, and how (`EnvOpts`, the IT_* fallbacks: integration's, and every
//! `env` subcommand's), and `env up|down|status|logs`.

use camino::Utf8PathBuf;
use clap::{Args, Subcommand};

use super::Switch;
use crate::{
    config::EnvKind,
    units::{Duration, HttpUrl, NonZeroDuration, Replicas},
};

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
