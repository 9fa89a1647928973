//! `cargo xtask release-gate` end to end, with the real Gradle on the demo
//! service (about 5-10 s per Gradle run: three runs in all). The Gradle
//! runs share demo/build: they run one at a time (`serial()`).

mod common;

use common::*;

const CLASSES: [&str; 3] = [
    "com.ticketrush.demo.architecture.LayerDependencyArchTest",
    "com.ticketrush.demo.queue.QueuePolicyTest",
    "com.ticketrush.demo.http.JsonCodecTest",
];

fn config(extra: &str) -> String {
    let demo = root().join("demo");
    let classes = CLASSES.map(|c| format!("\"{c}\"")).join(", ");
    format!(
        "[project]\nservice_dir = \"{}\"\n\n[gradle]\noffline = true\ntimeout = \"5m\"\n\n[release_gate]\nclasses = [{classes}]\n{extra}",
        demo.display()
    )
}

#[test]
fn release_gate_passes_on_the_demo_with_counts_and_api_scripts() {
    let dir = TempDir::new("rg-pass");
    let api = stub_api(listen_from(20100));
    // One API script of the service's kind; the caller's API_HOST reaches it.
    let scripts = dir.join("scripts/api");
    std::fs::create_dir_all(&scripts).unwrap();
    std::fs::write(
        scripts.join("v1-smoke.sh"),
        "test \"$API_HOST\" = http://caller.invalid:1 && echo smoke ok\n",
    )
    .unwrap();
    let extra = format!(
        "[api_scripts]\ndir = \"{}\"\nhealth_url = \"http://127.0.0.1:{api}/api/concerts\"\n",
        scripts.display()
    );
    let copy = dir.join("legacy-copy.md");
    let _demo = serial();
    let run = Xtask::new(&dir, &config(&extra))
        .args(["release-gate"])
        .env("RELEASE_GATE_WITH_API_SCRIPTS", "true")
        .env("API_HOST", "http://caller.invalid:1")
        .env("RELEASE_GATE_RUN_STAMP", "20261124T101500Z")
        .env("RELEASE_GATE_REPORT_FILE", &copy)
        .run();
    assert_eq!(run.code, 0, "{}", run.show());
    let (md, json) = latest(&dir, "release-gate");
    assert_eq!(
        md.lines().find(|l| l.starts_with("- ")),
        Some("- Result: PASS")
    );
    assert!(md.contains("- API scripts included: yes"), "{md}");
    assert!(
        md.contains(&format!("- Test classes: {}", CLASSES.join(", "))),
        "{md}"
    );
    assert!(md.contains("- Log: "), "{md}");
    assert_eq!(
        (
            metric(&json, "tests"),
            metric(&json, "failures"),
            metric(&json, "errors"),
            metric(&json, "skipped")
        ),
        (Some(24.0), Some(0.0), Some(0.0), Some(0.0))
    );
    let classes = table(&json, "Test classes");
    let counts: Vec<(&str, &str)> = classes
        .iter()
        .map(|r| (r[0].as_str(), r[1].as_str()))
        .collect();
    assert_eq!(
        counts,
        [
            (
                "com.ticketrush.demo.architecture.LayerDependencyArchTest",
                "4"
            ),
            ("com.ticketrush.demo.http.JsonCodecTest", "12"),
            ("com.ticketrush.demo.queue.QueuePolicyTest", "8"),
        ]
    );
    // The API script suite ran as its own suite, PASS.
    assert!(
        md.contains("- API script suite: PASS (1 passed, 0 failed, 0 skipped;"),
        "{md}"
    );
    let (api_md, _) = latest(&dir, "api-scripts");
    assert!(api_md.contains("| v1-smoke.sh | PASS | 0 |"), "{api_md}");
    // One Gradle run compiles and tests.
    let steps: Vec<&str> = json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["gradle"]);
    let argv: Vec<&str> = json["steps"][0]["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(argv[1..3], ["--no-daemon", "--offline"], "{argv:?}");
    // Compile and test in the one run (the build-cache options may sit between).
    assert!(
        argv.windows(3)
            .any(|w| w == ["compileJava", "compileTestJava", "test"]),
        "{argv:?}"
    );
    // The legacy variables: run stamp, extra report copy.
    assert_eq!(json["run_stamp"], "20261124T101500Z");
    assert_eq!(std::fs::read_to_string(&copy).unwrap(), md);
    let log = dir.join("reports/release-gate/20261124T101500Z/release-gate.log");
    let log = std::fs::read_to_string(log).unwrap();
    assert!(log.contains("BUILD SUCCESSFUL"), "{log}");
    // The API script has its own log, named in the suite's table.
    let (_, api_json) = latest(&dir, "api-scripts");
    let script_log = &table(&api_json, "Execution Matrix")[0][4];
    let script_log = std::fs::read_to_string(root().join(script_log)).unwrap();
    assert!(script_log.contains("smoke ok"), "{script_log}");
}

#[test]
fn a_failing_test_is_named_with_its_message() {
    let dir = TempDir::new("rg-fail");
    let _demo = serial();
    let run = Xtask::new(&dir, &config(""))
        .args([
            "release-gate",
            "--tests",
            "com.ticketrush.demo.queue.QueuePolicyTest",
        ])
        .env("DEMO_FAIL_TEST", "1")
        .run();
    assert_eq!(run.code, 1, "{}", run.show());
    let (md, json) = latest(&dir, "release-gate");
    assert!(md.contains("- Result: FAIL"), "{md}");
    assert_eq!(
        (metric(&json, "tests"), metric(&json, "failures")),
        (Some(8.0), Some(1.0))
    );
    assert_eq!(
        table(&json, "Failing tests"),
        [[
            "com.ticketrush.demo.queue.QueuePolicyTest",
            "firstUsersAreActive",
            "java.lang.AssertionError: DEMO_FAIL_TEST=1: deliberate failure"
        ]]
    );
    let want = "failed: QueuePolicyTest.firstUsersAreActive: java.lang.AssertionError: DEMO_FAIL_TEST=1: deliberate failure";
    assert_eq!(notes(&json), [want]);
    assert!(run.stderr.contains(want), "{}", run.show());
}

#[test]
fn an_unknown_class_fails_with_gradles_no_tests_found() {
    let dir = TempDir::new("rg-none");
    let _demo = serial();
    let run = Xtask::new(&dir, &config(""))
        .args(["release-gate", "--tests", "com.example.DoesNotExist"])
        .run();
    assert_eq!(run.code, 1, "{}", run.show());
    let (md, json) = latest(&dir, "release-gate");
    assert!(md.contains("- Result: FAIL"), "{md}");
    assert!(md.contains("- API scripts included: no"), "{md}");
    assert_eq!(
        notes(&json),
        ["Gradle found no tests for the given includes: com.example.DoesNotExist; check the class names"]
    );
    assert_eq!(metric(&json, "tests"), Some(0.0));
}

/// A hung build cannot be had on demand from the real Gradle: a stand-in
/// that never finishes.
#[test]
fn gradle_killed_at_its_deadline_fails_saying_so() {
    let dir = TempDir::new("rg-timeout");
    let fake = stand_in(dir.path(), "fake-gradle", "echo hanging\nexec sleep 300\n");
    let svc = dir.join("svc");
    std::fs::create_dir_all(&svc).unwrap();
    let cfg = format!(
        "[project]\nservice_dir = \"{}\"\n[gradle]\ncommand = \"{}\"\n[release_gate]\nclasses = [\"a.A\"]\n",
        svc.display(),
        fake.display()
    );
    let run = Xtask::new(&dir, &cfg)
        .args(["release-gate", "--timeout", "1s"])
        .run();
    assert_eq!(run.code, 124, "{}", run.show());
    let (_, json) = latest(&dir, "release-gate");
    assert_eq!(json["result"], "FAIL");
    assert_eq!(json["steps"][0]["outcome"], "timed out after 1s");
    assert!(
        notes(&json)[0].starts_with("Gradle timed out after 1s"),
        "{:?}",
        notes(&json)
    );
}

#[test]
fn api_scripts_asked_for_but_not_configured_is_a_one_line_error_and_no_report() {
    let dir = TempDir::new("rg-noscripts");
    let missing = dir.join("no-such-scripts");
    let extra = format!("[api_scripts]\ndir = \"{}\"\n", missing.display());
    let run = Xtask::new(&dir, &config(&extra))
        .args(["release-gate", "--with-api-scripts"])
        .run();
    assert_eq!(run.code, 1, "{}", run.show());
    let err = run.stderr;
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("no-such-scripts does not exist: set [api_scripts].dir"),
        "{err}"
    );
    assert!(!dir.join("reports/release-gate/latest").exists());
}

#[test]
fn dry_run_prints_the_single_gradle_command() {
    let dir = TempDir::new("rg-dry");
    let run = Xtask::new(&dir, &config(""))
        .args(["--dry-run", "release-gate"])
        .run();
    assert_eq!(run.code, 0, "{}", run.show());
    // One command: the options (the build cache's among them), then
    // compile and the classes.
    let line = run
        .stdout
        .lines()
        .find(|l| l.contains("gradle --no-daemon --offline "))
        .unwrap_or_else(|| panic!("no Gradle command: {}", run.show()));
    let want = format!(
        "compileJava compileTestJava test --tests {} --tests {} --tests {}",
        CLASSES[0], CLASSES[1], CLASSES[2]
    );
    assert!(line.ends_with(&want), "{}", run.show());
    assert_eq!(
        run.stdout.matches("gradle --no-daemon").count(),
        1,
        "{}",
        run.show()
    );
    assert!(!dir.join("reports").exists());
}

#[test]
fn dry_run_with_api_scripts_shows_the_suite_and_probes_nothing() {
    let dir = TempDir::new("rg-dry-api");
    let scripts = dir.join("scripts/api");
    std::fs::create_dir_all(&scripts).unwrap();
    std::fs::write(scripts.join("v1-smoke.sh"), "exit 0\n").unwrap();
    // Nothing listens on this URL's port while the test holds it.
    let held = listen_from(20150);
    let port = held.local_addr().unwrap().port();
    let extra = format!(
        "[api_scripts]\ndir = \"{}\"\nhealth_url = \"http://127.0.0.1:{port}/api/concerts\"\n",
        scripts.display()
    );
    let run = Xtask::new(&dir, &config(&extra))
        .args(["--dry-run", "release-gate", "--with-api-scripts"])
        .run();
    assert_eq!(run.code, 0, "{}", run.show());
    assert!(
        run.stdout.contains(&format!(
            "[dry-run] probe GET http://127.0.0.1:{port}/api/concerts"
        )),
        "{}",
        run.show()
    );
    assert!(
        run.stdout
            .contains(&format!("bash {}", scripts.join("v1-smoke.sh").display())),
        "the script is shown, not dropped: {}",
        run.show()
    );
    assert!(!dir.join("reports").exists());
    drop(held);
}
