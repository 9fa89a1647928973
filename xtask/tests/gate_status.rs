//! `gate status` answers from the latest reports and file conditions:
//! READY only when every required report is PASS from HEAD on a clean tree.

mod common;

use std::process::Command;

use common::{TempDir, Xtask};

fn head() -> String {
    let out = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn write_report(reports: &std::path::Path, suite: &str, result: &str, commit: &str, dirty: bool) {
    let dir = reports.join(suite).join("latest");
    std::fs::create_dir_all(&dir).unwrap();
    let json = serde_json::json!({
        "schema_version": 1, "suite": suite, "title": suite, "result": result,
        "run_stamp": "20261124T000000Z", "started": "2026-11-24T00:00:00Z", "ended": "2026-11-24T00:01:00Z",
        "duration_ms": 60000, "git": {"commit": commit, "branch": "main", "dirty": dirty},
        "parameters": [], "steps": [], "metrics": [], "thresholds": [], "tables": [],
        "notes": if result == "FAIL" { vec!["p95 too high"] } else { vec![] }, "artifacts": []
    });
    std::fs::write(dir.join(format!("{suite}-latest.json")), json.to_string()).unwrap();
}

fn gate_status(dir: &TempDir, config: &str) -> (i32, String) {
    let out = Xtask::new(dir, config).args(["gate", "status"]).run();
    (out.code, out.stdout + &out.stderr)
}

#[test]
fn ready_only_when_every_report_passes_from_head_and_every_file_condition_holds() {
    let d = TempDir::outside_repo("gate-status-ready");
    let reports = d.join("reports");
    std::fs::write(
        d.join("task.md"),
        "| TCS-SC-027 | frontend handoff | DONE |\n",
    )
    .unwrap();
    let config = format!(
        "[gate]\nrequired = [\"release-gate\", \"k6-baseline\"]\ndocs_root = \"{}\"\n[[gate.conditions]]\nname = \"TCS-SC-027 done\"\npath = \"{{docs_root}}/task.md\"\npattern = 'TCS-SC-027 \\|[^|]*\\| DONE'\n",
        d.0.display()
    );
    write_report(&reports, "release-gate", "PASS", &head(), false);
    write_report(&reports, "k6-baseline", "PASS", &head(), false);
    let (code, out) = gate_status(&d, &config);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("frontend gate: READY"), "{out}");

    // A PASS from another commit is STALE, naming that commit.
    write_report(
        &reports,
        "k6-baseline",
        "PASS",
        "0123456789abcdef0123456789abcdef01234567",
        false,
    );
    let (code, out) = gate_status(&d, &config);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("STALE") && out.contains("PASS from 0123456789ab"),
        "{out}"
    );

    // A PASS from HEAD with uncommitted changes is STALE too.
    write_report(&reports, "k6-baseline", "PASS", &head(), true);
    let (_, out) = gate_status(&d, &config);
    assert!(out.contains("with uncommitted changes"), "{out}");

    // A FAIL says why; a missing report says how to produce it.
    write_report(&reports, "k6-baseline", "FAIL", &head(), false);
    let (_, out) = gate_status(&d, &config);
    assert!(
        out.contains("FAIL") && out.contains("p95 too high"),
        "{out}"
    );
    std::fs::remove_dir_all(reports.join("k6-baseline")).unwrap();
    let (_, out) = gate_status(&d, &config);
    assert!(
        out.contains("MISSING") && out.contains("cargo xtask k6 baseline"),
        "{out}"
    );
}

#[test]
fn a_file_condition_that_does_not_hold_blocks_the_gate() {
    let d = TempDir::outside_repo("gate-status-files");
    std::fs::write(
        d.join("task.md"),
        "| TCS-SC-027 | frontend handoff | IN PROGRESS |\n",
    )
    .unwrap();
    let config = format!(
        "[gate]\nrequired = []\ndocs_root = \"{}\"\n[[gate.conditions]]\nname = \"TCS-SC-027 done\"\npath = \"{{docs_root}}/task.md\"\npattern = 'TCS-SC-027 \\|[^|]*\\| DONE'\n[[gate.conditions]]\nname = \"incident guide\"\npath = \"{{docs_root}}/no-such-guide.md\"\n",
        d.0.display()
    );
    let (code, out) = gate_status(&d, &config);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("does not match"), "{out}");
    assert!(
        out.contains("MISSING") && out.contains("no-such-guide.md does not exist"),
        "{out}"
    );
}

#[test]
fn a_missing_docs_root_is_said_once_and_plainly() {
    let d = TempDir::outside_repo("gate-status-docs");
    // The service's own config: the docs repository is where the team's
    // workspace has it, which a standalone clone does not.
    let service =
        std::fs::read_to_string(common::root().join("configs/ticket-core-service.toml")).unwrap();
    let conditions = &service[service.find("[[gate.conditions]]").unwrap()..];
    let config = format!(
        "[gate]\nrequired = []\ndocs_root = \"{}\"\n{conditions}",
        d.join("no-docs-here").display()
    );
    let (code, out) = gate_status(&d, &config);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("docs root") && out.contains("the docs repository is not there"),
        "{out}"
    );
    assert!(out.contains("XTASK_DOCS_ROOT"), "{out}");
    assert!(!out.contains("does not exist\n"), "no row per file: {out}");
    assert_eq!(out.matches("MISSING").count(), 1, "{out}");

    // XTASK_DOCS_ROOT points at the docs checkout: each condition is checked.
    let docs = d.join("docs");
    for rel in [
        "product-docs/api-specs/ops-observability-and-alerting-guide.md",
        "product-docs/api-specs/incident-response-runbook.md",
        "product-docs/api-test/release-gate-governance-guide.md",
    ] {
        std::fs::create_dir_all(docs.join(rel).parent().unwrap()).unwrap();
        std::fs::write(docs.join(rel), "guide\n").unwrap();
    }
    std::fs::write(
        docs.join("task.md"),
        "- TCS-SC-027 frontend handoff\n  - Status: DONE\n",
    )
    .unwrap();
    let out = Xtask::new(&d, &config)
        .args(["gate", "status"])
        .env("XTASK_DOCS_ROOT", &docs)
        .run();
    assert_eq!(out.code, 0, "{}", out.show());
    assert!(
        out.stdout.contains("frontend gate: READY"),
        "{}",
        out.show()
    );
}

#[test]
fn a_pass_on_an_environment_started_at_another_commit_is_stale() {
    let d = TempDir::outside_repo("gate-status-env");
    let reports = d.join("reports");
    let config = "[gate]\nrequired = [\"runtime-integration\"]\n";
    let with_env = |commit: &str, dirty: bool| {
        write_report(&reports, "runtime-integration", "PASS", &head(), false);
        let p = reports.join("runtime-integration/latest/runtime-integration-latest.json");
        let mut json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        json["environment"] = serde_json::json!({
            "description": "local, nginx on 127.0.0.1:18080, 1 replica(s), started by `env up` at 2026-11-23T10:00:00Z from 0123456789ab, reused",
            "started": "2026-11-23T10:00:00Z",
            "started_by": "env up",
            "git": {"commit": commit, "branch": "main", "dirty": dirty}
        });
        common::validate_against_schema(&json.to_string());
        std::fs::write(&p, json.to_string()).unwrap();
    };

    with_env("0123456789abcdef0123456789abcdef01234567", false);
    let (code, out) = gate_status(&d, config);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("STALE")
            && out.contains("on an environment started at 2026-11-23T10:00:00Z from 0123456789ab"),
        "{out}"
    );

    with_env(&head(), true);
    let (code, out) = gate_status(&d, config);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("environment started at 2026-11-23T10:00:00Z with uncommitted changes"),
        "{out}"
    );
}

// ---------------------------------------------------------------------------
// Issue 11: a verdict that cannot be fooled (causes 1, 10, 19, 20, 22)
// ---------------------------------------------------------------------------

/// Cause 1: when git cannot say what HEAD is, no report is fresh.
#[test]
fn unknown_provenance_is_never_ready() {
    let d = TempDir::outside_repo("gate-status-no-git");
    let reports = d.join("reports");
    let config = "[gate]\nrequired = [\"release-gate\"]\n";
    let other = "0123456789abcdef0123456789abcdef01234567";
    write_report(&reports, "release-gate", "PASS", other, false);
    let empty = d.join("empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    let cases: Vec<(&str, Vec<(&str, String)>)> = vec![
        (
            "PATH without git",
            vec![("PATH", empty.display().to_string())],
        ),
        (
            "a broken GIT_DIR",
            vec![("GIT_DIR", d.join("no-such-git").display().to_string())],
        ),
        (
            "GIT_DIR at a file",
            vec![("GIT_DIR", d.join("empty-path").display().to_string())],
        ),
        (
            "a broken GIT_WORK_TREE",
            vec![("GIT_DIR", "/dev/null".to_string())],
        ),
    ];
    for (what, env) in cases {
        let mut x = Xtask::new(&d, config).args(["gate", "status"]);
        for (k, v) in &env {
            x = x.env(k, v);
        }
        let out = x.run();
        let all = out.stdout.clone() + &out.stderr;
        assert_eq!(out.code, 1, "{what}: {all}");
        assert!(all.contains("NOT READY"), "{what}: {all}");
        assert!(
            all.contains("STALE") && all.contains("HEAD is unknown"),
            "{what}: {all}"
        );
    }
    // A PASS that itself came from an unknown commit is not fresh either.
    let dir = reports.join("release-gate/latest");
    let json = std::fs::read_to_string(dir.join("release-gate-latest.json")).unwrap();
    let json = json.replace(&format!("\"{other}\""), "null");
    std::fs::write(dir.join("release-gate-latest.json"), json).unwrap();
    let (code, out) = gate_status(&d, config);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("PASS from an unknown commit"), "{out}");
}

/// Cause 10: a commit id with multi-byte characters is shown, not a panic.
#[test]
fn a_report_commit_with_multibyte_characters_does_not_panic() {
    let d = TempDir::outside_repo("gate-status-utf8");
    let reports = d.join("reports");
    let config = "[gate]\nrequired = [\"release-gate\", \"k6\"]\n";
    // One ASCII byte first: byte 12 falls inside a character.
    write_report(&reports, "release-gate", "PASS", "aéééééééééééééé", false);
    write_report(&reports, "k6", "FAIL", "a日本語のコミット番号です", false);
    let (code, out) = gate_status(&d, config);
    assert_eq!(code, 1, "{out}");
    assert!(!out.contains("panicked"), "{out}");
    assert!(out.contains("PASS from aééééééééééé,"), "{out}");
    assert!(out.contains("a日本語のコミット番号"), "{out}");
    for args in [
        vec!["report"],
        vec!["report", "k6"],
        vec!["report", "release-gate", "--json"],
    ] {
        let out = Xtask::new(&d, config).args(&args).run();
        assert!(!out.stderr.contains("panicked"), "{args:?}: {}", out.stderr);
    }
}

/// Cause 22: a corrupt latest report says it is corrupt.
#[test]
fn a_corrupt_latest_report_says_so() {
    let d = TempDir::outside_repo("gate-status-corrupt");
    let reports = d.join("reports");
    let config = "[gate]\nrequired = [\"release-gate\", \"k6\", \"k6-baseline\"]\n";
    for (suite, body) in [
        ("release-gate", &b"{\"schema_version\": 1, \"suite\": "[..]),
        ("k6", &b"\xff\xfe not json"[..]),
        ("k6-baseline", &b"[]"[..]),
    ] {
        let dir = reports.join(suite).join("latest");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{suite}-latest.json")), body).unwrap();
    }
    let (code, out) = gate_status(&d, config);
    assert_eq!(code, 1, "{out}");
    assert_eq!(
        out.matches("the latest report is corrupt").count(),
        3,
        "{out}"
    );
    assert!(!out.contains("no report yet"), "{out}");
}

/// Causes 19 and 20: gate settings are checked at load, and condition
/// paths stay inside the repository (or the docs root).
#[test]
fn bad_gate_settings_are_refused_before_anything_runs() {
    let d = TempDir::outside_repo("gate-status-settings");
    let docs = d.join("docs");
    std::fs::create_dir_all(docs.join("folder")).unwrap();
    std::fs::write(docs.join("task.md"), "DONE\n").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", docs.join("passwd-link")).unwrap();
    let cond = |extra: &str| {
        format!(
            "[gate]\nrequired = [\"release-gate\"]\ndocs_root = \"{}\"\n[[gate.conditions]]\nname = \"c\"\n{extra}",
            docs.display()
        )
    };
    let refused = [
        (
            cond("path = \"{docs_root}/task.md\"\npattern = \"(unclosed\"\n"),
            "bad regular expression",
        ),
        (
            cond("path = \"{docs_root}/task.md\"\nchanged_after = \"someday\"\n"),
            "`someday` is not a date",
        ),
        (
            cond("path = \"{docs_root}/task.md\"\nchanged_after = \"2026-13-45\"\n"),
            "is not a date",
        ),
        (
            cond("path = \"../../../etc/passwd\"\n"),
            "leaves the repository",
        ),
        (cond("path = \"/etc/passwd\"\n"), "leaves the repository"),
        (
            cond("path = \"{docs_root}/../../etc/passwd\"\n"),
            "leaves the repository",
        ),
        (
            "[gate]\nrequired = []\n".to_string(),
            "the gate requires nothing",
        ),
        (
            "[gate]\nrequired = [\"../../etc\"]\n".to_string(),
            "bad suite name",
        ),
    ];
    for (config, says) in refused {
        let (code, out) = gate_status(&d, &config);
        assert_eq!(code, 1, "{config}: {out}");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 1, "{config}: {out}");
        assert!(
            lines[0].starts_with("error: ") && out.contains(says),
            "{config}: {out}"
        );
    }
    // A folder is not "does not exist", and a link out of the docs is not read.
    for (path, says) in [
        ("{docs_root}/folder", "it is a folder"),
        ("{docs_root}/passwd-link", "leads out of"),
    ] {
        let (code, out) = gate_status(&d, &cond(&format!("path = \"{path}\"\n")));
        assert_eq!(code, 1, "{path}: {out}");
        assert!(
            out.contains(says) && out.contains("NOT READY"),
            "{path}: {out}"
        );
        assert!(!out.contains("root:x:0"), "{out}");
    }
}

/// Cause 19: `--only X --skip X`, or a selection of nothing, is refused.
#[test]
fn a_gate_that_would_run_nothing_is_refused() {
    let d = TempDir::outside_repo("gate-select-nothing");
    for args in [
        vec![
            "gate",
            "--no-setup",
            "--only",
            "ops-health",
            "--skip",
            "ops-health",
        ],
        vec![
            "gate",
            "--no-setup",
            "--skip",
            "release-gate",
            "--skip",
            "integration",
            "--skip",
            "ops-health",
            "--skip",
            "k6-baseline",
            "--skip",
            "ops-monitor",
            "--skip",
            "k6-distributed",
        ],
    ] {
        let out = Xtask::new(&d, "").args(&args).run();
        assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
        assert!(out.stderr.starts_with("error: "), "{}", out.stderr);
        assert!(
            out.stderr.contains("both --only and --skip") || out.stderr.contains("no stage to run"),
            "{}",
            out.stderr
        );
        assert!(
            !d.join("reports/gate").exists(),
            "a gate report was written"
        );
    }
}

/// Cause 20: `report` takes a suite name, never a path; reports never go
/// into a .git folder.
#[test]
fn paths_stay_in_the_repository() {
    let d = TempDir::outside_repo("report-paths");
    for suite in ["/etc", "../../etc", "a/b", "Release-Gate"] {
        let out = Xtask::new(&d, "").args(["report", suite]).run();
        assert_eq!(out.code, 2, "{suite}: {}", out.stderr);
        assert!(out.stderr.contains("bad suite name"), "{}", out.stderr);
    }
    let git = d.join("repo/.git/refs/heads");
    std::fs::create_dir_all(&git).unwrap();
    std::os::unix::fs::symlink(d.join("repo/.git"), d.join("sneaky")).unwrap();
    for dir in [
        git.clone(),
        d.join("sneaky/refs/heads"),
        d.join("repo/.git"),
    ] {
        std::fs::write(d.join("xtask.toml"), "").unwrap();
        let out = Xtask::with(&d.join("xtask.toml"), &dir)
            .args(["ops", "health"])
            .run();
        assert_eq!(out.code, 1, "{}: {}", dir.display(), out.stderr);
        assert!(
            out.stderr.contains("inside a .git folder"),
            "{}",
            out.stderr
        );
    }
    assert_eq!(
        std::fs::read_dir(&git).unwrap().count(),
        0,
        "wrote into .git"
    );
}
