//! Unit tests of the runner: deadlines and process groups, the tee to the log with secrets
//! masked, exit codes and signals, missing tools, dry-run, background services.

use super::*;

fn tmpdir(name: &str) -> Utf8PathBuf {
    let d = Utf8PathBuf::from_path_buf(std::env::temp_dir())
        .unwrap()
        .join(format!("xtask-runner-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn runner(dir: &Utf8Path) -> Runner {
    let r = Runner::new(dir.to_owned(), false, Verbosity::Quiet);
    r.set_log(&dir.join("run.log")).unwrap();
    r
}

/// Alive and not a zombie.
fn alive(pid: i32) -> bool {
    procfs::is_running(pid as u32, None)
}

#[test]
fn hung_child_and_its_grandchild_die_at_the_deadline() {
    let d = tmpdir("deadline");
    let pidfile = d.join("grandchild.pid");
    // A stand-in for a hung tool: starts a grandchild, then waits forever.
    let step = Step::new("hang", "sh")
        .args(["-c", &format!("sleep 300 & echo $! > {pidfile}; wait")])
        .deadline(Duration::from_millis(700))
        .grace(Duration::from_millis(300));
    let t = Instant::now();
    let rec = runner(&d).run(&step).unwrap();
    assert_eq!(rec.outcome, Outcome::TimedOut { after_ms: 700 });
    assert!(t.elapsed() < Duration::from_secs(5));
    let grandchild: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert!(!alive(grandchild), "grandchild {grandchild} survived");
    assert_eq!(rec.outcome.exit_code(), 124);
    assert!(rec.outcome.describe().starts_with("timed out after"));
}

#[test]
fn output_is_teed_to_the_log_line_by_line_with_secrets_masked() {
    let d = tmpdir("tee");
    crate::redact::note("RUNNER_TEST_TOKEN", "tok-5531-secret");
    let step = Step::new("echo", "sh").args([
        "-c",
        "echo one; echo two >&2; printf 'tok-5531-secret\\nno newline'",
    ]);
    let rec = runner(&d).run(&step).unwrap();
    assert!(rec.ok());
    let log = std::fs::read_to_string(d.join("run.log")).unwrap();
    assert!(log.contains("one\ntwo\n***\nno newline\n"), "{log}");
    assert!(!log.contains("tok-5531"));
}

#[test]
fn exit_codes_and_signals_are_recorded() {
    let d = tmpdir("codes");
    let r = runner(&d);
    let rec = r
        .run(&Step::new("fail", "sh").args(["-c", "exit 3"]))
        .unwrap();
    assert_eq!(
        (rec.outcome.clone(), rec.ok(), rec.outcome.exit_code()),
        (Outcome::Exited { code: 3 }, false, 3)
    );
    let rec = r
        .run(&Step::new("killed", "sh").args(["-c", "kill -9 $$"]))
        .unwrap();
    assert_eq!(
        rec.outcome,
        Outcome::Signaled {
            signal: libc::SIGKILL
        }
    );
    assert_eq!(rec.log.as_deref(), Some(Utf8Path::new("run.log")));
}

#[test]
fn missing_program_names_the_tool_and_how_to_install_it() {
    let d = tmpdir("missing");
    let e = runner(&d)
        .run(&Step::new("k6", "k6-not-installed-here").hint("run `cargo xtask setup`"))
        .unwrap_err();
    let m = e
        .downcast_ref::<MissingTool>()
        .expect("a MissingTool error");
    assert_eq!(m.tool, "k6-not-installed-here");
    assert_eq!(
        e.to_string(),
        "`k6-not-installed-here` not found on PATH: run `cargo xtask setup`"
    );
}

#[test]
fn require_is_the_missing_tool_check_without_running_anything() {
    Step::new("sh", "sh").require().unwrap();
    let e = Step::new("gradle", "gradle-not-installed-here")
        .hint("apt-get install gradle")
        .require()
        .unwrap_err();
    assert!(e.downcast_ref::<MissingTool>().is_some());
    assert_eq!(
        e.to_string(),
        "`gradle-not-installed-here` not found on PATH: apt-get install gradle"
    );
}

#[test]
fn read_replaces_bytes_that_are_not_utf8_instead_of_failing() {
    // `docker compose logs` passes on whatever the app printed.
    let d = tmpdir("read-bytes");
    let out = runner(&d)
        .read(&Step::new("logs", "printf").arg("QUEUE_MONITOR \\377\\376 x\\n"))
        .unwrap();
    assert_eq!(out, "QUEUE_MONITOR \u{fffd}\u{fffd} x");
}

#[test]
fn read_with_streams_more_than_a_question_may_hold_and_checks_the_exit() {
    // `kubectl logs` of a k6 runner: 20 MiB, past read's 16 MiB cap.
    let d = tmpdir("read-with");
    let r = runner(&d);
    let step = Step::new("logs", "sh").args(["-c", "head -c 20971520 /dev/zero"]);
    let n = r
        .read_with(&step, |out| {
            std::io::copy(out, &mut std::io::sink()).unwrap()
        })
        .unwrap();
    assert_eq!(n, 20 << 20);
    let failed = Step::new("logs", "sh").args(["-c", "echo partial; exit 3"]);
    let e = r.read_with(&failed, |_| ()).unwrap_err();
    assert!(e.to_string().contains("exit 3"), "{e}");
}

#[test]
fn endless_line_does_not_grow_memory() {
    // 8 MiB without a newline arrives in 64 KiB pieces.
    let d = tmpdir("longline");
    let step = Step::new("long", "sh").args(["-c", "head -c 8388608 /dev/zero | tr '\\0' x"]);
    let rec = runner(&d).run(&step).unwrap();
    assert!(rec.ok());
    let log = std::fs::read_to_string(d.join("run.log")).unwrap();
    assert!(log
        .lines()
        .filter(|l| l.starts_with('x'))
        .all(|l| l.len() <= 64 * 1024));
}

#[test]
fn dry_run_runs_nothing() {
    let d = tmpdir("dry");
    let r = Runner::new(d.clone(), true, Verbosity::Quiet);
    let marker = d.join("ran");
    let rec = r
        .run(&Step::new("touch", "touch").arg(marker.as_str()))
        .unwrap();
    assert_eq!(rec.outcome, Outcome::DryRun);
    assert!(!marker.exists());
}

#[test]
fn dry_run_reads_what_only_observes_and_prints_the_rest() {
    let d = tmpdir("dry-read");
    let r = Runner::new(d.clone(), true, Verbosity::Quiet);
    // A read-only question decides the plan: it runs.
    let seen = r
        .read(&Step::new("echo", "echo").arg("answer").read_only())
        .unwrap();
    assert_eq!(seen, "answer");
    // Anything else is printed, not run, and answers nothing.
    let marker = d.join("ran");
    let out = r
        .read(&Step::new("touch", "touch").arg(marker.as_str()))
        .unwrap();
    assert_eq!(out, "");
    assert!(!marker.exists());
    // And a read-only step runs through `run` as well.
    let rec = r
        .run(&Step::new("touch", "touch").arg(marker.as_str()).read_only())
        .unwrap();
    assert!(rec.ok() && marker.exists(), "{rec:?}");
}

#[test]
fn a_hung_read_and_its_grandchild_die_at_the_deadline() {
    let d = tmpdir("read-deadline");
    let pidfile = d.join("grandchild.pid");
    // A question that never answers, holding its output open in a grandchild.
    let step = Step::new("hang", "sh")
        .args(["-c", &format!("sleep 300 & echo $! > {pidfile}; wait")])
        .deadline(Duration::from_millis(700))
        .grace(Duration::from_millis(300))
        .read_only();
    let t = Instant::now();
    let a = ask(&step).unwrap();
    assert_eq!(a.outcome, Outcome::TimedOut { after_ms: 700 });
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    let e = runner(&d).read(&step).unwrap_err().to_string();
    assert!(e.contains("timed out after"), "{e}");
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(!alive(pid), "grandchild {pid} survived the read's deadline");
}

#[test]
fn a_read_leads_its_own_process_group_and_keeps_stderr() {
    // `ps -o pgid= -p $$`: the shell's group is its own pid, not ours.
    let a = ask(&Step::new("pgid", "sh")
        .args(["-c", "echo $$ $(ps -o pgid= -p $$); echo why >&2; exit 3"])
        .read_only())
    .unwrap();
    let f: Vec<&str> = a.stdout.split_whitespace().collect();
    assert_eq!(f.len(), 2, "{a:?}");
    assert_eq!(f[0], f[1], "the read is not its own group leader: {a:?}");
    // SAFETY: getpgrp cannot fail.
    assert_ne!(f[1], unsafe { libc::getpgrp() }.to_string());
    assert_eq!(a.outcome, Outcome::Exited { code: 3 });
    assert_eq!(a.first_error_line(), "why");
}

#[test]
fn ask_refuses_a_step_that_may_change_something() {
    let e = ask(&Step::new("touch", "touch").arg("/nonexistent/x"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("not marked read-only"), "{e}");
}

#[test]
fn display_quotes_like_a_shell_and_masks_secrets() {
    let s = Step::new("x", "k6")
        .args(["run", "a b.js", "--summary-trend-stats", "avg,p(95)"])
        .env("DB_PASSWORD", "pw")
        .cwd("/tmp");
    assert_eq!(
        s.display(),
        "(cd /tmp) DB_PASSWORD='***' k6 run 'a b.js' --summary-trend-stats 'avg,p(95)'"
    );
}

#[test]
fn background_service_stops_with_its_group() {
    let d = tmpdir("service");
    let r = runner(&d);
    let step = Step::new("svc", "sh")
        .args(["-c", "sleep 300 & sleep 300"])
        .grace(Duration::from_millis(500));
    let mut svc = r.spawn_service(&step, &d.join("svc.log")).unwrap();
    let pid = svc.pid() as i32;
    assert!(alive(pid));
    svc.stop();
    drop(svc);
    std::thread::sleep(Duration::from_millis(100));
    // Zombies may linger where pid 1 does not reap; they are dead all the same.
    let out = std::process::Command::new("pgrep")
        .args(["-g", &pid.to_string()])
        .output()
        .unwrap();
    let living: Vec<i32> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .filter(|p| alive(*p))
        .collect();
    assert!(living.is_empty(), "group {pid} still has {living:?}");
}

#[test]
fn a_service_kept_running_outlives_its_handle_until_stopped_by_group() {
    let d = tmpdir("service-keep");
    let r = runner(&d);
    let step = Step::new("svc", "sh").args(["-c", "sleep 300"]);
    let mut svc = r.spawn_service(&step, &d.join("svc.log")).unwrap();
    let pid = svc.pid() as i32;
    svc.keep_running();
    drop(svc);
    std::thread::sleep(Duration::from_millis(100));
    assert!(alive(pid), "dropping a kept service must not stop it");
    kill_group(pid, libc::SIGKILL);
    let until = Instant::now() + Duration::from_secs(5);
    while alive(pid) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!alive(pid));
}

#[test]
fn a_service_does_not_inherit_our_open_files() {
    let d = tmpdir("service-fds");
    let r = runner(&d);
    // As `flock LOCK cargo xtask env up` hands us its lock: open across exec.
    let held = std::fs::File::create(d.join("held.lock")).unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&held);
    // SAFETY: plain fcntl on a descriptor this test owns.
    unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
    let step = Step::new("svc", "sh").args(["-c", "ls /proc/$$/fd; echo done"]);
    let log = d.join("svc.log");
    let mut svc = r.spawn_service(&step, &log).unwrap();
    let until = Instant::now() + Duration::from_secs(5);
    while svc.exited().is_none() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    let fds: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert!(fds.contains(&"done".to_string()), "{fds:?}");
    assert!(!fds.contains(&fd.to_string()), "fd {fd} leaked: {fds:?}");
}

/// The pieces `pump_lines` hands on for `input`.
fn pieces(input: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![];
    pump_lines(&mut &input[..], |l| out.push(l.to_vec()));
    out
}

#[test]
fn a_secret_across_the_64_kib_cut_is_masked_whole() {
    let secret = "straddle-9f1c-secret";
    crate::redact::note("STRADDLE_TOKEN", secret);
    // The secret starts 5 bytes before the cut (the example), and at
    // every offset around it.
    for before_cut in [1, 5, 10, secret.len() - 1] {
        let mut line = vec![b'a'; MAX_LINE - before_cut];
        line.extend_from_slice(secret.as_bytes());
        line.extend_from_slice(b" tail\n");
        let got = pieces(&line);
        assert!(got.len() >= 2, "the line is cut");
        let joined: Vec<u8> = got.concat();
        let text = String::from_utf8_lossy(&joined);
        for p in &got {
            let p = String::from_utf8_lossy(p);
            assert!(
                !p.contains("straddle") && !p.contains("secret"),
                "{before_cut}: {p:.80}"
            );
        }
        assert!(text.ends_with("a*** tail\n"), "{before_cut}");
        assert!(got.iter().all(|p| p.len() <= MAX_LINE));
    }
}

#[test]
fn endless_output_of_secrets_is_cut_and_masked_in_bounded_pieces() {
    crate::redact::note("ENDLESS_TOKEN", "endless-77aa");
    let line: Vec<u8> = "endless-77aa".repeat(20_000).into_bytes();
    let got = pieces(&line);
    assert!(got.iter().all(|p| p.len() <= MAX_LINE && !p.is_empty()));
    let joined = String::from_utf8(got.concat()).unwrap();
    assert_eq!(joined, "***".repeat(20_000));
    // Two secrets meeting at the cut.
    let mut line = vec![b'x'; MAX_LINE - 3];
    line.extend_from_slice(b"endless-77aaendless-77aa\n");
    let joined = String::from_utf8(pieces(&line).concat()).unwrap();
    assert!(
        joined.ends_with("x******\n"),
        "{}",
        &joined[joined.len() - 20..]
    );
}

#[test]
fn an_interrupted_step_is_an_error_and_its_record_is_there_for_who_asks() {
    let d = tmpdir("interrupted");
    let r = runner(&d);
    // A gate stage's cancel reads as an interrupt inside its lane only.
    let lane = lane::Lane::new("stage", &d.join("stage.log"), true, &r).unwrap();
    let _in = lane::enter(Some(Arc::clone(&lane)));
    let canceller = {
        let lane = Arc::clone(&lane);
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            lane.cancel();
        })
    };
    let sleeper = Step::new("sleep", "sleep")
        .arg("30")
        .grace(Duration::from_millis(200));
    let t = Instant::now();
    let e = r.run(&sleeper).unwrap_err();
    canceller.join().unwrap();
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert!(
        matches!(
            e.downcast_ref::<Interrupted>(),
            Some(Interrupted(libc::SIGINT))
        ),
        "{e:#}"
    );
    // A caller whose report keeps the interrupted step (k6, Gradle) gets it.
    let rec = r.run_even_if_interrupted(&sleeper).unwrap();
    assert_eq!(
        rec.outcome,
        Outcome::Interrupted {
            signal: libc::SIGINT
        }
    );
    // Cleanup still runs after the interrupt.
    assert!(r.run(&Step::new("true", "true").cleanup()).unwrap().ok());
}
