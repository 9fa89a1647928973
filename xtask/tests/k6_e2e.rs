//! End to end with the real tools: the built xtask runs the real k6 (the one
//! `cargo xtask setup` installs) against the demo service, which each test
//! starts itself (redis-server, `java -jar demo.jar` replicas, nginx in
//! front of several), on ports in 22000-22999. Short runs, few VUs.

mod common;

use common::{
    free_port, k6_config, listen_in, metric, notes, read_latest, repo_config, require_k6, run,
    run_dir, serial, stub_api, Demo, TempDir, Xtask, K6_PORTS,
};

/// `xtask --config <tmp> --reports-dir <tmp>/reports k6 <args>`.
fn k6(dir: &TempDir, args: &[&str]) -> std::process::Command {
    let config = k6_config(dir, "vus = 2\nduration = \"3s\"\n");
    Xtask::with(&config, &dir.join("reports"))
        .arg("k6")
        .args(args)
        .cmd
}

#[test]
fn baseline_passes_against_the_demo_and_exports_the_dashboard() {
    require_k6();
    let _one = serial();
    let demo = Demo::start("baseline-pass", &["solo"], 1);
    let dir = TempDir::outside_repo("baseline-pass");
    let dashboard_port = free_port(listen_in(K6_PORTS)).to_string();
    let out = run(k6(
        &dir,
        &["baseline", "--api-host", &demo.api(), "--dashboard"],
    )
    .args(["--dashboard-port", &dashboard_port])
    // Short runs only get a dashboard with a short aggregation period.
    .env("K6_WEB_DASHBOARD_PERIOD", "1s"));
    let reports = dir.join("reports");
    let (md, json) = read_latest(&reports, "k6-baseline");
    assert_eq!(out.code, 0, "{md}\n{}", out.stderr);
    assert!(
        md.starts_with("# k6 Baseline Report\n\n- Result: PASS\n"),
        "{md}"
    );
    for field in [
        "- API host: http://127.0.0.1:",
        "- Concert ID: 1",
        "- VUs: 2",
        "- k6 duration: 3s",
        "- Script: demo/perf/waiting-queue-join.js",
        "- Execution mode: local (",
        "- Web dashboard: enabled (",
        "- Max p95 (ms): 1200",
        "- Max failed rate: 0.02",
        "- Min checks rate: 0.98",
        "| http_req_failed | rate==0 | passed |",
    ] {
        assert!(md.contains(field), "{field} not in\n{md}");
    }
    assert!(metric(&json, "http_reqs").unwrap() > 0.0);
    assert_eq!(metric(&json, "http_req_failed rate"), Some(0.0));
    assert_eq!(metric(&json, "checks rate"), Some(1.0));
    assert!(metric(&json, "http_req_duration p(99)").is_some());
    let dir_run = run_dir(&reports, "k6-baseline");
    for f in [
        "k6-summary.json",
        "k6-baseline-summary.json",
        "k6-web-dashboard.html",
    ] {
        assert!(
            dir_run.join(f).is_file(),
            "{f} missing in {}",
            dir_run.display()
        );
    }
    let artifacts = json["artifacts"].to_string();
    assert!(artifacts.contains("web dashboard"), "{artifacts}");
}

#[test]
fn an_impossible_p95_limit_fails_with_the_exact_note() {
    require_k6();
    let _one = serial();
    let demo = Demo::start("baseline-limit", &["solo"], 1);
    let dir = TempDir::outside_repo("baseline-limit");
    let out = run(&mut k6(
        &dir,
        &[
            "baseline",
            "--api-host",
            &demo.api(),
            "--max-p95-ms",
            "0.001",
        ],
    ));
    let (md, json) = read_latest(&dir.join("reports"), "k6-baseline");
    assert_eq!(out.code, 1, "{md}");
    assert!(md.contains("- Result: FAIL"), "{md}");
    // k6 itself passed: the only reason is the limit.
    assert_eq!(json["steps"][0]["outcome"], "exit 0");
    let notes = notes(&json);
    assert_eq!(notes.len(), 1, "{notes:?}");
    let observed = notes[0]
        .strip_prefix("p95 ")
        .and_then(|n| n.strip_suffix(" ms is above the limit 0.001 ms"))
        .unwrap_or_else(|| panic!("{notes:?}"));
    assert!(observed.parse::<f64>().unwrap() > 0.001, "{observed}");
    assert!(
        md.contains("| p95 latency (ms) |") && md.contains("| <= 0.001 | **no** |"),
        "{md}"
    );
}

#[test]
fn a_dead_api_fails_at_once_without_running_k6() {
    let dir = TempDir::outside_repo("dead-api");
    // Bound, then released: nothing listens there.
    let port = free_port(listen_in(K6_PORTS));
    let api = format!("http://127.0.0.1:{port}");
    // A summary left by an earlier run (legacy K6_SUMMARY_JSON): k6 never
    // starts, so it is neither read nor deleted (issue 11 cause 2: nothing
    // is deleted before k6 starts; it is cleared right before k6 runs).
    let stale = dir.join("k6-summary.json");
    let earlier = include_str!("fixtures/k6/summary-export-pass.json");
    std::fs::write(&stale, earlier).unwrap();
    let out = run(k6(&dir, &["run", "--api-host", &api]).env("K6_SUMMARY_JSON", &stale));
    assert_eq!(out.code, 1, "{}", out.stderr);
    let message = format!(
        "the API is not answering at {api}/api/concerts, so k6 was not run (start the API, point --api-host or --health-url at it, or use --env local): cannot connect to 127.0.0.1:{port}"
    );
    assert!(out.stderr.contains(&message), "{}", out.stderr);
    let reports = dir.join("reports");
    let (md, json) = read_latest(&reports, "k6");
    assert!(md.contains("- Result: FAIL"), "{md}");
    assert!(notes(&json)[0].starts_with(&message), "{:?}", notes(&json));
    assert_eq!(json["steps"].as_array().unwrap().len(), 0, "k6 ran");
    assert_eq!(
        json["metrics"].as_array().map_or(0, |m| m.len()),
        0,
        "numbers shown"
    );
    assert_eq!(
        std::fs::read_to_string(&stale).unwrap(),
        earlier,
        "deleted before k6 started"
    );
}

#[test]
fn crossed_script_thresholds_fail_the_run_with_k6s_exit_code() {
    require_k6();
    let _one = serial();
    let mut demo = Demo::start("crossed", &["solo"], 1);
    // Redis gone: every join answers 503, so the script's thresholds cross.
    demo.stop_redis();
    // The demo's own health URL would now say 503: probe a stand-in instead.
    let health = format!(
        "http://127.0.0.1:{}/api/concerts",
        stub_api(listen_in(K6_PORTS))
    );
    let dir = TempDir::outside_repo("crossed");
    let out = run(&mut k6(
        &dir,
        &["run", "--api-host", &demo.api(), "--health-url", &health],
    ));
    let (md, json) = read_latest(&dir.join("reports"), "k6");
    assert_eq!(out.code, 99, "{md}");
    assert!(md.contains("- Result: FAIL"), "{md}");
    let notes = notes(&json);
    assert!(
        notes.contains(&"k6 failed: exit 99 (thresholds crossed)".to_string()),
        "{notes:?}"
    );
    assert!(
        notes.contains(
            &"k6 thresholds crossed: checks rate==1, http_req_failed rate==0, join_valid_status_rate rate==1".to_string()
        ),
        "{notes:?}"
    );
    assert_eq!(metric(&json, "http_req_failed rate"), Some(1.0));
    assert!(metric(&json, "join_http_error").unwrap() > 0.0);
    assert!(
        md.contains("| http_req_failed | rate==0 | CROSSED |"),
        "{md}"
    );
}

#[test]
fn distributed_counts_each_local_replicas_requests_from_nginxs_own_log() {
    require_k6();
    let _one = serial();
    // The repository's config on the local environment, balancer on a free port.
    let lb = free_port(listen_in(K6_PORTS));
    let dir = TempDir::outside_repo("dist-local");
    let config = dir.join("xtask.toml");
    std::fs::write(&config, repo_config(lb)).unwrap();
    let out = run(&mut Xtask::with(&config, &dir.join("reports"))
        .args(["k6", "distributed", "--env", "local", "--replicas", "3"])
        .args(["--host-api-host", &format!("http://127.0.0.1:{lb}")])
        .args(["--vus", "3", "--duration", "3s"])
        .cmd);
    let (md, json) = read_latest(&dir.join("reports"), "k6-distributed");
    assert_eq!(out.code, 0, "{md}\n{}", out.stderr);
    assert!(
        md.starts_with("# k6 Distributed Load Test Report\n\n- Result: PASS\n"),
        "{md}"
    );
    // The service's script gets the service's variables, nothing of ours.
    assert!(!md.contains("INSTANCES"), "{md}");
    assert!(md.contains("- User id base: 910000000"), "{md}");
    assert!(
        md.contains("- Spread measured by: requests nginx passed to each replica ($upstream_addr in its access log"),
        "{md}"
    );
    let table = json["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["title"] == "Requests per replica")
        .unwrap_or_else(|| panic!("{md}"));
    let rows = table["rows"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r[0].as_str().unwrap()).collect();
    assert_eq!(names, ["app-1", "app-2", "app-3"], "{md}");
    let counts: Vec<f64> = rows
        .iter()
        .map(|r| r[1].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(counts.iter().all(|n| *n > 0.0), "{md}");
    // Exact: every request k6 made was counted on exactly one replica.
    assert_eq!(
        counts.iter().sum::<f64>(),
        metric(&json, "http_reqs").unwrap(),
        "{md}"
    );
    assert!(md.contains("| spread (busiest / idlest) |"), "{md}");
}

#[test]
fn distributed_on_an_external_api_says_not_measured_and_uses_api_host() {
    require_k6();
    let _one = serial();
    let demo = Demo::start("dist-external", &["solo"], 1);
    let dir = TempDir::outside_repo("dist-external");
    // API_HOST is the address k6 uses; here the same API under another name.
    let api_host = format!("http://localhost:{}", demo.api_port);
    let out = run(k6(
        &dir,
        &[
            "distributed",
            "--env",
            "external",
            "--host-api-host",
            &demo.api(),
            "--vus",
            "2",
        ],
    )
    .env("API_HOST", &api_host));
    let (md, json) = read_latest(&dir.join("reports"), "k6-distributed");
    assert_eq!(out.code, 0, "{md}\n{}", out.stderr);
    assert!(md.contains("- Result: PASS"), "{md}");
    assert!(md.contains(&format!("-e API_HOST={api_host}")), "{md}");
    assert!(md.contains(&format!("- API host: {api_host}")), "{md}");
    assert!(md.contains("- Spread: not measured"), "{md}");
    let notes = notes(&json);
    assert!(
        notes.iter().any(|n| n.starts_with(
            "requests per replica not measured: the external environment runs elsewhere"
        )),
        "{notes:?}"
    );
    assert!(!md.contains("Requests per replica"), "{md}");
}

#[test]
fn an_unmeasured_spread_fails_when_the_config_requires_it() {
    require_k6();
    let _one = serial();
    let demo = Demo::start("dist-require", &["solo"], 1);
    let dir = TempDir::outside_repo("dist-require");
    let config = k6_config(
        &dir,
        "vus = 2\nduration = \"3s\"\n[k6.distributed]\nrequire_spread = true\n",
    );
    let out = run(&mut Xtask::with(&config, &dir.join("reports"))
        .args(["k6", "distributed", "--env", "external"])
        .args(["--host-api-host", &demo.api()])
        .cmd);
    let (md, json) = read_latest(&dir.join("reports"), "k6-distributed");
    assert_eq!(out.code, 1, "{md}");
    assert!(md.contains("- Result: FAIL"), "{md}");
    let notes = notes(&json);
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("requests per replica not measured:")
                && n.ends_with("([k6.distributed] require_spread = true)")),
        "{notes:?}"
    );
    // k6 itself passed: the only reason is the missing measure.
    assert_eq!(json["steps"][0]["outcome"], "exit 0", "{md}");
}
