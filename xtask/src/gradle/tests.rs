//! Unit tests of `gradle`: real Gradle JUnit XML read into counts, the one invocation,
//! and every FAIL explained (failing test, no tests found, timeout, compile error, filter).

use super::*;
use crate::{
    config::Config,
    report::{Layout, Verdict},
    runner::{Runner, Verbosity},
};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/junit");

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap()
}

fn tmpdir(name: &str) -> Utf8PathBuf {
    let d = Utf8PathBuf::from_path_buf(std::env::temp_dir())
        .unwrap()
        .join(format!("xtask-gradle-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn ctx(root: &Utf8Path, toml: &str) -> Ctx {
    Ctx {
        root: root.to_owned(),
        config: Config::parse(Utf8Path::new("xtask.toml"), toml).unwrap(),
        config_path: root.join("xtask.toml"),
        runner: Runner::new(root.to_owned(), false, Verbosity::Quiet),
        layout: Layout::new(root.to_owned(), root.join("reports")),
    }
}

fn record(outcome: Outcome) -> StepRecord {
    StepRecord {
        name: "gradle".into(),
        argv: vec!["gradle".into()],
        outcome,
        duration_ms: 5000,
        log: None,
    }
}

#[test]
fn passing_class_is_counted_from_real_gradle_xml() {
    let suites = parse_junit_xml(&fixture("TEST-pass.xml")).unwrap();
    assert_eq!(suites.len(), 1);
    let (class, failed) = &suites[0];
    assert_eq!(
        *class,
        ClassResult {
            class: "com.ticketrush.demo.queue.QueuePolicyTest".into(),
            tests: 8,
            failures: 0,
            errors: 0,
            skipped: 0,
            time_s: 0.02,
        }
    );
    assert!(failed.is_empty());
}

#[test]
fn failing_test_is_named_with_the_first_line_of_its_message() {
    let suites = parse_junit_xml(&fixture("TEST-fail.xml")).unwrap();
    let (class, failed) = &suites[0];
    assert_eq!((class.tests, class.failures), (8, 1));
    assert_eq!(
        failed,
        &[FailedTest {
            class: "com.ticketrush.demo.queue.QueuePolicyTest".into(),
            name: "firstUsersAreActive".into(),
            message: "java.lang.AssertionError: DEMO_FAIL_TEST=1: deliberate failure".into(),
        }]
    );
}

#[test]
fn failure_without_a_message_attribute_uses_the_first_line_of_its_text() {
    let xml = fixture("TEST-fail.xml").replace(
        "message=\"java.lang.AssertionError: DEMO_FAIL_TEST=1: deliberate failure\" ",
        "",
    );
    let (_, failed) = &parse_junit_xml(&xml).unwrap()[0];
    assert_eq!(
        failed[0].message,
        "java.lang.AssertionError: DEMO_FAIL_TEST=1: deliberate failure"
    );
}

#[test]
fn escaped_text_is_unescaped() {
    let xml = r#"<testsuite name="A" tests="1" failures="0" errors="1" skipped="0" time="1.5">
  <testcase name="t" classname="A"><error type="X">&lt;boom&gt; &#x26; more
at A.t</error></testcase>
</testsuite>"#;
    let (class, failed) = &parse_junit_xml(xml).unwrap()[0];
    assert_eq!((class.errors, class.time_s), (1, 1.5));
    assert_eq!(failed[0].message, "<boom> & more");
}

#[test]
fn missing_counts_are_taken_from_the_test_cases() {
    let xml = r#"<testsuites><testsuite name="A">
  <testcase name="ok" classname="A"/>
  <testcase name="bad" classname="A"><failure message="no"/></testcase>
  <testcase name="later" classname="A"><skipped/></testcase>
</testsuite></testsuites>"#;
    let (class, failed) = &parse_junit_xml(xml).unwrap()[0];
    assert_eq!(
        (class.tests, class.failures, class.errors, class.skipped),
        (3, 1, 0, 1)
    );
    assert_eq!(failed[0].name, "bad");
}

#[test]
fn a_file_cut_short_is_an_error_not_a_pass() {
    let xml = fixture("TEST-pass.xml");
    let cut = &xml[..xml.len() / 2];
    let e = parse_junit_xml(cut).unwrap_err();
    assert!(format!("{e:#}").contains("ends early") || format!("{e:#}").contains("malformed"));
    assert!(parse_junit_xml("not xml at all").is_err());
}

#[test]
fn a_results_folder_is_read_whole_and_bad_files_are_listed() {
    let d = tmpdir("read");
    for f in std::fs::read_dir(format!("{FIXTURES}/release-gate-pass")).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, d.join(f.file_name().unwrap().to_str().unwrap())).unwrap();
    }
    std::fs::write(d.join("TEST-Broken.xml"), "<testsuite name=\"B\">").unwrap();
    std::fs::write(d.join("not-a-result.txt"), "ignored").unwrap();
    let r = TestResults::read(&d);
    assert_eq!(r.classes.len(), 3);
    assert_eq!(
        (r.tests(), r.failures(), r.errors(), r.skipped()),
        (24, 0, 0, 0)
    );
    assert_eq!(r.unreadable.len(), 1);
    assert!(
        r.unreadable[0].starts_with("TEST-Broken.xml: "),
        "{:?}",
        r.unreadable
    );
    let none = TestResults::read(&d.join("absent"));
    assert!(none.classes.is_empty() && none.unreadable.is_empty());
}

#[test]
fn gradles_no_tests_found_line_names_the_filters() {
    // Gradle 4.4.1's words, from a real run with --tests com.example.DoesNotExist.
    let out = "* What went wrong:\nExecution failed for task ':test'.\n> No tests found for given includes: [com.example.DoesNotExist](--tests filter) \n";
    assert_eq!(
        no_tests_found(out),
        Some(vec!["com.example.DoesNotExist".to_string()])
    );
    assert_eq!(
        no_tests_found("> No tests found for given includes: [a.B, c.D]"),
        Some(vec!["a.B".to_string(), "c.D".to_string()])
    );
    assert_eq!(no_tests_found("BUILD SUCCESSFUL in 3s"), None);
}

#[test]
fn filters_match_classes_methods_wildcards_and_simple_names() {
    let c = "com.ticketrush.demo.queue.QueuePolicyTest";
    assert!(filter_matches(c, c));
    assert!(filter_matches(&format!("{c}.firstUsersAreActive"), c));
    assert!(filter_matches("*PolicyTest", c));
    assert!(filter_matches("com.ticketrush.demo.*", c));
    assert!(filter_matches("QueuePolicyTest", c));
    assert!(filter_matches("QueuePolicyTest.firstUsersAreActive", c));
    assert!(!filter_matches("com.example.DoesNotExist", c));
    assert!(!filter_matches("*IntegrationTest", c));
    assert!(!filter_matches("com.ticketrush.demo.queue.QueuePolicy", c));
}

#[test]
fn one_invocation_compiles_and_runs_the_selected_classes() {
    let root = tmpdir("plan");
    let c = ctx(
        &root,
        "[project]\nservice_dir = \"svc\"\n[gradle]\noffline = true\nextra_args = [\"--stacktrace\"]\ntimeout = \"7m\"\n",
    );
    let s = step(
        &c,
        &GradleOpts {
            classes: vec!["a.A".into(), "b.B".into()],
            env: vec![("TCS_API_URL".into(), "http://127.0.0.1:20080".into())],
            daemon: false,
            timeout: None,
        },
    );
    assert_eq!(s.program, "gradle");
    let init = root.join(".gradle-build-cache/xtask-build-cache.gradle");
    assert_eq!(
        s.args,
        [
            "--no-daemon",
            "--offline",
            "--build-cache",
            "--init-script",
            init.as_str(),
            "--stacktrace",
            "compileJava",
            "compileTestJava",
            "test",
            "--tests",
            "a.A",
            "--tests",
            "b.B"
        ]
    );
    assert_eq!(s.cwd.as_deref(), Some(root.join("svc").as_path()));
    assert_eq!(s.deadline, std::time::Duration::from_secs(420));
    assert_eq!(
        s.env,
        [(
            "TCS_API_URL".to_string(),
            "http://127.0.0.1:20080".to_string()
        )]
    );
}

#[test]
fn the_wrapper_wins_then_the_configured_command_and_daemon_on_request() {
    let root = tmpdir("wrapper");
    std::fs::create_dir_all(root.join("svc")).unwrap();
    let c = ctx(
        &root,
        "[project]\nservice_dir = \"svc\"\n[gradle]\ncommand = \"/opt/gradle/bin/gradle\"\n",
    );
    let opts = GradleOpts {
        daemon: true,
        timeout: Some(crate::units::NonZeroDuration::secs(9)),
        ..GradleOpts::default()
    };
    let s = step(&c, &opts);
    assert_eq!(
        (s.program.as_str(), s.args[0].as_str()),
        ("/opt/gradle/bin/gradle", "--daemon")
    );
    assert_eq!(s.deadline, std::time::Duration::from_secs(9));
    std::fs::write(root.join("svc/gradlew"), "#!/bin/sh\n").unwrap();
    let c = ctx(&root, "[project]\nservice_dir = \"svc\"\n");
    assert_eq!(step(&c, &opts).program, "./gradlew");
}

fn failing_run() -> GradleRun {
    let mut results = TestResults::default();
    let (class, failed) = parse_junit_xml(&fixture("TEST-fail.xml"))
        .unwrap()
        .remove(0);
    results.classes.push(class);
    results.failed = failed;
    GradleRun {
        step: record(Outcome::Exited { code: 1 }),
        results,
        classes: vec!["com.ticketrush.demo.queue.QueuePolicyTest".into()],
        no_tests_found: None,
    }
}

#[test]
fn a_failing_test_fails_the_report_with_counts_tables_and_its_name() {
    let mut r = Report::new("release-gate", "Release Gate Report");
    failing_run().add_to(&mut r);
    assert_eq!(r.result, Verdict::Fail);
    let metric = |n: &str| r.metrics.iter().find(|m| m.name == n).unwrap().value;
    assert_eq!(
        (
            metric("tests"),
            metric("failures"),
            metric("errors"),
            metric("skipped")
        ),
        (Some(8.0), Some(1.0), Some(0.0), Some(0.0))
    );
    assert_eq!(r.tables[0].title, "Test classes");
    assert_eq!(
        r.tables[0].rows[0][..3],
        ["com.ticketrush.demo.queue.QueuePolicyTest", "8", "1"]
    );
    assert_eq!(r.tables[1].title, "Failing tests");
    assert_eq!(r.tables[1].rows[0][1], "firstUsersAreActive");
    assert_eq!(
        r.notes,
        ["failed: QueuePolicyTest.firstUsersAreActive: java.lang.AssertionError: DEMO_FAIL_TEST=1: deliberate failure"]
    );
}

#[test]
fn no_tests_found_and_timeouts_say_so() {
    let mut run = failing_run();
    run.results = TestResults::default();
    run.classes = vec!["com.example.DoesNotExist".into()];
    run.no_tests_found = Some(vec!["com.example.DoesNotExist".into()]);
    let mut r = Report::new("release-gate", "Release Gate Report");
    run.add_to(&mut r);
    assert_eq!(r.result, Verdict::Fail);
    assert_eq!(
        r.notes,
        ["Gradle found no tests for the given includes: com.example.DoesNotExist; check the class names"]
    );

    run.no_tests_found = None;
    run.step = record(Outcome::TimedOut { after_ms: 90_000 });
    let mut r = Report::new("release-gate", "Release Gate Report");
    run.add_to(&mut r);
    assert_eq!(r.result, Verdict::Fail);
    assert!(
        r.notes[0].starts_with("Gradle timed out after 90s"),
        "{:?}",
        r.notes
    );
}

#[test]
fn a_filter_that_matched_nothing_fails_even_when_gradle_passed() {
    // Gradle is silent when one of several filters matches nothing.
    let mut results = TestResults::default();
    results.classes.push(
        parse_junit_xml(&fixture("TEST-pass.xml"))
            .unwrap()
            .remove(0)
            .0,
    );
    let run = GradleRun {
        step: record(Outcome::Exited { code: 0 }),
        results,
        classes: vec![
            "com.ticketrush.demo.queue.QueuePolicyTest".into(),
            "com.example.Typo".into(),
        ],
        no_tests_found: None,
    };
    let mut r = Report::new("release-gate", "Release Gate Report");
    run.add_to(&mut r);
    assert_eq!(r.result, Verdict::Fail);
    assert_eq!(
        r.notes,
        ["no test ran for `com.example.Typo`: no test class matched it; check the name"]
    );
}

#[test]
fn a_compile_failure_is_explained() {
    let run = GradleRun {
        step: record(Outcome::Exited { code: 1 }),
        results: TestResults::default(),
        classes: vec!["a.A".into()],
        no_tests_found: None,
    };
    let mut r = Report::new("release-gate", "Release Gate Report");
    run.add_to(&mut r);
    assert_eq!(
        r.notes,
        ["Gradle failed (exit 1) before any test result was written: see the log (a compile error?)"]
    );
}

#[test]
fn results_older_than_the_run_or_that_are_fifos_are_not_its_results() {
    let d = tmpdir("since");
    let pass = fixture("TEST-pass.xml");
    std::fs::write(d.join("TEST-Fresh.xml"), &pass).unwrap();
    std::fs::write(
        d.join("TEST-Stale.xml"),
        pass.replace("name=\"", "name=\"Stale"),
    )
    .unwrap();
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(d.join("TEST-Stale.xml"))
        .unwrap()
        .set_modified(hour_ago)
        .unwrap();
    let started = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
    let r = TestResults::read_since(&d, started);
    assert!(
        r.classes.iter().all(|c| !c.class.starts_with("Stale")),
        "{:?}",
        r.classes
    );
    assert_eq!(r.classes.len(), TestResults::read(&d).classes.len() / 2);
    // Another run's FIFO in the folder: listed as unreadable, never a hang.
    let fifo = std::ffi::CString::new(d.join("TEST-Fifo.xml").as_str()).unwrap();
    // SAFETY: a plain syscall on a valid C string.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    let r = TestResults::read_since(&d, started);
    assert!(
        r.unreadable.iter().any(|u| u.contains("named pipe")),
        "{:?}",
        r.unreadable
    );
}
