//! Processes as Linux's `/proc` shows them: the one reader of
//! `/proc/PID/stat` (state, parent, group, start time), `environ` (our
//! markers) and `exe`. A pid alone can be reused; a pid with its start time
//! names one process for good.

use std::path::PathBuf;

/// Every pid `/proc` lists now.
fn pids() -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .collect()
}

/// Fields of /proc/PID/stat after the command name: state is [0], parent
/// [1], process group [2], start time [19].
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: cut at the last `)`.
    let rest = stat.rsplit_once(')')?.1;
    Some(rest.split_whitespace().map(String::from).collect())
}

fn field(f: &[String], i: usize) -> Option<u64> {
    f.get(i)?.parse().ok()
}

fn zombie(f: &[String]) -> bool {
    f.first().map(String::as_str) == Some("Z")
}

/// When `pid` started (clock ticks since boot).
pub fn start_ticks(pid: u32) -> Option<u64> {
    field(&stat_fields(pid)?, 19)
}

/// The recorded process is still this one (same start time, when given)
/// and still running (not a zombie).
pub fn is_running(pid: u32, ticks: Option<u64>) -> bool {
    let Some(f) = stat_fields(pid) else {
        return false;
    };
    let same = ticks.is_none_or(|t| field(&f, 19) == Some(t));
    same && !zombie(&f)
}

/// `pid` leads its own process group.
pub fn leads_group(pid: u32) -> bool {
    stat_fields(pid).is_some_and(|f| field(&f, 2) == Some(u64::from(pid)))
}

/// The program `pid` runs.
pub fn exe(pid: u32) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/exe")).ok()
}

/// Living (non-zombie) members of process group `pgid`.
pub fn group_members(pgid: u32) -> Vec<u32> {
    pids()
        .into_iter()
        .filter(|&pid| {
            stat_fields(pid).is_some_and(|f| !zombie(&f) && field(&f, 2) == Some(u64::from(pgid)))
        })
        .collect()
}

/// Children of `parent` outside process group `group`.
pub fn children_outside_group(parent: u32, group: u32) -> Vec<u32> {
    pids()
        .into_iter()
        .filter(|&pid| {
            stat_fields(pid).is_some_and(|f| {
                field(&f, 1) == Some(u64::from(parent)) && field(&f, 2) != Some(u64::from(group))
            })
        })
        .collect()
}

/// `/proc/PID/environ` has exactly the entry `want` (`NAME=value`).
pub fn has_entry(pid: u32, want: &[u8]) -> bool {
    std::fs::read(format!("/proc/{pid}/environ"))
        .is_ok_and(|env| env.split(|&b| b == 0).any(|e| e == want))
}

/// Living processes (not this one) whose environment has the entry `want`.
pub fn with_entry(want: &[u8]) -> Vec<u32> {
    let me = std::process::id();
    pids()
        .into_iter()
        .filter(|&pid| pid != me && has_entry(pid, want) && is_running(pid, None))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn processes_are_known_by_pid_and_start_time() {
        let me = std::process::id();
        let t = start_ticks(me);
        assert!(t.is_some());
        assert!(is_running(me, t));
        assert!(
            !is_running(me, t.map(|t| t + 1)),
            "a reused pid is not ours"
        );
        assert!(!is_running(u32::MAX, None));
    }

    #[test]
    fn our_own_environment_and_program_are_read_back() {
        let me = std::process::id();
        assert_eq!(exe(me), std::env::current_exe().ok());
        let (k, v) = std::env::vars()
            .next()
            .expect("a test runs with some variable");
        assert!(has_entry(me, format!("{k}={v}").as_bytes()));
        assert!(!has_entry(me, b"XTASK_NO_SUCH_VARIABLE=1"));
        // SAFETY: getpgrp cannot fail.
        let group = unsafe { libc::getpgrp() } as u32;
        assert!(group_members(group).contains(&me));
    }
}
