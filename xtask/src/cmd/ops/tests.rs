//! Unit tests of `ops`: the monitor's key counts on real demo output, the snapshot's
//! minimums, the health check's components and their legacy variables.

use super::*;
use crate::{env::Endpoints, report::Verdict};

/// Real demo output (see tests/fixtures/monitor/README.md).
const DEMO_LOG: &str = include_str!("../../../tests/fixtures/monitor/demo-app.log");

fn keys() -> Vec<String> {
    [
        "AUTH_MONITOR",
        "QUEUE_MONITOR",
        "PUSH_MONITOR",
        "PUSH_MONITOR_SNAPSHOT",
    ]
    .map(String::from)
    .to_vec()
}

fn counts(log: &[u8], tail: usize) -> Vec<(String, u64, u64)> {
    count_keys(&last_lines(log, tail), &keys())
        .into_iter()
        .map(|c| (c.key, c.exact, c.substring))
        .collect()
}

fn row(key: &str, exact: u64, substring: u64) -> (String, u64, u64) {
    (key.to_string(), exact, substring)
}

#[test]
fn demo_log_keys_are_counted_as_tokens_and_as_legacy_substrings() {
    assert_eq!(
        counts(DEMO_LOG.as_bytes(), 2000),
        [
            row("AUTH_MONITOR", 2, 2),
            row("QUEUE_MONITOR", 9, 9),
            // The 151 snapshot lines are not PUSH_MONITOR lines.
            row("PUSH_MONITOR", 4, 155),
            row("PUSH_MONITOR_SNAPSHOT", 151, 151),
        ]
    );
}

#[test]
fn a_snapshot_line_is_not_a_push_monitor_line() {
    let log = b"INFO PUSH_MONITOR_SNAPSHOT pushes=4 instance=app-1\n";
    assert_eq!(counts(log, 10)[2], row("PUSH_MONITOR", 0, 1));
    assert_eq!(counts(log, 10)[3], row("PUSH_MONITOR_SNAPSHOT", 1, 1));
    // A line with both counts once per key; punctuation ends a token.
    let log = b"x PUSH_MONITOR_SNAPSHOT y key=PUSH_MONITOR,\nXQUEUE_MONITOR\n";
    assert_eq!(counts(log, 10)[2], row("PUSH_MONITOR", 1, 1));
    assert_eq!(counts(log, 10)[1], row("QUEUE_MONITOR", 0, 1));
}

#[test]
fn only_the_last_tail_lines_count() {
    let last_two = counts(DEMO_LOG.as_bytes(), 2);
    // The last snapshot and "demo stopped".
    assert_eq!(last_two[3], row("PUSH_MONITOR_SNAPSHOT", 1, 1));
    assert_eq!(last_two[1], row("QUEUE_MONITOR", 0, 0));
    assert_eq!(
        last_lines(b"a\r\nb\n", 5),
        [b"a".as_slice(), b"b".as_slice()]
    );
    assert!(last_lines(b"", 5).is_empty());
}

#[test]
fn non_utf8_bytes_do_not_break_the_count() {
    let mut log = b"2026 INFO QUEUE_MONITOR join user=\xff\xfe\xc3 status=ACTIVE\n".to_vec();
    log.extend_from_slice(b"\x80\x81 PUSH_MONITOR push-active\n");
    log.extend_from_slice(b"caf\xe9 AUTH_MONITOR\xe9\n");
    assert_eq!(
        counts(&log, 100),
        [
            row("AUTH_MONITOR", 1, 1),
            row("QUEUE_MONITOR", 1, 1),
            row("PUSH_MONITOR", 1, 1),
            row("PUSH_MONITOR_SNAPSHOT", 0, 0),
        ]
    );
    let says_three_were_bytes = |log: &[u8]| {
        let mut r = Report::new(MONITOR_SUITE, MONITOR_TITLE);
        snapshot(&keys(), &BTreeMap::new()).fill(&mut r, log);
        assert!(
            r.notes
                .iter()
                .any(|n| n == "3 lines were not valid UTF-8; they were searched as bytes"),
            "{:?}",
            r.notes
        );
    };
    says_three_were_bytes(&log);
    // The same log after a reader replaced the bad bytes (local log files,
    // `docker compose logs`): the same counts and the same note.
    let replaced = String::from_utf8_lossy(&log).into_owned();
    assert_eq!(counts(replaced.as_bytes(), 100), counts(&log, 100));
    says_three_were_bytes(replaced.as_bytes());
}

fn snapshot<'a>(keys: &'a [String], mins: &'a BTreeMap<String, u64>) -> Snapshot<'a> {
    Snapshot {
        service: "app",
        tail: 2000,
        keys,
        mins,
    }
}

#[test]
fn without_a_minimum_the_snapshot_passes_and_says_no_check_is_configured() {
    let keys = keys();
    let mins = BTreeMap::new();
    let mut r = Report::new(MONITOR_SUITE, MONITOR_TITLE);
    snapshot(&keys, &mins).fill(&mut r, DEMO_LOG.as_bytes());
    assert_eq!(r.result, Verdict::Pass);
    assert!(r.thresholds.is_empty());
    assert!(
        r.notes.iter().any(|n| n.starts_with("no check configured")),
        "{:?}",
        r.notes
    );
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("legacy script counted substrings")),
        "{:?}",
        r.notes
    );
    assert_eq!(r.parameters[0].name, "Lines read");
    assert_eq!(r.parameters[0].value, "168");
    let t = &r.tables[0];
    assert_eq!(
        t.columns,
        [
            "Key",
            "Lines (exact token)",
            "Lines (legacy substring)",
            "Minimum"
        ]
    );
    assert_eq!(t.rows[2], ["PUSH_MONITOR", "4", "155", "-"]);
    let md = r.to_markdown();
    assert!(md.contains("| PUSH_MONITOR | 4 | 155 | - |"), "{md}");
}

#[test]
fn a_minimum_above_the_count_fails_with_a_threshold_row() {
    let keys = keys();
    let mins = BTreeMap::from([
        ("QUEUE_MONITOR".to_string(), 10),
        ("AUTH_MONITOR".to_string(), 1),
    ]);
    let mut r = Report::new(MONITOR_SUITE, MONITOR_TITLE);
    snapshot(&keys, &mins).fill(&mut r, DEMO_LOG.as_bytes());
    assert_eq!(r.result, Verdict::Fail);
    let rows: Vec<_> = r
        .thresholds
        .iter()
        .map(|t| (t.name.as_str(), t.observed, t.ok))
        .collect();
    assert_eq!(
        rows,
        [
            ("AUTH_MONITOR lines", Some(2.0), true),
            ("QUEUE_MONITOR lines", Some(9.0), false)
        ]
    );
    assert!(
        r.notes
            .iter()
            .any(|n| n == "QUEUE_MONITOR lines 9 below the minimum 10"),
        "{:?}",
        r.notes
    );
    assert!(!r.notes.iter().any(|n| n.starts_with("no check configured")));

    let mins = BTreeMap::from([("QUEUE_MONITOR".to_string(), 9)]);
    let mut r = Report::new(MONITOR_SUITE, MONITOR_TITLE);
    snapshot(&keys, &mins).fill(&mut r, DEMO_LOG.as_bytes());
    assert_eq!(r.result, Verdict::Pass);
}

/// Logs as an environment returns them.
struct CapturedLogs(Result<String, String>);

impl Environment for CapturedLogs {
    fn kind(&self) -> EnvKind {
        EnvKind::External
    }
    fn up(&mut self) -> anyhow::Result<()> {
        Ok(())
    }
    fn ready(&mut self) -> anyhow::Result<()> {
        Ok(())
    }
    fn endpoints(&self) -> Endpoints {
        Endpoints::default()
    }
    fn logs(&self, service: &str, tail: u32) -> anyhow::Result<String> {
        assert_eq!((service, tail), ("app", 2000));
        self.0.clone().map_err(anyhow::Error::msg)
    }
    fn scale(&mut self, _: crate::units::Replicas) -> anyhow::Result<()> {
        Ok(())
    }
    fn down(&mut self) -> anyhow::Result<()> {
        panic!("a snapshot never brings an environment down")
    }
    fn describe(&self) -> Vec<(String, String)> {
        vec![]
    }
}

#[test]
fn the_snapshot_reads_the_app_logs_through_the_environment() {
    let keys = keys();
    let mins = BTreeMap::from([("PUSH_MONITOR_SNAPSHOT".to_string(), 1)]);
    let mut r = Report::new(MONITOR_SUITE, MONITOR_TITLE);
    snapshot(&keys, &mins)
        .take(&CapturedLogs(Ok(DEMO_LOG.into())), &mut r)
        .unwrap();
    assert_eq!(r.result, Verdict::Pass);
    assert_eq!(r.thresholds[0].observed, Some(151.0));
    let e = snapshot(&keys, &mins)
        .take(&CapturedLogs(Err("no such service: app".into())), &mut r)
        .unwrap_err();
    assert_eq!(e.to_string(), "no such service: app");
}

fn health_flags() -> flags::OpsHealth {
    flags::OpsHealth::default()
}

fn component(name: &str, kind: ProbeKind, address: &str) -> Component {
    Component {
        name: name.into(),
        kind,
        address: address.into(),
    }
}

fn addresses(cs: &[Component]) -> Vec<(String, &'static str, String)> {
    cs.iter()
        .map(|c| (c.name.clone(), c.kind.as_str(), c.address.clone()))
        .collect()
}

#[test]
fn legacy_variables_override_the_component_of_their_kind() {
    let config = vec![
        component("lb", ProbeKind::Http, "http://127.0.0.1:18080/x"),
        component("api", ProbeKind::Http, "http://127.0.0.1:8080/api/concerts"),
        component("cache", ProbeKind::Redis, "redis:6379"),
    ];
    let mut f = health_flags();
    f.api_url = Some("http://127.0.0.1:20080/api/concerts".parse().unwrap());
    f.redis_port = Some(20379);
    f.postgres_host = Some("::1".parse().unwrap());
    assert_eq!(
        addresses(&f.apply_to(config)),
        [
            ("lb".into(), "http", "http://127.0.0.1:18080/x".into()),
            (
                "api".into(),
                "http",
                "http://127.0.0.1:20080/api/concerts".into()
            ),
            // Host kept, port replaced.
            ("cache".into(), "redis", "redis:20379".into()),
            // None in the config: added, with the legacy default port.
            ("postgres".into(), "postgres", "[::1]:5432".into()),
        ]
    );
    // Nothing set: the config as it is.
    let config = vec![component("api", ProbeKind::Http, "http://a:1/")];
    assert_eq!(
        addresses(&health_flags().apply_to(config.clone())),
        addresses(&config)
    );
}

#[test]
fn a_down_component_fails_the_report_and_up_ones_show_their_latency() {
    let cs = vec![
        component(
            "api",
            ProbeKind::Http,
            "http://127.0.0.1:20080/api/concerts",
        ),
        component("redis", ProbeKind::Redis, "127.0.0.1:20379"),
    ];
    let results = vec![
        Ok(probe::Health {
            latency: std::time::Duration::from_micros(1500),
            detail: "HTTP 200".into(),
        }),
        Err(anyhow::anyhow!("cannot connect to 127.0.0.1:20379")),
    ];
    let mut r = Report::new(HEALTH_SUITE, HEALTH_TITLE);
    health_report(&mut r, &cs, &results);
    assert_eq!(r.result, Verdict::Fail);
    assert_eq!(
        r.tables[0].rows,
        [
            [
                "api",
                "http",
                "http://127.0.0.1:20080/api/concerts",
                "UP",
                "1.5 ms",
                "HTTP 200"
            ],
            [
                "redis",
                "redis",
                "127.0.0.1:20379",
                "DOWN",
                "-",
                "cannot connect to 127.0.0.1:20379"
            ],
        ]
    );
    assert_eq!(
        r.notes,
        ["redis (redis 127.0.0.1:20379) is DOWN: cannot connect to 127.0.0.1:20379"]
    );
    let m = |n: &str| r.metrics.iter().find(|m| m.name == n).unwrap().value;
    assert_eq!((m("api latency"), m("redis latency")), (Some(1.5), None));
    assert_eq!(
        (m("components up"), m("components down")),
        (Some(1.0), Some(1.0))
    );
}
