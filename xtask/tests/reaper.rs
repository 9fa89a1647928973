//! Issue 11, cause 14: an xtask killed with SIGKILL (no handler can run)
//! leaves its environment running; the next run, or `env down`, finds what
//! it left by its lease and removes it, as Testcontainers' reaper does.
//! Real tools: Gradle, redis-server, the demo's JVMs and nginx for the local
//! environment; the Docker engine and docker-compose for compose. Ignored
//! by default (real environments, the e2e lock); `cargo xtask ci` runs them:
//! `flock /tmp/xtask-e2e.lock cargo test -p xtask --test reaper -- --ignored`.

mod common;

use std::{
    io::{BufRead, BufReader},
    process::{Child, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use common::{
    alive, compose_leftovers, demo_jar, processes_mentioning, require_offline_image, wait_for,
    Workdir,
};

/// The child's output as it comes, so a test can kill it at a moment.
struct Watched {
    child: Child,
    text: Arc<Mutex<String>>,
}

impl Watched {
    fn spawn(mut cmd: std::process::Command) -> Watched {
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start the xtask binary");
        let text = Arc::new(Mutex::new(String::new()));
        let err = child.stderr.take().unwrap();
        let t = text.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let mut t = t.lock().unwrap();
                t.push_str(&line);
                t.push('\n');
            }
        });
        Watched { child, text }
    }
    fn has(&self, s: &str) -> bool {
        self.text.lock().unwrap().contains(s)
    }
    /// SIGKILL: nothing of ours runs after it.
    fn sigkill(mut self) -> String {
        // SAFETY: plain syscall to our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGKILL) };
        let st = self.child.wait().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let text = self.text.lock().unwrap().clone();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&st),
            Some(libc::SIGKILL),
            "it ended before the SIGKILL ({st}):\n{text}"
        );
        text
    }
}

/// What carries the killed run's marker (every child inherits it).
fn left_by(pid: u32) -> Vec<(i32, String)> {
    processes_mentioning(&format!("XTASK_RUN={pid}-"))
}

/// The demo on local processes: the balancer on `lb`, Redis and the
/// replicas on ports the xtask picks (free when it starts them).
fn local_config(lb: u16, build: bool) -> String {
    format!(
        r#"[project]
service_dir = "demo"
[gradle]
offline = true
[environment]
default = "local"
health_url = "http://127.0.0.1:{lb}/api/concerts"
ready_timeout = "90s"
[environment.local]
redis_port = 0
app_base_port = 0
app_command = ["java", "-jar", "{jar}"]
app_build_tasks = {build}
[environment.local.app_env]
PORT = "{{port}}"
REDIS_HOST = "{{redis_host}}"
REDIS_PORT = "{{redis_port}}"
INSTANCE_ID = "app-{{index}}"
"#,
        jar = demo_jar().display(),
        build = if build { r#"["jar"]"# } else { "[]" },
    )
}

fn ports_free(from: u16, n: u16) -> bool {
    (from..from + n).all(|p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok())
}

/// A port free now, in the reliability range, for a balancer.
fn lb_port() -> u16 {
    common::free_port(common::listen_in(common::RELIABILITY_PORTS))
}

#[test]
#[ignore = "real local environment (Gradle, redis, JVMs, nginx): cargo xtask ci runs it under the e2e lock"]
fn sigkill_mid_local_env_up_is_reaped_by_env_down_and_by_the_next_run() {
    let _serial = common::serial();
    let lb = lb_port();
    // Killed once Redis and a replica run (the balancer not yet), then
    // once during the Gradle build of the jar.
    for (moment, build) in [("--> start app-1", false), ("==> build (jar)", true)] {
        let x = Workdir::new("reaper-local", &local_config(lb, build));
        let w = Watched::spawn(x.cmd(&["env", "up", "--replicas", "2"]));
        let pid = w.child.id();
        wait_for(moment, Duration::from_secs(120), || w.has(moment));
        std::thread::sleep(Duration::from_millis(100));
        let out = w.sigkill();
        let left = left_by(pid);
        assert!(!left.is_empty(), "nothing was left to reap: {out}");

        // The next command on this service reaps them, whatever it is.
        let t = Instant::now();
        let down = x.run(&["env", "down"]);
        assert_eq!(down.code, 0, "{}", down.show());
        assert!(
            down.stderr.contains(&format!(
                "reaper: removed what a run that died (pid {pid}) left"
            )),
            "{}",
            down.show()
        );
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(
            left_by(pid),
            vec![],
            "left after env down ({:?})",
            t.elapsed()
        );
        for (p, cmd) in &left {
            assert!(!alive(*p), "{cmd} survived");
        }
        wait_for("the port", Duration::from_secs(10), || ports_free(lb, 1));
    }

    // The next `env up` (not `env down`) reaps too, then starts afresh.
    let x = Workdir::new("reaper-local-next", &local_config(lb, false));
    let w = Watched::spawn(x.cmd(&["env", "up"]));
    let pid = w.child.id();
    wait_for("redis", Duration::from_secs(60), || {
        w.has("--> start app-1")
    });
    w.sigkill();
    assert!(!left_by(pid).is_empty());
    let up = x.run(&["env", "up"]);
    assert_eq!(up.code, 0, "{}", up.show());
    assert_eq!(left_by(pid), vec![]);
    let down = x.run(&["env", "down"]);
    assert_eq!(down.code, 0, "{}", down.show());
    wait_for("the port", Duration::from_secs(10), || ports_free(lb, 1));
}

#[test]
#[ignore = "real compose environment (Docker engine): cargo xtask ci runs it under the e2e lock"]
fn sigkill_mid_compose_env_up_is_reaped_by_env_down() {
    let _serial = common::serial();
    require_offline_image();
    demo_jar();
    let lb = lb_port();
    let project = format!("xtreap{}", std::process::id());
    let cfg = common::compose_config(lb, "")
        + "[environment.compose.env]\nTCS_APP_IMAGE = \"xtrel-demo-app:latest\"\n";
    let x = Workdir::new("reaper-compose", &cfg);
    let w = Watched::spawn(x.cmd(&[
        "env",
        "up",
        "--env",
        "compose",
        "--compose-project",
        &project,
    ]));
    let pid = w.child.id();
    wait_for("compose up", Duration::from_secs(120), || {
        w.has("==> compose up")
    });
    // Until compose has created something of the project.
    wait_for("a container", Duration::from_secs(120), || {
        !compose_leftovers(&project).is_empty()
    });
    let out = w.sigkill();
    // docker-compose itself may finish its `up -d`: the containers stay.
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        !compose_leftovers(&project).is_empty(),
        "nothing to reap: {out}"
    );

    // `env down` without naming the project: the lease names it.
    let down = x.run(&["env", "down"]);
    assert_eq!(down.code, 0, "{}", down.show());
    assert!(
        down.stderr.contains(&format!("compose project {project}")),
        "{}",
        down.show()
    );
    assert_eq!(compose_leftovers(&project), Vec::<String>::new());
    assert_eq!(left_by(pid), vec![]);
    assert!(
        !common::root().join("demo/.env.local").exists(),
        "the env file the dead run created stays"
    );
    wait_for("the port", Duration::from_secs(10), || ports_free(lb, 1));
}
