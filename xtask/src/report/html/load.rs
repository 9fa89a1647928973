//! A k6 run's figures on the page, from the histograms kept in its run folder: latency
//! percentiles and requests per second over time, and the latency histogram.

use crate::report::svg::{self, Series};
use crate::samples::{quantile, Samples};

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

pub(super) fn load_charts(l: &Load) -> String {
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
