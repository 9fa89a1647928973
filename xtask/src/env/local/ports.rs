//! Ports: the ones the configuration fixes, checked (taken, or wanted twice)
//! before anything starts, and free ones picked for the rest.

use std::net::TcpListener;

use anyhow::{bail, Context};

use super::Local;

impl Local {
    /// Ports the configuration fixes, with who wants them; 0 means "any".
    pub(super) fn fixed_ports(
        &self,
        replicas: std::ops::RangeInclusive<u32>,
    ) -> anyhow::Result<Vec<(String, u16)>> {
        let mut want = vec![];
        if *replicas.start() == 1 {
            if self.cfg.redis_port != 0 {
                want.push(("redis".to_string(), self.cfg.redis_port));
            }
            want.push(("nginx (load balancer)".to_string(), self.lb_port));
        }
        if self.cfg.app_base_port != 0 {
            for i in replicas {
                let port = u16::try_from(self.cfg.app_base_port as u32 + i - 1).map_err(|_| {
                    anyhow::anyhow!("app-{i} would listen on port {} (beyond 65535): lower [environment.local].app_base_port", self.cfg.app_base_port as u32 + i - 1)
                })?;
                want.push((format!("app-{i}"), port));
            }
        }
        Ok(want)
    }

    /// The programs and the fixed ports, before anything starts.
    pub fn preflight(&self) -> anyhow::Result<()> {
        if self.cfg.app_command.is_empty() {
            bail!("[environment.local].app_command is empty: set the command that starts one replica, e.g. [\"java\", \"-jar\", \"build/libs/demo.jar\"]");
        }
        if let Some(build) = &self.build {
            build.require()?;
        }
        self.redis_step().require()?;
        self.app_step(1, 0)?.require()?;
        self.nginx_step().require()?;
        check_ports_free(&self.fixed_ports(1..=self.spec.replicas.get())?)
    }
}

/// Fails, naming the service and the port, when a port is taken or wanted twice.
/// A port wanted twice is a mistake in the config whatever the machine
/// does, so it is found first, before any port is tried.
pub(super) fn check_ports_free(want: &[(String, u16)]) -> anyhow::Result<()> {
    for (i, (name, port)) in want.iter().enumerate() {
        if let Some((other, _)) = want[..i].iter().find(|(_, p)| p == port) {
            bail!("port {port} is configured for both {other} and {name}: give each its own ([environment.local] redis_port, app_base_port, and the health URL's port for the balancer)");
        }
    }
    for (name, port) in want {
        // Either address taken means the service could not listen.
        for host in ["127.0.0.1", "0.0.0.0"] {
            if let Err(e) = TcpListener::bind((host, *port)) {
                bail!("port {port} for {name} is not free ({e}): stop what listens there (`ss -ltnp 'sport = :{port}'`) or configure another port; nothing was started");
            }
        }
    }
    Ok(())
}

/// `n` distinct free ports on loopback (held together while picked, so they differ).
pub(super) fn free_ports(n: usize) -> anyhow::Result<Vec<u16>> {
    let held = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").and_then(|l| Ok((l.local_addr()?.port(), l))))
        .collect::<std::io::Result<Vec<_>>>()
        .context("cannot find a free port on 127.0.0.1")?;
    Ok(held.into_iter().map(|(p, _)| p).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_port_is_reported_with_its_service_before_anything_starts() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let e = check_ports_free(&[("nginx (load balancer)".into(), port)])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(&format!(
                "port {port} for nginx (load balancer) is not free"
            )),
            "{e}"
        );
        assert!(e.ends_with("nothing was started"), "{e}");
    }

    #[test]
    fn one_port_for_two_services_is_refused() {
        // Held by the test, so whatever else the machine runs, the answer
        // cannot depend on the port's freedom: the duplicate comes first.
        let held = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = held.local_addr().unwrap().port();
        for want in [
            vec![("redis".into(), port), ("app-1".into(), port)],
            vec![
                ("nginx".into(), 1),
                ("redis".into(), port),
                ("app-1".into(), port),
            ],
        ] {
            let e = check_ports_free(&want).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!(
                    "port {port} is configured for both redis and app-1"
                )),
                "{e}"
            );
        }
    }

    #[test]
    fn free_ports_are_distinct() {
        let mut p = free_ports(5).unwrap();
        p.sort();
        p.dedup();
        assert_eq!(p.len(), 5);
    }
}
