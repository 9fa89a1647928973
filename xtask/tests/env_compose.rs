//! `cargo xtask env up|status|down` on the compose environment, for real:
//! the Docker engine, compose, the demo's docker-compose.yml on the offline
//! image (no registry), replicas behind nginx, teardown by project label.

mod common;

use common::{
    compose_leftovers, docker, http, interrupt_when, ok, passive_opens, require_offline_image,
    root, serial, served_by_joins, Workdir,
};

fn config(lb: u16) -> String {
    common::compose_config(lb, "\"jar\"")
}

/// Test projects start with `xtenv` and are unique per test process.
fn project(name: &str) -> String {
    format!("xtenv{name}{}", std::process::id())
}

/// Removes the project whatever happened in the test.
struct Cleanup<'a>(&'a Workdir, String);
impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let _ = self.0.cmd(&["env", "down"]).output();
        let _ = self
            .0
            .cmd(&[
                "env",
                "down",
                "--env",
                "compose",
                "--compose-project",
                &self.1,
            ])
            .output();
    }
}

#[test]
#[ignore = "needs a Docker engine and the offline image; run by cargo xtask ci"]
fn compose_env_balances_replicas_scales_to_three_and_down_leaves_nothing() {
    let _serial = serial();
    require_offline_image();
    let lb = 21250;
    let p = project("up");
    let x = Workdir::new("compose-up", &config(lb));
    let _cleanup = Cleanup(&x, p.clone());

    let out = ok(&x.run(&[
        "env",
        "up",
        "--env",
        "compose",
        "--compose-project",
        &p,
        "--replicas",
        "2",
    ]));
    assert!(out.contains(&format!("{p}_ticket-network")), "{out}");
    assert!(out.contains("http://nginx-lb:8080"), "{out}");
    assert_eq!(http("GET", lb, "/api/concerts", None).unwrap().status, 200);
    // Every replica served some joins, counted from outside (the service
    // names no replica): each container's accepted TCP connections.
    let two = served_by_joins(lb, 20, || passive_opens(&p, "app"));
    assert_eq!(two.len(), 2, "{two:?}");
    assert!(two.values().all(|n| *n > 0), "{two:?}");

    // Redis is published on an ephemeral loopback port for the host's tests.
    let redis = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("Redis"))
        .map(str::trim)
        .expect("env up prints Redis's address");
    let mut s = std::net::TcpStream::connect(redis).unwrap();
    std::io::Write::write_all(&mut s, b"PING\r\n").unwrap();
    let mut pong = [0u8; 7];
    std::io::Read::read_exact(&mut s, &mut pong).unwrap();
    assert_eq!(&pong, b"+PONG\r\n");

    // Same project, more replicas: scaled in place, the balancer sees all three.
    let out = ok(&x.run(&[
        "env",
        "up",
        "--env",
        "compose",
        "--compose-project",
        &p,
        "--replicas",
        "3",
    ]));
    // No balancer restart: nginx re-resolves `app` and the new one serves too.
    let three = served_by_joins(lb, 30, || passive_opens(&p, "app"));
    assert_eq!(three.len(), 3, "{three:?}");
    assert!(three.values().all(|n| *n > 0), "{three:?}");
    assert!(
        two.keys().all(|id| three.contains_key(id)),
        "the first replicas were kept: {two:?} {three:?}"
    );
    for id in three.keys() {
        assert!(out.contains(id.as_str()), "replica {id} listed in: {out}");
    }
    assert!(ok(&x.run(&["env", "status"])).contains("ready: yes"));

    ok(&x.run(&["env", "down"]));
    assert_eq!(compose_leftovers(&p), Vec::<String>::new());
    assert!(!x.state_path().exists());
    assert!(
        !root().join("demo/.env.local").exists(),
        "the env file created for compose is removed"
    );
}

#[test]
#[ignore = "needs a Docker engine and the offline image; run by cargo xtask ci"]
fn sigint_during_compose_env_up_leaves_no_container_network_or_volume() {
    let _serial = serial();
    require_offline_image();
    let p = project("sig");
    let x = Workdir::new("compose-sigint", &config(21260));
    let _cleanup = Cleanup(&x, p.clone());
    let child = x
        .cmd(&[
            "env",
            "up",
            "--env",
            "compose",
            "--compose-project",
            &p,
            "--replicas",
            "2",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let label = format!("label=com.docker.compose.project={p}");
    // Interrupt once compose has created containers of the project.
    let (status, err, _took) = interrupt_when(child, |_| {
        !docker(&["ps", "-aq", "--filter", &label]).is_empty()
    });
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(
        err.contains("down -v --remove-orphans"),
        "teardown ran: {err}"
    );
    assert_eq!(compose_leftovers(&p), Vec::<String>::new());
    assert!(!x.state_path().exists());
    assert!(!root().join("demo/.env.local").exists());
}
