//! What a run leaves under its reports folder.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use super::{validate_against_schema, TempDir};

/// The latest Markdown and JSON report of `suite` under `reports`, as written.
pub fn read_latest(reports: &Path, suite: &str) -> (String, serde_json::Value) {
    let dir = reports.join(suite).join("latest");
    let md = std::fs::read_to_string(dir.join(format!("{suite}-latest.md")))
        .unwrap_or_else(|e| panic!("no Markdown report for {suite} in {}: {e}", dir.display()));
    let json = std::fs::read_to_string(dir.join(format!("{suite}-latest.json")))
        .unwrap_or_else(|e| panic!("no JSON report for {suite} in {}: {e}", dir.display()));
    (md, serde_json::from_str(&json).unwrap())
}

/// The latest report of `suite` in `dir/reports`, checked against the schema.
pub fn latest(dir: &TempDir, suite: &str) -> (String, serde_json::Value) {
    let (md, json) = read_latest(&dir.join("reports"), suite);
    validate_against_schema(&json.to_string());
    (md, json)
}

/// A metric's value from a JSON report.
pub fn metric(report: &serde_json::Value, name: &str) -> Option<f64> {
    report["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no metric {name}"))["value"]
        .as_f64()
}

pub fn notes(report: &serde_json::Value) -> Vec<String> {
    report["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect()
}

/// The rows of the table titled `title`.
pub fn table(report: &serde_json::Value, title: &str) -> Vec<Vec<String>> {
    let t = report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["title"] == title)
        .unwrap_or_else(|| panic!("no table {title}: {report:#}"));
    t["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().to_string())
                .collect()
        })
        .collect()
}

/// The one run folder of `suite` (tests start from an empty reports folder).
pub fn run_dir(reports: &Path, suite: &str) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(reports.join(suite))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir() && !p.ends_with("latest"))
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

/// Every file under `dir` with its bytes, by relative path.
pub fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                let rel = p.strip_prefix(base).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&p).unwrap_or_default());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}
