//! What every command gets: the project root, the parsed configuration, the
//! report layout and the process runner; and the one way a suite run starts,
//! ends and turns into an exit code.

use camino::{Utf8Path, Utf8PathBuf};

use crate::{
    config::Config,
    flags::Xtask,
    report::{Layout, Report, Run, RunOptions, Shape},
    runner::{Interrupted, MissingTool, Runner, Verbosity},
};

pub struct Ctx {
    pub root: Utf8PathBuf,
    pub config: Config,
    pub config_path: Utf8PathBuf,
    pub runner: Runner,
    pub layout: Layout,
}

/// A process exit status, as commands return it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exit(pub i32);

impl Exit {
    pub const OK: Exit = Exit(0);
    pub const FAIL: Exit = Exit(1);
    pub const MISSING_TOOL: Exit = Exit(127);

    /// How a failure ends the process: 127 for a missing tool, 128 + the
    /// signal for an interrupt, else 1 (`main` and every suite's report).
    pub fn of_error(e: &anyhow::Error) -> Exit {
        if e.downcast_ref::<MissingTool>().is_some() {
            Exit::MISSING_TOOL
        } else if let Some(Interrupted(sig)) = e.downcast_ref::<Interrupted>() {
            Exit(128 + sig)
        } else {
            Exit::FAIL
        }
    }
}

impl Ctx {
    pub fn new(flags: &Xtask) -> anyhow::Result<Ctx> {
        let root = project_root();
        let (config_path, must_exist) = match &flags.config {
            Some(p) => (absolute(&root, p), true),
            None => (root.join("xtask.toml"), false),
        };
        let config = Config::load(&config_path, must_exist)?;
        let service_dir = absolute(&root, &config.project.service_dir);
        if !service_dir.is_dir() {
            anyhow::bail!(
                "[project].service_dir `{}` in {config_path} is not a folder ({service_dir}): point it at the service (where Gradle runs)",
                config.project.service_dir
            );
        }
        for (k, v) in config
            .environment
            .local
            .app_env
            .iter()
            .chain(&config.environment.compose.env)
            .chain(&config.integration.test_env)
        {
            crate::redact::note(k, v);
        }
        let verbosity = match (flags.quiet, flags.verbose) {
            (true, _) => Verbosity::Quiet,
            (false, 0) => Verbosity::Normal,
            _ => Verbosity::Verbose,
        };
        let (reports_dir, shape) = reports_location(
            flags.reports_dir.as_deref(),
            std::env::var("CODEX_TMP_DIR").ok().as_deref(),
            &config.reports,
        );
        let layout = Layout {
            root: root.clone(),
            reports_dir: absolute(&root, &reports_dir),
            shape,
        };
        check_reports_dir(&layout.reports_dir)?;
        Ok(Ctx {
            runner: Runner::new(root.clone(), flags.dry_run, verbosity),
            root,
            config,
            config_path,
            layout,
        })
    }

    /// A path from config or flags, relative to the workspace root.
    pub fn path(&self, p: &Utf8Path) -> Utf8PathBuf {
        absolute(&self.root, p)
    }

    pub fn service_dir(&self) -> Utf8PathBuf {
        self.path(&self.config.project.service_dir)
    }

    /// Where suite locks live: beside the service (its `.gradle/`, which
    /// Gradle projects keep out of git and `gradle clean` leaves alone), so
    /// one service's suite runs once at a time whatever `--reports-dir` says:
    /// the ports and the build folder are the service's, not the reports'.
    pub fn lock_dir(&self) -> Utf8PathBuf {
        self.service_dir().join(".gradle").join("xtask-locks")
    }

    pub fn relative(&self, p: &Utf8Path) -> String {
        self.layout.relative(p)
    }

    pub fn info(&self, msg: &str) {
        self.runner.info(msg);
    }

    /// The life of one suite run: lock, run folder and log, the body, then the
    /// report, whatever happened in the body. A failure or interrupt inside the
    /// body still writes a FAIL report saying why.
    pub fn run_suite(
        &self,
        suite: &str,
        title: &str,
        opts: RunOptions,
        body: impl FnOnce(&mut Report, &Run) -> anyhow::Result<()>,
    ) -> anyhow::Result<(Report, Exit)> {
        crate::env::reap_dead_runs(self);
        let run = Run::start_locked_in(
            &self.layout,
            suite,
            opts,
            &self.runner,
            Some(&self.lock_dir()),
        )?;
        // A suite inside another (a gate stage) logs to its own file, then
        // hands the log back.
        let outer_log = self.runner.log_path();
        self.runner.set_log(&run.log)?;
        let mut report = Report::new(suite, title);
        let result = body(&mut report, &run);
        // Bad input found while planning fails a dry run; it must not end
        // as "nothing was run", exit 0.
        let result = self.runner.answer_with(result, Ok, |r| r.map(Ok))?;
        let mut exit = None;
        if let Err(e) = &result {
            match e.downcast_ref::<Interrupted>() {
                Some(Interrupted(sig)) => report.fail(format!(
                    "interrupted ({})",
                    crate::runner::signal_name(*sig)
                )),
                None => report.fail(format!("{e:#}")),
            }
            exit = Some(Exit::of_error(e));
        }
        if let Some(sig) = crate::runner::interrupted() {
            if exit.is_none() {
                report.fail(format!("interrupted ({})", crate::runner::signal_name(sig)));
                exit = Some(Exit(128 + sig));
            }
        }
        let report = run.finish(
            &self.layout,
            report,
            self.config.reports.keep_runs,
            &self.runner,
        )?;
        if let Some(outer) = outer_log {
            self.runner.set_log(&outer)?;
        }
        let exit = exit.unwrap_or_else(|| exit_for(&report));
        let md = self.relative(&self.layout.latest(suite, "md"));
        let verdict = || {
            crate::runner::lane::err_line(&format!("{suite}: {} ({md})", report.result.as_str()));
            if !report.passed() {
                for n in &report.notes {
                    crate::runner::lane::err_line(&format!("  - {n}"));
                }
            }
            exit
        };
        let planned = || {
            self.info(&format!("{suite}: dry run, nothing was run"));
            Exit::OK
        };
        let exit = self.runner.answer(verdict, planned);
        Ok((report, exit))
    }
}

/// Where reports go: `--reports-dir` (the configured shape), else
/// `CODEX_TMP_DIR` with its legacy meaning (it replaced each script's own
/// area folder: `<dir>/latest/<name>-latest.md`, run folders beside), else
/// `[reports]`.
pub fn reports_location(
    flag: Option<&Utf8Path>,
    codex_tmp_dir: Option<&str>,
    cfg: &crate::config::Reports,
) -> (Utf8PathBuf, Shape) {
    if let Some(dir) = flag {
        return (dir.to_path_buf(), cfg.layout);
    }
    match codex_tmp_dir.filter(|s| !s.is_empty()) {
        Some(dir) => (Utf8PathBuf::from(dir), Shape::Flat),
        None => (cfg.dir.clone(), cfg.layout),
    }
}

/// Reports never go into a git folder (`--reports-dir .git/refs/heads`
/// would write branches): checked on the path as written and on what it
/// resolves to, links included.
fn check_reports_dir(dir: &Utf8Path) -> anyhow::Result<()> {
    let in_git = |p: &Utf8Path| p.components().any(|c| c.as_str() == ".git");
    let mut real = None;
    // The nearest part that exists, resolved (the rest is created later).
    for a in dir.ancestors() {
        if let Ok(r) = a.canonicalize_utf8() {
            real = Some(r);
            break;
        }
    }
    if in_git(dir) || real.as_deref().is_some_and(in_git) {
        anyhow::bail!(
            "reports folder {dir} is inside a .git folder: reports never go there; choose another --reports-dir"
        );
    }
    Ok(())
}

/// FAIL exits with the first failing step's code (as the legacy scripts
/// did), or 1.
fn exit_for(report: &Report) -> Exit {
    if report.passed() {
        return Exit::OK;
    }
    report
        .steps
        .iter()
        .find(|s| !s.ok)
        .map(|s| s.exit_code)
        .filter(|c| *c > 0 && *c < 256)
        .map(Exit)
        .unwrap_or(Exit::FAIL)
}

/// The workspace root: where cargo says the workspace is, else the parent of
/// this crate's manifest folder.
pub fn project_root() -> Utf8PathBuf {
    let manifest = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
    let dir = Utf8PathBuf::from(manifest);
    dir.parent().map(Utf8Path::to_path_buf).unwrap_or(dir)
}

pub fn absolute(root: &Utf8Path, p: &Utf8Path) -> Utf8PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        let cwd = std::env::current_dir()
            .ok()
            .and_then(|d| Utf8PathBuf::from_path_buf(d).ok());
        // Relative paths from flags are relative to where the user stands when
        // that is inside the project; config paths to the root.
        match cwd {
            Some(c) if c != root && c.starts_with(root) && c.join(p).exists() => c.join(p),
            _ => root.join(p),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_exits_127_for_a_missing_tool_128_plus_the_signal_else_1() {
        let missing = anyhow::Error::new(MissingTool {
            tool: "k6".into(),
            hint: "install it".into(),
        })
        .context("cannot run k6");
        assert_eq!(Exit::of_error(&missing), Exit::MISSING_TOOL);
        let interrupted = anyhow::Error::new(Interrupted(2)).context("gradle");
        assert_eq!(Exit::of_error(&interrupted), Exit(130));
        assert_eq!(Exit::of_error(&anyhow::anyhow!("no")), Exit::FAIL);
    }
}
