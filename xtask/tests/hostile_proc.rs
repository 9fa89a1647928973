//! Issue 11, the process side: a forged environment record, secrets in
//! every line we print, closed pipes, FIFOs, SIGHUP, daemons that escape
//! their group, and locks that do not depend on `--reports-dir`. Stand-ins
//! only for what a real tool cannot show on demand (a Gradle that hangs or
//! leaves a daemon); the end-to-end SIGKILL cases with the real
//! environments are in `tests/reaper.rs`.

mod common;

use std::{
    io::{BufRead, Read},
    os::unix::{ffi::OsStringExt, process::CommandExt},
    path::Path,
    process::{Child, Stdio},
    time::{Duration, Instant},
};

use common::{
    alive, latest, listen_in, path_with, read_pid, stand_in, stub_api, wait_for, TempDir, Xtask,
    RELIABILITY_PORTS,
};

/// A release gate whose Gradle is `body`, on a service folder of its own.
fn gate_config(dir: &TempDir, body: &str) -> String {
    let gradle = stand_in(&dir.join("bin"), "gradle", body);
    std::fs::create_dir_all(dir.join("service")).unwrap();
    format!(
        "[project]\nservice_dir = \"{}\"\n[gradle]\ncommand = \"{}\"\ntimeout = \"3s\"\n[release_gate]\nclasses = [\"com.example.Any\"]\n",
        dir.join("service").display(),
        gradle.display()
    )
}

fn mkfifo(p: &Path) {
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a plain syscall on a valid C string.
    assert_eq!(
        unsafe { libc::mkfifo(c.as_ptr(), 0o600) },
        0,
        "{}",
        p.display()
    );
}

/// Waits for `child` at most `limit`; kills it and fails if it takes longer.
fn wait_within(child: &mut Child, limit: Duration, what: &str) -> std::process::ExitStatus {
    let t = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if t.elapsed() > limit {
            let _ = child.kill();
            panic!("{what}: still running after {limit:?} (it hangs)");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: plain syscall to our own child.
    unsafe { libc::kill(child.id() as i32, sig) };
}

// ---------------------------------------------------------------------------
// 5. A forged reports/env/state.json
// ---------------------------------------------------------------------------

/// `env down` on a record written by hand: refused in one line, nothing run,
/// deleted or signalled; the record is left for the user to look at.
fn env_down_on(dir: &TempDir, state: serde_json::Value) -> common::Run {
    let reports = dir.join("reports");
    std::fs::create_dir_all(reports.join("env")).unwrap();
    std::fs::write(
        reports.join("env/state.json"),
        serde_json::to_vec_pretty(&state).unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.join("xtask.toml"),
        format!(
            "[project]\nservice_dir = \"{}\"\n[environment.compose]\nfile = \"demo/docker-compose.yml\"\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let run = Xtask::with(&dir.join("xtask.toml"), &reports)
        .args(["env", "down"])
        .run();
    assert_eq!(run.code, 1, "{}", run.show());
    assert!(!run.stderr.contains("panicked"), "{}", run.show());
    assert_eq!(run.stderr.lines().count(), 1, "one line: {}", run.show());
    assert!(
        run.stderr.contains("was not written by `env up`"),
        "{}",
        run.show()
    );
    assert!(reports.join("env/state.json").exists(), "left to look at");
    run
}

fn compose_record(run_dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) -> serde_json::Value {
    let mut v = serde_json::json!({
        "started": "2026-01-01T00:00:00Z",
        "health_url": "http://127.0.0.1:24991/api/concerts",
        "replicas": 1,
        "run_dir": run_dir,
        "kind": "compose",
        "command": ["docker-compose"],
        "file": common::root().join("demo/docker-compose.yml"),
        "project": "xtforged",
        "env": [["APP_LB_PORT", "24991"]],
        "created_env_file": null
    });
    edit(&mut v);
    v
}

#[test]
fn a_forged_record_cannot_make_env_down_run_a_program() {
    let dir = TempDir::new("forged-program");
    let canary = dir.join("pwned");
    let run_dir = dir.join("reports/env/x");
    for command in [
        serde_json::json!(["/bin/sh", "-c", format!("touch {}", canary.display())]),
        serde_json::json!(["sh", "-c", format!("touch {}", canary.display())]),
        serde_json::json!(["docker", "--config", "/tmp", "compose"]),
    ] {
        env_down_on(
            &dir,
            compose_record(&run_dir, |v| v["command"] = command.clone()),
        );
        assert!(!canary.exists(), "{command} ran");
    }
    // Nor choose the variables of the programs we do run.
    let run = env_down_on(
        &dir,
        compose_record(&run_dir, |v| {
            v["env"] = serde_json::json!([["LD_PRELOAD", canary], ["APP_LB_PORT", "24991"]])
        }),
    );
    assert!(
        run.stderr.contains("variable LD_PRELOAD="),
        "{}",
        run.show()
    );
}

#[test]
fn a_forged_record_cannot_make_env_down_delete_a_file() {
    let dir = TempDir::new("forged-delete");
    let victim = dir.join("precious.txt");
    std::fs::write(&victim, "keep me").unwrap();
    let run_dir = dir.join("reports/env/x");
    env_down_on(
        &dir,
        compose_record(&run_dir, |v| {
            v["created_env_file"] = serde_json::json!(victim)
        }),
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    // A run folder outside the reports (its env.log would be appended to).
    env_down_on(&dir, compose_record(Path::new("/etc"), |_| {}));
    // A log outside the run folder, a project that is an option.
    env_down_on(
        &dir,
        compose_record(&run_dir, |v| v["project"] = serde_json::json!("--help")),
    );
}

#[test]
fn a_forged_local_record_cannot_make_env_down_signal_a_process() {
    let dir = TempDir::new("forged-signal");
    let mut victim = std::process::Command::new("sleep")
        .arg("300")
        .process_group(0)
        .spawn()
        .unwrap();
    let pid = victim.id();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let ticks: u64 = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .nth(19)
        .unwrap()
        .parse()
        .unwrap();
    let run_dir = dir.join("reports/env/x");
    for marker in [serde_json::json!(null), serde_json::json!("1-1")] {
        let state = serde_json::json!({
            "started": "2026-01-01T00:00:00Z",
            "health_url": "http://127.0.0.1:24992/api/concerts",
            "replicas": 1,
            "run_dir": run_dir,
            "kind": "local",
            "lb_port": 24992,
            "redis_port": 24993,
            "nginx_conf": run_dir.join("nginx/nginx.conf"),
            "processes": [{"name": "redis", "pid": pid, "start_ticks": ticks, "port": 24993,
                           "log": run_dir.join("redis.log"), "marker": marker}]
        });
        let run = env_down_on(&dir, state);
        assert!(run.stderr.contains("did not start it"), "{}", run.show());
        std::thread::sleep(Duration::from_millis(100));
        assert!(alive(pid as i32), "the victim was signalled");
    }
    victim.kill().unwrap();
    victim.wait().unwrap();
}

// ---------------------------------------------------------------------------
// 7. Every line we print is masked, clap's too
// ---------------------------------------------------------------------------

#[test]
fn clap_usage_errors_and_our_own_lines_mask_secrets() {
    let dir = TempDir::new("mask-clap");
    let cfg = "[project]\nservice_dir = \".\"\n";
    // The example: a secret in a URL clap refuses.
    let run = Xtask::new(&dir, cfg)
        .args([
            "k6",
            "run",
            "--api-host",
            "http://u:s3cr3t-9911@127.0.0.1:99999/",
        ])
        .env("API_SECRET", "s3cr3t-9911")
        .run();
    assert_eq!(run.code, 2, "{}", run.show());
    assert!(
        run.stderr.contains("http://u:***@127.0.0.1:99999/"),
        "{}",
        run.show()
    );
    assert!(!run.stderr.contains("s3cr3t"), "{}", run.show());
    // Shorter than 4 bytes, as a value clap echoes.
    let run = Xtask::new(&dir, cfg)
        .args(["k6", "run", "--vus", "q7z"])
        .env("SHORT_TOKEN", "q7z")
        .run();
    assert_eq!(run.code, 2, "{}", run.show());
    assert!(run.stderr.contains("'***'"), "{}", run.show());
    assert!(!run.stderr.contains("q7z"), "{}", run.show());
    // An unknown subcommand that is a secret.
    let run = Xtask::new(&dir, cfg)
        .args(["tok-44aa-secret"])
        .env("RUN_TOKEN", "tok-44aa-secret")
        .run();
    assert_eq!(run.code, 2, "{}", run.show());
    assert!(!run.stderr.contains("tok-44aa"), "{}", run.show());
    // Our own error line, naming a path that holds a secret.
    let run = common::run(
        common::xtask()
            .args(["--config", "/nonexistent/pw-7Hq2x/xtask.toml", "report"])
            .env("DB_PASSWORD", "pw-7Hq2x"),
    );
    assert_eq!(run.code, 1, "{}", run.show());
    assert!(
        run.stderr.contains("/nonexistent/***/xtask.toml"),
        "{}",
        run.show()
    );
}

#[test]
fn a_secret_that_is_not_utf8_is_masked_in_the_log() {
    let dir = TempDir::new("mask-bytes");
    let secret: &[u8] = b"caf\xe9-\xff\xfe-77";
    let cfg = gate_config(
        &dir,
        "printf 'gradle says caf\\351-\\377\\376-77 and goes\\n'\nexit 0\n",
    );
    let run = Xtask::new(&dir, &cfg)
        .args(["release-gate"])
        .env(
            "LATIN1_PASSWORD",
            std::ffi::OsString::from_vec(secret.to_vec()),
        )
        .run();
    assert!(!run.stderr.contains("panicked"), "{}", run.show());
    let logs: Vec<u8> = common::files(&dir.join("reports"))
        .into_values()
        .flatten()
        .collect();
    assert!(
        !logs.windows(secret.len()).any(|w| w == secret),
        "the secret reached a file"
    );
    let text = String::from_utf8_lossy(&logs);
    assert!(text.contains("gradle says *** and goes"), "{text}");
}

// ---------------------------------------------------------------------------
// 9. A closed pipe ends our printing quietly
// ---------------------------------------------------------------------------

/// Runs with stdout into a pipe whose reader reads `lines` lines and
/// closes it; the exit status and stderr.
fn with_closed_stdout(mut x: Xtask, lines: usize) -> (i32, String) {
    let mut child = x
        .cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let mut r = std::io::BufReader::new(out);
    for _ in 0..lines {
        let mut l = String::new();
        let _ = r.read_line(&mut l);
    }
    drop(r);
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = wait_within(&mut child, Duration::from_secs(60), "closed pipe");
    (status.code().unwrap_or(-1), err)
}

#[test]
fn a_closed_pipe_never_panics() {
    let dir = TempDir::new("pipe");
    let reports = dir.join("reports");
    // A report to print (`report --json | true`).
    let md = "# r\n\n- Result: PASS\n".repeat(20_000);
    std::fs::create_dir_all(reports.join("k6-run/latest")).unwrap();
    std::fs::write(reports.join("k6-run/latest/k6-run-latest.md"), &md).unwrap();
    std::fs::write(
        reports.join("k6-run/latest/k6-run-latest.json"),
        md.as_bytes(),
    )
    .unwrap();
    let cfg = "[project]\nservice_dir = \"demo\"\n";
    for (args, lines) in [
        (vec!["report", "k6-run"], 0),
        (vec!["report", "--json", "k6-run"], 0),
        (vec!["report"], 0),
        (vec!["--dry-run", "gate"], 1),
        (vec!["--help"], 1),
        (vec!["gate", "--help"], 0),
    ] {
        let (code, err) = with_closed_stdout(Xtask::new(&dir, cfg).args(&args), lines);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(!err.contains("Broken pipe"), "{args:?}: {err}");
        assert_eq!(code, 0, "{args:?}: {err}");
    }
}

// ---------------------------------------------------------------------------
// 11. FIFOs never hang it; every wait is interruptible
// ---------------------------------------------------------------------------

#[test]
fn a_fifo_as_the_config_or_a_latest_report_is_refused_at_once() {
    let dir = TempDir::new("fifo");
    let fifo = dir.join("xtask.toml");
    mkfifo(&fifo);
    let mut child = common::xtask()
        .args(["--config"])
        .arg(&fifo)
        .arg("report")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let st = wait_within(&mut child, Duration::from_secs(10), "a FIFO as the config");
    assert_eq!(st.code(), Some(1));
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(
        err.contains("it is a named pipe (FIFO), not a regular file"),
        "{err}"
    );

    let reports = dir.join("reports");
    std::fs::create_dir_all(reports.join("release-gate/latest")).unwrap();
    mkfifo(&reports.join("release-gate/latest/release-gate-latest.md"));
    mkfifo(&reports.join("release-gate/latest/release-gate-latest.json"));
    std::fs::write(
        dir.join("ok.toml"),
        "[project]\nservice_dir = \"demo\"\n[gate]\nrequired = [\"release-gate\"]\n",
    )
    .unwrap();
    for args in [
        vec!["report", "release-gate"],
        vec!["report", "--json", "release-gate"],
        vec!["gate", "status"],
    ] {
        let mut child = Xtask::with(&dir.join("ok.toml"), &reports)
            .args(&args)
            .cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let st = wait_within(&mut child, Duration::from_secs(10), &format!("{args:?}"));
        assert_ne!(st.code(), Some(0), "{args:?}: a FIFO is no report");
    }
}

#[test]
fn a_fifo_as_the_k6_summary_is_a_fail_saying_so() {
    let dir = TempDir::new("fifo-summary");
    let bin = dir.join("bin");
    stand_in(
        &bin,
        "k6",
        "while [ $# -gt 0 ]; do [ \"$1\" = --summary-export ] && out=$2; shift; done\nrm -f \"$out\"; mkfifo \"$out\"\nexit 0\n",
    );
    std::fs::create_dir_all(dir.join("service")).unwrap();
    let cfg = format!(
        "[project]\nservice_dir = \"{}\"\n[tools]\ndir = \"{}\"\n[k6]\nscript = \"demo/perf/waiting-queue-join.js\"\n",
        dir.join("service").display(),
        dir.join("tools").display()
    );
    let api = stub_api(listen_in(RELIABILITY_PORTS));
    let mut child = Xtask::new(&dir, &cfg)
        .args(["k6", "run", "--duration", "1s", "--api-host"])
        .arg(format!("http://127.0.0.1:{api}"))
        .env("PATH", path_with(&[&bin]))
        .cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let st = wait_within(
        &mut child,
        Duration::from_secs(30),
        "a FIFO as the k6 summary",
    );
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(st.code(), Some(1), "{err}");
    let (md, _) = latest(&dir, "k6");
    assert!(md.contains("- Result: FAIL"), "{md}");
    assert!(md.contains("named pipe (FIFO)"), "{md}");
}

#[test]
fn a_hung_question_to_a_tool_is_interruptible() {
    // `docker compose version` that never answers: env up waits on it.
    let dir = TempDir::new("hung-read");
    let bin = dir.join("bin");
    stand_in(&bin, "docker", "sleep 300\n");
    stand_in(&bin, "docker-compose", "sleep 300\n");
    std::fs::create_dir_all(dir.join("service")).unwrap();
    let cfg = format!(
        "[project]\nservice_dir = \"{}\"\n[environment.compose]\nfile = \"demo/docker-compose.yml\"\n",
        dir.join("service").display()
    );
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        let mut child = Xtask::new(&dir, &cfg)
            .args([
                "env",
                "up",
                "--env",
                "compose",
                "--health-url",
                "http://127.0.0.1:24994/",
            ])
            .env("PATH", path_with(&[&bin]))
            .cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let marker = child.id();
        wait_for("the stand-in docker", Duration::from_secs(20), || {
            common::processes_mentioning(&format!("XTASK_RUN={marker}-"))
                .iter()
                .any(|(_, c)| c.contains("sleep 300") || c.contains("docker"))
        });
        signal(&child, sig);
        let st = wait_within(
            &mut child,
            Duration::from_secs(7),
            "an interrupted question",
        );
        assert_eq!(st.code(), Some(128 + sig));
        std::thread::sleep(Duration::from_millis(200));
        assert!(
            common::processes_mentioning(&format!("XTASK_RUN={marker}-")).is_empty(),
            "the stand-in survived"
        );
    }
}

// ---------------------------------------------------------------------------
// 12. SIGHUP is an interrupt
// ---------------------------------------------------------------------------

#[test]
fn sighup_writes_the_report_stops_the_children_and_frees_the_lock() {
    let dir = TempDir::new("sighup");
    let pidfile = dir.join("grandchild.pid");
    let cfg = gate_config(
        &dir,
        &format!("sleep 300 &\necho $! > {}\nwait\n", pidfile.display()),
    )
    .replace("timeout = \"3s\"", "timeout = \"5m\"");
    let mut child = Xtask::new(&dir, &cfg)
        .args(["release-gate"])
        .cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the stand-in", Duration::from_secs(30), || pidfile.exists());
    std::thread::sleep(Duration::from_millis(100));
    let grandchild = read_pid(&pidfile);
    signal(&child, libc::SIGHUP);
    let st = wait_within(&mut child, Duration::from_secs(7), "SIGHUP");
    assert_eq!(st.code(), Some(129));
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        !alive(grandchild),
        "Gradle's child survived the closed terminal"
    );
    let (md, json) = latest(&dir, "release-gate");
    assert!(md.contains("- Result: FAIL"), "{md}");
    assert!(
        json["notes"].to_string().contains("interrupted (SIGHUP)"),
        "{json:#}"
    );
    // The lock went with it: the next run starts.
    std::fs::remove_file(&pidfile).unwrap();
    let cfg = gate_config(&dir, "exit 0\n");
    let run = Xtask::new(&dir, &cfg).args(["release-gate"]).run();
    assert!(!run.stderr.contains("already running"), "{}", run.show());
}

// ---------------------------------------------------------------------------
// 13. Daemons do not survive the step, nor hold us past the deadline
// ---------------------------------------------------------------------------

#[test]
fn a_setsid_daemon_a_tool_starts_does_not_survive_the_run() {
    let dir = TempDir::new("setsid");
    let pids = dir.join("daemons");
    // Three ways out of the group: setsid, setsid with stdout kept open,
    // and one that also clears its environment (no marker to find it by).
    let cfg = gate_config(
        &dir,
        &format!(
            "setsid sleep 301 > /dev/null 2>&1 < /dev/null &\necho $! >> {p}\n\
             setsid sleep 302 &\necho $! >> {p}\n\
             setsid env -i /bin/sleep 303 > /dev/null 2>&1 < /dev/null &\necho $! >> {p}\n\
             echo done\nexit 0\n",
            p = pids.display()
        ),
    );
    let t = Instant::now();
    let run = Xtask::new(&dir, &cfg).args(["release-gate"]).run();
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "took {:?}",
        t.elapsed()
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.show());
    std::thread::sleep(Duration::from_millis(200));
    let text = std::fs::read_to_string(&pids).unwrap();
    for pid in text.lines() {
        // `$!` is setsid's pid, which execs the daemon in place.
        let pid: i32 = pid.trim().parse().unwrap();
        assert!(!alive(pid), "daemon {pid} survived the run");
    }
}

#[test]
fn a_daemon_holding_stdout_does_not_hold_us_past_the_deadline() {
    let dir = TempDir::new("stdout-held");
    let pids = dir.join("daemon");
    // Gradle "hangs" (the 3 s deadline) and leaves a daemon that keeps our
    // pipe open in its own session, with its environment cleared.
    let cfg = gate_config(
        &dir,
        &format!(
            "setsid env -i /bin/sleep 300 &\necho $! > {}\nsleep 300\n",
            pids.display()
        ),
    );
    let t = Instant::now();
    let run = Xtask::new(&dir, &cfg).args(["release-gate"]).run();
    let took = t.elapsed();
    assert_eq!(run.code, 124, "{}", run.show());
    // 3 s deadline, 5 s grace at most, and a second for the output.
    assert!(took < Duration::from_secs(12), "took {took:?}");
    std::thread::sleep(Duration::from_millis(200));
    let pid = read_pid(&pids);
    assert!(!alive(pid), "daemon {pid} survived");
}

// ---------------------------------------------------------------------------
// 15. The suite lock does not depend on --reports-dir
// ---------------------------------------------------------------------------

#[test]
fn the_same_suite_with_another_reports_dir_is_refused_while_one_runs() {
    let dir = TempDir::new("lock-reports");
    let started = dir.join("started");
    let cfg = gate_config(&dir, &format!("touch {}\nsleep 300\n", started.display()))
        .replace("timeout = \"3s\"", "timeout = \"5m\"");
    std::fs::write(dir.join("xtask.toml"), &cfg).unwrap();
    let mut first = Xtask::with(&dir.join("xtask.toml"), &dir.join("reports-a"))
        .args(["release-gate"])
        .cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the first run", Duration::from_secs(30), || {
        started.exists()
    });
    for reports in ["reports-b", "reports-c/nested"] {
        let second = Xtask::with(&dir.join("xtask.toml"), &dir.join(reports))
            .args(["release-gate"])
            .run();
        assert_eq!(second.code, 1, "{}", second.show());
        assert!(
            second.stderr.contains(&format!(
                "suite `release-gate` is already running (pid {}",
                first.id()
            )),
            "{}",
            second.show()
        );
        assert!(!dir.join(reports).join("release-gate/latest").exists());
    }
    // A copy of the config naming the same service is the same service.
    std::fs::write(dir.join("copy.toml"), &cfg).unwrap();
    let third = Xtask::with(&dir.join("copy.toml"), &dir.join("reports-d"))
        .args(["release-gate"])
        .run();
    assert!(
        third.stderr.contains("is already running"),
        "{}",
        third.show()
    );
    signal(&first, libc::SIGTERM);
    wait_within(&mut first, Duration::from_secs(7), "the first run");
}

// ---------------------------------------------------------------------------
// 16. Two suites that run Gradle's tests read only their own results
// ---------------------------------------------------------------------------

#[test]
fn two_suites_running_gradle_at_once_take_turns_and_read_only_their_results() {
    let dir = TempDir::new("results");
    let service = dir.join("service");
    // Each stand-in writes one result file named after the suite that ran
    // it (its class filter), after a while.
    let body = "class=unknown\nwhile [ $# -gt 0 ]; do [ \"$1\" = --tests ] && class=$2; shift; done\n\
        mkdir -p build/test-results/test\n\
        sleep 2\n\
        printf '<testsuite name=\"%s\" tests=\"1\" failures=\"0\" errors=\"0\" skipped=\"0\" time=\"0.1\"><testcase name=\"t\" classname=\"%s\" time=\"0.1\"/></testsuite>' \"$class\" \"$class\" > build/test-results/test/TEST-$class.xml\n\
        exit 0\n";
    let gradle = stand_in(&dir.join("bin"), "gradle", body);
    std::fs::create_dir_all(&service).unwrap();
    let cfg = format!(
        "[project]\nservice_dir = \"{}\"\n[gradle]\ncommand = \"{}\"\n[release_gate]\nclasses = [\"com.example.ReleaseTest\"]\n[integration]\nenvironment = \"external\"\nclasses = [\"com.example.IntegrationTest\"]\n[environment]\nhealth_url = \"http://127.0.0.1:{}/api/concerts\"\n",
        service.display(),
        gradle.display(),
        stub_api(listen_in(RELIABILITY_PORTS)),
    );
    std::fs::write(dir.join("xtask.toml"), &cfg).unwrap();
    let spawn = |args: &[&str]| {
        Xtask::with(&dir.join("xtask.toml"), &dir.join("reports"))
            .args(args)
            .cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut a = spawn(&["release-gate"]);
    let mut b = spawn(&["integration"]);
    let sa = wait_within(&mut a, Duration::from_secs(60), "release-gate");
    let sb = wait_within(&mut b, Duration::from_secs(60), "integration");
    let mut err = String::new();
    b.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    let (rg, _) = latest(&dir, "release-gate");
    let (it, _) = latest(&dir, "runtime-integration");
    assert_eq!(
        (sa.code(), sb.code()),
        (Some(0), Some(0)),
        "{rg}\n{it}\n{err}"
    );
    assert!(rg.contains("com.example.ReleaseTest"), "{rg}");
    assert!(!rg.contains("com.example.IntegrationTest"), "{rg}");
    assert!(it.contains("com.example.IntegrationTest"), "{it}");
    assert!(!it.contains("com.example.ReleaseTest"), "{it}");
}
