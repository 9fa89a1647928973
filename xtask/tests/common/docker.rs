//! The Docker engine, for the compose tests and what they must leave behind.

use std::process::Command;

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
