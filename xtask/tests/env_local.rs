//! `cargo xtask env up|status|down` on the local environment, for real:
//! Gradle builds the demo jar, redis-server, two (then three) demo replicas
//! and nginx start as processes, requests go through the balancer.

mod common;

use common::{
    alive, http, interrupt_when, local_served, ok, processes_mentioning, serial, served_by_joins,
    Workdir,
};

/// The demo on local processes; `lb` for the balancer, replicas from `lb + 1`.
fn config(lb: u16, marker: &str) -> String {
    format!(
        r#"
[project]
service_dir = "demo"
[gradle]
offline = true
[environment]
default = "local"
health_url = "http://127.0.0.1:{lb}/api/concerts"
ready_timeout = "90s"
[environment.local]
redis_port = 0
app_base_port = {base}
app_command = ["java", "-jar", "build/libs/demo.jar"]
app_build_tasks = ["jar"]
app_ready_path = "/api/concerts"
[environment.local.app_env]
PORT = "{{port}}"
REDIS_HOST = "{{redis_host}}"
REDIS_PORT = "{{redis_port}}"
INSTANCE_ID = "app-{{index}}"
XTENV_TEST_RUN = "{marker}"
"#,
        base = lb + 1
    )
}

/// Brings the environment down if the test fails half-way.
struct DownOnDrop<'a>(&'a Workdir);
impl Drop for DownOnDrop<'_> {
    fn drop(&mut self) {
        if self.0.state_path().exists() {
            let _ = self.0.cmd(&["env", "down"]).output();
        }
    }
}

#[test]
fn local_env_balances_replicas_scales_and_down_leaves_no_process() {
    let _serial = serial();
    let lb = 21210;
    let x = Workdir::new("local-up", &config(lb, "xtenv-local-up"));
    let _down = DownOnDrop(&x);

    let out = ok(&x.run(&["env", "up", "--replicas", "2"]));
    assert!(out.contains(&format!("http://127.0.0.1:{lb}")), "{out}");
    assert!(out.contains("app-1, app-2"), "{out}");

    let health = http("GET", lb, "/api/concerts", None).unwrap();
    assert_eq!(health.status, 200, "{}", health.body);
    // Round robin: every replica served some of the joins (counted from outside).
    let served = served_by_joins(lb, 10, || local_served(&x.state()));
    assert_eq!(served.keys().collect::<Vec<_>>(), ["app-1", "app-2"]);
    assert!(served.values().all(|n| *n > 0), "{served:?}");

    let status = ok(&x.run(&["env", "status"]));
    assert!(status.contains("ready: yes"), "{status}");

    // `env up` again with more replicas scales the running environment.
    ok(&x.run(&["env", "up", "--replicas", "3"]));
    let served = served_by_joins(lb, 12, || local_served(&x.state()));
    assert_eq!(
        served.keys().collect::<Vec<_>>(),
        ["app-1", "app-2", "app-3"]
    );
    assert!(served.values().all(|n| *n > 0), "{served:?}");

    let pids = x.recorded_pids();
    let names: Vec<&str> = pids.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["redis", "app-1", "app-2", "app-3", "nginx"]);
    assert!(pids.iter().all(|(_, p)| alive(*p)));

    ok(&x.run(&["env", "down"]));
    for (name, pid) in &pids {
        assert!(!alive(*pid), "{name} (pid {pid}) survived env down");
    }
    assert_eq!(processes_mentioning("xtenv-local-up"), []);
    assert!(!x.state_path().exists(), "the record is removed");
    assert!(
        http("GET", lb, "/api/concerts", None).is_err(),
        "nothing listens on the balancer's port"
    );

    let status = x.run(&["env", "status"]);
    assert_eq!(status.code, 1, "nothing up: status fails");
    let again = ok(&x.run(&["env", "down"]));
    assert!(again.contains("nothing to stop"), "{again}");
}

#[test]
fn sigint_during_local_env_up_leaves_no_process() {
    let _serial = serial();
    let lb = 21220;
    let marker = "xtenv-local-sigint";
    let x = Workdir::new("local-sigint", &config(lb, marker));
    let _down = DownOnDrop(&x);
    let child = x
        .cmd(&["env", "up", "--replicas", "2"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Redis runs and the replicas are starting.
    let (status, err, _took) = interrupt_when(child, |err| err.contains("--> start app-2"));
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("error: interrupted by SIGINT"), "{err}");
    assert!(err.contains("--> stop "), "teardown ran: {err}");
    assert_eq!(processes_mentioning(marker), []);
    assert_eq!(processes_mentioning(x.reports.to_str().unwrap()), []);
    assert!(!x.state_path().exists(), "nothing is recorded as running");
}

#[test]
fn a_taken_port_is_named_before_anything_starts() {
    let _serial = serial();
    let lb = 21230;
    let x = Workdir::new("local-taken", &config(lb, "xtenv-local-taken"));
    let _taken = std::net::TcpListener::bind(("127.0.0.1", lb + 2)).unwrap();
    let out = x.run(&["env", "up", "--replicas", "2"]);
    assert_eq!(out.code, 1);
    let err = &out.stderr;
    assert!(
        err.contains(&format!("error: port {} for app-2 is not free", lb + 2))
            && err.contains("nothing was started"),
        "{err}"
    );
    assert!(!err.contains("--> start"), "{err}");
    assert!(!x.state_path().exists());
}

#[test]
fn dry_run_prints_every_command_and_starts_nothing() {
    let x = Workdir::new("local-dry", &config(21240, "xtenv-local-dry"));
    let out = ok(&x.run(&["--dry-run", "env", "up", "--replicas", "2"]));
    for want in [
        // The jar through the project's build cache (ours, by init script).
        "gradle --offline --no-daemon --build-cache --init-script ",
        "xtask-build-cache.gradle -q jar",
        "redis-server --bind 127.0.0.1 --port",
        "PORT=21241",
        "PORT=21242",
        "nginx -e ",
    ] {
        assert!(out.contains(want), "missing `{want}` in:\n{out}");
    }
    assert!(!x.reports.exists(), "a dry run writes nothing");
}
