//! A recorded environment service by service: is it running, what does
//! Docker's healthcheck say, where does it answer, and does it answer there
//! in its own protocol (Redis PING, the app's ready path, the health URL
//! through the balancer). `env status` prints it; reuse requires every row
//! to answer.
//!
//! Compose containers are read from the engine by the project's label, so
//! docker-compose v1 and v2 give the same answer; replicas publish no port,
//! so they are probed on their network address (reachable from a Linux host).

use std::time::Duration;

use anyhow::bail;

use super::state::{ComposeState, LocalState, Recorded, State};
use crate::runner::procfs;
use crate::{context::Ctx, runner::Step, units::HttpUrl};

/// Per probe: a service that takes longer is not answering.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone, Debug, PartialEq)]
pub struct Service {
    /// `redis`, `app-1`, `nginx` (local); the compose service, with the
    /// container number when it runs several.
    pub name: String,
    /// `running`, `exited`, `gone`...
    pub state: String,
    /// Docker's healthcheck (`healthy`, `unhealthy`, `starting`), when the
    /// service has one.
    pub health: Option<String>,
    /// Where it was probed (`127.0.0.1:18080`, `172.18.0.3:8080`).
    pub address: Option<String>,
    /// Ok(what answered) or Err(why not).
    pub answers: Result<String, String>,
}

/// Every service of the recorded environment, probed in parallel.
pub fn of(ctx: &Ctx, st: &State) -> Vec<Service> {
    let health_url: Option<HttpUrl> = st.health_url.parse().ok();
    let probes: Vec<Pending> = match &st.env {
        Recorded::Local(l) => local(ctx, l, health_url.as_ref()),
        Recorded::Compose(c) => compose(ctx, c, health_url.as_ref()),
    };
    std::thread::scope(|s| {
        let handles: Vec<_> = probes
            .into_iter()
            .map(|p| s.spawn(move || p.probe()))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a probe thread does not panic"))
            .collect()
    })
}

/// The services that do not answer, as `name: why`, for one line.
pub fn failing(services: &[Service]) -> Vec<String> {
    if services.is_empty() {
        return vec!["no service runs".into()];
    }
    services
        .iter()
        .filter_map(|s| s.answers.as_ref().err().map(|e| format!("{}: {e}", s.name)))
        .collect()
}

/// The table `env status` prints.
pub fn table(services: &[Service]) -> String {
    let mut rows = vec![[
        "SERVICE".to_string(),
        "STATE".into(),
        "HEALTH".into(),
        "ADDRESS".into(),
        "ANSWERS".into(),
    ]];
    for s in services {
        rows.push([
            s.name.clone(),
            s.state.clone(),
            s.health.clone().unwrap_or_else(|| "-".into()),
            s.address.clone().unwrap_or_else(|| "-".into()),
            match &s.answers {
                Ok(what) => format!("yes ({what})"),
                Err(why) => format!("NO ({why})"),
            },
        ]);
    }
    let widths: Vec<usize> = (0..5)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            line.push_str("  ");
            line.push_str(cell);
            if i + 1 < r.len() {
                line.push_str(&" ".repeat(widths[i] - cell.chars().count()));
            }
        }
        out.push_str(crate::redact::text(line.trim_end()).as_str());
        out.push('\n');
    }
    out
}

/// How a service is asked whether it answers.
#[derive(Clone, Debug, PartialEq)]
enum Ask {
    Http(HttpUrl),
    Redis(String),
    Tcp(String),
    /// Nothing to ask: running is all that can be known.
    Nothing,
}

/// A service before its probe.
struct Pending {
    service: Service,
    ask: Ask,
}

impl Pending {
    fn probe(mut self) -> Service {
        if self.service.answers.is_err() {
            return self.service;
        }
        self.service.answers = match &self.ask {
            Ask::Http(url) => match crate::probe::http_get(url, PROBE_TIMEOUT) {
                Ok(r) if r.is_success() => Ok(format!("HTTP {}", r.status)),
                Ok(r) => Err(format!("{url} answered HTTP {}", r.status)),
                Err(e) => Err(format!("{e:#}")),
            },
            Ask::Redis(addr) => crate::probe::redis_ping(addr, PROBE_TIMEOUT)
                .map(|_| "PONG".to_string())
                .map_err(|e| format!("{e:#}")),
            Ask::Tcp(addr) => crate::probe::tcp(addr, PROBE_TIMEOUT)
                .map(|_| "TCP".to_string())
                .map_err(|e| format!("{e:#}")),
            Ask::Nothing => Ok("running".to_string()),
        };
        self.service
    }
}

fn local(ctx: &Ctx, l: &LocalState, health_url: Option<&HttpUrl>) -> Vec<Pending> {
    let ready_path = &ctx.config.environment.local.app_ready_path;
    l.processes
        .iter()
        .map(|p| {
            let running = procfs::is_running(p.pid, p.start_ticks);
            let addr = format!("127.0.0.1:{}", p.port);
            let ask = match p.name.as_str() {
                "redis" => Ask::Redis(addr.clone()),
                "nginx" => health_url
                    .cloned()
                    .map_or(Ask::Tcp(addr.clone()), Ask::Http),
                _ => format!("http://{addr}{ready_path}")
                    .parse()
                    .map_or(Ask::Tcp(addr.clone()), Ask::Http),
            };
            Pending {
                service: Service {
                    name: p.name.clone(),
                    state: if running { "running" } else { "gone" }.into(),
                    health: None,
                    address: Some(addr),
                    answers: if running {
                        Ok(String::new())
                    } else {
                        Err(format!("pid {} is not running", p.pid))
                    },
                },
                ask,
            }
        })
        .collect()
}

/// One container as `docker inspect` describes it.
#[derive(Clone, Debug, PartialEq)]
struct Container {
    service: String,
    number: String,
    state: String,
    health: Option<String>,
    ip: Option<String>,
    /// Exposed container ports (`8080/tcp` → 8080).
    ports: Vec<u16>,
}

/// The `docker inspect` template `parse_inspect` reads: one line per container.
const INSPECT_FORMAT: &str = "{{index .Config.Labels \"com.docker.compose.service\"}}\t{{index .Config.Labels \"com.docker.compose.container-number\"}}\t{{.State.Status}}\t{{if .State.Health}}{{.State.Health.Status}}{{end}}\t{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}\t{{range $p, $_ := .Config.ExposedPorts}}{{$p}} {{end}}";

fn parse_inspect(out: &str) -> Vec<Container> {
    let mut list: Vec<Container> = out
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            let [service, number, state, health, ips, ports] = f[..] else {
                return None;
            };
            Some(Container {
                service: service.to_string(),
                number: number.to_string(),
                state: state.to_string(),
                health: (!health.is_empty()).then(|| health.to_string()),
                ip: ips.split_whitespace().next().map(String::from),
                ports: ports
                    .split_whitespace()
                    .filter_map(|p| p.split('/').next()?.parse().ok())
                    .collect(),
            })
        })
        .collect();
    list.sort_by(|a, b| {
        (&a.service, a.number.parse::<u32>().unwrap_or(0))
            .cmp(&(&b.service, b.number.parse::<u32>().unwrap_or(0)))
    });
    list
}

/// The project's containers, from the engine (running or not).
fn containers(ctx: &Ctx, project: &str) -> anyhow::Result<Vec<Container>> {
    let label = format!("label=com.docker.compose.project={project}");
    let ids = ctx.runner.read(
        &Step::new("docker ps", "docker")
            .args(["ps", "-aq", "--filter", label.as_str()])
            .read_only(),
    )?;
    let ids: Vec<&str> = ids.split_whitespace().collect();
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let out = ctx.runner.read(
        &Step::new("docker inspect", "docker")
            .args(["inspect", "--format", INSPECT_FORMAT])
            .args(ids)
            .read_only(),
    )?;
    Ok(parse_inspect(&out))
}

fn compose(ctx: &Ctx, c: &ComposeState, health_url: Option<&HttpUrl>) -> Vec<Pending> {
    let cfg = &ctx.config.environment.compose;
    let list = match containers(ctx, &c.project) {
        Ok(l) => l,
        Err(e) => {
            return vec![Pending {
                service: Service {
                    name: format!("compose project {}", c.project),
                    state: "unknown".into(),
                    health: None,
                    address: None,
                    answers: Err(format!("cannot ask the Docker engine: {e:#}")),
                },
                ask: Ask::Nothing,
            }]
        }
    };
    let path = health_url.map(|u| u.path().to_string()).unwrap_or_default();
    list.iter()
        .map(|k| {
            let several = list.iter().filter(|o| o.service == k.service).count() > 1;
            let name = if several {
                format!("{}-{}", k.service, k.number)
            } else {
                k.service.clone()
            };
            let at = |port: u16| k.ip.as_ref().map(|ip| format!("{ip}:{port}"));
            let (address, ask) = if k.service == cfg.lb_service && health_url.is_some() {
                let url = health_url.cloned().expect("checked");
                (Some(url.authority().to_string()), Ask::Http(url))
            } else if Some(&k.service) == cfg.redis_service.as_ref() {
                let a = at(6379);
                (a.clone(), a.map_or(Ask::Nothing, Ask::Redis))
            } else if let Some(port) = k.ports.first().copied() {
                let a = at(port);
                let ask = match &a {
                    Some(a) if k.service == cfg.app_service => format!("http://{a}{path}")
                        .parse()
                        .map_or(Ask::Tcp(a.clone()), Ask::Http),
                    Some(a) => Ask::Tcp(a.clone()),
                    None => Ask::Nothing,
                };
                (a, ask)
            } else {
                (k.ip.clone(), Ask::Nothing)
            };
            let answers = match (k.state.as_str(), k.health.as_deref()) {
                ("running", None | Some("healthy")) => Ok(String::new()),
                ("running", Some(h)) => Err(format!("Docker healthcheck: {h}")),
                (s, _) => Err(format!("container {s}")),
            };
            Pending {
                service: Service {
                    name,
                    state: k.state.clone(),
                    health: k.health.clone(),
                    address,
                    answers,
                },
                ask,
            }
        })
        .collect()
}

/// Refuses a name compose would not know, before asking the engine.
pub fn check_service_name(name: &str) -> anyhow::Result<()> {
    if name.is_empty()
        || name.starts_with('-')
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    {
        bail!("service `{name}`: use a service name such as app, redis or nginx-lb (`cargo xtask env status` lists them)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inspect_lines_become_containers_in_service_order() {
        let out = "app\t2\trunning\t\t172.18.0.4 \t8080/tcp \n\
                   redis\t1\trunning\thealthy\t172.18.0.2 \t6379/tcp \n\
                   app\t1\texited\t\t\t8080/tcp \n\
                   garbage line\n\
                   nginx-lb\t1\trunning\t\t172.18.0.5 \t80/tcp 8080/tcp ";
        let c = parse_inspect(out);
        let names: Vec<String> = c
            .iter()
            .map(|k| format!("{}-{}", k.service, k.number))
            .collect();
        assert_eq!(names, ["app-1", "app-2", "nginx-lb-1", "redis-1"]);
        assert_eq!(c[0].ip, None, "an exited container has no address");
        assert_eq!(c[1].ip.as_deref(), Some("172.18.0.4"));
        assert_eq!(c[2].ports, [80, 8080]);
        assert_eq!(c[3].health.as_deref(), Some("healthy"));
        assert_eq!(c[0].health, None);
    }

    #[test]
    fn a_service_that_is_not_running_is_not_probed() {
        let p = Pending {
            service: Service {
                name: "app-1".into(),
                state: "gone".into(),
                health: None,
                address: Some("127.0.0.1:1".into()),
                answers: Err("pid 7 is not running".into()),
            },
            ask: Ask::Tcp("127.0.0.1:1".into()),
        };
        assert_eq!(p.probe().answers, Err("pid 7 is not running".into()));
        assert_eq!(failing(&[]), ["no service runs"]);
    }

    #[test]
    fn the_table_lines_up_and_says_why_a_service_does_not_answer() {
        let rows = [
            Service {
                name: "redis".into(),
                state: "running".into(),
                health: None,
                address: Some("127.0.0.1:40001".into()),
                answers: Ok("PONG".into()),
            },
            Service {
                name: "app-1".into(),
                state: "gone".into(),
                health: None,
                address: Some("127.0.0.1:40002".into()),
                answers: Err("pid 7 is not running".into()),
            },
        ];
        let t = table(&rows);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[0],
            "  SERVICE  STATE    HEALTH  ADDRESS          ANSWERS"
        );
        assert_eq!(
            lines[1],
            "  redis    running  -       127.0.0.1:40001  yes (PONG)"
        );
        assert_eq!(
            lines[2],
            "  app-1    gone     -       127.0.0.1:40002  NO (pid 7 is not running)"
        );
        assert_eq!(failing(&rows), ["app-1: pid 7 is not running"]);
    }

    #[test]
    fn service_names_that_could_be_options_are_refused() {
        check_service_name("nginx-lb").unwrap();
        check_service_name("app_1").unwrap();
        for bad in ["", "-f", "a b", "app;rm"] {
            assert!(check_service_name(bad).is_err(), "{bad}");
        }
    }
}
