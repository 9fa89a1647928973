//! What a k6 report shows, from the samples: one truth. k6's summary is
//! still read; it is the cross-check (they must agree within the
//! histogram's precision, else a note names both values), and the source
//! only when there are no samples at all.

use crate::{
    k6::{self, Summary},
    report::{fmt_num, Report},
};

use super::{precision_us, quantile, stream::Finished, Samples, Slots};

/// A metrics-table row: name, value (None: N/A), unit.
pub type Row = (&'static str, Option<f64>, &'static str);

/// Row name → the value from the samples. The names are the legacy
/// table's (`k6::metrics_table`): `X` a counter or rate, `X rate` a rate,
/// `http_req_duration p(NN)` a percentile.
pub fn value(s: &Samples, row: &str) -> Option<f64> {
    match row {
        "http_reqs" => return Some(s.requests as f64),
        "http_req_failed rate" => return s.failed_rate(),
        "checks rate" => return s.checks_rate(),
        _ => {}
    }
    if let Some(p) = row
        .strip_prefix("http_req_duration p(")
        .and_then(|r| r.strip_suffix(')'))
    {
        return s.p(p.parse::<f64>().ok()? / 100.0);
    }
    let metric = row.strip_suffix(" rate").unwrap_or(row);
    match s.kinds.get(metric).map(String::as_str) {
        Some("counter") => Some(s.counters.get(metric).copied().unwrap_or(0.0)),
        Some("rate") => s.fraction(metric),
        _ => s
            .counters
            .get(metric)
            .copied()
            .or_else(|| s.fraction(metric)),
    }
}

/// How far k6's value of `row` may be from ours: a histogram bucket for a
/// percentile, float noise for counts and rates.
fn allowed(s: &Samples, row: &str, ours: f64) -> f64 {
    if row.starts_with("http_req_duration p(") {
        precision_us(&s.duration, ours * 1000.0) / 1000.0
    } else {
        1e-9 * ours.abs().max(1.0)
    }
}

/// The legacy metrics table, its values from the samples (k6's summary
/// where the samples lack a metric), and one note per disagreement.
pub fn table(samples: Option<&Samples>, summary: Option<&Summary>) -> (Vec<Row>, Vec<String>) {
    let mut notes = vec![];
    let rows = k6::metrics_table(summary)
        .into_iter()
        .map(|(name, theirs, unit)| {
            let Some(s) = samples else {
                return (name, theirs, unit);
            };
            let ours = value(s, name);
            if let (Some(a), Some(b)) = (ours, theirs) {
                let tol = allowed(s, name, a);
                if (a - b).abs() > tol {
                    let u = if unit.is_empty() { String::new() } else { format!(" {unit}") };
                    notes.push(format!(
                        "the raw samples and k6's summary disagree on {name}: {}{u} from the samples, {}{u} in k6's summary (allowed difference {}{u}); the report shows the samples' value",
                        fmt_num(a),
                        fmt_num(b),
                        fmt_num(tol)
                    ));
                }
            }
            (name, ours.or(theirs), unit)
        })
        .collect();
    (rows, notes)
}

/// Fills the k6 part of a report: the metrics (from the samples), the
/// cross-check notes, the latency tables, and the stored histograms.
/// `got` is None in a dry run.
pub fn fill(
    ctx: &crate::context::Ctx,
    run_dir: &camino::Utf8Path,
    got: Option<anyhow::Result<Finished>>,
    summary: Option<&Summary>,
    report: &mut Report,
) {
    let samples = match got {
        None => None,
        Some(Err(e)) => {
            report.note(format!("{e:#}; the numbers are k6's summary's"));
            None
        }
        Some(Ok(f)) => {
            if f.abandoned {
                report.note("k6's sample stream was still open after k6 ended (a container left behind?): the samples read until then are used");
            }
            let s = f.samples;
            if s.truncated {
                report.note("k6's sample stream ended inside a line (k6 was killed while writing): that line was dropped");
            }
            if s.bad_lines > 0 {
                report.note(format!(
                    "{} of {} lines of k6's sample stream were not k6 samples and were skipped",
                    s.bad_lines, s.lines
                ));
            }
            if s.lines == 0 {
                report.note("k6 wrote no raw samples (it ended before the test started?); the numbers are k6's summary's");
                None
            } else {
                Some(s)
            }
        }
    };
    let (rows, notes) = table(samples.as_ref(), summary);
    for (name, value, unit) in rows {
        report.metric(name, value, unit);
    }
    for n in notes {
        report.note(n);
    }
    let Some(s) = samples else { return };
    report.metric("http_reqs per second", s.rps().map(round2), "");
    report.metric("checks passed", Some(s.checks_passed as f64), "");
    report.metric("checks failed", Some(s.checks_failed as f64), "");
    report.param(
        "Numbers from",
        format!(
            "k6's raw samples ({} requests, {} lines), cross-checked with its summary",
            s.requests, s.lines
        ),
    );
    latency_tables(&s, report);
    match super::store::save(run_dir, &s) {
        Ok([hlog, json]) => {
            report.artifact("latency histograms (HdrHistogram log)", ctx.relative(&hlog));
            report.artifact("sample counts", ctx.relative(&json));
        }
        Err(e) => report.note(format!("the histograms were not kept: {e:#}")),
    }
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

fn ms<T: hdrhistogram::Counter>(h: &hdrhistogram::Histogram<T>, q: f64) -> String {
    quantile(h, q).map_or("N/A".into(), |us| fmt_num(round2(us / 1000.0)))
}

fn latency_row<T: hdrhistogram::Counter>(
    name: String,
    h: &hdrhistogram::Histogram<T>,
) -> Vec<String> {
    vec![
        name,
        h.len().to_string(),
        ms(h, 0.5),
        ms(h, 0.95),
        ms(h, 0.99),
        fmt_num(round2(h.max() as f64 / 1000.0)),
    ]
}

const LATENCY_COLUMNS: [&str; 6] = [
    "", "Requests", "p50 (ms)", "p95 (ms)", "p99 (ms)", "max (ms)",
];

/// By status class, by scenario, and over time (at most 12 rows).
pub fn latency_tables(s: &Samples, report: &mut Report) {
    let cols = |first: &'static str| {
        let mut c = LATENCY_COLUMNS;
        c[0] = first;
        c
    };
    let rows = s
        .by_status
        .iter()
        .map(|(k, h)| latency_row(k.clone(), h))
        .collect();
    report.table("Latency by status class", &cols("Status"), rows);
    let rows = s
        .by_scenario
        .iter()
        .map(|(k, h)| latency_row(k.clone(), h))
        .collect();
    report.table("Latency by scenario", &cols("Scenario"), rows);
    if let Some(sl) = &s.slots {
        report.table(
            "Latency over time",
            &[
                "Seconds", "Requests", "Failed", "p50 (ms)", "p95 (ms)", "p99 (ms)",
            ],
            over_time(sl, 12),
        );
    }
}

fn over_time(sl: &Slots, max_rows: usize) -> Vec<Vec<String>> {
    let n = sl.latency.len();
    let per_row = n.div_ceil(max_rows).max(1);
    let w = sl.width_ms as f64 / 1000.0;
    (0..n)
        .step_by(per_row)
        .map(|first| {
            let last = (first + per_row).min(n);
            let mut h = super::new_slot_histogram();
            let mut failed = 0;
            for i in first..last {
                let _ = h.add(&sl.latency[i]);
                failed += sl.failed[i];
            }
            vec![
                format!("{}-{}", fmt_num(first as f64 * w), fmt_num(last as f64 * w)),
                h.len().to_string(),
                failed.to_string(),
                ms(&h, 0.5),
                ms(&h, 0.95),
                ms(&h, 0.99),
            ]
        })
        .collect()
}
