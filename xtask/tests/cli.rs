//! The command line as a user meets it: help, bad configuration, reports.

mod common;

use common::{run, xtask, Run, TempDir};

fn cli(args: &[&str]) -> Run {
    run(xtask().args(args))
}

#[test]
fn help_lists_every_subcommand() {
    let out = cli(&["--help"]);
    assert_eq!(out.code, 0);
    let help = out.stdout;
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
    let k6 = cli(&["k6", "--help"]).stdout;
    for sub in ["run", "baseline", "distributed"] {
        assert!(k6.contains(&format!("\n  {sub} ")), "{k6}");
    }
    // Options teach their legacy variable.
    let run = cli(&["k6", "run", "--help"]).stdout;
    assert!(run.contains("[env: K6_VUS=]"), "{run}");
}

#[test]
fn bad_config_is_one_line_with_line_and_column() {
    let d = TempDir::outside_repo("cli-badcfg");
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
        let out = cli(&["--config", cfg.to_str().unwrap(), "doctor"]);
        assert_eq!(out.code, 1);
        let err = out.stderr;
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("error: ") && err.contains(want), "{err}");
    }
}

#[test]
fn named_config_that_does_not_exist_is_an_error() {
    let out = cli(&["--config", "/nonexistent/xtask.toml", "doctor"]);
    assert_eq!(out.code, 1);
    assert!(out
        .stderr
        .contains("cannot read config /nonexistent/xtask.toml"));
}

#[test]
fn bad_flag_values_are_refused_before_anything_runs() {
    for args in [
        &["k6", "run", "--vus=-3"][..],
        &["k6", "run", "--duration", "forever"],
        &["k6", "baseline", "--max-fail-rate", "1.5"],
        &["integration", "--health-url", "https://x"],
    ] {
        let out = cli(args);
        assert_eq!(out.code, 2, "{args:?}");
        assert!(out.stderr.contains("invalid value"), "{args:?}");
    }
}

#[test]
fn report_of_a_suite_that_never_ran_says_so() {
    let d = TempDir::outside_repo("cli-report");
    let out = cli(&[
        "--reports-dir",
        d.path().to_str().unwrap(),
        "report",
        "k6-baseline",
    ]);
    assert_eq!(out.code, 1);
    let err = &out.stderr;
    assert!(
        err.contains("no md report for suite `k6-baseline`"),
        "{err}"
    );
    let out = cli(&["--reports-dir", d.path().to_str().unwrap(), "report"]);
    assert_eq!(out.code, 0);
}

#[test]
fn report_html_writes_the_page_and_prints_its_path_or_says_what_to_run() {
    let dir = TempDir::new("report-html");
    let config = "[project]\nservice_dir = \"demo\"\n";
    let none = common::Xtask::new(&dir, config)
        .args(["report", "--html", "k6-baseline"])
        .run();
    assert_eq!(none.code, 1, "{}", none.show());
    assert_eq!(none.stderr.trim().lines().count(), 1, "{}", none.show());
    assert!(
        none.stderr
            .contains("HTML page of `k6-baseline`: run that suite first"),
        "{}",
        none.show()
    );
    // A real report to draw: a release gate whose Gradle fails at once.
    let gradle = common::stand_in(dir.path(), "gradle", "exit 1\n");
    let config = format!(
        "[project]\nservice_dir = \"demo\"\n[gradle]\ncommand = \"{}\"\n[release_gate]\nclasses = [\"com.example.A\"]\n",
        gradle.display()
    );
    common::Xtask::new(&dir, &config)
        .args(["release-gate"])
        .run();
    let page = dir.join("reports/release-gate/latest/release-gate-latest.html");
    std::fs::remove_file(&page).unwrap();
    let out = common::Xtask::new(&dir, &config)
        .args(["report", "--html", "release-gate"])
        .run();
    assert_eq!(out.code, 0, "{}", out.show());
    assert!(
        out.stdout
            .trim()
            .ends_with("reports/release-gate/latest/release-gate-latest.html"),
        "{}",
        out.show()
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("data-verdict=\"FAIL\""));
}
