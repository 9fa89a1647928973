//! The old script names still work: each file in scripts-legacy/ reaches its
//! `cargo xtask` subcommand, from any folder, with the arguments passed on;
//! and every wrapper is shellcheck-clean.

mod common;

use std::{path::PathBuf, process::Command};

use common::{root, TempDir};

/// Script name, the subcommand it runs, and the suite that subcommand reports
/// as (what a built subcommand prints for `--dry-run`).
const WRAPPERS: &[(&str, &str, &str)] = &[
    (
        "run-runtime-integration-tests.sh",
        "integration",
        "integration",
    ),
    ("run-release-gate.sh", "release-gate", "release-gate"),
    ("run-k6-waiting-queue.sh", "k6 run", "k6"),
    ("run-k6-baseline.sh", "k6 baseline", "k6-baseline"),
    (
        "run-k6-waiting-queue-distributed.sh",
        "k6 distributed",
        "k6-distributed",
    ),
    (
        "runtime-health-check.sh",
        "ops health",
        "runtime-health-check",
    ),
    (
        "collect-runtime-monitor-snapshot.sh",
        "ops monitor",
        "runtime-monitor-snapshot",
    ),
    ("run-api-script-tests.sh", "api-scripts", "api-scripts"),
];

fn wrappers_dir() -> PathBuf {
    root().join("scripts-legacy")
}

#[test]
fn there_is_one_wrapper_per_legacy_script_and_no_other() {
    let mut found: Vec<String> = std::fs::read_dir(wrappers_dir())
        .expect("scripts-legacy/ exists")
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    found.sort();
    let mut want: Vec<String> = WRAPPERS.iter().map(|w| w.0.to_string()).collect();
    want.sort();
    assert_eq!(found, want);
}

#[test]
fn each_wrapper_reaches_its_subcommand_from_any_folder() {
    // Run from a folder outside the repository, with the arguments the
    // wrapper must pass on; a dry run writes nothing into the reports folder.
    let elsewhere = TempDir::new("legacy-wrappers-cwd");
    let reports = TempDir::new("legacy-wrappers-reports");
    for (script, sub, suite) in WRAPPERS {
        let out = Command::new(wrappers_dir().join(script))
            .args(["--dry-run", "--reports-dir"])
            .arg(reports.path())
            .current_dir(elsewhere.path())
            .env_remove("XTASK_CONFIG")
            .output()
            .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let code = out.status.code();
        // The dry-run plan, closed by the suite's "dry run" line.
        let planned = code == Some(0) && text.contains(&format!("{suite}: dry run"));
        assert!(
            planned,
            "{script} did not reach `cargo xtask {sub}` (exit {code:?}):\n{text}"
        );
    }
    let written: Vec<_> = std::fs::read_dir(reports.path()).unwrap().collect();
    assert!(
        written.is_empty(),
        "a dry run wrote into the reports folder: {written:?}"
    );
}

#[test]
fn wrappers_are_shellcheck_clean() {
    let mut scripts: Vec<PathBuf> = WRAPPERS.iter().map(|w| wrappers_dir().join(w.0)).collect();
    scripts.push(root().join(".ci/run"));
    let out = Command::new("shellcheck")
        .arg("--")
        .args(&scripts)
        .output()
        .unwrap_or_else(|e| {
            panic!("shellcheck is needed for this test and could not run ({e}): apt-get install shellcheck, or `cargo xtask setup`")
        });
    assert!(
        out.status.success(),
        "shellcheck found problems:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
