//! `xtask.toml`: the typed model, loading and validation.
//!
//! Every value is parsed here, once, into types (durations, URLs, rates).
//! Unknown keys are rejected, and every error is one line that names the
//! file, line, column and key, so a typo never silently falls back to a default.
//!
//! Precedence for any option: flag > environment variable > xtask.toml >
//! built-in default. Flags and variables are merged by clap (`flags.rs`); the
//! `Default` impls of each section are the built-in defaults. Each section has its own
//! module (`project`, `suites`, `environment`, `k6`); `validate` holds the checks serde
//! cannot make.

mod environment;
mod k6;
mod project;
mod suites;
mod validate;

use camino::Utf8Path;
use serde::Deserialize;

// The sections' types, by the names the rest of the crate uses (the others are reached
// through `Config`'s fields).
pub use environment::{ComposeEnv, EnvKind, Environments, LocalEnv};
pub use k6::{K6Regression, K6};
pub use project::{Gradle, Project, Reports, Tools};
pub use suites::{
    ApiScripts, Component, FileCondition, Gate, Integration, Ops, ProbeKind, PushMode, ReleaseGate,
};
pub use validate::check_suite_name;

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
    use crate::units::Duration;

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
