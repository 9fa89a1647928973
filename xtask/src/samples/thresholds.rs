//! The script's own thresholds, judged once on merged samples: for k6 runs
//! split over several processes (generators, k6-operator's runners), each
//! of which sees only its segment and runs with `--no-thresholds`.
//!
//! - [`inspect`]: the thresholds as k6 itself reads them (`k6 inspect`, the
//!   run's variables as `--env=K=V`), strings and `{threshold, abortOnFail}`
//!   objects alike.
//! - [`judge`]: one threshold on a [`Samples`]: `p(N)`, `avg`, `min`,
//!   `max`, `med` of `http_req_duration` (overall or `{scenario:NAME}`),
//!   `rate` of a rate metric, `count` and `rate` (per second) of a
//!   counter. Anything else cannot be judged from what the samples keep:
//!   that is a FAIL saying so, never a silent pass.
//! - [`fill`]: the report's "k6 thresholds" table and its verdict.

use anyhow::{bail, Context};
use camino::Utf8Path;
use serde::Deserialize;

use super::{quantile, Samples};
use crate::{report::Report, runner::Step};

/// One threshold of the script: `http_req_duration` + `p(95)<700`.
#[derive(Clone, Debug, PartialEq)]
pub struct Threshold {
    /// The metric as the script names it, a sub-metric's `{tag:value}` included.
    pub metric: String,
    pub expr: String,
}

impl std::fmt::Display for Threshold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.metric, self.expr)
    }
}

/// `k6 inspect SCRIPT` with the run's variables: its options, thresholds
/// included, as the run would see them.
pub fn inspect(program: &Utf8Path, script: &Utf8Path, vars: &[(String, String)]) -> Step {
    Step::new("k6 inspect", program.as_str())
        .arg("inspect")
        .args(vars.iter().map(|(k, v)| format!("--env={k}={v}")))
        .arg(script.as_str())
        .deadline(std::time::Duration::from_secs(60))
        .read_only()
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Item {
    Plain(String),
    Full { threshold: String },
}

/// The thresholds of `k6 inspect`'s output, in the script's order of
/// metrics (k6 prints them sorted).
pub fn parse(inspect_json: &str) -> anyhow::Result<Vec<Threshold>> {
    #[derive(Deserialize)]
    struct Options {
        #[serde(default)]
        thresholds: Option<std::collections::BTreeMap<String, Vec<Item>>>,
    }
    let o: Options =
        serde_json::from_str(inspect_json).context("`k6 inspect` printed no options object")?;
    Ok(o.thresholds
        .unwrap_or_default()
        .into_iter()
        .flat_map(|(metric, items)| {
            items.into_iter().map(move |i| Threshold {
                metric: metric.clone(),
                expr: match i {
                    Item::Plain(e) | Item::Full { threshold: e } => e,
                },
            })
        })
        .collect())
}

/// What one threshold came to.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    Passed(f64),
    Crossed(f64),
    /// Why the samples cannot say.
    NotJudged(String),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

/// `p(95) < 700` → ("p(95)", <, 700).
fn split(expr: &str) -> anyhow::Result<(String, Op, f64)> {
    let e: String = expr.chars().filter(|c| !c.is_whitespace()).collect();
    // Longest operators first: `<=` before `<`, `===` before `==`.
    const OPS: [(&str, Op); 7] = [
        ("===", Op::Eq),
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("<", Op::Lt),
        (">", Op::Gt),
    ];
    for (text, op) in OPS {
        if let Some(at) = e.find(text) {
            let (agg, value) = (&e[..at], &e[at + text.len()..]);
            let value: f64 = value
                .parse()
                .with_context(|| format!("bad threshold `{expr}`: `{value}` is not a number"))?;
            return Ok((agg.to_string(), op, value));
        }
    }
    bail!("bad threshold `{expr}`: no comparison (<, <=, >, >=, ==, !=)")
}

fn holds(op: Op, a: f64, b: f64) -> bool {
    match op {
        Op::Lt => a < b,
        Op::Le => a <= b,
        Op::Gt => a > b,
        Op::Ge => a >= b,
        Op::Eq => a == b,
        Op::Ne => a != b,
    }
}

/// One threshold on the samples.
pub fn judge(s: &Samples, t: &Threshold) -> Verdict {
    let (agg, op, limit) = match split(&t.expr) {
        Ok(x) => x,
        Err(e) => return Verdict::NotJudged(format!("{e:#}")),
    };
    match value(s, &t.metric, &agg) {
        Ok(v) if holds(op, v, limit) => Verdict::Passed(v),
        Ok(v) => Verdict::Crossed(v),
        Err(why) => Verdict::NotJudged(why),
    }
}

/// The aggregation `agg` of `metric` (`name` or `name{tag:value}`).
fn value(s: &Samples, metric: &str, agg: &str) -> Result<f64, String> {
    let (name, sub) = match metric.split_once('{') {
        Some((n, rest)) => (n, Some(rest.trim_end_matches('}'))),
        None => (metric, None),
    };
    let kind = s.kinds.get(name).map(String::as_str);
    if name == "http_req_duration" {
        let h = match sub.map(|t| t.split_once(':')) {
            None => Some(&s.duration),
            Some(Some(("scenario", sc))) => s
                .by_scenario
                .get(sc.trim_matches(|c| c == '"' || c == '\'')),
            Some(_) => {
                return Err(format!(
                    "the samples keep http_req_duration overall and per scenario, not `{metric}`"
                ))
            }
        };
        let Some(h) = h.filter(|h| !h.is_empty()) else {
            return Err(format!("no sample of `{metric}`"));
        };
        let ms = |us: f64| us / 1000.0;
        return match agg {
            "avg" => Ok(ms(h.mean())),
            "min" => Ok(ms(h.min() as f64)),
            "max" => Ok(ms(h.max() as f64)),
            "med" => quantile(h, 0.5).map(ms).ok_or_else(|| "no samples".into()),
            p if p.starts_with("p(") && p.ends_with(')') => {
                let q: f64 = p[2..p.len() - 1]
                    .parse()
                    .map_err(|_| format!("bad percentile `{p}`"))?;
                if !(0.0..=100.0).contains(&q) {
                    return Err(format!("bad percentile `{p}`"));
                }
                quantile(h, q / 100.0)
                    .map(ms)
                    .ok_or_else(|| "no samples".into())
            }
            other => Err(format!("`{other}` is not an aggregation of a trend")),
        };
    }
    if sub.is_some() {
        return Err(format!(
            "the samples keep no sub-metrics of `{name}`, so `{metric}` cannot be judged"
        ));
    }
    match (kind, agg) {
        (Some("rate"), "rate") => s
            .fraction(name)
            .ok_or_else(|| format!("no sample of `{name}`")),
        (Some("counter"), "count") => Ok(s.counters.get(name).copied().unwrap_or(0.0)),
        (Some("counter"), "rate") => {
            let secs = s.active_secs().filter(|t| *t > 0.0).ok_or("no time span")?;
            Ok(s.counters.get(name).copied().unwrap_or(0.0) / secs)
        }
        (Some(k @ ("trend" | "gauge")), _) => Err(format!(
            "the samples keep no values of the {k} `{name}` (only http_req_duration's)"
        )),
        (Some(k), a) => Err(format!("`{a}` is not an aggregation of the {k} `{name}`")),
        (None, _) => Err(format!("the run reported no metric `{name}`")),
    }
}

/// The "k6 thresholds" table of the merged samples, and the verdict: a
/// crossed threshold fails the run, and so does one that cannot be judged.
pub fn fill(thresholds: &[Threshold], s: &Samples, report: &mut Report) {
    if thresholds.is_empty() {
        return;
    }
    let mut crossed = vec![];
    let mut unjudged = vec![];
    let rows = thresholds
        .iter()
        .map(|t| {
            let v = judge(s, t);
            let (value, result) = match &v {
                Verdict::Passed(x) => (crate::report::fmt_num(round(*x)), "passed".to_string()),
                Verdict::Crossed(x) => {
                    crossed.push(format!("{t} ({})", crate::report::fmt_num(round(*x))));
                    (crate::report::fmt_num(round(*x)), "CROSSED".to_string())
                }
                Verdict::NotJudged(why) => {
                    unjudged.push(format!("{t}: {why}"));
                    ("N/A".to_string(), "not judged".to_string())
                }
            };
            vec![t.metric.clone(), t.expr.clone(), value, result]
        })
        .collect();
    report.table(
        "k6 thresholds",
        &["Metric", "Threshold", "Merged value", "Result"],
        rows,
    );
    if !crossed.is_empty() {
        report.fail(format!(
            "k6 thresholds crossed (judged on the merged samples): {}",
            crossed.join(", ")
        ));
    }
    for u in unjudged {
        report.fail(format!(
            "k6 threshold not judged on the merged samples: {u}"
        ));
    }
}

fn round(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

#[cfg(test)]
#[path = "thresholds_tests.rs"]
mod tests;
