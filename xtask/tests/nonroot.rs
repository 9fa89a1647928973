//! As on GitHub's runners: the xtask run by a user who is not root, with
//! passwordless sudo. `setup` (and `gate`, which runs it first) installs a
//! missing Debian package through `sudo -n`; without passwordless sudo it
//! prints the one command to run. A real user (useradd), real sudo, real
//! apt-get installing a real (tiny) package, removed again afterwards.
//!
//! Ignored by default (it installs a package and adds a user and a sudoers
//! file); `cargo xtask ci` runs it, as root or through passwordless sudo:
//! `cargo test -p xtask --test nonroot -- --ignored`.

mod common;

use std::{
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::Command,
};

use common::TempDir;

const USER: &str = "xtnonroot";
/// Small, in Debian main, nothing depends on it.
const PACKAGE: &str = "sl";
const SUDOERS: &str = "/etc/sudoers.d/xtask-nonroot-test";

/// `argv` as root: directly, or through passwordless sudo.
fn as_root(argv: &[&str]) -> std::process::Output {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let mut c = if root {
        let mut c = Command::new(argv[0]);
        c.args(&argv[1..]);
        c
    } else {
        let mut c = Command::new("sudo");
        c.arg("-n").args(argv);
        c
    };
    c.env("DEBIAN_FRONTEND", "noninteractive")
        .output()
        .unwrap_or_else(|e| panic!("{argv:?}: {e}"))
}

fn ok(argv: &[&str]) {
    let out = as_root(argv);
    assert!(
        out.status.success(),
        "{argv:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn installed(pkg: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", pkg])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).ends_with("install ok installed"))
}

fn id(flag: &str) -> u32 {
    let out = Command::new("id").args([flag, USER]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// Removes the sudoers file and the package whatever happens.
struct Cleanup;
impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = as_root(&["rm", "-f", SUDOERS]);
        if installed(PACKAGE) {
            let _ = as_root(&["apt-get", "remove", "-y", PACKAGE]);
        }
    }
}

/// The built xtask run as the test user, with a config asking for PACKAGE.
fn xtask_as_user(dir: &Path, args: &[&str]) -> common::Run {
    let mut c = common::xtask();
    c.arg("--config")
        .arg(dir.join("xtask.toml"))
        .arg("--reports-dir")
        .arg(dir.join("reports"))
        .args(args)
        .uid(id("-u"))
        .gid(id("-g"))
        .env("HOME", format!("/home/{USER}"))
        .env("USER", USER);
    common::run(&mut c)
}

fn workdir() -> (TempDir, PathBuf) {
    let dir = TempDir::outside_repo("nonroot");
    std::fs::write(
        dir.join("xtask.toml"),
        format!("[project]\nservice_dir = \"demo\"\n[tools]\napt = [\"{PACKAGE}\"]\n"),
    )
    .unwrap();
    // The user reads the config and writes the reports.
    ok(&["chown", "-R", USER, &dir.path().display().to_string()]);
    let p = dir.path().to_path_buf();
    (dir, p)
}

#[test]
#[ignore = "adds a user and a sudoers file and installs a package: cargo xtask ci runs it"]
fn a_user_with_passwordless_sudo_gets_setup_and_gate_to_install_through_sudo() {
    assert!(
        common::which("sudo").is_some(),
        "sudo is needed for this test: `cargo xtask ci` installs it (apt-get install sudo)"
    );
    if Command::new("id")
        .arg(USER)
        .output()
        .is_ok_and(|o| !o.status.success())
    {
        ok(&["useradd", "--create-home", "--shell", "/bin/sh", USER]);
    }
    let _cleanup = Cleanup;
    if installed(PACKAGE) {
        ok(&["apt-get", "remove", "-y", PACKAGE]);
    }
    let (_dir, dir) = workdir();

    // Without passwordless sudo: the one command to run, nothing installed.
    let _ = as_root(&["rm", "-f", SUDOERS]);
    let run = xtask_as_user(&dir, &["setup"]);
    assert_eq!(run.code, 1, "{}", run.show());
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.show());
    assert!(
        run.stderr.contains(&format!(
            "install them with: sudo sh -c 'apt-get update && apt-get install -y --no-install-recommends {PACKAGE}'"
        )),
        "{}",
        run.show()
    );
    assert!(!installed(PACKAGE));

    // With it, `gate` installs it through `sudo -n` before its stages
    // (whatever they make of a user who cannot write the demo's build) ...
    std::fs::write(
        "/tmp/xtask-nonroot-sudoers",
        format!("{USER} ALL=(ALL) NOPASSWD: ALL\n"),
    )
    .unwrap();
    ok(&[
        "install",
        "-m",
        "0440",
        "/tmp/xtask-nonroot-sudoers",
        SUDOERS,
    ]);
    let _ = std::fs::remove_file("/tmp/xtask-nonroot-sudoers");
    let run = xtask_as_user(&dir, &["gate", "--only", "release-gate"]);
    assert!(
        run.stderr.contains(&format!(
            "==> apt-get install: sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends -- {PACKAGE}"
        )),
        "{}",
        run.show()
    );
    assert!(installed(PACKAGE), "{}", run.show());

    // ... and so does `setup`.
    ok(&["apt-get", "remove", "-y", PACKAGE]);
    let run = xtask_as_user(&dir, &["setup"]);
    assert_eq!(run.code, 0, "{}", run.show());
    assert!(run.stderr.contains("(through sudo -n)"), "{}", run.show());
    assert!(installed(PACKAGE), "{}", run.show());
    // Idempotent: nothing to do the second time.
    let run = xtask_as_user(&dir, &["setup"]);
    assert_eq!(run.code, 0, "{}", run.show());
    assert!(!run.stderr.contains("installing"), "{}", run.show());
}
