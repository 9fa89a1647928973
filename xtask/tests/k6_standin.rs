//! Failure paths a real k6 cannot show on demand, with a stand-in `k6`
//! script first on PATH: a k6 that hangs (deadline, Ctrl-C) and one that
//! exits 0 after writing half a summary.

mod common;

use std::{path::Path, time::Duration};

use common::{
    alive, k6_config, listen_in, notes, path_with, read_latest, read_pid, run_dir, stand_in,
    stub_api, wait_for, TempDir, Xtask, K6_PORTS,
};

/// Writes an executable `k6` into `dir/bin` and returns a PATH with it first.
fn k6_stand_in(dir: &TempDir, body: &str) -> String {
    let bin = dir.join("bin");
    stand_in(&bin, "k6", body);
    path_with(&[&bin])
}

/// Hangs like a stuck k6, with a grandchild; notes its pids and the SIGINT
/// it gets (k6 exits 105 on SIGINT). A background job of a non-interactive
/// shell ignores SIGINT: only the group kill can end the grandchild.
fn hanging_k6(dir: &TempDir) -> String {
    let d = dir.path().display();
    k6_stand_in(
        dir,
        &format!(
            "echo $$ > {d}/k6.pid\n\
             trap 'echo SIGINT > {d}/k6.sigint; exit 105' INT\n\
             sleep 300 &\n\
             echo $! > {d}/sleep.pid\n\
             wait\n"
        ),
    )
}

fn assert_nothing_left(dir: &Path) {
    for f in ["k6.pid", "sleep.pid"] {
        let pid = read_pid(&dir.join(f));
        wait_for(
            &format!("{f} {pid} to be gone"),
            Duration::from_secs(5),
            || !alive(pid),
        );
    }
}

#[test]
fn a_hung_k6_is_stopped_at_its_deadline_and_the_report_says_timed_out() {
    let dir = TempDir::outside_repo("standin-deadline");
    let path = hanging_k6(&dir);
    let reports = dir.join("reports");
    let config = k6_config(&dir, "duration = \"1s\"\ndeadline_slack = \"1s\"\n");
    let out = Xtask::with(&config, &reports)
        .env("PATH", path)
        .args(["k6", "run", "--api-host"])
        .arg(format!(
            "http://127.0.0.1:{}",
            stub_api(listen_in(K6_PORTS))
        ))
        .run();
    // 124: the shell's code for a timeout.
    assert_eq!(out.code, 124, "{}", out.stderr);
    let (md, json) = read_latest(&reports, "k6");
    assert!(md.contains("- Result: FAIL"), "{md}");
    let notes = notes(&json);
    assert!(
        notes.iter().any(|n| n.starts_with("k6 timed out: still running after 2s (duration 1s + deadline slack 1s); it got SIGINT, then SIGKILL")),
        "{notes:?}"
    );
    assert!(
        notes.iter().any(|n| n.starts_with("k6 wrote no summary")),
        "{notes:?}"
    );
    assert_eq!(json["steps"][0]["outcome"], "timed out after 2s");
    // SIGINT first, so that a real k6 writes its summary.
    assert!(dir.join("k6.sigint").is_file(), "k6 got no SIGINT");
    assert_nothing_left(dir.path());
}

#[test]
fn ctrl_c_stops_k6_and_leaves_a_report_saying_interrupted() {
    let dir = TempDir::outside_repo("standin-sigint");
    let path = hanging_k6(&dir);
    let reports = dir.join("reports");
    let child = Xtask::with(&k6_config(&dir, "duration = \"60s\"\n"), &reports)
        .env("PATH", path)
        .args(["-q", "k6", "run", "--api-host"])
        .arg(format!(
            "http://127.0.0.1:{}",
            stub_api(listen_in(K6_PORTS))
        ))
        .cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("the stand-in k6 to start", Duration::from_secs(30), || {
        dir.join("sleep.pid").is_file()
    });
    // SAFETY: a signal to our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (md, json) = read_latest(&reports, "k6");
    assert!(md.contains("- Result: FAIL"), "{md}");
    let notes = notes(&json);
    assert!(
        notes.iter().any(|n| n == "interrupted (SIGINT)"),
        "{notes:?}"
    );
    assert!(
        notes.iter().any(|n| n.starts_with("k6 was interrupted")),
        "{notes:?}"
    );
    assert!(dir.join("k6.sigint").is_file(), "k6 got no SIGINT");
    assert_nothing_left(dir.path());
}

#[test]
fn half_a_summary_is_a_fail_even_when_k6_exits_0() {
    let dir = TempDir::outside_repo("standin-truncated");
    let path = k6_stand_in(
        &dir,
        "while [ $# -gt 0 ]; do [ \"$1\" = --summary-export ] && out=$2; shift; done\n\
         printf '{\"metrics\": {\"http_reqs\": {\"count\": 1' > \"$out\"\n\
         exit 0\n",
    );
    let reports = dir.join("reports");
    let out = Xtask::with(&k6_config(&dir, "duration = \"1s\"\n"), &reports)
        .env("PATH", path)
        .args(["k6", "baseline", "--api-host"])
        .arg(format!(
            "http://127.0.0.1:{}",
            stub_api(listen_in(K6_PORTS))
        ))
        .run();
    assert_eq!(out.code, 1, "{}", out.stderr);
    let (md, json) = read_latest(&reports, "k6-baseline");
    assert!(md.contains("- Result: FAIL"), "{md}");
    let notes = notes(&json);
    let summary = run_dir(&reports, "k6-baseline").join("k6-summary.json");
    assert!(
        notes.iter().any(|n| n.starts_with(&format!(
            "k6 summary {}: the JSON is truncated",
            summary.display()
        ))),
        "{notes:?}"
    );
    assert!(
        notes.contains(&"p95 (http_req_duration p(95)) is missing from the k6 summary".to_string()),
        "{notes:?}"
    );
    // Metrics are N/A (null), never zeros that would look like a pass.
    let metrics = json["metrics"].as_array().unwrap();
    assert_eq!(metrics.len(), 10);
    assert!(metrics.iter().all(|m| m["value"].is_null()), "{metrics:?}");
    assert!(md.contains("| http_reqs | N/A |"), "{md}");
}
