//! Readiness from what the compose file declares: the containers' own
//! health state (Docker runs the `healthcheck` the compose file or image
//! declares; we read the verdict with `docker inspect`, which compose v1 and
//! v2 both leave there). A container that turns `unhealthy` ends the wait
//! at once, by name, instead of at the deadline.

use serde::Deserialize;

/// The `docker inspect --format` template: one line per container.
pub const INSPECT_FORMAT: &str = "{{index .Config.Labels \"com.docker.compose.service\"}}\t{{.Name}}\t{{.State.Status}}\t{{json .State.Health}}";

/// One container's state.
#[derive(Clone, Debug, PartialEq)]
pub struct Container {
    pub service: String,
    pub name: String,
    /// running, exited, restarting...
    pub status: String,
    /// None: no healthcheck. Some("starting" | "healthy" | "unhealthy").
    pub health: Option<String>,
    /// The last healthcheck's output (first line), when there is one.
    pub last_probe: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Health {
    status: String,
    #[serde(default)]
    log: Vec<ProbeLog>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ProbeLog {
    #[serde(default)]
    output: String,
    #[serde(default)]
    exit_code: i64,
}

/// Reads `docker inspect --format INSPECT_FORMAT` output; lines it cannot
/// read are left out (the wait goes on, the health URL decides).
pub fn parse(out: &str) -> Vec<Container> {
    out.lines()
        .filter_map(|l| {
            let mut f = l.splitn(4, '\t');
            let service = f.next()?.trim().to_string();
            let name = f.next()?.trim().trim_start_matches('/').to_string();
            let status = f.next()?.trim().to_string();
            let health: Option<Health> = serde_json::from_str(f.next()?.trim()).ok().flatten();
            let last_probe = health.as_ref().and_then(|h| h.log.last()).map(|p| {
                let line = p
                    .output
                    .lines()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("");
                format!("exit {}: {}", p.exit_code, line.trim())
            });
            Some(Container {
                service,
                name,
                status,
                health: health.map(|h| h.status),
                last_probe,
            })
        })
        .collect()
}

/// The first container that is unhealthy.
pub fn unhealthy(cs: &[Container]) -> Option<&Container> {
    cs.iter().find(|c| c.health.as_deref() == Some("unhealthy"))
}

/// Every container with a healthcheck says healthy (true when none has one).
pub fn all_healthy(cs: &[Container]) -> bool {
    cs.iter()
        .all(|c| c.health.is_none() || c.health.as_deref() == Some("healthy"))
}

/// The ones still starting, for the progress line.
pub fn starting(cs: &[Container]) -> Vec<&str> {
    cs.iter()
        .filter(|c| c.health.as_deref() == Some("starting"))
        .map(|c| c.service.as_str())
        .collect()
}

/// Whether a compose file declares a healthcheck (a `healthcheck:` key not
/// disabled): compose v2 then gets `up --wait`. A text scan: a wrong "yes"
/// only makes compose wait for containers to run.
pub fn declared(compose_file: &str) -> bool {
    for l in compose_file
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
    {
        let t = l.trim_start();
        if let Some(rest) = t.strip_prefix("healthcheck:") {
            let rest = rest.trim();
            if rest.is_empty() || rest.starts_with('{') && !rest.contains("disable: true") {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_health_states_and_the_last_probe() {
        let out = concat!(
            "redis\t/p_redis_1\trunning\t{\"Status\":\"healthy\",\"FailingStreak\":0,\"Log\":[]}\n",
            "app\t/p_app_1\trunning\t{\"Status\":\"unhealthy\",\"FailingStreak\":3,\"Log\":[{\"ExitCode\":1,\"Output\":\"\\ncurl: (7) refused\\n\"}]}\n",
            "nginx-lb\t/p_nginx-lb_1\trunning\tnull\n",
            "garbage\n",
        );
        let cs = parse(out);
        assert_eq!(cs.len(), 3);
        assert_eq!(cs[2].health, None);
        let bad = unhealthy(&cs).unwrap();
        assert_eq!(bad.service, "app");
        assert_eq!(bad.name, "p_app_1");
        assert_eq!(bad.last_probe.as_deref(), Some("exit 1: curl: (7) refused"));
        assert!(!all_healthy(&cs));
        assert!(all_healthy(&cs[..1]) && all_healthy(&cs[2..]));
    }

    #[test]
    fn a_healthcheck_key_is_found_unless_disabled_or_commented() {
        assert!(declared(
            "services:\n  app:\n    healthcheck:\n      test: [\"CMD\", \"true\"]\n"
        ));
        assert!(!declared(
            "services:\n  app:\n    # healthcheck:\n    image: x\n"
        ));
        assert!(!declared(
            "services:\n  app:\n    healthcheck: { disable: true }\n"
        ));
    }
}
