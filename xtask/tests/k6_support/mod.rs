//! Helpers for the k6 end-to-end tests: the built binary with a clean
//! environment, temporary folders and configs, free ports in this suite's
//! range (22000-22999), the demo service (Redis, replicas, nginx) run by the
//! test itself, and a tiny stand-in API for stand-in k6 runs.

#![allow(dead_code)] // each test file uses its own part

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicU16, Ordering},
        Mutex, OnceLock,
    },
    time::{Duration, Instant},
};

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

pub fn script() -> PathBuf {
    root().join("demo/perf/waiting-queue-join.js")
}

/// The xtask binary, without any legacy variable of the calling shell
/// (K6_VUS in a developer's environment must not change a test).
pub fn xtask() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    for (k, _) in std::env::vars() {
        if k.starts_with("K6_")
            || k.starts_with("DIST_")
            || k.starts_with("XTASK_")
            || ["API_HOST", "CONCERT_ID", "CODEX_TMP_DIR", "GITHUB_ACTIONS"].contains(&k.as_str())
        {
            cmd.env_remove(k);
        }
    }
    cmd.stdin(Stdio::null());
    cmd
}

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("cannot run the xtask binary");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A temporary folder, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let d = std::env::temp_dir().join(format!("xtask-k6-{name}-{}", std::process::id()));
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
    /// Writes `xtask.toml` here: the demo script plus `extra`.
    pub fn config(&self, extra: &str) -> PathBuf {
        let p = self.join("xtask.toml");
        std::fs::write(
            &p,
            format!("[k6]\nscript = \"{}\"\n{extra}", script().display()),
        )
        .unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The latest report of `suite` under `reports`: Markdown and JSON.
pub fn report(reports: &Path, suite: &str) -> (String, serde_json::Value) {
    let dir = reports.join(suite).join("latest");
    let md = std::fs::read_to_string(dir.join(format!("{suite}-latest.md")))
        .unwrap_or_else(|e| panic!("no {suite} report in {}: {e}", dir.display()));
    let json = std::fs::read_to_string(dir.join(format!("{suite}-latest.json"))).unwrap();
    (md, serde_json::from_str(&json).unwrap())
}

pub fn notes(json: &serde_json::Value) -> Vec<String> {
    json["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect()
}

/// The one run folder of `suite` (tests start from an empty reports folder).
pub fn run_dir(reports: &Path, suite: &str) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(reports.join(suite))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir() && !p.ends_with("latest"))
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
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

pub fn read_pid(p: &Path) -> i32 {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .parse()
        .unwrap()
}

/// Polls `cond` (a state, not a time: nothing here asserts how fast).
pub fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let t = Instant::now();
    while !cond() {
        assert!(t.elapsed() < limit, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A free port in this suite's range, 22000-22999.
pub fn free_port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let start = 22000 + (std::process::id() % 50) as u16 * 20;
    for _ in 0..1000 {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let port = 22000 + (start - 22000 + n) % 1000;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in 22000-22999");
}

/// `name` on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
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

/// The heavy tests (JVMs, k6) run one at a time: two cores, and k6's own
/// latency thresholds should not depend on what runs beside them.
pub fn heavy() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// `demo/build/libs/demo.jar`, built once with Gradle when missing.
pub fn demo_jar() -> PathBuf {
    static JAR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    JAR.get_or_init(|| {
        let jar = root().join("demo/build/libs/demo.jar");
        if jar.is_file() {
            return Ok(jar);
        }
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
    })
    .clone()
    .unwrap_or_else(|e| panic!("{e}"))
}

/// A child in its own process group, killed (group and all) when dropped.
pub struct Proc {
    pub name: String,
    pub child: Child,
}

impl Proc {
    pub fn spawn(name: &str, cmd: &mut Command, log: &Path) -> Proc {
        use std::os::unix::process::CommandExt;
        let f = std::fs::File::create(log).unwrap();
        cmd.stdin(Stdio::null())
            .stdout(f.try_clone().unwrap())
            .stderr(f)
            .process_group(0);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({e}): is it installed?"));
        Proc {
            name: name.into(),
            child,
        }
    }
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // SAFETY: plain syscall on our own child's group.
        unsafe {
            libc::killpg(self.pid(), libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

/// One plain HTTP/1.1 request; the status and the X-Instance header.
pub fn http(method: &str, port: u16, path: &str, body: &str) -> Option<(u16, Option<String>)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut text = String::new();
    BufReader::new(s).read_to_string(&mut text).ok()?;
    let mut lines = text.lines();
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let instance = lines.take_while(|l| !l.is_empty()).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("x-instance")
            .then(|| v.trim().to_string())
    });
    Some((status, instance))
}

/// The demo service run by the test: Redis, N replicas, and nginx in front
/// when there is more than one. Everything is killed when dropped.
pub struct Demo {
    pub api_port: u16,
    pub instances: Vec<String>,
    procs: Vec<Proc>,
    _dir: TempDir,
}

impl Demo {
    /// `replicas` ids; `started` of them are started (the others are in the
    /// balancer's list but never answer).
    pub fn start(name: &str, ids: &[&str], started: usize) -> Demo {
        let jar = demo_jar();
        let dir = TempDir::new(&format!("demo-{name}"));
        let mut procs = vec![];
        let redis_port = free_port();
        procs.push(Proc::spawn(
            "redis-server",
            Command::new("redis-server").args([
                "--port",
                &redis_port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ]),
            &dir.join("redis.log"),
        ));
        let mut ports = vec![];
        for (i, id) in ids.iter().enumerate() {
            let port = free_port();
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
                        .env("PUSH_SNAPSHOT_INTERVAL_MS", "0"),
                    &dir.join(&format!("{id}.log")),
                ));
            }
        }
        for (i, port) in ports.iter().enumerate().take(started) {
            wait_for(
                &format!("replica {} on port {port}", ids[i]),
                Duration::from_secs(60),
                || matches!(http("GET", *port, "/api/concerts", ""), Some((200, _))),
            );
        }
        let api_port = if ids.len() == 1 {
            ports[0]
        } else {
            let port = free_port();
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
                &dir.join("nginx.log"),
            ));
            wait_for(
                &format!("nginx on port {port}"),
                Duration::from_secs(30),
                || matches!(http("GET", port, "/api/concerts", ""), Some((200, _))),
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

    /// Kills Redis: the replicas then answer joins with 503.
    pub fn stop_redis(&mut self) {
        let redis = self.procs.remove(0);
        assert_eq!(redis.name, "redis-server");
    }

    pub fn pids(&self) -> Vec<i32> {
        self.procs.iter().map(Proc::pid).collect()
    }
}

/// A stand-in API: answers `200 []` to every request, for runs whose k6 is
/// a stand-in too. Serves until the test process ends.
pub fn stub_api() -> u16 {
    let port = free_port();
    let l = TcpListener::bind(("127.0.0.1", port)).unwrap();
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            let mut c = c;
            let mut r = BufReader::new(c.try_clone().unwrap());
            let mut line = String::new();
            while r.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                line.clear();
            }
            let _ = c.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n[]",
            );
        }
    });
    port
}
