//! What the legacy scripts left where people look for it: the k6 baseline's
//! variables and companion files (the k6-run report, the stable summary
//! copies), CODEX_TMP_DIR's meaning, and the legacy report fields. The k6
//! run is the real k6 against the demo service the test starts.

mod common;

use common::*;

#[test]
fn a_baseline_honours_its_legacy_variables_and_leaves_the_k6_run_report() {
    require_k6();
    let _one = serial();
    let demo = Demo::start("baseline-legacy", &["solo"], 1);
    let dir = TempDir::outside_repo("baseline-legacy");
    let config = k6_config(&dir, "vus = 2\nduration = \"3s\"\n");
    let reports = dir.join("reports");
    let run = Xtask::with(&config, &reports)
        .args(["k6", "baseline", "--api-host", &demo.api()])
        .env("K6_BASELINE_REPORT_FILE", dir.join("baseline-copy.md"))
        .env(
            "K6_BASELINE_SUMMARY_JSON",
            dir.join("baseline-summary.json"),
        )
        .env("K6_REPORT_FILE", dir.join("k6-copy.md"))
        .run();
    assert_eq!(run.code, 0, "{}", run.show());
    let (baseline, _) = read_latest(&reports, "k6-baseline");
    // K6_BASELINE_REPORT_FILE is the baseline report's copy...
    let copy = std::fs::read_to_string(dir.join("baseline-copy.md")).unwrap();
    assert_eq!(copy, baseline);
    // ...and K6_REPORT_FILE the k6-run report's, which the baseline leaves
    // too (k6-latest.md), as run-k6-baseline.sh did by running the k6 script.
    let (k6_md, k6_json) = read_latest(&reports, "k6");
    assert!(
        k6_md.starts_with("# k6 Waiting Queue Load Test Report\n\n- Result: PASS\n"),
        "{k6_md}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("k6-copy.md")).unwrap(),
        k6_md
    );
    assert!(
        !k6_md.contains("Threshold max p95"),
        "the k6-run report has no limits: {k6_md}"
    );
    assert_eq!(k6_json["suite"], "k6");
    // The summary copies: where K6_BASELINE_SUMMARY_JSON says, and the k6
    // run's stable one in latest/.
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("baseline-summary.json")).unwrap())
            .unwrap();
    assert!(summary["metrics"]["http_reqs"].is_object(), "{summary}");
    assert!(reports.join("k6/latest/k6-summary.json").is_file());
    // Legacy field names beside ours.
    for field in [
        "- Threshold max p95(ms): 1200\n",
        "- Threshold max fail rate: 0.02\n",
        "- Threshold min checks rate: 0.98\n",
        "- Max p95 (ms): 1200\n",
        "| http_reqs.count |",
        "| http_req_duration.p(95) ms |",
    ] {
        assert!(baseline.contains(field), "`{field}` not in\n{baseline}");
    }
    for field in [
        "- Duration: 3s\n",
        "- VUs: 2\n",
        "- k6 Script: ",
        "- Run Started (UTC): ",
        "- Wall time: ",
    ] {
        assert!(k6_md.contains(field), "`{field}` not in\n{k6_md}");
    }
}

#[test]
fn codex_tmp_dir_gets_latest_and_run_folders_as_the_legacy_scripts_wrote_them() {
    let dir = TempDir::new("codex-tmp");
    let api = stub_api(listen_from(20300));
    let config = dir.join("xtask.toml");
    std::fs::write(
        &config,
        format!(
            "[project]\nservice_dir = \"{}\"\n[ops.health]\ncomponents = [{{ name = \"api\", kind = \"http\", address = \"http://127.0.0.1:{api}/api/concerts\" }}]\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let tmp = dir.join("codex");
    let mut cmd = xtask();
    cmd.arg("--config")
        .arg(&config)
        .args(["ops", "health"])
        .env("CODEX_TMP_DIR", &tmp);
    let out = run(&mut cmd);
    assert_eq!(out.code, 0, "{}", out.show());
    let md = std::fs::read_to_string(tmp.join("latest/runtime-health-check-latest.md")).unwrap();
    assert!(md.contains("- Result: PASS"), "{md}");
    assert!(
        md.contains(&format!("- API URL: http://127.0.0.1:{api}/api/concerts")),
        "{md}"
    );
    assert!(
        !tmp.join("runtime-health-check").exists(),
        "no folder per suite under CODEX_TMP_DIR"
    );
}
