//! The parser on raw output captured from the real k6 v1.1.0 (see
//! `tests/fixtures/k6/samples/README.md`), checked against the summary the
//! same run exported.

use super::*;
use crate::k6::Summary;

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/k6/samples/",
            $name
        ))
    };
}

fn parse(text: &str) -> Samples {
    Samples::read_from(text.as_bytes()).unwrap()
}

/// Every number of the legacy table agrees with k6's own summary.
fn agrees_with_k6(s: &Samples, summary: &str) {
    let k6 = Summary::parse(summary).unwrap();
    let (rows, notes) = numbers::table(Some(s), Some(&k6));
    assert!(notes.is_empty(), "{notes:#?}");
    assert_eq!(
        s.requests as f64,
        k6.count("http_reqs").unwrap(),
        "every request"
    );
    for (q, stat) in [(0.95, "p(95)"), (0.99, "p(99)")] {
        let ours = s.p(q).unwrap();
        let theirs = k6.trend("http_req_duration", stat).unwrap();
        let tol = precision_us(&s.duration, ours * 1000.0) / 1000.0;
        assert!(
            (ours - theirs).abs() <= tol,
            "{stat}: {ours} vs {theirs} (±{tol})"
        );
    }
    assert!(rows.iter().all(|(_, v, _)| v.is_some()), "{rows:?}");
}

#[test]
fn a_passing_run_counts_every_request_and_check() {
    let s = parse(fixture!("pass.ndjson"));
    assert_eq!((s.requests, s.failed), (70, 0));
    assert_eq!((s.checks_passed, s.checks_failed), (140, 0));
    assert_eq!((s.bad_lines, s.truncated), (0, false));
    assert_eq!(s.duration.len(), 70);
    assert_eq!(s.by_status.keys().collect::<Vec<_>>(), ["2xx"]);
    assert_eq!(s.by_scenario.keys().collect::<Vec<_>>(), ["default"]);
    assert_eq!(s.counters.get("join_accepted"), Some(&70.0));
    assert_eq!(s.fraction("join_valid_status_rate"), Some(1.0));
    assert_eq!(s.failed_rate(), Some(0.0));
    let slots = s.slots.as_ref().unwrap();
    assert_eq!(slots.width_ms, 1000);
    let per_slot: u64 = slots.latency.iter().map(|h| h.len()).sum();
    assert_eq!(per_slot, 70, "every request is in one time slot");
    agrees_with_k6(&s, fixture!("pass-summary.json"));
}

#[test]
fn a_run_with_failures_splits_latency_by_status_class() {
    let s = parse(fixture!("failures.ndjson"));
    assert_eq!((s.requests, s.failed), (67, 16));
    assert_eq!((s.checks_passed, s.checks_failed), (102, 32));
    let classes: Vec<(&str, u64)> = s
        .by_status
        .iter()
        .map(|(k, h)| (k.as_str(), h.len()))
        .collect();
    assert_eq!(classes, [("2xx", 51), ("5xx", 16)]);
    let failed_per_slot: u64 = s.slots.as_ref().unwrap().failed.iter().sum();
    assert_eq!(failed_per_slot, 16);
    agrees_with_k6(&s, fixture!("failures-summary.json"));
}

#[test]
fn a_run_cut_short_by_sigint_still_agrees_with_its_summary() {
    let s = parse(fixture!("sigint.ndjson"));
    assert_eq!(s.requests, 82);
    assert!(!s.truncated && s.bad_lines == 0);
    agrees_with_k6(&s, fixture!("sigint-summary.json"));
}

#[test]
fn a_stream_cut_inside_a_line_drops_only_that_line() {
    let text = fixture!("pass.ndjson");
    // As if k6 was killed while writing: the stream ends mid-line.
    let cut = text.rfind("http_req_duration\",\"type\":\"Point").unwrap() + 10;
    let s = parse(&text[..cut]);
    assert!(s.truncated);
    assert_eq!(s.bad_lines, 0);
    assert_eq!(s.duration.len(), 69, "the cut request's duration is lost");
}

#[test]
fn lines_that_are_not_k6_samples_are_counted_and_skipped() {
    let mut text = String::from("not json\n{\"type\":\"Point\"}\n\n");
    text.push_str(fixture!("pass.ndjson"));
    text.push_str("{\"type\":\"Other\",\"metric\":\"x\",\"data\":{}}\n");
    let s = parse(&text);
    assert_eq!(s.bad_lines, 3);
    assert_eq!(s.requests, 70);
    let long = format!(
        "{}\n{}",
        "x".repeat(MAX_LINE as usize + 10),
        fixture!("pass.ndjson")
    );
    let s = parse(&long);
    assert_eq!((s.bad_lines, s.requests), (1, 70));
}

#[test]
fn percentiles_follow_k6s_interpolation_between_ranks() {
    let mut h = new_histogram();
    for us in [100, 200, 300, 400, 1000] {
        h.record(us).unwrap();
    }
    // k6: i = q (n-1); p(50) = v[2]; p(95) = v[3] + 0.8 (v[4] - v[3]).
    assert_eq!(quantile(&h, 0.5), Some(300.0));
    assert!((quantile(&h, 0.95).unwrap() - (400.0 + 0.8 * 600.0)).abs() < 1e-9);
    assert_eq!(quantile(&h, 0.0), Some(100.0));
    assert_eq!(quantile(&h, 1.0), Some(1000.0));
    assert_eq!(quantile(&new_histogram(), 0.95), None);
    // Above 2048 µs a bucket holds several values: the middle one is used.
    let mut h = new_histogram();
    h.record(123_456).unwrap();
    let v = quantile(&h, 0.95).unwrap();
    assert!((v - 123_456.0).abs() <= precision_us(&h, v), "{v}");
}

#[test]
fn status_classes() {
    assert_eq!(status_class("200"), "2xx");
    assert_eq!(status_class("503"), "5xx");
    assert_eq!(status_class("0"), "no response");
    assert_eq!(status_class(""), "no response");
    assert_eq!(status_class("999x"), "status 999x");
}

#[test]
fn go_timestamps_with_zone_or_offset() {
    let z = parse_time_ns("2026-12-01T09:14:22.64429277Z").unwrap();
    assert_eq!(z, 1_796_116_462_644_292_770);
    assert_eq!(parse_time_ns("2026-12-01T11:14:22.64429277+02:00"), Some(z));
    assert_eq!(parse_time_ns("1970-01-01T00:00:01Z"), Some(1_000_000_000));
    assert_eq!(parse_time_ns("2026-13-01T00:00:00Z"), None);
    assert_eq!(parse_time_ns("yesterday"), None);
}

fn point(metric: &str, secs: u64, value: f64) -> String {
    format!(
        "{{\"metric\":\"{metric}\",\"type\":\"Point\",\"data\":{{\"time\":\"1970-01-01T00:00:00Z\",\"value\":{value},\"tags\":{{\"status\":\"200\"}}}}}}\n"
    )
    .replace("1970-01-01T00:00:00Z", &time_of(secs))
}

fn time_of(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    format!("2026-01-01T{h:02}:{m:02}:{s:02}.5Z")
}

#[test]
fn a_long_run_keeps_at_most_max_slots_by_widening_them() {
    let mut s = Samples::default();
    // 1500 s, one request per second: 1 s slots would be 1500.
    for t in 0..1500 {
        s.feed(point("http_req_duration", t, 2.0).as_bytes(), true);
    }
    let sl = s.slots.as_ref().unwrap();
    assert!(sl.latency.len() <= MAX_SLOTS);
    assert_eq!(sl.width_ms, 4000);
    assert_eq!(sl.latency.len(), 375);
    assert!(sl.latency.iter().all(|h| h.len() == 4));
    assert_eq!(s.duration.len(), 1500);
}

#[test]
fn stored_histograms_read_back_the_same_numbers() {
    let s = parse(fixture!("failures.ndjson"));
    let dir = std::env::temp_dir().join(format!("xtask-store-{}", std::process::id()));
    let dir = camino::Utf8PathBuf::from_path_buf(dir).unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    store::save(&dir, &s).unwrap();
    let back = store::load(&dir).unwrap();
    assert_eq!(back.p(0.95), s.p(0.95));
    assert_eq!(back.p(0.99), s.p(0.99));
    assert_eq!((back.requests, back.failed), (s.requests, s.failed));
    assert_eq!(back.checks_rate(), s.checks_rate());
    assert_eq!(back.rps(), s.rps());
    let (a, b) = (s.slots.as_ref().unwrap(), back.slots.as_ref().unwrap());
    assert_eq!(
        (a.start_ns, a.width_ms, &a.failed),
        (b.start_ns, b.width_ms, &b.failed)
    );
    assert_eq!(a.latency, b.latency);
    assert_eq!(back.by_status.keys().collect::<Vec<_>>(), ["2xx", "5xx"]);
    assert_eq!(back.by_status["5xx"], s.by_status["5xx"]);
    assert_eq!(back.counters, s.counters);
    let hlog = std::fs::read_to_string(dir.join(store::HLOG)).unwrap();
    assert!(hlog.contains("Tag=all,"), "{hlog}");
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(store::load(&dir)
        .unwrap_err()
        .to_string()
        .starts_with("no stored samples in"));
}
