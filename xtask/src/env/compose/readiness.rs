//! Readiness inside the engine: the containers' healthchecks (healthy,
//! starting, unhealthy by name with its last log lines) and what the
//! suites need to know once up (Redis's port, the replicas' names).

use crate::probe::Try;
use std::time::Duration;

use anyhow::bail;

use super::Compose;
use crate::{config, env::Environment, runner::Step};

impl Compose {
    /// Whether the compose file declares a healthcheck.
    pub(super) fn healthchecks(&self) -> bool {
        std::fs::read_to_string(&self.spec.compose_file)
            .is_ok_and(|t| crate::env::health::declared(&t))
    }

    /// Every container of the project with its health state (empty when
    /// Docker does not answer: the health URL then decides).
    pub(super) fn containers(&self) -> Vec<crate::env::health::Container> {
        let ids = self
            .runner
            .read(&self.step("ps", &["ps".into(), "-q".into()]).read_only())
            .unwrap_or_default();
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if ids.is_empty() {
            return vec![];
        }
        let mut args = vec!["inspect", "--format", crate::env::health::INSPECT_FORMAT];
        args.extend(ids);
        let out = self
            .runner
            .read(&self.docker("docker inspect", &args).read_only())
            .unwrap_or_default();
        crate::env::health::parse(&out)
    }

    /// An unhealthy container, as an error naming its service, with its last
    /// log lines shown (terminal and log).
    pub(super) fn unhealthy_error(&self) -> Option<anyhow::Error> {
        let cs = self.containers();
        let c = crate::env::health::unhealthy(&cs)?;
        let tail = 20;
        let logs = self
            .logs(&c.service, tail)
            .unwrap_or_else(|e| format!("{e:#}"));
        self.runner.say(&format!(
            "compose: service `{}` is unhealthy (container {}); its last {tail} log lines:\n{logs}",
            c.service, c.name
        ));
        Some(anyhow::anyhow!(
            "compose service `{}` turned unhealthy (container {}, last healthcheck {}): see its last log lines in the log",
            c.service,
            c.name,
            c.last_probe.as_deref().unwrap_or("unknown")
        ))
    }

    /// Waits until every container with a healthcheck is healthy; one that
    /// turns unhealthy ends the wait at once.
    pub(super) fn wait_healthy(&self, deadline: Duration) -> anyhow::Result<()> {
        let what = format!("healthchecks of compose project {}", self.project);
        self.runner.wait_until(&what, deadline, self.poll, || {
            let cs = self.containers();
            if crate::env::health::unhealthy(&cs).is_some() {
                // Read again for the error; recovered meanwhile: not yet.
                if let Some(e) = self.unhealthy_error() {
                    return Ok(Try::GiveUp(e));
                }
            }
            if cs.is_empty() || !crate::env::health::all_healthy(&cs) {
                bail!(
                    "still starting: {}",
                    crate::env::health::starting(&cs).join(", ")
                );
            }
            Ok(Try::Ready(()))
        })
    }

    /// Redis's published port and the replicas' container names, for the
    /// suites. Missing answers leave them unknown.
    pub(super) fn discover(&mut self) {
        let read = |step: Step| self.runner.read(&step.read_only()).unwrap_or_default();
        self.found.redis = self.cfg.redis_service.as_ref().and_then(|svc| {
            let out = read(self.step("port", &["port".into(), svc.clone(), "6379".into()]));
            let (host, port) = config::parse_host_port(out.trim()).ok()?;
            let host = match host.as_str() {
                "0.0.0.0" | "::" | "" => "127.0.0.1".to_string(),
                _ => host,
            };
            (port != 0).then_some((host, port))
        });
        let ids = read(self.step(
            "ps",
            &["ps".into(), "-q".into(), self.cfg.app_service.clone()],
        ));
        let ids: Vec<&str> = ids.split_whitespace().collect();
        self.found.replicas = if ids.is_empty() {
            vec![]
        } else {
            let mut args = vec!["inspect", "--format", "{{.Name}}"];
            args.extend(ids);
            read(self.docker("docker inspect", &args))
                .lines()
                .map(|l| l.trim().trim_start_matches('/').to_string())
                .filter(|l| !l.is_empty())
                .collect()
        };
    }
}
