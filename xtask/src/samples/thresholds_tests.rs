//! Unit tests of the thresholds judged on samples: k6 inspect's shapes,
//! each aggregation, and what cannot be judged.

use super::*;

/// A run's raw lines: 100 requests of 1..=100 ms (scenario `a` for the
/// first 50), 2 failed, checks 99 of 100, a counter of 7.
fn samples() -> Samples {
    let mut s = Samples::default();
    let metric = |name: &str, kind: &str| {
        format!(
            r#"{{"type":"Metric","data":{{"name":"{name}","type":"{kind}"}},"metric":"{name}"}}"#
        )
    };
    let point = |name: &str, v: f64, scenario: &str| {
        format!(
            r#"{{"metric":"{name}","type":"Point","data":{{"time":"2026-12-01T12:00:00.5Z","value":{v},"tags":{{"status":"200","scenario":"{scenario}"}}}}}}"#
        )
    };
    let mut lines = vec![
        metric("http_reqs", "counter"),
        metric("http_req_duration", "trend"),
        metric("http_req_waiting", "trend"),
        metric("http_req_failed", "rate"),
        metric("checks", "rate"),
        metric("joins", "counter"),
    ];
    for i in 1..=100 {
        let sc = if i <= 50 { "a" } else { "b" };
        lines.push(point("http_reqs", 1.0, sc));
        lines.push(point("http_req_duration", i as f64, sc));
        lines.push(point("http_req_failed", if i <= 2 { 1.0 } else { 0.0 }, sc));
        lines.push(point("checks", if i == 100 { 0.0 } else { 1.0 }, sc));
    }
    lines.push(point("joins", 7.0, "a"));
    for l in lines {
        s.feed(format!("{l}\n").as_bytes(), true);
    }
    s
}

fn t(metric: &str, expr: &str) -> Threshold {
    Threshold {
        metric: metric.into(),
        expr: expr.into(),
    }
}

#[test]
fn k6_inspects_thresholds_strings_and_objects_alike() {
    let json = r#"{"vus":2,"thresholds":{"checks":["rate==1"],"http_req_duration":["p(95)\u003c700",{"threshold":"p(99)<1200","abortOnFail":true,"delayAbortEval":null}],"http_req_duration{scenario:a}":["avg<100"]}}"#;
    assert_eq!(
        parse(json).unwrap(),
        vec![
            t("checks", "rate==1"),
            t("http_req_duration", "p(95)<700"),
            t("http_req_duration", "p(99)<1200"),
            t("http_req_duration{scenario:a}", "avg<100"),
        ]
    );
    assert_eq!(parse(r#"{"thresholds":null}"#).unwrap(), vec![]);
    assert!(parse("not json").is_err());
}

#[test]
fn each_aggregation_is_judged_on_the_samples() {
    let s = samples();
    let near = |v: Verdict, want: f64| match v {
        Verdict::Passed(x) | Verdict::Crossed(x) => {
            assert!((x - want).abs() <= want * 0.002 + 1e-9, "{x} vs {want}")
        }
        v => panic!("{v:?}"),
    };
    // k6's percentile: rank 0.95 * 99 = 94.05, between 95 and 96 ms.
    near(judge(&s, &t("http_req_duration", "p(95)<700")), 95.05);
    near(judge(&s, &t("http_req_duration", "med<700")), 50.5);
    near(judge(&s, &t("http_req_duration", "avg<700")), 50.5);
    near(judge(&s, &t("http_req_duration", "max<700")), 100.0);
    near(judge(&s, &t("http_req_duration", "min<700")), 1.0);
    near(
        judge(&s, &t("http_req_duration{scenario:a}", "max<700")),
        50.0,
    );
    assert!(matches!(
        judge(&s, &t("http_req_duration", "p(95) < 90")),
        Verdict::Crossed(_)
    ));
    assert_eq!(
        judge(&s, &t("http_req_failed", "rate<0.05")),
        Verdict::Passed(0.02)
    );
    assert_eq!(
        judge(&s, &t("http_req_failed", "rate==0")),
        Verdict::Crossed(0.02)
    );
    assert_eq!(judge(&s, &t("checks", "rate>=0.99")), Verdict::Passed(0.99));
    assert_eq!(judge(&s, &t("checks", "rate===1")), Verdict::Crossed(0.99));
    assert_eq!(judge(&s, &t("joins", "count>5")), Verdict::Passed(7.0));
    assert_eq!(
        judge(&s, &t("http_reqs", "count!=100")),
        Verdict::Crossed(100.0)
    );
}

#[test]
fn what_the_samples_do_not_keep_is_not_judged_and_fails() {
    let s = samples();
    for (m, e) in [
        ("http_req_waiting", "p(95)<100"),
        ("http_req_duration{expected_response:true}", "p(95)<100"),
        ("http_req_duration{scenario:nope}", "p(95)<100"),
        ("checks{tag:x}", "rate==1"),
        ("nothing_like_it", "count>0"),
        ("http_req_duration", "p(95)"),
        ("http_req_duration", "p(95)<soon"),
        ("checks", "count>0"),
    ] {
        assert!(
            matches!(judge(&s, &t(m, e)), Verdict::NotJudged(_)),
            "{m} {e}: {:?}",
            judge(&s, &t(m, e))
        );
    }
    let mut r = Report::new("k6", "k6");
    fill(
        &[
            t("http_req_duration", "p(95)<700"),
            t("http_req_waiting", "p(95)<1"),
        ],
        &s,
        &mut r,
    );
    assert!(!r.passed());
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("not judged on the merged samples: http_req_waiting p(95)<1")),
        "{:?}",
        r.notes
    );
}

#[test]
fn a_crossed_threshold_fails_once_with_its_merged_value() {
    let s = samples();
    let mut r = Report::new("k6", "k6");
    fill(
        &[t("http_req_duration", "p(95)<90"), t("checks", "rate>0.9")],
        &s,
        &mut r,
    );
    assert!(!r.passed());
    let crossed: Vec<_> = r.notes.iter().filter(|n| n.contains("crossed")).collect();
    assert_eq!(crossed.len(), 1, "{:?}", r.notes);
    assert!(
        crossed[0].contains("http_req_duration p(95)<90 (95.0"),
        "{crossed:?}"
    );
}
