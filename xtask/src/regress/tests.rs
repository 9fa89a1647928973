//! Unit tests of `regress`: generated runs of known distributions, so a regression is
//! flagged only beyond both the tolerance and the noise.

use super::*;
use crate::config::K6Regression;

/// A run of `secs` seconds, `per_sec` requests a second, latency drawn
/// around `ms` (± `jitter` ms), `failed_every`-th request failed.
fn run(secs: u64, per_sec: u64, ms: f64, jitter: f64, failed_every: u64, seed: u64) -> Samples {
    let mut rng = SplitMix(seed);
    let mut s = Samples::default();
    s.feed(
        br#"{"type":"Metric","metric":"http_reqs","data":{"type":"counter"}}"#,
        true,
    );
    let mut n = 0;
    for t in 0..secs {
        for k in 0..per_sec {
            n += 1;
            let u = (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
            let v = ms + jitter * (2.0 * u - 1.0);
            let time = format!(
                "2026-01-01T00:{:02}:{:02}.{:03}Z",
                t / 60,
                t % 60,
                k * 999 / per_sec
            );
            let line = |metric: &str, value: f64| {
                format!(
                    r#"{{"metric":"{metric}","type":"Point","data":{{"time":"{time}","value":{value},"tags":{{"status":"200","scenario":"default"}}}}}}"#
                )
            };
            s.feed(line("http_req_duration", v).as_bytes(), true);
            s.feed(line("http_reqs", 1.0).as_bytes(), true);
            let failed = failed_every > 0 && n % failed_every == 0;
            s.feed(
                line("http_req_failed", if failed { 1.0 } else { 0.0 }).as_bytes(),
                true,
            );
        }
    }
    s
}

fn verdicts(rows: &[Row]) -> Vec<(&str, Verdict)> {
    rows.iter().map(|r| (r.metric, r.verdict)).collect()
}

fn tol() -> K6Regression {
    K6Regression::default()
}

#[test]
fn the_same_run_twice_is_no_regression() {
    let a = run(20, 40, 4.0, 2.0, 0, 1);
    let rows = compare(&a, &a, &tol());
    assert!(rows.iter().all(|r| r.verdict == Verdict::Ok), "{rows:#?}");
    let (lo, hi) = rows[0].interval.unwrap();
    assert!(lo <= 0.0 && hi >= 0.0, "{lo} {hi}");
}

#[test]
fn two_runs_of_one_distribution_are_no_regression() {
    let rows = compare(
        &run(20, 40, 4.0, 2.0, 0, 1),
        &run(20, 40, 4.0, 2.0, 0, 2),
        &tol(),
    );
    assert!(rows.iter().all(|r| r.verdict == Verdict::Ok), "{rows:#?}");
}

#[test]
fn added_latency_beyond_the_tolerance_is_a_regression() {
    let rows = compare(
        &run(20, 40, 4.0, 2.0, 0, 1),
        &run(20, 40, 12.0, 2.0, 0, 2),
        &tol(),
    );
    assert_eq!(rows[0].verdict, Verdict::Regression, "{rows:#?}");
    assert_eq!(rows[1].verdict, Verdict::Regression, "{rows:#?}");
    let (lo, _) = rows[0].interval.unwrap();
    assert!(lo > 0.0);
    // The other way round it is an improvement.
    let rows = compare(
        &run(20, 40, 12.0, 2.0, 0, 2),
        &run(20, 40, 4.0, 2.0, 0, 1),
        &tol(),
    );
    assert_eq!(rows[0].verdict, Verdict::Improvement, "{rows:#?}");
}

#[test]
fn a_change_inside_the_tolerance_is_never_a_regression() {
    // +1 ms on a 4 ms p95 is significant on this much data, but below the
    // 2 ms floor of the tolerance.
    let rows = compare(
        &run(30, 50, 4.0, 0.5, 0, 1),
        &run(30, 50, 5.0, 0.5, 0, 2),
        &tol(),
    );
    assert_eq!(rows[0].verdict, Verdict::Ok, "{rows:#?}");
    assert_eq!(rows[0].tolerance, 2.0);
}

#[test]
fn a_change_beyond_the_tolerance_inside_the_noise_is_not_flagged() {
    // Seconds that differ wildly: one slow second in each run, at random.
    let mut a = run(4, 20, 4.0, 1.0, 0, 1);
    let mut b = run(4, 20, 4.0, 1.0, 0, 2);
    let slow = run(1, 20, 60.0, 1.0, 0, 3);
    for s in [&mut a, &mut b] {
        let sl = s.slots.as_mut().unwrap();
        sl.latency[1] = slow.slots.as_ref().unwrap().latency[0].clone();
    }
    let sl = b.slots.as_mut().unwrap();
    sl.latency[2] = slow.slots.as_ref().unwrap().latency[0].clone();
    b.duration = crate::samples::new_histogram();
    for h in &b.slots.as_ref().unwrap().latency {
        for v in h.iter_recorded() {
            b.duration
                .record_n(v.value_iterated_to(), v.count_at_value() as u64)
                .unwrap();
        }
    }
    let rows = compare(&a, &b, &tol());
    assert_eq!(rows[0].verdict, Verdict::NotSignificant, "{rows:#?}");
}

#[test]
fn more_failures_beyond_the_tolerance_are_a_regression() {
    let rows = compare(
        &run(20, 50, 4.0, 1.0, 0, 1),
        &run(20, 50, 4.0, 1.0, 10, 2),
        &tol(),
    );
    let v = verdicts(&rows);
    assert_eq!(
        v[2],
        ("http_req_failed rate", Verdict::Regression),
        "{rows:#?}"
    );
}

#[test]
fn fewer_requests_per_second_beyond_the_tolerance_are_a_regression() {
    let rows = compare(
        &run(20, 50, 4.0, 1.0, 0, 1),
        &run(20, 25, 4.0, 1.0, 0, 2),
        &tol(),
    );
    assert_eq!(
        verdicts(&rows)[3],
        ("http_reqs per second", Verdict::Regression),
        "{rows:#?}"
    );
}

#[test]
fn runs_too_short_to_tell_are_unknown() {
    let rows = compare(
        &run(2, 50, 4.0, 1.0, 0, 1),
        &run(2, 50, 40.0, 1.0, 0, 2),
        &tol(),
    );
    assert!(
        rows.iter().all(|r| r.verdict == Verdict::Unknown),
        "{rows:#?}"
    );
}

#[test]
fn the_same_data_always_gets_the_same_interval() {
    let (a, b) = (run(10, 30, 4.0, 2.0, 0, 1), run(10, 30, 5.0, 2.0, 0, 2));
    assert_eq!(compare(&a, &b, &tol()), compare(&a, &b, &tol()));
}

#[test]
fn compare_targets_are_parsed_at_the_edge() {
    assert_eq!("last-pass".parse::<Target>(), Ok(Target::LastPass));
    assert_eq!(
        "20261201T091422Z".parse::<Target>(),
        Ok(Target::Named("20261201T091422Z".into()))
    );
    assert_eq!("main".parse::<Target>(), Ok(Target::Named("main".into())));
    assert_eq!(
        "feature/faster-join".parse::<Target>(),
        Ok(Target::Named("feature/faster-join".into()))
    );
    for bad in ["", "--upload-pack=x", "a b", "main~1", "x^{tree}"] {
        assert!(bad.parse::<Target>().is_err(), "{bad}");
    }
}

#[test]
fn the_gates_stage_words_give_a_baseline_that_compares_with_the_last_pass() {
    use clap::Parser;
    // What cmd/gate.rs passes when [gate] require_no_regression is set.
    let f = crate::flags::Xtask::try_parse_from([
        "cargo xtask",
        "k6",
        "baseline",
        "--compare",
        "last-pass",
    ])
    .unwrap();
    let crate::flags::Cmd::K6(crate::flags::K6Cmd::Baseline(b)) = f.cmd else {
        panic!("not a k6 baseline");
    };
    assert_eq!(b.compare, Some(Target::LastPass));
}

#[test]
fn regression_tolerances_are_read_and_checked_at_load() {
    let p = camino::Utf8Path::new("xtask.toml");
    let c = crate::config::Config::parse(
        p,
        "[k6.regression]\np95_increase = 0.1\np95_min_ms = 0.5\n[gate]\nrequire_no_regression = true\n",
    )
    .unwrap();
    assert_eq!(c.k6.regression.p95_increase, 0.1);
    assert_eq!(c.k6.regression.p95_min_ms, 0.5);
    assert_eq!(c.k6.regression.resamples, 2000);
    assert!(c.gate.require_no_regression);
    for (bad, key) in [
        ("p95_min_ms = -1", "k6.regression.p95_min_ms"),
        ("resamples = 5", "k6.regression.resamples"),
        ("confidence = 0.2", "k6.regression.confidence"),
        ("p95_tolerance = 1", "p95_tolerance"),
    ] {
        let e = crate::config::Config::parse(p, &format!("[k6.regression]\n{bad}\n")).unwrap_err();
        let e = format!("{e:#}");
        assert!(e.contains(key) && !e.contains('\n'), "{bad}: {e}");
    }
}
