//! Several k6 processes' samples as one run's: the exact merge.
//!
//! Each generator (a k6 process on its own execution segment, a k6-operator
//! runner) streams its own raw samples into its own [`Samples`]. Their union
//! is what one k6 making all the load would have recorded: histograms are
//! added bucket by bucket (same bounds and precision everywhere, so the
//! merged percentiles are the percentiles of every sample together, never a
//! mean or max of per-generator percentiles), counts and counters summed,
//! rates kept as their parts (true, total) so the merged rate is
//! sum(true) / sum(total), time slots aligned on the earliest start.

use hdrhistogram::Histogram;

use super::{Samples, Slots, MAX_SLOTS};

/// The union of `parts`, as if one k6 had made all their requests.
pub fn merge(parts: &[Samples]) -> Samples {
    let mut m = Samples::default();
    for p in parts {
        add(&mut m.duration, &p.duration);
        for (k, h) in &p.by_status {
            add(
                m.by_status
                    .entry(k.clone())
                    .or_insert_with(super::new_histogram),
                h,
            );
        }
        for (k, h) in &p.by_scenario {
            add(
                m.by_scenario
                    .entry(k.clone())
                    .or_insert_with(super::new_histogram),
                h,
            );
        }
        m.requests += p.requests;
        m.failed += p.failed;
        m.checks_passed += p.checks_passed;
        m.checks_failed += p.checks_failed;
        for (k, v) in &p.counters {
            *m.counters.entry(k.clone()).or_default() += v;
        }
        for (k, (yes, all)) in &p.rates {
            let e = m.rates.entry(k.clone()).or_default();
            e.0 += yes;
            e.1 += all;
        }
        for (k, v) in &p.kinds {
            m.kinds.entry(k.clone()).or_insert_with(|| v.clone());
        }
        m.first_ns = min_some(m.first_ns, p.first_ns);
        m.last_ns = max_some(m.last_ns, p.last_ns);
        m.lines += p.lines;
        m.bad_lines += p.bad_lines;
        m.truncated |= p.truncated;
    }
    m.slots = merge_slots(parts.iter().filter_map(|p| p.slots.as_ref()));
    m
}

/// Same bounds and precision (`new_histogram`): adding cannot fail; a
/// saturated count stays saturated.
fn add<T: hdrhistogram::Counter>(into: &mut Histogram<T>, h: &Histogram<T>) {
    let _ = into.add(h);
}

fn min_some(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn max_some(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// Slots of every part on one time line: the widest slot width of the
/// parts (a part coarsened to match), from the earliest start; each part's
/// slot lands in the merged slot holding its start time.
fn merge_slots<'a>(parts: impl Iterator<Item = &'a Slots>) -> Option<Slots> {
    let parts: Vec<Slots> = parts.cloned().collect();
    let start = parts.iter().map(|s| s.start_ns).min()?;
    let width = parts.iter().map(|s| s.width_ms).max()?;
    let mut merged = Slots {
        start_ns: start,
        width_ms: width,
        latency: vec![],
        failed: vec![],
    };
    for mut p in parts {
        while p.width_ms < width {
            p.coarsen();
        }
        let w = p.width_ms as i64 * 1_000_000;
        for (i, (h, failed)) in p.latency.iter().zip(&p.failed).enumerate() {
            let t = p.start_ns + i as i64 * w;
            let j = merged.index(t);
            let _ = merged.latency[j].add(h);
            merged.failed[j] += failed;
        }
    }
    debug_assert!(merged.latency.len() <= MAX_SLOTS);
    Some(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// k6's JSON lines for `n` requests of `ms` each, from second `t0`.
    fn run(t0: u32, lat: &[(u32, f64)], failed_every: u32) -> Samples {
        let mut text = String::from(
            r#"{"type":"Metric","data":{"type":"rate"},"metric":"http_req_failed"}
{"type":"Metric","data":{"type":"counter"},"metric":"http_reqs"}
{"type":"Metric","data":{"type":"rate"},"metric":"checks"}
"#,
        );
        let mut k = 0;
        for (n, ms) in lat {
            for _ in 0..*n {
                k += 1;
                let t = format!("2026-12-01T12:00:{:02}.{:06}Z", t0 + k / 100, k % 100);
                let fail = u32::from(failed_every > 0 && k % failed_every == 0);
                text.push_str(&format!(
                    r#"{{"metric":"http_req_duration","type":"Point","data":{{"time":"{t}","value":{ms},"tags":{{"status":"200"}}}}}}
{{"metric":"http_reqs","type":"Point","data":{{"time":"{t}","value":1,"tags":{{}}}}}}
{{"metric":"http_req_failed","type":"Point","data":{{"time":"{t}","value":{fail},"tags":{{}}}}}}
{{"metric":"checks","type":"Point","data":{{"time":"{t}","value":{},"tags":{{}}}}}}
"#,
                    1 - fail
                ));
            }
        }
        Samples::read_from(text.as_bytes()).unwrap()
    }

    #[test]
    fn the_merge_is_the_union_not_a_mean_of_percentiles() {
        // Two fast generators and one with a slow tail (10 % of its samples, 3 % of all).
        let a = run(0, &[(500, 2.0)], 0);
        let b = run(1, &[(500, 2.0)], 50);
        let c = run(2, &[(450, 2.0), (50, 80.0)], 0);
        let all = run(0, &[(1450, 2.0), (50, 80.0)], 0);
        let m = merge(&[a.clone(), b.clone(), c.clone()]);
        assert_eq!(m.requests, 1500);
        assert_eq!(m.requests, a.requests + b.requests + c.requests);
        assert_eq!(m.duration.len(), all.duration.len());
        // The same histogram as all the samples recorded together.
        for q in [0.5, 0.9, 0.95, 0.99, 1.0] {
            assert_eq!(m.p(q), all.p(q), "p{q}");
        }
        let (pa, pb, pc) = (a.p(0.95).unwrap(), b.p(0.95).unwrap(), c.p(0.95).unwrap());
        let mean = (pa + pb + pc) / 3.0;
        let merged = m.p(0.95).unwrap();
        assert!((merged - 2.0).abs() < 0.01, "{merged}");
        assert!(mean > 20.0 && pc > 70.0, "mean {mean}, max {pc}");
        // Rates from their parts: 10 failures of 1500.
        assert_eq!(m.failed, 10);
        assert_eq!(m.rates["http_req_failed"], (10, 1500));
        assert_eq!(m.counters["http_reqs"], 1500.0);
        assert_eq!(m.checks_rate(), Some(1490.0 / 1500.0));
        assert_eq!(m.by_status["2xx"].len(), 1500);
        let slots = m.slots.unwrap();
        let per_slot: u64 = slots.latency.iter().map(|h| h.len()).sum();
        assert_eq!(per_slot, 1500);
        assert_eq!(slots.failed.iter().sum::<u64>(), 10);
        assert_eq!(m.first_ns, a.first_ns);
        assert_eq!(m.last_ns, c.last_ns);
    }

    #[test]
    fn nothing_merged_is_empty_and_one_part_is_itself() {
        let m = merge(&[]);
        assert_eq!(m.requests, 0);
        assert!(m.slots.is_none());
        let a = run(0, &[(10, 3.0)], 0);
        let m = merge(std::slice::from_ref(&a));
        assert_eq!(m.p(0.95), a.p(0.95));
        assert_eq!(m.requests, a.requests);
    }
}
