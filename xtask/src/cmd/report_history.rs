//! `cargo xtask report history [SUITE] [--last N] [--json]`: the last runs
//! of a suite, newest first, from the report copy each run folder keeps
//! (so the history is as long as `[reports] keep_runs`), with the trend.

use anyhow::bail;
use serde::Serialize;

use crate::{
    context::{Ctx, Exit},
    flags,
    report::{fmt_ms, fmt_num, Report},
};

#[derive(Debug, Serialize, PartialEq)]
pub struct Row {
    pub run: String,
    pub finished: String,
    pub commit: Option<String>,
    pub dirty: Option<bool>,
    pub result: String,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub failed_rate: Option<f64>,
    pub rps: Option<f64>,
    /// Tests (Gradle suites) or checks (k6): passed and total.
    pub tests_passed: Option<f64>,
    pub tests_total: Option<f64>,
    pub duration_ms: u64,
    /// p95 change against the run before it (older), in percent.
    pub p95_change_pct: Option<f64>,
}

fn metric(r: &Report, name: &str) -> Option<f64> {
    r.metrics
        .iter()
        .find(|m| m.name == name)
        .and_then(|m| m.value)
}

pub fn row(run: &str, r: &Report) -> Row {
    let (passed, total) = match metric(r, "tests") {
        Some(tests) => {
            let bad = metric(r, "failures").unwrap_or(0.0) + metric(r, "errors").unwrap_or(0.0);
            (Some(tests - bad), Some(tests))
        }
        // k6: its checks.
        None => match (metric(r, "checks passed"), metric(r, "checks failed")) {
            (Some(p), Some(f)) => (Some(p), Some(p + f)),
            _ => (metric(r, "checks rate"), None),
        },
    };
    Row {
        run: run.to_string(),
        finished: r.ended.clone(),
        commit: r.git.commit.clone(),
        dirty: r.git.dirty,
        result: r.result.as_str().to_string(),
        p95_ms: metric(r, "http_req_duration p(95)"),
        p99_ms: metric(r, "http_req_duration p(99)"),
        failed_rate: metric(r, "http_req_failed rate"),
        rps: metric(r, "http_reqs per second"),
        tests_passed: passed,
        tests_total: total,
        duration_ms: r.duration_ms,
        p95_change_pct: None,
    }
}

/// Newest first; each row's p95 change is against the next (older) row.
pub fn rows(ctx: &Ctx, suite: &str, last: usize) -> Vec<Row> {
    let runs = crate::regress::runs(&ctx.layout.suite_dir(suite), suite);
    let mut rows: Vec<Row> = runs.iter().take(last).map(|(n, _, r)| row(n, r)).collect();
    for i in 0..rows.len() {
        let older = rows.get(i + 1).and_then(|r| r.p95_ms);
        if let (Some(now), Some(was)) = (rows[i].p95_ms, older) {
            if was > 0.0 {
                rows[i].p95_change_pct = Some((now - was) / was * 100.0);
            }
        }
    }
    rows
}

/// `▁▂▃▄▅▆▇█` of the values, oldest to newest; a gap for a missing one.
pub fn sparkline(values: &[Option<f64>]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let known: Vec<f64> = values.iter().flatten().copied().collect();
    let (lo, hi) = known
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(*v), h.max(*v))
        });
    values
        .iter()
        .map(|v| match v {
            None => ' ',
            Some(_) if hi <= lo => BARS[3],
            Some(v) => BARS[(((v - lo) / (hi - lo)) * 7.0).round() as usize],
        })
        .collect()
}

fn opt(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| fmt_num((v * 100.0).round() / 100.0))
}

pub fn render(suite: &str, rows: &[Row]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<18} {:<12} {:<6} {:>9} {:>9} {:>7} {:>9} {:>11} {:>9} {:>8}",
        "run",
        "commit",
        "result",
        "p95 ms",
        "p99 ms",
        "failed",
        "req/s",
        "tests",
        "duration",
        "p95 Δ"
    );
    for r in rows {
        let commit = r.commit.as_deref().map_or("-".to_string(), |c| {
            let short = &c[..c.len().min(10)];
            if r.dirty == Some(true) {
                format!("{short}+")
            } else {
                short.to_string()
            }
        });
        let tests = match (r.tests_passed, r.tests_total) {
            (Some(p), Some(t)) => format!("{}/{}", fmt_num(p), fmt_num(t)),
            (Some(p), None) => format!("{}%", fmt_num((p * 1000.0).round() / 10.0)),
            _ => "-".into(),
        };
        let _ = writeln!(
            out,
            "{:<18} {:<12} {:<6} {:>9} {:>9} {:>7} {:>9} {:>11} {:>9} {:>8}",
            r.run,
            commit,
            r.result,
            opt(r.p95_ms),
            opt(r.p99_ms),
            r.failed_rate
                .map_or("-".into(), |f| format!("{:.2}%", f * 100.0)),
            opt(r.rps),
            tests,
            fmt_ms(r.duration_ms),
            r.p95_change_pct.map_or("".into(), |c| format!("{c:+.1}%")),
        );
    }
    let oldest_first =
        |f: fn(&Row) -> Option<f64>| -> Vec<Option<f64>> { rows.iter().rev().map(f).collect() };
    let p95 = oldest_first(|r| r.p95_ms);
    if p95.iter().flatten().count() >= 2 {
        let _ = writeln!(out, "\ntrend, oldest → newest:");
        let _ = writeln!(out, "  p95    {}", sparkline(&p95));
        let _ = writeln!(out, "  req/s  {}", sparkline(&oldest_first(|r| r.rps)));
        let passes = rows.iter().filter(|r| r.result == "PASS").count();
        let _ = writeln!(out, "  {passes} of {} runs of {suite} passed", rows.len());
    }
    out
}

impl flags::ReportHistory {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        let suite = self.suite.unwrap_or_else(|| "k6-baseline".into());
        if suite.is_empty() || suite.contains(['/', '\\']) || suite.starts_with('.') {
            bail!(
                "bad suite name `{suite}`: give one of the folders of {}",
                ctx.relative(&ctx.layout.reports_dir)
            );
        }
        let rows = rows(ctx, &suite, self.last as usize);
        if self.json {
            println!("{}", serde_json::to_string_pretty(&rows)?);
            return Ok(Exit::OK);
        }
        if rows.is_empty() {
            println!(
                "no runs of {suite} with a stored report in {} (runs keep one since samples were added; run `cargo xtask {}` first)",
                ctx.relative(&ctx.layout.suite_dir(&suite)),
                suite.replace("k6-", "k6 ")
            );
            return Ok(Exit::OK);
        }
        print!("{}", render(&suite, &rows));
        Ok(Exit::OK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(result: crate::report::Verdict, p95: f64, rps: f64) -> Report {
        let mut r = Report::new("k6-baseline", "t");
        r.result = result;
        r.duration_ms = 17_500;
        r.git.commit = Some("0123456789abcdef".into());
        r.git.dirty = Some(false);
        r.metric("http_reqs", Some(1000.0), "");
        r.metric("http_req_failed rate", Some(0.001), "");
        r.metric("http_req_duration p(95)", Some(p95), "ms");
        r.metric("http_req_duration p(99)", Some(p95 * 2.0), "ms");
        r.metric("checks rate", Some(0.999), "");
        r.metric("http_reqs per second", Some(rps), "");
        r.metric("checks passed", Some(1998.0), "");
        r.metric("checks failed", Some(2.0), "");
        r
    }

    #[test]
    fn a_row_has_the_numbers_of_its_report() {
        let r = row(
            "20261201T091422Z",
            &report(crate::report::Verdict::Pass, 3.25, 123.4),
        );
        assert_eq!(r.p95_ms, Some(3.25));
        assert_eq!(
            (r.tests_passed, r.tests_total),
            (Some(1998.0), Some(2000.0))
        );
        assert_eq!(r.result, "PASS");
        let mut g = Report::new("release-gate", "t");
        g.metric("tests", Some(12.0), "");
        g.metric("failures", Some(1.0), "");
        g.metric("errors", Some(0.0), "");
        let r = row("x", &g);
        assert_eq!(
            (r.tests_passed, r.tests_total, r.p95_ms),
            (Some(11.0), Some(12.0), None)
        );
    }

    #[test]
    fn the_table_shows_each_run_and_the_trend() {
        let mut rows = vec![
            row(
                "20261201T100000Z",
                &report(crate::report::Verdict::Fail, 6.0, 90.0),
            ),
            row(
                "20261201T090000Z",
                &report(crate::report::Verdict::Pass, 3.0, 120.0),
            ),
        ];
        rows[0].p95_change_pct = Some(100.0);
        let t = render("k6-baseline", &rows);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("run "), "{t}");
        assert!(
            lines[1].starts_with("20261201T100000Z   0123456789   FAIL"),
            "{t}"
        );
        assert!(lines[1].ends_with("+100.0%"), "{t}");
        assert!(
            lines[1].contains("1998/2000") && lines[1].contains("0.10%"),
            "{t}"
        );
        assert!(t.contains("p95    ▁█"), "{t}");
        assert!(t.contains("1 of 2 runs of k6-baseline passed"), "{t}");
    }

    #[test]
    fn sparklines_scale_between_the_lowest_and_highest() {
        assert_eq!(sparkline(&[Some(1.0), Some(2.0), None, Some(8.0)]), "▁▂ █");
        assert_eq!(sparkline(&[Some(5.0), Some(5.0)]), "▄▄");
    }
}
