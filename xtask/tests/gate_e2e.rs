//! `cargo xtask gate` end to end on the demo: real Gradle, Redis, nginx, k6.
//! Each test uses its own load-balancer port (23000-23999) and reports folder.

mod common;

use common::{
    latest, load, port_is_free, repo_config, root, run, screenshot, table, xtask, TempDir, Xtask,
};

/// A report time (`250 ms`, `1.5 s`) in seconds.
fn secs(s: &str) -> f64 {
    match s.split_once(' ') {
        Some((n, "ms")) => n.parse::<f64>().unwrap() / 1000.0,
        Some((n, "s")) => n.parse().unwrap(),
        _ => panic!("not a report time: {s:?}"),
    }
}

#[test]
fn gate_passes_every_stage_on_one_environment_and_leaves_nothing_running() {
    // The gate's suites run once at a time per service (the demo here).
    let _serial = common::serial();
    let dir = TempDir::new("gate-pass");
    let run = Xtask::new(&dir, &repo_config(23080))
        .args(["gate", "--no-setup"])
        .run();
    assert_eq!(run.code, 0, "{}", run.show());
    let (md, json) = latest(&dir, "gate");
    assert!(md.contains("- Result: PASS"), "{md}");
    let stages = table(&json, "Stages");
    let names: Vec<&str> = stages.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        names,
        [
            "release-gate",
            "test-classes",
            "env-up",
            "integration",
            "ops-health",
            "k6-baseline",
            "ops-monitor",
            "scale",
            "k6-distributed",
            "env-down"
        ]
    );
    assert!(
        stages
            .iter()
            .all(|r| r[1] == "PASS" || r[0] == "test-classes"),
        "{stages:?}"
    );
    // release-gate and env-up ran at once: their time ranges overlap.
    let schedule = table(&json, "Schedule");
    let span = |stage: &str| {
        let r = schedule.iter().find(|r| r[0] == stage).unwrap();
        (secs(&r[1]), secs(&r[2]))
    };
    let (rg, up) = (span("release-gate"), span("env-up"));
    assert!(
        rg.0 < up.1 && up.0 < rg.1,
        "release-gate {rg:?} and env-up {up:?} do not overlap:\n{md}"
    );
    assert!(md.contains("- Critical path: "), "{md}");
    for suite in [
        "release-gate",
        "runtime-integration",
        "runtime-health-check",
        "k6-baseline",
        "runtime-monitor-snapshot",
        "k6-distributed",
    ] {
        let (md, _) = latest(&dir, suite); // schema-checked
        assert!(md.contains("- Result: PASS"), "{suite}:\n{md}");
    }
    let junit = std::fs::read_to_string(dir.join("reports/gate/latest/gate-junit.xml")).unwrap();
    assert!(junit.contains("tests=\"10\" failures=\"0\""), "{junit}");
    // The distributed stage saw three replicas share the load.
    let (_, dist) = latest(&dir, "k6-distributed");
    let per_replica = table(&dist, "Requests per replica");
    assert_eq!(per_replica.len(), 3, "{per_replica:?}");
    assert!(
        per_replica
            .iter()
            .all(|r| r[1].parse::<f64>().unwrap() > 0.0),
        "{per_replica:?}"
    );
    // The monitor stage counted the joins of the load test.
    let (_, monitor) = latest(&dir, "runtime-monitor-snapshot");
    let queue = table(&monitor, "Monitor key counts")
        .into_iter()
        .find(|r| r[0] == "QUEUE_MONITOR")
        .unwrap();
    assert!(queue[1].parse::<u64>().unwrap() > 0, "{queue:?}");
    assert!(run.stdout.contains("frontend gate:"), "{}", run.show());
    assert!(port_is_free(23080), "the load balancer still runs");
    the_page_shows_the_whole_gate(&dir, &json);
}

/// The gate's HTML page, in a real browser with no network: the verdict,
/// every stage, every test class, the charts with their data; no console
/// message; screenshots at desktop and phone width.
fn the_page_shows_the_whole_gate(dir: &TempDir, json: &serde_json::Value) {
    let page = dir.join("reports/gate/latest/gate-latest.html");
    let loaded = load(&page);
    let dom = &loaded.dom;
    assert!(loaded.console.is_empty(), "console: {:?}", loaded.console);
    assert!(dom.contains("data-verdict=\"PASS\""), "{dom}");
    assert!(dom.contains("data-ready=\""), "{dom}");
    for stage in table(json, "Stages") {
        assert!(
            dom.contains(&format!("data-stage=\"{}\"", stage[0])),
            "stage {} is not on the time axis",
            stage[0]
        );
    }
    // Every test case of the stages' own JUnit files.
    let mut cases = 0;
    for suite in ["release-gate", "runtime-integration"] {
        let (_, r) = latest(dir, suite);
        let junit = r["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "junit")
            .unwrap_or_else(|| panic!("{suite} lists no junit artifact"));
        let xml = std::fs::read_to_string(root().join(junit["path"].as_str().unwrap())).unwrap();
        for case in xml.split("<testcase").skip(1) {
            let name = case
                .split("name=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            assert!(
                dom.contains(&format!("<td>{name}</td>")),
                "test case {name} is not on the page"
            );
            cases += 1;
        }
    }
    assert!(cases > 10, "only {cases} test cases");
    assert!(dom.contains("data-chart=\"timeline\""));
    let (_, dist) = latest(dir, "k6-distributed");
    for replica in table(&dist, "Requests per replica") {
        assert!(
            dom.contains(&format!(
                "data-label=\"{}\" data-value=\"{}\"",
                replica[0], replica[1]
            )),
            "replica {replica:?} is not in the chart"
        );
    }
    screenshot(&page, 1280, 3200, "gate-desktop.png");
    screenshot(&page, 390, 6000, "gate-phone.png");
}

#[test]
fn a_broken_stage_fails_the_gate_skips_the_rest_and_tears_down() {
    let _serial = common::serial();
    let dir = TempDir::new("gate-broken");
    let run = Xtask::new(&dir, &repo_config(23180))
        .args([
            "gate",
            "--no-setup",
            "--skip",
            "release-gate",
            "--skip",
            "integration",
        ])
        .env("K6_BASELINE_MAX_P95_MS", "0.001")
        .run();
    assert_ne!(run.code, 0, "{}", run.show());
    let (md, json) = latest(&dir, "gate");
    assert!(md.contains("- Result: FAIL"), "{md}");
    let result = |stage: &str| {
        table(&json, "Stages")
            .into_iter()
            .find(|r| r[0] == stage)
            .unwrap()[1]
            .clone()
    };
    assert!(result("k6-baseline").starts_with("FAIL"), "{md}");
    for later in ["ops-monitor", "scale", "k6-distributed"] {
        assert_eq!(result(later), "SKIPPED (k6-baseline failed)", "{md}");
    }
    assert_eq!(result("release-gate"), "SKIPPED (not selected)");
    assert_eq!(
        result("env-down"),
        "PASS",
        "teardown runs whatever failed:\n{md}"
    );
    let (baseline, _) = latest(&dir, "k6-baseline");
    assert!(baseline.contains("above the limit 0.001 ms"), "{baseline}");
    // The crossed limit stands at the top of the gate's page.
    let dom = load(&dir.join("reports/gate/latest/gate-latest.html")).dom;
    let attention = dom.find("Needs attention").expect("an attention list");
    let threshold = dom
        .find("data-attention=\"threshold\"")
        .expect("the crossed limit");
    assert!(attention < threshold && threshold < dom.find("<h2>Stages</h2>").unwrap());
    assert!(port_is_free(23180), "the load balancer still runs");
}

/// READY after a passing gate from a clean checkout, STALE after a new commit.
#[test]
fn gate_status_is_ready_after_a_passing_gate_and_stale_after_a_new_commit() {
    let dir = TempDir::new("gate-status-clone");
    let clone = dir.join("clone");
    let git = |args: &[&str], cwd: &std::path::Path| {
        let out = std::process::Command::new("git")
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .current_dir(cwd)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    git(
        &[
            "clone",
            "-q",
            "--no-hardlinks",
            root().to_str().unwrap(),
            clone.to_str().unwrap(),
        ],
        dir.path(),
    );
    // Only the release gate is required here: quick, and enough to show provenance.
    let config = "[project]\nservice_dir = \"demo\"\n[tools]\napt = []\n[gradle]\noffline = true\n[release_gate]\nclasses = [\"com.ticketrush.demo.queue.QueuePolicyTest\"]\n[gate]\nrequired = [\"release-gate\"]\n";
    std::fs::write(clone.join("gate-test.toml"), config).unwrap();
    // The clone is the project: its root, its config, its git history.
    let in_clone = |args: &[&str]| {
        let out = run(xtask()
            .args([
                "--config",
                "gate-test.toml",
                "--reports-dir",
                clone.join("target/reports").to_str().unwrap(),
            ])
            .args(args)
            .env("CARGO_MANIFEST_DIR", clone.join("xtask"))
            .current_dir(&clone));
        (out.code, out.stdout + &out.stderr)
    };
    // The config file itself is an untracked change: commit it first.
    git(&["add", "gate-test.toml"], &clone);
    git(&["commit", "-q", "-m", "gate test config"], &clone);
    let (code, out) = in_clone(&["gate", "--no-setup", "--only", "release-gate"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = in_clone(&["gate", "status"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("frontend gate: READY"), "{out}");
    git(
        &["commit", "-q", "--allow-empty", "-m", "a new commit"],
        &clone,
    );
    let (code, out) = in_clone(&["gate", "status"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("STALE") && out.contains("not from HEAD"),
        "{out}"
    );
}

#[test]
fn a_monitor_minimum_above_the_count_fails_the_snapshot() {
    let _serial = common::serial();
    let dir = TempDir::new("gate-monitor-min");
    let config = repo_config(23280).replace(
        "[ops.monitor]\n",
        "[ops.monitor]\nmin = { QUEUE_MONITOR = 1000000000 }\n",
    );
    assert!(config.contains("QUEUE_MONITOR = 1000000000"), "{config}");
    let run = Xtask::new(&dir, &config)
        .args([
            "gate",
            "--no-setup",
            "--keep-going",
            "--only",
            "k6-baseline",
            "--only",
            "ops-monitor",
        ])
        .env("K6_DURATION", "3s")
        .run();
    assert_ne!(run.code, 0, "{}", run.show());
    let (md, json) = latest(&dir, "runtime-monitor-snapshot");
    assert!(md.contains("- Result: FAIL"), "{md}");
    let t = json["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"].as_str().unwrap().contains("QUEUE_MONITOR"))
        .unwrap()
        .clone();
    assert_eq!(t["ok"], false, "{t}");
    assert!(
        t["observed"].as_f64().unwrap() > 0.0,
        "the load test's joins were counted: {t}"
    );
    assert!(port_is_free(23280));
}
