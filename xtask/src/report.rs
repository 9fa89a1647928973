//! The one report model and its one writer.
//!
//! A suite run owns `reports/<suite>/<stamp>/` (logs, artifacts) and, when it
//! ends, replaces `reports/<suite>/latest/<suite>-latest.{md,json}` atomically
//! (write beside, rename), so a crash never leaves half a report there. The
//! Markdown's first bullet is `- Result: PASS|FAIL`, as the legacy scripts
//! wrote it; people and documents grep that line. The JSON follows
//! `reports/schema/report.schema.json`.

use std::{
    fs::File,
    io::Write,
    time::{Instant, SystemTime},
};

use anyhow::Context;
use camino::{Utf8Path, Utf8PathBuf};
use serde::{Deserialize, Serialize};

use crate::{git::GitInfo, github, redact, runner::StepRecord};

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    Pass,
    Fail,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub suite: String,
    pub title: String,
    pub result: Verdict,
    pub run_stamp: String,
    pub started: String,
    pub ended: String,
    pub duration_ms: u64,
    pub git: GitInfo,
    pub parameters: Vec<Param>,
    pub steps: Vec<StepView>,
    pub metrics: Vec<Metric>,
    pub thresholds: Vec<Threshold>,
    pub tables: Vec<Table>,
    pub notes: Vec<String>,
    pub artifacts: Vec<Artifact>,
    /// Set when the suite ran on an environment it did not start (one
    /// recorded by `env up` or keep-env): where that one came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<EnvOrigin>,
}

/// A reused environment's provenance: `gate status` compares its commit
/// with HEAD, as it does the report's own.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnvOrigin {
    /// The one line the terminal showed ("compose project tcsit, started by
    /// `env up` at ..., reused").
    pub description: String,
    /// RFC 3339, when it was started.
    pub started: String,
    /// The command that started it (`env up`, `integration --keep-env`).
    pub started_by: String,
    /// The tree it was started (and its app built) from.
    pub git: GitInfo,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Param {
    pub name: String,
    pub value: String,
}

/// A step as reports show it (the runner's record, serialised flat).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StepView {
    pub name: String,
    pub argv: Vec<String>,
    pub outcome: String,
    pub exit_code: i32,
    pub ok: bool,
    pub duration_ms: u64,
    pub log: Option<String>,
}

impl From<&StepRecord> for StepView {
    fn from(r: &StepRecord) -> StepView {
        StepView {
            name: r.name.clone(),
            argv: r.argv.clone(),
            outcome: r.outcome.describe(),
            exit_code: r.outcome.exit_code(),
            ok: r.ok(),
            duration_ms: r.duration_ms,
            log: r.log.as_ref().map(|p| p.to_string()),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    pub name: String,
    /// `None` is shown as N/A: the value was absent.
    pub value: Option<f64>,
    pub unit: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    pub name: String,
    pub observed: Option<f64>,
    /// `<=`, `<`, `>=` or `>`.
    pub op: String,
    pub limit: f64,
    pub ok: bool,
}

impl Threshold {
    /// A missing observation never passes.
    pub fn check(name: &str, observed: Option<f64>, op: &str, limit: f64) -> Threshold {
        let ok = observed.is_some_and(|v| match op {
            "<=" => v <= limit,
            "<" => v < limit,
            ">=" => v >= limit,
            ">" => v > limit,
            _ => false,
        });
        Threshold {
            name: name.into(),
            observed,
            op: op.into(),
            limit,
            ok,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Table {
    pub title: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Artifact {
    pub name: String,
    /// Repo-relative.
    pub path: String,
}

impl Report {
    pub fn new(suite: &str, title: &str) -> Report {
        Report {
            schema_version: SCHEMA_VERSION,
            suite: suite.into(),
            title: title.into(),
            result: Verdict::Pass,
            run_stamp: String::new(),
            started: String::new(),
            ended: String::new(),
            duration_ms: 0,
            git: GitInfo::default(),
            parameters: vec![],
            steps: vec![],
            metrics: vec![],
            thresholds: vec![],
            tables: vec![],
            notes: vec![],
            artifacts: vec![],
            environment: None,
        }
    }

    /// Records a parameter; secret-looking names are masked.
    pub fn param(&mut self, name: &str, value: impl ToString) {
        let value = redact::param(name, &value.to_string());
        match self.parameters.iter_mut().find(|p| p.name == name) {
            Some(p) => p.value = value,
            None => self.parameters.push(Param {
                name: name.into(),
                value,
            }),
        }
    }
    pub fn step(&mut self, rec: &StepRecord) {
        self.steps.push(rec.into());
        if !rec.ok() {
            self.result = Verdict::Fail;
        }
    }
    pub fn metric(&mut self, name: &str, value: Option<f64>, unit: &str) {
        self.metrics.push(Metric {
            name: name.into(),
            value,
            unit: unit.into(),
        });
    }
    pub fn threshold(&mut self, t: Threshold) {
        if !t.ok {
            self.result = Verdict::Fail;
        }
        self.thresholds.push(t);
    }
    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(redact::text(&note.into()));
    }
    /// FAIL with a reason.
    pub fn fail(&mut self, why: impl Into<String>) {
        self.result = Verdict::Fail;
        self.note(why);
    }
    pub fn table(&mut self, title: &str, columns: &[&str], rows: Vec<Vec<String>>) {
        self.tables.push(Table {
            title: title.into(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows: rows
                .into_iter()
                .map(|r| r.into_iter().map(|c| redact::text(&c)).collect())
                .collect(),
        });
    }
    pub fn artifact(&mut self, name: &str, path: impl Into<String>) {
        self.artifacts.push(Artifact {
            name: name.into(),
            path: path.into(),
        });
    }
    pub fn passed(&self) -> bool {
        self.result == Verdict::Pass
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report always serialises") + "\n"
    }

    pub fn to_markdown(&self) -> String {
        let mut md = String::new();
        let w = &mut md;
        use std::fmt::Write as _;
        let _ = writeln!(w, "# {}\n", self.title);
        let _ = writeln!(w, "- Result: {}", self.result.as_str());
        let _ = writeln!(w, "- Suite: {}", self.suite);
        let _ = writeln!(w, "- Run: {}", self.run_stamp);
        let _ = writeln!(w, "- Started: {}", self.started);
        let _ = writeln!(w, "- Finished: {}", self.ended);
        // Not `Duration`: the legacy k6 reports used that for k6's duration.
        let _ = writeln!(w, "- Wall time: {}", fmt_ms(self.duration_ms));
        let _ = writeln!(w, "- Commit: {}", self.git.describe());
        if let Some(e) = &self.environment {
            let _ = writeln!(w, "- Environment commit: {}", e.git.describe());
        }
        for p in &self.parameters {
            let _ = writeln!(w, "- {}: {}", p.name, md_inline(&p.value));
        }
        if !self.steps.is_empty() {
            let _ = writeln!(w, "\n## Steps\n");
            let _ = writeln!(w, "| Step | Outcome | Duration | Command |");
            let _ = writeln!(w, "|---|---|---|---|");
            for s in &self.steps {
                let _ = writeln!(
                    w,
                    "| {} | {} | {} | `{}` |",
                    cell(&s.name),
                    if s.ok {
                        s.outcome.clone()
                    } else {
                        format!("**{}**", s.outcome)
                    },
                    fmt_ms(s.duration_ms),
                    cell(&s.argv.join(" ")).replace('`', "'"),
                );
            }
        }
        if !self.metrics.is_empty() {
            let _ = writeln!(w, "\n## Metrics\n");
            let _ = writeln!(w, "| Metric | Value |");
            let _ = writeln!(w, "|---|---|");
            for m in &self.metrics {
                let _ = writeln!(w, "| {} | {} |", cell(&m.name), fmt_value(m.value, &m.unit));
            }
        }
        if !self.thresholds.is_empty() {
            let _ = writeln!(w, "\n## Thresholds\n");
            let _ = writeln!(w, "| Check | Observed | Limit | OK |");
            let _ = writeln!(w, "|---|---|---|---|");
            for t in &self.thresholds {
                let _ = writeln!(
                    w,
                    "| {} | {} | {} {} | {} |",
                    cell(&t.name),
                    fmt_value(t.observed, ""),
                    t.op,
                    fmt_num(t.limit),
                    if t.ok { "yes" } else { "**no**" }
                );
            }
        }
        for t in &self.tables {
            let _ = writeln!(w, "\n## {}\n", t.title);
            let _ = writeln!(
                w,
                "| {} |",
                t.columns
                    .iter()
                    .map(|c| cell(c))
                    .collect::<Vec<_>>()
                    .join(" | ")
            );
            let _ = writeln!(w, "|{}", "---|".repeat(t.columns.len()));
            for r in &t.rows {
                let _ = writeln!(
                    w,
                    "| {} |",
                    r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")
                );
            }
        }
        if !self.notes.is_empty() {
            let _ = writeln!(w, "\n## Notes\n");
            for n in &self.notes {
                let _ = writeln!(w, "- {}", md_inline(n));
            }
        }
        if !self.artifacts.is_empty() {
            let _ = writeln!(w, "\n## Artifacts\n");
            for a in &self.artifacts {
                let _ = writeln!(w, "- {}: `{}`", a.name, a.path);
            }
        }
        md
    }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn md_inline(s: &str) -> String {
    s.replace('\n', " ")
}

pub fn fmt_ms(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

pub fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

pub fn fmt_value(v: Option<f64>, unit: &str) -> String {
    match v {
        None => "N/A".into(),
        Some(v) if unit.is_empty() => fmt_num(v),
        Some(v) => format!("{} {unit}", fmt_num(v)),
    }
}

/// UTC `YYYYMMDDTHHMMSSZ`, the legacy run-folder name.
pub fn stamp(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t)
        .to_string()
        .replace(['-', ':'], "")
}

pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// How suites share the reports folder.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Shape {
    /// `<dir>/<suite>/latest/<suite>-latest.md`, run folders in `<dir>/<suite>/`.
    #[default]
    Suites,
    /// The legacy scripts' areas under `<dir>` (`.codex/tmp/ticket-core-service`):
    /// `integration/`, `release-gate/`, `k6/` (distributed runs in
    /// `k6/distributed/`), `ops/`, `api-test/`, each with its `latest/`.
    Legacy,
    /// `CODEX_TMP_DIR`: it replaced each legacy script's own area folder, so
    /// every suite writes `<dir>/latest/<suite>-latest.md` and its run
    /// folders beside it.
    Flat,
}

/// Where a suite's files live and how a run of it ends.
pub struct Layout {
    pub root: Utf8PathBuf,
    pub reports_dir: Utf8PathBuf,
    pub shape: Shape,
}

impl Layout {
    #[cfg(test)]
    pub fn new(root: Utf8PathBuf, reports_dir: Utf8PathBuf) -> Layout {
        Layout {
            root,
            reports_dir,
            shape: Shape::Suites,
        }
    }

    /// The legacy area of a suite: (run folders, latest folder), relative.
    fn legacy_area(suite: &str) -> (&str, &str) {
        match suite {
            "runtime-integration" => ("integration", "integration/latest"),
            "k6" | "k6-baseline" => ("k6", "k6/latest"),
            "k6-distributed" => ("k6/distributed", "k6/latest"),
            "runtime-health-check" | "runtime-monitor-snapshot" => ("ops", "ops/latest"),
            "api-scripts" => ("api-test", "api-test/latest"),
            _ => (suite, ""),
        }
    }

    /// The folder that holds a suite's run folders.
    pub fn suite_dir(&self, suite: &str) -> Utf8PathBuf {
        match self.shape {
            Shape::Suites => self.reports_dir.join(suite),
            Shape::Flat => self.reports_dir.clone(),
            Shape::Legacy => self.reports_dir.join(Self::legacy_area(suite).0),
        }
    }
    /// The folder of a suite's `latest` files.
    pub fn latest_dir(&self, suite: &str) -> Utf8PathBuf {
        match (self.shape, Self::legacy_area(suite).1) {
            (Shape::Legacy, latest) if !latest.is_empty() => self.reports_dir.join(latest),
            _ => self.suite_dir(suite).join("latest"),
        }
    }
    pub fn latest(&self, suite: &str, ext: &str) -> Utf8PathBuf {
        self.latest_dir(suite).join(format!("{suite}-latest.{ext}"))
    }
    /// Whether other suites keep their run folders in this suite's folder
    /// too (then retention only counts folders holding this suite's log).
    pub fn shares_runs(&self, suite: &str) -> bool {
        match self.shape {
            Shape::Suites => false,
            Shape::Flat => true,
            Shape::Legacy => Self::legacy_area(suite).0 != suite,
        }
    }
    /// The suite's lock file: one per suite, even in a shared folder.
    pub fn lock_path(&self, suite: &str) -> Utf8PathBuf {
        match self.shape {
            Shape::Suites => self.suite_dir(suite).join(".lock"),
            _ => self.suite_dir(suite).join(format!(".{suite}.lock")),
        }
    }
    /// Copies of the Markdown report where legacy documents point at them
    /// (the API script harness wrote `api-test/latest.md`).
    pub fn legacy_copies(&self, suite: &str) -> Vec<Utf8PathBuf> {
        match (self.shape, suite) {
            (Shape::Legacy, "api-scripts") => vec![self.reports_dir.join("api-test/latest.md")],
            _ => vec![],
        }
    }
    pub fn relative(&self, p: &Utf8Path) -> String {
        p.strip_prefix(&self.root)
            .map(|p| p.to_string())
            .unwrap_or_else(|_| p.to_string())
    }
}

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
        dry_run: bool,
    ) -> anyhow::Result<Run> {
        Run::start_locked_in(layout, suite, opts, dry_run, None)
    }

    /// `start`, with the suite lock in `lock_dir` (`Ctx::lock_dir`: beside
    /// the service, not in the reports folder); None: the suite's folder.
    pub fn start_locked_in(
        layout: &Layout,
        suite: &str,
        opts: RunOptions,
        dry_run: bool,
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
            .unwrap_or_else(|| self::stamp(started_wall));
        let lock = if dry_run {
            None
        } else {
            std::fs::create_dir_all(&suite_dir).with_context(|| {
                format!("cannot create report folder {suite_dir}: check that the reports folder is writable")
            })?;
            Some(match lock_dir {
                Some(dir) => SuiteLock::at(dir, suite)?,
                None => SuiteLock::acquire_at(&layout.lock_path(suite), suite)?,
            })
        };
        let mut dir = suite_dir.join(&stamp);
        if !dry_run {
            // Two runs in one second (or a reused legacy stamp) get distinct folders.
            let mut n = 1;
            while opts.stamp.is_none() && dir.exists() {
                stamp = format!("{}-{n}", self::stamp(started_wall));
                dir = suite_dir.join(&stamp);
                n += 1;
            }
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create run folder {dir}"))?;
        }
        let log = opts
            .log_file
            .clone()
            .unwrap_or_else(|| dir.join(format!("{suite}.log")));
        if let Some(p) = opts.log_file.as_ref().filter(|p| !dry_run && !p.exists()) {
            // The mark a later run recognises its own log by.
            if let Some(parent) = p.parent().filter(|d| !d.as_str().is_empty()) {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("cannot create the log's folder {parent}"))?;
            }
            std::fs::write(p, format!("{LOG_MARK} {suite}, run {stamp}\n"))
                .with_context(|| format!("cannot write the log file {p}"))?;
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
            git: (!dry_run).then(|| {
                let root = layout.root.clone();
                std::thread::spawn(move || GitInfo::read(&root))
            }),
        })
    }

    /// Stamps times and commit on the report, writes it (atomically), prunes
    /// old run folders and mirrors it to the GitHub summary.
    pub fn finish(
        self,
        layout: &Layout,
        mut report: Report,
        keep_runs: usize,
        dry_run: bool,
    ) -> anyhow::Result<Report> {
        report.suite = self.suite.clone();
        report.run_stamp = self.stamp.clone();
        report.started = rfc3339(self.started_wall);
        report.ended = rfc3339(SystemTime::now());
        report.duration_ms = self.started.elapsed().as_millis() as u64;
        report.git = match self.git {
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
        if dry_run {
            println!(
                "[dry-run] would write {}",
                layout.relative(&layout.latest(&self.suite, "md"))
            );
            return Ok(report);
        }
        let md = report.to_markdown();
        let json = report.to_json();
        // A copy in the run folder: `report history` reads the runs from there.
        write_atomic(&run_report(&self.dir, &self.suite), json.as_bytes())?;
        write_atomic(&layout.latest(&self.suite, "json"), json.as_bytes())?;
        write_atomic(&layout.latest(&self.suite, "md"), md.as_bytes())?;
        write_atomic(
            &layout.latest(&self.suite, "html"),
            html::suite_page(
                &report,
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
        Ok(report)
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

/// Writes beside the target and renames over it: readers see the old file or
/// the new one, never half of one.
pub fn write_atomic(path: &Utf8Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(Utf8Path::new("."));
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create {dir}: check that it is writable"))?;
    let tmp = temp_path(path);
    let result = (|| -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write {path}"));
    }
    Ok(())
}

/// Beside `path`, unique per process and thread: two threads (gate stages)
/// writing the same file must not share a temporary, or one rename finds it
/// gone.
fn temp_path(path: &Utf8Path) -> Utf8PathBuf {
    let dir = path.parent().unwrap_or(Utf8Path::new("."));
    let thread: String = format!("{:?}", std::thread::current().id())
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    dir.join(format!(
        ".{}.tmp-{}-{thread}",
        path.file_name().unwrap_or("report"),
        std::process::id()
    ))
}

pub fn is_run_folder(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() >= 16
        && b[8] == b'T'
        && b[15] == b'Z'
        && b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit)
}

/// Keeps the newest `keep` run folders (by name: stamps sort by time).
pub fn prune_runs(suite_dir: &Utf8Path, keep: usize, current: &str) -> anyhow::Result<Vec<String>> {
    prune_runs_of(suite_dir, keep, current, None)
}

/// As `prune_runs`; in a folder shared by several suites, only the run
/// folders holding `only_with` (this suite's log) count.
pub fn prune_runs_of(
    suite_dir: &Utf8Path,
    keep: usize,
    current: &str,
    only_with: Option<&str>,
) -> anyhow::Result<Vec<String>> {
    let mut runs: Vec<String> = std::fs::read_dir(suite_dir)
        .with_context(|| format!("cannot list {suite_dir}"))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| is_run_folder(n))
        .filter(|n| only_with.is_none_or(|f| suite_dir.join(n).join(f).exists()))
        .collect();
    runs.sort();
    let excess = runs.len().saturating_sub(keep.max(1));
    let mut removed = vec![];
    for name in runs.into_iter().take(excess) {
        if name == current {
            continue;
        }
        let p = suite_dir.join(&name);
        std::fs::remove_dir_all(&p).with_context(|| format!("cannot remove old run folder {p}"))?;
        removed.push(name);
    }
    Ok(removed)
}

/// One run per suite at a time. The lock is an OS file lock (released even
/// if we are killed); the file holds the owner's pid for the message.
pub struct SuiteLock {
    _file: File,
}

impl SuiteLock {
    #[cfg(test)]
    pub fn acquire(suite_dir: &Utf8Path, suite: &str) -> anyhow::Result<SuiteLock> {
        Self::acquire_at(&suite_dir.join(".lock"), suite)
    }

    /// `<dir>/<suite>.lock`, the folder created if need be.
    pub fn at(dir: &Utf8Path, suite: &str) -> anyhow::Result<SuiteLock> {
        std::fs::create_dir_all(dir).with_context(|| {
            format!(
                "cannot create the lock folder {dir}: check that the service folder is writable"
            )
        })?;
        SuiteLock::acquire_at(&dir.join(format!("{suite}.lock")), suite)
    }

    /// Waits (interruptibly, up to `limit`) for `<dir>/<name>.lock`, saying
    /// once whom it waits for: for what must not run twice at once but may
    /// run one after the other (Gradle's test results of one service).
    pub fn wait_at(
        dir: &Utf8Path,
        name: &str,
        what: &str,
        limit: std::time::Duration,
        mut say: impl FnMut(&str),
    ) -> anyhow::Result<SuiteLock> {
        let until = Instant::now() + limit;
        let mut said = false;
        loop {
            match SuiteLock::at(dir, name) {
                Ok(lock) => return Ok(lock),
                Err(e) if e.downcast_ref::<Busy>().is_some() => {
                    if !said {
                        say(&format!("waiting for {what}: {e}"));
                        said = true;
                    }
                    if Instant::now() >= until {
                        return Err(e).context(format!(
                            "gave up waiting for {what} after {}",
                            crate::units::Duration(limit)
                        ));
                    }
                    crate::runner::sleep(std::time::Duration::from_millis(100))?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    pub fn acquire_at(path: &Utf8Path, suite: &str) -> anyhow::Result<SuiteLock> {
        let path = path.to_path_buf();
        let mut file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("cannot open lock file {path}"))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = crate::files::read_string(&path, 64).unwrap_or_default();
                let holder = holder.trim();
                return Err(Busy(format!(
                    "suite `{suite}` is already running (pid {}, lock {path}); wait for it or stop it",
                    if holder.is_empty() { "unknown" } else { holder }
                ))
                .into());
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {path}"))
            }
        }
        file.set_len(0)?;
        write!(file, "{}", std::process::id())?;
        Ok(SuiteLock { _file: file })
    }
}

/// Another process holds the lock.
#[derive(Debug)]
pub struct Busy(String);

impl std::fmt::Display for Busy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for Busy {}

/// Reads the latest report of a suite.
pub fn load_latest(layout: &Layout, suite: &str) -> anyhow::Result<Report> {
    let path = layout.latest(suite, "json");
    let text = match crate::files::read_string_no_link(&path, crate::files::LARGE) {
        Ok(t) => t,
        Err(e) if crate::files::is_not_found(&e) => {
            return Err(e).with_context(|| format!("no report for `{suite}` yet ({path})"))
        }
        Err(e) => return Err(e),
    };
    serde_json::from_str(&text)
        .with_context(|| format!("{path} is not a report of this xtask (schema {SCHEMA_VERSION})"))
}

pub mod html;
#[cfg(test)]
mod html_tests;
mod legacy;
mod svg;
#[cfg(test)]
mod tests;
