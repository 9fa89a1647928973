//! Requests each app replica served, measured from outside the service.
//!
//! The service tells nothing about which replica answered (no header, no
//! metric), so the environment counts for it:
//! - compose: the kernel's TCP counters of each app container's network
//!   namespace (`Tcp: PassiveOpens` in `/proc/<pid>/net/snmp`, the pid from
//!   `docker inspect`), read on this host, else through `docker exec`. The
//!   service's balancer opens one upstream connection per request (no
//!   `keepalive`, `Connection: close`), and the app's own connections to its
//!   databases are active opens, so the difference is the requests served.
//!   Network byte counters would count the app's Redis, PostgreSQL and Kafka
//!   traffic as well: a replica that served nothing still moves bytes.
//! - local: the generated nginx's own access log, one `$upstream_addr` per
//!   request, counted per replica address.
//! - external: nothing of it runs here; not measured.

use std::collections::BTreeMap;

/// Why an external environment's spread is not measured.
pub const EXTERNAL_NOT_MEASURED: &str = "the external environment runs elsewhere: nothing of it (containers, balancer log) can be read from here, and the service does not say which replica answered";

/// A snapshot of cumulative counts per replica, or why there is none.
#[derive(Clone, Debug, PartialEq)]
pub enum Served {
    Counted {
        /// How the counts were taken, for the report.
        method: String,
        /// Replica name -> cumulative count.
        counts: BTreeMap<String, u64>,
    },
    NotMeasured(String),
}

impl Served {
    /// What each replica served between `before` and `self`. A replica
    /// absent before (started in between) counts from zero.
    pub fn since(&self, before: &Served) -> Served {
        match (self, before) {
            (Served::NotMeasured(why), _) | (_, Served::NotMeasured(why)) => {
                Served::NotMeasured(why.clone())
            }
            (
                Served::Counted { method, counts },
                Served::Counted {
                    counts: earlier, ..
                },
            ) => Served::Counted {
                method: method.clone(),
                counts: counts
                    .iter()
                    .map(|(k, n)| (k.clone(), n.saturating_sub(*earlier.get(k).unwrap_or(&0))))
                    .collect(),
            },
        }
    }
}

/// `Tcp: ... PassiveOpens ...` of a `/proc/net/snmp` text: a header line
/// naming the fields, then a line of values.
pub fn passive_opens(snmp: &str) -> Option<u64> {
    let mut tcp = snmp.lines().filter(|l| l.starts_with("Tcp:"));
    let names = tcp.next()?;
    let values = tcp.next()?;
    let at = names.split_whitespace().position(|n| n == "PassiveOpens")?;
    values.split_whitespace().nth(at)?.parse().ok()
}

/// The nginx access-log format the local balancer writes: the upstream
/// address only (`$upstream_addr`), one line per request.
pub const UPSTREAM_LOG_FORMAT: &str = "$upstream_addr";

/// Requests per upstream address in an access log of [`UPSTREAM_LOG_FORMAT`].
/// A request nginx retried on another replica lists every address tried
/// (`a, b`); the last one answered it. `-` (no upstream) is not counted.
pub fn count_upstreams(log: &str) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for line in log.lines() {
        // `a, b` for retries, `a : b` for internal redirects: the last one served.
        let addr = line
            .rsplit(',')
            .next()
            .unwrap_or("")
            .rsplit(" : ")
            .next()
            .unwrap_or("")
            .trim();
        if addr.is_empty() || addr == "-" {
            continue;
        }
        *counts.entry(addr.to_string()).or_insert(0) += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    // The shape of a real /proc/net/snmp (kernel 6.1), Tcp lines only matter.
    const SNMP: &str = "\
Ip: Forwarding DefaultTTL InReceives
Ip: 1 64 3512
Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab
Tcp: 1 200 120000 -1 12 1843 0 3 4
Udp: InDatagrams NoPorts
Udp: 10 0
";

    #[test]
    fn passive_opens_is_read_by_field_name() {
        assert_eq!(passive_opens(SNMP), Some(1843));
        assert_eq!(passive_opens("Ip: a\nIp: 1\n"), None);
        assert_eq!(passive_opens("Tcp: PassiveOpens\n"), None);
    }

    #[test]
    fn upstreams_are_counted_by_the_address_that_answered() {
        let log = "127.0.0.1:4001\n127.0.0.1:4002\n127.0.0.1:4001\n\
                   127.0.0.1:4003, 127.0.0.1:4002\n-\n\n127.0.0.1:4009 : 127.0.0.1:4001\n";
        let c = count_upstreams(log);
        assert_eq!(c.get("127.0.0.1:4001"), Some(&3));
        assert_eq!(c.get("127.0.0.1:4002"), Some(&2));
        assert_eq!(
            c.get("127.0.0.1:4003"),
            None,
            "a failed try is not a request served"
        );
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn the_difference_of_two_snapshots_is_what_was_served_in_between() {
        let snap = |v: &[(&str, u64)]| Served::Counted {
            method: "m".into(),
            counts: v.iter().map(|(k, n)| (k.to_string(), *n)).collect(),
        };
        let d = snap(&[("a", 10), ("b", 7), ("c", 3)]).since(&snap(&[("a", 4), ("b", 7)]));
        assert_eq!(d, snap(&[("a", 6), ("b", 0), ("c", 3)]));
        let none = Served::NotMeasured("why".into());
        assert_eq!(snap(&[]).since(&none), none);
    }
}
