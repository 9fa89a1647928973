//! `[environment]`: which environment the suites run against by default, what "ready"
//! means, and the settings of each kind (compose, local, external).

use std::collections::BTreeMap;

use camino::Utf8PathBuf;
use serde::Deserialize;

use crate::units::{Duration, HttpUrl, NonZeroDuration};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum EnvKind {
    /// docker compose (v2) or docker-compose (v1) on a Docker engine.
    Compose,
    /// Redis, app replicas and nginx as local child processes.
    Local,
    /// Something already running: start nothing, only probe.
    External,
}

impl EnvKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EnvKind::Compose => "compose",
            EnvKind::Local => "local",
            EnvKind::External => "external",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Environments {
    pub default: EnvKind,
    /// What "ready" means: this URL answers 2xx (through the load balancer).
    pub health_url: HttpUrl,
    pub ready_timeout: NonZeroDuration,
    /// Pause between readiness probes; never above 100 ms.
    pub poll_interval: Duration,
    pub compose: ComposeEnv,
    pub local: LocalEnv,
    pub external: ExternalEnv,
}

impl Default for Environments {
    fn default() -> Self {
        Environments {
            default: EnvKind::Compose,
            health_url: "http://127.0.0.1:18080/api/concerts".parse().unwrap(),
            ready_timeout: NonZeroDuration::secs(120),
            poll_interval: Duration::millis(100),
            compose: ComposeEnv::default(),
            local: LocalEnv::default(),
            external: ExternalEnv::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ComposeEnv {
    pub file: Utf8PathBuf,
    pub services: Vec<String>,
    pub app_service: String,
    pub lb_service: String,
    /// The port the load balancer listens on inside the compose network.
    pub lb_port: u16,
    /// Compose network; `{project}` is replaced by the project name.
    pub network: String,
    pub redis_service: Option<String>,
    /// Created empty when missing (the compose file's `env_file` needs it)
    /// and removed again afterwards, as the legacy script did.
    pub env_file: Option<Utf8PathBuf>,
    /// Extra variables for compose itself (image names and the like).
    pub env: BTreeMap<String, String>,
    pub build: bool,
    /// Gradle tasks run before `up --build` (e.g. `jar`, which the demo's
    /// Dockerfile copies); empty: the image builds on its own.
    pub build_tasks: Vec<String>,
    pub down_timeout: NonZeroDuration,
}

impl Default for ComposeEnv {
    fn default() -> Self {
        ComposeEnv {
            file: "docker-compose.yml".into(),
            services: [
                "postgres-db",
                "redis",
                "zookeeper",
                "kafka",
                "app",
                "nginx-lb",
            ]
            .map(String::from)
            .to_vec(),
            app_service: "app".into(),
            lb_service: "nginx-lb".into(),
            lb_port: 8080,
            network: "{project}_ticket-network".into(),
            redis_service: None,
            env_file: Some(".env.local".into()),
            env: BTreeMap::new(),
            build: true,
            build_tasks: vec![],
            down_timeout: NonZeroDuration::secs(60),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LocalEnv {
    /// 0 picks a free port.
    pub redis_port: u16,
    pub redis_command: String,
    pub nginx_command: String,
    /// The load balancer's port on 127.0.0.1, unless the health URL points
    /// at this host: then its port wins (it is probed through the balancer).
    pub lb_port: u16,
    /// Replica i (1-based) listens on base + i - 1; 0 picks free ports.
    pub app_base_port: u16,
    pub app_command: Vec<String>,
    /// Gradle tasks that build what `app_command` runs (e.g. `jar`).
    pub app_build_tasks: Vec<String>,
    pub app_ready_path: String,
    /// Variables for every replica; values may use `{port}`, `{index}`,
    /// `{redis_host}`, `{redis_port}`.
    pub app_env: BTreeMap<String, String>,
}

impl Default for LocalEnv {
    fn default() -> Self {
        LocalEnv {
            redis_port: 0,
            redis_command: "redis-server".into(),
            nginx_command: "nginx".into(),
            lb_port: 18080,
            app_base_port: 0,
            app_command: vec![],
            app_build_tasks: vec![],
            app_ready_path: "/api/concerts".into(),
            app_env: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExternalEnv {
    /// `host:port` of a Redis the tests may use, when there is one.
    pub redis: Option<String>,
}
