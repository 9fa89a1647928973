//! `xtask.toml`: the typed model, loading and validation.
//!
//! Every value is parsed here, once, into types (durations, URLs, rates).
//! Unknown keys are rejected, and every error is one line that names the
//! file, line, column and key, so a typo never silently falls back to a default.
//!
//! Precedence for any option: flag > environment variable > xtask.toml >
//! built-in default. Flags and variables are merged by clap (`flags.rs`); the
//! `Default` impls below are the built-in defaults.

use std::collections::BTreeMap;

use camino::{Utf8Path, Utf8PathBuf};
use serde::Deserialize;

use crate::units::{Duration, HttpUrl, NonZeroDuration, Rate, Replicas};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub project: Project,
    pub reports: Reports,
    pub gradle: Gradle,
    pub release_gate: ReleaseGate,
    pub api_scripts: ApiScripts,
    pub integration: Integration,
    pub environment: Environments,
    pub k6: K6,
    pub ops: Ops,
    pub gate: Gate,
    pub tools: Tools,
}

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
pub struct ReleaseGate {
    pub classes: Vec<String>,
    /// Also run the API script suite (`[api_scripts]`) after the classes.
    pub with_api_scripts: bool,
}

impl Default for ReleaseGate {
    fn default() -> Self {
        ReleaseGate {
            classes: [
                "com.ticketrush.architecture.LayerDependencyArchTest",
                "com.ticketrush.api.controller.AuthSecurityIntegrationTest",
                "com.ticketrush.api.controller.SocialAuthControllerIntegrationTest",
                "com.ticketrush.application.payment.service.PaymentServiceIntegrationTest",
                "com.ticketrush.application.reservation.service.ReservationLifecycleServiceIntegrationTest",
                "com.ticketrush.infrastructure.messaging.KafkaPushEventConsumerTest",
            ]
            .map(String::from)
            .to_vec(),
            with_api_scripts: false,
        }
    }
}

/// The API script suite (legacy scripts/api/run-api-script-tests.sh): the
/// service's own `v*.sh` curl scripts against a live API.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiScripts {
    /// Where the scripts are (`v*.sh`, `[a-z][0-9]*.sh`).
    pub dir: Utf8PathBuf,
    /// Probed first (any 2xx within 3 s) unless API_SCRIPT_HEALTH_URL or
    /// TICKETRUSH_HEALTH_URL says otherwise.
    pub health_url: HttpUrl,
    /// Per script.
    pub timeout: NonZeroDuration,
    /// Scripts that only make sense in one push mode (`sse`, `websocket`):
    /// skipped in the other, as the legacy harness did.
    pub push_mode_only: BTreeMap<String, PushMode>,
}

impl Default for ApiScripts {
    fn default() -> Self {
        ApiScripts {
            dir: "scripts/api".into(),
            health_url: "http://127.0.0.1:8080/api/concerts"
                .parse()
                .expect("a valid default URL"),
            timeout: default_script_timeout(),
            push_mode_only: BTreeMap::new(),
        }
    }
}

/// The app's push mode (APP_PUSH_MODE, legacy STEP7_PUSH_MODE).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum PushMode {
    Sse,
    Websocket,
}

impl PushMode {
    pub fn as_str(self) -> &'static str {
        match self {
            PushMode::Sse => "sse",
            PushMode::Websocket => "websocket",
        }
    }
}

fn default_script_timeout() -> NonZeroDuration {
    NonZeroDuration::secs(300)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Integration {
    pub classes: Vec<String>,
    pub environment: Option<EnvKind>,
    pub replicas: Replicas,
    pub keep_env: bool,
    pub compose_project: String,
    /// Variables handed to Gradle so the tests find the environment. Values
    /// may use `{api_origin}`, `{api_url}`, `{redis_host}`, `{redis_port}`.
    pub test_env: BTreeMap<String, String>,
}

impl Default for Integration {
    fn default() -> Self {
        Integration {
            classes: [
                "com.ticketrush.application.concert.service.ConcertExplorerIntegrationTest",
                "com.ticketrush.application.reservation.service.ReservationLifecycleServiceIntegrationTest",
                "com.ticketrush.infrastructure.messaging.KafkaPushEventConsumerTest",
            ]
            .map(String::from)
            .to_vec(),
            environment: None,
            replicas: Replicas::ONE,
            keep_env: false,
            compose_project: "tcsit".into(),
            test_env: BTreeMap::new(),
        }
    }
}

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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct K6 {
    pub script: Utf8PathBuf,
    pub api_host: HttpUrl,
    pub concert_id: u64,
    pub vus: u32,
    pub duration: NonZeroDuration,
    pub sleep_max: Duration,
    pub user_id_base: u64,
    /// Where the API runs for `k6 run`/`k6 baseline`: none means external
    /// (the legacy behaviour: something is already up at `api_host`).
    pub environment: Option<EnvKind>,
    pub docker_image: String,
    pub docker_network: String,
    /// Added to the k6 duration for k6's own start-up and summary.
    pub deadline_slack: Duration,
    pub baseline: K6Baseline,
    pub regression: K6Regression,
    pub distributed: K6Distributed,
}

impl Default for K6 {
    fn default() -> Self {
        K6 {
            script: "scripts/perf/k6-waiting-queue-join.js".into(),
            api_host: "http://127.0.0.1:8080".parse().unwrap(),
            concert_id: 1,
            vus: 60,
            duration: NonZeroDuration::secs(60),
            sleep_max: Duration::millis(200),
            user_id_base: 900_000_000,
            environment: None,
            docker_image: "grafana/k6:latest".into(),
            docker_network: "host".into(),
            deadline_slack: Duration::secs(60),
            baseline: K6Baseline::default(),
            regression: K6Regression::default(),
            distributed: K6Distributed::default(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct K6Baseline {
    pub max_p95_ms: f64,
    pub max_fail_rate: Rate,
    pub min_checks_rate: Rate,
}

impl Default for K6Baseline {
    fn default() -> Self {
        K6Baseline {
            max_p95_ms: 1200.0,
            max_fail_rate: Rate::new(0.02).unwrap(),
            min_checks_rate: Rate::new(0.98).unwrap(),
        }
    }
}

/// `k6 baseline --compare`: how much worse a metric may get before it is
/// a regression (and then only if the change is also significant; see
/// `regress.rs`). Latency: the larger of a share of the baseline and a
/// floor in ms, so a 2 ms p95 does not fail on 0.5 ms of jitter.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct K6Regression {
    /// Of the bootstrap interval of the change.
    pub confidence: Rate,
    pub resamples: u32,
    /// p95 increase tolerated, as a share of the baseline's p95 ...
    pub p95_increase: f64,
    /// ... and at least this many ms.
    pub p95_min_ms: f64,
    pub p99_increase: f64,
    pub p99_min_ms: f64,
    /// Failed-request rate increase tolerated (absolute: 0.01 = one point).
    pub fail_rate_increase: Rate,
    /// Requests-per-second decrease tolerated, as a share of the baseline's.
    pub rps_decrease: Rate,
}

impl Default for K6Regression {
    fn default() -> Self {
        K6Regression {
            confidence: Rate::new(0.95).unwrap(),
            resamples: 2000,
            p95_increase: 0.25,
            p95_min_ms: 2.0,
            p99_increase: 0.5,
            p99_min_ms: 5.0,
            fail_rate_increase: Rate::new(0.01).unwrap(),
            rps_decrease: Rate::new(0.25).unwrap(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct K6Distributed {
    pub environment: Option<EnvKind>,
    pub replicas: Replicas,
    pub compose_project: String,
    pub user_id_base: u64,
    pub keep_env: bool,
    /// The API as seen from the host (the published load-balancer port).
    pub host_api_host: HttpUrl,
    /// Busiest replica's requests over the idlest's; above this is a FAIL.
    pub max_spread_ratio: f64,
    /// Requests per replica that cannot be measured (an external
    /// environment) fail the run instead of a note.
    pub require_spread: bool,
    pub warmup: Warmup,
}

impl Default for K6Distributed {
    fn default() -> Self {
        K6Distributed {
            environment: None,
            replicas: Replicas::new(3).unwrap(),
            compose_project: "tcsdist".into(),
            user_id_base: 910_000_000,
            keep_env: false,
            host_api_host: "http://127.0.0.1:18080".parse().unwrap(),
            max_spread_ratio: 3.0,
            require_spread: false,
            warmup: Warmup::default(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Warmup {
    pub max_attempts: u32,
    pub consecutive: u32,
    pub sleep: Duration,
    pub burst_requests: u32,
    pub burst_attempts: u32,
}

impl Default for Warmup {
    fn default() -> Self {
        Warmup {
            max_attempts: 60,
            consecutive: 5,
            sleep: Duration::secs(1),
            burst_requests: 30,
            burst_attempts: 10,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ops {
    pub health: OpsHealth,
    pub monitor: OpsMonitor,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpsHealth {
    pub timeout: NonZeroDuration,
    pub components: Vec<Component>,
}

impl Default for OpsHealth {
    fn default() -> Self {
        let c = |name: &str, kind, address: &str| Component {
            name: name.into(),
            kind,
            address: address.into(),
        };
        OpsHealth {
            timeout: NonZeroDuration::secs(2),
            components: vec![
                c("api", ProbeKind::Http, "http://127.0.0.1:8080/api/concerts"),
                c("redis", ProbeKind::Redis, "127.0.0.1:6379"),
                c("kafka", ProbeKind::Kafka, "127.0.0.1:9092"),
                c("postgres", ProbeKind::Postgres, "127.0.0.1:5432"),
            ],
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    pub name: String,
    pub kind: ProbeKind,
    /// A URL for `http`, `host:port` for the others.
    pub address: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProbeKind {
    Http,
    Tcp,
    Redis,
    Postgres,
    Kafka,
}

impl ProbeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeKind::Http => "http",
            ProbeKind::Tcp => "tcp",
            ProbeKind::Redis => "redis",
            ProbeKind::Postgres => "postgres",
            ProbeKind::Kafka => "kafka",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpsMonitor {
    pub environment: Option<EnvKind>,
    pub compose_project: String,
    pub tail_lines: u32,
    pub keys: Vec<String>,
    /// Optional minimum count per key; with none, the snapshot is informational.
    pub min: BTreeMap<String, u64>,
}

impl Default for OpsMonitor {
    fn default() -> Self {
        OpsMonitor {
            environment: None,
            compose_project: "tcs".into(),
            tail_lines: 2000,
            keys: [
                "AUTH_MONITOR",
                "QUEUE_MONITOR",
                "PUSH_MONITOR",
                "PUSH_MONITOR_SNAPSHOT",
            ]
            .map(String::from)
            .to_vec(),
            min: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Gate {
    pub environment: Option<EnvKind>,
    pub compose_project: String,
    /// Suites whose latest report must be PASS, from HEAD, for frontend work.
    pub required: Vec<String>,
    /// Where the docs (task board, guides) live; a condition's path may
    /// start with `{docs_root}/`. `XTASK_DOCS_ROOT` overrides it.
    pub docs_root: Option<Utf8PathBuf>,
    pub conditions: Vec<FileCondition>,
    /// The k6-baseline stage compares with the last passing run
    /// (`k6 baseline --compare last-pass`): a regression fails the gate.
    pub require_no_regression: bool,
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            environment: None,
            compose_project: "tcsgate".into(),
            required: [
                "runtime-integration",
                "release-gate",
                "k6-baseline",
                "k6-distributed",
            ]
            .map(String::from)
            .to_vec(),
            docs_root: None,
            conditions: vec![],
            require_no_regression: false,
        }
    }
}

/// A file the frontend gate looks at: it must exist, match a pattern, and/or
/// have been changed (committed) after a date.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileCondition {
    pub name: String,
    pub path: Utf8PathBuf,
    /// A regular expression searched in the whole file; `(?m)` makes `^` and
    /// `$` match at line ends (task boards put the status on the next line).
    #[serde(default)]
    pub pattern: Option<String>,
    /// `YYYY-MM-DD`: the file's last commit must be on or after this day.
    #[serde(default)]
    pub changed_after: Option<String>,
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

impl Config {
    /// Reads and validates `path`. A missing file is an error only when the
    /// user named it; the default `xtask.toml` may be absent (built-in
    /// defaults then apply).
    pub fn load(path: &Utf8Path, must_exist: bool) -> anyhow::Result<Config> {
        let text = match crate::files::read_string(path, crate::files::SMALL) {
            Ok(t) => t,
            Err(e) if crate::files::is_not_found(&e) && !must_exist => return Ok(Config::default()),
            // files::read says "cannot read PATH: why"; name it a config.
            Err(e) => {
                let why = format!("{e:#}");
                let why = why.strip_prefix("cannot read ").unwrap_or(&why);
                anyhow::bail!("cannot read config {why}")
            }
        };
        Config::parse(path, &text)
    }

    pub fn parse(path: &Utf8Path, text: &str) -> anyhow::Result<Config> {
        let de = toml::Deserializer::new(text);
        let config: Config = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            let (line, col) = inner
                .span()
                .map(|s| line_col(text, s.start))
                .unwrap_or((1, 1));
            let msg = inner.message().replace('\n', " ");
            let key = if key == "." {
                String::new()
            } else {
                format!(" (key `{key}`)")
            };
            anyhow::anyhow!("{path}:{line}:{col}: {msg}{key}")
        })?;
        config.validate().map_err(|(key, msg)| {
            let (line, col) = locate(text, &key).unwrap_or((1, 1));
            anyhow::anyhow!("{path}:{line}:{col}: {msg} (key `{key}`)")
        })?;
        Ok(config)
    }

    /// Checks that span several fields; returns the offending key path.
    fn validate(&self) -> Result<(), (String, String)> {
        for (i, c) in self.ops.health.components.iter().enumerate() {
            let key = format!("ops.health.components[{i}].address");
            match c.kind {
                ProbeKind::Http => {
                    c.address
                        .parse::<HttpUrl>()
                        .map_err(|e| (key.clone(), e.to_string()))?;
                }
                _ => {
                    parse_host_port(&c.address).map_err(|e| (key.clone(), e.to_string()))?;
                }
            }
        }
        if let Some(r) = &self.environment.external.redis {
            parse_host_port(r)
                .map_err(|e| ("environment.external.redis".to_string(), e.to_string()))?;
        }
        if !(1..=100_000).contains(&self.k6.vus) {
            return Err(("k6.vus".into(), "must be 1 to 100000 virtual users".into()));
        }
        for (key, classes) in [
            ("release_gate.classes", &self.release_gate.classes),
            ("integration.classes", &self.integration.classes),
        ] {
            if let Some(i) = classes.iter().position(|c| c.trim().is_empty()) {
                return Err((
                    format!("{key}[{i}]"),
                    "an empty class name: write the class, e.g. \"com.ticketrush.demo.queue.QueuePolicyTest\"".into(),
                ));
            }
            for (i, c) in classes.iter().enumerate() {
                crate::units::check_test_filter(c)
                    .map_err(|e| (format!("{key}[{i}]"), e.to_string()))?;
            }
        }
        self.validate_names()?;
        self.validate_gate()?;
        if self.environment.poll_interval > Duration::millis(100) {
            return Err(("environment.poll_interval".into(), "must be 100ms or less (readiness is polled often so a ready service is noticed at once)".into()));
        }
        if self.k6.distributed.max_spread_ratio < 1.0 {
            return Err((
                "k6.distributed.max_spread_ratio".into(),
                "must be 1.0 or more (busiest replica over idlest)".into(),
            ));
        }
        let r = &self.k6.regression;
        for (key, v) in [
            ("p95_increase", r.p95_increase),
            ("p95_min_ms", r.p95_min_ms),
            ("p99_increase", r.p99_increase),
            ("p99_min_ms", r.p99_min_ms),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err((
                    format!("k6.regression.{key}"),
                    "must be a number of 0 or more".into(),
                ));
            }
        }
        if !(100..=100_000).contains(&r.resamples) {
            return Err((
                "k6.regression.resamples".into(),
                "must be 100 to 100000".into(),
            ));
        }
        if !(0.5..1.0).contains(&r.confidence.get()) {
            return Err((
                "k6.regression.confidence".into(),
                "must be at least 0.5 and below 1 (e.g. 0.95)".into(),
            ));
        }
        if self.k6.baseline.max_p95_ms.is_nan() || self.k6.baseline.max_p95_ms <= 0.0 {
            return Err((
                "k6.baseline.max_p95_ms".into(),
                "must be a positive number of milliseconds".into(),
            ));
        }
        Ok(())
    }
}

/// A suite name as it becomes a folder of the reports: lower-case letters,
/// digits and `-` (never a path).
pub fn check_suite_name(s: &str) -> anyhow::Result<()> {
    crate::units::check_name("suite name", s, "-")?;
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        anyhow::bail!("bad suite name `{s}`: suites are lower-case, e.g. release-gate");
    }
    Ok(())
}

impl Config {
    /// `[gate]` is checked whole before any stage runs: a bad pattern found
    /// after the stages ran would throw their work away, and a gate that
    /// requires nothing would be READY for nothing.
    fn validate_gate(&self) -> Result<(), (String, String)> {
        let g = &self.gate;
        if g.required.is_empty() && g.conditions.is_empty() {
            return Err((
                "gate.required".into(),
                "the gate requires nothing (no suite, no condition), so it could never mean READY: list the suites in [gate].required".into(),
            ));
        }
        for (i, s) in g.required.iter().enumerate() {
            check_suite_name(s).map_err(|e| (format!("gate.required[{i}]"), e.to_string()))?;
        }
        for (i, c) in g.conditions.iter().enumerate() {
            let key = |k: &str| format!("gate.conditions[{i}].{k}");
            let p = c.path.as_str();
            let rel = p.strip_prefix("{docs_root}/").unwrap_or(p);
            let leaves = Utf8Path::new(rel).components().any(|c| {
                !matches!(
                    c,
                    camino::Utf8Component::Normal(_) | camino::Utf8Component::CurDir
                )
            });
            if rel.is_empty() || leaves {
                return Err((
                    key("path"),
                    format!("`{}` leaves the repository: give a path inside it, relative, without `..` (or under {{docs_root}}/)", crate::units::quote(p)),
                ));
            }
            if let Some(pattern) = &c.pattern {
                regex_lite::Regex::new(pattern).map_err(|e| {
                    (
                        key("pattern"),
                        format!(
                            "bad regular expression: {}",
                            e.to_string().replace('\n', " ")
                        ),
                    )
                })?;
            }
            if let Some(d) = &c.changed_after {
                let ok =
                    d.len() == 10 && humantime::parse_rfc3339(&format!("{d}T00:00:00Z")).is_ok();
                if !ok {
                    return Err((
                        key("changed_after"),
                        format!(
                            "`{}` is not a date: write YYYY-MM-DD, e.g. 2026-11-01",
                            crate::units::quote(d)
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Every name the config hands to a tool as a value (`docker run IMAGE`,
    /// `compose logs SERVICE`, `gradle TASK`, `apt-get install PKG`): none may
    /// be read by the tool as an option.
    fn validate_names(&self) -> Result<(), (String, String)> {
        use crate::units::{
            check_image_ref, check_name, NETWORK_CHARS, PACKAGE_CHARS, SERVICE_CHARS, TASK_CHARS,
        };
        let err = |key: String| move |e: anyhow::Error| (key, e.to_string());
        check_image_ref(&self.k6.docker_image).map_err(err("k6.docker_image".into()))?;
        check_name("docker network", &self.k6.docker_network, NETWORK_CHARS)
            .map_err(err("k6.docker_network".into()))?;
        let c = &self.environment.compose;
        for (key, name) in [
            ("environment.compose.app_service", Some(&c.app_service)),
            ("environment.compose.lb_service", Some(&c.lb_service)),
            (
                "environment.compose.redis_service",
                c.redis_service.as_ref(),
            ),
        ] {
            if let Some(name) = name {
                check_name("compose service", name, SERVICE_CHARS).map_err(err(key.into()))?;
            }
        }
        let lists = [
            (
                "environment.compose.services",
                &c.services,
                "compose service",
                SERVICE_CHARS,
            ),
            (
                "environment.compose.build_tasks",
                &c.build_tasks,
                "Gradle task",
                TASK_CHARS,
            ),
            (
                "environment.local.app_build_tasks",
                &self.environment.local.app_build_tasks,
                "Gradle task",
                TASK_CHARS,
            ),
            (
                "tools.apt",
                &self.tools.apt,
                "Debian package",
                PACKAGE_CHARS,
            ),
        ];
        for (key, names, what, chars) in lists {
            for (i, n) in names.iter().enumerate() {
                // A Gradle task path may start with `:` (`:app:jar`).
                let n = if what == "Gradle task" {
                    n.trim_start_matches(':')
                } else {
                    n
                };
                check_name(what, n, chars).map_err(err(format!("{key}[{i}]")))?;
            }
        }
        // `{project}` is filled in before use.
        check_name(
            "compose network",
            &c.network.replace("{project}", "p"),
            NETWORK_CHARS,
        )
        .map_err(err("environment.compose.network".into()))?;
        Ok(())
    }
}

pub use crate::units::parse_host_port;

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
    (line, col)
}

/// Where a key path like `ops.health.components[1].address` stands in the
/// document, for errors found after deserialisation.
fn locate(text: &str, key: &str) -> Option<(usize, usize)> {
    let doc = toml_edit::ImDocument::parse(text).ok()?;
    let mut item: &toml_edit::Item = doc.as_item();
    for part in key.split('.') {
        let (name, index) = match part.split_once('[') {
            Some((n, rest)) => (n, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        item = item.get(name)?;
        if let Some(i) = index {
            item = item.get(i)?;
        }
    }
    let span = item
        .span()
        .or_else(|| item.as_value().and_then(|v| v.span()))?;
    Some(line_col(text, span.start))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> anyhow::Result<Config> {
        Config::parse(Utf8Path::new("xtask.toml"), text)
    }

    #[test]
    fn empty_config_gives_the_legacy_defaults() {
        let c = parse("").unwrap();
        assert_eq!(c.k6.vus, 60);
        assert_eq!(c.k6.duration.get(), Duration::secs(60));
        assert_eq!(c.integration.compose_project, "tcsit");
        assert_eq!(c.k6.distributed.compose_project, "tcsdist");
        assert_eq!(c.ops.monitor.tail_lines, 2000);
        assert_eq!(c.reports.keep_runs, 20);
        assert_eq!(c.release_gate.classes.len(), 6);
    }

    #[test]
    fn typed_values_parse() {
        let c = parse("[k6]\nvus = 5\nduration = \"90s\"\n[k6.baseline]\nmax_fail_rate = 0.1\n")
            .unwrap();
        assert_eq!(c.k6.vus, 5);
        assert_eq!(c.k6.duration.get(), Duration::secs(90));
        assert_eq!(c.k6.baseline.max_fail_rate.get(), 0.1);
    }

    #[test]
    fn unknown_key_is_one_line_with_position_and_key() {
        let e = parse("[k6]\nvus = 5\nvuz = 6\n").unwrap_err().to_string();
        assert!(e.starts_with("xtask.toml:3:1: unknown field `vuz`"), "{e}");
        assert!(e.contains("key `k6.vuz`"), "{e}");
        assert!(!e.contains('\n'), "{e}");
    }

    #[test]
    fn wrong_type_names_line_column_and_key() {
        let e = parse("[k6]\n\nvus = \"many\"\n").unwrap_err().to_string();
        assert!(e.starts_with("xtask.toml:3:7: "), "{e}");
        assert!(e.contains("key `k6.vus`"), "{e}");
    }

    #[test]
    fn bad_duration_names_line_column_and_key() {
        let e = parse("[environment]\nready_timeout = \"soon\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("xtask.toml:2:17: bad duration `soon`"), "{e}");
        assert!(e.contains("key `environment.ready_timeout`"), "{e}");
    }

    #[test]
    fn rate_above_one_is_rejected() {
        let e = parse("[k6.baseline]\nmin_checks_rate = 1.5\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("xtask.toml:2:19") && e.contains("out of range"),
            "{e}"
        );
    }

    #[test]
    fn cross_field_errors_still_point_at_the_key() {
        let text = "[ops.health]\n[[ops.health.components]]\nname = \"api\"\nkind = \"http\"\naddress = \"redis:6379\"\n";
        let e = parse(text).unwrap_err().to_string();
        assert!(e.starts_with("xtask.toml:5:11: "), "{e}");
        assert!(e.contains("ops.health.components[0].address"), "{e}");
    }

    /// The shipped configurations: the demo's and the real service's.
    fn shipped(name: &str) -> Config {
        let path = crate::context::project_root().join(name);
        Config::load(&path, true).unwrap_or_else(|e| panic!("{e:#}"))
    }

    #[test]
    fn demo_config_parses() {
        let c = shipped("xtask.toml");
        assert_eq!(c.project.service_dir, "demo");
        assert_eq!(c.environment.default, EnvKind::Local);
    }

    #[test]
    fn real_service_config_parses_with_the_legacy_values() {
        let c = shipped("configs/ticket-core-service.toml");
        assert_eq!(c.project.service_dir, ".");
        assert_eq!(c.release_gate.classes.len(), 6);
        assert_eq!(c.integration.classes.len(), 3);
        assert_eq!(c.environment.default, EnvKind::Compose);
        assert_eq!(
            c.environment.health_url.to_string(),
            "http://127.0.0.1:18080/api/concerts"
        );
        let compose = &c.environment.compose;
        assert_eq!(compose.file, "docker-compose.yml");
        assert_eq!(
            compose.services,
            [
                "postgres-db",
                "redis",
                "zookeeper",
                "kafka",
                "app",
                "nginx-lb"
            ]
        );
        assert_eq!(compose.network, "{project}_ticket-network");
        assert_eq!(
            compose.env_file.as_deref(),
            Some(Utf8Path::new(".env.local"))
        );
        assert_eq!(c.integration.compose_project, "tcsit");
        assert_eq!(c.k6.distributed.compose_project, "tcsdist");
        assert_eq!(c.ops.monitor.compose_project, "tcs");
        assert_eq!(c.k6.script, "scripts/perf/k6-waiting-queue-join.js");
        assert_eq!(c.k6.api_host.to_string(), "http://127.0.0.1:8080");
        assert_eq!((c.k6.vus, c.k6.duration.get()), (60, Duration::secs(60)));
        assert_eq!(c.k6.sleep_max, Duration::millis(200));
        assert_eq!(c.k6.user_id_base, 900_000_000);
        assert_eq!(c.k6.distributed.user_id_base, 910_000_000);
        assert_eq!(c.k6.baseline.max_p95_ms, 1200.0);
        assert_eq!(c.k6.baseline.max_fail_rate.get(), 0.02);
        assert_eq!(c.k6.baseline.min_checks_rate.get(), 0.98);
        let components: Vec<_> = c
            .ops
            .health
            .components
            .iter()
            .map(|c| (c.name.as_str(), c.address.as_str()))
            .collect();
        assert_eq!(
            components,
            [
                ("api", "http://127.0.0.1:8080/api/concerts"),
                ("redis", "127.0.0.1:6379"),
                ("kafka", "127.0.0.1:9092"),
                ("postgres", "127.0.0.1:5432"),
            ]
        );
        assert_eq!(c.api_scripts.dir, "scripts/api");
        assert_eq!(
            c.api_scripts.push_mode_only.get("v7-sse-rank-push.sh"),
            Some(&PushMode::Sse)
        );
        let conditions: Vec<_> = c.gate.conditions.iter().map(|c| c.path.as_str()).collect();
        assert!(
            conditions.iter().any(|p| p.ends_with("/task.md")),
            "{conditions:?}"
        );
        assert_eq!(conditions.len(), 4, "task board and three guides");
    }

    #[test]
    fn zero_vus_replicas_out_of_range_and_blank_classes_are_refused_at_load() {
        let e = parse("[k6]\nvus = 0\n").unwrap_err().to_string();
        assert_eq!(
            e,
            "xtask.toml:2:7: must be 1 to 100000 virtual users (key `k6.vus`)"
        );
        let e = parse("[integration]\nreplicas = 33\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "xtask.toml:2:12: 33 app replicas: choose 1 to 32 (key `integration.replicas`)"
        );
        let e = parse("[k6.distributed]\nreplicas = 0\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("key `k6.distributed.replicas`"), "{e}");
        let e = parse("[release_gate]\nclasses = [\"a.B\", \" \"]\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("xtask.toml:2:19: an empty class name")
                && e.contains("release_gate.classes[1]"),
            "{e}"
        );
    }

    #[test]
    fn malformed_toml_is_one_line() {
        let e = parse("[k6\nvus = 1").unwrap_err().to_string();
        assert!(e.starts_with("xtask.toml:1:"), "{e}");
        assert!(!e.contains('\n'), "{e}");
    }
}
