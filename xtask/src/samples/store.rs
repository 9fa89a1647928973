//! A run's samples kept beside its report, in its run folder (so they are
//! pruned with it, `[reports] keep_runs`):
//!
//! - `k6-samples.hlog`: HdrHistogram's own interval log (V2, deflate,
//!   base64; readable by HdrHistogram's `HistogramLogProcessor` and
//!   plotters): one untagged interval per time slot, in µs, and the
//!   whole-run histograms tagged `all`, `status.N`, `scenario.N`.
//! - `k6-samples.json`: the counts, the failures per slot and the names
//!   behind the `N` of the tags.
//!
//! A few kB per minute of load, against megabytes of raw k6 output.

use std::{collections::BTreeMap, time::Duration as StdDuration};

use anyhow::{bail, Context};
use base64::Engine as _;
use camino::{Utf8Path, Utf8PathBuf};
use hdrhistogram::{
    serialization::{
        interval_log::{IntervalLogIterator, IntervalLogWriterBuilder, LogEntry, Tag},
        Deserializer, V2DeflateSerializer,
    },
    Counter, Histogram,
};
use serde::{Deserialize, Serialize};

use super::{Samples, Slots};

pub const HLOG: &str = "k6-samples.hlog";
pub const META: &str = "k6-samples.json";
const FORMAT: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Meta {
    format: u32,
    /// The histograms' unit.
    unit: String,
    histograms: String,
    requests: u64,
    failed: u64,
    checks_passed: u64,
    checks_failed: u64,
    first_ns: Option<i64>,
    last_ns: Option<i64>,
    slot_start_ns: Option<i64>,
    slot_width_ms: u64,
    /// Failed requests per slot (the slot histograms hold the requests).
    slot_failed: Vec<u64>,
    /// Names of `status.N` and `scenario.N`.
    status: Vec<String>,
    scenarios: Vec<String>,
    counters: BTreeMap<String, f64>,
    rates: BTreeMap<String, (u64, u64)>,
}

/// Writes both files into `dir`; returns their paths.
pub fn save(dir: &Utf8Path, s: &Samples) -> anyhow::Result<[Utf8PathBuf; 2]> {
    let mut log = Vec::new();
    let mut ser = V2DeflateSerializer::new();
    {
        let mut b = IntervalLogWriterBuilder::new();
        b.add_comment("k6 http_req_duration in microseconds, written by cargo xtask (untagged: one interval per time slot; tagged: the whole run)");
        if let Some(sl) = &s.slots {
            b.with_base_time(
                std::time::UNIX_EPOCH + StdDuration::from_nanos(sl.start_ns.max(0) as u64),
            );
        }
        let mut w = b
            .begin_log_with(&mut log, &mut ser)
            .context("cannot start the histogram log")?;
        let whole = StdDuration::from_millis(
            s.slots
                .as_ref()
                .map_or(0, |sl| sl.width_ms * sl.latency.len() as u64),
        );
        if let Some(sl) = &s.slots {
            for (i, h) in sl.latency.iter().enumerate() {
                let start = StdDuration::from_millis(sl.width_ms * i as u64);
                write(
                    &mut w,
                    h,
                    start,
                    StdDuration::from_millis(sl.width_ms),
                    None,
                )?;
            }
        }
        write(&mut w, &s.duration, StdDuration::ZERO, whole, Some("all"))?;
        for (i, h) in s.by_status.values().enumerate() {
            write(
                &mut w,
                h,
                StdDuration::ZERO,
                whole,
                Some(&format!("status.{i}")),
            )?;
        }
        for (i, h) in s.by_scenario.values().enumerate() {
            write(
                &mut w,
                h,
                StdDuration::ZERO,
                whole,
                Some(&format!("scenario.{i}")),
            )?;
        }
    }
    let meta = Meta {
        format: FORMAT,
        unit: "us".into(),
        histograms: HLOG.into(),
        requests: s.requests,
        failed: s.failed,
        checks_passed: s.checks_passed,
        checks_failed: s.checks_failed,
        first_ns: s.first_ns,
        last_ns: s.last_ns,
        slot_start_ns: s.slots.as_ref().map(|sl| sl.start_ns),
        slot_width_ms: s.slots.as_ref().map_or(1000, |sl| sl.width_ms),
        slot_failed: s.slots.as_ref().map_or(vec![], |sl| sl.failed.clone()),
        status: s.by_status.keys().cloned().collect(),
        scenarios: s.by_scenario.keys().cloned().collect(),
        counters: s.counters.clone(),
        rates: s.rates.clone(),
    };
    let hlog = dir.join(HLOG);
    let json = dir.join(META);
    crate::report::write_atomic(&hlog, &log)?;
    let text = serde_json::to_string_pretty(&meta).expect("the meta always serialises") + "\n";
    crate::report::write_atomic(&json, text.as_bytes())?;
    Ok([hlog, json])
}

fn write<W: std::io::Write, T: Counter>(
    w: &mut hdrhistogram::serialization::interval_log::IntervalLogWriter<W, V2DeflateSerializer>,
    h: &Histogram<T>,
    start: StdDuration,
    len: StdDuration,
    tag: Option<&str>,
) -> anyhow::Result<()> {
    let tag = tag.map(|t| Tag::new(t).expect("our tags have no comma or space"));
    w.write_histogram(h, start, len, tag)
        .map_err(|e| anyhow::anyhow!("cannot serialise a histogram: {e}"))
}

/// Reads back what [`save`] wrote in `dir`.
pub fn load(dir: &Utf8Path) -> anyhow::Result<Samples> {
    let json = dir.join(META);
    let text = std::fs::read_to_string(&json)
        .with_context(|| format!("no stored samples in {dir} ({META} missing: a run before samples were kept, or k6 produced none)"))?;
    let meta: Meta = serde_json::from_str(&text)
        .with_context(|| format!("{json} is not a samples file of this xtask"))?;
    if meta.format != FORMAT || meta.unit != "us" {
        bail!(
            "{json} has format {} unit {}, this xtask reads format {FORMAT} in us",
            meta.format,
            meta.unit
        );
    }
    let hlog = dir.join(&meta.histograms);
    let bytes = std::fs::read(&hlog).with_context(|| format!("cannot read {hlog}"))?;
    let mut de = Deserializer::new();
    let mut s = Samples {
        requests: meta.requests,
        failed: meta.failed,
        checks_passed: meta.checks_passed,
        checks_failed: meta.checks_failed,
        first_ns: meta.first_ns,
        last_ns: meta.last_ns,
        counters: meta.counters,
        rates: meta.rates,
        ..Samples::default()
    };
    let mut slots = vec![];
    for entry in IntervalLogIterator::new(&bytes) {
        let entry =
            entry.map_err(|e| anyhow::anyhow!("{hlog} is not a valid interval log: {e:?}"))?;
        let LogEntry::Interval(ilh) = entry else {
            continue;
        };
        let raw = base64::engine::general_purpose::STANDARD
            .decode(ilh.encoded_histogram())
            .with_context(|| format!("{hlog}: a histogram is not base64"))?;
        let bad = |e| anyhow::anyhow!("{hlog}: a histogram cannot be read: {e:?}");
        match ilh.tag().map(|t| t.as_str()) {
            None => slots.push(de.deserialize::<u32, _>(&mut raw.as_slice()).map_err(bad)?),
            Some(tag) => {
                let h: Histogram<u64> = de.deserialize(&mut raw.as_slice()).map_err(bad)?;
                let name = |list: &[String], i: &str| -> anyhow::Result<String> {
                    i.parse::<usize>()
                        .ok()
                        .and_then(|i| list.get(i).cloned())
                        .with_context(|| format!("{hlog}: tag {tag} names nothing in {json}"))
                };
                if tag == "all" {
                    s.duration = h;
                } else if let Some(i) = tag.strip_prefix("status.") {
                    s.by_status.insert(name(&meta.status, i)?, h);
                } else if let Some(i) = tag.strip_prefix("scenario.") {
                    s.by_scenario.insert(name(&meta.scenarios, i)?, h);
                }
            }
        }
    }
    if let Some(start_ns) = meta.slot_start_ns {
        if slots.len() != meta.slot_failed.len() {
            bail!(
                "{hlog} has {} time slots, {json} counts failures for {}: the two files are not of the same run",
                slots.len(),
                meta.slot_failed.len()
            );
        }
        s.slots = Some(Slots {
            start_ns,
            width_ms: meta.slot_width_ms,
            latency: slots,
            failed: meta.slot_failed,
        });
    }
    Ok(s)
}
