//! Shared by the end-to-end tests: run the built binary against a temporary
//! config and reports folder, check reports against the schema, find ports.
#![allow(dead_code)] // each test binary uses a different part

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Command, Output},
};

/// Variables the legacy scripts read: cleared so the caller's shell cannot
/// change what a test sees.
const LEGACY_VARS: &[&str] = &[
    "XTASK_CONFIG",
    "XTASK_REPORTS_DIR",
    "CODEX_TMP_DIR",
    "GITHUB_ACTIONS",
    "DEMO_FAIL_TEST",
    "RELEASE_GATE_RUN_STAMP",
    "RELEASE_GATE_REPORT_FILE",
    "RELEASE_GATE_LOG_FILE",
    "RELEASE_GATE_WITH_API_SCRIPTS",
    "OPS_HEALTH_API_URL",
    "OPS_REDIS_HOST",
    "OPS_REDIS_PORT",
    "OPS_KAFKA_HOST",
    "OPS_KAFKA_PORT",
    "OPS_POSTGRES_HOST",
    "OPS_POSTGRES_PORT",
    "OPS_HEALTH_REPORT_FILE",
    "OPS_COMPOSE_FILE",
    "OPS_COMPOSE_PROJECT",
    "OPS_LOG_TAIL_LINES",
    "OPS_APP_SERVICE",
    "OPS_MONITOR_REPORT_FILE",
];

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A folder under target/tmp, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        // Inside the workspace (target/tmp), so report paths stay repo-relative
        // as the schema wants.
        let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("xtask-e2e-{name}-{}", std::process::id()));
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

/// One run of the xtask binary with `config` (TOML text) and reports in `dir/reports`.
pub struct Xtask {
    pub cmd: Command,
}

impl Xtask {
    pub fn new(dir: &TempDir, config: &str) -> Xtask {
        let cfg = dir.join("xtask.toml");
        std::fs::write(&cfg, config).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
        for v in LEGACY_VARS {
            cmd.env_remove(v);
        }
        cmd.arg("--config")
            .arg(&cfg)
            .arg("--reports-dir")
            .arg(dir.join("reports"))
            .current_dir(workspace_root());
        Xtask { cmd }
    }
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<std::ffi::OsStr>>(mut self, a: I) -> Xtask {
        self.cmd.args(a);
        self
    }
    /// Without the demo's TCS_* variables, whatever the caller's shell has.
    pub fn env_remove_all_tcs(mut self) -> Xtask {
        for k in ["TCS_API_URL", "TCS_REDIS_HOST", "TCS_REDIS_PORT"] {
            self.cmd.env_remove(k);
        }
        self
    }
    pub fn env(mut self, k: &str, v: impl AsRef<std::ffi::OsStr>) -> Xtask {
        self.cmd.env(k, v);
        self
    }
    pub fn run(mut self) -> Run {
        let out = self.cmd.output().expect("cannot start the xtask binary");
        Run(out)
    }
}

pub struct Run(pub Output);

impl Run {
    pub fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    /// For assertion messages.
    pub fn show(&self) -> String {
        format!(
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code(),
            self.stdout(),
            self.stderr()
        )
    }
}

/// The latest Markdown and JSON report of a suite.
pub fn latest(dir: &TempDir, suite: &str) -> (String, serde_json::Value) {
    let base = dir.join("reports").join(suite).join("latest");
    let md = std::fs::read_to_string(base.join(format!("{suite}-latest.md")))
        .unwrap_or_else(|e| panic!("no Markdown report for {suite}: {e}"));
    let json = std::fs::read_to_string(base.join(format!("{suite}-latest.json")))
        .unwrap_or_else(|e| panic!("no JSON report for {suite}: {e}"));
    validate_against_schema(&json);
    (md, serde_json::from_str(&json).unwrap())
}

/// A metric's value from a JSON report.
pub fn metric(report: &serde_json::Value, name: &str) -> Option<f64> {
    report["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no metric {name}"))["value"]
        .as_f64()
}

pub fn notes(report: &serde_json::Value) -> Vec<String> {
    report["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect()
}

/// The rows of the table titled `title`.
pub fn table(report: &serde_json::Value, title: &str) -> Vec<Vec<String>> {
    let t = report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["title"] == title)
        .unwrap_or_else(|| panic!("no table {title}: {report:#}"));
    t["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().to_string())
                .collect()
        })
        .collect()
}

/// Copied from src/report/tests.rs: every report must match the schema.
pub fn validate_against_schema(json: &str) {
    let schema_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../reports/report.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap()).unwrap();
    let instance: serde_json::Value = serde_json::from_str(json).unwrap();
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler.add_resource("report.schema.json", schema).unwrap();
    let idx = compiler
        .compile("report.schema.json", &mut schemas)
        .unwrap();
    if let Err(e) = schemas.validate(&instance, idx) {
        panic!("report does not match reports/report.schema.json: {e:#}\n{json}");
    }
}

/// A listener on a free port of this branch's range (20000-20999), from `base` up.
pub fn listen_in_range(base: u16) -> TcpListener {
    (base..21000)
        .find_map(|p| TcpListener::bind(("127.0.0.1", p)).ok())
        .expect("no free port in 20000-20999")
}

/// A free port of this branch's range, from `base` up (closed again at once).
pub fn free_port(base: u16) -> u16 {
    listen_in_range(base).local_addr().unwrap().port()
}

/// A tiny HTTP server answering every request with `status` and a JSON body,
/// until the test process ends.
pub fn http_server(base: u16, status: u16) -> u16 {
    use std::io::{Read, Write};
    let l = listen_in_range(base);
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { continue };
            let mut buf = [0u8; 4096];
            let _ = c.read(&mut buf);
            let body = "[]";
            let _ = write!(
                c,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}
