//! Processes: started by a test, looked for in /proc, stand-in programs.

use std::{
    io::BufRead,
    net::TcpStream,
    os::unix::{fs::PermissionsExt, process::CommandExt},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

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

/// The pid a program wrote into `p`.
pub fn read_pid(p: &Path) -> i32 {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .parse()
        .unwrap()
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

/// Polls `cond` (a state, not a time: nothing here asserts how fast).
pub fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let t = Instant::now();
    while !cond() {
        assert!(t.elapsed() < limit, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A server started by a test in its own process group; the whole group
/// is stopped when dropped.
pub struct Proc {
    pub name: String,
    pub child: Child,
}

impl Proc {
    /// Output to `log` (or nowhere); `hint` says how to install `name`.
    pub fn spawn(name: &str, cmd: &mut Command, log: Option<&Path>, hint: &str) -> Proc {
        let (out, err) = match log {
            Some(log) => {
                let f = std::fs::File::create(log).unwrap();
                (Stdio::from(f.try_clone().unwrap()), Stdio::from(f))
            }
            None => (Stdio::null(), Stdio::null()),
        };
        cmd.stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({e}): {hint}"));
        Proc {
            name: name.into(),
            child,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Waits until `port` accepts connections (the server is up).
    pub fn wait_listening(&mut self, port: u16) {
        let until = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!("{} exited before listening on {port}: {st}", self.name);
            }
            assert!(
                Instant::now() < until,
                "{} not listening on {port}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM to the group (PostgreSQL shuts down cleanly on it), SIGKILL
    /// if it is still there 20 s later.
    pub fn stop(&mut self) {
        let pgid = self.pid();
        if let Ok(Some(_)) = self.child.try_wait() {
            // The leader is gone; what it left in the group goes too.
            // SAFETY: plain syscalls on our own child's group.
            unsafe { libc::killpg(pgid, libc::SIGKILL) };
            return;
        }
        unsafe { libc::killpg(pgid, libc::SIGTERM) };
        let until = Instant::now() + Duration::from_secs(20);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        unsafe { libc::killpg(pgid, libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sends SIGINT once `now` says so (it sees the child's stderr so far,
/// and is asked every 20 ms); returns the exit status, the stderr, and the
/// time from the signal to the exit. Panics (after killing the child) if
/// it does not exit within minutes.
pub fn interrupt_when(
    mut child: Child,
    mut now: impl FnMut(&str) -> bool,
) -> (ExitStatus, String, Duration) {
    let stderr = child.stderr.take().expect("stderr is piped");
    let text = Arc::new(Mutex::new(String::new()));
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
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut sent = None;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if sent.is_none() && now(&text.lock().unwrap()) {
            // SAFETY: plain syscall to our own child.
            unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
            sent = Some(Instant::now());
        }
        if Instant::now() > deadline {
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

/// An executable `dir/name` running `body` under /bin/sh: for failure
/// paths a real tool cannot show on demand.
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
