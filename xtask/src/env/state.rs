//! The record of an environment left running (`env up`, keep-env):
//! `<reports>/env/state.json`. A later `env status` or `env down`, in another
//! process, reads it to find what to probe and what to stop.
//!
//! Processes are recorded with their start time (from /proc), so a pid the
//! system reused for something else after a reboot is never signalled.

use anyhow::Context;
use camino::{Utf8Path, Utf8PathBuf};
use serde::{Deserialize, Serialize};

use crate::context::Ctx;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// RFC 3339, when `up` began.
    pub started: String,
    pub health_url: String,
    pub replicas: u32,
    /// Service logs, nginx config.
    pub run_dir: Utf8PathBuf,
    #[serde(flatten)]
    pub env: Recorded,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Recorded {
    Local(LocalState),
    Compose(ComposeState),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LocalState {
    pub lb_port: u16,
    pub redis_port: u16,
    pub nginx_conf: Utf8PathBuf,
    /// Each leads its own process group (pgid = pid).
    pub processes: Vec<ProcState>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProcState {
    /// `redis`, `app-1`, ..., `nginx`.
    pub name: String,
    pub pid: u32,
    /// Start time in clock ticks since boot (/proc/PID/stat field 22).
    pub start_ticks: Option<u64>,
    pub port: u16,
    pub log: Utf8PathBuf,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComposeState {
    /// `["docker", "compose"]` or `["docker-compose"]`.
    pub command: Vec<String>,
    pub file: Utf8PathBuf,
    pub project: String,
    /// Variables we computed for compose (LB port, offline images); the
    /// configured `[environment.compose].env` is read again from the config,
    /// so no secret is written here.
    pub env: Vec<(String, String)>,
    /// The empty env file `up` created, removed by `down`.
    pub created_env_file: Option<Utf8PathBuf>,
}

pub fn path(ctx: &Ctx) -> Utf8PathBuf {
    ctx.layout.reports_dir.join("env").join("state.json")
}

impl State {
    /// None when nothing is recorded.
    pub fn load(path: &Utf8Path) -> anyhow::Result<Option<State>> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot read {path}")),
        };
        serde_json::from_str(&text).map(Some).with_context(|| {
            format!("{path} is not an environment record of this xtask: delete it once nothing it describes runs")
        })
    }

    /// Written beside and renamed, so a reader never sees half a record.
    pub fn save(&self, path: &Utf8Path) -> anyhow::Result<()> {
        let json = serde_json::to_string_pretty(self).expect("a state always serialises") + "\n";
        crate::report::write_atomic(path, json.as_bytes())
    }

    pub fn remove(path: &Utf8Path) -> anyhow::Result<()> {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).with_context(|| format!("cannot remove {path}"))
            }
            _ => Ok(()),
        }
    }

    pub fn kind(&self) -> crate::config::EnvKind {
        match self.env {
            Recorded::Local(_) => crate::config::EnvKind::Local,
            Recorded::Compose(_) => crate::config::EnvKind::Compose,
        }
    }
}

// ---------------------------------------------------------------------------
// Processes, as /proc shows them (Linux).
// ---------------------------------------------------------------------------

/// Fields of /proc/PID/stat after the command name: state is [0], pgrp [2],
/// start time [19].
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: cut at the last `)`.
    let rest = stat.rsplit_once(')')?.1;
    Some(rest.split_whitespace().map(String::from).collect())
}

pub fn start_ticks(pid: u32) -> Option<u64> {
    stat_fields(pid)?.get(19)?.parse().ok()
}

/// The recorded process is still this one and still running (not a zombie).
pub fn is_running(pid: u32, ticks: Option<u64>) -> bool {
    let Some(f) = stat_fields(pid) else {
        return false;
    };
    let same = match ticks {
        Some(t) => f.get(19).and_then(|s| s.parse::<u64>().ok()) == Some(t),
        None => true,
    };
    same && f.first().map(String::as_str) != Some("Z")
}

/// Living (non-zombie) members of process group `pgid`.
pub fn group_members(pgid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            stat_fields(pid).is_some_and(|f| {
                f.first().map(String::as_str) != Some("Z")
                    && f.get(2).and_then(|g| g.parse::<u32>().ok()) == Some(pgid)
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_environment_reads_back_the_same() {
        let d = super::super::tests::tempdir("state");
        let p = d.join("env").join("state.json");
        assert_eq!(State::load(&p).unwrap(), None);
        let local = State {
            started: "2025-01-01T00:00:00Z".into(),
            health_url: "http://127.0.0.1:21080/api/concerts".into(),
            replicas: 2,
            run_dir: "/r/env/20250101T000000Z".into(),
            env: Recorded::Local(LocalState {
                lb_port: 21080,
                redis_port: 40001,
                nginx_conf: "/r/env/x/nginx/nginx.conf".into(),
                processes: vec![ProcState {
                    name: "redis".into(),
                    pid: 4242,
                    start_ticks: Some(99),
                    port: 40001,
                    log: "/r/env/x/redis.log".into(),
                }],
            }),
        };
        local.save(&p).unwrap();
        assert_eq!(State::load(&p).unwrap().as_ref(), Some(&local));
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains("\"kind\": \"local\""), "{text}");

        let compose = State {
            env: Recorded::Compose(ComposeState {
                command: vec!["docker-compose".into()],
                file: "/w/demo/docker-compose.yml".into(),
                project: "xtabc".into(),
                env: vec![("TCS_LB_PORT".into(), "21080".into())],
                created_env_file: Some("/w/demo/.env.local".into()),
            }),
            ..local
        };
        compose.save(&p).unwrap();
        assert_eq!(State::load(&p).unwrap(), Some(compose));
        State::remove(&p).unwrap();
        State::remove(&p).unwrap();
        assert_eq!(State::load(&p).unwrap(), None);
    }

    #[test]
    fn a_broken_record_says_what_to_do() {
        let d = super::super::tests::tempdir("state-bad");
        let p = d.join("state.json");
        std::fs::write(&p, "{").unwrap();
        let e = format!("{:#}", State::load(&p).unwrap_err());
        assert!(
            e.contains("delete it once nothing it describes runs"),
            "{e}"
        );
    }

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
}
