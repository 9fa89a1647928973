//! `cargo xtask api-scripts`, the suite that replaced run-api-script-tests.sh:
//! the same selection, health variables, push mode and "no script selected"
//! exit; a result, duration and log per script in the report and the JUnit
//! file; the caller's API_HOST untouched; a dry run that sends nothing. The
//! demo's own v*.sh scripts run against the real demo service.

mod common;

use std::{
    io::{BufRead, BufReader, Write},
    net::TcpListener,
    path::Path,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
};

use common::*;

/// A stand-in API answering `status` to everything, counting requests.
fn status_api(status: u16) -> (u16, Arc<AtomicUsize>) {
    let l = listen_in(K6_PORTS);
    let port = l.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || serve(l, status, counter));
    (port, hits)
}

fn serve(l: TcpListener, status: u16, hits: Arc<AtomicUsize>) {
    for mut c in l.incoming().flatten() {
        hits.fetch_add(1, Ordering::SeqCst);
        let mut r = BufReader::new(c.try_clone().unwrap());
        let mut line = String::new();
        while r.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
            line.clear();
        }
        let _ = write!(
            c,
            "HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\n[]"
        );
    }
}

/// A scripts folder: `(name, body)`; every file executable.
fn scripts(dir: &TempDir, files: &[(&str, &str)]) -> std::path::PathBuf {
    let d = dir.join("scripts/api");
    std::fs::create_dir_all(&d).unwrap();
    for (name, body) in files {
        std::fs::write(d.join(name), format!("#!/usr/bin/env bash\n{body}\n")).unwrap();
    }
    d
}

/// The scripts folder's parent is the test's own service folder: suite
/// locks live beside the service, so parallel tests need one each.
fn config(dir: &Path, health_port: u16, extra: &str) -> String {
    format!(
        "[project]\nservice_dir = \"{}\"\n[api_scripts]\ndir = \"{}\"\nhealth_url = \"http://127.0.0.1:{health_port}/api/concerts\"\ntimeout = \"30s\"\n{extra}",
        dir.parent().unwrap().parent().unwrap().display(),
        dir.display()
    )
}

#[test]
fn the_demo_scripts_pass_against_the_running_demo() {
    let _demo_lock = serial();
    let demo = Demo::start("api-scripts", &["app-1"], 1);
    let dir = TempDir::new("api-demo");
    let cfg = format!(
        "[project]\nservice_dir = \"{}\"\n[api_scripts]\ndir = \"{}\"\n",
        root().join("demo").display(),
        root().join("demo/scripts/api").display()
    );
    let run = Xtask::new(&dir, &cfg)
        .arg("api-scripts")
        .env("API_HOST", demo.api())
        .env(
            "API_SCRIPT_HEALTH_URL",
            format!("{}/api/concerts", demo.api()),
        )
        .run();
    assert_eq!(run.code, 0, "{}", run.show());
    let (md, json) = latest(&dir, "api-scripts");
    assert!(md.contains("- Result: PASS"), "{md}");
    let rows = table(&json, "Execution Matrix");
    let names: Vec<_> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        names,
        [
            "v1-concerts.sh",
            "v2-waiting-queue-join.sh",
            "v3-join-validation.sh"
        ]
    );
    for r in &rows {
        assert_eq!((r[1].as_str(), r[2].as_str()), ("PASS", "0"), "{r:?}");
        let log = std::fs::read_to_string(root().join(&r[4]))
            .unwrap_or_else(|e| panic!("log {}: {e}", r[4]));
        assert!(log.contains("PASS"), "{log}");
    }
    let junit =
        std::fs::read_to_string(dir.join("reports/api-scripts/latest/api-scripts-junit.xml"))
            .unwrap();
    assert!(junit.contains("tests=\"3\" failures=\"0\""), "{junit}");
}

#[test]
fn results_durations_logs_and_junit_per_script_with_the_callers_api_host() {
    let dir = TempDir::new("api-matrix");
    let (health, _) = status_api(200);
    let d = scripts(
        &dir,
        &[
            // The caller's API_HOST reaches the script as it is.
            (
                "v1-host.sh",
                "echo \"host=$API_HOST\"; test \"$API_HOST\" = http://caller.invalid:1",
            ),
            ("v2-fails.sh", "echo broken; exit 3"),
            ("v7-sse-only.sh", "exit 0"),
            ("a1-second-kind.sh", "exit 0"),
            ("common.sh", "exit 9"),
            ("run-api-script-tests.sh", "exit 9"),
        ],
    );
    let cfg = config(
        &d,
        health,
        "push_mode_only = { \"v7-sse-only.sh\" = \"sse\" }\n",
    );
    let run = Xtask::new(&dir, &cfg)
        .arg("api-scripts")
        .env("API_HOST", "http://caller.invalid:1")
        .run();
    assert_eq!(run.code, 1, "{}", run.show());
    let (md, json) = latest(&dir, "api-scripts");
    assert!(md.contains("- Result: FAIL"), "{md}");
    assert!(md.contains("- Push Mode: websocket"), "{md}");
    assert!(
        md.contains("- Passed: 2") && md.contains("- Failed: 1") && md.contains("- Skipped: 1"),
        "{md}"
    );
    let rows = table(&json, "Execution Matrix");
    let got: Vec<_> = rows
        .iter()
        .map(|r| (r[0].as_str(), r[1].as_str(), r[2].as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("a1-second-kind.sh", "PASS", "0"),
            ("v1-host.sh", "PASS", "0"),
            ("v2-fails.sh", "FAIL", "3"),
            ("v7-sse-only.sh", "SKIP", "-"),
        ]
    );
    let host_log = root().join(&rows[1][4]);
    assert!(std::fs::read_to_string(&host_log)
        .unwrap()
        .contains("host=http://caller.invalid:1"));
    assert!(
        notes(&json)
            .iter()
            .any(|n| n.contains("`v2-fails.sh` failed: exit 3")),
        "{:?}",
        notes(&json)
    );
    let junit =
        std::fs::read_to_string(dir.join("reports/api-scripts/latest/api-scripts-junit.xml"))
            .unwrap();
    assert!(
        junit.contains("tests=\"4\" failures=\"1\" errors=\"0\" skipped=\"1\""),
        "{junit}"
    );
    assert!(
        junit.contains("name=\"v2-fails.sh\"") && junit.contains("broken"),
        "{junit}"
    );
    assert!(junit.contains("requires APP_PUSH_MODE=sse"), "{junit}");

    // APP_PUSH_MODE=sse runs the sse script; named scripts outside the
    // pattern or the folder are dropped, as before.
    let run = Xtask::new(&dir, &cfg)
        .args(["api-scripts", "v7-sse-only.sh", "common.sh"])
        .env("APP_PUSH_MODE", "SSE")
        .run();
    assert_eq!(run.code, 0, "{}", run.show());
    let (_, json) = latest(&dir, "api-scripts");
    let rows = table(&json, "Execution Matrix");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        (rows[0][0].as_str(), rows[0][1].as_str()),
        ("v7-sse-only.sh", "PASS")
    );
}

#[test]
fn the_health_url_comes_from_the_legacy_variables_in_their_order() {
    let dir = TempDir::new("api-health");
    let (down, _) = status_api(503);
    let (up, _) = status_api(200);
    let d = scripts(&dir, &[("v1-ok.sh", "exit 0")]);
    let cfg = config(&d, down, "");
    // TICKETRUSH_HEALTH_URL when API_SCRIPT_HEALTH_URL is unset...
    let run = Xtask::new(&dir, &cfg)
        .arg("api-scripts")
        .env(
            "TICKETRUSH_HEALTH_URL",
            format!("http://127.0.0.1:{up}/api/concerts"),
        )
        .run();
    assert_eq!(run.code, 0, "{}", run.show());
    // ...and API_SCRIPT_HEALTH_URL first.
    let run = Xtask::new(&dir, &cfg)
        .arg("api-scripts")
        .env(
            "TICKETRUSH_HEALTH_URL",
            format!("http://127.0.0.1:{up}/api/concerts"),
        )
        .env(
            "API_SCRIPT_HEALTH_URL",
            format!("http://127.0.0.1:{down}/api/concerts"),
        )
        .run();
    assert_eq!(run.code, 1, "{}", run.show());
    let (md, _) = latest(&dir, "api-scripts");
    assert!(md.contains("- Reason: Backend health check failed"), "{md}");
    assert!(md.contains("- Health Status Code: 503"), "{md}");
    assert!(
        md.contains(&format!(
            "- Health URL: http://127.0.0.1:{down}/api/concerts"
        )),
        "{md}"
    );
}

#[test]
fn no_script_selected_exits_0_and_a_bad_push_mode_is_one_line() {
    let dir = TempDir::new("api-none");
    let (health, hits) = status_api(200);
    let d = scripts(&dir, &[("common.sh", "exit 9")]);
    let cfg = config(&d, health, "");
    let run = Xtask::new(&dir, &cfg).arg("api-scripts").run();
    assert_eq!(run.code, 0, "{}", run.show());
    assert!(run.stderr.contains("no script selected"), "{}", run.show());
    assert!(!dir.join("reports/api-scripts").exists());
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "nothing to run, nothing probed"
    );

    let run = Xtask::new(&dir, &cfg)
        .arg("api-scripts")
        .env("APP_PUSH_MODE", "kafka")
        .run();
    assert_eq!(run.code, 1, "{}", run.show());
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.show());
    assert!(run.stderr.contains("APP_PUSH_MODE=kafka"), "{}", run.show());
}

#[test]
fn a_dry_run_sends_no_probe_and_drops_no_script() {
    let dir = TempDir::new("api-dry");
    // The API is down: a dry run must still show every script.
    let (health, hits) = status_api(503);
    let d = scripts(
        &dir,
        &[
            ("v1-a.sh", "exit 0"),
            ("v2-b.sh", "exit 0"),
            ("v7-sse.sh", "exit 0"),
        ],
    );
    let only_sse = "push_mode_only = { \"v7-sse.sh\" = \"sse\" }\n";
    let run = Xtask::new(&dir, &config(&d, health, only_sse))
        .args(["--dry-run", "api-scripts"])
        .run();
    assert_eq!(run.code, 0, "{}", run.show());
    assert!(
        run.stdout.contains(&format!(
            "[dry-run] probe GET http://127.0.0.1:{health}/api/concerts"
        )),
        "{}",
        run.show()
    );
    for s in ["v1-a.sh", "v2-b.sh"] {
        assert!(
            run.stdout
                .contains(&format!("bash {}", d.join(s).display())),
            "{}",
            run.show()
        );
    }
    assert!(
        run.stdout
            .contains("[dry-run] skip v7-sse.sh: requires APP_PUSH_MODE=sse"),
        "{}",
        run.show()
    );
    assert_eq!(hits.load(Ordering::SeqCst), 0, "a dry run sends no probe");
    assert!(!dir.join("reports").exists());
}
