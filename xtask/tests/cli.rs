//! The command line as a user meets it: help, bad configuration, reports.

use std::process::{Command, Output};

fn xtask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .unwrap()
}

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("xtask-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn help_lists_every_subcommand() {
    let out = xtask(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for cmd in [
        "doctor",
        "setup",
        "ci",
        "release-gate",
        "integration",
        "k6",
        "ops",
        "env",
        "gate",
        "report",
    ] {
        assert!(
            help.contains(&format!("\n  {cmd} ")),
            "--help lacks {cmd}:\n{help}"
        );
    }
    let k6 = String::from_utf8(xtask(&["k6", "--help"]).stdout).unwrap();
    for sub in ["run", "baseline", "distributed"] {
        assert!(k6.contains(&format!("\n  {sub} ")), "{k6}");
    }
    // Options teach their legacy variable.
    let run = String::from_utf8(xtask(&["k6", "run", "--help"]).stdout).unwrap();
    assert!(run.contains("[env: K6_VUS=]"), "{run}");
}

#[test]
fn bad_config_is_one_line_with_line_and_column() {
    let d = tmp("badcfg");
    for (text, want) in [
        (
            "[k6]\nvus = 5\nvuz = 6\n",
            "xtask.toml:3:1: unknown field `vuz`",
        ),
        ("[k6]\nvus = \"many\"\n", "xtask.toml:2:7: invalid type"),
        (
            "[environment]\nready_timeout = \"soon\"\n",
            "xtask.toml:2:17: bad duration `soon`",
        ),
    ] {
        let cfg = d.join("xtask.toml");
        std::fs::write(&cfg, text).unwrap();
        let out = xtask(&["--config", cfg.to_str().unwrap(), "doctor"]);
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("error: ") && err.contains(want), "{err}");
    }
}

#[test]
fn named_config_that_does_not_exist_is_an_error() {
    let out = xtask(&["--config", "/nonexistent/xtask.toml", "doctor"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot read config /nonexistent/xtask.toml")
    );
}

#[test]
fn bad_flag_values_are_refused_before_anything_runs() {
    for args in [
        &["k6", "run", "--vus=-3"][..],
        &["k6", "run", "--duration", "forever"],
        &["k6", "baseline", "--max-fail-rate", "1.5"],
        &["integration", "--health-url", "https://x"],
    ] {
        let out = xtask(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("invalid value"),
            "{args:?}"
        );
    }
}

#[test]
fn report_of_a_suite_that_never_ran_says_so() {
    let d = tmp("report");
    let out = xtask(&[
        "--reports-dir",
        d.to_str().unwrap(),
        "report",
        "k6-baseline",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no md report for suite `k6-baseline`"),
        "{err}"
    );
    let out = xtask(&["--reports-dir", d.to_str().unwrap(), "report"]);
    assert!(out.status.success());
}
