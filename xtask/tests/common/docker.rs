//! The Docker engine, for the compose tests and what they must leave behind.

use std::{path::Path, process::Command};

/// The offline image compose runs on here (no registry).
pub const OFFLINE_IMAGE: &str = "tcs-offline/debian-runtime:bookworm";

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

/// Without a registry nothing compose runs can start without this image.
pub fn require_offline_image() {
    let out = Command::new("docker")
        .args(["image", "inspect", OFFLINE_IMAGE])
        .output()
        .expect("docker is needed: install Docker Engine");
    assert!(
        out.status.success(),
        "the offline image {OFFLINE_IMAGE} is missing: run `cargo xtask images` (or `cargo xtask setup --images`)"
    );
}

/// TCP connections each running container of a compose service accepted
/// so far (the kernel's PassiveOpens of its network namespace), by name.
pub fn passive_opens(project: &str, service: &str) -> std::collections::BTreeMap<String, u64> {
    let ids = docker(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=com.docker.compose.project={project}"),
        "--filter",
        &format!("label=com.docker.compose.service={service}"),
    ]);
    let mut args = vec!["inspect", "--format", "{{.Name}} {{.State.Pid}}"];
    args.extend(ids.iter().map(String::as_str));
    docker(&args)
        .iter()
        .map(|l| {
            let (name, pid) = l.split_once(' ').unwrap();
            let snmp = std::fs::read_to_string(format!("/proc/{pid}/net/snmp")).unwrap();
            let mut tcp = snmp.lines().filter(|l| l.starts_with("Tcp:"));
            let (names, values) = (tcp.next().unwrap(), tcp.next().unwrap());
            let at = names
                .split_whitespace()
                .position(|n| n == "PassiveOpens")
                .unwrap();
            let n = values.split_whitespace().nth(at).unwrap().parse().unwrap();
            (name.trim_start_matches('/').to_string(), n)
        })
        .collect()
}

/// A k6 image made here from the offline base and the real k6 binary (there
/// is no registry to pull `grafana/k6` from); removed when dropped.
pub struct K6Image(pub String);

impl K6Image {
    /// Builds `NAME:<pid>` from a context folder made under `dir`.
    pub fn build(name: &str, k6: &Path, dir: &Path) -> K6Image {
        let image = K6Image(format!("{name}:{}", std::process::id()));
        let context = dir.join("image");
        std::fs::create_dir_all(&context).unwrap();
        std::fs::copy(k6, context.join("k6")).unwrap();
        std::fs::write(
            context.join("Dockerfile"),
            format!("FROM {OFFLINE_IMAGE}\nCOPY k6 /usr/local/bin/k6\nENTRYPOINT [\"k6\"]\n"),
        )
        .unwrap();
        let built = Command::new("docker")
            .args(["build", "-q", "-t", &image.0])
            .arg(&context)
            .output()
            .expect("docker is needed: install Docker Engine");
        assert!(
            built.status.success(),
            "cannot build the k6 test image (is {OFFLINE_IMAGE} there? cargo xtask images): {}",
            String::from_utf8_lossy(&built.stderr)
        );
        image
    }
}

impl Drop for K6Image {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["image", "rm", "-f", &self.0])
            .output();
    }
}
