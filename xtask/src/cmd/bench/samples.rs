//! P6 and P7: k6's raw samples.
//!
//! - P6 peak memory of `k6 baseline` while a stand-in k6 streams one million
//!   requests of raw samples (the real k6's 20 lines per request, at 1000
//!   requests a second: 1000 s of load, so the time slots coarsen too)
//!   into the FIFO.
//! - P7 the regression check on the demo: pairs of runs of the same build
//!   (`--compare` the first of each pair), which must not be flagged, and
//!   runs with `DEMO_EXTRA_LATENCY_MS` (the demo's own knob), which must be.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use super::{max_rss_kb, serve_http_forever, Bench, Row};
use crate::runner::{ensure_success, Step};

/// The stand-in k6 of P6 (python3: fast enough to outrun nobody but us).
const STAND_IN: &str = r#"#!/usr/bin/env python3
# Stand-in k6 for bench P6: copies a real summary to --summary-export and
# streams N requests of k6-shaped JSON samples to --out json=PATH.
import os, shutil, sys, time
args = sys.argv[1:]
summary = out = None
for i, a in enumerate(args):
    if a == "--summary-export": summary = args[i + 1]
    if a == "--out" and args[i + 1].startswith("json="): out = args[i + 1][5:]
shutil.copy(os.environ["P6_SUMMARY"], summary)
n = int(os.environ["P6_REQUESTS"])
tags = '{"expected_response":"true","group":"","method":"POST","name":"waiting-queue-join","proto":"HTTP/1.1","scenario":"default","status":"200","url":"waiting-queue-join"}'
short = '{"group":"","scenario":"default"}'
trends = ["http_req_duration", "http_req_blocked", "http_req_connecting", "http_req_tls_handshaking",
          "http_req_sending", "http_req_waiting", "http_req_receiving"]
kinds = {"http_reqs": "counter", "http_req_failed": "rate", "checks": "rate", "iterations": "counter",
         "iteration_duration": "trend", "data_sent": "counter", "data_received": "counter",
         "join_accepted": "counter", "join_valid_status_rate": "rate"}
for t in trends: kinds[t] = "trend"
with open(out, "w", buffering=1 << 20) as f:
    for m, k in kinds.items():
        f.write('{"type":"Metric","data":{"name":"%s","type":"%s","contains":"default","thresholds":[],"submetrics":null},"metric":"%s"}\n' % (m, k, m))
    t0 = 1796116462
    for i in range(n):
        sec, frac = divmod(i, 1000)
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t0 + sec)) + ".%09dZ" % (frac * 1000000)
        v = 1.0 + (i * 7919 % 1000) / 100.0
        p = '{"metric":"%s","type":"Point","data":{"time":"' + ts + '","value":%s,"tags":%s}}\n'
        f.write(p % ("http_reqs", 1, tags))
        for t in trends: f.write(p % (t, v if t == "http_req_duration" else 0.01, tags))
        f.write(p % ("http_req_failed", 0, tags))
        f.write(p % ("checks", 1, tags.replace('"expected_response"', '"check":"join status is 200","expected_response"')))
        f.write(p % ("checks", 1, tags.replace('"expected_response"', '"check":"join returns WAITING/ACTIVE/REJECTED","expected_response"')))
        f.write(p % ("join_accepted", 1, short))
        f.write(p % ("join_valid_status_rate", 1, short))
        f.write(p % ("data_sent", 183, short))
        f.write(p % ("data_received", 144, short))
        f.write(p % ("iterations", 1, short))
        f.write(p % ("iteration_duration", v + 50, short))
"#;

const P6_REQUESTS: u64 = 1_000_000;

/// The extra latency P7 adds: twice the tolerance's 2 ms floor on the
/// demo's few-ms p95.
const P7_EXTRA_MS: &str = "5";
/// Per run: 10 pairs and the detection runs fit in about 6 minutes.
const P7_DURATION: &str = "10s";

impl Bench<'_> {
    pub(super) fn p6_samples_memory(&self) -> anyhow::Result<Vec<Row>> {
        let k6 = self.write("p6/bin/k6", STAND_IN, true)?;
        let (port, _server) = serve_http_forever()?;
        let cfg = self.write(
            "p6/xtask.toml",
            &format!("[k6]\nscript = \"demo/perf/waiting-queue-join.js\"\napi_host = \"http://127.0.0.1:{port}\"\nduration = \"1000s\"\ndeadline_slack = \"30m\"\n"),
            false,
        )?;
        let reports = self.dir.join("p6/reports");
        let out = self.dir.join("p6/time.txt");
        let path = format!(
            "{}:{}",
            k6.parent().unwrap(),
            std::env::var("PATH").unwrap_or_default()
        );
        let step = Step::new("p6 samples", "/usr/bin/time")
            .args(["-v", "-o", out.as_str(), self.exe.as_str(), "-q"])
            .args(["--config", cfg.as_str(), "--reports-dir", reports.as_str()])
            .args(["k6", "baseline", "--env", "external"])
            .env("PATH", path)
            .env("P6_REQUESTS", P6_REQUESTS.to_string())
            .env(
                "P6_SUMMARY",
                self.ctx
                    .root
                    .join("xtask/tests/fixtures/k6/summary-export-pass.json")
                    .as_str(),
            )
            .deadline(Duration::from_secs(3600))
            .hint("apt-get install time python3");
        let t = Instant::now();
        self.ctx.runner.run(&step)?;
        let secs = t.elapsed().as_secs_f64();
        let kb = max_rss_kb(&out)?;
        let json: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(reports.join("k6-baseline/latest/k6-baseline-latest.json"))
                .context("P6 wrote no report")?,
        )?;
        let requests = json["metrics"]
            .as_array()
            .and_then(|m| m.iter().find(|m| m["name"] == "http_reqs"))
            .and_then(|m| m["value"].as_f64())
            .unwrap_or(0.0);
        if requests as u64 != P6_REQUESTS {
            bail!("P6: the report counts {requests} requests, the stand-in sent {P6_REQUESTS}: see {reports}");
        }
        let kept = super::walk_size(&reports.join("k6-baseline"));
        let _ = std::fs::remove_dir_all(&reports);
        Ok(vec![(
            "P6".into(),
            format!("peak RSS of `k6 baseline` while k6 streams {P6_REQUESTS} requests of raw samples (20 lines each, 1000 s of load) into the FIFO"),
            format!(
                "{:.1} MiB in {secs:.1} s ({:.0} k lines/s); {:.0} kB kept on disk",
                kb / 1024.0,
                P6_REQUESTS as f64 * 20.0 / secs / 1000.0,
                kept as f64 / 1024.0
            ),
        )])
    }

    pub(super) fn p7_regression_noise(&self) -> anyhow::Result<Vec<Row>> {
        let pairs = self.runs.max(10);
        let detect = (pairs / 2).max(5);
        let reports = self.dir.join("p7/reports");
        let api = self.ctx.config.environment.health_url.with_path("/");
        let api = api.as_str().trim_end_matches('/').to_string();
        let xtask = |name: &str, args: &[&str]| {
            Step::new(name, self.exe.as_str())
                .args(["-q", "--reports-dir", reports.as_str()])
                .args(args.iter().map(|s| s.to_string()))
                .deadline(Duration::from_secs(600))
        };
        let env = |up: bool, extra: Option<&str>| -> anyhow::Result<()> {
            let mut step = xtask(
                "env",
                &["env", if up { "up" } else { "down" }, "--env", "local"],
            );
            if let Some(ms) = extra {
                step = step.env("DEMO_EXTRA_LATENCY_MS", ms);
            }
            ensure_success(&self.ctx.runner.run(&step)?)
        };
        // One baseline run; Ok(stamp, p95, regressions in its comparison).
        let baseline = |compare: Option<&str>| -> anyhow::Result<(String, f64, usize)> {
            let mut args = vec![
                "k6",
                "baseline",
                "--env",
                "external",
                "--api-host",
                &api,
                "--duration",
                P7_DURATION,
            ];
            if let Some(c) = compare {
                args.extend(["--compare", c]);
            }
            self.ctx.runner.run(&xtask("k6 baseline", &args))?;
            let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
                reports.join("k6-baseline/latest/k6-baseline-latest.json"),
            )?)?;
            let p95 = json["metrics"]
                .as_array()
                .and_then(|m| m.iter().find(|m| m["name"] == "http_req_duration p(95)"))
                .and_then(|m| m["value"].as_f64())
                .context("P7: a run without p95")?;
            let flagged = json["tables"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|t| t["title"].as_str().unwrap_or("").starts_with("Comparison"))
                .flat_map(|t| t["rows"].as_array().cloned().unwrap_or_default())
                .filter(|r| r[6] == "REGRESSION")
                .count();
            if compare.is_some() && !json["tables"].to_string().contains("Comparison") {
                bail!("P7: no comparison in {}", json["notes"]);
            }
            let stamp = json["run_stamp"].as_str().unwrap_or_default().to_string();
            Ok((stamp, p95, flagged))
        };
        let _ = std::fs::remove_dir_all(&reports);
        env(true, None)?;
        let mut alarms = 0;
        let mut changes = vec![];
        let mut firsts = vec![];
        let same = (|| -> anyhow::Result<()> {
            for _ in 0..pairs {
                let (a, pa, _) = baseline(None)?;
                let (_, pb, flagged) = baseline(Some(&a))?;
                alarms += usize::from(flagged > 0);
                changes.push((pb - pa) / pa * 100.0);
                firsts.push((a, pa));
            }
            Ok(())
        })();
        env(false, None)?;
        same?;
        env(true, Some(P7_EXTRA_MS))?;
        let mut caught = 0;
        let mut slower = vec![];
        let slow = (|| -> anyhow::Result<()> {
            for (a, pa) in firsts.iter().take(detect as usize) {
                let (_, pb, flagged) = baseline(Some(a))?;
                caught += usize::from(flagged > 0);
                slower.push(pb - pa);
            }
            Ok(())
        })();
        env(false, None)?;
        slow?;
        changes.sort_by(f64::total_cmp);
        slower.sort_by(f64::total_cmp);
        let spread = |v: &[f64], unit: &str| {
            format!(
                "median {:+.1}{unit}, from {:+.1}{unit} to {:+.1}{unit}",
                v[v.len() / 2],
                v[0],
                v[v.len() - 1]
            )
        };
        let cfg = &self.ctx.config.k6;
        Ok(vec![
            (
                "P7".into(),
                format!(
                    "false alarms: pairs of `k6 baseline` runs of the same demo build ({} VUs, {P7_DURATION}), the second `--compare`d with the first",
                    cfg.vus
                ),
                format!(
                    "{alarms} of {pairs} pairs flagged; p95 change {}",
                    spread(&changes, "%")
                ),
            ),
            (
                "P7".into(),
                format!("detection: runs with DEMO_EXTRA_LATENCY_MS={P7_EXTRA_MS}, each compared with a run of the plain build"),
                format!(
                    "{caught} of {} flagged; p95 change {}",
                    slower.len(),
                    spread(&slower, " ms")
                ),
            ),
        ])
    }
}
