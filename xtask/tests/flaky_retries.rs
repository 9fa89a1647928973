//! Flaky tests, end to end with the real Gradle on the demo: with
//! `DEMO_FLAKY_ONCE` (the demo's switch for this test only)
//! `QueuePolicyTest.firstUsersAreActive` fails once, then passes. With
//! retries the failed class alone runs again, the test is FLAKY in the
//! report and in the JUnit (`flakyFailure`), and the gate's JUnit lists
//! every test case; with `fail_on_flaky` the suite fails.
//!
//! Runs the gate: `flock /tmp/xtask-e2e.lock cargo test -p xtask --test flaky_retries`.

mod common;

use common::*;

const CLASSES: [&str; 2] = [
    "com.ticketrush.demo.queue.QueuePolicyTest",
    "com.ticketrush.demo.http.JsonCodecTest",
];

fn config(extra: &str) -> String {
    let classes = CLASSES.map(|c| format!("\"{c}\"")).join(", ");
    format!(
        "[project]\nservice_dir = \"{}\"\n\n[gradle]\noffline = true\ntimeout = \"5m\"\n{extra}\n\
         [release_gate]\nclasses = [{classes}]\n\n[gate]\nrequired = [\"release-gate\"]\n",
        root().join("demo").display()
    )
}

fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn a_test_passing_on_rerun_is_flaky_in_the_report_and_the_gates_junit() {
    let dir = TempDir::new("flaky-gate");
    let _demo = serial();
    let run = Xtask::new(&dir, &config("retries = 1"))
        .args(["gate", "--only", "release-gate", "--no-setup"])
        .env("DEMO_FLAKY_ONCE", dir.join("flaked"))
        .run();
    assert_eq!(run.code, 0, "{}", run.show());
    let (md, json) = latest(&dir, "release-gate");
    assert!(
        md.starts_with("# ") && md.contains("- Result: PASS"),
        "{md}"
    );
    assert!(md.contains("## Flaky tests"), "{md}");
    assert!(
        md.contains("FLAKY: QueuePolicyTest.firstUsersAreActive failed (java.lang.AssertionError: DEMO_FLAKY_ONCE: deliberate failure, this time only), then passed on a rerun"),
        "{md}"
    );
    assert!(
        md.contains("- Gradle runs: 2 (reruns of the failed classes)"),
        "{md}"
    );
    assert_eq!(metric(&json, "flaky"), Some(1.0));
    assert_eq!(metric(&json, "failures"), Some(0.0));
    // The rerun asked for the failed class only.
    let steps = json["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2, "{steps:?}");
    let rerun: Vec<&str> = steps[1]["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(rerun.ends_with(&["--tests", CLASSES[0]]), "{rerun:?}");

    let junit = read(&dir.join("reports/gate/latest/gate-junit.xml"));
    assert!(
        junit.contains(r#"<testcase classname="com.ticketrush.demo.queue.QueuePolicyTest" name="firstUsersAreActive""#),
        "{junit}"
    );
    assert!(
        junit.contains(r#"<flakyFailure message="java.lang.AssertionError: DEMO_FLAKY_ONCE: deliberate failure, this time only" type="java.lang.AssertionError">"#),
        "{junit}"
    );
    // Every Gradle test case, not only the stages.
    for case in [
        "parsesFlatObject",
        "parsesStringEscapes",
        "usersAfterActiveLimitWait",
    ] {
        assert!(
            junit.contains(&format!("name=\"{case}\"")),
            "{case}: {junit}"
        );
    }
    assert!(
        junit.contains(r#"<testsuite name="gate" tests=""#),
        "{junit}"
    );
    assert!(
        junit.contains(
            r#"<testsuite name="release-gate: com.ticketrush.demo.queue.QueuePolicyTest""#
        ),
        "{junit}"
    );
    assert!(junit.contains(r#"flaky="1""#), "{junit}");
    let mut r = quick_xml::Reader::from_str(&junit);
    while r.read_event().unwrap() != quick_xml::events::Event::Eof {}
}

#[test]
fn with_fail_on_flaky_a_flaky_test_fails_the_suite() {
    let dir = TempDir::new("flaky-fail");
    let _demo = serial();
    let run = Xtask::new(&dir, &config("fail_on_flaky = true"))
        .args(["release-gate", "--retries", "2", "--tests", CLASSES[0]])
        .env("DEMO_FLAKY_ONCE", dir.join("flaked"))
        .run();
    assert_eq!(run.code, 1, "{}", run.show());
    let (md, json) = latest(&dir, "release-gate");
    assert!(md.contains("- Result: FAIL"), "{md}");
    assert!(
        md.contains("then passed on a rerun; fail_on_flaky fails the suite"),
        "{md}"
    );
    assert_eq!(metric(&json, "flaky"), Some(1.0));
    assert_eq!(
        json["steps"].as_array().unwrap().len(),
        2,
        "one rerun was enough"
    );
    let junit = json["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "junit")
        .expect("the suite's own JUnit");
    let xml = read(&root().join(junit["path"].as_str().unwrap()));
    assert!(xml.contains("<flakyFailure"), "{xml}");
}
