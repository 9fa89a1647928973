//! Environments the suites run against, behind one small trait: compose (a
//! Docker engine), local (child processes) and external (already running).
//!
//! `open` resolves which one from flags and config; `EnvGuard` brings it down
//! on every exit path: explicitly through `down()` (whose error is reported),
//! and from `Drop` as a fallback for panics and early returns.

use camino::Utf8PathBuf;

use crate::{
    config::EnvKind,
    context::Ctx,
    units::{Duration, HttpUrl},
};

/// Everything an environment needs, resolved (flag > env var > config > default).
#[derive(Clone, Debug)]
pub struct EnvSpec {
    pub kind: EnvKind,
    pub replicas: u32,
    /// Compose project name; None: unique per run.
    pub compose_project: Option<String>,
    pub compose_file: Utf8PathBuf,
    pub keep_env: bool,
    /// Any 2xx here means ready (through the load balancer).
    pub health_url: HttpUrl,
    pub ready_timeout: Duration,
}

/// Where the suites find the running environment.
#[derive(Clone, Debug, Default)]
pub struct Endpoints {
    /// The API through the load balancer, as seen from this host.
    pub api: Option<HttpUrl>,
    /// Redis as seen from this host, when reachable.
    pub redis: Option<(String, u16)>,
    /// Replica ids (the `X-Instance` values), when known.
    pub instances: Vec<String>,
    /// For compose: the network, and the API as seen from inside it.
    pub network: Option<String>,
    pub internal_api: Option<HttpUrl>,
}

pub trait Environment {
    fn kind(&self) -> EnvKind;
    /// Start everything (idempotent for compose `up`).
    fn up(&mut self) -> anyhow::Result<()>;
    /// Wait until the health URL answers 2xx, within the spec's deadline.
    fn ready(&mut self) -> anyhow::Result<()>;
    fn endpoints(&self) -> Endpoints;
    /// The last `tail` lines of a service's logs.
    fn logs(&self, service: &str, tail: u32) -> anyhow::Result<String>;
    /// Change the number of app replicas (and the balancer's view of them).
    fn scale(&mut self, replicas: u32) -> anyhow::Result<()>;
    /// Stop and remove everything this environment started.
    fn down(&mut self) -> anyhow::Result<()>;
    /// Name/value pairs for reports (provider, project, file, replicas...).
    fn describe(&self) -> Vec<(String, String)>;
}

/// Builds the environment the spec asks for. Nothing is started yet.
pub fn open(_ctx: &Ctx, spec: &EnvSpec) -> anyhow::Result<Box<dyn Environment>> {
    anyhow::bail!(
        "the {} environment is not built yet (see the open issues)",
        spec.kind.as_str()
    )
}
