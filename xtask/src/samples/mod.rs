//! k6's raw samples (`--out json=<FIFO>`), parsed as they arrive into HDR
//! histograms: the numbers a k6 report shows come from here.
//!
//! - [`Samples`]: `http_req_duration` overall, per status class and per
//!   scenario (3 significant digits), one coarser histogram per time slot
//!   (1 s, doubled whenever the run outgrows [`MAX_SLOTS`], so memory stays
//!   bounded however long the run), and counts: requests, failures, checks,
//!   every counter and rate metric of the script.
//! - [`Samples::read_from`]: the streaming parser; one line at a time, never
//!   the whole stream in memory or on disk.
//! - [`quantile`]: k6's own definition of a percentile (linear interpolation
//!   between the two nearest ranks), over a histogram.
//! - `stream`: the FIFO k6 writes to; `store`: the histograms kept beside
//!   the report (HdrHistogram's interval log); `numbers`: what the report
//!   gets, cross-checked with k6's summary.

use std::{borrow::Cow, collections::BTreeMap, io::BufRead};

use hdrhistogram::{Counter, Histogram};
use serde::Deserialize;

pub mod merge;
pub mod numbers;
pub mod store;
pub mod stream;
pub mod thresholds;

/// Significant digits of the run's histograms: 0.1 % relative error.
pub const SIGFIG: u8 = 3;
/// The time slots' histograms are coarser (1 %): there are many of them.
pub const SLOT_SIGFIG: u8 = 2;
/// Longest duration a histogram holds (µs, an hour); longer values count
/// as an hour. Fixed bounds: a histogram's size never changes mid-run.
pub const MAX_US: u64 = 3_600_000_000;
/// At most this many time slots: a longer run doubles the slot width.
pub const MAX_SLOTS: usize = 600;
/// Longer lines are not k6's: skipped and counted, never buffered whole.
const MAX_LINE: u64 = 1 << 20;

/// Latency histograms record microseconds (k6 reports milliseconds with
/// nanosecond digits).
pub fn to_us(ms: f64) -> u64 {
    if ms.is_finite() && ms > 0.0 {
        (ms * 1000.0).round() as u64
    } else {
        0
    }
}

pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, SIGFIG).expect("valid bounds")
}

pub fn new_slot_histogram() -> Histogram<u32> {
    Histogram::new_with_bounds(1, MAX_US, SLOT_SIGFIG).expect("valid slot bounds")
}

/// Requests per time slot, for latency over time and the block bootstrap.
#[derive(Clone, Debug)]
pub struct Slots {
    /// Unix time of slot 0 (ns), the first request's second.
    pub start_ns: i64,
    pub width_ms: u64,
    pub latency: Vec<Histogram<u32>>,
    pub failed: Vec<u64>,
}

impl Slots {
    fn new(start_ns: i64) -> Slots {
        Slots {
            start_ns: start_ns - start_ns.rem_euclid(1_000_000_000),
            width_ms: 1000,
            latency: vec![],
            failed: vec![],
        }
    }

    /// The slot of time `t_ns` (growing or coarsening as needed). Samples a
    /// little older than the first one (k6 flushes VUs' buffers in any
    /// order) count in slot 0.
    fn index(&mut self, t_ns: i64) -> usize {
        let width = self.width_ms as i64 * 1_000_000;
        let mut i = ((t_ns - self.start_ns).max(0) / width) as usize;
        while i >= MAX_SLOTS {
            self.coarsen();
            i /= 2;
        }
        while self.latency.len() <= i {
            self.latency.push(new_slot_histogram());
            self.failed.push(0);
        }
        i
    }

    /// Pairs of slots merged into one: width doubled, count halved.
    fn coarsen(&mut self) {
        let latency = std::mem::take(&mut self.latency);
        let mut merged: Vec<Histogram<u32>> = Vec::with_capacity(latency.len() / 2 + 1);
        for (i, h) in latency.into_iter().enumerate() {
            if i % 2 == 0 {
                merged.push(h);
            } else {
                let last = merged.last_mut().expect("an even slot came first");
                // Same bounds: cannot fail; a saturated count stays saturated.
                let _ = last.add(&h);
            }
        }
        self.latency = merged;
        self.failed = self.failed.chunks(2).map(|c| c.iter().sum()).collect();
        self.width_ms *= 2;
    }
}

/// Everything the report needs from one k6 run's raw output.
#[derive(Clone, Debug)]
pub struct Samples {
    /// `http_req_duration` of every request, µs.
    pub duration: Histogram<u64>,
    /// By status class: `2xx`, `4xx`, `5xx`, ... and `no response` (status 0).
    pub by_status: BTreeMap<String, Histogram<u64>>,
    pub by_scenario: BTreeMap<String, Histogram<u64>>,
    pub slots: Option<Slots>,
    pub requests: u64,
    /// `http_req_failed` true.
    pub failed: u64,
    pub checks_passed: u64,
    pub checks_failed: u64,
    /// Every counter metric's total (the script's too).
    pub counters: BTreeMap<String, f64>,
    /// Every rate metric's (true, total).
    pub rates: BTreeMap<String, (u64, u64)>,
    /// The metric types k6 declared (`counter`, `rate`, `trend`, `gauge`).
    pub kinds: BTreeMap<String, String>,
    pub first_ns: Option<i64>,
    pub last_ns: Option<i64>,
    /// Lines read, lines that were not k6 samples, and whether the stream
    /// ended inside a line (k6 killed while writing).
    pub lines: u64,
    pub bad_lines: u64,
    pub truncated: bool,
}

impl Default for Samples {
    fn default() -> Self {
        Samples {
            duration: new_histogram(),
            by_status: BTreeMap::new(),
            by_scenario: BTreeMap::new(),
            slots: None,
            requests: 0,
            failed: 0,
            checks_passed: 0,
            checks_failed: 0,
            counters: BTreeMap::new(),
            rates: BTreeMap::new(),
            kinds: BTreeMap::new(),
            first_ns: None,
            last_ns: None,
            lines: 0,
            bad_lines: 0,
            truncated: false,
        }
    }
}

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    metric: Cow<'a, str>,
    #[serde(borrow)]
    data: Data<'a>,
}

/// A `Point`'s data, or a `Metric` declaration's (its `type`).
#[derive(Deserialize)]
struct Data<'a> {
    #[serde(borrow, default)]
    time: Option<Cow<'a, str>>,
    #[serde(default)]
    value: Option<f64>,
    #[serde(borrow, default)]
    tags: Option<Tags<'a>>,
    #[serde(rename = "type", borrow, default)]
    metric_type: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Tags<'a> {
    #[serde(borrow, default)]
    status: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    scenario: Option<Cow<'a, str>>,
}

impl Samples {
    /// Reads k6's JSON lines until EOF. Lines that are not k6 samples are
    /// counted, not fatal: the stream is k6's, and one odd line must not
    /// cost the whole run's numbers.
    pub fn read_from(mut input: impl BufRead) -> std::io::Result<Samples> {
        let mut s = Samples::default();
        let mut buf = Vec::with_capacity(1024);
        loop {
            buf.clear();
            let n = std::io::Read::take(&mut input, MAX_LINE).read_until(b'\n', &mut buf)?;
            if n == 0 {
                break;
            }
            let complete = buf.last() == Some(&b'\n');
            if !complete && n as u64 == MAX_LINE {
                // Overlong: drop it through its end.
                s.lines += 1;
                s.bad_lines += 1;
                skip_line(&mut input)?;
                continue;
            }
            s.feed(&buf, complete);
        }
        Ok(s)
    }

    /// One line of k6's JSON output; `complete` is false for a last line
    /// without its newline.
    pub fn feed(&mut self, line: &[u8], complete: bool) {
        let text = trim_ascii(line);
        if text.is_empty() {
            return;
        }
        self.lines += 1;
        if self.unused(text) {
            return;
        }
        let Ok(line) = serde_json::from_slice::<Line>(text) else {
            if complete {
                self.bad_lines += 1;
            } else {
                self.truncated = true;
            }
            return;
        };
        match line.kind.as_ref() {
            "Metric" => {
                if let Some(t) = line.data.metric_type {
                    self.kinds.insert(line.metric.into_owned(), t.into_owned());
                }
            }
            "Point" => self.point(&line.metric, line.data),
            _ => self.bad_lines += 1,
        }
    }

    /// A point of a trend or gauge we do not keep (`http_req_waiting`,
    /// `vus`, ...: a third of k6's lines), told from k6's own layout
    /// `{"metric":"NAME",...` without parsing the line. Anything else is
    /// parsed.
    fn unused(&self, line: &[u8]) -> bool {
        let Some(rest) = line.strip_prefix(br#"{"metric":""#) else {
            return false;
        };
        let Some(end) = rest.iter().position(|b| *b == b'"') else {
            return false;
        };
        let name = &rest[..end];
        name != b"http_req_duration"
            && std::str::from_utf8(name)
                .ok()
                .and_then(|n| self.kinds.get(n))
                .is_some_and(|k| k == "trend" || k == "gauge")
    }

    fn point(&mut self, metric: &str, d: Data) {
        let Some(value) = d.value else {
            self.bad_lines += 1;
            return;
        };
        let time = d.time.as_deref().and_then(parse_time_ns);
        match metric {
            "http_req_duration" => {
                let us = to_us(value);
                self.duration.saturating_record(us);
                let tags = d.tags.as_ref();
                let class = status_class(tags.and_then(|t| t.status.as_deref()).unwrap_or(""));
                record(
                    self.by_status.entry(class).or_insert_with(new_histogram),
                    us,
                );
                let scenario = tags
                    .and_then(|t| t.scenario.as_deref())
                    .unwrap_or("default");
                if !self.by_scenario.contains_key(scenario) {
                    self.by_scenario
                        .insert(scenario.to_string(), new_histogram());
                }
                record(self.by_scenario.get_mut(scenario).expect("inserted"), us);
                if let Some(t) = time {
                    let slots = self.slots.get_or_insert_with(|| Slots::new(t));
                    let i = slots.index(t);
                    slots.latency[i].saturating_record(us.min(MAX_US));
                }
            }
            "http_req_failed" if value != 0.0 => {
                self.failed += 1;
                if let Some(t) = time {
                    let slots = self.slots.get_or_insert_with(|| Slots::new(t));
                    let i = slots.index(t);
                    slots.failed[i] += 1;
                }
            }
            "http_reqs" => self.requests += value.max(0.0) as u64,
            "checks" if value != 0.0 => self.checks_passed += 1,
            "checks" => self.checks_failed += 1,
            _ => {}
        }
        if let Some(t) = time {
            self.first_ns = Some(self.first_ns.map_or(t, |f| f.min(t)));
            self.last_ns = Some(self.last_ns.map_or(t, |l| l.max(t)));
        }
        match self.kinds.get(metric).map(String::as_str) {
            Some("counter") => *self.counters.entry(metric.to_string()).or_default() += value,
            Some("rate") => {
                let e = self.rates.entry(metric.to_string()).or_default();
                e.0 += u64::from(value != 0.0);
                e.1 += 1;
            }
            _ => {}
        }
    }

    /// A rate metric's share of true samples.
    pub fn fraction(&self, metric: &str) -> Option<f64> {
        let (yes, all) = *self.rates.get(metric)?;
        (all > 0).then(|| yes as f64 / all as f64)
    }

    /// Failed requests over all requests (k6's `http_req_failed` rate).
    pub fn failed_rate(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.failed as f64 / self.requests as f64)
    }

    pub fn checks_rate(&self) -> Option<f64> {
        let all = self.checks_passed + self.checks_failed;
        (all > 0).then(|| self.checks_passed as f64 / all as f64)
    }

    /// From the first sample to the last, in seconds (at least one slot).
    pub fn active_secs(&self) -> Option<f64> {
        let (f, l) = (self.first_ns?, self.last_ns?);
        let width = self.slots.as_ref().map_or(1000, |s| s.width_ms) as f64 / 1000.0;
        Some(((l - f) as f64 / 1e9).max(width.min(1.0)))
    }

    /// Requests per second over the active part of the run.
    pub fn rps(&self) -> Option<f64> {
        Some(self.requests as f64 / self.active_secs()?)
    }

    /// `http_req_duration` percentile in ms, k6's definition.
    pub fn p(&self, q: f64) -> Option<f64> {
        quantile(&self.duration, q).map(|us| us / 1000.0)
    }
}

fn record(h: &mut Histogram<u64>, us: u64) {
    h.saturating_record(us);
}

fn skip_line(input: &mut impl BufRead) -> std::io::Result<()> {
    loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            return Ok(());
        }
        match buf.iter().position(|b| *b == b'\n') {
            Some(i) => {
                input.consume(i + 1);
                return Ok(());
            }
            None => {
                let n = buf.len();
                input.consume(n);
            }
        }
    }
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

/// `200` → `2xx`; status 0 is a request that got no response.
pub fn status_class(status: &str) -> String {
    match status.as_bytes() {
        [] | [b'0'] => "no response".into(),
        [d @ b'1'..=b'5', _, _] => format!("{}xx", *d as char),
        _ => format!("status {status}"),
    }
}

/// RFC 3339 with nanoseconds, as Go writes it (`2026-12-01T09:14:22.644Z`,
/// or with an offset `+02:00`), to Unix nanoseconds.
pub fn parse_time_ns(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let mut n = 0i64;
        for &c in b.get(r)? {
            if !c.is_ascii_digit() {
                return None;
            }
            n = n * 10 + i64::from(c - b'0');
        }
        Some(n)
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut i = 19;
    let mut nanos = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let mut digits = 0;
        while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            if digits < 9 {
                nanos = nanos * 10 + i64::from(c - b'0');
                digits += 1;
            }
            i += 1;
        }
        nanos *= 10i64.pow(9 - digits);
    }
    let offset = match b.get(i)? {
        b'Z' | b'z' => 0,
        sign @ (b'+' | b'-') => {
            let o = num(i + 1..i + 3)? * 3600 + num(i + 4..i + 6)? * 60;
            if *sign == b'+' {
                o
            } else {
                -o
            }
        }
        _ => return None,
    };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    Some((days * 86_400 + h * 3600 + mi * 60 + sec - offset) * 1_000_000_000 + nanos)
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The value at 0-based rank `r` (the bucket's middle: half a bucket from
/// any value recorded in it).
fn value_at_rank<T: Counter>(h: &Histogram<T>, r: u64) -> u64 {
    let mut seen = 0u64;
    for v in h.iter_recorded() {
        seen += v.count_at_value().as_u64();
        if seen > r {
            return h.median_equivalent(v.value_iterated_to());
        }
    }
    h.median_equivalent(h.max())
}

/// k6's percentile over a histogram: the rank `q × (n − 1)`, interpolated
/// linearly between its neighbours (k6's `TrendSink.P`). In the
/// histogram's unit; None when empty.
pub fn quantile<T: Counter>(h: &Histogram<T>, q: f64) -> Option<f64> {
    let n = h.len();
    if n == 0 {
        return None;
    }
    let i = q.clamp(0.0, 1.0) * (n - 1) as f64;
    let (lo, hi) = (i.floor() as u64, i.ceil() as u64);
    let a = value_at_rank(h, lo) as f64;
    let b = if hi == lo {
        a
    } else {
        value_at_rank(h, hi) as f64
    };
    Some(a + (b - a) * (i - lo as f64))
}

/// How far a value read from `h` may be from the exact one (µs): a whole
/// bucket around `value`, plus the rounding to whole microseconds.
pub fn precision_us<T: Counter>(h: &Histogram<T>, value_us: f64) -> f64 {
    h.equivalent_range(value_us.max(0.0) as u64) as f64 + 1.0
}

#[cfg(test)]
mod tests;
