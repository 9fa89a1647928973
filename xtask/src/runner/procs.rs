//! Everything a run starts can be found again, even after the run died.
//!
//! - Every child gets `XTASK_RUN=<pid>-<start ticks>` (this process) and
//!   `XTASK_STEP=<run>.<n>` (its step) in its environment; whatever it starts
//!   inherits them, in its process group or not (`setsid` daemons included).
//!   When a step ends (exit, deadline, interrupt), every process still
//!   carrying its step marker is killed.
//! - The xtask is a child subreaper (`PR_SET_CHILD_SUBREAPER`): a daemon
//!   whose parent exits is re-parented to us, not to init, so we reap it.
//! - A run that starts anything leaves a lease, `<lock dir>/runs/<run>.json`
//!   (its pid, start time, compose projects, files it created), removed when
//!   it ends. A lease whose process is gone (SIGKILL, OOM) names what that
//!   run left running: the next run, or `env down`, stops it (processes by
//!   marker, containers by their compose project label), as Testcontainers'
//!   reaper does.

use std::{
    collections::BTreeSet,
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
        Mutex, OnceLock,
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use camino::{Utf8Path, Utf8PathBuf};
use serde::{Deserialize, Serialize};

use super::procfs::{self, is_running, start_ticks};

pub const RUN_VAR: &str = "XTASK_RUN";
pub const STEP_VAR: &str = "XTASK_STEP";

/// This process's marker: pid and start time, unique across reboots' pid reuse.
pub fn run_marker() -> &'static str {
    static MARKER: OnceLock<String> = OnceLock::new();
    MARKER.get_or_init(|| {
        let pid = std::process::id();
        format!("{pid}-{}", start_ticks(pid).unwrap_or(0))
    })
}

/// A fresh marker for one step.
pub fn step_marker() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!("{}.{}", run_marker(), N.fetch_add(1, Ordering::Relaxed))
}

/// The variables every child carries.
pub fn child_env(step: &str) -> [(&'static str, String); 2] {
    [
        (RUN_VAR, run_marker().to_string()),
        (STEP_VAR, step.to_string()),
    ]
}

static SUBREAPER: AtomicBool = AtomicBool::new(false);
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
static TRACKED: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

/// Orphaned descendants come to us, not to init (Linux). Then a child of
/// ours that is none of the steps' or services' is an orphan some step left.
pub fn become_subreaper() {
    // SAFETY: a plain prctl with integer arguments.
    let ok = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } == 0;
    SUBREAPER.store(ok, Ordering::SeqCst);
}

fn tracked() -> std::sync::MutexGuard<'static, BTreeSet<u32>> {
    TRACKED.lock().unwrap_or_else(|e| e.into_inner())
}

/// A child we started and wait for ourselves (a step, a service).
pub fn track(pid: u32) {
    tracked().insert(pid);
}

pub fn untrack(pid: u32) {
    tracked().remove(&pid);
}

/// A step begins: until it ends, an adopted orphan may be its own.
pub fn step_begins() {
    IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
}

/// A step ended: when no other step runs, every child of ours that is not
/// tracked and not in our own process group (every child the runner starts
/// leads its own) is an orphan a step left (one that cleared its
/// environment, so no marker finds it): killed and reaped.
pub fn step_ends() {
    if IN_FLIGHT.fetch_sub(1, Ordering::SeqCst) != 1 || !SUBREAPER.load(Ordering::SeqCst) {
        return;
    }
    let me = std::process::id();
    let keep = tracked().clone();
    // SAFETY: getpgrp cannot fail.
    let own_group = unsafe { libc::getpgrp() } as u32;
    let orphans: BTreeSet<u32> = procfs::children_outside_group(me, own_group)
        .into_iter()
        .filter(|p| !keep.contains(p))
        .collect();
    for &pid in &orphans {
        // SAFETY: plain syscall on our own child.
        unsafe {
            libc::kill(pid as i32, libc::SIGKILL);
        }
    }
    let until = Instant::now() + Duration::from_millis(500);
    let mut left = orphans;
    while !left.is_empty() && Instant::now() < until {
        left.retain(|&pid| {
            let mut status = 0;
            // SAFETY: non-blocking waitpid on our own child, just killed.
            unsafe { libc::waitpid(pid as i32, &mut status, libc::WNOHANG) == 0 }
        });
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Living processes (not this one) whose environment has `var=value`.
pub fn marked(var: &str, value: &str) -> Vec<u32> {
    procfs::with_entry(format!("{var}={value}").as_bytes())
}

/// `has_entry` for our run marker: a process some xtask run `marker` started.
pub fn started_by(pid: u32, marker: &str) -> bool {
    procfs::has_entry(pid, format!("{RUN_VAR}={marker}").as_bytes())
}

/// SIGKILLs every living process carrying `var=value` (repeatedly: one may
/// fork while we look) and reaps those re-parented to us. Returns how many.
pub fn kill_marked(var: &str, value: &str) -> usize {
    let mut killed = BTreeSet::new();
    let until = Instant::now() + Duration::from_secs(2);
    loop {
        let found = marked(var, value);
        if found.is_empty() || Instant::now() >= until {
            break;
        }
        for pid in found {
            // SAFETY: plain syscalls; ESRCH (gone) is fine.
            unsafe {
                libc::kill(pid as i32, libc::SIGKILL);
            }
            killed.insert(pid);
        }
        reap(&killed);
        std::thread::sleep(Duration::from_millis(5));
    }
    reap(&killed);
    killed.len()
}

/// Collects the exit status of those of `pids` that are our (adopted)
/// children, so none stays a zombie.
fn reap(pids: &BTreeSet<u32>) {
    for &pid in pids {
        let mut status = 0;
        // SAFETY: waitpid on a specific pid, non-blocking; ECHILD when it
        // is not our child (then its own parent reaps it).
        unsafe {
            libc::waitpid(pid as i32, &mut status, libc::WNOHANG);
        }
    }
}

// ---------------------------------------------------------------------------
// Leases: what a run started, for the reaper of the next run.
// ---------------------------------------------------------------------------

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Lease {
    pub pid: u32,
    pub start_ticks: Option<u64>,
    /// Compose projects it brought up.
    #[serde(default)]
    pub compose: Vec<String>,
    /// Files it created (compose's empty env file), removed if still empty.
    #[serde(default)]
    pub files: Vec<Utf8PathBuf>,
    /// Background services' process groups, as (leader pid, start ticks):
    /// Redis and nginx rewrite their environment, so no marker finds them.
    #[serde(default)]
    pub groups: Vec<(u32, u64)>,
}

/// This run's lease file, written the first time it starts anything.
#[derive(Debug, Default)]
pub struct Leases {
    dir: Option<Utf8PathBuf>,
    lease: Option<Lease>,
}

static LEASES: Mutex<Leases> = Mutex::new(Leases {
    dir: None,
    lease: None,
});

fn leases() -> std::sync::MutexGuard<'static, Leases> {
    LEASES.lock().unwrap_or_else(|e| e.into_inner())
}

fn lease_path(dir: &Utf8Path, marker: &str) -> Utf8PathBuf {
    dir.join(format!("{marker}.json"))
}

/// Where this run's lease goes (`<lock dir>/runs`); set once per process.
pub fn set_lease_dir(dir: Utf8PathBuf) {
    leases().dir = Some(dir);
}

/// Records (once) that this run starts processes; with `project` or
/// `file`, that it brings up a compose project or creates a file.
pub fn lease(project: Option<&str>, file: Option<&Utf8Path>) {
    lease_with(project, file, None);
}

/// Records a background service's process group (its leader just started).
pub fn lease_group(pid: u32) {
    if let Some(ticks) = start_ticks(pid) {
        lease_with(None, None, Some((pid, ticks)));
    }
}

fn lease_with(project: Option<&str>, file: Option<&Utf8Path>, group: Option<(u32, u64)>) {
    let mut l = leases();
    let Some(dir) = l.dir.clone() else { return };
    let fresh = l.lease.is_none();
    let lease = l.lease.get_or_insert_with(|| Lease {
        pid: std::process::id(),
        start_ticks: start_ticks(std::process::id()),
        ..Lease::default()
    });
    let mut changed = fresh;
    if let Some(p) = project.filter(|p| !lease.compose.iter().any(|c| c == p)) {
        lease.compose.push(p.to_string());
        changed = true;
    }
    if let Some(f) = file.filter(|f| !lease.files.iter().any(|c| c == *f)) {
        lease.files.push(f.to_owned());
        changed = true;
    }
    if let Some(g) = group.filter(|g| !lease.groups.contains(g)) {
        lease.groups.push(g);
        changed = true;
    }
    if changed {
        let json = serde_json::to_vec_pretty(&*lease).expect("a lease serialises");
        // Best effort: a folder we cannot write must not stop the run.
        let _ = std::fs::create_dir_all(&dir)
            .map_err(anyhow::Error::from)
            .and_then(|()| crate::report::write_atomic(&lease_path(&dir, run_marker()), &json));
    }
}

/// The run ends normally: whatever it started was stopped, or handed on
/// on purpose (keep-env, recorded in the environment's state).
pub fn end_lease() {
    let mut l = leases();
    if let (Some(dir), Some(_)) = (l.dir.clone(), l.lease.take()) {
        let _ = std::fs::remove_file(lease_path(&dir, run_marker()));
    }
}

/// What the reaper found of one dead run.
#[derive(Debug, Default, PartialEq)]
pub struct Reaped {
    pub pid: u32,
    pub processes: usize,
    pub compose: Vec<String>,
}

/// Finds the leases in `dir` of runs that died and stops what they left:
/// processes by marker, compose projects through `down_project`, empty
/// files they created that `may_remove` allows. Live runs are left alone.
pub fn reap_dead_runs(
    dir: &Utf8Path,
    mut down_project: impl FnMut(&str) -> anyhow::Result<()>,
    may_remove: impl Fn(&Utf8Path) -> bool,
) -> anyhow::Result<Vec<Reaped>> {
    let Ok(entries) = dir.read_dir_utf8() else {
        return Ok(vec![]);
    };
    let mut out = vec![];
    for e in entries.filter_map(|e| e.ok()) {
        let path = e.path().to_owned();
        let Some(marker) = path
            .file_name()
            .and_then(|n| n.strip_suffix(".json"))
            .filter(|m| valid_marker(m))
        else {
            continue;
        };
        if marker == run_marker() {
            continue;
        }
        let Ok(lease) = crate::files::read(&path, crate::files::SMALL)
            .and_then(|b| serde_json::from_slice::<Lease>(&b).map_err(Into::into))
        else {
            // Not ours to judge: leave what we cannot read.
            continue;
        };
        if format!("{}-{}", lease.pid, lease.start_ticks.unwrap_or(0)) != marker
            || is_running(lease.pid, lease.start_ticks)
        {
            continue;
        }
        let mut processes = 0;
        let mut killed = vec![];
        for &(pid, ticks) in &lease.groups {
            if pid > 1 && is_running(pid, Some(ticks)) {
                processes += procfs::group_members(pid).len().max(1);
                // SAFETY: plain syscall; the leader is verified by start time.
                unsafe {
                    libc::killpg(pid as i32, libc::SIGKILL);
                }
                killed.push(pid);
            }
        }
        processes += kill_marked(RUN_VAR, marker);
        // Gone before we go on: what comes next (the environment record's
        // check, a port check) must not see them dying.
        let until = Instant::now() + Duration::from_secs(3);
        while Instant::now() < until && killed.iter().any(|&g| !procfs::group_members(g).is_empty())
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut compose = vec![];
        for project in &lease.compose {
            if crate::env::valid_project_name(project) {
                down_project(project).with_context(|| {
                    format!(
                        "cannot remove compose project {project}, left by a run that died (pid {})",
                        lease.pid
                    )
                })?;
                compose.push(project.clone());
            }
        }
        for f in &lease.files {
            let empty = std::fs::symlink_metadata(f).is_ok_and(|m| m.is_file() && m.len() == 0);
            if empty && may_remove(f) {
                let _ = std::fs::remove_file(f);
            }
        }
        match std::fs::remove_file(&path) {
            // Another run (a parallel gate stage) reaped it first.
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("cannot remove {path}"));
            }
            _ => {}
        }
        out.push(Reaped {
            pid: lease.pid,
            processes,
            compose,
        });
    }
    Ok(out)
}

/// `<pid>-<ticks>`, digits only: a lease's name is never a path.
fn valid_marker(m: &str) -> bool {
    m.split_once('-').is_some_and(|(a, b)| {
        !a.is_empty()
            && !b.is_empty()
            && a.bytes().all(|c| c.is_ascii_digit())
            && b.bytes().all(|c| c.is_ascii_digit())
    })
}

/// The run `marker` names has ended (its process is gone, or is another).
pub fn run_ended(marker: &str) -> bool {
    let Some((pid, ticks)) = marker
        .split_once('-')
        .and_then(|(p, t)| Some((p.parse::<u32>().ok()?, t.parse::<u64>().ok()?)))
    else {
        return false;
    };
    !is_running(pid, Some(ticks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_this_process_and_fresh_per_step() {
        let m = run_marker();
        assert!(valid_marker(m), "{m}");
        assert!(m.starts_with(&format!("{}-", std::process::id())));
        assert!(!run_ended(m), "this run goes on");
        assert!(run_ended(&format!("{}-1", u32::MAX - 3)));
        assert!(!run_ended("junk"), "not a marker: nothing to judge");
        assert_ne!(step_marker(), step_marker());
        for bad in ["", "1", "1-", "-1", "../x-1", "1-2.json", "a-1"] {
            assert!(!valid_marker(bad), "{bad}");
        }
    }

    #[test]
    fn a_marked_daemon_in_its_own_session_is_found_and_killed() {
        let step = step_marker();
        // setsid: its own session and group, out of reach of killpg.
        let mut child = std::process::Command::new("setsid")
            .args(["sleep", "300"])
            .env(STEP_VAR, &step)
            .spawn()
            .expect("setsid (util-linux)");
        let pid = child.id();
        let t = Instant::now();
        while !procfs::has_entry(pid, format!("{STEP_VAR}={step}").as_bytes()) {
            assert!(t.elapsed() < Duration::from_secs(5));
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(kill_marked(STEP_VAR, &step), 1);
        let _ = child.wait();
        assert!(marked(STEP_VAR, &step).is_empty());
    }

    #[test]
    fn a_dead_runs_lease_is_reaped_and_a_live_one_left() {
        let d = Utf8PathBuf::from_path_buf(std::env::temp_dir())
            .unwrap()
            .join(format!("xtask-reaper-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        // A live run: a process that is still there.
        let mut live = std::process::Command::new("sleep")
            .arg("300")
            .spawn()
            .unwrap();
        let me = Lease {
            pid: live.id(),
            start_ticks: start_ticks(live.id()),
            compose: vec!["xtlive".into()],
            ..Lease::default()
        };
        // A dead run: pid and ticks of no living process, a leftover child
        // carrying its marker, a project, an empty file it created.
        let dead_marker = format!("{}-1", u32::MAX - 7);
        let leftover = std::process::Command::new("sleep")
            .arg("300")
            .env(RUN_VAR, &dead_marker)
            .spawn()
            .unwrap();
        let created = d.join("env.local");
        std::fs::write(&created, "").unwrap();
        // A service that rewrote its environment (as Redis does): known by
        // its group; and a recorded group whose leader is another process now.
        let mut service = {
            use std::os::unix::process::CommandExt;
            std::process::Command::new("sleep")
                .arg("300")
                .process_group(0)
                .spawn()
                .unwrap()
        };
        let mut bystander = {
            use std::os::unix::process::CommandExt;
            std::process::Command::new("sleep")
                .arg("300")
                .process_group(0)
                .spawn()
                .unwrap()
        };
        let dead = Lease {
            pid: u32::MAX - 7,
            start_ticks: Some(1),
            compose: vec!["xtdead".into(), "Bad Name".into()],
            files: vec![created.clone()],
            groups: vec![
                (service.id(), start_ticks(service.id()).unwrap()),
                (bystander.id(), start_ticks(bystander.id()).unwrap() + 1),
            ],
        };
        let write = |marker: &str, l: &Lease| {
            std::fs::write(lease_path(&d, marker), serde_json::to_vec(l).unwrap()).unwrap()
        };
        let live_marker = format!("{}-{}", me.pid, me.start_ticks.unwrap());
        write(&live_marker, &me);
        write(&dead_marker, &dead);
        // A lease whose name is not its pid and start time is not read.
        write(&format!("{}-2", u32::MAX - 9), &dead);
        let t = Instant::now();
        while !started_by(leftover.id(), &dead_marker) {
            assert!(t.elapsed() < Duration::from_secs(5));
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut downed = vec![];
        let reaped = reap_dead_runs(
            &d,
            |p| {
                downed.push(p.to_string());
                Ok(())
            },
            |f| f == created,
        )
        .unwrap();
        assert_eq!(
            reaped,
            vec![Reaped {
                pid: u32::MAX - 7,
                processes: 2,
                compose: vec!["xtdead".into()]
            }]
        );
        assert!(service.wait().is_ok());
        assert!(
            bystander.try_wait().unwrap().is_none(),
            "a pid whose start time differs is not ours"
        );
        let _ = bystander.kill();
        let _ = bystander.wait();
        assert_eq!(downed, ["xtdead"], "a bad project name is never passed on");
        assert!(!created.exists());
        assert!(!lease_path(&d, &dead_marker).exists());
        assert!(
            lease_path(&d, &live_marker).exists(),
            "a live run is left alone"
        );
        assert!(lease_path(&d, &format!("{}-2", u32::MAX - 9)).exists());
        let mut leftover = leftover;
        let _ = leftover.wait();
        let _ = live.kill();
        let _ = live.wait();
    }
}
