//! The gate's page: READY or not first, what needs attention, the conditions, the stages
//! on one time axis, every stage's test cases, the load results, the trend of earlier
//! gate runs, and each stage's report.

use std::fmt::Write as _;

use super::{
    esc, generic_table,
    load::load_charts,
    page,
    suite::{attention_items, charts, is_comparison, report_body, thresholds_table},
    table_html, verdict_badge, Load,
};
use crate::report::{
    fmt_ms, fmt_value,
    svg::{self, Series, Span},
    Report,
};

/// One condition of "may frontend work start?".
pub struct Condition {
    pub name: String,
    pub state: String,
    pub reason: String,
}

/// One earlier gate run, for the trend charts.
pub struct TrendPoint {
    pub stamp: String,
    pub duration_s: f64,
    pub p95_ms: Option<f64>,
    pub failed_rate: Option<f64>,
    pub tests: Option<f64>,
}

/// One stage on the gate's page: its report, its load figures (k6), and
/// every test case of its own JUnit.
pub struct StagePage {
    pub name: String,
    pub report: Report,
    pub load: Option<Load>,
    pub cases: Vec<crate::junit::Case>,
}

/// Every test case of a stage as rows: class, test, time, result, message.
fn cases_table(cases: &[crate::junit::Case]) -> String {
    use crate::junit::Outcome;
    let rows: Vec<Vec<String>> = cases
        .iter()
        .map(|c| {
            let (result, message) = match &c.outcome {
                Outcome::Passed if c.is_flaky() => (
                    "FLAKY".to_string(),
                    format!(
                        "passed on a rerun after: {}",
                        c.flaky.first().map_or("", |p| p.message.as_str())
                    ),
                ),
                Outcome::Passed => ("PASS".into(), String::new()),
                Outcome::Failed(p) => ("FAIL".into(), p.message.clone()),
                Outcome::Error(p) => ("ERROR".into(), p.message.clone()),
                Outcome::Skipped(why) => ("SKIPPED".into(), why.clone().unwrap_or_default()),
            };
            vec![
                c.classname.clone(),
                c.name.clone(),
                format!("{:.3} s", c.time_s),
                result,
                message,
            ]
        })
        .collect();
    table_html(
        &["Class", "Test", "Time", "Result", "Message"],
        &rows,
        Some(3),
    )
}

/// Everything the gate page shows.
pub struct GatePage<'a> {
    pub gate: &'a Report,
    /// Each stage that wrote a report.
    pub stages: Vec<StagePage>,
    pub ready: Option<bool>,
    pub conditions: Vec<Condition>,
    pub trend: Vec<TrendPoint>,
}

/// Stage spans on the gate's time axis: from the gate's Schedule table (start
/// and end of each stage that ran, the critical path a parameter), else the
/// stage table's durations laid end to end (stages run one by one). Results
/// come from the stage table.
fn spans(gate: &Report) -> Vec<Span> {
    let find = |title: &str| gate.tables.iter().find(|t| t.title == title);
    let result_of = |stage: &str| {
        find("Stages")
            .and_then(|t| t.rows.iter().find(|r| r[0] == stage))
            .and_then(|r| r.get(1))
            .map(|v| first_word(v))
            .unwrap_or_default()
    };
    if let Some(t) = find("Schedule") {
        let critical: Vec<&str> = gate
            .parameters
            .iter()
            .find(|p| p.name == "Critical path")
            .map(|p| p.value.split(" → ").collect())
            .unwrap_or_default();
        let cell = |r: &Vec<String>, i: usize| parse_duration_ms(r.get(i).map_or("", |c| c));
        let mut spans: Vec<Span> = t
            .rows
            .iter()
            .map(|r| Span {
                name: r[0].clone(),
                start_ms: cell(r, 1),
                end_ms: cell(r, 2),
                state: result_of(&r[0]),
                critical: critical.contains(&r[0].as_str()),
            })
            .collect();
        // Stages that did not run keep their row, with no bar.
        for r in find("Stages").map_or(&[][..], |t| &t.rows[..]) {
            if !spans.iter().any(|s| s.name == r[0]) {
                spans.push(Span {
                    name: r[0].clone(),
                    start_ms: 0,
                    end_ms: 0,
                    state: first_word(&r[1]),
                    critical: false,
                });
            }
        }
        return spans;
    }
    let Some(t) = find("Stages") else {
        return vec![];
    };
    let mut at = 0u64;
    t.rows
        .iter()
        .map(|r| {
            let ms = parse_duration_ms(r.get(2).map(String::as_str).unwrap_or(""));
            let span = Span {
                name: r[0].clone(),
                start_ms: at,
                end_ms: at + ms,
                state: first_word(r.get(1).map(String::as_str).unwrap_or("")),
                critical: true,
            };
            at += ms;
            span
        })
        .collect()
}

fn first_word(s: &str) -> String {
    s.split([' ', '(']).next().unwrap_or("").to_string()
}

/// `fmt_ms` read back: `850 ms`, `12.5 s`.
fn parse_duration_ms(s: &str) -> u64 {
    let s = s.trim();
    if let Some(ms) = s.strip_suffix(" ms") {
        ms.parse().unwrap_or(0)
    } else if let Some(sec) = s.strip_suffix(" s") {
        (sec.parse::<f64>().unwrap_or(0.0) * 1000.0) as u64
    } else {
        0
    }
}

fn trend_charts(trend: &[TrendPoint]) -> String {
    if trend.len() < 2 {
        return "<p class=\"meta\">Trends appear once the gate has run twice.</p>".into();
    }
    let idx = |f: &dyn Fn(&TrendPoint) -> Option<f64>| -> Vec<Series> {
        vec![Series {
            name: String::new(),
            points: trend
                .iter()
                .enumerate()
                .filter_map(|(i, p)| f(p).map(|v| ((i + 1) as f64, v)))
                .collect(),
        }]
    };
    let x = "run (oldest = 1)";
    let mut out = String::from("<div class=\"charts\">");
    out += &svg::line_chart(
        "Gate duration",
        x,
        "duration (s)",
        &idx(&|p| Some(p.duration_s)),
    );
    out += &svg::line_chart("p95 latency", x, "p95 (ms)", &idx(&|p| p.p95_ms));
    out += &svg::line_chart(
        "Failed request rate",
        x,
        "failed (fraction)",
        &idx(&|p| p.failed_rate),
    );
    out += &svg::line_chart("Test count", x, "tests (count)", &idx(&|p| p.tests));
    out.push_str("</div>");
    let rows: Vec<Vec<String>> = trend
        .iter()
        .map(|p| {
            vec![
                p.stamp.clone(),
                format!("{:.1} s", p.duration_s),
                fmt_value(p.p95_ms, "ms"),
                fmt_value(p.failed_rate, ""),
                fmt_value(p.tests, ""),
            ]
        })
        .collect();
    out + &table_html(
        &["Run", "Gate duration", "p95", "Failed rate", "Tests"],
        &rows,
        None,
    )
}

/// The gate's page: the verdict first, then what needs attention, the
/// conditions, the stages on one time axis, the tests, the load results, the
/// trends, and each stage's report.
pub fn gate_page(p: &GatePage) -> String {
    let g = p.gate;
    let mut body = String::new();
    let ready = match p.ready {
        Some(true) => "<span class=\"verdict pass\" data-ready=\"READY\">✔ READY</span>",
        Some(false) => "<span class=\"verdict fail\" data-ready=\"NOT READY\">✘ NOT READY</span>",
        None => "<span class=\"verdict fail\" data-ready=\"UNKNOWN\">? UNKNOWN</span>",
    };
    let _ = write!(
        body,
        "<header><h1>May frontend work start? {ready}</h1>\
         <p class=\"meta\">gate run {} {} · commit {} · {} · {}</p></header>",
        esc(&g.run_stamp),
        verdict_badge(g.result),
        esc(&g.git.describe()),
        esc(&g.ended),
        fmt_ms(g.duration_ms)
    );
    // Attention: unmet conditions, then each stage's own list.
    let mut items: Vec<String> = p
        .conditions
        .iter()
        .filter(|c| c.state != "OK")
        .map(|c| {
            format!(
                "<li data-attention=\"condition\"><b>{}</b> {}: {}</li>",
                esc(&c.state),
                esc(&c.name),
                esc(&c.reason)
            )
        })
        .collect();
    for st in &p.stages {
        for i in attention_items(&st.report) {
            items.push(i.replacen("<li", &format!("<li data-stage=\"{}\"", esc(&st.name)), 1));
        }
    }
    if !items.is_empty() {
        let _ = write!(
            body,
            "<section class=\"attention\"><h2>Needs attention</h2><ul>{}</ul></section>",
            items.join("")
        );
    }
    if !p.conditions.is_empty() {
        let rows: Vec<Vec<String>> = p
            .conditions
            .iter()
            .map(|c| vec![c.name.clone(), c.state.clone(), c.reason.clone()])
            .collect();
        let _ = write!(
            body,
            "<h2>Frontend gate conditions</h2>{}",
            table_html(&["Condition", "State", "Reason"], &rows, Some(1))
        );
    }
    let spans = spans(g);
    if !spans.is_empty() {
        let _ = write!(
            body,
            "<h2>Stages</h2>{}",
            svg::timeline("Stages on one time axis", &spans)
        );
    }
    for t in &g.tables {
        let _ = write!(body, "<h3>{}</h3>{}", esc(&t.title), generic_table(t));
    }
    // Every test case of every stage (its own JUnit); the class tables where
    // a stage has no JUnit of its own.
    let mut tests = String::new();
    for st in &p.stages {
        if !st.cases.is_empty() {
            let failed = st.cases.iter().filter(|c| c.failed()).count();
            let _ = write!(
                tests,
                "<details{} data-stage-tests=\"{n}\"><summary>{n}: {} test cases, {failed} failed</summary>{}</details>",
                if failed > 0 { " open" } else { "" },
                st.cases.len(),
                cases_table(&st.cases),
                n = esc(&st.name),
            );
            continue;
        }
        for t in st
            .report
            .tables
            .iter()
            .filter(|t| t.title == "Test classes" || t.title == "Failing tests")
        {
            let _ = write!(
                tests,
                "<h3>{}: {}</h3>{}",
                esc(&st.name),
                esc(&t.title),
                generic_table(t)
            );
        }
    }
    if !tests.is_empty() {
        let _ = write!(body, "<h2>Tests</h2>{tests}");
    }
    let mut load = String::new();
    for StagePage {
        name,
        report: r,
        load: samples,
        ..
    } in p.stages.iter().filter(|s| s.report.suite.starts_with("k6"))
    {
        let _ = write!(
            load,
            "<h3>{} {}</h3><div class=\"charts\">{}{}</div>",
            esc(name),
            verdict_badge(r.result),
            samples.as_ref().map(load_charts).unwrap_or_default(),
            charts(r)
        );
        if !r.thresholds.is_empty() {
            load += &thresholds_table(r);
        }
        for t in r.tables.iter().filter(|t| is_comparison(t)) {
            let _ = write!(load, "<h4>{}</h4>{}", esc(&t.title), generic_table(t));
        }
    }
    if !load.is_empty() {
        let _ = write!(body, "<h2>Load results</h2>{load}");
    }
    let _ = write!(body, "<h2>Trends</h2>{}", trend_charts(&p.trend));
    let _ = write!(body, "<h2>Each stage's report</h2>");
    for StagePage {
        name, report: r, ..
    } in &p.stages
    {
        let _ = write!(
            body,
            "<details data-stage-report=\"{n}\"><summary>{n} {}</summary>{}</details>",
            verdict_badge(r.result),
            report_body(r, 3),
            n = esc(name)
        );
    }
    let _ = write!(
        body,
        "<h2>Provenance</h2>{}",
        table_html(
            &["Field", "Value"],
            &[
                vec![
                    "Commit".into(),
                    g.git.commit.clone().unwrap_or_else(|| "unknown".into())
                ],
                vec![
                    "Branch".into(),
                    g.git.branch.clone().unwrap_or_else(|| "detached".into())
                ],
                vec![
                    "Tree".into(),
                    match g.git.dirty {
                        Some(true) => "dirty",
                        Some(false) => "clean",
                        None => "unknown",
                    }
                    .into()
                ],
            ],
            None
        )
    );
    page(
        &format!(
            "Gate {} – {}",
            g.result.as_str(),
            match p.ready {
                Some(true) => "READY",
                _ => "NOT READY",
            }
        ),
        &body,
    )
}
