//! The HTML report: one self-contained file per report (`<suite>-latest.html`)
//! and, for the gate, one page that gathers every stage.
//!
//! No network, no CDN, no script: inline CSS and SVG only, so the page opens
//! from a CI artifact or the file system, prints well and can raise no console
//! error. What needs a person's attention (a failing test, a crossed
//! threshold, a regression, an unmet condition) is listed first.

use std::fmt::Write as _;

use crate::samples::{quantile, Samples};

use super::{
    fmt_ms, fmt_num, fmt_value,
    svg::{self, Series, Span},
    Report, Table, Verdict,
};

/// Text for HTML content and attribute values; control characters (terminal
/// colour codes among them) are dropped.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

const CSS: &str = "\
:root{--fg:#1b1b1b;--muted:#5a5a5a;--line:#d0d0d0;--bg:#fff;--pass:#0072B2;--fail:#D55E00;--warn:#E69F00}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:var(--fg);background:var(--bg);margin:0 auto;max-width:1100px;padding:12px 16px 40px}
h1{font-size:1.5em;margin:.3em 0}h2{font-size:1.2em;margin:1.4em 0 .4em;border-bottom:1px solid var(--line);padding-bottom:.2em}h3{font-size:1.05em;margin:1em 0 .3em}
.verdict{display:inline-block;font-weight:700;padding:.15em .6em;border-radius:4px;color:#fff}
.verdict.pass{background:var(--pass)}.verdict.fail{background:var(--fail)}
.pass-t{color:var(--pass);font-weight:600}.fail-t{color:var(--fail);font-weight:700}.other-t{color:var(--muted)}.warn-t{color:#8a5a00;font-weight:700}
.meta{color:var(--muted);margin:.2em 0}
.attention{border:2px solid var(--fail);border-radius:6px;padding:.4em 1em;margin:1em 0}
.attention h2{border:0;margin-top:.4em;color:var(--fail)}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;margin:.4em 0;min-width:50%}
th,td{border:1px solid var(--line);padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}
td.num{text-align:right;font-variant-numeric:tabular-nums}
code{font-size:.9em;word-break:break-all}
.chart{margin:.6em 0;overflow-x:auto;max-width:760px}
.chart svg{min-width:520px;width:100%;height:auto;display:block}
.chart .ct{font-size:14px;font-weight:600;fill:var(--fg)}
.chart .tick{font-size:11px;fill:var(--muted)}
.chart .label{font-size:12px;fill:var(--fg)}
.chart .grid{stroke:#e4e4e4}.chart .axis{stroke:#777}
.chart .span.other{fill-opacity:.6}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,520px),1fr));gap:8px}
details{margin:.4em 0}summary{cursor:pointer;font-weight:600}
@media (max-width:600px){body{font-size:14px;padding:8px}h1{font-size:1.25em}}
@media print{.chart svg{min-width:0}details{display:block}details>*{display:block}a{color:inherit}}
";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\
         <title>{}</title><style>{CSS}</style></head><body>\n{body}\n</body></html>\n",
        esc(title)
    )
}

fn verdict_badge(v: Verdict) -> String {
    match v {
        Verdict::Pass => "<span class=\"verdict pass\" data-verdict=\"PASS\">✔ PASS</span>".into(),
        Verdict::Fail => "<span class=\"verdict fail\" data-verdict=\"FAIL\">✘ FAIL</span>".into(),
    }
}

/// A state word with a class that says it without colour too (✔/✘ marks).
fn state(s: &str) -> String {
    let up = s.to_ascii_uppercase();
    let (class, mark) = if up.starts_with("PASS") || up == "OK" || up == "YES" {
        ("pass-t", "✔ ")
    } else if up.starts_with("FAIL")
        || up.starts_with("STALE")
        || up.starts_with("MISSING")
        || up == "NO"
        || up.starts_with("REGRESSION")
        || up.starts_with("ERROR")
    {
        ("fail-t", "✘ ")
    } else if up.starts_with("FLAKY") {
        ("warn-t", "⚠ ")
    } else {
        ("other-t", "")
    };
    format!("<span class=\"{class}\">{mark}{}</span>", esc(s))
}

fn table_html(columns: &[&str], rows: &[Vec<String>], state_col: Option<usize>) -> String {
    let mut out = String::from("<div class=\"scroll\"><table><thead><tr>");
    for c in columns {
        let _ = write!(out, "<th>{}</th>", esc(c));
    }
    out.push_str("</tr></thead><tbody>");
    for r in rows {
        out.push_str("<tr>");
        for (i, c) in r.iter().enumerate() {
            if Some(i) == state_col {
                let _ = write!(out, "<td>{}</td>", state(c));
            } else if !c.is_empty() && c.parse::<f64>().is_ok() {
                let _ = write!(out, "<td class=\"num\">{}</td>", esc(c));
            } else {
                let _ = write!(out, "<td>{}</td>", esc(c));
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>");
    out
}

fn generic_table(t: &Table) -> String {
    let cols: Vec<&str> = t.columns.iter().map(String::as_str).collect();
    let state_col = t.columns.iter().position(|c| {
        matches!(
            c.to_ascii_lowercase().as_str(),
            "result" | "state" | "status" | "verdict" | "ok"
        )
    });
    table_html(&cols, &t.rows, state_col)
}

/// Each threshold and limit with its observed value.
fn thresholds_table(r: &Report) -> String {
    let rows: Vec<Vec<String>> = r
        .thresholds
        .iter()
        .map(|t| {
            vec![
                t.name.clone(),
                fmt_value(t.observed, ""),
                format!("{} {}", t.op, fmt_num(t.limit)),
                if t.ok { "yes" } else { "no" }.into(),
            ]
        })
        .collect();
    table_html(&["Check", "Observed", "Limit", "OK"], &rows, Some(3))
}

/// What a person must see first in one report.
fn attention_items(r: &Report) -> Vec<String> {
    let mut items = vec![];
    if r.result == Verdict::Fail {
        for t in r.tables.iter().filter(|t| t.title == "Failing tests") {
            for row in &t.rows {
                items.push(format!(
                    "<li data-attention=\"failing-test\"><b>failing test</b> <code>{}</code>: {}</li>",
                    esc(&row[..row.len().min(2)].join(".")),
                    esc(row.get(2).map(String::as_str).unwrap_or(""))
                ));
            }
        }
    }
    for t in r.thresholds.iter().filter(|t| !t.ok) {
        items.push(format!(
            "<li data-attention=\"threshold\"><b>threshold crossed</b> {}: observed {}, limit {} {}</li>",
            esc(&t.name),
            esc(&fmt_value(t.observed, "")),
            esc(&t.op),
            fmt_num(t.limit)
        ));
    }
    for t in r.tables.iter().filter(|t| is_comparison(t)) {
        let verdict = t
            .columns
            .iter()
            .position(|c| c.eq_ignore_ascii_case("verdict"));
        for row in &t.rows {
            if let Some(v) = verdict.and_then(|i| row.get(i)) {
                if v.to_ascii_lowercase().contains("regress") {
                    items.push(format!(
                        "<li data-attention=\"regression\"><b>regression</b> {}</li>",
                        esc(&row.join(" · "))
                    ));
                }
            }
        }
    }
    if r.result == Verdict::Fail {
        for n in &r.notes {
            items.push(format!("<li data-attention=\"note\">{}</li>", esc(n)));
        }
    }
    items
}

fn is_comparison(t: &Table) -> bool {
    let l = t.title.to_ascii_lowercase();
    l.contains("comparison") || l.contains("regression")
}

/// Charts drawn from a report's tables where their shape is known.
fn charts(r: &Report) -> String {
    let mut out = String::new();
    for t in &r.tables {
        let col = |name: &str| {
            t.columns
                .iter()
                .position(|c| c.to_ascii_lowercase().starts_with(name))
        };
        let nums = |i: usize| -> Vec<f64> {
            t.rows
                .iter()
                .map(|row| {
                    row.get(i)
                        .and_then(|c| c.trim_end_matches(['%', ' ', 's', 'm']).parse().ok())
                        .unwrap_or(0.0)
                })
                .collect()
        };
        if t.title == "Requests per replica" {
            if let Some(n) = col("requests") {
                let bars = t
                    .rows
                    .iter()
                    .map(|r| r[0].clone())
                    .zip(nums(n))
                    .collect::<Vec<_>>();
                out +=
                    &svg::bar_chart("Requests per replica", "replica", "requests (count)", &bars);
            }
        }
    }
    out
}

/// The body of one report: its attention list, facts, charts and tables.
fn report_body(r: &Report, level: u8) -> String {
    let h = |n: u8| format!("h{}", (level + n).min(6));
    let mut out = String::new();
    let items = attention_items(r);
    if !items.is_empty() {
        let _ = write!(
            out,
            "<section class=\"attention\"><{h}>Needs attention</{h}><ul>{}</ul></section>",
            items.join(""),
            h = h(0)
        );
    }
    let mut facts: Vec<Vec<String>> = vec![
        vec!["Run".into(), r.run_stamp.clone()],
        vec!["Started".into(), r.started.clone()],
        vec!["Finished".into(), r.ended.clone()],
        vec!["Wall time".into(), fmt_ms(r.duration_ms)],
        vec!["Commit".into(), r.git.describe()],
    ];
    facts.extend(
        r.parameters
            .iter()
            .map(|p| vec![p.name.clone(), p.value.clone()]),
    );
    let _ = write!(
        out,
        "<details open><summary>Parameters</summary>{}</details>",
        table_html(&["Field", "Value"], &facts, None)
    );
    let drawn = charts(r);
    if !drawn.is_empty() {
        let _ = write!(out, "<div class=\"charts\">{drawn}</div>");
    }
    if !r.thresholds.is_empty() {
        let _ = write!(
            out,
            "<{h}>Thresholds and limits</{h}>{}",
            thresholds_table(r),
            h = h(1)
        );
    }
    if !r.metrics.is_empty() {
        let rows: Vec<Vec<String>> = r
            .metrics
            .iter()
            .map(|m| vec![m.name.clone(), fmt_value(m.value, &m.unit)])
            .collect();
        let _ = write!(
            out,
            "<{h}>Metrics</{h}>{}",
            table_html(&["Metric", "Value"], &rows, None),
            h = h(1)
        );
    }
    for t in &r.tables {
        let _ = write!(
            out,
            "<{h}>{}</{h}>{}",
            esc(&t.title),
            generic_table(t),
            h = h(1)
        );
    }
    if !r.steps.is_empty() {
        let rows: Vec<Vec<String>> = r
            .steps
            .iter()
            .map(|s| {
                vec![
                    s.name.clone(),
                    if s.ok {
                        format!("PASS ({})", s.outcome)
                    } else {
                        format!("FAIL ({})", s.outcome)
                    },
                    fmt_ms(s.duration_ms),
                    s.argv.join(" "),
                ]
            })
            .collect();
        let _ = write!(
            out,
            "<details><summary>Steps ({})</summary>{}</details>",
            r.steps.len(),
            table_html(&["Step", "Outcome", "Duration", "Command"], &rows, Some(1))
        );
    }
    if !r.notes.is_empty() {
        let _ = write!(out, "<{h}>Notes</{h}><ul>", h = h(1));
        for n in &r.notes {
            let _ = write!(out, "<li>{}</li>", esc(n));
        }
        out.push_str("</ul>");
    }
    if !r.artifacts.is_empty() {
        let _ = write!(out, "<{h}>Artifacts</{h}><ul>", h = h(1));
        for a in &r.artifacts {
            let _ = write!(
                out,
                "<li>{}: <code>{}</code></li>",
                esc(&a.name),
                esc(&a.path)
            );
        }
        out.push_str("</ul>");
    }
    out
}

/// The page beside one suite's Markdown report (with the load charts of a
/// k6 run when its samples were kept).
pub fn suite_page(r: &Report, load: Option<&Load>) -> String {
    let charts = load.map(load_charts).unwrap_or_default();
    let body = format!(
        "<header><h1>{} {}</h1><p class=\"meta\">suite <code>{}</code> · commit {} · {}</p></header>{}{}",
        esc(&r.title),
        verdict_badge(r.result),
        esc(&r.suite),
        esc(&r.git.describe()),
        esc(&r.ended),
        if charts.is_empty() { String::new() } else { format!("<div class=\"charts\">{charts}</div>") },
        report_body(r, 2)
    );
    page(&format!("{} {}", r.title, r.result.as_str()), &body)
}

/// One time slot of a k6 run: latency percentiles (ms) and counts per second.
pub struct Second {
    /// Since the first request.
    pub at_s: f64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub requests: f64,
    pub failed: f64,
}

/// A k6 run's raw-sample figures, read from the histograms kept in its run
/// folder (see `samples::store`).
#[derive(Default)]
pub struct Load {
    pub per_second: Vec<Second>,
    /// (bucket upper bound in ms, requests).
    pub histogram: Vec<(f64, f64)>,
}

impl Load {
    /// The figures the page draws, from the histograms (µs) in ms.
    pub fn from_samples(s: &Samples) -> Load {
        let ms = |v: Option<f64>| v.map_or(0.0, |us| (us / 10.0).round() / 100.0);
        let per_second = s
            .slots
            .as_ref()
            .map(|sl| {
                let w = sl.width_ms as f64 / 1000.0;
                sl.latency
                    .iter()
                    .zip(&sl.failed)
                    .enumerate()
                    .map(|(i, (h, failed))| Second {
                        at_s: i as f64 * w,
                        p50: ms(quantile(h, 0.5)),
                        p95: ms(quantile(h, 0.95)),
                        p99: ms(quantile(h, 0.99)),
                        requests: h.len() as f64 / w,
                        failed: *failed as f64 / w,
                    })
                    .collect()
            })
            .unwrap_or_default();
        // Buckets doubling from 1 ms: a few dozen bars however wide the range.
        let mut histogram = vec![];
        if !s.duration.is_empty() {
            let mut upper_ms = 1.0_f64;
            let mut below = 0;
            loop {
                let n = s.duration.count_between(0, (upper_ms * 1000.0) as u64);
                histogram.push((upper_ms, (n - below) as f64));
                below = n;
                if n >= s.duration.len() || histogram.len() >= 40 {
                    break;
                }
                upper_ms *= 2.0;
            }
        }
        Load {
            per_second,
            histogram,
        }
    }
}

fn load_charts(l: &Load) -> String {
    let mut out = String::new();
    if !l.per_second.is_empty() {
        let pick = |f: fn(&Second) -> f64| -> Vec<(f64, f64)> {
            l.per_second.iter().map(|p| (p.at_s, f(p))).collect()
        };
        out += &svg::line_chart(
            "Latency over time (per second)",
            "time since the first request (s)",
            "latency (ms)",
            &[
                Series {
                    name: "p50".into(),
                    points: pick(|p| p.p50),
                },
                Series {
                    name: "p95".into(),
                    points: pick(|p| p.p95),
                },
                Series {
                    name: "p99".into(),
                    points: pick(|p| p.p99),
                },
            ],
        );
        out += &svg::line_chart(
            "Requests and failures per second",
            "time since the first request (s)",
            "per second (count)",
            &[
                Series {
                    name: "requests".into(),
                    points: pick(|p| p.requests),
                },
                Series {
                    name: "failed".into(),
                    points: pick(|p| p.failed),
                },
            ],
        );
    }
    if !l.histogram.is_empty() {
        let bars: Vec<(String, f64)> = l
            .histogram
            .iter()
            .map(|(ms, n)| (format!("≤{}", svg::num(*ms)), *n))
            .collect();
        out += &svg::bar_chart(
            "Latency histogram (all requests)",
            "request duration (ms, bucket upper bound)",
            "requests (count)",
            &bars,
        );
    }
    out
}

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
