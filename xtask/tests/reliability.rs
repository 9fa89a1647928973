//! Interrupts, the suite lock and secrets, with a stand-in Gradle that hangs
//! (a real one cannot be made to hang on demand).

mod common;

use std::{
    process::Stdio,
    time::{Duration, Instant},
};

use common::{alive, files, latest, stand_in, wait_for, TempDir, Xtask};

const ENV_CANARY: &str = "canary-env-7731";
const CONFIG_CANARY: &str = "canary-config-8842";

fn setup(name: &str) -> (TempDir, String) {
    let dir = TempDir::new(name);
    let pidfile = dir.join("grandchild.pid");
    let gradle = stand_in(
        dir.path(),
        "gradle",
        &format!(
            "echo 'stand-in gradle: secrets {ENV_CANARY} and {CONFIG_CANARY}'\nsleep 300 &\necho $! > {}\nwait\n",
            pidfile.display()
        ),
    );
    let config = format!(
        "[project]\nservice_dir = \"{}\"\n[gradle]\ncommand = \"{}\"\n[release_gate]\nclasses = [\"com.example.Any\"]\n[environment.local.app_env]\nDB_PASSWORD = \"{CONFIG_CANARY}\"\n",
        dir.path().display(),
        gradle.display()
    );
    (dir, config)
}

/// Waits for the stand-in to write `path`, and a moment more for it to
/// finish writing.
fn wait_for_file(path: &std::path::Path, within: Duration) {
    wait_for(&path.display().to_string(), within, || path.exists());
    std::thread::sleep(Duration::from_millis(100));
}

#[test]
fn interrupt_stops_the_step_writes_fail_interrupted_and_a_second_run_is_refused() {
    let (dir, config) = setup("interrupt");
    let mut first = Xtask::new(&dir, &config)
        .args(["release-gate"])
        .env("CANARY_TOKEN", ENV_CANARY)
        .cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pidfile = dir.join("grandchild.pid");
    wait_for_file(&pidfile, Duration::from_secs(30));
    let grandchild: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();

    // R4: while it runs, a second run of the suite is refused at once, naming the holder.
    let second = Xtask::new(&dir, &config).args(["release-gate"]).run();
    assert_eq!(second.code, 1, "{}", second.show());
    assert!(
        second.stderr.contains(&format!(
            "suite `release-gate` is already running (pid {}",
            first.id()
        )),
        "{}",
        second.show()
    );

    // SIGINT (Ctrl-C): the step's whole group stops, the report says why.
    let t = Instant::now();
    unsafe { libc::kill(first.id() as i32, libc::SIGINT) };
    let status = first.wait().unwrap();
    assert!(
        t.elapsed() < Duration::from_secs(7),
        "took {:?}",
        t.elapsed()
    );
    assert_eq!(status.code(), Some(130));
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        !alive(grandchild),
        "the stand-in's grandchild {grandchild} survived"
    );
    let (md, json) = latest(&dir, "release-gate");
    assert!(md.contains("- Result: FAIL"), "{md}");
    assert!(
        json["notes"].to_string().contains("interrupted (SIGINT)"),
        "{json:#}"
    );

    // R5: neither secret reached the report or the log, though the tool printed both.
    // The reports and the run's log.
    let everything: String = files(&dir.join("reports"))
        .values()
        .map(|bytes| String::from_utf8_lossy(bytes))
        .collect();
    assert!(
        everything.contains("stand-in gradle: secrets *** and ***"),
        "{everything}"
    );
    assert!(
        !everything.contains(ENV_CANARY) && !everything.contains(CONFIG_CANARY),
        "a secret leaked:\n{everything}"
    );
}

#[test]
fn sigterm_is_an_interrupt_too() {
    let (dir, config) = setup("sigterm");
    let mut run = Xtask::new(&dir, &config)
        .args(["-q", "release-gate"])
        .cmd
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_file(&dir.join("grandchild.pid"), Duration::from_secs(30));
    unsafe { libc::kill(run.id() as i32, libc::SIGTERM) };
    assert_eq!(run.wait().unwrap().code(), Some(143));
    let (_, json) = latest(&dir, "release-gate");
    assert!(
        json["notes"].to_string().contains("interrupted (SIGTERM)"),
        "{json:#}"
    );
}
