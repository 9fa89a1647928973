//! The demo service (demo/): its jar, its config, and the demo run by a
//! test itself (Redis, replicas, nginx in front of several).

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Command,
    sync::OnceLock,
    time::Duration,
};

use super::{
    answers_200, free_port, http, listen_in, root, wait_for, which, Proc, TempDir, K6_PORTS,
};

/// Runs `gradle jar` in demo/ (Gradle decides whether anything is to do)
/// and returns `demo/build/libs/demo.jar`.
pub fn build_demo_jar() -> Result<PathBuf, String> {
    let jar = root().join("demo/build/libs/demo.jar");
    let out = Command::new("gradle")
        .args(["--offline", "--no-daemon", "-q", "jar"])
        .current_dir(root().join("demo"))
        .output()
        .map_err(|e| format!("cannot run gradle to build the demo jar ({e}): apt-get install gradle, or cargo xtask setup"))?;
    if !out.status.success() || !jar.is_file() {
        return Err(format!(
            "gradle jar failed in demo/: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(jar)
}

/// `demo/build/libs/demo.jar`, built once with Gradle when missing.
pub fn demo_jar() -> PathBuf {
    static JAR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    JAR.get_or_init(|| {
        let jar = root().join("demo/build/libs/demo.jar");
        if jar.is_file() {
            return Ok(jar);
        }
        build_demo_jar()
    })
    .clone()
    .unwrap_or_else(|e| panic!("{e}"))
}

/// The k6 the xtask will find: on PATH or where `cargo xtask setup` puts it.
pub fn require_k6() -> PathBuf {
    let local = root().join(".tools/k6/bin/k6");
    which("k6")
        .or_else(|| local.is_file().then_some(local.clone()))
        .unwrap_or_else(|| {
            panic!(
                "k6 is not installed (not on PATH, not at {}): run `cargo xtask setup`",
                local.display()
            )
        })
}

/// The demo's k6 script.
pub fn k6_script() -> PathBuf {
    root().join("demo/perf/waiting-queue-join.js")
}

/// Writes `dir/xtask.toml`: a `[k6]` table with the demo script, plus
/// `extra`. The test's folder is its service folder: one service's suite
/// runs once at a time, and these tests run at once.
pub fn k6_config(dir: &TempDir, extra: &str) -> PathBuf {
    let p = dir.join("xtask.toml");
    std::fs::write(
        &p,
        format!(
            "[project]\nservice_dir = \"{}\"\n[k6]\nscript = \"{}\"\n{extra}",
            dir.path().display(),
            k6_script().display()
        ),
    )
    .unwrap();
    p
}

/// The repository's xtask.toml with the balancer moved from 18080 to `port`.
pub fn repo_config(lb_port: u16) -> String {
    let text = std::fs::read_to_string(root().join("xtask.toml")).unwrap();
    text.replace("18080", &lb_port.to_string())
}

/// The demo on the compose environment with the balancer on `lb`;
/// `build_tasks` builds the jar the Dockerfile copies (empty: built already).
pub fn compose_config(lb: u16, build_tasks: &str) -> String {
    format!(
        r#"[project]
service_dir = "demo"
[gradle]
offline = true
[environment]
default = "compose"
health_url = "http://127.0.0.1:{lb}/api/concerts"
ready_timeout = "120s"
[environment.compose]
file = "demo/docker-compose.yml"
services = ["postgres-db", "redis", "app", "nginx-lb"]
app_service = "app"
lb_service = "nginx-lb"
lb_port = 8080
network = "{{project}}_ticket-network"
redis_service = "redis"
env_file = "demo/.env.local"
build = true
build_tasks = [{build_tasks}]
"#
    )
}

/// A redis-server on 127.0.0.1:port, without persistence, listening when
/// this returns.
pub fn redis_server(port: u16, log: Option<&Path>) -> Proc {
    let mut redis = Proc::spawn(
        "redis-server",
        Command::new("redis-server").args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]),
        log,
        "apt-get install redis-server (cargo xtask ci installs it)",
    );
    redis.wait_listening(port);
    redis
}

/// The demo service run by the test, on ports of the k6 tests' range:
/// Redis, N replicas, and nginx in front when there is more than one.
/// Everything is stopped when dropped.
pub struct Demo {
    pub api_port: u16,
    pub instances: Vec<String>,
    procs: Vec<Proc>,
    _dir: TempDir,
}

impl Demo {
    /// `ids` name the replicas; `started` of them are started (the others
    /// are in the balancer's list but never answer).
    pub fn start(name: &str, ids: &[&str], started: usize) -> Demo {
        Demo::start_with(name, ids, started, &[])
    }

    /// `start`, with extra variables for the replicas (the demo's own
    /// knobs, e.g. DEMO_EXTRA_LATENCY_MS).
    pub fn start_with(name: &str, ids: &[&str], started: usize, env: &[(&str, &str)]) -> Demo {
        let jar = demo_jar();
        let dir = TempDir::outside_repo(&format!("demo-{name}"));
        let mut procs = vec![];
        let redis_port = free_port(listen_in(K6_PORTS));
        procs.push(redis_server(redis_port, Some(&dir.join("redis.log"))));
        let mut ports = vec![];
        for (i, id) in ids.iter().enumerate() {
            let port = free_port(listen_in(K6_PORTS));
            ports.push(port);
            if i < started {
                procs.push(Proc::spawn(
                    id,
                    Command::new("java")
                        .arg("-jar")
                        .arg(&jar)
                        .env("PORT", port.to_string())
                        .env("REDIS_HOST", "127.0.0.1")
                        .env("REDIS_PORT", redis_port.to_string())
                        .env("INSTANCE_ID", id)
                        .env("PUSH_SNAPSHOT_INTERVAL_MS", "0")
                        .envs(env.iter().copied()),
                    Some(&dir.join(&format!("{id}.log"))),
                    "a JDK 17: apt-get install openjdk-17-jre-headless",
                ));
            }
        }
        for (i, port) in ports.iter().enumerate().take(started) {
            wait_for(
                &format!("replica {} on port {port}", ids[i]),
                Duration::from_secs(60),
                || answers_200(*port, "/api/concerts"),
            );
        }
        let api_port = if ids.len() == 1 {
            ports[0]
        } else {
            let port = free_port(listen_in(K6_PORTS));
            let conf = dir.join("nginx.conf");
            let d = dir.path().display();
            let servers: String = ports
                .iter()
                .map(|p| format!("server 127.0.0.1:{p};"))
                .collect();
            std::fs::write(
                &conf,
                format!(
                    "worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/nginx-error.log warn;\n\
                     events {{ worker_connections 512; }}\n\
                     http {{ access_log off;\n\
                     client_body_temp_path {d}/cb; proxy_temp_path {d}/px; fastcgi_temp_path {d}/fc; uwsgi_temp_path {d}/uw; scgi_temp_path {d}/sc;\n\
                     upstream app {{ {servers} }}\n\
                     server {{ listen 127.0.0.1:{port}; location / {{ proxy_pass http://app; }} }} }}\n"
                ),
            )
            .unwrap();
            procs.push(Proc::spawn(
                "nginx",
                Command::new("nginx")
                    .arg("-p")
                    .arg(dir.path())
                    .arg("-c")
                    .arg(&conf)
                    .arg("-e")
                    .arg(dir.join("nginx-error.log"))
                    .args(["-g", "daemon off;"]),
                Some(&dir.join("nginx.log")),
                "apt-get install nginx-light",
            ));
            wait_for(
                &format!("nginx on port {port}"),
                Duration::from_secs(30),
                || answers_200(port, "/api/concerts"),
            );
            port
        };
        Demo {
            api_port,
            instances: ids.iter().map(|s| s.to_string()).collect(),
            procs,
            _dir: dir,
        }
    }

    pub fn api(&self) -> String {
        format!("http://127.0.0.1:{}", self.api_port)
    }

    /// Stops Redis: the replicas then answer joins with 503.
    pub fn stop_redis(&mut self) {
        let redis = self.procs.remove(0);
        assert_eq!(redis.name, "redis-server");
    }

    pub fn pids(&self) -> Vec<i32> {
        self.procs.iter().map(Proc::pid).collect()
    }
}

/// `n` joins through the balancer, each a new user, each answered 200
/// with a valid status.
pub fn joins(lb_port: u16, n: usize) {
    for i in 0..n {
        let user = 800_000_000 + std::process::id() as u64 * 1000 + i as u64;
        let a = http(
            "POST",
            lb_port,
            "/api/v1/waiting-queue/join",
            Some(&format!("{{\"userId\":{user},\"concertId\":1}}")),
        )
        .expect("the balancer answers");
        assert_eq!(a.status, 200, "join answered {}: {}", a.status, a.body);
        assert!(
            ["\"ACTIVE\"", "\"WAITING\"", "\"REJECTED\""]
                .iter()
                .any(|s| a.body.contains(&format!("\"status\":{s}"))),
            "not a valid join status: {}",
            a.body
        );
    }
}

/// What `f` counted per replica while `n` joins went through the balancer
/// (the service names no replica: counted from outside, as the xtask does).
pub fn served_by_joins(
    lb_port: u16,
    n: usize,
    f: impl Fn() -> BTreeMap<String, u64>,
) -> BTreeMap<String, u64> {
    let before = f();
    joins(lb_port, n);
    f().into_iter()
        .map(|(k, v)| {
            let was = before.get(&k).copied().unwrap_or(0);
            (k, v - was)
        })
        .collect()
}

/// Requests each replica of a recorded local environment served so far:
/// lines of the balancer's upstream log (`$upstream_addr`) per replica port.
pub fn local_served(state: &serde_json::Value) -> BTreeMap<String, u64> {
    let dir = PathBuf::from(state["run_dir"].as_str().expect("a run folder"));
    let log = std::fs::read_to_string(dir.join("nginx-upstream.log")).unwrap_or_default();
    state["processes"]
        .as_array()
        .expect("a local record lists its processes")
        .iter()
        .filter(|p| p["name"].as_str().unwrap().starts_with("app-"))
        .map(|p| {
            let addr = format!("127.0.0.1:{}", p["port"]);
            let n = log.lines().filter(|l| l.trim() == addr).count() as u64;
            (p["name"].as_str().unwrap().to_string(), n)
        })
        .collect()
}
