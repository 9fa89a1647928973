//! The numbers of a k6 report come from k6's raw samples: end to end with
//! the real k6 (the one `cargo xtask setup` installs) on the demo, which
//! the test starts itself on ports in 22000-22999.

mod common;

use common::{
    build_demo_jar, k6_config, metric, notes, read_latest, require_k6, run_dir, serial, Demo,
    TempDir, Xtask,
};

#[test]
fn histogram_percentiles_agree_with_k6_and_a_slower_build_is_flagged() {
    require_k6();
    // The latency knob must be in the jar: let Gradle rebuild it if stale.
    build_demo_jar().unwrap_or_else(|e| panic!("{e}"));
    let _one = serial();
    let dir = TempDir::outside_repo("samples");
    let reports = dir.join("reports");
    let config = k6_config(&dir, "vus = 4\nduration = \"5s\"\n");
    let xtask = || Xtask::with(&config, &reports);

    // A passing baseline on the demo as it is.
    let demo = Demo::start("samples-base", &["solo"], 1);
    let out = xtask()
        .args(["k6", "baseline", "--api-host", &demo.api()])
        .run();
    drop(demo);
    let (md, json) = read_latest(&reports, "k6-baseline");
    assert_eq!(out.code, 0, "{md}\n{}", out.stderr);
    assert!(md.contains("- Numbers from: k6's raw samples ("), "{md}");
    assert!(
        !notes(&json).iter().any(|n| n.contains("disagree")),
        "{:?}",
        notes(&json)
    );
    // Our p95 and k6's own, from the summary k6 exported in the same run.
    let run = run_dir(&reports, "k6-baseline");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("k6-summary.json")).unwrap())
            .unwrap();
    let theirs = summary["metrics"]["http_req_duration"]["p(95)"]
        .as_f64()
        .unwrap();
    let ours = metric(&json, "http_req_duration p(95)").unwrap();
    // One bucket of a 3-digit histogram (0.1 %) and the µs rounding.
    assert!(
        (ours - theirs).abs() <= theirs * 0.001 + 0.002,
        "histogram p95 {ours} ms, k6's p95 {theirs} ms"
    );
    assert_eq!(
        metric(&json, "http_reqs"),
        summary["metrics"]["http_reqs"]["count"].as_f64()
    );
    for kept in [
        "k6-samples.hlog",
        "k6-samples.json",
        "k6-baseline-report.json",
    ] {
        assert!(
            run.join(kept).is_file(),
            "{kept} missing in {}",
            run.display()
        );
    }
    let left: Vec<String> = std::fs::read_dir(&run)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("fifo") || n.ends_with(".ndjson"))
        .collect();
    assert!(left.is_empty(), "the raw stream is not kept: {left:?}");

    // The same service 30 ms slower per join: flagged against the last pass.
    let slow = Demo::start_with(
        "samples-slow",
        &["solo"],
        1,
        &[("DEMO_EXTRA_LATENCY_MS", "30")],
    );
    let out = xtask()
        .args([
            "k6",
            "baseline",
            "--api-host",
            &slow.api(),
            "--compare",
            "last-pass",
        ])
        .run();
    drop(slow);
    let (md, json) = read_latest(&reports, "k6-baseline");
    assert_ne!(out.code, 0, "{md}");
    assert!(md.contains("- Result: FAIL"), "{md}");
    let table = json["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["title"].as_str().unwrap().starts_with("Comparison with "))
        .unwrap_or_else(|| panic!("no comparison table in\n{md}"));
    let p95 = &table["rows"][0];
    assert_eq!(p95[0], "http_req_duration p(95)", "{md}");
    assert_eq!(p95[6], "REGRESSION", "{md}");
    assert!(
        notes(&json)
            .iter()
            .any(|n| n.starts_with("regression against the last passing run ")),
        "{:?}",
        notes(&json)
    );

    // The history lists both, newest first, the p95 jump included.
    let out = xtask().args(["report", "history", "--json"]).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let rows: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let results: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["result"].as_str().unwrap())
        .collect();
    assert_eq!(results, ["FAIL", "PASS"]);
    assert!(
        rows[0]["p95_change_pct"].as_f64().unwrap() > 100.0,
        "{rows}"
    );
}
