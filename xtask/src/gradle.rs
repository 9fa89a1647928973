//! Gradle, done once: compile and the selected test classes in one JVM
//! start-up, JUnit XML read afterwards with a real XML parser.
//!
//! The results folder is emptied before the run, so a stale TEST-*.xml from
//! an earlier run can never be counted. Afterwards every TEST-*.xml is read
//! into counts per class and the failing tests (name and first message
//! line); `GradleRun::add_to` puts all of it, and the reasons for a FAIL,
//! into a report.

pub mod shared;

use std::io::{Read, Seek, SeekFrom};

use anyhow::Context;
use camino::{Utf8Path, Utf8PathBuf};

use crate::{
    context::Ctx,
    report::{fmt_num, Report},
    runner::{Outcome, Step, StepRecord},
};

/// What Gradle prints when no test matched the `--tests` filters.
const NO_TESTS_FOUND: &str = "No tests found for given includes:";

/// Failing tests named one by one in the notes; the table has them all.
const MAX_FAILURE_NOTES: usize = 10;

#[derive(Clone, Debug, Default)]
pub struct GradleOpts {
    pub classes: Vec<String>,
    /// Variables for the test JVM (e.g. the environment's addresses).
    pub env: Vec<(String, String)>,
    pub daemon: bool,
    pub timeout: Option<crate::units::NonZeroDuration>,
}

/// Counts for one test class.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClassResult {
    pub class: String,
    pub tests: u32,
    pub failures: u32,
    pub errors: u32,
    pub skipped: u32,
    pub time_s: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FailedTest {
    pub class: String,
    pub name: String,
    /// First line of the failure message.
    pub message: String,
}

#[derive(Clone, Debug, Default)]
pub struct TestResults {
    pub classes: Vec<ClassResult>,
    pub failed: Vec<FailedTest>,
    /// Result files that could not be read (e.g. cut short by a kill), with why.
    pub unreadable: Vec<String>,
    /// Every test case, for the JUnit output and reruns (`flaky.rs`).
    pub cases: Vec<crate::junit::Case>,
}

pub struct GradleRun {
    pub step: StepRecord,
    pub results: TestResults,
    /// The `--tests` filters asked for.
    pub classes: Vec<String>,
    /// Gradle's "No tests found for given includes" answer, with the filters it names.
    pub no_tests_found: Option<Vec<String>>,
}

/// `build/test-results/test` in the service folder: where Gradle's `test`
/// task writes TEST-<class>.xml.
pub fn results_dir(ctx: &Ctx) -> Utf8PathBuf {
    ctx.service_dir().join("build/test-results/test")
}

/// The one Gradle command: `compileJava compileTestJava test --tests A --tests B`.
pub fn step(ctx: &Ctx, opts: &GradleOpts) -> Step {
    let cfg = &ctx.config.gradle;
    let gradle = crate::tools::gradle_program(ctx);
    let daemon = opts.daemon || cfg.daemon;
    let mut step = Step::new("gradle", gradle.program())
        .cwd(ctx.service_dir())
        .arg(if daemon { "--daemon" } else { "--no-daemon" });
    if cfg.offline {
        step = step.arg("--offline");
    }
    step = step
        .args(shared::cache_args(ctx))
        .args(cfg.extra_args.iter().cloned())
        .args(["compileJava", "compileTestJava", "test"]);
    for class in &opts.classes {
        step = step.arg("--tests").arg(class.as_str());
    }
    step.envs(opts.env.iter().cloned())
        .deadline(opts.timeout.unwrap_or(cfg.timeout).std())
        .hint("no ./gradlew in the service folder: apt-get install gradle (or `cargo xtask setup`), or set [gradle].command")
}

/// Runs `compileJava compileTestJava test --tests ...` in the service folder.
pub fn run_tests(ctx: &Ctx, opts: &GradleOpts) -> anyhow::Result<GradleRun> {
    let step = step(ctx, opts);
    shared::prepare_cache(ctx)?;
    let dir = results_dir(ctx);
    // Every suite that runs Gradle's tests clears and reads the same
    // results folder of the service: one at a time (Gradle 4.4 and 8.5 take
    // no option to move it without a change to the build or an init script).
    let _results = ctx
        .runner
        .real_only(|| {
            crate::report::SuiteLock::wait_at(
                &ctx.lock_dir(),
                "gradle-test-results",
                &format!(
                    "the Gradle tests another run is running in {}",
                    ctx.service_dir()
                ),
                step.deadline,
                |m| ctx.runner.say(m),
            )
        })
        .transpose()?;
    let started = std::time::SystemTime::now();
    // Stale results cleared (a dry run reads none).
    match ctx.runner.real_only(|| std::fs::remove_dir_all(&dir)) {
        Some(Err(e)) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(e).with_context(|| {
                format!("cannot clear old test results in {dir}: check its permissions")
            })
        }
        _ => {}
    }
    // Gradle's own output reaches us through the run's log; remember where
    // this step's part of it starts.
    let log = ctx.runner.log_path();
    let log_start = log
        .as_ref()
        .and_then(|p| std::fs::metadata(p).ok())
        .map_or(0, |m| m.len());
    let rec = {
        // Stages at once take turns in the project (they share its outputs).
        let _turn = shared::turn(shared::Build::Other)?;
        // Interrupted, the report still shows the step and what Gradle
        // wrote so far; the callers end with `check_interrupt`.
        ctx.runner.run_even_if_interrupted(&step)?
    };
    if rec.outcome == Outcome::DryRun {
        return Ok(GradleRun {
            step: rec,
            results: TestResults::default(),
            classes: opts.classes.clone(),
            no_tests_found: None,
        });
    }
    let output = log
        .and_then(|p| first_line_containing(&p, log_start, NO_TESTS_FOUND))
        .unwrap_or_default();
    Ok(GradleRun {
        step: rec,
        results: TestResults::read_since(&dir, started),
        classes: opts.classes.clone(),
        no_tests_found: no_tests_found(&output),
    })
}

/// The first line of a file from `offset` on that contains `needle`, read
/// through a bounded buffer: Gradle may have printed gigabytes.
fn first_line_containing(path: &Utf8Path, offset: u64, needle: &str) -> Option<String> {
    use std::io::BufRead;
    const MAX_LINE: u64 = 64 * 1024;
    let mut f = std::fs::File::open(path).ok()?;
    f.seek(SeekFrom::Start(offset)).ok()?;
    let mut r = std::io::BufReader::with_capacity(MAX_LINE as usize, f);
    let mut line = Vec::new();
    loop {
        line.clear();
        // An endless line is read in 64 KiB pieces, never whole.
        if (&mut r).take(MAX_LINE).read_until(b'\n', &mut line).ok()? == 0 {
            return None;
        }
        let text = String::from_utf8_lossy(&line);
        if text.contains(needle) {
            return Some(text.into_owned());
        }
    }
}

/// The filters named in Gradle's "No tests found for given includes: [A, B](--tests filter)".
pub fn no_tests_found(output: &str) -> Option<Vec<String>> {
    let line = output.lines().find(|l| l.contains(NO_TESTS_FOUND))?;
    let rest = &line[line.find(NO_TESTS_FOUND)? + NO_TESTS_FOUND.len()..];
    let names = match (rest.find('['), rest.find(']')) {
        (Some(a), Some(b)) if a < b => rest[a + 1..b]
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        _ => vec![],
    };
    Some(names)
}

/// Whether a `--tests` filter selected `class`: the class itself, one of its
/// methods (`Class.method`), a wildcard pattern, or a simple class name.
pub fn filter_matches(filter: &str, class: &str) -> bool {
    if filter.contains('*') {
        return glob(filter, class) || glob(filter, &format!("{class}.x"));
    }
    filter == class
        || filter.starts_with(&format!("{class}."))
        || class.ends_with(&format!(".{filter}"))
        || class
            .rsplit('.')
            .next()
            .is_some_and(|simple| filter.starts_with(&format!("{simple}.")))
}

/// `*` matches any run of characters; everything else matches itself.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &text[first.len()..];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

impl GradleRun {
    /// The step, the test results, and one note per reason for a FAIL.
    pub fn add_to(&self, report: &mut Report) {
        report.step(&self.step);
        if self.step.outcome == Outcome::DryRun {
            return;
        }
        self.results.add_to(report);
        let outcome = &self.step.outcome;
        if let Outcome::TimedOut { .. } = outcome {
            report.fail(format!(
                "Gradle {}; killed with everything it started (raise [gradle].timeout or --timeout)",
                outcome.describe()
            ));
            return;
        }
        if let Some(names) = &self.no_tests_found {
            let names = if names.is_empty() {
                &self.classes
            } else {
                names
            };
            report.fail(format!(
                "Gradle found no tests for the given includes: {}; check the class names",
                names.join(", ")
            ));
            return;
        }
        if matches!(outcome, Outcome::Interrupted { .. }) {
            return; // the suite says "interrupted"
        }
        if !self.step.ok() && self.results.classes.is_empty() {
            report.fail(format!(
                "Gradle failed ({}) before any test result was written: see the log (a compile error?)",
                outcome.describe()
            ));
            return;
        }
        for filter in &self.classes {
            if !self
                .results
                .classes
                .iter()
                .any(|c| filter_matches(filter, &c.class))
            {
                report.fail(format!(
                    "no test ran for `{filter}`: no test class matched it; check the name"
                ));
            }
        }
        if !self.step.ok() && self.results.failed.is_empty() {
            report.fail(format!(
                "Gradle failed ({}) although no test failed: see the log",
                outcome.describe()
            ));
        }
    }
}

impl TestResults {
    /// Reads every `TEST-*.xml` in `dir` (none when it does not exist).
    /// A file that cannot be read or parsed is listed in `unreadable`.
    #[cfg(test)]
    pub fn read(dir: &Utf8Path) -> TestResults {
        TestResults::read_since(dir, std::time::UNIX_EPOCH)
    }

    /// `read`, of the files written since `since` only: a result file older
    /// than the run was not written by it (one that does not take our lock,
    /// an IDE's, may have left it), so it is never counted.
    pub fn read_since(dir: &Utf8Path, since: std::time::SystemTime) -> TestResults {
        // File times are coarser than the clock on some file systems.
        let since = since - std::time::Duration::from_secs(2);
        let mut results = TestResults {
            ..TestResults::default()
        };
        let Ok(entries) = dir.read_dir_utf8() else {
            return results;
        };
        let mut files: Vec<Utf8PathBuf> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.into_path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.starts_with("TEST-") && n.ends_with(".xml"))
            })
            .filter(|p| {
                std::fs::symlink_metadata(p)
                    .and_then(|m| m.modified())
                    .map_or(true, |t| t >= since)
            })
            .collect();
        files.sort();
        for file in files {
            let parsed = crate::files::read_no_link(&file, crate::files::LARGE).and_then(|bytes| {
                let text = String::from_utf8_lossy(&bytes);
                let suites = crate::junit::parse_declared(&text)?;
                Ok((classes(&suites)?, suites))
            });
            match parsed {
                Ok((suites, cases)) => {
                    results
                        .cases
                        .extend(cases.into_iter().flat_map(|(s, _)| s.cases));
                    for (class, failed) in suites {
                        results.classes.push(class);
                        results.failed.extend(failed);
                    }
                }
                Err(e) => results.unreadable.push(format!(
                    "{}: {e:#}",
                    file.file_name().unwrap_or(file.as_str())
                )),
            }
        }
        results.classes.sort_by(|a, b| a.class.cmp(&b.class));
        results
    }

    pub fn tests(&self) -> u32 {
        self.classes.iter().map(|c| c.tests).sum()
    }
    pub fn failures(&self) -> u32 {
        self.classes.iter().map(|c| c.failures).sum()
    }
    pub fn errors(&self) -> u32 {
        self.classes.iter().map(|c| c.errors).sum()
    }
    pub fn skipped(&self) -> u32 {
        self.classes.iter().map(|c| c.skipped).sum()
    }

    /// Adds counts, the per-class table and failing tests to a report.
    pub fn add_to(&self, report: &mut Report) {
        report.metric("tests", Some(self.tests().into()), "");
        report.metric("failures", Some(self.failures().into()), "");
        report.metric("errors", Some(self.errors().into()), "");
        report.metric("skipped", Some(self.skipped().into()), "");
        report.table(
            "Test classes",
            &["Class", "Tests", "Failures", "Errors", "Skipped", "Time"],
            self.classes
                .iter()
                .map(|c| {
                    vec![
                        c.class.clone(),
                        c.tests.to_string(),
                        c.failures.to_string(),
                        c.errors.to_string(),
                        c.skipped.to_string(),
                        format!("{} s", fmt_num(c.time_s)),
                    ]
                })
                .collect(),
        );
        if !self.failed.is_empty() {
            report.table(
                "Failing tests",
                &["Class", "Test", "Message"],
                self.failed
                    .iter()
                    .map(|f| vec![f.class.clone(), f.name.clone(), f.message.clone()])
                    .collect(),
            );
        }
        for f in self.failed.iter().take(MAX_FAILURE_NOTES) {
            let simple = f.class.rsplit('.').next().unwrap_or(&f.class);
            report.fail(format!("failed: {simple}.{}: {}", f.name, f.message));
        }
        if self.failed.len() > MAX_FAILURE_NOTES {
            report.note(format!(
                "... and {} more failing tests (see the table)",
                self.failed.len() - MAX_FAILURE_NOTES
            ));
        }
        if self.failures() + self.errors() > 0 && self.failed.is_empty() {
            report.fail(format!(
                "{} test failures and {} errors counted, without test names",
                self.failures(),
                self.errors()
            ));
        }
        for u in &self.unreadable {
            report.fail(format!("unreadable test result {u}"));
        }
    }
}

/// One JUnit XML document (a `<testsuite>`, or several in `<testsuites>`):
/// counts per suite and the failing test cases.
#[cfg(test)]
pub fn parse_junit_xml(xml: &str) -> anyhow::Result<Vec<(ClassResult, Vec<FailedTest>)>> {
    classes(&crate::junit::parse_declared(xml)?)
}

/// Per-class counts and failures from the one JUnit reader (`junit.rs`):
/// a suite's own counts where it declares them, else its cases counted.
fn classes(
    suites: &[(crate::junit::Suite, crate::junit::Declared)],
) -> anyhow::Result<Vec<(ClassResult, Vec<FailedTest>)>> {
    use crate::junit::Outcome;
    anyhow::ensure!(!suites.is_empty(), "no <testsuite> element");
    Ok(suites
        .iter()
        .map(|(s, d)| {
            let class = ClassResult {
                class: s.name.clone(),
                tests: d.tests.unwrap_or(s.tests() as u32),
                failures: d.failures.unwrap_or(s.failures() as u32),
                errors: d.errors.unwrap_or(s.errors() as u32),
                skipped: d.skipped.unwrap_or(s.skipped() as u32),
                time_s: d.time_s.unwrap_or(0.0),
            };
            let failed = s
                .cases
                .iter()
                .filter_map(|c| match &c.outcome {
                    Outcome::Failed(p) | Outcome::Error(p) => Some(FailedTest {
                        class: Some(c.classname.clone())
                            .filter(|n| !n.is_empty())
                            .unwrap_or_else(|| s.name.clone()),
                        name: c.name.clone(),
                        // The message, else the first line of the text, else the type.
                        message: [&p.message, &p.text, &p.kind]
                            .into_iter()
                            .map(|m| first_line(m))
                            .find(|m| !m.is_empty())
                            .unwrap_or_default(),
                    }),
                    _ => None,
                })
                .collect();
            (class, failed)
        })
        .collect())
}

/// The first non-blank line, trimmed and kept short for a table cell.
pub fn first_line(s: &str) -> String {
    let line = s
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    if line.chars().count() > 300 {
        line.chars().take(299).chain(['…']).collect()
    } else {
        line.to_string()
    }
}

#[cfg(test)]
mod tests;
