//! Requests per replica, from each app container's kernel TCP counters
//! (see `env/served.rs`).

use anyhow::{bail, Context};

use super::Compose;
use crate::env::{served, Served};

impl Compose {
    /// The app containers' TCP passive opens (see `served.rs`): from
    /// `/proc/<pid>/net/snmp` on this host when the engine runs here (the
    /// pid's network namespace is not ours), else `docker exec ... cat`.
    pub(super) fn count_served(&self) -> anyhow::Result<Served> {
        let app = &self.cfg.app_service;
        let ids = self
            .runner
            .read(
                &self
                    .step("ps", &["ps".into(), "-q".into(), app.clone()])
                    .read_only(),
            )
            .with_context(|| format!("cannot list the `{app}` containers"))?;
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if ids.is_empty() {
            bail!("no `{app}` container in compose project {}", self.project);
        }
        let mut args = vec![
            "inspect",
            "--format",
            "{{.Id}} {{.State.Pid}} {{.State.Running}} {{.Name}}",
        ];
        args.extend(ids);
        let out = self
            .runner
            .read(&self.docker("docker inspect", &args).read_only())
            .context("cannot inspect the app containers")?;
        let own_netns = std::fs::read_link("/proc/self/ns/net").ok();
        let mut counts = std::collections::BTreeMap::new();
        let mut via_exec = false;
        for line in out.lines() {
            let mut f = line.split_whitespace();
            let (Some(id), Some(pid), Some(running), Some(name)) =
                (f.next(), f.next(), f.next(), f.next())
            else {
                continue;
            };
            if running != "true" {
                continue;
            }
            let on_host = pid
                .parse::<u32>()
                .ok()
                .filter(|p| *p > 0)
                .filter(|p| {
                    let ns = std::fs::read_link(format!("/proc/{p}/ns/net")).ok();
                    ns.is_some() && ns != own_netns
                })
                .and_then(|p| std::fs::read_to_string(format!("/proc/{p}/net/snmp")).ok());
            let snmp = match on_host {
                Some(text) => text,
                None => {
                    via_exec = true;
                    self.runner
                        .read(
                            &self
                                .docker("docker exec", &["exec", id, "cat", "/proc/net/snmp"])
                                .read_only(),
                        )
                        .with_context(|| {
                            format!("cannot read the TCP counters of container {name}")
                        })?
                }
            };
            let n = served::passive_opens(&snmp).with_context(|| {
                format!("no `Tcp: PassiveOpens` counter in /proc/net/snmp of container {name}")
            })?;
            counts.insert(name.trim_start_matches('/').to_string(), n);
        }
        Ok(Served::Counted {
            method: format!(
                "TCP connections each `{app}` container accepted (the kernel's PassiveOpens of its network namespace, read {}); the balancer opens one per request",
                if via_exec { "with docker exec" } else { "in /proc on this host" }
            ),
            counts,
        })
    }
}
