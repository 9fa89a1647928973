//! Shared by every end-to-end test: the built binary with a clean
//! environment, a temporary config and reports folder; the reports it
//! writes (`reports.rs`, `schema.rs`), ports and HTTP (`net.rs`), processes
//! (`procs.rs`), the demo service run by a test (`demo.rs`), Docker
//! (`docker.rs`), headless Chromium (`browser.rs`) and a stand-in GitHub
//! REST API (`github.rs`).

// Each test binary uses a different part.
#![allow(dead_code, unused_imports)]

mod browser;
mod demo;
mod docker;
mod fixtures;
mod github;
mod net;
mod procs;
mod reports;
mod schema;

pub use browser::*;
pub use demo::*;
pub use docker::*;
pub use fixtures::*;
pub use github::*;
pub use net::*;
pub use procs::*;
pub use reports::*;
pub use schema::*;

use std::{
    ffi::OsStr,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
};

/// The workspace root (the demo, xtask.toml and scripts-legacy/ live there).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `git ARGS` in `dir`, with an identity of its own (a test machine may have
/// none): its output, trimmed; git must succeed.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A fresh folder for one test, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// Under target/tmp, inside the workspace: the reports' paths stay
    /// repo-relative, as the schema wants.
    pub fn new(name: &str) -> TempDir {
        TempDir::at(Path::new(env!("CARGO_TARGET_TMPDIR")), name)
    }
    /// In the system's temporary folder, outside the repository: for what a
    /// test pins down there (absolute paths, the docker fallback's refusal,
    /// an environment run from any folder).
    pub fn outside_repo(name: &str) -> TempDir {
        TempDir::at(&std::env::temp_dir(), name)
    }
    fn at(parent: &Path, name: &str) -> TempDir {
        let d = parent.join(format!("xtask-e2e-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    pub fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Variable prefixes the legacy scripts read: a developer's shell (K6_VUS,
/// GITHUB_ACTIONS, TCS_API_URL...) must not change what a test sees.
const LEGACY_PREFIXES: &[&str] = &[
    "XTASK_",
    "CODEX_TMP_DIR",
    "GITHUB_",
    "IT_",
    "K6_",
    "DIST_",
    "OPS_",
    "RELEASE_GATE_",
    "DEMO_",
    "TCS_",
];
const LEGACY_NAMES: &[&str] = &["API_HOST", "CONCERT_ID"];

/// The xtask binary run from the workspace root, without legacy variables.
pub fn xtask() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    for (k, _) in std::env::vars_os() {
        let Some(name) = k.to_str() else { continue };
        if LEGACY_PREFIXES.iter().any(|p| name.starts_with(p)) || LEGACY_NAMES.contains(&name) {
            cmd.env_remove(&k);
        }
    }
    cmd.current_dir(root()).stdin(Stdio::null());
    cmd
}

/// One run of the xtask binary with a config file and a reports folder.
pub struct Xtask {
    pub cmd: Command,
}

impl Xtask {
    /// `config` (TOML text) written to `dir/xtask.toml`, reports in `dir/reports`.
    pub fn new(dir: &TempDir, config: &str) -> Xtask {
        let cfg = dir.join("xtask.toml");
        std::fs::write(&cfg, config).unwrap();
        Xtask::with(&cfg, &dir.join("reports"))
    }
    /// The config file at `config`, reports in `reports`.
    pub fn with(config: &Path, reports: &Path) -> Xtask {
        let mut cmd = xtask();
        cmd.arg("--config")
            .arg(config)
            .arg("--reports-dir")
            .arg(reports);
        Xtask { cmd }
    }
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, a: I) -> Xtask {
        self.cmd.args(a);
        self
    }
    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Xtask {
        self.cmd.arg(a);
        self
    }
    pub fn env(mut self, k: &str, v: impl AsRef<OsStr>) -> Xtask {
        self.cmd.env(k, v);
        self
    }
    pub fn run(mut self) -> Run {
        run(&mut self.cmd)
    }
}

/// A finished run: exit code (-1 when killed by a signal) and its output.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `cmd` to completion.
pub fn run(cmd: &mut Command) -> Run {
    Run::from(cmd.output().expect("cannot run the xtask binary"))
}

impl From<Output> for Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Run {
    /// For assertion messages.
    pub fn show(&self) -> String {
        format!(
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// The stdout of a run that must have succeeded.
pub fn ok(run: &Run) -> String {
    assert_eq!(run.code, 0, "failed: {}", run.show());
    run.stdout.clone()
}

/// A folder of a test's own, outside the repository, with its xtask.toml
/// and reports, from which any number of xtask commands run (the
/// environment tests: up, status, down).
pub struct Workdir {
    pub dir: TempDir,
    pub config: PathBuf,
    pub reports: PathBuf,
}

impl Workdir {
    pub fn new(name: &str, config: &str) -> Workdir {
        let dir = TempDir::outside_repo(name);
        let path = dir.join("xtask.toml");
        std::fs::write(&path, config).unwrap();
        Workdir {
            reports: dir.join("reports"),
            config: path,
            dir,
        }
    }

    /// Run from this folder, as a user may run it from anywhere.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Xtask::with(&self.config, &self.reports).args(args).cmd;
        c.current_dir(self.dir.path());
        c
    }

    /// Runs to completion; the output is echoed for a failing test's log.
    pub fn run(&self, args: &[&str]) -> Run {
        let out = run(&mut self.cmd(args));
        eprintln!(
            "$ xtask {}\n{}{}-> {}",
            args.join(" "),
            out.stdout,
            out.stderr,
            out.code
        );
        out
    }

    pub fn state_path(&self) -> PathBuf {
        self.reports.join("env").join("state.json")
    }

    pub fn state(&self) -> serde_json::Value {
        let text =
            std::fs::read_to_string(self.state_path()).expect("env up records the environment");
        serde_json::from_str(&text).unwrap()
    }

    /// The pids `env up` recorded (local environment).
    pub fn recorded_pids(&self) -> Vec<(String, i32)> {
        self.state()["processes"]
            .as_array()
            .expect("a local record lists its processes")
            .iter()
            .map(|p| {
                (
                    p["name"].as_str().unwrap().to_string(),
                    p["pid"].as_i64().unwrap() as i32,
                )
            })
            .collect()
    }
}

/// Tests of one file that share the demo folder (its jar, its .env.local,
/// demo/build) or need the two cores (JVMs, k6, whose latency thresholds
/// should not depend on what runs beside them) run one at a time.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}
