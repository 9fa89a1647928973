//! One report as HTML: what needs attention first (failing tests, crossed thresholds,
//! regressions, a failure's notes), its facts, charts from its tables, its tables, steps,
//! notes and artifacts; and the page beside a suite's Markdown report.

use std::fmt::Write as _;

use super::{esc, generic_table, load::load_charts, page, table_html, verdict_badge, Load};
use crate::report::{fmt_ms, fmt_num, fmt_value, svg, Report, Table, Verdict};

/// Each threshold and limit with its observed value.
pub(super) fn thresholds_table(r: &Report) -> String {
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
pub(super) fn attention_items(r: &Report) -> Vec<String> {
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
            esc(t.op.as_str()),
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

pub(super) fn is_comparison(t: &Table) -> bool {
    let l = t.title.to_ascii_lowercase();
    l.contains("comparison") || l.contains("regression")
}

/// Charts drawn from a report's tables where their shape is known.
pub(super) fn charts(r: &Report) -> String {
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
pub(super) fn report_body(r: &Report, level: u8) -> String {
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
