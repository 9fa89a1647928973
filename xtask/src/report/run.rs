//! One run of one suite, from its lock and run folder to its report written: `Run::start*`
//! and `Run::finish`; `write_companion` for a second report a run leaves (a baseline's
//! k6-run report); the files a legacy option names, written only when they are ours.

use std::time::{Instant, SystemTime};

use anyhow::Context;
use camino::{Utf8Path, Utf8PathBuf};

use super::{html, legacy, rfc3339, store::prune_runs_of, write_atomic, Layout, Report, SuiteLock};
use crate::{git::GitInfo, github, runner::Runner};

/// Options a legacy script took per run (`*_RUN_STAMP`, `*_LOG_FILE`, `*_REPORT_FILE`).
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    pub stamp: Option<crate::units::RunStamp>,
    pub log_file: Option<Utf8PathBuf>,
    /// An extra copy of the Markdown report, where the legacy variable asked for it.
    pub report_file: Option<Utf8PathBuf>,
}

/// One run of one suite: holds the suite lock from start to finish.
pub struct Run {
    pub suite: String,
    pub stamp: String,
    pub dir: Utf8PathBuf,
    pub log: Utf8PathBuf,
    started_wall: SystemTime,
    started: Instant,
    report_file: Option<Utf8PathBuf>,
    _lock: Option<SuiteLock>,
    /// Read while the suite runs: `git status` costs a process start.
    git: Option<std::thread::JoinHandle<GitInfo>>,
}

impl Run {
    /// Takes the suite lock and creates the run folder. In a dry run nothing is
    /// created and no lock is taken.
    #[cfg(test)]
    pub fn start(
        layout: &Layout,
        suite: &str,
        opts: RunOptions,
        runner: &Runner,
    ) -> anyhow::Result<Run> {
        Run::start_locked_in(layout, suite, opts, runner, None)
    }

    /// `start`, with the suite lock in `lock_dir` (`Ctx::lock_dir`: beside
    /// the service, not in the reports folder); None: the suite's folder.
    pub fn start_locked_in(
        layout: &Layout,
        suite: &str,
        opts: RunOptions,
        runner: &Runner,
        lock_dir: Option<&Utf8Path>,
    ) -> anyhow::Result<Run> {
        let started_wall = SystemTime::now();
        let suite_dir = layout.suite_dir(suite);
        if let Some(p) = &opts.report_file {
            check_named_output(p, NamedOutput::Report)?;
        }
        if let Some(p) = &opts.log_file {
            check_named_output(p, NamedOutput::Log)?;
        }
        let mut stamp = opts
            .stamp
            .as_ref()
            .map(|s| s.to_string())
            .unwrap_or_else(|| super::stamp(started_wall));
        // A dry run creates nothing and takes no lock.
        let lock = runner.real_only(|| -> anyhow::Result<SuiteLock> {
            std::fs::create_dir_all(&suite_dir).with_context(|| {
                format!("cannot create report folder {suite_dir}: check that the reports folder is writable")
            })?;
            match lock_dir {
                Some(dir) => SuiteLock::at(dir, suite),
                None => SuiteLock::acquire_at(&layout.lock_path(suite), suite),
            }
        });
        let lock = lock.transpose()?;
        let mut dir = suite_dir.join(&stamp);
        let mut make_dir = || -> anyhow::Result<()> {
            // Two runs in one second (or a reused legacy stamp) get distinct folders.
            let mut n = 1;
            while opts.stamp.is_none() && dir.exists() {
                stamp = format!("{}-{n}", super::stamp(started_wall));
                dir = suite_dir.join(&stamp);
                n += 1;
            }
            std::fs::create_dir_all(&dir).with_context(|| format!("cannot create run folder {dir}"))
        };
        runner.real_only(&mut make_dir).transpose()?;
        let log = opts
            .log_file
            .clone()
            .unwrap_or_else(|| dir.join(format!("{suite}.log")));
        // The mark a later run recognises its own log by (a real run's only).
        let mark = |p: &Utf8Path| -> anyhow::Result<()> {
            if let Some(parent) = p.parent().filter(|d| !d.as_str().is_empty()) {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("cannot create the log's folder {parent}"))?;
            }
            std::fs::write(p, format!("{LOG_MARK} {suite}, run {stamp}\n"))
                .with_context(|| format!("cannot write the log file {p}"))
        };
        if let Some(p) = opts.log_file.as_deref().filter(|p| !p.exists()) {
            runner.real_only(|| mark(p)).transpose()?;
        }
        Ok(Run {
            suite: suite.into(),
            stamp,
            dir,
            log,
            started_wall,
            started: Instant::now(),
            report_file: opts.report_file,
            _lock: lock,
            git: runner.real_only(|| {
                let root = layout.root.clone();
                std::thread::spawn(move || GitInfo::read(&root))
            }),
        })
    }

    /// Stamps times and commit on the report, writes it (atomically), prunes
    /// old run folders and mirrors it to the GitHub summary.
    pub fn finish(
        mut self,
        layout: &Layout,
        mut report: Report,
        keep_runs: usize,
        runner: &Runner,
    ) -> anyhow::Result<Report> {
        report.suite = self.suite.clone();
        report.run_stamp = self.stamp.clone();
        report.started = rfc3339(self.started_wall);
        report.ended = rfc3339(SystemTime::now());
        report.duration_ms = self.started.elapsed().as_millis() as u64;
        report.git = match self.git.take() {
            Some(h) => h.join().unwrap_or_default(),
            None => GitInfo::read(&layout.root),
        };
        if self.log.exists() && !report.artifacts.iter().any(|a| a.name == "log") {
            report.artifact("log", layout.relative(&self.log));
        }
        legacy::add_fields(&mut report);
        if !report.passed() {
            github::errors(&format!("{} FAIL", self.suite), &report.notes);
        }
        let latest = layout.relative(&layout.latest(&self.suite, "md"));
        runner.effect(format_args!("would write {latest}"), || {
            self.write(layout, &report, keep_runs)
        })?;
        Ok(report)
    }

    /// Writes the finished report: run folder, latest, legacy copies; prunes.
    fn write(&self, layout: &Layout, report: &Report, keep_runs: usize) -> anyhow::Result<()> {
        let md = report.to_markdown();
        let json = report.to_json();
        // A copy in the run folder: `report history` reads the runs from there.
        write_atomic(&run_report(&self.dir, &self.suite), json.as_bytes())?;
        write_atomic(&layout.latest(&self.suite, "json"), json.as_bytes())?;
        write_atomic(&layout.latest(&self.suite, "md"), md.as_bytes())?;
        write_atomic(
            &layout.latest(&self.suite, "html"),
            html::suite_page(
                report,
                crate::samples::store::load(&self.dir)
                    .ok()
                    .map(|s| html::Load::from_samples(&s))
                    .as_ref(),
            )
            .as_bytes(),
        )?;
        if let Some(extra) = &self.report_file {
            write_atomic(extra, md.as_bytes())?;
        }
        for copy in layout.legacy_copies(&self.suite) {
            write_atomic(&copy, md.as_bytes())?;
        }
        let only_with = layout
            .shares_runs(&self.suite)
            .then(|| format!("{}.log", self.suite));
        prune_runs_of(
            &layout.suite_dir(&self.suite),
            keep_runs,
            &self.stamp,
            only_with.as_deref(),
        )?;
        github::append_summary(&format!(
            "{md}\nThe same report as one page: `{}` in the uploaded reports artifact.\n",
            layout.relative(&layout.latest(&self.suite, "html"))
        ));
        Ok(())
    }
}

/// The copy of a run's JSON report in its run folder.
pub fn run_report(run_dir: &Utf8Path, suite: &str) -> Utf8PathBuf {
    run_dir.join(format!("{suite}-report.json"))
}

/// Writes `report` as the latest report of its own suite, with the run
/// facts (stamp, times, commit) of `of`, the run it came from (a baseline
/// also leaves the k6-run report, as the legacy baseline did). Holds that
/// suite's lock while writing; a run of it in progress wins.
pub fn write_companion(
    layout: &Layout,
    lock_dir: &Utf8Path,
    mut report: Report,
    of: &Report,
    extra_md: Option<&Utf8Path>,
) -> anyhow::Result<()> {
    let _lock = SuiteLock::at(lock_dir, &report.suite)?;
    report.run_stamp = of.run_stamp.clone();
    report.started = of.started.clone();
    report.ended = of.ended.clone();
    report.duration_ms = of.duration_ms;
    report.git = of.git.clone();
    legacy::add_fields(&mut report);
    let md = report.to_markdown();
    write_atomic(
        &layout.latest(&report.suite, "json"),
        report.to_json().as_bytes(),
    )?;
    write_atomic(&layout.latest(&report.suite, "md"), md.as_bytes())?;
    if let Some(extra) = extra_md {
        write_atomic(extra, md.as_bytes())?;
    }
    Ok(())
}

/// The first line of a log written where an option named it.
const LOG_MARK: &str = "# cargo xtask log:";

#[derive(Clone, Copy)]
enum NamedOutput {
    Report,
    Log,
}

/// A file an option names for us to write (`*_REPORT_FILE`, `*_LOG_FILE`)
/// may be new, or a regular file a run of ours wrote there before (a report
/// with its `- Result:` line, a log with our first line). Anything else (a
/// README, a link, a folder, a FIFO) is not ours to overwrite: one line, before
/// the run.
fn check_named_output(p: &Utf8Path, what: NamedOutput) -> anyhow::Result<()> {
    let Ok(meta) = std::fs::symlink_metadata(p) else {
        return Ok(());
    };
    let head = || {
        crate::files::read_no_link(p, crate::files::LARGE)
            .map(|b| String::from_utf8_lossy(&b[..b.len().min(8192)]).into_owned())
    };
    let (ours, name) = match what {
        NamedOutput::Report => (
            meta.is_file()
                && head().is_ok_and(|t| t.starts_with("# ") && t.contains("\n- Result: ")),
            "report",
        ),
        NamedOutput::Log => (
            meta.is_file() && head().is_ok_and(|t| t.starts_with(LOG_MARK)),
            "log",
        ),
    };
    if !ours {
        anyhow::bail!(
            "{p} exists and is not a {name} the xtask wrote: it never overwrites a file it did not write; remove it or choose another path"
        );
    }
    Ok(())
}
