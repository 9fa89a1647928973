//! The compose environment against a stand-in `docker` that records its
//! calls: which compose is chosen, the exact command lines, env file and ports.

use std::os::unix::fs::PermissionsExt;

use super::*;
use crate::{
    images,
    runner::{MissingTool, Verbosity},
};

/// A stand-in `docker` that records each call (one argv per line, tab
/// separated) and the variables compose would read.
fn fake_docker(dir: &camino::Utf8Path, compose_v2: bool, offline_image: bool) -> String {
    let path = dir.join("docker");
    let script = format!(
        r#"#!/bin/sh
{{ printf '%s\t' "$@"; printf '\n'; }} >> {dir}/calls
echo "APP_LB_PORT=$APP_LB_PORT TCS_REDIS_IMAGE=$TCS_REDIS_IMAGE" >> {dir}/env
case "$1 $2" in
  "compose version") [ {v2} = 1 ] && echo "Docker Compose version v2.99.0" && exit 0; echo "unknown command" >&2; exit 1;;
  "image inspect") [ {img} = 1 ] && echo sha256:abc && exit 0; exit 1;;
esac
case "$*" in
  *" logs "*) echo "app_1  | QUEUE_MONITOR join"; echo "app_1  | demo started";;
esac
exit 0
"#,
        v2 = compose_v2 as u8,
        img = offline_image as u8
    );
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.to_string()
}

fn fake_v1(dir: &camino::Utf8Path) -> String {
    let path = dir.join("docker-compose");
    std::fs::write(
        &path,
        format!("#!/bin/sh\n{{ printf '%s\\t' \"$@\"; printf '\\n'; }} >> {dir}/calls\n"),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.to_string()
}

/// Where the first call starting with `want` is in the log; fails showing
/// the log when there is none. Tests say what ran before what by content,
/// so a check added in between does not shift every expectation.
fn at<S: AsRef<str>>(calls: &[Vec<String>], want: &[S]) -> usize {
    calls
        .iter()
        .position(|c| c.len() >= want.len() && c.iter().zip(want).all(|(a, b)| a == b.as_ref()))
        .unwrap_or_else(|| {
            let want: Vec<&str> = want.iter().map(AsRef::as_ref).collect();
            panic!("no call {want:?} in {calls:#?}")
        })
}

fn calls(dir: &camino::Utf8Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(dir.join("calls"))
        .unwrap_or_default()
        .lines()
        .map(|l| {
            l.trim_end_matches('\t')
                .split('\t')
                .map(String::from)
                .collect()
        })
        .collect()
}

fn runner(dir: &camino::Utf8Path) -> Runner {
    Runner::new(dir.to_owned(), false, Verbosity::Quiet)
}

#[test]
fn docker_compose_on_path_comes_first_as_in_the_legacy_script() {
    let d = super::super::tests::tempdir("detect-v1");
    let p = Programs {
        docker: fake_docker(&d, true, false),
        docker_compose: fake_v1(&d),
    };
    assert_eq!(detect(&runner(&d), &p).unwrap(), vec![p.docker_compose]);
    assert!(calls(&d).is_empty(), "v2 is not even asked");
}

#[test]
fn compose_v2_when_no_docker_compose_and_docker_compose_version_answers() {
    let d = super::super::tests::tempdir("detect-v2");
    let p = Programs {
        docker: fake_docker(&d, true, false),
        docker_compose: d.join("no-such-docker-compose").to_string(),
    };
    assert_eq!(
        detect(&runner(&d), &p).unwrap(),
        [p.docker.clone(), "compose".into()]
    );
    assert_eq!(calls(&d), [["compose", "version"]]);
}

#[test]
fn a_dry_run_chooses_the_same_compose_as_the_real_run() {
    for (v1, v2) in [(true, true), (true, false), (false, true)] {
        let d = super::super::tests::tempdir(&format!("detect-dry-{v1}-{v2}"));
        let p = Programs {
            docker: fake_docker(&d, v2, false),
            docker_compose: if v1 {
                fake_v1(&d)
            } else {
                d.join("none").to_string()
            },
        };
        let dry = Runner::new(d.clone(), true, Verbosity::Quiet);
        assert_eq!(
            detect(&dry, &p).unwrap(),
            detect(&runner(&d), &p).unwrap(),
            "v1 on PATH: {v1}, v2 answers: {v2}"
        );
    }
}

#[test]
fn no_compose_at_all_is_a_missing_tool_saying_how_to_install() {
    let d = super::super::tests::tempdir("detect-none");
    let p = Programs {
        docker: fake_docker(&d, false, false),
        docker_compose: d.join("no-such-docker-compose").to_string(),
    };
    let e = detect(&runner(&d), &p).unwrap_err();
    let m = e
        .downcast_ref::<MissingTool>()
        .expect("a MissingTool error (exit 127)");
    assert_eq!(m.tool, "docker compose");
    assert!(
        e.to_string().contains("apt-get install docker-compose"),
        "{e}"
    );
}

fn ctx(dir: &camino::Utf8Path, health_port: u16) -> Ctx {
    let compose_file = dir.join("docker-compose.yml");
    std::fs::write(&compose_file, "services: {}\n").unwrap();
    super::super::tests::ctx(
        dir,
        &format!(
            r#"
[environment]
health_url = "http://127.0.0.1:{health_port}/api/concerts"
[environment.compose]
file = "{compose_file}"
services = ["redis", "app", "nginx-lb"]
env_file = "{dir}/.env.local"
redis_service = "redis"
"#
        ),
    )
}

fn spec(ctx: &Ctx) -> EnvSpec {
    let opts = crate::flags::EnvOpts {
        compose_project: Some("xtenvunit".into()),
        replicas: Some("2".parse().unwrap()),
        ..Default::default()
    };
    let mut spec = EnvSpec::resolve(ctx, &opts, &Default::default()).unwrap();
    spec.kind = EnvKind::Compose;
    spec
}

#[test]
fn up_logs_and_down_run_exactly_these_commands() {
    let d = super::super::tests::tempdir("compose-argv");
    let ctx = ctx(&d, 21099);
    let p = Programs {
        docker: fake_docker(&d, true, true),
        docker_compose: d.join("no-docker-compose").to_string(),
    };
    let mut env = Compose::open_with(&ctx, &spec(&ctx), &p).unwrap();
    let file = d.join("docker-compose.yml");
    let base = [
        p.docker.as_str(),
        "compose",
        "-f",
        file.as_str(),
        "-p",
        "xtenvunit",
    ];
    let with = |rest: &[&str]| -> Vec<String> {
        base[1..]
            .iter()
            .chain(rest)
            .map(|s| s.to_string())
            .collect()
    };

    env.up().unwrap();
    assert!(
        d.join(".env.local").is_file(),
        "the env file compose needs is created"
    );
    let c = calls(&d);
    let label = "label=com.docker.compose.project=xtenvunit";
    let up_call = with(&[
        "up", "-d", "--build", "--scale", "app=2", "redis", "app", "nginx-lb",
    ]);
    let up = at(&c, &up_call);
    assert_eq!(c[up], up_call, "up exactly, nothing more");
    // Before `up`: which compose, is the project running already (else its
    // fixed ports are checked), is the offline image here.
    assert!(at(&c, &["compose", "version"]) < up, "{c:#?}");
    assert!(at(&c, &["ps", "-q", "--filter", label]) < up, "{c:#?}");
    assert!(at(&c, &["image", "inspect"]) < up, "{c:#?}");
    // The balancer's host port follows the health URL; the offline image is used.
    let env_seen = std::fs::read_to_string(d.join("env")).unwrap();
    assert!(
        env_seen.lines().last().unwrap()
            == format!(
                "APP_LB_PORT=21099 TCS_REDIS_IMAGE={}",
                images::OFFLINE_IMAGE
            ),
        "{env_seen}"
    );

    let logs = env.logs("app", 7).unwrap();
    assert!(logs.contains("QUEUE_MONITOR join"), "{logs}");
    let c = calls(&d);
    assert!(at(&c, &with(&["logs", "--no-color", "--tail", "7", "app"])) > up);

    let before_down = c.len();
    env.down().unwrap();
    let c = calls(&d);
    let down = at(&c, &with(&["down", "-v", "--remove-orphans"]));
    assert!(down >= before_down, "{c:#?}");
    // After `down`: anything left with the project's label is looked for.
    for leftover in [
        ["ps", "-aq", "--filter", label].as_slice(),
        &["network", "ls", "-q", "--filter", label],
        &["volume", "ls", "-q", "--filter", label],
    ] {
        assert!(at(&c, leftover) > down, "{leftover:?} after down: {c:#?}");
    }
    assert!(
        !d.join(".env.local").exists(),
        "the env file we created is gone again"
    );
    let after_down = c.len();
    env.down().unwrap();
    assert_eq!(calls(&d).len(), after_down, "a second down does nothing");
}

#[test]
fn scale_adds_replicas_without_recreating_nor_restarting_the_balancer() {
    let d = super::super::tests::tempdir("compose-scale");
    let ctx = ctx(&d, 21098);
    let p = Programs {
        docker: fake_docker(&d, true, false),
        docker_compose: fake_v1(&d),
    };
    let env = Compose::open_with(&ctx, &spec(&ctx), &p).unwrap();
    assert_eq!(
        env.up_args(crate::units::Replicas::new(3).unwrap(), false),
        [
            "up",
            "-d",
            "--no-recreate",
            "--scale",
            "app=3",
            "redis",
            "app",
            "nginx-lb"
        ]
    );
    let e = env.endpoints();
    assert_eq!(e.network.as_deref(), Some("xtenvunit_ticket-network"));
    assert_eq!(e.internal_api.unwrap().as_str(), "http://nginx-lb:8080");
    assert_eq!(e.api.unwrap().as_str(), "http://127.0.0.1:21098");
}

/// An HTTP server answering 200 to everything, on a port it holds.
fn always_ok() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut c in l.incoming().flatten() {
            let mut buf = [0u8; 1024];
            let _ = std::io::Read::read(&mut c, &mut buf);
            let _ = std::io::Write::write_all(
                &mut c,
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n[]",
            );
        }
    });
    port
}

#[test]
fn scaling_never_restarts_the_balancer_which_re_resolves_app_itself() {
    let d = super::super::tests::tempdir("compose-scale-run");
    let ctx = ctx(&d, always_ok());
    let p = Programs {
        docker: fake_docker(&d, true, false),
        docker_compose: fake_v1(&d),
    };
    let mut env = Compose::open_with(&ctx, &spec(&ctx), &p).unwrap();
    env.scale(crate::units::Replicas::new(3).unwrap()).unwrap();
    let c = calls(&d);
    assert!(
        c.iter().any(|a| a.contains(&"--no-recreate".to_string())),
        "{c:?}"
    );
    assert!(
        !c.iter().any(|a| a.contains(&"restart".to_string())),
        "the balancer was restarted: {c:?}"
    );
}

/// A `docker` whose engine runs elsewhere: the app containers' pids are
/// not on this host (0), so their counters come through `docker exec`.
fn remote_engine_docker(dir: &camino::Utf8Path) -> String {
    let path = dir.join("docker");
    let script = format!(
        r#"#!/bin/sh
{{ printf '%s\t' "$@"; printf '\n'; }} >> {dir}/calls
case "$*" in
  "compose version") echo "Docker Compose version v2.99.0";;
  *" ps -q app") printf 'c1\nc2\n';;
  "inspect --format "*) echo "c1 0 true /p_app_1"; echo "c2 0 true /p_app_2";;
  "exec c1 cat /proc/net/snmp") printf 'Tcp: ActiveOpens PassiveOpens\nTcp: 3 41\n';;
  "exec c2 cat /proc/net/snmp") printf 'Tcp: ActiveOpens PassiveOpens\nTcp: 5 39\n';;
esac
exit 0
"#
    );
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.to_string()
}

#[test]
fn requests_per_replica_come_through_docker_exec_when_the_engine_is_elsewhere() {
    let d = super::super::tests::tempdir("compose-served-exec");
    let ctx = ctx(&d, 21094);
    let p = Programs {
        docker: remote_engine_docker(&d),
        docker_compose: d.join("no-docker-compose").to_string(),
    };
    let env = Compose::open_with(&ctx, &spec(&ctx), &p).unwrap();
    match env.served() {
        Served::Counted { method, counts } => {
            assert_eq!(
                counts,
                [("p_app_1".to_string(), 41), ("p_app_2".to_string(), 39)].into()
            );
            assert!(method.contains("with docker exec"), "{method}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn keep_env_still_removes_the_env_file_it_created() {
    let d = super::super::tests::tempdir("compose-keep");
    let ctx = ctx(&d, 21096);
    let p = Programs {
        docker: fake_docker(&d, true, false),
        docker_compose: fake_v1(&d),
    };
    let mut spec = spec(&ctx);
    spec.keep_env = true;
    let mut env = Compose::open_with(&ctx, &spec, &p).unwrap();
    env.up().unwrap();
    assert!(d.join(".env.local").is_file());
    let guard = super::super::EnvGuard::new(Box::new(env), true);
    guard.finish().unwrap();
    assert!(
        !d.join(".env.local").exists(),
        "IT_KEEP_ENV=true left the .env.local we created"
    );
    assert!(
        !calls(&d).iter().any(|a| a.contains(&"down".to_string())),
        "keep-env brought the project down"
    );
}

#[test]
fn after_keep_env_logs_find_the_env_file_for_as_long_as_they_run() {
    let d = super::super::tests::tempdir("compose-keep-logs");
    let ctx = ctx(&d, 21093);
    // A docker that, like compose v1, refuses to read a file whose env_file is missing.
    let path = d.join("docker");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\n[ \"$1 $2\" = \"compose version\" ] && exit 0\n[ -f {d}/.env.local ] || {{ echo \"Couldn't find env file\" >&2; exit 1; }}\necho app_1 QUEUE_MONITOR join\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let p = Programs {
        docker: path.to_string(),
        docker_compose: d.join("no-docker-compose").to_string(),
    };
    let env = Compose::open_with(&ctx, &spec(&ctx), &p).unwrap();
    assert!(!d.join(".env.local").exists());
    assert!(env.logs("app", 5).unwrap().contains("QUEUE_MONITOR"));
    assert!(
        !d.join(".env.local").exists(),
        "made for the command, gone again"
    );
}

#[test]
fn a_taken_fixed_port_is_named_before_up() {
    let d = super::super::tests::tempdir("compose-port");
    let ctx = ctx(&d, 21095);
    let held = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = held.local_addr().unwrap().port();
    std::fs::write(
        d.join("docker-compose.yml"),
        format!("services:\n  redis:\n    ports:\n      - \"{port}:6379\"\n"),
    )
    .unwrap();
    let p = Programs {
        docker: fake_docker(&d, true, false),
        docker_compose: fake_v1(&d),
    };
    let mut env = Compose::open_with(&ctx, &spec(&ctx), &p).unwrap();
    let e = env.up().unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("port {port} for compose service `redis` ("))
            && e.contains("docker-compose.yml publishes it) is not free"),
        "{e}"
    );
    assert!(e.ends_with("nothing was started"), "{e}");
    assert!(
        !calls(&d).iter().any(|a| a.contains(&"up".to_string())),
        "compose up ran"
    );
    assert!(!d.join(".env.local").exists(), "nothing was created");
}

#[test]
fn an_existing_env_file_is_left_alone() {
    let d = super::super::tests::tempdir("compose-envfile");
    let ctx = ctx(&d, 21097);
    std::fs::write(d.join(".env.local"), "A=1\n").unwrap();
    let p = Programs {
        docker: fake_docker(&d, true, false),
        docker_compose: fake_v1(&d),
    };
    let mut env = Compose::open_with(&ctx, &spec(&ctx), &p).unwrap();
    env.up().unwrap();
    env.down().unwrap();
    assert_eq!(
        std::fs::read_to_string(d.join(".env.local")).unwrap(),
        "A=1\n"
    );
}

#[test]
fn unique_projects_are_valid_names() {
    let p = unique_project();
    assert!(p.starts_with("xt") && p.len() == 10, "{p}");
    super::super::check_project_name(&p).unwrap();
}
