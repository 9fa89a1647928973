//! "Did this run get slower than the baseline, beyond the noise?"
//!
//! A metric regresses only when its change is beyond the tolerance of
//! `[k6.regression]` AND significant on the two runs' samples.
//!
//! Significance: a **block bootstrap over the time slots**. Each run's
//! per-second histograms (see `samples`) are resampled with replacement,
//! as whole seconds, into a run of the same length; the statistic (p95,
//! p99, failed rate, requests per second) is computed on both resampled
//! runs, and the difference collected `resamples` times. The interval is
//! the central `confidence` part of those differences; the change is
//! significant when the interval excludes zero.
//!
//! Why this and not a rank test or a per-request bootstrap: the tolerance
//! is about the p95, and a rank test (Mann-Whitney) answers another
//! question (is one run's whole distribution shifted), which with tens of
//! thousands of requests is "yes" for differences far too small to matter.
//! Requests within a run are not independent: a GC pause or a busy
//! neighbour slows a whole second of them. Resampling single requests
//! ignores that and makes intervals too narrow (false alarms); resampling
//! seconds keeps it. The slot histograms are merged from sparse counts, so
//! 2000 resamples of a few minutes of load take milliseconds. The random
//! numbers are seeded: the same two runs always get the same verdict.

use anyhow::{bail, Context};
use camino::{Utf8Path, Utf8PathBuf};
use hdrhistogram::Histogram;

use crate::{
    config::K6Regression,
    context::Ctx,
    report::{self, fmt_num, Report},
    runner::Step,
    samples::{self, Samples},
};

/// What `--compare` names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// The newest passing run of the suite.
    LastPass,
    /// A run folder (its stamp), else a git branch: the newest passing run
    /// whose commit is on it.
    Named(String),
}

impl std::str::FromStr for Target {
    type Err = String;
    fn from_str(s: &str) -> Result<Target, String> {
        if s == "last-pass" {
            return Ok(Target::LastPass);
        }
        let ok = !s.is_empty()
            && !s.starts_with('-')
            && s.len() <= 200
            && s.bytes()
                .all(|b| b.is_ascii_graphic() && !b"\\~^:?*[".contains(&b));
        if !ok {
            return Err(format!("`{s}` is neither `last-pass`, a run stamp (e.g. 20261201T091422Z) nor a branch name"));
        }
        Ok(Target::Named(s.to_string()))
    }
}

/// A run to compare with, found before this run starts.
#[derive(Clone, Debug)]
pub struct Baseline {
    pub dir: Utf8PathBuf,
    pub stamp: String,
    /// How it was chosen, for the report: `last pass`, `run X`, ...
    pub how: String,
    pub commit: Option<String>,
    pub params: Vec<report::Param>,
}

/// A run folder with its stored report, newest first.
pub fn runs(suite_dir: &Utf8Path, suite: &str) -> Vec<(String, Utf8PathBuf, Report)> {
    let mut names: Vec<String> = std::fs::read_dir(suite_dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| report::is_run_folder(n))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names.reverse();
    names
        .into_iter()
        .filter_map(|n| {
            let dir = suite_dir.join(&n);
            let text = std::fs::read_to_string(report::run_report(&dir, suite)).ok()?;
            let r: Report = serde_json::from_str(&text).ok()?;
            Some((n, dir, r))
        })
        .collect()
}

fn has_samples(dir: &Utf8Path) -> bool {
    dir.join(samples::store::META).is_file() && dir.join(samples::store::HLOG).is_file()
}

/// The baseline `target` names for `suite`; None when `last-pass` finds no
/// passing run yet. A name that matches nothing is an error.
pub fn resolve(ctx: &Ctx, suite: &str, target: &Target) -> anyhow::Result<Option<Baseline>> {
    let suite_dir = ctx.layout.suite_dir(suite);
    let runs = runs(&suite_dir, suite);
    let pick = |how: String, (stamp, dir, r): &(String, Utf8PathBuf, Report)| Baseline {
        dir: dir.clone(),
        stamp: stamp.clone(),
        how,
        commit: r.git.commit.clone(),
        params: r.parameters.clone(),
    };
    let passing = |r: &&(String, Utf8PathBuf, Report)| r.2.passed() && has_samples(&r.1);
    match target {
        Target::LastPass => Ok(runs
            .iter()
            .find(passing)
            .map(|r| pick("the last passing run".into(), r))),
        Target::Named(name) => {
            let dir = suite_dir.join(name);
            if report::is_run_folder(name) || dir.is_dir() {
                let Some(run) = runs.iter().find(|r| &r.0 == name) else {
                    bail!("--compare {name}: no run `{name}` of {suite} with a report in {} (pruned? see `cargo xtask report history {suite}`)", ctx.relative(&suite_dir));
                };
                if !has_samples(&run.1) {
                    bail!("--compare {name}: run {name} kept no samples (it ran before samples were kept, or k6 produced none)");
                }
                return Ok(Some(pick("run".into(), run)));
            }
            let rev = Step::new("git rev-parse", "git")
                .cwd(&ctx.root)
                .args([
                    "rev-parse",
                    "--verify",
                    "--quiet",
                    "--end-of-options",
                    &format!("{name}^{{commit}}"),
                ])
                .read_only();
            let tip = ctx.runner.read(&rev).map_err(|_| {
                anyhow::anyhow!("--compare {name}: no run folder and no git branch named `{name}` (give last-pass, a run stamp from `cargo xtask report history {suite}`, or a branch)")
            })?;
            for r in runs.iter().filter(passing) {
                let Some(c) = r.2.git.commit.as_deref() else {
                    continue;
                };
                if !c.bytes().all(|b| b.is_ascii_hexdigit()) {
                    continue;
                }
                let on = Step::new("git merge-base", "git")
                    .cwd(&ctx.root)
                    .args(["merge-base", "--is-ancestor", c, tip.trim()])
                    .read_only();
                if ctx.runner.read(&on).is_ok() {
                    return Ok(Some(pick(format!("the newest passing run on {name}"), r)));
                }
            }
            bail!("--compare {name}: no passing run of {suite} with samples comes from a commit on {name}");
        }
    }
}

/// One row of the comparison table.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub metric: &'static str,
    pub unit: &'static str,
    pub baseline: Option<f64>,
    pub now: Option<f64>,
    /// Bootstrap interval of `now - baseline`.
    pub interval: Option<(f64, f64)>,
    pub verdict: Verdict,
    /// The change the tolerance allows (in the metric's unit).
    pub tolerance: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    /// Worse beyond the tolerance, and significant.
    Regression,
    /// Better beyond the tolerance, and significant.
    Improvement,
    /// Beyond the tolerance but within the noise.
    NotSignificant,
    /// A side lacks the numbers (no requests, too few seconds).
    Unknown,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Regression => "REGRESSION",
            Verdict::Improvement => "improvement",
            Verdict::NotSignificant => "within noise",
            Verdict::Unknown => "n/a",
        }
    }
}

/// Which way is worse, and how much change is tolerated.
#[derive(Clone, Copy)]
enum Stat {
    P(f64),
    FailedRate,
    Rps,
}

/// Compares `now` with `base` on every metric of `[k6.regression]`.
pub fn compare(base: &Samples, now: &Samples, tol: &K6Regression) -> Vec<Row> {
    let boot = Bootstrap::new(base, now, tol.resamples, tol.confidence.get());
    let mut rows = vec![];
    let mut push = |metric, unit, stat: Stat, allowed: &dyn Fn(f64) -> f64, higher_is_worse| {
        let (b, n) = (point(base, stat), point(now, stat));
        let interval = boot.as_ref().and_then(|bt| bt.interval(stat));
        let tolerance = b.map_or(0.0, allowed);
        let verdict = match (b, n, interval) {
            (Some(b), Some(n), Some((lo, hi))) => {
                let worse = if higher_is_worse { n - b } else { b - n };
                let (worse_lo, better_hi) = if higher_is_worse {
                    (lo, hi)
                } else {
                    (-hi, -lo)
                };
                if worse > tolerance {
                    if worse_lo > 0.0 {
                        Verdict::Regression
                    } else {
                        Verdict::NotSignificant
                    }
                } else if -worse > tolerance && better_hi < 0.0 {
                    Verdict::Improvement
                } else {
                    Verdict::Ok
                }
            }
            _ => Verdict::Unknown,
        };
        rows.push(Row {
            metric,
            unit,
            baseline: b,
            now: n,
            interval,
            verdict,
            tolerance,
        });
    };
    let rel_min = |rel: f64, min: f64| move |b: f64| (b * rel).max(min);
    push(
        "http_req_duration p(95)",
        "ms",
        Stat::P(0.95),
        &rel_min(tol.p95_increase, tol.p95_min_ms),
        true,
    );
    push(
        "http_req_duration p(99)",
        "ms",
        Stat::P(0.99),
        &rel_min(tol.p99_increase, tol.p99_min_ms),
        true,
    );
    let fail = tol.fail_rate_increase.get();
    push(
        "http_req_failed rate",
        "",
        Stat::FailedRate,
        &move |_| fail,
        true,
    );
    let rps = tol.rps_decrease.get();
    push(
        "http_reqs per second",
        "",
        Stat::Rps,
        &move |b| b * rps,
        false,
    );
    rows
}

fn point(s: &Samples, stat: Stat) -> Option<f64> {
    match stat {
        Stat::P(q) => s.p(q),
        Stat::FailedRate => s.failed_rate(),
        Stat::Rps => s.rps(),
    }
}

/// The slot histograms of both runs as sparse counts over one shared,
/// sorted list of bucket values: merging a resample is adding a few
/// hundred counts, not whole histograms.
struct Side {
    slots: Vec<Vec<(u32, u64)>>,
    failed: Vec<u64>,
    width_s: f64,
}

struct Bootstrap {
    values: Vec<u64>,
    base: Side,
    now: Side,
    resamples: u32,
    confidence: f64,
}

/// Fewer slots than this cannot say how noisy a run is.
const MIN_SLOTS: usize = 3;

impl Bootstrap {
    fn new(base: &Samples, now: &Samples, resamples: u32, confidence: f64) -> Option<Bootstrap> {
        let (a, b) = (base.slots.as_ref()?, now.slots.as_ref()?);
        if a.latency.len() < MIN_SLOTS || b.latency.len() < MIN_SLOTS {
            return None;
        }
        let mut values: Vec<u64> = a
            .latency
            .iter()
            .chain(&b.latency)
            .flat_map(|h| {
                h.iter_recorded()
                    .map(|v| h.median_equivalent(v.value_iterated_to()))
            })
            .collect();
        values.sort_unstable();
        values.dedup();
        let side = |sl: &samples::Slots| Side {
            slots: sl.latency.iter().map(|h| sparse(h, &values)).collect(),
            failed: sl.failed.clone(),
            width_s: sl.width_ms as f64 / 1000.0,
        };
        Some(Bootstrap {
            base: side(a),
            now: side(b),
            values,
            resamples,
            confidence,
        })
    }

    /// The central `confidence` interval of now − base over the resamples.
    fn interval(&self, stat: Stat) -> Option<(f64, f64)> {
        let mut rng = SplitMix(0x5eed_cafe_f00d_d00d);
        let mut acc = vec![0u64; self.values.len()];
        let mut diffs = Vec::with_capacity(self.resamples as usize);
        for _ in 0..self.resamples {
            let a = self.resample(&self.base, stat, &mut rng, &mut acc);
            let b = self.resample(&self.now, stat, &mut rng, &mut acc);
            if let (Some(a), Some(b)) = (a, b) {
                diffs.push(b - a);
            }
        }
        if diffs.len() < (self.resamples as usize).div_ceil(2) {
            return None;
        }
        diffs.sort_by(f64::total_cmp);
        let tail = (1.0 - self.confidence) / 2.0;
        let at = |q: f64| diffs[((diffs.len() - 1) as f64 * q).round() as usize];
        Some((at(tail), at(1.0 - tail)))
    }

    fn resample(
        &self,
        side: &Side,
        stat: Stat,
        rng: &mut SplitMix,
        acc: &mut [u64],
    ) -> Option<f64> {
        let t = side.slots.len();
        acc.fill(0);
        let (mut n, mut failed) = (0u64, 0u64);
        for _ in 0..t {
            let j = rng.below(t);
            for &(i, c) in &side.slots[j] {
                acc[i as usize] += c;
                n += c;
            }
            failed += side.failed[j];
        }
        match stat {
            Stat::P(q) => ranked(acc, &self.values, n, q).map(|us| us / 1000.0),
            Stat::FailedRate => (n > 0).then(|| failed as f64 / n as f64),
            Stat::Rps => Some(n as f64 / (t as f64 * side.width_s)),
        }
    }
}

fn sparse(h: &Histogram<u32>, values: &[u64]) -> Vec<(u32, u64)> {
    h.iter_recorded()
        .map(|v| {
            let value = h.median_equivalent(v.value_iterated_to());
            let i = values
                .binary_search(&value)
                .expect("every slot value is listed");
            (i as u32, v.count_at_value() as u64)
        })
        .collect()
}

/// k6's percentile (interpolated between ranks) over dense counts.
fn ranked(counts: &[u64], values: &[u64], n: u64, q: f64) -> Option<f64> {
    if n == 0 {
        return None;
    }
    let i = q * (n - 1) as f64;
    let (lo, hi) = (i.floor() as u64, i.ceil() as u64);
    let at = |r: u64| {
        let mut seen = 0;
        for (k, c) in counts.iter().enumerate() {
            seen += c;
            if seen > r {
                return values[k] as f64;
            }
        }
        *values.last().unwrap_or(&0) as f64
    };
    let a = at(lo);
    let b = if hi == lo { a } else { at(hi) };
    Some(a + (b - a) * (i - lo as f64))
}

/// A small, seeded generator (SplitMix64): reproducible verdicts without
/// a dependency.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64 * n as f64) as usize % n.max(1)
    }
}

fn signed(v: f64, unit: &str) -> String {
    let s = fmt_num(v);
    let s = if v > 0.0 { format!("+{s}") } else { s };
    if unit.is_empty() {
        s
    } else {
        format!("{s} {unit}")
    }
}

/// The comparison table and its verdict in the report: FAIL on a
/// regression.
pub fn add_to(ctx: &Ctx, report: &mut Report, base: &Baseline, rows: &[Row], confidence: f64) {
    report.param(
        "Compared with",
        format!(
            "{} {} ({}, {})",
            base.how,
            base.stamp,
            base.commit
                .as_deref()
                .map_or("unknown commit", |c| &c[..c.len().min(12)]),
            ctx.relative(&base.dir)
        ),
    );
    let round = |v: f64| (v * 10_000.0).round() / 10_000.0;
    let table = rows
        .iter()
        .map(|r| {
            let v = |x: Option<f64>| {
                x.map_or("N/A".into(), |x| {
                    crate::report::fmt_value(Some(round(x)), r.unit)
                })
            };
            let change = match (r.baseline, r.now) {
                (Some(b), Some(n)) if b != 0.0 => {
                    format!(
                        "{} ({:+.1}%)",
                        signed(round(n - b), r.unit),
                        (n - b) / b * 100.0
                    )
                }
                (Some(b), Some(n)) => signed(round(n - b), r.unit),
                _ => "N/A".into(),
            };
            let interval = r.interval.map_or("N/A".into(), |(lo, hi)| {
                format!("[{}, {}]", signed(round(lo), ""), signed(round(hi), r.unit))
            });
            vec![
                r.metric.to_string(),
                v(r.baseline),
                v(r.now),
                change,
                interval,
                match r.metric {
                    "http_reqs per second" => signed(-round(r.tolerance), r.unit),
                    _ => signed(round(r.tolerance), r.unit),
                },
                r.verdict.as_str().to_string(),
            ]
        })
        .collect();
    report.table(
        &format!(
            "Comparison with {} (interval: {:.0}% block bootstrap of the change)",
            base.stamp,
            confidence * 100.0
        ),
        &[
            "Metric",
            "Baseline",
            "Now",
            "Change",
            "Interval",
            "Tolerance",
            "Verdict",
        ],
        table,
    );
    for r in rows.iter().filter(|r| r.verdict == Verdict::Regression) {
        report.fail(format!(
            "regression against {} {}: {} {} → {} (beyond the tolerance, {}, and outside the noise)",
            base.how,
            base.stamp,
            r.metric,
            r.baseline
                .map_or("N/A".into(), |v| crate::report::fmt_value(
                    Some(round(v)),
                    r.unit
                )),
            r.now.map_or("N/A".into(), |v| crate::report::fmt_value(
                Some(round(v)),
                r.unit
            )),
            signed(round(r.tolerance), r.unit)
        ));
    }
    if rows.iter().all(|r| r.verdict == Verdict::Unknown) {
        report.note(format!(
            "no comparison with {}: a run needs at least {MIN_SLOTS} seconds of requests",
            base.stamp
        ));
    }
    for name in ["VUs", "k6 duration", "Script", "Sleep max (s)"] {
        let get =
            |ps: &[report::Param]| ps.iter().find(|p| p.name == name).map(|p| p.value.clone());
        let (was, is) = (get(&base.params), get(&report.parameters));
        if let (Some(was), Some(is)) = (&was, &is) {
            if was != is {
                report.note(format!(
                    "the baseline ran with {name} {was}, this run with {is}: the comparison may not mean much"
                ));
            }
        }
    }
}

/// The whole check for a finished run in `run_dir`.
pub fn check(
    ctx: &Ctx,
    report: &mut Report,
    base: &Baseline,
    run_dir: &Utf8Path,
) -> anyhow::Result<()> {
    let tol = &ctx.config.k6.regression;
    let now = samples::store::load(run_dir).context("no comparison: this run kept no samples")?;
    let was = samples::store::load(&base.dir)
        .with_context(|| format!("no comparison: cannot read the baseline {}", base.stamp))?;
    let rows = compare(&was, &now, tol);
    add_to(ctx, report, base, &rows, tol.confidence.get());
    Ok(())
}

#[cfg(test)]
mod tests;
