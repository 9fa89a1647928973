//! Shared by the environment end-to-end tests: the built binary with a
//! temporary config and reports folder, a tiny HTTP client, process checks.

#![allow(dead_code)] // each test file uses its own part

use std::{
    io::{Read, Write},
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Command, Output},
    time::Duration,
};

/// A fresh temporary folder for one test.
pub fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("xtenv-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs of one test file share the demo folder (its jar, its .env.local) and
/// two cores: one environment at a time.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

pub struct Xtask {
    pub dir: PathBuf,
    pub config: PathBuf,
    pub reports: PathBuf,
}

impl Xtask {
    /// A config written into a fresh folder, reports beside it.
    pub fn new(name: &str, config: &str) -> Xtask {
        let dir = tempdir(name);
        let path = dir.join("xtask.toml");
        std::fs::write(&path, config).unwrap();
        Xtask {
            reports: dir.join("reports"),
            config: path,
            dir,
        }
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
        c.arg("--config")
            .arg(&self.config)
            .arg("--reports-dir")
            .arg(&self.reports)
            .args(args)
            .current_dir(&self.dir);
        // The legacy variables would override what each test says.
        for v in [
            "IT_COMPOSE_FILE",
            "IT_COMPOSE_PROJECT",
            "IT_APP_REPLICAS",
            "IT_KEEP_ENV",
            "IT_HEALTH_URL",
            "IT_HEALTH_ATTEMPTS",
            "IT_HEALTH_SLEEP_SEC",
            "XTASK_CONFIG",
            "XTASK_REPORTS_DIR",
            "CODEX_TMP_DIR",
            "TCS_LB_PORT",
        ] {
            c.env_remove(v);
        }
        c
    }

    /// Runs to completion; the output is echoed for a failing test's log.
    pub fn run(&self, args: &[&str]) -> Output {
        let out = self
            .cmd(args)
            .output()
            .expect("cannot run the xtask binary");
        eprintln!(
            "$ xtask {}\n{}{}-> {:?}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            out.status.code()
        );
        out
    }

    pub fn state_path(&self) -> PathBuf {
        self.reports.join("env").join("state.json")
    }

    pub fn state(&self) -> serde_json::Value {
        let text =
            std::fs::read_to_string(self.state_path()).expect("env up records the environment");
        serde_json::from_str(&text).unwrap()
    }

    /// The pids `env up` recorded (local environment).
    pub fn recorded_pids(&self) -> Vec<(String, i32)> {
        self.state()["processes"]
            .as_array()
            .expect("a local record lists its processes")
            .iter()
            .map(|p| {
                (
                    p["name"].as_str().unwrap().to_string(),
                    p["pid"].as_i64().unwrap() as i32,
                )
            })
            .collect()
    }
}

pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed ({:?}): {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The workspace root (the demo lives there).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

pub struct Answer {
    pub status: u16,
    pub instance: Option<String>,
    pub body: String,
}

/// One HTTP/1.1 request to 127.0.0.1:port, connection closed after it.
pub fn http(method: &str, port: u16, path: &str, body: Option<&str>) -> std::io::Result<Answer> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let body = body.unwrap_or("");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)?;
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let instance = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("x-instance"))
        .map(|(_, v)| v.trim().to_string());
    Ok(Answer {
        status,
        instance,
        body: body.to_string(),
    })
}

/// Joins through the balancer until every one of `want` replicas has
/// answered with a valid status (round robin needs only a few), or panics.
pub fn joins_reach_replicas(lb_port: u16, want: usize) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..(want * 10) {
        let user = 800_000_000 + std::process::id() as u64 * 100 + i as u64;
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
        seen.insert(
            a.instance
                .expect("every answer names its replica (X-Instance)"),
        );
        if seen.len() == want {
            break;
        }
    }
    assert_eq!(
        seen.len(),
        want,
        "replicas seen through the balancer: {seen:?}"
    );
    seen.into_iter().collect()
}

/// Alive and not a zombie (pid 1 here may never reap orphans).
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

/// Living processes whose command line or environment mentions `marker`.
pub fn processes_mentioning(marker: &str) -> Vec<(i32, String)> {
    let mut found = vec![];
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if pid == std::process::id() as i32 || !alive(pid) {
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

/// Sends SIGINT once `now` says so (it sees the child's stderr so far,
/// and is asked every 20 ms); returns the exit status, the stderr, and the
/// time from the signal to the exit. Panics (after killing the child) if
/// it does not exit within minutes.
pub fn interrupt_when(
    mut child: std::process::Child,
    mut now: impl FnMut(&str) -> bool,
) -> (std::process::ExitStatus, String, Duration) {
    use std::io::BufRead;
    let stderr = child.stderr.take().expect("stderr is piped");
    let text = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let reader = {
        let text = text.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                let mut t = text.lock().unwrap();
                t.push_str(&line);
                t.push('\n');
            }
        })
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    let mut sent = None;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if sent.is_none() && now(&text.lock().unwrap()) {
            // SAFETY: plain syscall to our own child.
            unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
            sent = Some(std::time::Instant::now());
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the xtask did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = sent.map(|t| t.elapsed());
    reader.join().unwrap();
    let err = text.lock().unwrap().clone();
    eprintln!("{err}");
    let took = took.expect("the xtask ended before the moment to interrupt it came");
    eprintln!("exit {:?}, {took:?} after SIGINT", status.code());
    (status, err, took)
}
