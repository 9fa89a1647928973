//! Inline SVG charts for the HTML report: no script, no network, no library.
//!
//! Every chart has a `<title>`, axis labels with units, a legend when it has
//! more than one series, and `data-*` attributes carrying its numbers, so a
//! browser test can read back what was drawn. Colours are the Okabe-Ito
//! palette (distinguishable with the common colour-vision deficiencies), and
//! series also differ by dash pattern, never by colour alone.

use std::fmt::Write as _;

use super::html::esc;

/// Okabe-Ito: blue, vermillion, bluish green, orange, reddish purple, sky blue.
pub const PALETTE: [&str; 6] = [
    "#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9",
];
const DASHES: [&str; 6] = ["", "6 3", "2 2", "8 3 2 3", "1 3", "4 4"];

const W: f64 = 640.0;
const H: f64 = 260.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 46.0;

/// One line of a line chart.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// Round tick steps (1, 2, 5 × 10^k) covering `0..=max` in about `n` steps.
pub fn ticks(max: f64, n: usize) -> Vec<f64> {
    ticks_between(0.0, max, n)
}

/// Round ticks covering `min..=max`, starting at a multiple of the step.
pub fn ticks_between(min: f64, max: f64, n: usize) -> Vec<f64> {
    let min = if min.is_finite() { min } else { 0.0 };
    let max = if max.is_finite() && max > min {
        max
    } else {
        min + 1.0
    };
    let raw = (max - min) / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw * 0.999)
        .unwrap_or(10.0 * mag);
    let first = (min / step).floor() * step;
    let count = ((max - first) / step - 1e-9).ceil().max(1.0) as usize;
    (0..=count).map(|i| first + i as f64 * step).collect()
}

/// A tick label: no trailing zeros, at most 3 decimals.
pub fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn open(out: &mut String, kind: &str, title: &str, extra: &str) {
    let _ = write!(
        out,
        "<figure class=\"chart\" data-chart=\"{kind}\"{extra}><svg viewBox=\"0 0 {W} {H}\" \
         role=\"img\" aria-label=\"{t}\" xmlns=\"http://www.w3.org/2000/svg\"><title>{t}</title>\
         <text class=\"ct\" x=\"{LEFT}\" y=\"18\">{t}</text>",
        t = esc(title)
    );
}

/// Axes, grid lines and their labels; returns the plot's scale functions' inputs.
fn axes(
    out: &mut String,
    (x_min, x_max): (f64, f64),
    y_max: f64,
    x_label: &str,
    y_label: &str,
) -> ((f64, f64), f64) {
    let xt = ticks_between(x_min, x_max, 6);
    let yt = ticks(y_max, 4);
    let (x0, xm, ym) = (xt[0], *xt.last().unwrap(), *yt.last().unwrap());
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    y_grid(out, &yt);
    for x in &xt {
        let px = LEFT + (x - x0) / (xm - x0) * pw;
        let _ = write!(
            out,
            "<line class=\"axis\" x1=\"{px:.1}\" x2=\"{px:.1}\" y1=\"{:.1}\" y2=\"{:.1}\"/>\
             <text class=\"tick\" x=\"{px:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            TOP + ph,
            TOP + ph + 4.0,
            TOP + ph + 17.0,
            num(*x)
        );
    }
    axis_labels(out, x_label, y_label);
    ((x0, xm), ym)
}

/// Horizontal grid lines with their value labels, for ticks from 0 up.
fn y_grid(out: &mut String, yt: &[f64]) {
    let ym = *yt.last().unwrap();
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    for y in yt {
        let py = TOP + ph - y / ym * ph;
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{py:.1}\" y2=\"{py:.1}\"/>\
             <text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            LEFT + pw,
            LEFT - 6.0,
            py + 4.0,
            num(*y)
        );
    }
}

/// The x axis line and both axis titles (with their units).
fn axis_labels(out: &mut String, x_label: &str, y_label: &str) {
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let _ = write!(
        out,
        "<line class=\"axis\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\"/>\
         <text class=\"label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\
         <text class=\"label\" transform=\"translate(14 {:.1}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
        LEFT + pw,
        TOP + ph,
        TOP + ph,
        LEFT + pw / 2.0,
        H - 6.0,
        esc(x_label),
        TOP + ph / 2.0,
        esc(y_label)
    );
}

fn legend(out: &mut String, names: &[&str]) {
    if names.len() < 2 {
        return;
    }
    let mut x = W - RIGHT;
    // Right-aligned, last first, so long names never run off the edge.
    for (i, name) in names.iter().enumerate().rev() {
        let w = 28.0 + 7.0 * name.chars().count() as f64;
        x -= w;
        let _ = write!(
            out,
            "<line x1=\"{x:.1}\" x2=\"{:.1}\" y1=\"30\" y2=\"30\" stroke=\"{}\" stroke-width=\"2.5\" \
             stroke-dasharray=\"{}\"/><text class=\"tick\" x=\"{:.1}\" y=\"34\">{}</text>",
            x + 18.0,
            PALETTE[i % PALETTE.len()],
            DASHES[i % DASHES.len()],
            x + 22.0,
            esc(name)
        );
    }
}

fn close(out: &mut String) {
    out.push_str("</svg></figure>");
}

fn data_attr(points: &[(f64, f64)]) -> String {
    points
        .iter()
        .map(|(x, y)| format!("{},{}", num(*x), num(*y)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A line chart of one or more series sharing both axes.
pub fn line_chart(title: &str, x_label: &str, y_label: &str, series: &[Series]) -> String {
    let mut out = String::new();
    open(&mut out, "line", title, "");
    let all = series.iter().flat_map(|s| s.points.iter());
    let x_min = all.clone().map(|p| p.0).fold(f64::INFINITY, f64::min);
    let x_max = all.clone().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
    let y_max = all.map(|p| p.1).fold(0.0, f64::max);
    let ((x0, xm), ym) = axes(&mut out, (x_min, x_max), y_max, x_label, y_label);
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    for (i, s) in series.iter().enumerate() {
        let pts: Vec<String> = s
            .points
            .iter()
            .map(|(x, y)| {
                format!(
                    "{:.1},{:.1}",
                    LEFT + (x - x0) / (xm - x0) * pw,
                    TOP + ph - y.max(0.0) / ym * ph
                )
            })
            .collect();
        let _ = write!(
            out,
            "<polyline class=\"series\" data-series=\"{}\" data-points=\"{}\" fill=\"none\" \
             stroke=\"{}\" stroke-width=\"2\" stroke-dasharray=\"{}\" points=\"{}\"/>",
            esc(&s.name),
            data_attr(&s.points),
            PALETTE[i % PALETTE.len()],
            DASHES[i % DASHES.len()],
            pts.join(" ")
        );
    }
    let names: Vec<&str> = series.iter().map(|s| s.name.as_str()).collect();
    legend(&mut out, &names);
    close(&mut out);
    out
}

/// Vertical bars, one per labelled value (a histogram's buckets, requests per
/// replica). Labels are thinned so they never overlap.
pub fn bar_chart(title: &str, x_label: &str, y_label: &str, bars: &[(String, f64)]) -> String {
    let mut out = String::new();
    open(&mut out, "bar", title, "");
    let y_max = bars.iter().map(|b| b.1).fold(0.0, f64::max);
    let yt = ticks(y_max, 4);
    let ym = *yt.last().unwrap();
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    y_grid(&mut out, &yt);
    let n = bars.len().max(1) as f64;
    let slot = pw / n;
    let longest = bars.iter().map(|b| b.0.chars().count()).max().unwrap_or(1);
    // About 6.5 px a character at the tick size; show every k-th label.
    let every = ((longest as f64 * 6.5 + 6.0) / slot).ceil().max(1.0) as usize;
    for (i, (label, v)) in bars.iter().enumerate() {
        let h = v.max(0.0) / ym * ph;
        let x = LEFT + i as f64 * slot + slot * 0.1;
        let _ = write!(
            out,
            "<rect class=\"bar\" data-label=\"{l}\" data-value=\"{}\" x=\"{x:.1}\" y=\"{:.1}\" \
             width=\"{:.1}\" height=\"{h:.1}\" fill=\"{}\"><title>{l}: {}</title></rect>",
            num(*v),
            TOP + ph - h,
            slot * 0.8,
            PALETTE[0],
            num(*v),
            l = esc(label)
        );
        if i % every == 0 {
            let _ = write!(
                out,
                "<text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                x + slot * 0.4,
                TOP + ph + 17.0,
                esc(label)
            );
        }
    }
    axis_labels(&mut out, x_label, y_label);
    close(&mut out);
    out
}

/// One bar of a timeline.
pub struct Span {
    pub name: String,
    pub start_ms: u64,
    pub end_ms: u64,
    /// PASS, FAIL, SKIPPED, ...: drawn as colour AND as a pattern/label.
    pub state: String,
    pub critical: bool,
}

/// Stages on one time axis: what ran at once, and the critical path outlined.
pub fn timeline(title: &str, spans: &[Span]) -> String {
    const ROW: f64 = 26.0;
    const NAMES: f64 = 130.0;
    let h = TOP + ROW * spans.len().max(1) as f64 + BOTTOM;
    let mut out = String::new();
    let _ = write!(
        out,
        "<figure class=\"chart\" data-chart=\"timeline\"><svg viewBox=\"0 0 {W} {h}\" role=\"img\" \
         aria-label=\"{t}\" xmlns=\"http://www.w3.org/2000/svg\"><title>{t}</title>\
         <text class=\"ct\" x=\"{NAMES}\" y=\"18\">{t}</text>",
        t = esc(title)
    );
    let end = spans.iter().map(|s| s.end_ms).max().unwrap_or(0) as f64 / 1000.0;
    let xt = ticks(end, 6);
    let xm = *xt.last().unwrap();
    let pw = W - NAMES - RIGHT;
    let ph = ROW * spans.len().max(1) as f64;
    for x in &xt {
        let px = NAMES + x / xm * pw;
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{px:.1}\" x2=\"{px:.1}\" y1=\"{TOP}\" y2=\"{:.1}\"/>\
             <text class=\"tick\" x=\"{px:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            TOP + ph,
            TOP + ph + 17.0,
            num(*x)
        );
    }
    for (i, s) in spans.iter().enumerate() {
        let y = TOP + i as f64 * ROW;
        let x0 = NAMES + s.start_ms as f64 / 1000.0 / xm * pw;
        let x1 = NAMES + s.end_ms as f64 / 1000.0 / xm * pw;
        if s.start_ms == 0 && s.end_ms == 0 && s.state != "PASS" && s.state != "FAIL" {
            let _ = write!(
                out,
                "<text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{n}</text>\
                 <text class=\"tick span-none\" data-stage=\"{n}\" data-state=\"{st}\" x=\"{:.1}\" y=\"{:.1}\">{st}: not run</text>",
                NAMES - 8.0,
                y + ROW / 2.0 + 4.0,
                NAMES + 4.0,
                y + ROW / 2.0 + 4.0,
                n = esc(&s.name),
                st = esc(&s.state),
            );
            continue;
        }
        let (fill, class) = match s.state.as_str() {
            "PASS" => (PALETTE[0], "pass"),
            "FAIL" => (PALETTE[1], "fail"),
            _ => ("#999999", "other"),
        };
        let _ = write!(
            out,
            "<text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\
             <rect class=\"span {class}{}\" data-stage=\"{n}\" data-start-ms=\"{}\" data-end-ms=\"{}\" \
             data-state=\"{st}\" x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{fill}\"{}>\
             <title>{n}: {st}, {:.1} s to {:.1} s</title></rect>",
            NAMES - 8.0,
            y + ROW / 2.0 + 4.0,
            esc(&s.name),
            if s.critical { " critical" } else { "" },
            s.start_ms,
            s.end_ms,
            y + 4.0,
            (x1 - x0).max(1.5),
            ROW - 8.0,
            if s.critical {
                " stroke=\"#000\" stroke-width=\"2\""
            } else {
                ""
            },
            s.start_ms as f64 / 1000.0,
            s.end_ms as f64 / 1000.0,
            n = esc(&s.name),
            st = esc(&s.state),
        );
    }
    let _ = write!(
        out,
        "<line class=\"axis\" x1=\"{NAMES}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\"/>\
         <text class=\"label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">time since the gate started (s); \
         black outline: critical path</text>",
        NAMES + pw,
        TOP + ph,
        TOP + ph,
        NAMES + pw / 2.0,
        h - 6.0
    );
    close(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_maximum() {
        assert_eq!(ticks(9.0, 4), vec![0.0, 5.0, 10.0]);
        assert_eq!(ticks(37.0, 4), vec![0.0, 10.0, 20.0, 30.0, 40.0]);
        assert_eq!(ticks(0.0, 4), vec![0.0, 0.5, 1.0]);
        assert_eq!(*ticks(1234.0, 6).last().unwrap(), 1500.0);
        assert_eq!(ticks_between(1.0, 2.0, 6)[0], 1.0);
        assert_eq!(ticks_between(3.0, 47.0, 4), vec![0.0, 20.0, 40.0, 60.0]);
    }

    #[test]
    fn a_line_chart_carries_its_points_and_labels() {
        let svg = line_chart(
            "Latency over time",
            "time (s)",
            "latency (ms)",
            &[Series {
                name: "p95".into(),
                points: vec![(1.0, 10.0), (2.0, 12.5)],
            }],
        );
        assert!(svg.contains("data-series=\"p95\""));
        assert!(svg.contains("data-points=\"1,10 2,12.5\""));
        assert!(svg.contains("<title>Latency over time</title>"));
        assert!(svg.contains(">latency (ms)</text>"));
        assert!(svg.contains(">time (s)</text>"));
    }

    #[test]
    fn bar_labels_are_thinned_so_they_cannot_overlap() {
        let bars: Vec<(String, f64)> = (0..100).map(|i| (format!("{i} ms"), i as f64)).collect();
        let svg = bar_chart("Histogram", "latency", "requests", &bars);
        assert_eq!(svg.matches("class=\"bar\"").count(), 100);
        let labels = svg.matches("text-anchor=\"middle\">").count();
        assert!(labels < 30, "{labels} labels on 100 bars");
    }

    #[test]
    fn names_are_escaped() {
        let svg = timeline(
            "Stages",
            &[Span {
                name: "<script>".into(),
                start_ms: 0,
                end_ms: 10,
                state: "PASS".into(),
                critical: true,
            }],
        );
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;script&gt;"));
    }
}
