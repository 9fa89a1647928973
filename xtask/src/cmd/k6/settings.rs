//! Every k6 option of `k6 run|baseline|distributed`, resolved once: flag >
//! legacy variable > xtask.toml > default; what k6 is handed from them (the
//! script's `-e` variables, k6's own variables, the runtime, the deadline);
//! and the outputs k6 writes (checked before the run, cleared right before
//! k6 starts).

use anyhow::{bail, Context};
use camino::Utf8PathBuf;

use crate::{
    context::Ctx,
    flags,
    k6::{self, Dashboard, Runtime, Summary},
    report::{Report, Run, RunOptions},
    runner, tools,
    units::{Duration, Generators, HttpUrl},
};

/// The path k6 joins on (the script's, and the warm-up's).
const JOIN_PATH: &str = "/api/v1/waiting-queue/join";

/// Every k6 option, resolved: flag > legacy variable > xtask.toml > default.
#[derive(Clone, Debug)]
pub(super) struct Settings {
    pub(super) script: Utf8PathBuf,
    pub(super) concert_id: u64,
    pub(super) vus: u32,
    pub(super) duration: Duration,
    pub(super) sleep_max: Duration,
    pub(super) user_id_base: u64,
    pub(super) docker_image: String,
    pub(super) docker_network: String,
    pub(super) docker_user: String,
    pub(super) dashboard: bool,
    pub(super) dashboard_host: String,
    pub(super) dashboard_port: u16,
    pub(super) dashboard_export: Option<Utf8PathBuf>,
    pub(super) summary_json: Option<Utf8PathBuf>,
    pub(super) deadline_slack: Duration,
    pub(super) engine: crate::operator::Engine,
    /// k6 processes making the load (`generators.rs` when more than one).
    pub(super) generators: Generators,
    pub(super) run_stamp: Option<crate::units::RunStamp>,
    pub(super) log_file: Option<Utf8PathBuf>,
    pub(super) report_file: Option<Utf8PathBuf>,
}

impl Settings {
    /// Bad input is one line here, before anything starts or is written.
    pub(super) fn resolve(
        ctx: &Ctx,
        o: &flags::K6Opts,
        user_id_base: u64,
    ) -> anyhow::Result<Settings> {
        let c = &ctx.config.k6;
        let script = ctx.path(o.script.as_deref().unwrap_or(&c.script));
        if !script.is_file() {
            bail!(
                "k6 script {script} not found: pass --script PATH (or K6_SCRIPT), or set [k6] script in {}",
                ctx.relative(&ctx.config_path)
            );
        }
        let dashboard = o.dashboard.unwrap_or(false);
        let generators = o.generators.unwrap_or(c.generators);
        if dashboard && generators.get() > 1 {
            bail!(
                "--dashboard with {generators} generators: k6's web dashboard shows one process's part only; run without --dashboard (the report's numbers and charts are the merged ones), or with --generators 1"
            );
        }
        Ok(Settings {
            script,
            concert_id: o.concert_id.unwrap_or(c.concert_id),
            vus: o.vus.unwrap_or(c.vus),
            duration: o.duration.unwrap_or(c.duration).get(),
            sleep_max: o.sleep_max.unwrap_or(c.sleep_max),
            user_id_base: o.user_id_base.unwrap_or(user_id_base),
            docker_image: o
                .docker_image
                .clone()
                .unwrap_or_else(|| c.docker_image.clone()),
            docker_network: o
                .docker_network
                .clone()
                .unwrap_or_else(|| c.docker_network.clone()),
            docker_user: o.docker_user.clone().unwrap_or_else(|| {
                // SAFETY: getuid/getgid cannot fail.
                let (u, g) = unsafe { (libc::getuid(), libc::getgid()) };
                format!("{u}:{g}")
            }),
            dashboard: o.dashboard.unwrap_or(false),
            dashboard_host: o
                .dashboard_host
                .clone()
                .unwrap_or_else(|| "127.0.0.1".into()),
            dashboard_port: o.dashboard_port.unwrap_or(5665),
            dashboard_export: o.dashboard_export.as_deref().map(|p| ctx.path(p)),
            summary_json: o.summary_json.as_deref().map(|p| ctx.path(p)),
            deadline_slack: c.deadline_slack,
            engine: o.engine.unwrap_or(c.engine),
            generators: o.generators.unwrap_or(c.generators),
            run_stamp: o.run_stamp.clone(),
            log_file: o.log_file.as_deref().map(|p| ctx.path(p)),
            report_file: o.report_file.as_deref().map(|p| ctx.path(p)),
        })
    }

    /// Before the run: where k6 comes from and, when that is the docker
    /// fallback, that every path k6 must see lies under the repository (the
    /// only folder mounted). Bad input here is one line and no report.
    pub(super) fn preflight(&self, ctx: &Ctx) -> anyhow::Result<()> {
        if let Some(p) = &self.summary_json {
            check_output(p, Output::Summary)?;
        }
        if let (true, Some(p)) = (self.dashboard, &self.dashboard_export) {
            check_output(p, Output::Dashboard)?;
        }
        if self.engine == crate::operator::Engine::K6Operator {
            // kubectl for the cluster; k6 here only for `k6 inspect`.
            crate::operator::preflight()?;
            // A dry run inspects nothing, so it needs no k6.
            if ctx
                .runner
                .answer(|| tools::k6_local(ctx).is_none(), || false)
            {
                return Err(runner::MissingTool {
                    tool: "k6".into(),
                    hint: "the k6-operator engine reads the script's thresholds with a local `k6 inspect`: run `cargo xtask setup`".into(),
                }
                .into());
            }
            return Ok(());
        }
        // A dry run runs no k6, so it needs none.
        if ctx
            .runner
            .answer(|| tools::k6_local(ctx).is_some(), || true)
        {
            return Ok(());
        }
        if tools::which("docker").is_none() {
            return Err(runner::MissingTool {
                tool: "k6".into(),
                hint: format!(
                    "not in {} either, and no `docker` for the fallback: run `cargo xtask setup` (installs the pinned k6)",
                    ctx.relative(&tools::k6_tools_path(ctx))
                ),
            }
            .into());
        }
        let reports = &ctx.layout.reports_dir;
        let mut paths = vec![
            ("script", &self.script),
            (
                "summary JSON",
                self.summary_json.as_ref().unwrap_or(reports),
            ),
        ];
        if self.dashboard {
            let export = self.dashboard_export.as_ref().unwrap_or(reports);
            paths.push(("dashboard export", export));
        }
        for (what, p) in paths {
            k6::container_path(&ctx.root, p).with_context(|| {
                format!("no local k6, so k6 would run in docker and cannot reach its {what}")
            })?;
        }
        Ok(())
    }

    pub(super) fn run_options(&self) -> RunOptions {
        RunOptions {
            stamp: self.run_stamp.clone(),
            log_file: self.log_file.clone(),
            report_file: self.report_file.clone(),
        }
    }

    pub(super) fn summary_path(&self, run: &Run) -> Utf8PathBuf {
        self.summary_json
            .clone()
            .unwrap_or_else(|| run.dir.join("k6-summary.json"))
    }

    /// Deletes the previous run's summary and dashboard right before k6
    /// starts, so that a broken run can never show their numbers; only what
    /// k6 wrote (see `check_output`), never another file at that path.
    pub(super) fn clear_previous(&self, run: &Run) -> anyhow::Result<()> {
        check_output(&self.summary_path(run), Output::Summary)?;
        remove_if_exists(&self.summary_path(run))?;
        match self.dashboard(run) {
            Some(d) => {
                check_output(&d.export, Output::Dashboard)?;
                remove_if_exists(&d.export)
            }
            None => Ok(()),
        }
    }

    pub(super) fn dashboard(&self, run: &Run) -> Option<Dashboard> {
        self.dashboard.then(|| Dashboard {
            host: self.dashboard_host.clone(),
            port: self.dashboard_port,
            export: self
                .dashboard_export
                .clone()
                .unwrap_or_else(|| run.dir.join("k6-web-dashboard.html")),
        })
    }

    /// `-e` variables for the script: the legacy set, which the service's
    /// script reads (nothing of ours).
    pub(super) fn script_vars(&self, api: &HttpUrl) -> Vec<(String, String)> {
        vec![
            ("API_HOST".to_string(), api_base(api)),
            ("CONCERT_ID".into(), self.concert_id.to_string()),
            ("VUS".into(), self.vus.to_string()),
            ("DURATION".into(), self.duration.to_go_string()),
            ("SLEEP_MAX_SEC".into(), seconds(self.sleep_max)),
            ("USER_ID_BASE".into(), self.user_id_base.to_string()),
        ]
    }

    /// k6 itself reads K6_VUS and K6_DURATION, and they beat the script's
    /// options: when the legacy variables are set, k6 gets the resolved
    /// values, so that a flag still wins over the variable.
    pub(super) fn k6_env(&self) -> Vec<(String, String)> {
        let mut env = vec![];
        if std::env::var_os("K6_VUS").is_some() {
            env.push(("K6_VUS".into(), self.vus.to_string()));
        }
        if std::env::var_os("K6_DURATION").is_some() {
            env.push(("K6_DURATION".into(), self.duration.to_go_string()));
        }
        env
    }

    pub(super) fn deadline(&self) -> std::time::Duration {
        self.duration.std() + self.deadline_slack.std()
    }

    /// k6 on PATH or in the tools folder, else the docker fallback.
    pub(super) fn runtime(&self, ctx: &Ctx, run: &Run, network: &str) -> Runtime {
        match tools::k6_local(ctx) {
            Some(program) => Runtime::Local { program },
            None => self.docker(ctx, run, network),
        }
    }

    pub(super) fn docker(&self, ctx: &Ctx, run: &Run, network: &str) -> Runtime {
        Runtime::Docker {
            image: self.docker_image.clone(),
            network: network.to_string(),
            user: self.docker_user.clone(),
            root: ctx.root.clone(),
            name: format!(
                "xtask-k6-{}-{}",
                std::process::id(),
                run.stamp.to_ascii_lowercase()
            ),
        }
    }

    pub(super) fn params(&self, ctx: &Ctx, report: &mut Report) {
        report.param("Concert ID", self.concert_id);
        report.param("VUs", self.vus);
        report.param("k6 duration", self.duration);
        report.param("Sleep max (s)", seconds(self.sleep_max));
        report.param("User id base", self.user_id_base);
        report.param("Script", ctx.relative(&self.script));
    }
}

/// `http://host:port[/base]` without a trailing slash: the script appends paths.
pub(super) fn api_base(api: &HttpUrl) -> String {
    api.as_str().trim_end_matches('/').to_string()
}

pub(super) fn join_url(api: &HttpUrl) -> anyhow::Result<HttpUrl> {
    format!("{}{JOIN_PATH}", api_base(api)).parse()
}

pub(super) fn seconds(d: Duration) -> String {
    num(d.std().as_secs_f64())
}

pub(super) fn num(v: f64) -> String {
    crate::report::fmt_num(v)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Output {
    Summary,
    Dashboard,
}

/// A path k6 will write (`--summary-json`, the dashboard export) may hold
/// nothing, or what k6 wrote there before: a k6 summary, a k6 dashboard
/// page. Anything else (README.md, a link, a folder) is not ours to delete
/// or overwrite: a one-line refusal, before the run.
fn check_output(p: &Utf8PathBuf, what: Output) -> anyhow::Result<()> {
    let Ok(meta) = std::fs::symlink_metadata(p) else {
        return Ok(());
    };
    let name = match what {
        Output::Summary => "k6 summary",
        Output::Dashboard => "k6 dashboard export",
    };
    let ours = meta.file_type().is_file()
        && crate::files::read_no_link(p, crate::files::LARGE).is_ok_and(|b| match what {
            Output::Summary => std::str::from_utf8(&b).is_ok_and(|t| Summary::parse(t).is_ok()),
            Output::Dashboard => {
                let t = String::from_utf8_lossy(&b[..b.len().min(64 * 1024)]).to_lowercase();
                t.trim_start().starts_with("<!doctype html") && t.contains("k6")
            }
        });
    if !ours {
        bail!(
            "{p} exists and is not a {name} k6 wrote: the xtask never deletes or overwrites a file it did not write; remove it or choose another path"
        );
    }
    Ok(())
}

fn remove_if_exists(p: &Utf8PathBuf) -> anyhow::Result<()> {
    match std::fs::remove_file(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot delete the previous {p}")),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Settings as a test needs them, without a script on disk.
    pub(in super::super) fn example() -> Settings {
        Settings {
            script: "x.js".into(),
            concert_id: 1,
            vus: 1,
            duration: Duration::secs(1),
            sleep_max: Duration::millis(200),
            user_id_base: 1,
            docker_image: "i".into(),
            docker_network: "host".into(),
            docker_user: "0:0".into(),
            dashboard: false,
            dashboard_host: "127.0.0.1".into(),
            dashboard_port: 5665,
            dashboard_export: None,
            summary_json: None,
            deadline_slack: Duration::secs(1),
            engine: crate::operator::Engine::Local,
            generators: Generators::ONE,
            run_stamp: None,
            log_file: None,
            report_file: None,
        }
    }

    #[test]
    fn api_host_is_passed_without_a_trailing_slash() {
        let u: HttpUrl = "http://127.0.0.1:8080".parse().unwrap();
        assert_eq!(api_base(&u), "http://127.0.0.1:8080");
        let u: HttpUrl = "http://lb:8080/base/".parse().unwrap();
        assert_eq!(api_base(&u), "http://lb:8080/base");
        assert_eq!(
            join_url(&u).unwrap().as_str(),
            "http://lb:8080/base/api/v1/waiting-queue/join"
        );
    }

    #[test]
    fn the_script_gets_only_the_variables_the_services_script_reads() {
        let api: HttpUrl = "http://nginx-lb:8080/".parse().unwrap();
        let names: Vec<String> = example()
            .script_vars(&api)
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        assert_eq!(
            names,
            [
                "API_HOST=http://nginx-lb:8080",
                "CONCERT_ID=1",
                "VUS=1",
                "DURATION=1s",
                "SLEEP_MAX_SEC=0.2",
                "USER_ID_BASE=1"
            ]
        );
    }
}
