//! The HTML page: golden for fixed data, and what must stand at its top.

use crate::junit::{Case, Outcome, Problem};

use super::{
    html::{gate_page, suite_page, Condition, GatePage, Load, Second, StagePage, TrendPoint},
    tests::sample,
    Report, Threshold,
};

fn gate_report() -> Report {
    let mut g = Report::new("gate", "Gate Report");
    g.run_stamp = "20261124T020000Z".into();
    g.started = "2026-11-24T02:00:00Z".into();
    g.ended = "2026-11-24T02:01:00Z".into();
    g.duration_ms = 60_000;
    g.git = sample().git;
    g.table(
        "Stages",
        &["Stage", "Result", "Duration", "Report"],
        vec![
            vec![
                "release-gate".into(),
                "PASS".into(),
                "5.5 s".into(),
                "-".into(),
            ],
            vec!["env-up".into(), "PASS".into(), "2.7 s".into(), "-".into()],
            vec![
                "k6-baseline".into(),
                "FAIL (p95)".into(),
                "15.2 s".into(),
                "-".into(),
            ],
            vec!["env-down".into(), "PASS".into(), "81 ms".into(), "-".into()],
            vec![
                "test-classes".into(),
                "SKIPPED (release-gate compiles them)".into(),
                "0 ms".into(),
                "-".into(),
            ],
        ],
    );
    // As the graph writes it: stages at once, the critical path a parameter.
    g.table(
        "Schedule",
        &["Stage", "Start", "End", "Duration", "Timeline", "Log"],
        vec![
            vec![
                "release-gate".into(),
                "0 ms".into(),
                "5.5 s".into(),
                "5.5 s".into(),
                "-".into(),
                "-".into(),
            ],
            vec![
                "env-up".into(),
                "10 ms".into(),
                "2.7 s".into(),
                "2.7 s".into(),
                "-".into(),
                "-".into(),
            ],
            vec![
                "k6-baseline".into(),
                "5.5 s".into(),
                "20.7 s".into(),
                "15.2 s".into(),
                "-".into(),
                "-".into(),
            ],
            vec![
                "env-down".into(),
                "20.7 s".into(),
                "20.8 s".into(),
                "81 ms".into(),
                "-".into(),
                "-".into(),
            ],
        ],
    );
    g.param("Critical path", "release-gate → k6-baseline → env-down");
    g
}

/// A gate run with a failing test, a crossed threshold and a regression.
fn failing_page() -> String {
    let mut tests = Report::new("release-gate", "Release Gate Report");
    tests.table(
        "Failing tests",
        &["Class", "Test", "Message"],
        vec![vec![
            "com.ticketrush.demo.queue.QueuePolicyTest".into(),
            "rejectsOverCapacity".into(),
            "expected:<REJECTED> but was:<WAITING>".into(),
        ]],
    );
    tests.fail("failed: QueuePolicyTest.rejectsOverCapacity");
    let mut load = sample();
    load.threshold(Threshold::check(
        "p95 latency (ms)",
        Some(1500.0),
        crate::report::Cmp::AtMost,
        1200.0,
    ));
    load.table(
        "Regression comparison",
        &["Metric", "Baseline", "Now", "Change", "Interval", "Verdict"],
        vec![vec![
            "p95 (ms)".into(),
            "40".into(),
            "80".into(),
            "+100%".into(),
            "[+90%, +110%]".into(),
            "regression".into(),
        ]],
    );
    let samples = Load {
        per_second: (1..=5)
            .map(|s| Second {
                at_s: s as f64,
                p50: 10.0,
                p95: 20.0 + s as f64,
                p99: 40.0,
                requests: 100.0,
                failed: 0.0,
            })
            .collect(),
        histogram: vec![(1.0, 10.0), (2.0, 300.0), (5.0, 120.0), (10.0, 3.0)],
    };
    gate_page(&GatePage {
        gate: &gate_report(),
        stages: vec![
            StagePage {
                name: "release-gate".into(),
                report: tests,
                load: None,
                cases: vec![
                    Case::passed(
                        "com.ticketrush.demo.queue.QueuePolicyTest",
                        "acceptsFirst",
                        0.01,
                    ),
                    Case {
                        outcome: Outcome::Failed(Problem {
                            message: "expected:<REJECTED> but was:<WAITING>".into(),
                            kind: "java.lang.AssertionError".into(),
                            text: String::new(),
                        }),
                        ..Case::passed(
                            "com.ticketrush.demo.queue.QueuePolicyTest",
                            "rejectsOverCapacity",
                            0.02,
                        )
                    },
                    Case {
                        flaky: vec![Problem {
                            message: "timed out once".into(),
                            ..Problem::default()
                        }],
                        ..Case::passed("com.ticketrush.demo.http.JsonCodecTest", "roundTrips", 0.03)
                    },
                ],
            },
            StagePage {
                name: "k6-baseline".into(),
                report: load,
                load: Some(samples),
                cases: vec![],
            },
        ],
        ready: Some(false),
        conditions: vec![
            Condition {
                name: "release-gate report".into(),
                state: "FAIL".into(),
                reason: "FAIL from 0123456789ab".into(),
            },
            Condition {
                name: "TCS-SC-027 DONE in task.md".into(),
                state: "OK".into(),
                reason: "demo/task.md holds".into(),
            },
        ],
        trend: vec![
            TrendPoint {
                stamp: "20261123T020000Z".into(),
                duration_s: 58.0,
                p95_ms: Some(40.0),
                failed_rate: Some(0.0),
                tests: Some(42.0),
            },
            TrendPoint {
                stamp: "20261124T020000Z".into(),
                duration_s: 60.0,
                p95_ms: Some(80.0),
                failed_rate: Some(0.01),
                tests: Some(42.0),
            },
        ],
    })
}

#[test]
fn the_gate_page_matches_the_golden_file() {
    let html = failing_page();
    let golden_path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/gate.html");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(golden_path, &html).unwrap();
    }
    let golden =
        std::fs::read_to_string(golden_path).expect("golden file (UPDATE_GOLDEN=1 writes it)");
    assert!(
        html == golden,
        "the gate page changed; review it and rerun with UPDATE_GOLDEN=1"
    );
}

#[test]
fn a_failing_test_a_crossed_threshold_and_a_regression_stand_at_the_top() {
    let html = failing_page();
    let attention = html.find("Needs attention").expect("an attention section");
    let stages = html.find("<h2>Stages</h2>").unwrap();
    for kind in ["condition", "failing-test", "threshold", "regression"] {
        let at = html
            .find(&format!("data-attention=\"{kind}\""))
            .unwrap_or_else(|| panic!("no {kind} in the attention list"));
        assert!(attention < at && at < stages, "{kind} is not at the top");
    }
    assert!(html.find("data-ready=\"NOT READY\"").unwrap() < attention);
}

#[test]
fn every_test_case_is_listed_with_its_outcome() {
    let html = failing_page();
    assert!(html.contains("data-stage-tests=\"release-gate\""));
    assert!(html.contains("<td>rejectsOverCapacity</td>"));
    assert!(
        html.contains("✘ FAIL</span></td><td>expected:&lt;REJECTED&gt; but was:&lt;WAITING&gt;")
    );
    assert!(html.contains("<td>roundTrips</td>"));
    assert!(html.contains("FLAKY</span></td><td>passed on a rerun after: timed out once"));
}

#[test]
fn the_page_needs_nothing_from_outside() {
    let html = failing_page();
    for outside in [
        "<script", "<link", "<img", "@import", "url(", " src=", " href=",
    ] {
        assert!(
            !html.contains(outside),
            "the page refers to something outside: {outside}"
        );
    }
    assert!(html.contains("Content-Security-Policy\" content=\"default-src 'none'"));
}

#[test]
fn report_text_cannot_become_markup() {
    let mut r = sample();
    r.note("<img src=x onerror=alert(1)> \u{1b}[31mred\u{1b}[0m");
    let html = suite_page(&r, None);
    assert!(!html.contains("<img"));
    assert!(!html.contains('\u{1b}'));
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt; [31mred[0m"));
}

#[test]
fn charts_are_drawn_from_known_tables_with_their_data() {
    let html = failing_page();
    assert!(html.contains("data-chart=\"timeline\""));
    // Stages at once share the time axis; the critical path is outlined.
    assert!(html.contains(
        "class=\"span pass\" data-stage=\"env-up\" data-start-ms=\"10\" data-end-ms=\"2700\""
    ));
    assert!(html.contains(
        "class=\"span fail critical\" data-stage=\"k6-baseline\" data-start-ms=\"5500\""
    ));
    assert!(html.contains("data-stage=\"k6-baseline\""));
    assert!(html.contains("data-series=\"p95\" data-points=\"1,21 2,22 3,23 4,24 5,25\""));
    assert!(html.contains("<title>Requests per replica</title>"));
    assert!(html.contains("<title>p95 latency</title>"));
    assert!(html.contains("<title>Latency histogram (all requests)</title>"));
    assert!(html.contains("data-label=\"≤2\" data-value=\"300\""));
}
