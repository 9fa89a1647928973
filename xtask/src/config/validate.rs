//! The checks serde cannot make: values that span several fields, names handed to tools
//! as values (none may read as an option), and `[gate]` checked whole. Each error names
//! the offending key path, which `Config::parse` turns into file:line:column.

use camino::Utf8Path;

use super::{Config, ProbeKind};
use crate::units::{parse_host_port, Duration, HttpUrl};

impl Config {
    /// Checks that span several fields; returns the offending key path.
    pub(super) fn validate(&self) -> Result<(), (String, String)> {
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
