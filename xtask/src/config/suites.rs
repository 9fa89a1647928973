//! The suites' own sections: `[release_gate]`, `[api_scripts]`, `[integration]`, `[ops]`
//! and `[gate]` (what it requires, its file conditions).

use std::collections::BTreeMap;

use camino::Utf8PathBuf;
use serde::Deserialize;

use super::EnvKind;
use crate::units::{HttpUrl, NonZeroDuration, Replicas};

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
