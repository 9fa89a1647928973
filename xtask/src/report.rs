//! The one report model and its one writer.
//!
//! A suite run owns `reports/<suite>/<stamp>/` (logs, artifacts) and, when it
//! ends, replaces `reports/<suite>/latest/<suite>-latest.{md,json}` atomically
//! (write beside, rename), so a crash never leaves half a report there. The
//! Markdown's first bullet is `- Result: PASS|FAIL`, as the legacy scripts
//! wrote it; people and documents grep that line. The JSON follows
//! `reports/report.schema.json`.
//!
//! Here: the model (`Report` and its parts, filled by the commands), the JSON writer and
//! reader, the number formats every writer shares. Beside it: `markdown` (the Markdown
//! writer), `html` + `svg` (the page), `legacy` (the legacy fields), `layout` (where a
//! suite's files live), `run` (a suite run from lock to written report), `store` (atomic
//! writes, retention), `lock` (the suite lock).

mod layout;
mod legacy;
mod lock;
mod markdown;
mod run;
mod store;
mod svg;

pub mod html;
#[cfg(test)]
mod html_tests;
#[cfg(test)]
mod tests;

use std::time::SystemTime;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::{git::GitInfo, redact, runner::StepRecord};

pub use layout::{Layout, Shape};
pub use lock::SuiteLock;
pub use run::{run_report, write_companion, Run, RunOptions};
pub use store::{is_run_folder, prune_runs, write_atomic};

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
    pub op: Cmp,
    pub limit: f64,
    pub ok: bool,
}

/// How an observation must compare with its limit; written as the
/// operator in every report (`<=`, `<`, `>=`, `>`: the JSON schema's enum).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Cmp {
    #[serde(rename = "<=")]
    AtMost,
    #[serde(rename = "<")]
    Below,
    #[serde(rename = ">=")]
    AtLeast,
    #[serde(rename = ">")]
    Above,
}

impl Cmp {
    pub fn as_str(self) -> &'static str {
        match self {
            Cmp::AtMost => "<=",
            Cmp::Below => "<",
            Cmp::AtLeast => ">=",
            Cmp::Above => ">",
        }
    }
    pub fn holds(self, observed: f64, limit: f64) -> bool {
        match self {
            Cmp::AtMost => observed <= limit,
            Cmp::Below => observed < limit,
            Cmp::AtLeast => observed >= limit,
            Cmp::Above => observed > limit,
        }
    }
}

impl std::fmt::Display for Cmp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Threshold {
    /// A missing observation never passes.
    pub fn check(name: &str, observed: Option<f64>, op: Cmp, limit: f64) -> Threshold {
        Threshold {
            name: name.into(),
            observed,
            op,
            limit,
            ok: observed.is_some_and(|v| op.holds(v, limit)),
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
