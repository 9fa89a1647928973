//! R3: bad input is refused, not half-run. Each case gets a reports folder
//! seeded with a known latest report of its suite, and must end with:
//!
//! - a non-zero exit (1 for our errors, 2 for clap's usage errors, 127 for a
//!   missing tool),
//! - one line on stderr starting `error:` that names the input (clap's
//!   usage errors may add its short "For more information" lines; their
//!   first line still names the option),
//! - no panic,
//! - the reports folder exactly as it was (latest byte-identical, nothing
//!   new but a suite's lock file).
//!
//! Except on purpose: a k6 summary that is empty, truncated or garbage while
//! k6 exits 0 cannot be known bad before k6 ran, so those runs end in a FAIL
//! report with a note (and `latest` becomes that report); see the last tests.
//! (A `--tests` class that matches nothing is the same kind: only Gradle can
//! tell, see tests/release_gate.rs `an_unknown_class_fails_with_gradles_no_tests_found`.)

mod common;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use common::{
    files, free_port, listen_in, path_with, stand_in, stub_api, TempDir, Xtask, RELIABILITY_PORTS,
};

/// The demo, valid in every part a case does not break. No `[k6]`,
/// `[integration]` or `[release_gate]` table: cases add their own.
fn base(dir: &TempDir) -> String {
    format!(
        r#"[project]
service_dir = "demo"
[gradle]
offline = true
[tools]
# No pinned k6 here: k6 comes from PATH only, so each case decides.
dir = "{tools}"
[environment]
default = "local"
health_url = "http://127.0.0.1:24999/api/concerts"
ready_timeout = "60s"
[environment.local]
app_command = ["java", "-jar", "build/libs/demo.jar"]
app_build_tasks = ["jar"]
[environment.compose]
file = "demo/docker-compose.yml"
"#,
        tools = dir.join("tools").display()
    )
}

/// The demo's k6 script: the start of a `[k6]` table.
const K6: &str = "[k6]\nscript = \"demo/perf/waiting-queue-join.js\"\n";

const SEED_MD: &str = "# Seeded report\n\n- Result: PASS\n- Seeded: by tests/bad_inputs.rs\n";
const SEED_JSON: &str = "{\"seeded\": \"by tests/bad_inputs.rs\"}\n";

/// One bad input, described, then run with `refused`.
struct Bad {
    name: &'static str,
    suite: &'static str,
    args: Vec<String>,
    config: Option<String>,
    extra: String,
    config_path: Option<PathBuf>,
    reports: Option<PathBuf>,
    env: Vec<(String, String)>,
}

/// A case of `suite` (the report the seeded folder holds), run with `args`.
fn bad(name: &'static str, suite: &'static str, args: &[&str]) -> Bad {
    Bad {
        name,
        suite,
        args: args.iter().map(|a| a.to_string()).collect(),
        config: None,
        extra: String::new(),
        config_path: None,
        reports: None,
        env: vec![],
    }
}

impl Bad {
    /// TOML appended to the base config.
    fn with(mut self, toml: &str) -> Bad {
        self.extra.push_str(toml);
        self
    }
    /// The whole config file instead of the base.
    fn config(mut self, toml: &str) -> Bad {
        self.config = Some(toml.into());
        self
    }
    fn config_path(mut self, p: impl Into<PathBuf>) -> Bad {
        self.config_path = Some(p.into());
        self
    }
    fn reports(mut self, p: impl Into<PathBuf>) -> Bad {
        self.reports = Some(p.into());
        self
    }
    fn env(mut self, k: &str, v: impl AsRef<str>) -> Bad {
        self.env.push((k.into(), v.as_ref().into()));
        self
    }

    /// Runs the case; checks exit `code`, the one error line (which must
    /// contain every `says`), no panic, and the reports folder untouched.
    /// Returns the error line.
    fn refused(self, code: i32, says: &[&str]) -> String {
        let dir = TempDir::new(&format!("bad-{}", self.name));
        let reports = self.reports.clone().unwrap_or_else(|| dir.join("reports"));
        seed(&reports, self.suite);
        let before = report_files(&reports);
        let config = dir.join("xtask.toml");
        let text = match &self.config {
            Some(t) => t.clone(),
            None => base(&dir) + &self.extra,
        };
        std::fs::write(&config, text).unwrap();
        let mut cmd = Xtask::with(self.config_path.as_deref().unwrap_or(&config), &reports)
            .args(&self.args)
            .cmd;
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("cannot run the xtask binary");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let show = format!(
            "case {}: exit {:?}\n--- stdout\n{stdout}--- stderr\n{stderr}",
            self.name,
            out.status.code()
        );
        assert_eq!(out.status.code(), Some(code), "{show}");
        for word in ["panicked", "RUST_BACKTRACE"] {
            assert!(!stderr.contains(word) && !stdout.contains(word), "{show}");
        }
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        let first = lines.first().copied().unwrap_or_default();
        assert!(first.starts_with("error: "), "{show}");
        if code == 2 {
            // clap: its line, then at most the possible values, a usage
            // line and a hint.
            assert!(lines.len() <= 4, "a long usage error: {show}");
            assert!(
                lines[1..].iter().all(|l| l.starts_with("Usage: ")
                    || l.starts_with("For more information")
                    || l.trim_start().starts_with("[possible values: ")),
                "{show}"
            );
        } else {
            assert_eq!(lines.len(), 1, "more than one line: {show}");
        }
        for s in says {
            assert!(first.contains(s), "`{s}` not in the error line: {show}");
        }
        assert_eq!(
            report_files(&reports),
            before,
            "the reports folder changed: {show}"
        );
        first.to_string()
    }
}

/// Every file of a reports folder but the suites' lock files: a suite's
/// lock file is created before any check and kept on purpose (it is an OS
/// lock, released by the kernel).
fn report_files(reports: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut all = files(reports);
    all.retain(|path, _| Path::new(path).file_name().is_some_and(|n| n != ".lock"));
    all
}

/// A known latest report of `suite`, to be found byte-identical afterwards.
fn seed(reports: &Path, suite: &str) {
    let latest = reports.join(suite).join("latest");
    if std::fs::create_dir_all(&latest).is_err() {
        return; // an unwritable reports folder: nothing can be seeded there
    }
    std::fs::write(latest.join(format!("{suite}-latest.md")), SEED_MD).unwrap();
    std::fs::write(latest.join(format!("{suite}-latest.json")), SEED_JSON).unwrap();
}

// ---------------------------------------------------------------------------
// The config file
// ---------------------------------------------------------------------------

#[test]
fn a_config_file_that_does_not_exist() {
    let e = bad("no-config", "release-gate", &["release-gate"])
        .config_path("/nonexistent/xtrel.toml")
        .refused(1, &["cannot read config /nonexistent/xtrel.toml"]);
    assert!(e.contains("No such file"), "{e}");
}

#[test]
fn malformed_toml_names_file_line_and_column() {
    bad("malformed", "release-gate", &["release-gate"])
        .config("[project\nservice_dir = \"demo\"\n")
        .refused(1, &["xtask.toml:1:", "invalid table header"]);
}

#[test]
fn an_unknown_key_names_the_key() {
    bad("unknown-key", "k6", &["k6", "run"])
        .with(K6)
        .with("vuz = 5\n")
        .refused(1, &["unknown field `vuz`", "key `k6.vuz`"]);
}

#[test]
fn an_unknown_table_names_it() {
    bad("unknown-table", "k6", &["k6", "run"])
        .with("[k7]\nvus = 5\n")
        .refused(1, &["unknown field `k7`"]);
}

#[test]
fn a_mistyped_value_names_the_key_and_the_type() {
    bad("mistyped", "k6", &["k6", "run"])
        .with(K6)
        .with("vus = \"many\"\n")
        .refused(1, &["invalid type: string \"many\"", "key `k6.vus`"]);
}

#[test]
fn a_bad_duration_in_the_config() {
    bad("duration-config", "k6", &["k6", "run"])
        .with(K6)
        .with("duration = \"soon\"\n")
        .refused(1, &["bad duration `soon`", "key `k6.duration`"]);
}

#[test]
fn a_zero_duration_in_the_config() {
    bad("duration-zero", "k6", &["k6", "run"])
        .with(K6)
        .with("duration = \"0s\"\n")
        .refused(
            1,
            &["duration `0s` must be longer than 0s", "key `k6.duration`"],
        );
}

#[test]
fn negative_vus_in_the_config() {
    bad("vus-negative-config", "k6", &["k6", "run"])
        .with(K6)
        .with("vus = -5\n")
        .refused(1, &["key `k6.vus`"]);
}

#[test]
fn zero_vus_in_the_config() {
    bad("vus-zero-config", "k6", &["k6", "run"])
        .with(K6)
        .with("vus = 0\n")
        .refused(1, &["must be 1 to 100000 virtual users", "key `k6.vus`"]);
}

#[test]
fn a_rate_above_one_in_the_config() {
    bad("rate-config", "k6-baseline", &["k6", "baseline"])
        .with(K6)
        .with("[k6.baseline]\nmax_fail_rate = 1.5\n")
        .refused(
            1,
            &[
                "rate 1.5 is out of range",
                "key `k6.baseline.max_fail_rate`",
            ],
        );
}

#[test]
fn an_https_url_in_the_config() {
    bad("https-config", "k6", &["k6", "run"])
        .with(K6)
        .with("api_host = \"https://127.0.0.1:8080\"\n")
        .refused(1, &["https is not supported", "key `k6.api_host`"]);
}

#[test]
fn zero_replicas_in_the_config() {
    bad("replicas-0-config", "runtime-integration", &["integration"])
        .with("[integration]\nreplicas = 0\n")
        .refused(
            1,
            &["0 app replicas: choose 1 to 32", "integration.replicas"],
        );
}

#[test]
fn thirty_three_replicas_in_the_config() {
    bad(
        "replicas-33-config",
        "k6-distributed",
        &["k6", "distributed"],
    )
    .with(K6)
    .with("[k6.distributed]\nreplicas = 33\n")
    .refused(
        1,
        &["33 app replicas: choose 1 to 32", "k6.distributed.replicas"],
    );
}

#[test]
fn an_empty_release_gate_class_list() {
    bad("classes-empty", "release-gate", &["release-gate"])
        .with("[release_gate]\nclasses = []\n")
        .refused(1, &["no test classes to run", "[release_gate].classes"]);
}

#[test]
fn a_blank_class_name_in_the_config() {
    bad("classes-blank", "runtime-integration", &["integration"])
        .with(
            "[integration]\nclasses = [\"com.ticketrush.demo.ConcertApiIntegrationTest\", \"\"]\n",
        )
        .refused(1, &["an empty class name", "integration.classes[1]"]);
}

#[test]
fn a_bad_compose_project_name_in_the_config() {
    bad("project-config", "runtime-integration", &["integration"])
        .with("[integration]\ncompose_project = \"Ticket Core\"\n")
        .refused(1, &["compose project `Ticket Core`", "lower-case"]);
}

// ---------------------------------------------------------------------------
// Flags and legacy variables
// ---------------------------------------------------------------------------

#[test]
fn a_bad_duration_flag() {
    bad(
        "duration-flag",
        "k6",
        &["k6", "run", "--duration", "forever"],
    )
    .with(K6)
    .refused(2, &["'--duration <DURATION>'", "bad duration `forever`"]);
}

#[test]
fn a_bad_duration_in_a_legacy_variable() {
    bad("duration-env", "k6", &["k6", "run"])
        .with(K6)
        .env("K6_DURATION", "5 parsecs")
        .refused(2, &["'--duration <DURATION>'", "bad duration `5 parsecs`"]);
}

#[test]
fn a_bad_timeout_flag() {
    bad(
        "timeout-flag",
        "release-gate",
        &["release-gate", "--timeout", "1 fortnight"],
    )
    .refused(2, &["'--timeout <DURATION>'", "bad duration"]);
}

#[test]
fn negative_vus_flag_is_a_bad_value_of_vus() {
    bad("vus-negative-flag", "k6", &["k6", "run", "--vus", "-3"])
        .with(K6)
        .refused(2, &["'-3' for '--vus <N>'", "1..=100000"]);
}

#[test]
fn negative_vus_in_k6_vus() {
    bad("vus-negative-env", "k6", &["k6", "run"])
        .with(K6)
        .env("K6_VUS", "-3")
        .refused(2, &["'-3' for '--vus <N>'"]);
}

#[test]
fn zero_vus_flag() {
    bad("vus-zero-flag", "k6", &["k6", "run", "--vus", "0"])
        .with(K6)
        .refused(2, &["'0' for '--vus <N>'", "1..=100000"]);
}

#[test]
fn a_rate_above_one_flag() {
    bad(
        "rate-flag",
        "k6-baseline",
        &["k6", "baseline", "--max-fail-rate", "1.5"],
    )
    .with(K6)
    .refused(2, &["'--max-fail-rate <RATE>'", "rate 1.5 is out of range"]);
}

#[test]
fn a_rate_above_one_in_k6_baseline_max_fail_rate() {
    bad("rate-env", "k6-baseline", &["k6", "baseline"])
        .with(K6)
        .env("K6_BASELINE_MAX_FAIL_RATE", "2")
        .refused(2, &["'--max-fail-rate <RATE>'", "rate 2 is out of range"]);
}

#[test]
fn a_negative_checks_rate_flag() {
    bad(
        "rate-negative",
        "k6-baseline",
        &["k6", "baseline", "--min-checks-rate", "-0.1"],
    )
    .with(K6)
    .refused(2, &["'--min-checks-rate <RATE>'", "out of range"]);
}

#[test]
fn a_negative_p95_limit() {
    bad(
        "p95-negative",
        "k6-baseline",
        &["k6", "baseline", "--max-p95-ms", "-5"],
    )
    .with(K6)
    .refused(1, &["bad p95 limit -5", "--max-p95-ms"]);
}

#[test]
fn an_https_api_host() {
    bad(
        "https-flag",
        "k6",
        &["k6", "run", "--api-host", "https://127.0.0.1:8080"],
    )
    .with(K6)
    .refused(2, &["'--api-host <URL>'", "https is not supported"]);
}

#[test]
fn a_url_without_a_host() {
    bad(
        "url-no-host",
        "k6",
        &["k6", "run", "--api-host", "http://:8080/x"],
    )
    .with(K6)
    .refused(2, &["'--api-host <URL>'", "missing host"]);
}

#[test]
fn a_url_with_a_bad_port() {
    bad(
        "url-bad-port",
        "k6",
        &["k6", "run", "--api-host", "http://127.0.0.1:99999"],
    )
    .with(K6)
    .refused(2, &["'--api-host <URL>'", "bad port `99999`"]);
}

#[test]
fn a_bad_health_url_in_it_health_url() {
    bad("url-env", "runtime-integration", &["integration"])
        .env("IT_HEALTH_URL", "http://127.0.0.1:70000/api/concerts")
        .refused(2, &["'--health-url <URL>'", "bad port `70000`"]);
}

#[test]
fn a_bad_api_url_in_ops_health_api_url() {
    bad("ops-url-env", "runtime-health-check", &["ops", "health"])
        .env("OPS_HEALTH_API_URL", "https://api.example/api/concerts")
        .refused(2, &["'--api-url <URL>'", "https is not supported"]);
}

#[test]
fn a_bad_port_in_ops_redis_port() {
    bad("ops-port-env", "runtime-health-check", &["ops", "health"])
        .env("OPS_REDIS_PORT", "six")
        .refused(2, &["'--redis-port <PORT>'"]);
}

#[test]
fn a_missing_k6_script() {
    bad(
        "no-script",
        "k6",
        &["k6", "run", "--script", "demo/perf/nope.js"],
    )
    .with(K6)
    .refused(1, &["k6 script", "demo/perf/nope.js not found", "--script"]);
}

#[test]
fn a_missing_k6_script_in_k6_script() {
    bad("no-script-env", "k6-baseline", &["k6", "baseline"])
        .with(K6)
        .env("K6_SCRIPT", "/nonexistent/xtrel.js")
        .refused(1, &["k6 script /nonexistent/xtrel.js not found"]);
}

#[test]
fn zero_replicas_flag() {
    bad(
        "replicas-0-flag",
        "runtime-integration",
        &["integration", "--replicas", "0"],
    )
    .refused(
        2,
        &["'0' for '--replicas <N>'", "0 app replicas: choose 1 to 32"],
    );
}

#[test]
fn thirty_three_replicas_flag() {
    bad(
        "replicas-33-flag",
        "k6-distributed",
        &["k6", "distributed", "--replicas", "33"],
    )
    .with(K6)
    .refused(
        2,
        &[
            "'33' for '--replicas <N>'",
            "33 app replicas: choose 1 to 32",
        ],
    );
}

#[test]
fn negative_replicas_flag() {
    bad("replicas-negative", "gate", &["gate", "--replicas", "-1"])
        .refused(2, &["'-1' for '--replicas <N>'"]);
}

#[test]
fn replicas_that_are_not_a_number_in_it_app_replicas() {
    bad("replicas-env", "runtime-integration", &["integration"])
        .env("IT_APP_REPLICAS", "abc")
        .refused(2, &["'abc' for '--replicas <N>'"]);
}

#[test]
fn a_bad_compose_project_flag() {
    bad(
        "project-flag",
        "runtime-integration",
        &[
            "integration",
            "--env",
            "compose",
            "--compose-project",
            "My Project",
        ],
    )
    .refused(1, &["compose project `My Project`", "lower-case"]);
}

#[test]
fn a_bad_compose_project_in_it_compose_project() {
    bad("project-env", "env", &["env", "up", "--env", "compose"])
        .env("IT_COMPOSE_PROJECT", "-tcsit")
        .refused(1, &["compose project `-tcsit`"]);
}

#[test]
fn an_unknown_environment_kind() {
    bad(
        "env-kind",
        "runtime-integration",
        &["integration", "--env", "docker"],
    )
    .refused(2, &["'docker' for '--env <KIND>'"]);
}

#[test]
fn an_unknown_gate_stage() {
    bad("gate-only", "gate", &["gate", "--only", "nosuch"])
        .refused(1, &["unknown stage `nosuch`", "release-gate"]);
}

#[test]
fn an_unknown_gate_stage_to_skip() {
    bad("gate-skip", "gate", &["gate", "--skip", "release_gate"])
        .refused(1, &["unknown stage `release_gate`"]);
}

#[test]
fn a_min_count_that_is_not_a_number() {
    bad(
        "min-nan",
        "runtime-monitor-snapshot",
        &["ops", "monitor", "--min", "QUEUE_MONITOR=lots"],
    )
    .refused(2, &["'--min <KEY=N>'", "N must be a whole number"]);
}

#[test]
fn a_min_without_a_count() {
    bad(
        "min-no-count",
        "runtime-monitor-snapshot",
        &["ops", "monitor", "--min", "QUEUE_MONITOR"],
    )
    .refused(2, &["'--min <KEY=N>'", "expected KEY=N"]);
}

#[test]
fn a_run_stamp_that_climbs_out_of_the_reports_folder() {
    bad(
        "stamp-flag",
        "release-gate",
        &["release-gate", "--run-stamp", "../x"],
    )
    .refused(2, &["'--run-stamp <STAMP>'", "bad run stamp `../x`"]);
}

#[test]
fn a_bad_run_stamp_in_k6_run_stamp() {
    bad("stamp-env", "k6", &["k6", "run"])
        .with(K6)
        .env("K6_RUN_STAMP", "../../etc")
        .refused(2, &["bad run stamp `../../etc`"]);
}

#[test]
fn tests_naming_nothing() {
    bad(
        "tests-empty",
        "release-gate",
        &["release-gate", "--tests", ""],
    )
    .refused(2, &["'--tests <CLASS>'", "empty: name a test class"]);
}

#[test]
fn tests_naming_only_blanks() {
    bad(
        "tests-blank",
        "runtime-integration",
        &["integration", "--tests", "  "],
    )
    .refused(2, &["'--tests <CLASS>'", "empty"]);
}

// ---------------------------------------------------------------------------
// Issue 11: hostile and odd input, by root cause (RELIABILITY.md counts them)
// ---------------------------------------------------------------------------

/// Cause 3: no value we pass on can become an option of the tool.
#[test]
fn values_that_would_be_options_of_the_tools_are_refused() {
    bad(
        "c3-tests-init-script",
        "release-gate",
        &["release-gate", "--tests=--init-script=F"],
    )
    .refused(
        2,
        &["'--tests <CLASS>'", "`--init-script=F` is not a test class"],
    );
    bad(
        "c3-tests-dash",
        "runtime-integration",
        &["integration", "--tests=-Pfoo=1"],
    )
    .refused(2, &["'--tests <CLASS>'", "is not a test class"]);
    bad(
        "c3-tests-space",
        "release-gate",
        &["release-gate", "--tests", "com.x.A --init-script=F"],
    )
    .refused(2, &["is not a test class"]);
    bad("c3-classes-config", "release-gate", &["release-gate"])
        .with("[release_gate]\nclasses = [\"com.x.ATest\", \"--init-script=F\"]\n")
        .refused(
            1,
            &[
                "`--init-script=F` is not a test class",
                "key `release_gate.classes[1]`",
            ],
        );
    bad(
        "c3-integration-classes",
        "runtime-integration",
        &["integration"],
    )
    .with("[integration]\nclasses = [\"-I/etc/x.gradle\"]\n")
    .refused(1, &["is not a test class", "key `integration.classes[0]`"]);
    bad("c3-image-env", "k6", &["k6", "run"])
        .with(K6)
        .env("K6_DOCKER_IMAGE", "-v=/:/host")
        .refused(
            2,
            &[
                "'--docker-image <IMAGE>'",
                "`-v=/:/host` is not a docker image reference",
            ],
        );
    bad("c3-image-config", "k6", &["k6", "run"])
        .with(K6)
        .with("docker_image = \"--privileged\"\n")
        .refused(
            1,
            &["is not a docker image reference", "key `k6.docker_image`"],
        );
    bad("c3-network-env", "k6", &["k6", "run"])
        .with(K6)
        .env("K6_DOCKER_NETWORK", "--privileged")
        .refused(2, &["'--docker-network <NETWORK>'", "bad docker network"]);
    bad("c3-user-env", "k6", &["k6", "run"])
        .with(K6)
        .env("K6_DOCKER_USER", "-v=/:/x")
        .refused(2, &["'--docker-user <UID:GID>'", "bad docker user"]);
    bad(
        "c3-lb-service-env",
        "k6-distributed",
        &["k6", "distributed"],
    )
    .with(K6)
    .env("DIST_LB_SERVICE_NAME", "--rmi=all")
    .refused(2, &["'--lb-service <SERVICE>'", "bad compose service"]);
    bad(
        "c3-app-service-env",
        "runtime-monitor-snapshot",
        &["ops", "monitor"],
    )
    .env("OPS_APP_SERVICE", "-f")
    .refused(
        2,
        &["'--app-service <SERVICE>'", "bad compose service `-f`"],
    );
    bad(
        "c3-services-config",
        "runtime-integration",
        &["integration"],
    )
    .with("services = [\"app\", \"--build-arg=X\"]\n")
    .refused(
        1,
        &[
            "bad compose service",
            "key `environment.compose.services[1]`",
        ],
    );
    bad(
        "c3-build-task-config",
        "runtime-integration",
        &["integration"],
    )
    .with("build_tasks = [\"--init-script=F\"]\n")
    .refused(
        1,
        &[
            "bad Gradle task",
            "key `environment.compose.build_tasks[0]`",
        ],
    );
    bad("c3-apt-config", "release-gate", &["release-gate"])
        .config("[tools]\napt = [\"-oAPT::Update::Pre-Invoke::=touch /x\"]\n")
        .refused(1, &["bad Debian package", "key `tools.apt[0]`"]);
}

/// Cause 8: large durations are a one-line refusal, never a panic.
#[test]
fn huge_durations_are_refused_without_a_panic() {
    bad(
        "c8-duration-1e20",
        "k6",
        &["k6", "run", "--duration", "1e20"],
    )
    .with(K6)
    .refused(2, &["'--duration <DURATION>'", "too long: at most 30 days"]);
    bad(
        "c8-timeout-1e19",
        "release-gate",
        &["release-gate", "--timeout", "1e19"],
    )
    .refused(2, &["'--timeout <DURATION>'", "too long"]);
    bad(
        "c8-ready-timeout",
        "runtime-integration",
        &["integration", "--ready-timeout", "99999999999"],
    )
    .refused(2, &["'--ready-timeout <DURATION>'", "too long"]);
    bad("c8-years", "k6", &["k6", "run"])
        .with(K6)
        .env("K6_DURATION", "1000000000years")
        .refused(2, &["'--duration <DURATION>'"]);
    bad("c8-legacy-product", "runtime-integration", &["integration"])
        .env("IT_HEALTH_ATTEMPTS", "4294967295")
        .env("IT_HEALTH_SLEEP_SEC", "2592000")
        .refused(
            1,
            &[
                "IT_HEALTH_ATTEMPTS (4294967295) x IT_HEALTH_SLEEP_SEC",
                "more than 30 days",
            ],
        );
    bad("c8-slack-config", "k6", &["k6", "run"])
        .with(K6)
        .with("deadline_slack = \"1e30\"\n")
        .refused(1, &["too long", "key `k6.deadline_slack`"]);
    bad("c8-sleep-env", "k6", &["k6", "run"])
        .with(K6)
        .env("K6_SLEEP_MAX_SEC", "1e300")
        .refused(2, &["'--sleep-max <DURATION>'", "too long"]);
}

/// Cause 18: a duration finer than k6's millisecond is refused, not sent as `0s`.
#[test]
fn durations_below_a_millisecond_are_refused() {
    bad(
        "c18-duration-flag",
        "k6",
        &["k6", "run", "--duration", "0.0001"],
    )
    .with(K6)
    .refused(2, &["'--duration <DURATION>'", "finer than a millisecond"]);
    bad("c18-duration-env", "k6-baseline", &["k6", "baseline"])
        .with(K6)
        .env("K6_DURATION", "0.0005")
        .refused(2, &["finer than a millisecond"]);
    bad("c18-duration-config", "k6", &["k6", "run"])
        .with(K6)
        .with("duration = \"500us\"\n")
        .refused(1, &["finer than a millisecond", "key `k6.duration`"]);
    bad("c18-fraction", "k6", &["k6", "run", "--duration", "1.0001"])
        .with(K6)
        .refused(2, &["finer than a millisecond"]);
}

/// Cause 17: bad input found at the edge, not inside the run.
#[test]
fn bad_addresses_timeouts_and_folders_are_found_before_the_run() {
    bad(
        "c17-external-redis",
        "runtime-integration",
        &["integration", "--env", "external"],
    )
    .with("[environment.external]\nredis = \"localhost\"\n")
    .refused(
        1,
        &["expected HOST:PORT", "key `environment.external.redis`"],
    );
    bad("c17-service-dir", "release-gate", &["release-gate"])
        .config("[project]\nservice_dir = \"no-such-folder\"\n")
        .refused(
            1,
            &["[project].service_dir `no-such-folder`", "is not a folder"],
        );
    bad(
        "c17-timeout-0",
        "release-gate",
        &["release-gate", "--timeout", "0s"],
    )
    .refused(2, &["'--timeout <DURATION>'", "must be longer than 0s"]);
    bad(
        "c17-ops-timeout-0",
        "runtime-health-check",
        &["ops", "health", "--timeout", "0s"],
    )
    .refused(2, &["'--timeout <DURATION>'", "must be longer than 0s"]);
    bad(
        "c17-ready-timeout-0",
        "runtime-integration",
        &["integration", "--ready-timeout", "0"],
    )
    .refused(2, &["must be longer than 0s"]);
    bad(
        "c17-down-timeout-0",
        "runtime-integration",
        &["integration"],
    )
    .with("down_timeout = \"0ms\"\n")
    .refused(
        1,
        &[
            "must be longer than 0s",
            "key `environment.compose.down_timeout`",
        ],
    );
    bad(
        "c17-port-0-url",
        "k6",
        &["k6", "run", "--api-host", "http://127.0.0.1:0"],
    )
    .with(K6)
    .refused(
        2,
        &["'--api-host <URL>'", "port 0 is not a port to connect to"],
    );
    bad("c17-port-0-env", "runtime-health-check", &["ops", "health"])
        .env("OPS_REDIS_PORT", "0")
        .refused(2, &["'--redis-port <PORT>'", "port 0"]);
    bad("c17-port-0-config", "runtime-health-check", &["ops", "health"])
        .with("[[ops.health.components]]\nname = \"redis\"\nkind = \"redis\"\naddress = \"127.0.0.1:0\"\n")
        .refused(1, &["port 0", "ops.health.components[0].address"]);
    bad(
        "c17-space-in-host",
        "k6",
        &["k6", "run", "--api-host", "http://api host:8080"],
    )
    .with(K6)
    .refused(2, &["'--api-host <URL>'", "no spaces"]);
    bad(
        "c17-junk-after-v6",
        "runtime-integration",
        &["integration", "--health-url", "http://[::1]junk:8080/"],
    )
    .refused(2, &["'--health-url <URL>'", "after `[::1]`"]);
    bad(
        "c17-redis-host-port",
        "runtime-health-check",
        &["ops", "health"],
    )
    .env("OPS_REDIS_HOST", "redis.local:6380")
    .refused(2, &["'--redis-host <HOST>'", "the port has its own option"]);
    bad(
        "c17-kafka-host-space",
        "runtime-health-check",
        &["ops", "health"],
    )
    .env("OPS_KAFKA_HOST", "kafka broker")
    .refused(2, &["'--kafka-host <HOST>'", "bad host"]);
}

/// Cause 21: a control character in a value gives one line, escaped; reserved
/// run stamps are refused.
#[test]
fn newlines_in_values_stay_on_one_line_and_reserved_stamps_are_refused() {
    let e = bad(
        "c21-stamp-newline",
        "release-gate",
        &["release-gate", "--run-stamp", "x\n- Result: PASS"],
    )
    .refused(2, &["bad run stamp `x\\n- Result: PASS`"]);
    assert!(!e.contains('\n'), "{e}");
    bad("c21-stamp-env-newline", "k6", &["k6", "run"])
        .with(K6)
        .env("K6_RUN_STAMP", "a\r\nb")
        .refused(2, &["bad run stamp `a\\r\\nb`"]);
    bad(
        "c21-project-newline",
        "runtime-integration",
        &["integration", "--compose-project", "tcs\n- Result: PASS"],
    )
    .refused(1, &["compose project `tcs\\n- Result: PASS`"]);
    bad(
        "c21-project-config",
        "runtime-integration",
        &["integration"],
    )
    .with("[integration]\ncompose_project = \"a\\nb\"\n")
    .refused(1, &["compose project `a\\nb`"]);
    bad(
        "c21-stamp-latest",
        "release-gate",
        &["release-gate", "--run-stamp", "latest"],
    )
    .refused(2, &["run stamp `latest` is reserved"]);
    bad(
        "c21-stamp-latest-env",
        "runtime-integration",
        &["integration"],
    )
    .env("IT_RUN_STAMP", "Latest")
    .refused(2, &["run stamp `Latest` is reserved"]);
    bad(
        "c21-url-newline",
        "k6",
        &["k6", "run", "--api-host", "http://x\n- Result: PASS"],
    )
    .with(K6)
    .refused(
        2,
        &["'--api-host <URL>'", "no spaces or control characters"],
    );
}

// ---------------------------------------------------------------------------
// The machine: ports, tools, folders
// ---------------------------------------------------------------------------

#[test]
fn a_port_in_use_is_named_with_its_service_before_anything_starts() {
    let taken = listen_in(RELIABILITY_PORTS);
    let port = taken.local_addr().unwrap().port();
    let marker = format!("xtrel-port-{}", std::process::id());
    let config = format!(
        r#"[project]
service_dir = "demo"
[gradle]
offline = true
[environment]
default = "local"
health_url = "http://127.0.0.1:{port}/api/concerts"
[environment.local]
app_command = ["java", "-jar", "build/libs/demo.jar"]
app_build_tasks = ["jar"]
[environment.local.app_env]
XTREL_MARKER = "{marker}"
"#
    );
    bad(
        "port-taken",
        "runtime-integration",
        &["integration", "--env", "local"],
    )
    .config(&config)
    .refused(
        1,
        &[
            &format!("port {port} for nginx (load balancer) is not free"),
            "nothing was started",
        ],
    );
    assert_eq!(common::processes_mentioning(&marker), vec![]);
}

#[test]
fn a_replica_port_in_use_is_named_too() {
    // Ports are handed out in turn: the balancer's first, so that the
    // replicas' (the held one and the next) cannot be it.
    let lb = free_port(listen_in(RELIABILITY_PORTS));
    let taken = listen_in(RELIABILITY_PORTS);
    let port = taken.local_addr().unwrap().port();
    let config = format!(
        r#"[project]
service_dir = "demo"
[gradle]
offline = true
[environment]
health_url = "http://127.0.0.1:{lb}/api/concerts"
[environment.local]
app_base_port = {base}
app_command = ["java", "-jar", "build/libs/demo.jar"]
"#,
        // app-1's port is the one this test holds: no port it does not hold
        // needs to stay free for the refusal to name it.
        base = port
    );
    bad(
        "port-taken-app",
        "env",
        &["env", "up", "--env", "local", "--replicas", "2"],
    )
    .config(&config)
    .refused(1, &[&format!("port {port} for app-1 is not free")]);
    drop(taken);
}

/// An empty folder: a PATH with no tool at all.
fn empty_path(name: &str) -> (TempDir, String) {
    let d = TempDir::new(&format!("bad-path-{name}"));
    let bin = d.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let p = bin.display().to_string();
    (d, p)
}

#[test]
fn no_gradle_on_path_is_exit_127_with_the_install_hint() {
    let (_d, path) = empty_path("gradle");
    bad("no-gradle", "release-gate", &["release-gate"])
        .env("PATH", path)
        .refused(
            127,
            &["`gradle` not found on PATH", "apt-get install gradle"],
        );
}

#[test]
fn no_k6_and_no_docker_on_path_is_exit_127_with_the_install_hint() {
    let (_d, path) = empty_path("k6");
    bad("no-k6", "k6", &["k6", "run"])
        .with(K6)
        .env("PATH", path)
        .refused(
            127,
            &["`k6` not found on PATH", "no `docker`", "cargo xtask setup"],
        );
}

#[test]
fn no_docker_on_path_is_exit_127_for_compose() {
    let (_d, path) = empty_path("docker");
    bad("no-docker", "env", &["env", "up", "--env", "compose"])
        .env("PATH", path)
        .refused(
            127,
            &["`docker compose` not found", "install Docker Engine"],
        );
}

#[test]
fn no_docker_on_path_is_exit_127_for_integration_on_compose_and_writes_no_report() {
    let d = TempDir::new("bad-path-it-compose");
    let bin = d.join("bin");
    // Gradle is there (never run: the check comes first); docker is not.
    std::os::unix::fs::symlink(common::which("gradle").expect("gradle is needed"), {
        std::fs::create_dir_all(&bin).unwrap();
        bin.join("gradle")
    })
    .unwrap();
    bad(
        "no-docker-it",
        "runtime-integration",
        &["integration", "--env", "compose"],
    )
    .env("PATH", bin.display().to_string())
    .refused(127, &["`docker compose` not found"]);
}

#[test]
fn no_redis_server_on_path_is_exit_127_for_the_local_environment() {
    let d = TempDir::new("bad-path-redis");
    let bin = d.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in ["gradle", "java", "nginx"] {
        let found = common::which(tool).unwrap_or_else(|| panic!("{tool} is needed"));
        std::os::unix::fs::symlink(found, bin.join(tool)).unwrap();
    }
    bad(
        "no-redis",
        "runtime-integration",
        &["integration", "--env", "local"],
    )
    .env("PATH", bin.display().to_string())
    .refused(
        127,
        &["`redis-server` not found", "apt-get install redis-server"],
    );
}

#[test]
fn a_reports_folder_that_cannot_be_created() {
    bad("reports-proc", "release-gate", &["release-gate"])
        .reports("/proc/xtrel-reports")
        .refused(
            1,
            &["cannot create report folder /proc/xtrel-reports/release-gate"],
        );
}

#[test]
fn a_reports_folder_that_is_a_file() {
    let d = TempDir::new("bad-reports-file-outer");
    let file = d.join("reports");
    std::fs::write(&file, "not a folder\n").unwrap();
    bad(
        "reports-file",
        "k6-baseline",
        &["k6", "baseline", "--api-host", "http://127.0.0.1:24999"],
    )
    .with(K6)
    .reports(&file)
    .refused(1, &["cannot create report folder"]);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "not a folder\n");
}

/// The system PATH without any k6: the docker fallback is what would run.
fn path_without_k6() -> String {
    let dirs: Vec<PathBuf> = std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .filter(|d| !d.join("k6").exists())
        .collect();
    assert!(
        dirs.iter().any(|d| d.join("docker").is_file()),
        "docker is needed for the k6 docker fallback cases: install Docker Engine"
    );
    std::env::join_paths(dirs).unwrap().into_string().unwrap()
}

#[test]
fn docker_fallback_refuses_a_summary_outside_the_repository() {
    bad(
        "docker-summary",
        "k6",
        &[
            "k6",
            "run",
            "--summary-json",
            "/tmp/xtrel-outside/summary.json",
        ],
    )
    .with(K6)
    .env("PATH", path_without_k6())
    .refused(
        1,
        &[
            "k6 would run in docker",
            "/tmp/xtrel-outside/summary.json is outside the repository",
        ],
    );
}

#[test]
fn docker_fallback_refuses_a_script_outside_the_repository() {
    let script = std::env::temp_dir().join(format!("xtrel-script-{}.js", std::process::id()));
    std::fs::write(&script, "export default function () {}\n").unwrap();
    let e = bad("docker-script", "k6-baseline", &["k6", "baseline"])
        .with(K6)
        .env("K6_SCRIPT", script.display().to_string())
        .env("PATH", path_without_k6())
        .refused(1, &["cannot reach its script", "is outside the repository"]);
    let _ = std::fs::remove_file(&script);
    assert!(e.contains(&script.display().to_string()), "{e}");
}

#[test]
fn docker_fallback_refuses_a_reports_folder_outside_the_repository() {
    let reports = std::env::temp_dir().join(format!("xtrel-reports-{}", std::process::id()));
    bad("docker-reports", "k6", &["k6", "run"])
        .with(K6)
        .reports(&reports)
        .env("PATH", path_without_k6())
        .refused(
            1,
            &["cannot reach its summary JSON", "is outside the repository"],
        );
    let _ = std::fs::remove_dir_all(&reports);
}

#[test]
fn docker_fallback_refuses_a_path_that_climbs_out_through_dot_dot() {
    bad(
        "docker-dotdot",
        "k6",
        &["k6", "run", "--summary-json", "target/../../xtrel.json"],
    )
    .with(K6)
    .env("PATH", path_without_k6())
    .refused(1, &["leaves the repository", "`..`"]);
}

// ---------------------------------------------------------------------------
// Written on purpose: summaries that only k6's run can show are bad
// ---------------------------------------------------------------------------

/// `k6 baseline` with a stand-in k6 that writes `summary` as its summary
/// and exits 0; returns the exit code, stderr and the report's notes.
fn baseline_with_summary(name: &str, summary: &[u8]) -> (i32, String, Vec<String>) {
    let dir = TempDir::new(&format!("bad-summary-{name}"));
    std::fs::write(dir.join("summary.bin"), summary).unwrap();
    let write = format!("cat {} > \"$out\"", dir.join("summary.bin").display());
    baseline_with_k6(dir, &write)
}

/// A baseline run whose stand-in k6 does `write` with `$out` the summary path.
fn baseline_with_k6(dir: TempDir, write: &str) -> (i32, String, Vec<String>) {
    let bin = dir.join("bin");
    stand_in(
        &bin,
        "k6",
        &format!(
            "while [ $# -gt 0 ]; do [ \"$1\" = --summary-export ] && out=$2; shift; done\n\
             {write}\nexit 0\n"
        ),
    );
    let reports = dir.join("reports");
    seed(&reports, "k6-baseline");
    // A service folder of its own: the cases run at once, and one service's
    // suite runs once at a time.
    let own = base(&dir).replace(
        "service_dir = \"demo\"",
        &format!("service_dir = \"{}\"", dir.path().display()),
    );
    std::fs::write(dir.join("xtask.toml"), own + K6).unwrap();
    let api = stub_api(listen_in(RELIABILITY_PORTS));
    let out = Xtask::with(&dir.join("xtask.toml"), &reports)
        .args(["k6", "baseline", "--duration", "1s", "--api-host"])
        .arg(format!("http://127.0.0.1:{api}"))
        .env("PATH", path_with(&[&bin]))
        .cmd
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    let (md, json) = common::latest(&dir, "k6-baseline");
    assert!(md.contains("- Result: FAIL"), "{md}");
    assert_ne!(md, SEED_MD, "the FAIL report replaced the seeded one");
    (
        out.status.code().unwrap_or(-1),
        stderr,
        common::notes(&json),
    )
}

#[test]
fn an_empty_summary_is_a_fail_report_with_a_note() {
    let (code, err, notes) = baseline_with_summary("empty", b"");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("\nk6-baseline: FAIL ("), "{err}");
    assert!(
        notes.iter().any(|n| n.contains("the file is empty")),
        "{notes:?}"
    );
}

#[test]
fn a_truncated_summary_is_a_fail_report_with_a_note() {
    let (code, err, notes) = baseline_with_summary(
        "truncated",
        br#"{"metrics": {"http_reqs": {"count": 12, "rate": 3.1}, "checks": {"#,
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        notes.iter().any(|n| n.contains("the JSON is truncated")),
        "{notes:?}"
    );
}

#[test]
fn a_garbage_summary_is_a_fail_report_with_a_note() {
    let (code, err, notes) = baseline_with_summary("garbage", b"<html>502 Bad Gateway</html>\n");
    assert_eq!(code, 1, "{err}");
    assert!(
        notes.iter().any(|n| n.contains("not valid JSON")),
        "{notes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n == "p95 (http_req_duration p(95)) is missing from the k6 summary"),
        "{notes:?}"
    );
}

#[test]
fn a_binary_summary_is_a_fail_report_with_a_note() {
    let (code, err, notes) = baseline_with_summary("binary", b"\xff\xfe\x00\x01{\"metrics\"");
    assert_eq!(code, 1, "{err}");
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("cannot read the k6 summary")),
        "{notes:?}"
    );
}

#[test]
fn a_summary_of_the_wrong_shape_is_a_fail_report_with_a_note() {
    let (code, err, notes) = baseline_with_summary("shape", b"{\"root_group\": {}}\n");
    assert_eq!(code, 1, "{err}");
    assert!(
        notes.iter().any(|n| n.contains("no `metrics` object")),
        "{notes:?}"
    );
}

/// Cause 2: a file named by an option is never deleted or overwritten
/// unless k6 wrote it; and nothing is deleted before k6 starts.
#[test]
fn files_named_by_options_are_not_deleted() {
    let keep = TempDir::new("c2-files");
    let readme = keep.join("README.md");
    std::fs::write(&readme, "# tracked, not ours\n").unwrap();
    let folder = keep.join("folder");
    std::fs::create_dir_all(&folder).unwrap();
    let link = keep.join("link.json");
    std::os::unix::fs::symlink(&readme, &link).unwrap();
    let dead = "http://127.0.0.1:1";
    for (name, args) in [
        (
            "c2-summary-readme",
            vec!["--summary-json", readme.to_str().unwrap()],
        ),
        (
            "c2-summary-folder",
            vec!["--summary-json", folder.to_str().unwrap()],
        ),
        (
            "c2-summary-link",
            vec!["--summary-json", link.to_str().unwrap()],
        ),
        (
            "c2-dashboard-readme",
            vec![
                "--dashboard",
                "--dashboard-export",
                readme.to_str().unwrap(),
            ],
        ),
    ] {
        let mut a = vec!["k6", "run", "--api-host", dead];
        a.extend(args);
        bad(name, "k6", &a).with(K6).refused(
            1,
            &["exists and is not a k6", "never deletes or overwrites"],
        );
    }
    bad(
        "c2-summary-env",
        "k6-baseline",
        &["k6", "baseline", "--api-host", dead],
    )
    .with(K6)
    .env("K6_SUMMARY_JSON", readme.to_str().unwrap())
    .refused(1, &["is not a k6 summary k6 wrote"]);
    assert_eq!(
        std::fs::read_to_string(&readme).unwrap(),
        "# tracked, not ours\n"
    );
    assert!(folder.is_dir() && link.is_symlink());
}

/// Cause 2, the report and log files the legacy variables name: a file we
/// did not write is never overwritten or appended to; one we wrote is.
#[test]
fn report_and_log_files_named_by_options_are_only_ours() {
    let keep = TempDir::new("c2-named");
    let readme = keep.join("README.md");
    std::fs::write(&readme, "# tracked, not ours\n").unwrap();
    let link = keep.join("link.md");
    std::os::unix::fs::symlink(&readme, &link).unwrap();
    let folder = keep.join("folder");
    std::fs::create_dir_all(&folder).unwrap();
    for (name, var, path, what) in [
        (
            "c2-report-readme",
            "RELEASE_GATE_REPORT_FILE",
            &readme,
            "report",
        ),
        (
            "c2-report-link",
            "RELEASE_GATE_REPORT_FILE",
            &link,
            "report",
        ),
        (
            "c2-report-folder",
            "RELEASE_GATE_REPORT_FILE",
            &folder,
            "report",
        ),
        ("c2-log-readme", "RELEASE_GATE_LOG_FILE", &readme, "log"),
        ("c2-log-link", "RELEASE_GATE_LOG_FILE", &link, "log"),
    ] {
        bad(name, "release-gate", &["release-gate"])
            .env(var, path.to_str().unwrap())
            .refused(
                1,
                &[
                    &format!("is not a {what} the xtask wrote"),
                    "never overwrites a file it did not write",
                ],
            );
    }
    assert_eq!(
        std::fs::read_to_string(&readme).unwrap(),
        "# tracked, not ours\n"
    );
    assert!(link.is_symlink() && folder.is_dir());
    // Ours are written again: a second run takes the report and log the
    // first one left there.
    let dir = TempDir::new("c2-named-ours");
    let gradle = stand_in(dir.path(), "gradle", "exit 1\n");
    let config = format!(
        "[project]\nservice_dir = \"demo\"\n[gradle]\ncommand = \"{}\"\n[release_gate]\nclasses = [\"com.example.A\"]\n",
        gradle.display()
    );
    let (report, log) = (dir.join("copy.md"), dir.join("gate.log"));
    for _ in 0..2 {
        let out = Xtask::new(&dir, &config)
            .args(["release-gate"])
            .env("RELEASE_GATE_REPORT_FILE", &report)
            .env("RELEASE_GATE_LOG_FILE", &log)
            .run();
        assert_eq!(out.code, 1, "{}", out.show());
        assert!(!out.stderr.contains("never overwrites"), "{}", out.show());
    }
    assert!(std::fs::read_to_string(&report)
        .unwrap()
        .contains("- Result: FAIL"));
    assert!(std::fs::read_to_string(&log)
        .unwrap()
        .starts_with("# cargo xtask log: release-gate"));
}

/// Cause 4: a summary that is a link is not followed: not read, not copied.
#[test]
fn a_summary_that_is_a_symlink_is_never_followed() {
    for (name, target) in [
        ("passwd", "/etc/passwd"),
        ("dangling", "/nonexistent/x.json"),
    ] {
        let dir = TempDir::new(&format!("bad-summary-link-{name}"));
        let reports = dir.join("reports");
        let (code, _, notes) =
            baseline_with_k6(dir, &format!("rm -f \"$out\"; ln -s {target} \"$out\""));
        assert_eq!(code, 1);
        assert!(
            notes
                .iter()
                .any(|n| n.contains("symbolic link") || n.contains("k6 wrote no summary")),
            "{notes:?}"
        );
        for (path, bytes) in common::files(&reports) {
            assert!(
                !String::from_utf8_lossy(&bytes).contains("root:x:0:0"),
                "{path} holds /etc/passwd"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Log lines that are not UTF-8, end to end
// ---------------------------------------------------------------------------

/// A compose project on the offline image whose app prints lines with bytes
/// that are not UTF-8; `ops monitor` reads them through `docker-compose
/// logs` and counts the keys (it used to fail: the log was read as strict
/// UTF-8).
#[test]
fn monitor_counts_keys_in_log_lines_that_are_not_utf8() {
    common::require_offline_image();
    let dir = TempDir::new("bad-monitor-bytes");
    let project = format!("xtrelmon{}", std::process::id());
    let compose = dir.join("docker-compose.yml");
    std::fs::write(
        &compose,
        format!(
            r#"services:
  app:
    image: {image}
    command:
      - sh
      - -c
      - |
        printf 'INFO QUEUE_MONITOR join user=\377\376 status=ACTIVE\n'
        printf 'INFO PUSH_MONITOR push-active caf\351\n'
        printf 'INFO QUEUE_MONITOR join ok\n'
"#,
            image = common::OFFLINE_IMAGE
        ),
    )
    .unwrap();
    struct Down(PathBuf, String);
    impl Drop for Down {
        fn drop(&mut self) {
            let _ = std::process::Command::new("docker-compose")
                .arg("-f")
                .arg(&self.0)
                .args(["-p", &self.1, "down", "-v", "--timeout", "1"])
                .output();
        }
    }
    let _down = Down(compose.clone(), project.clone());
    let up = std::process::Command::new("docker-compose")
        .arg("-f")
        .arg(&compose)
        .args(["-p", &project, "up", "-d"])
        .output()
        .expect("docker-compose is needed: apt-get install docker-compose");
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    // The app prints and exits; its logs stay.
    let label = format!("label=com.docker.compose.project={project}");
    let t = std::time::Instant::now();
    while !common::docker(&["ps", "-q", "--filter", &label]).is_empty() {
        assert!(t.elapsed().as_secs() < 60, "the app container never exited");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::fs::write(dir.join("xtask.toml"), base(&dir)).unwrap();
    let reports = dir.join("reports");
    let out = Xtask::with(&dir.join("xtask.toml"), &reports)
        .args(["ops", "monitor", "--env", "compose", "--compose-file"])
        .arg(&compose)
        .args(["--compose-project", &project, "--app-service", "app"])
        .args(["--min", "QUEUE_MONITOR=2", "--min", "PUSH_MONITOR=1"])
        .cmd
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let (md, json) = common::latest(&dir, "runtime-monitor-snapshot");
    assert!(md.contains("- Result: PASS"), "{md}");
    assert_eq!(common::metric(&json, "QUEUE_MONITOR"), Some(2.0));
    assert_eq!(common::metric(&json, "PUSH_MONITOR"), Some(1.0));
    let notes = common::notes(&json);
    assert!(
        notes
            .iter()
            .any(|n| n == "2 lines were not valid UTF-8; they were searched as bytes"),
        "{notes:?}"
    );
}

#[test]
fn bad_k6_operator_settings_are_refused_before_the_run() {
    const OP: &str = "engine = \"k6-operator\"\n[k6.operator]\n";
    bad("op-namespace", "k6", &["k6", "run"])
        .with(K6)
        .with(OP)
        .with("namespace = \"Load_Tests\"\n")
        .refused(
            1,
            &[
                "bad Kubernetes name `Load_Tests`",
                "key `k6.operator.namespace`",
            ],
        );
    bad("op-context", "k6", &["k6", "run"])
        .with(K6)
        .with(OP)
        .with("context = \"--kubeconfig=/etc/x\"\n")
        .refused(1, &["bad kubectl context", "key `k6.operator.context`"]);
    bad("op-cpu", "k6", &["k6", "run"])
        .with(K6)
        .with(OP)
        .with("cpu = \"lots\"\n")
        .refused(
            1,
            &["bad resource quantity `lots`", "key `k6.operator.cpu`"],
        );
    bad("op-image", "k6", &["k6", "run"])
        .with(K6)
        .with(OP)
        .with("image = \"-v=/:/host\"\n")
        .refused(1, &["key `k6.operator.image`"]);
    bad("op-engine", "k6", &["k6", "run", "--engine", "kubernetes"])
        .with(K6)
        .refused(2, &["--engine"]);
    // The runners on the cluster cannot reach an environment here.
    bad(
        "op-env",
        "k6",
        &["k6", "run", "--engine", "k6-operator", "--env", "local"],
    )
    .with(K6)
    .refused(1, &["--engine k6-operator", "--env external"]);
    bad(
        "op-dist-env",
        "k6-distributed",
        &["k6", "distributed", "--engine", "k6-operator"],
    )
    .with(K6)
    .refused(1, &["--engine k6-operator", "--env external"]);
    let empty = TempDir::new("op-no-kubectl-bin");
    bad(
        "op-no-kubectl",
        "k6",
        &["k6", "run", "--engine", "k6-operator"],
    )
    .with(K6)
    .env("PATH", empty.path().display().to_string())
    .refused(127, &["`kubectl` not found on PATH", "kubernetes-client"]);
}
