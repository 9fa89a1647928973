//! The record of an environment left running (`env up`, keep-env):
//! `<reports>/env/state.json`. A later `env status` or `env down`, in another
//! process, reads it to find what to probe and what to stop.
//!
//! Processes are recorded with their start time (from /proc), so a pid the
//! system reused for something else after a reboot is never signalled.

use crate::units::Replicas;
use anyhow::{bail, Context};
use camino::{Utf8Path, Utf8PathBuf};
use serde::{Deserialize, Serialize};

use crate::{context::Ctx, runner::procfs};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// RFC 3339, when `up` began.
    pub started: String,
    pub health_url: String,
    pub replicas: Replicas,
    /// Service logs, nginx config.
    pub run_dir: Utf8PathBuf,
    /// Who started it, from which tree (see `reuse.rs`); None in records
    /// written before it was stamped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
    #[serde(flatten)]
    pub env: Recorded,
}

/// Where a recorded environment came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Origin {
    /// The command that started it (`env up`, `integration --keep-env`).
    pub started_by: String,
    /// The tree it was started (and its app built) from.
    pub git: crate::git::GitInfo,
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
    /// `XTASK_RUN` of the run that started it (procs.rs): a recorded pid is
    /// signalled only if that process carries it.
    #[serde(default)]
    pub marker: Option<String>,
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

/// The record, checked (`State::check`): what `env status|up|down` act on.
pub fn load(ctx: &Ctx) -> anyhow::Result<Option<State>> {
    let path = path(ctx);
    let Some(st) = State::load(&path)? else {
        return Ok(None);
    };
    st.check(ctx).with_context(|| {
        format!(
            "{} was not written by `env up` of this configuration: nothing was stopped; delete it",
            ctx.relative(&path)
        )
    })?;
    Ok(Some(st))
}

impl State {
    /// None when nothing is recorded.
    pub fn load(path: &Utf8Path) -> anyhow::Result<Option<State>> {
        let text = match crate::files::read_string(path, crate::files::SMALL) {
            Ok(t) => t,
            Err(e) if crate::files::is_not_found(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        serde_json::from_str(&text).map(Some).with_context(|| {
            format!("{path} is not an environment record of this xtask: delete it once nothing it describes runs")
        })
    }

    /// Written beside and renamed, so a reader never sees half a record.
    /// The environments rewrite their record on every change (a replica
    /// more, a scale back) without knowing its origin: the one already
    /// recorded for the same start is kept.
    pub fn save(&self, path: &Utf8Path) -> anyhow::Result<()> {
        let mut st = self.clone();
        if st.origin.is_none() {
            st.origin = State::load(path)
                .ok()
                .flatten()
                .filter(|old| old.started == st.started)
                .and_then(|old| old.origin);
        }
        let json = serde_json::to_string_pretty(&st).expect("a state always serialises") + "\n";
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

    /// The record says what we started; on reading it may only name what
    /// the configuration allows: the compose programs we run, a valid
    /// project, our variables, the configured env file, paths inside the
    /// reports folder, and processes that carry the recorded run's marker.
    /// Anything else (a forged or foreign file) is refused before a
    /// program runs, a file is touched or a process is signalled.
    pub fn check(&self, ctx: &Ctx) -> anyhow::Result<()> {
        let reports = &ctx.layout.reports_dir;
        inside(&self.run_dir, reports, "the run folder")?;
        let url: crate::units::HttpUrl = self
            .health_url
            .parse()
            .with_context(|| format!("health URL `{}`", self.health_url))?;
        match &self.env {
            Recorded::Local(l) => {
                inside(&l.nginx_conf, &self.run_dir, "the nginx config")?;
                for p in &l.processes {
                    let known = p.name == "redis"
                        || p.name == "nginx"
                        || p.name
                            .strip_prefix("app-")
                            // A replica's number is at most the most replicas.
                            .is_some_and(|n| n.parse::<Replicas>().is_ok());
                    if !known {
                        bail!(
                            "process `{}`: not a service of the local environment",
                            p.name
                        );
                    }
                    inside(&p.log, &self.run_dir, &format!("the log of {}", p.name))?;
                    if p.pid <= 1 || p.start_ticks.is_none() {
                        bail!(
                            "process {} (pid {}): no start time to verify it by",
                            p.name,
                            p.pid
                        );
                    }
                    if procfs::is_running(p.pid, p.start_ticks) && !started_by_us(ctx, p) {
                        bail!(
                            "pid {} ({}) runs, but this xtask did not start it (neither the run's XTASK_RUN marker nor the configured program leading its own group)",
                            p.pid,
                            p.name
                        );
                    }
                }
            }
            Recorded::Compose(c) => {
                let v2 = ["docker", "compose"];
                if c.command != v2 && c.command != ["docker-compose"] {
                    bail!(
                        "compose command `{}`: only `docker compose` or `docker-compose` are run",
                        c.command.join(" ")
                    );
                }
                if !crate::env::valid_project_name(&c.project) {
                    bail!("compose project `{}`: not a project name we use", c.project);
                }
                // The configured file, or one in the repository or the
                // service (`--compose-file`).
                let configured_file = ctx.path(&ctx.config.environment.compose.file);
                if c.file != configured_file
                    && inside(&c.file, &ctx.service_dir(), "the compose file").is_err()
                {
                    inside(&c.file, &ctx.root, "the compose file")?;
                }
                let mut allowed = crate::images::compose_env(crate::images::OFFLINE_IMAGE);
                allowed.push((super::compose::LB_PORT_VAR.into(), url.port().to_string()));
                if let Some((k, v)) = c.env.iter().find(|kv| !allowed.contains(kv)) {
                    bail!("variable {k}={v}: not one the xtask sets for compose");
                }
                let configured = super::compose::configured_env_file(ctx);
                if let Some(f) = c
                    .created_env_file
                    .as_ref()
                    .filter(|f| Some(*f) != configured.as_ref())
                {
                    bail!("env file {f}: not the configured [environment.compose].env_file");
                }
            }
        }
        Ok(())
    }

    pub fn kind(&self) -> crate::config::EnvKind {
        match self.env {
            Recorded::Local(_) => crate::config::EnvKind::Local,
            Recorded::Compose(_) => crate::config::EnvKind::Compose,
        }
    }
}

/// The recorded process is one `env up` started: it carries the recording
/// run's marker, or (Redis and nginx rewrite their environment for their
/// process title) it runs the configured program and leads its own group.
fn started_by_us(ctx: &Ctx, p: &ProcState) -> bool {
    if p.marker
        .as_deref()
        .is_some_and(|m| crate::procs::started_by(p.pid, m))
    {
        return true;
    }
    let local = &ctx.config.environment.local;
    let program = match p.name.as_str() {
        "redis" => Some(local.redis_command.as_str()),
        "nginx" => Some(local.nginx_command.as_str()),
        _ => local.app_command.first().map(String::as_str),
    };
    let Some(program) = program
        .and_then(|prog| crate::runner::resolve_program(prog, Some(&ctx.service_dir()), "").ok())
        .and_then(|p| p.canonicalize_utf8().ok())
    else {
        return false;
    };
    procfs::leads_group(p.pid) && procfs::exe(p.pid).as_deref() == Some(program.as_std_path())
}

/// `path` is inside `dir`: no `..`, and no symlink on the way leads out.
fn inside(path: &Utf8Path, dir: &Utf8Path, what: &str) -> anyhow::Result<()> {
    let lexical = path.is_absolute()
        && path.starts_with(dir)
        && !path
            .components()
            .any(|c| matches!(c, camino::Utf8Component::ParentDir));
    // The deepest part that exists, resolved, must still be inside.
    let resolved = path
        .ancestors()
        .find_map(|a| a.canonicalize_utf8().ok().map(|c| (a, c)))
        .is_none_or(|(a, c)| {
            let dir = dir.canonicalize_utf8().unwrap_or_else(|_| dir.to_owned());
            c.starts_with(&dir) || !a.starts_with(dir)
        });
    if !lexical || !resolved {
        bail!("{what} {path} is outside {dir}");
    }
    Ok(())
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
            replicas: Replicas::new(2).unwrap(),
            run_dir: "/r/env/20250101T000000Z".into(),
            origin: None,
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
                    marker: Some("4242-99".into()),
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
                env: vec![("APP_LB_PORT".into(), "21080".into())],
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

    /// A context whose reports are in `d/reports`, and a valid local record.
    fn forged_base(d: &Utf8Path) -> (Ctx, State) {
        let ctx = super::super::tests::ctx(
            d,
            "[environment.compose]\nfile = \"demo/docker-compose.yml\"\nenv_file = \"demo/.env.local\"\n",
        );
        let run_dir = ctx.layout.reports_dir.join("env").join("20260101T000000Z");
        let st = State {
            started: "2026-01-01T00:00:00Z".into(),
            health_url: "http://127.0.0.1:18080/api/concerts".into(),
            replicas: Replicas::ONE,
            origin: None,
            env: Recorded::Local(LocalState {
                lb_port: 18080,
                redis_port: 40001,
                nginx_conf: run_dir.join("nginx/nginx.conf"),
                processes: vec![],
            }),
            run_dir,
        };
        (ctx, st)
    }

    fn refused(ctx: &Ctx, st: &State) -> String {
        format!(
            "{:#}",
            st.check(ctx).expect_err("a forged record is refused")
        )
    }

    #[test]
    fn a_forged_compose_record_cannot_choose_a_program_a_variable_or_a_file() {
        let d = super::super::tests::tempdir("state-forged-compose");
        let (ctx, base) = forged_base(&d);
        let compose = |f: &dyn Fn(&mut ComposeState)| {
            let mut c = ComposeState {
                command: vec!["docker-compose".into()],
                file: ctx.root.join("demo/docker-compose.yml"),
                project: "xtabc".into(),
                env: vec![(crate::env::compose::LB_PORT_VAR.into(), "18080".into())],
                created_env_file: Some(ctx.root.join("demo/.env.local")),
            };
            f(&mut c);
            State {
                env: Recorded::Compose(c),
                ..base.clone()
            }
        };
        compose(&|_| {}).check(&ctx).unwrap();
        for (forge, says) in [
            (
                &(|c: &mut ComposeState| {
                    c.command = vec!["/bin/sh".into(), "-c".into(), "touch /tmp/pwned".into()]
                }) as &dyn Fn(&mut ComposeState),
                "compose command `/bin/sh -c touch /tmp/pwned`",
            ),
            (
                &|c| c.command = vec!["docker".into()],
                "compose command `docker`",
            ),
            (&|c| c.project = "--help".into(), "compose project `--help`"),
            (
                &|c| c.project = "x\n- Result: PASS".into(),
                "compose project",
            ),
            (
                &|c| c.file = "/etc/passwd".into(),
                "the compose file /etc/passwd is outside",
            ),
            (
                &|c| c.file = ctx.root.join("demo/../../x.yml"),
                "is outside",
            ),
            (
                &|c| c.env.push(("LD_PRELOAD".into(), "/tmp/x.so".into())),
                "variable LD_PRELOAD=/tmp/x.so",
            ),
            (
                &|c| c.env = vec![(crate::env::compose::LB_PORT_VAR.into(), "1".into())],
                "_LB_PORT=1: not one",
            ),
            (
                &|c| c.env.push(("DOCKER_HOST".into(), "tcp://10.0.0.1".into())),
                "variable DOCKER_HOST",
            ),
            (
                &|c| c.created_env_file = Some(ctx.root.join("README.md")),
                "README.md: not the configured",
            ),
            (
                &|c| c.created_env_file = Some("/etc/hosts".into()),
                "env file /etc/hosts",
            ),
        ] {
            let e = refused(&ctx, &compose(forge));
            assert!(e.contains(says), "{says}: {e}");
        }
        let mut bad_url = compose(&|_| {});
        bad_url.health_url = "http://-x".into();
        refused(&ctx, &bad_url);
        let mut outside = compose(&|_| {});
        outside.run_dir = "/etc".into();
        assert!(refused(&ctx, &outside).contains("the run folder /etc is outside"));
    }

    #[test]
    fn a_forged_local_record_cannot_signal_a_process_we_did_not_start() {
        let d = super::super::tests::tempdir("state-forged-local");
        let (ctx, base) = forged_base(&d);
        // A process of the same user, not started by us: this test's child.
        let mut victim = std::process::Command::new("sleep")
            .arg("300")
            .spawn()
            .unwrap();
        let pid = victim.id();
        let proc = |f: &dyn Fn(&mut ProcState)| {
            let mut p = ProcState {
                name: "redis".into(),
                pid,
                start_ticks: procfs::start_ticks(pid),
                port: 40001,
                log: base.run_dir.join("redis.log"),
                marker: Some("1-2".into()),
            };
            f(&mut p);
            let Recorded::Local(l) = &base.env else {
                unreachable!()
            };
            State {
                env: Recorded::Local(LocalState {
                    processes: vec![p],
                    ..l.clone()
                }),
                ..base.clone()
            }
        };
        for (forge, says) in [
            (
                &(|_: &mut ProcState| {}) as &dyn Fn(&mut ProcState),
                "did not start it",
            ),
            (&|p| p.marker = None, "did not start it"),
            (&|p| p.start_ticks = None, "no start time"),
            (&|p| p.pid = 1, "no start time"),
            (&|p| p.name = "sshd".into(), "process `sshd`"),
            (&|p| p.name = "app-99".into(), "process `app-99`"),
            (
                &|p| p.log = "/etc/shadow".into(),
                "the log of redis /etc/shadow is outside",
            ),
        ] {
            let e = refused(&ctx, &proc(forge));
            assert!(e.contains(says), "{says}: {e}");
        }
        // The same record once the process is gone names nothing to signal.
        let gone = proc(&|_| {});
        victim.kill().unwrap();
        victim.wait().unwrap();
        gone.check(&ctx).unwrap();
        let mut nginx = gone.clone();
        if let Recorded::Local(l) = &mut nginx.env {
            l.nginx_conf = "/etc/nginx/nginx.conf".into();
        }
        assert!(refused(&ctx, &nginx).contains("the nginx config"));
    }
}
