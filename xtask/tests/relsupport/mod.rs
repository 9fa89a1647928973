//! Shared by the reliability tests (bad inputs, the interrupt campaign): the
//! built binary with a clean environment, ports in this suite's range
//! (24000-24999), stand-in programs, a stub API, process and file checks.

#![allow(dead_code)] // each test file uses its own part

use std::{
    collections::BTreeMap,
    io::{Read, Write},
    net::TcpListener,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::atomic::{AtomicU16, Ordering},
};

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Variable prefixes the legacy scripts read: a developer's shell must not
/// change what a test sees.
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
    for (k, _) in std::env::vars() {
        if LEGACY_PREFIXES.iter().any(|p| k.starts_with(p)) || LEGACY_NAMES.contains(&k.as_str()) {
            cmd.env_remove(k);
        }
    }
    cmd.current_dir(root()).stdin(Stdio::null());
    cmd
}

/// A listener on a free port of this suite's range, 24000-24999. Ports are
/// handed out in turn (from a per-process start), so parallel tests and a
/// port just closed by another test do not collide.
pub fn listen() -> TcpListener {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let start = (std::process::id() % 40) as u16 * 25;
    for _ in 0..1000 {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let port = 24000 + (start + n) % 1000;
        if let Ok(l) = TcpListener::bind(("127.0.0.1", port)) {
            return l;
        }
    }
    panic!("no free port in 24000-24999");
}

/// A free port of the range (closed again at once).
pub fn free_port() -> u16 {
    listen().local_addr().unwrap().port()
}

/// A tiny API answering every request 200 `[]` until the test process
/// ends: enough for the health probe before k6.
pub fn stub_api() -> u16 {
    let l = listen();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { continue };
            let mut buf = [0u8; 4096];
            let _ = c.read(&mut buf);
            let _ = c.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n[]",
            );
        }
    });
    port
}

/// An executable `dir/name` running `body` under /bin/sh.
pub fn stand_in(dir: &Path, name: &str, body: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// `dirs` first, then this process's PATH.
pub fn path_with(dirs: &[&Path]) -> String {
    let mut all: Vec<PathBuf> = dirs.iter().map(|d| d.to_path_buf()).collect();
    all.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(all).unwrap().into_string().unwrap()
}

/// `name` on this process's PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Every file under `dir` with its bytes, by relative path. Lock files are
/// left out: a suite's lock file is created before any check and kept on
/// purpose (it is an OS lock, released by the kernel).
pub fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(base, &p, out);
            } else if p.file_name().is_some_and(|n| n != ".lock") {
                let rel = p.strip_prefix(base).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&p).unwrap_or_default());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Alive and not a zombie.
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

/// Living processes (but this one) whose command line or environment
/// mentions `marker`, as (pid, command line).
pub fn processes_mentioning(marker: &str) -> Vec<(i32, String)> {
    let me = std::process::id() as i32;
    let mut found = vec![];
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if pid == me || !alive(pid) {
            continue;
        }
        let read = |f: &str| std::fs::read(format!("/proc/{pid}/{f}")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&read("cmdline")).replace('\0', " ");
        let environ = String::from_utf8_lossy(&read("environ")).into_owned();
        if cmdline.contains(marker) || environ.contains(marker) {
            found.push((pid, cmdline));
        }
    }
    found
}

/// `docker <args>`: its output lines; the engine must answer.
pub fn docker(args: &[&str]) -> Vec<String> {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("docker is needed: install Docker Engine");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect()
}

/// Containers, networks and volumes of a compose project (by label and by
/// name prefix).
pub fn compose_leftovers(project: &str) -> Vec<String> {
    let label = format!("label=com.docker.compose.project={project}");
    let name = format!("name={project}_");
    let mut all = vec![];
    for filter in [&label, &name] {
        for (what, args) in [
            ("container", vec!["ps", "-a", "--format", "{{.Names}}"]),
            ("network", vec!["network", "ls", "--format", "{{.Name}}"]),
            ("volume", vec!["volume", "ls", "--format", "{{.Name}}"]),
        ] {
            let mut a = args.clone();
            a.extend(["--filter", filter.as_str()]);
            all.extend(docker(&a).into_iter().map(|n| format!("{what} {n}")));
        }
    }
    all.sort();
    all.dedup();
    all
}

/// The offline image compose runs on here (no registry).
pub const OFFLINE_IMAGE: &str = "tcs-offline/debian-runtime:bookworm";

pub fn require_offline_image() {
    let out = Command::new("docker")
        .args(["image", "inspect", OFFLINE_IMAGE])
        .output()
        .expect("docker is needed: install Docker Engine");
    assert!(
        out.status.success(),
        "the offline image {OFFLINE_IMAGE} is missing: run `cargo xtask images`"
    );
}
