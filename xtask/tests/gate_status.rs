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
        "[gate]\nrequired = [\"release-gate\", \"k6-baseline\"]\n[[gate.conditions]]\nname = \"TCS-SC-027 done\"\npath = \"{}\"\npattern = 'TCS-SC-027 \\|[^|]*\\| DONE'\n",
        d.join("task.md").display()
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
        "[gate]\nrequired = []\n[[gate.conditions]]\nname = \"TCS-SC-027 done\"\npath = \"{}\"\npattern = 'TCS-SC-027 \\|[^|]*\\| DONE'\n[[gate.conditions]]\nname = \"incident guide\"\npath = \"{}\"\n",
        d.join("task.md").display(),
        d.join("no-such-guide.md").display()
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
