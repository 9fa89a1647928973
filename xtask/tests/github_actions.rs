//! On GitHub Actions (`GITHUB_ACTIONS=true`): one `::group::` per step, an
//! escaped `::error::` per failure note, the report in the job summary.

mod common;

use common::{stand_in, TempDir, Xtask};

#[test]
fn a_failing_suite_groups_its_steps_annotates_and_writes_the_job_summary() {
    let dir = TempDir::new("gha");
    // A stand-in Gradle that fails at once (a real one cannot fail on demand
    // without a broken project).
    let gradle = stand_in(
        dir.path(),
        "gradle",
        "echo 'compilation failed: 50% done'\nexit 1\n",
    );
    let summary = dir.join("step-summary.md");
    let config = format!(
        "[project]\nservice_dir = \"{}\"\n[gradle]\ncommand = \"{}\"\n[release_gate]\nclasses = [\"com.example.A\"]\n",
        // Its own service folder: the other test runs release-gate on the
        // demo at the same time, and one service's suite runs once at a time.
        dir.path().display(),
        gradle.display()
    );
    let run = Xtask::new(&dir, &config)
        .args(["release-gate"])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .run();
    assert_eq!(run.code, 1, "{}", run.show());
    let out = run.stdout;
    assert_eq!(out.matches("::group::").count(), 1, "{out}");
    assert_eq!(out.matches("::endgroup::").count(), 1, "{out}");
    let errors: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("::error title=release-gate FAIL::"))
        .collect();
    assert!(!errors.is_empty() && errors.len() <= 10, "{out}");
    assert!(errors.iter().all(|l| !l.contains('\r')), "{out}");
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains("- Result: FAIL"), "{md}");
    assert!(
        md.contains("release-gate-latest.html` in the uploaded"),
        "the summary links the page: {md}"
    );
}

#[test]
fn integration_classes_fail_clearly_without_an_environment() {
    // The demo's integration tests need TCS_API_URL: without an environment
    // they FAIL (never skip) and say how to get one. (xtask() clears the
    // caller's TCS_ variables.)
    let dir = TempDir::new("no-env");
    let config = "[project]\nservice_dir = \"demo\"\n[gradle]\noffline = true\n[release_gate]\nclasses = [\"com.ticketrush.demo.ConcertApiIntegrationTest\"]\n";
    let run = Xtask::new(&dir, config).args(["release-gate"]).run();
    assert_eq!(run.code, 1, "{}", run.show());
    let (md, _) = common::latest(&dir, "release-gate");
    assert!(md.contains("TCS_API_URL is not set"), "{md}");
}
