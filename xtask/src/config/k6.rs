//! `[k6]`: the load test's defaults, and its `baseline` limits, `regression` tolerances and
//! `distributed` run (with its warm-up).

use camino::Utf8PathBuf;
use serde::Deserialize;

use super::EnvKind;
use crate::units::{Duration, HttpUrl, NonZeroDuration, Rate, Replicas};

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
    /// k6 processes making the load, each its own execution segment,
    /// their samples merged exactly (`--generators`).
    pub generators: crate::units::Generators,
    /// Where k6 runs: here, or on a cluster (`[k6.operator]`).
    pub engine: crate::operator::Engine,
    pub operator: crate::operator::Config,
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
            generators: crate::units::Generators::ONE,
            engine: crate::operator::Engine::default(),
            operator: crate::operator::Config::default(),
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
