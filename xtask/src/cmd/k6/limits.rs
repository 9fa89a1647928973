//! `k6 baseline`'s limits (legacy K6_BASELINE_*: p95, failed rate, checks
//! rate), resolved once and judged on the numbers the report shows, and the
//! copies of k6's summary a baseline leaves where the legacy run left them.

use anyhow::{bail, Context};
use camino::Utf8Path;

use super::settings::num;
use crate::{
    context::Ctx,
    flags,
    report::{Report, Run, Threshold},
};

/// The baseline's limits (legacy K6_BASELINE_*), judged in Rust.
pub(super) struct Limits {
    max_p95_ms: f64,
    max_fail_rate: f64,
    min_checks_rate: f64,
}

impl Limits {
    /// Flag > legacy variable > `[k6.baseline]`.
    pub(super) fn resolve(ctx: &Ctx, f: &flags::K6Baseline) -> anyhow::Result<Limits> {
        let c = &ctx.config.k6.baseline;
        Ok(Limits {
            max_p95_ms: positive_ms(f.max_p95_ms.unwrap_or(c.max_p95_ms))?,
            max_fail_rate: f.max_fail_rate.unwrap_or(c.max_fail_rate).get(),
            min_checks_rate: f.min_checks_rate.unwrap_or(c.min_checks_rate).get(),
        })
    }

    pub(super) fn params(&self, report: &mut Report) {
        report.param("Max p95 (ms)", num(self.max_p95_ms));
        report.param("Max failed rate", num(self.max_fail_rate));
        report.param("Min checks rate", num(self.min_checks_rate));
    }

    /// One threshold per limit; one note per broken or unmeasurable one.
    /// Judges the numbers the report shows (the samples'): one truth.
    pub(super) fn judge(&self, report: &mut Report) {
        let metric = |name: &str| {
            report
                .metrics
                .iter()
                .find(|m| m.name == name)
                .and_then(|m| m.value)
        };
        let p95 = metric("http_req_duration p(95)");
        let failed = metric("http_req_failed rate");
        let checks = metric("checks rate");
        let checks_list = [
            (
                Threshold::check(
                    "p95 latency (ms)",
                    p95,
                    crate::report::Cmp::AtMost,
                    self.max_p95_ms,
                ),
                "p95 (http_req_duration p(95))",
                p95.map(|v| {
                    format!(
                        "p95 {} ms is above the limit {} ms",
                        num(v),
                        num(self.max_p95_ms)
                    )
                }),
            ),
            (
                Threshold::check(
                    "failed request rate",
                    failed,
                    crate::report::Cmp::AtMost,
                    self.max_fail_rate,
                ),
                "the failed request rate (http_req_failed)",
                failed.map(|v| {
                    format!(
                        "failed request rate {} is above the limit {}",
                        num(v),
                        num(self.max_fail_rate)
                    )
                }),
            ),
            (
                Threshold::check(
                    "checks rate",
                    checks,
                    crate::report::Cmp::AtLeast,
                    self.min_checks_rate,
                ),
                "the checks rate (checks)",
                checks.map(|v| {
                    format!(
                        "checks rate {} is below the minimum {}",
                        num(v),
                        num(self.min_checks_rate)
                    )
                }),
            ),
        ];
        for (t, what, broken) in checks_list {
            if !t.ok {
                report.note(
                    broken.unwrap_or_else(|| format!("{what} is missing from the k6 summary")),
                );
            }
            report.threshold(t);
        }
    }
}

fn positive_ms(v: f64) -> anyhow::Result<f64> {
    if !(v.is_finite() && v > 0.0) {
        bail!("bad p95 limit {v}: give a positive number of milliseconds (--max-p95-ms, K6_BASELINE_MAX_P95_MS or [k6.baseline] max_p95_ms)");
    }
    Ok(v)
}

/// k6's summary, copied as run-k6-baseline.sh did: one copy in the run's
/// folder, stable ones in latest/ (the baseline's at `copy`, and the k6
/// run's). Never through a link: only the file k6 wrote is copied.
pub(super) fn copy_summary(
    ctx: &Ctx,
    report: &mut Report,
    run: &Run,
    summary: &Utf8Path,
    copy: &Utf8Path,
) -> anyhow::Result<()> {
    if !crate::files::is_plain_file(summary) {
        return Ok(());
    }
    let bytes = crate::files::read_no_link(summary, crate::files::LARGE)
        .with_context(|| format!("cannot read the k6 summary {summary}"))?;
    let in_run = run.dir.join("k6-baseline-summary.json");
    crate::report::write_atomic(&in_run, &bytes)?;
    crate::report::write_atomic(copy, &bytes)?;
    report.artifact("baseline summary JSON", ctx.relative(copy));
    let k6_copy = ctx.layout.latest_dir("k6").join("k6-summary.json");
    if k6_copy != summary {
        crate::report::write_atomic(&k6_copy, &bytes)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k6::{self, Summary};

    fn baseline_report(summary: Option<&Summary>, limits: Limits) -> Report {
        let mut r = Report::new("k6-baseline", super::super::BASELINE_TITLE);
        for (name, value, unit) in k6::metrics_table(summary) {
            r.metric(name, value, unit);
        }
        limits.judge(&mut r);
        r
    }

    fn legacy_limits() -> Limits {
        Limits {
            max_p95_ms: 1200.0,
            max_fail_rate: 0.02,
            min_checks_rate: 0.98,
        }
    }

    #[test]
    fn baseline_passes_a_good_run() {
        let s = Summary::parse(include_str!(
            "../../../tests/fixtures/k6/summary-export-pass.json"
        ))
        .unwrap();
        let r = baseline_report(Some(&s), legacy_limits());
        assert!(r.passed(), "{:?}", r.notes);
        assert_eq!(r.thresholds.len(), 3);
    }

    #[test]
    fn baseline_writes_one_note_per_broken_limit() {
        let s = Summary::parse(include_str!(
            "../../../tests/fixtures/k6/summary-export-crossed.json"
        ))
        .unwrap();
        let r = baseline_report(
            Some(&s),
            Limits {
                max_p95_ms: 0.001,
                ..legacy_limits()
            },
        );
        assert!(!r.passed());
        assert_eq!(
            r.notes,
            [
                "p95 3.7314 ms is above the limit 0.001 ms",
                "failed request rate 0.5723 is above the limit 0.02",
                "checks rate 0.4277 is below the minimum 0.98",
            ]
        );
    }

    #[test]
    fn baseline_fails_when_a_metric_is_missing() {
        let s = Summary::parse(r#"{"metrics":{"http_reqs":{"count":1,"rate":1}}}"#).unwrap();
        let r = baseline_report(Some(&s), legacy_limits());
        assert!(!r.passed());
        assert_eq!(
            r.notes,
            [
                "p95 (http_req_duration p(95)) is missing from the k6 summary",
                "the failed request rate (http_req_failed) is missing from the k6 summary",
                "the checks rate (checks) is missing from the k6 summary",
            ]
        );
        let r = baseline_report(None, legacy_limits());
        assert_eq!(r.notes.len(), 3);
        assert!(!r.passed());
    }
}
