//! The HTML report: one self-contained file per report (`<suite>-latest.html`)
//! and, for the gate, one page that gathers every stage.
//!
//! No network, no CDN, no script: inline CSS and SVG only, so the page opens
//! from a CI artifact or the file system, prints well and can raise no console
//! error. What needs a person's attention (a failing test, a crossed
//! threshold, a regression, an unmet condition) is listed first.
//!
//! Here: the building blocks every page uses (escaping, the page frame and its CSS,
//! verdict badges, state words, tables). `suite` draws one report, `load` a k6 run's
//! figures from its kept samples, `gate` the gate's page of every stage.

mod gate;
mod load;
mod suite;

use std::fmt::Write as _;

use super::{Table, Verdict};

pub use gate::{gate_page, Condition, GatePage, StagePage, TrendPoint};
pub use load::Load;
// The tests build a `Load` by hand; elsewhere it comes from `Load::from_samples`.
#[cfg(test)]
pub use load::Second;
pub use suite::suite_page;

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
