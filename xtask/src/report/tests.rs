//! Unit tests of `report`: the Markdown golden file, schema-valid JSON with secrets masked,
//! atomic writes, retention, the suite lock, and each report layout.

use super::*;
use crate::runner::{Outcome, StepRecord};
use camino::{Utf8Path, Utf8PathBuf};

fn tmpdir(name: &str) -> Utf8PathBuf {
    let d = Utf8PathBuf::from_path_buf(std::env::temp_dir())
        .unwrap()
        .join(format!("xtask-report-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A report with every section filled, with fixed times so it can be golden.
pub(super) fn sample() -> Report {
    let mut r = Report::new("k6-baseline", "k6 Baseline Report");
    r.run_stamp = "20261124T021238Z".into();
    r.started = "2026-11-24T02:12:38Z".into();
    r.ended = "2026-11-24T02:13:41Z".into();
    r.duration_ms = 63_200;
    r.git = GitInfo {
        commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
        branch: Some("main".into()),
        dirty: Some(false),
    };
    r.param("API host", "http://127.0.0.1:18080");
    r.param("VUs", 60);
    r.param("DB_PASSWORD", "hunter22");
    r.step(&StepRecord {
        name: "k6 run".into(),
        argv: vec!["k6".into(), "run".into(), "script.js".into()],
        outcome: Outcome::Exited { code: 0 },
        duration_ms: 61_000,
        log: Some("reports/k6-baseline/20261124T021238Z/k6-baseline.log".into()),
    });
    r.metric("http_reqs", Some(12345.0), "");
    r.metric("p(95)", Some(41.25), "ms");
    r.metric("join_unknown", None, "");
    r.threshold(Threshold::check(
        "p95 latency (ms)",
        Some(41.25),
        crate::report::Cmp::AtMost,
        1200.0,
    ));
    r.threshold(Threshold::check(
        "checks rate",
        None,
        crate::report::Cmp::AtLeast,
        0.98,
    ));
    r.table(
        "Requests per replica",
        &["Replica", "Requests"],
        vec![
            vec!["app-1".into(), "4000".into()],
            vec!["a|b".into(), "1".into()],
        ],
    );
    r.artifact(
        "summary",
        "reports/k6-baseline/20261124T021238Z/k6-summary.json",
    );
    r
}

// The end-to-end tests check their reports with the same function.
#[path = "../../tests/common/schema.rs"]
mod schema;
use schema::validate_against_schema;

#[test]
fn markdown_matches_the_golden_file() {
    let md = sample().to_markdown();
    let golden_path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/report.md");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(golden_path, &md).unwrap();
    }
    let golden =
        std::fs::read_to_string(golden_path).expect("golden file (UPDATE_GOLDEN=1 writes it)");
    assert_eq!(
        md, golden,
        "Markdown changed; review and rerun with UPDATE_GOLDEN=1"
    );
}

#[test]
fn first_bullet_is_the_legacy_result_line() {
    let md = sample().to_markdown();
    let first_bullet = md.lines().find(|l| l.starts_with("- ")).unwrap();
    assert_eq!(first_bullet, "- Result: FAIL");
}

#[test]
fn missing_observation_fails_its_threshold() {
    assert!(!Threshold::check("x", None, crate::report::Cmp::AtMost, 1.0).ok);
    assert!(Threshold::check("x", Some(1.0), crate::report::Cmp::AtMost, 1.0).ok);
    assert!(!Threshold::check("x", Some(1.0), crate::report::Cmp::Below, 1.0).ok);
}

#[test]
fn json_is_schema_valid_and_secrets_are_masked() {
    let json = sample().to_json();
    validate_against_schema(&json);
    assert!(!json.contains("hunter22"));
    assert!(json.contains("\"***\""));
    let mut empty = Report::new("gate", "Gate");
    empty.run_stamp = "20261124T021238Z".into();
    empty.started = "2026-11-24T02:12:38Z".into();
    empty.ended = "2026-11-24T02:12:38Z".into();
    validate_against_schema(&empty.to_json());
}

#[test]
fn atomic_write_replaces_whole_files_and_leaves_no_temp() {
    let d = tmpdir("atomic");
    let p = d.join("latest/x-latest.md");
    write_atomic(&p, b"old").unwrap();
    write_atomic(&p, b"new").unwrap();
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "new");
    let names: Vec<_> = std::fs::read_dir(d.join("latest"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["x-latest.md"]);
}

#[test]
fn failed_write_leaves_the_old_report() {
    let d = tmpdir("atomic-fail");
    let p = d.join("x-latest.md");
    write_atomic(&p, b"old").unwrap();
    // A directory where the temporary file would go makes the write fail.
    std::fs::create_dir(store::temp_path(&p)).unwrap();
    assert!(write_atomic(&p, b"new").is_err());
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "old");
}

#[test]
fn retention_keeps_the_newest_run_folders() {
    let d = tmpdir("retention");
    for s in [
        "20261101T000000Z",
        "20261102T000000Z",
        "20261103T000000Z",
        "20261103T000000Z-1",
        "20261104T000000Z",
    ] {
        std::fs::create_dir_all(d.join(s)).unwrap();
    }
    std::fs::create_dir_all(d.join("latest")).unwrap();
    let removed = prune_runs(&d, 2, "20261104T000000Z").unwrap();
    assert_eq!(
        removed,
        ["20261101T000000Z", "20261102T000000Z", "20261103T000000Z"]
    );
    assert!(d.join("latest").exists());
    assert!(d.join("20261103T000000Z-1").exists() && d.join("20261104T000000Z").exists());
}

#[test]
fn second_run_of_a_suite_is_refused_naming_the_holder() {
    let d = tmpdir("lock");
    let held = SuiteLock::acquire(&d, "k6").unwrap();
    let e = SuiteLock::acquire(&d, "k6").err().unwrap().to_string();
    assert!(e.contains("suite `k6` is already running"), "{e}");
    assert!(e.contains(&format!("pid {}", std::process::id())), "{e}");
    drop(held);
    SuiteLock::acquire(&d, "k6").unwrap();
}

#[test]
fn run_writes_latest_and_a_run_folder() {
    let root = tmpdir("run");
    let layout = Layout::new(root.clone(), root.join("reports"));
    let run = Run::start(&layout, "ops-test", RunOptions::default(), &real()).unwrap();
    assert!(run.dir.is_dir());
    std::fs::write(&run.log, "log line\n").unwrap();
    let mut r = Report::new("ops-test", "Ops Test");
    r.param("Tail lines", 2000);
    let r = run.finish(&layout, r, 20, &real()).unwrap();
    let md = std::fs::read_to_string(layout.latest("ops-test", "md")).unwrap();
    assert!(md.contains("- Result: PASS"));
    let json = std::fs::read_to_string(layout.latest("ops-test", "json")).unwrap();
    validate_against_schema(&json);
    assert_eq!(
        r.artifacts[0].path,
        format!("reports/ops-test/{}/ops-test.log", r.run_stamp)
    );
}

#[test]
fn dry_run_writes_nothing() {
    let root = tmpdir("dry");
    let layout = Layout::new(root.clone(), root.join("reports"));
    let run = Run::start(&layout, "k6", RunOptions::default(), &dry()).unwrap();
    run.finish(&layout, Report::new("k6", "k6"), 20, &dry())
        .unwrap();
    assert!(!root.join("reports").exists());
}

#[test]
fn codex_tmp_dir_keeps_its_legacy_meaning() {
    let cfg = crate::config::Reports::default();
    let (dir, shape) = crate::context::reports_location(None, Some("/d"), &cfg);
    assert_eq!((dir.as_str(), shape), ("/d", Shape::Flat));
    let layout = Layout {
        shape,
        ..Layout::new("/repo".into(), dir)
    };
    // Each legacy script wrote $CODEX_TMP_DIR/latest/<name>-latest.md and
    // its run folders beside it.
    assert_eq!(
        layout.latest("runtime-integration", "md"),
        "/d/latest/runtime-integration-latest.md"
    );
    assert_eq!(
        layout.latest("k6-distributed", "md"),
        "/d/latest/k6-distributed-latest.md"
    );
    assert_eq!(layout.suite_dir("release-gate"), "/d");
    // The flag still wins, and without either the config decides.
    let (dir, shape) =
        crate::context::reports_location(Some(Utf8Path::new("/f")), Some("/d"), &cfg);
    assert_eq!((dir.as_str(), shape), ("/f", Shape::Suites));
    let (dir, shape) = crate::context::reports_location(None, Some(""), &cfg);
    assert_eq!((dir.as_str(), shape), ("reports", Shape::Suites));
}

#[test]
fn legacy_layout_puts_reports_where_the_teams_documents_point() {
    let layout = Layout {
        shape: Shape::Legacy,
        ..Layout::new(
            "/repo".into(),
            "/repo/.codex/tmp/ticket-core-service".into(),
        )
    };
    let at = |suite: &str| layout.relative(&layout.latest(suite, "md"));
    let base = ".codex/tmp/ticket-core-service";
    assert_eq!(
        at("runtime-integration"),
        format!("{base}/integration/latest/runtime-integration-latest.md")
    );
    assert_eq!(
        at("release-gate"),
        format!("{base}/release-gate/latest/release-gate-latest.md")
    );
    assert_eq!(at("k6"), format!("{base}/k6/latest/k6-latest.md"));
    assert_eq!(
        at("k6-baseline"),
        format!("{base}/k6/latest/k6-baseline-latest.md")
    );
    assert_eq!(
        at("k6-distributed"),
        format!("{base}/k6/latest/k6-distributed-latest.md")
    );
    assert_eq!(
        layout.relative(&layout.suite_dir("k6-distributed")),
        format!("{base}/k6/distributed")
    );
    assert_eq!(
        at("runtime-health-check"),
        format!("{base}/ops/latest/runtime-health-check-latest.md")
    );
    assert_eq!(
        at("runtime-monitor-snapshot"),
        format!("{base}/ops/latest/runtime-monitor-snapshot-latest.md")
    );
    assert_eq!(
        layout.legacy_copies("api-scripts"),
        [Utf8PathBuf::from(format!(
            "/repo/{base}/api-test/latest.md"
        ))]
    );
}

#[test]
fn suites_sharing_a_folder_run_side_by_side_and_keep_their_own_runs() {
    let root = tmpdir("flat");
    let layout = Layout {
        shape: Shape::Flat,
        ..Layout::new(root.clone(), root.join("d"))
    };
    // One suite's lock does not block another in the same folder (the gate
    // holds its own while its stages run).
    let gate = Run::start(&layout, "gate", RunOptions::default(), &real()).unwrap();
    let stage = Run::start(&layout, "k6", RunOptions::default(), &real()).unwrap();
    std::fs::write(&stage.log, "k6\n").unwrap();
    let stage_dir = stage.dir.clone();
    stage
        .finish(&layout, Report::new("k6", "k6"), 1, &real())
        .unwrap();
    std::fs::write(&gate.log, "gate\n").unwrap();
    gate.finish(&layout, Report::new("gate", "gate"), 1, &real())
        .unwrap();
    // keep_runs = 1 per suite: the gate's retention left the k6 run alone.
    assert!(stage_dir.is_dir(), "{stage_dir}");
    assert!(root.join("d/latest/k6-latest.md").is_file());
    assert!(root.join("d/latest/gate-latest.md").is_file());
}

#[test]
fn threads_writing_one_file_at_once_all_succeed() {
    // Gate stages in threads write the same Gradle init script at once.
    let d = tmpdir("atomic-threads");
    let path = d.join("same.txt");
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let p = path.clone();
            std::thread::spawn(move || {
                for _ in 0..50 {
                    write_atomic(&p, format!("writer {i}\n").as_bytes()).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("no writer failed");
    }
    assert!(std::fs::read_to_string(&path)
        .unwrap()
        .starts_with("writer "));
}

fn real() -> crate::runner::Runner {
    crate::runner::Runner::new(".".into(), false, crate::runner::Verbosity::Quiet)
}

fn dry() -> crate::runner::Runner {
    crate::runner::Runner::new(".".into(), true, crate::runner::Verbosity::Quiet)
}
