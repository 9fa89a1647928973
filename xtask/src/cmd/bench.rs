//! `cargo xtask bench`: the numbers in BENCHMARKS.md, measured the same way
//! by anyone. Whole-process timings with hyperfine and `/usr/bin/time -v`;
//! ratios are measured side by side in one run, since shared machines drift.
//!
//! - P1 overhead of one stage (k6 baseline) over an instant stand-in k6
//!   that writes a canned real summary, against the stand-in alone.
//! - P2 readiness latency: a server becomes ready at a known instant; the
//!   time until `env up --env external` has noticed and exited.
//! - P3a `gate` on the demo against the same stages run one by one; P3b
//!   the gate's wall time against its critical path (same run).
//! - P4 cold `cargo build -p xtask` (fresh target folder); warm `--help`.
//! - P5 peak memory while a child streams 1 GiB of output through the runner.
//! - P6, P7 k6's raw samples: memory for a million requests; the
//!   regression check's false alarms and detection on the demo (`samples`).

mod samples;

use std::{
    io::{Read, Write},
    net::TcpListener,
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use camino::{Utf8Path, Utf8PathBuf};

use crate::{
    context::{Ctx, Exit},
    flags,
    runner::{ensure_success, Step},
};

impl flags::Bench {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        let want =
            |id: &str| self.only.is_empty() || self.only.iter().any(|o| o.eq_ignore_ascii_case(id));
        let dir = ctx.root.join("target/bench");
        // Only the selected benchmarks' folders: two runs of different
        // benchmarks (P7 takes minutes) do not disturb each other.
        for id in ["p1", "p2", "p3", "p4", "p5", "p6", "p7"] {
            if want(id) {
                let _ = std::fs::remove_dir_all(dir.join(id));
                let _ = std::fs::remove_dir_all(dir.join(format!("{id}-target")));
            }
        }
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {dir}"))?;
        let exe = Utf8PathBuf::from_path_buf(std::env::current_exe()?)
            .map_err(|p| anyhow::anyhow!("non-UTF-8 exe path {}", p.display()))?;
        let b = Bench {
            ctx,
            dir,
            exe,
            runs: self.runs,
            env: self.env,
        };
        let mut rows: Vec<(String, String, String)> = vec![];
        if want("P1") {
            rows.extend(b.p1_stage_overhead()?);
        }
        if want("P2") {
            rows.extend(b.p2_readiness_latency()?);
        }
        if want("P3") {
            rows.extend(b.p3_gate_vs_stages()?);
        }
        if want("P4") {
            rows.extend(b.p4_build_and_help()?);
        }
        if want("P5") {
            rows.extend(b.p5_streaming_memory()?);
        }
        if want("P6") {
            rows.extend(b.p6_samples_memory()?);
        }
        if want("P7") {
            rows.extend(b.p7_regression_noise()?);
        }
        println!("\n{}", machine_line());
        println!("| id | measurement | result |\n|---|---|---|");
        for (id, what, result) in rows {
            println!("| {id} | {what} | {result} |");
        }
        Ok(Exit::OK)
    }
}

struct Bench<'a> {
    ctx: &'a Ctx,
    dir: Utf8PathBuf,
    exe: Utf8PathBuf,
    runs: u32,
    env: Option<crate::config::EnvKind>,
}

type Row = (String, String, String);

impl Bench<'_> {
    fn write(&self, name: &str, text: &str, executable: bool) -> anyhow::Result<Utf8PathBuf> {
        let p = self.dir.join(name);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d)?;
        }
        std::fs::write(&p, text).with_context(|| format!("cannot write {p}"))?;
        if executable {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755))?;
        }
        Ok(p)
    }

    /// hyperfine, no shell in between; returns (median seconds) per command.
    fn hyperfine(
        &self,
        name: &str,
        commands: &[String],
        env: &[(String, String)],
    ) -> anyhow::Result<Vec<f64>> {
        let json = self.dir.join(format!("{name}.json"));
        let step = Step::new(format!("hyperfine {name}"), "hyperfine")
            .args([
                "-N",
                "--warmup",
                "3",
                "--runs",
                &self.runs.to_string(),
                "--export-json",
                json.as_str(),
            ])
            .args(commands.iter().cloned())
            .envs(env.iter().cloned())
            .deadline(Duration::from_secs(1800))
            .hint("apt-get install hyperfine");
        ensure_success(&self.ctx.runner.run(&step)?)?;
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json)?)?;
        let results = v["results"]
            .as_array()
            .context("hyperfine JSON without results")?;
        results
            .iter()
            .map(|r| {
                r["median"]
                    .as_f64()
                    .context("hyperfine result without median")
            })
            .collect()
    }

    fn p1_stage_overhead(&self) -> anyhow::Result<Vec<Row>> {
        let canned = self
            .ctx
            .root
            .join("xtask/tests/fixtures/k6/summary-export-pass.json");
        // A stand-in k6 that answers at once with a real summary.
        let k6 = self.write(
            "p1/bin/k6",
            &format!(
                "#!/bin/sh\n# Stand-in k6: copies a real summary to --summary-export.\nout=\nprev=\nfor a in \"$@\"; do [ \"$prev\" = --summary-export ] && out=$a; prev=$a; done\n[ -n \"$out\" ] && cp {canned} \"$out\"\nexit 0\n"
            ),
            true,
        )?;
        let (port, _server) = serve_http_forever()?;
        let cfg = self.write(
            "p1/xtask.toml",
            &format!("[k6]\nscript = \"demo/perf/waiting-queue-join.js\"\napi_host = \"http://127.0.0.1:{port}\"\n"),
            false,
        )?;
        let path = format!(
            "{}:{}",
            k6.parent().unwrap(),
            std::env::var("PATH").unwrap_or_default()
        );
        let reports = self.dir.join("p1/reports");
        let xtask = format!(
            "{} -q --config {cfg} --reports-dir {reports} k6 baseline",
            self.exe
        );
        let alone = format!(
            "{k6} run --summary-export {}",
            self.dir.join("p1/alone.json")
        );
        let m = self.hyperfine("p1", &[xtask, alone], &[("PATH".into(), path)])?;
        Ok(vec![(
            "P1".into(),
            "k6 baseline stage over an instant stand-in k6 (whole process, median)".into(),
            format!(
                "{:.1} ms vs {:.1} ms alone: overhead {:.1} ms",
                m[0] * 1e3,
                m[1] * 1e3,
                (m[0] - m[1]) * 1e3
            ),
        )])
    }

    fn p2_readiness_latency(&self) -> anyhow::Result<Vec<Row>> {
        let mut lat = vec![];
        for _ in 0..self.runs {
            let l = TcpListener::bind("127.0.0.1:0")?;
            let port = l.local_addr()?.port();
            drop(l); // free until the "service" becomes ready
            let ready_at = std::sync::Arc::new(std::sync::Mutex::new(None::<Instant>));
            let server = {
                let ready_at = ready_at.clone();
                std::thread::spawn(move || -> anyhow::Result<()> {
                    std::thread::sleep(Duration::from_millis(1000));
                    let l = TcpListener::bind(("127.0.0.1", port))?;
                    *ready_at.lock().unwrap() = Some(Instant::now());
                    serve(l, Some(Instant::now() + Duration::from_secs(5)));
                    Ok(())
                })
            };
            let step = Step::new("env up external", self.exe.as_str())
                .args([
                    "-q",
                    "env",
                    "up",
                    "--env",
                    "external",
                    "--ready-timeout",
                    "10s",
                    "--health-url",
                ])
                .arg(format!("http://127.0.0.1:{port}/api/concerts"))
                .deadline(Duration::from_secs(20));
            let rec = self.ctx.runner.run(&step)?;
            let done = Instant::now();
            ensure_success(&rec)?;
            let t = ready_at
                .lock()
                .unwrap()
                .context("server never became ready")?;
            lat.push(done.duration_since(t).as_secs_f64() * 1e3);
            let _ = server.join();
        }
        lat.sort_by(f64::total_cmp);
        Ok(vec![(
            "P2".into(),
            format!(
                "readiness latency: server ready -> xtask done ({} runs)",
                self.runs
            ),
            format!(
                "median {:.0} ms (min {:.0}, max {:.0})",
                lat[lat.len() / 2],
                lat[0],
                lat[lat.len() - 1]
            ),
        )])
    }

    /// P3a: the gate's wall time against the same stages one by one (each
    /// command by itself, with its own environment and Gradle start); P3b:
    /// against the critical path of the gate's own graph, from the stage
    /// durations in the same gate run's report. On each environment asked
    /// for (default: compose and local), side by side in one run.
    fn p3_gate_vs_stages(&self) -> anyhow::Result<Vec<Row>> {
        let kinds = match self.env {
            Some(k) => vec![k],
            None => vec![
                crate::config::EnvKind::Compose,
                crate::config::EnvKind::Local,
            ],
        };
        let mut rows = vec![];
        for kind in kinds {
            rows.extend(self.p3_on(kind.as_str())?);
        }
        Ok(rows)
    }

    fn p3_on(&self, kind: &str) -> anyhow::Result<Vec<Row>> {
        let reports = self.dir.join(format!("p3-{kind}/reports"));
        let run = |name: &str, args: &[&str]| -> anyhow::Result<f64> {
            let step = Step::new(name, self.exe.as_str())
                .args(["-q", "--reports-dir", reports.as_str()])
                .args(args.iter().map(|s| s.to_string()))
                .deadline(Duration::from_secs(3600));
            let t = Instant::now();
            let rec = self.ctx.runner.run(&step)?;
            if !rec.ok() {
                bail!(
                    "{name} failed ({}): see {}",
                    rec.outcome.describe(),
                    reports
                );
            }
            Ok(t.elapsed().as_secs_f64())
        };
        let gate = run("gate", &["gate", "--no-setup", "--env", kind])?;
        let report = reports.join("gate/latest/gate-latest.json");
        let json: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(&report).with_context(|| format!("cannot read {report}"))?,
        )
        .with_context(|| format!("{report} is not JSON"))?;
        let metric = |name: &str| -> anyhow::Result<f64> {
            json["metrics"]
                .as_array()
                .and_then(|ms| ms.iter().find(|m| m["name"] == name))
                .and_then(|m| m["value"].as_f64())
                .with_context(|| format!("{report} has no metric `{name}`"))
        };
        let wall = metric("gate wall time")? / 1000.0;
        let critical = metric("critical path")? / 1000.0;
        let summed = metric("stages one by one")? / 1000.0;
        let path = json["parameters"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == "Critical path"))
            .and_then(|p| p["value"].as_str())
            .unwrap_or("?")
            .to_string();
        let mut one_by_one = 0.0;
        for args in [
            &["release-gate"][..],
            &["integration", "--env", kind],
            &["k6", "baseline", "--env", kind],
            &["k6", "distributed", "--env", kind],
        ] {
            // The ops stages need an environment left running and take
            // tens of milliseconds: the legacy line-up leaves them out.
            one_by_one += run(&args.join(" "), args)?;
        }
        Ok(vec![
            (
                "P3a".into(),
                format!("gate on the demo ({kind}) ÷ the same stages one by one (each command with its own environment and Gradle start)"),
                format!("{gate:.1} s ÷ {one_by_one:.1} s = **{:.2}** (the gate's own stages summed: {summed:.1} s, {:.2})", gate / one_by_one, wall / summed),
            ),
            (
                "P3b".into(),
                format!("gate wall ({kind}) ÷ its critical path, from the same run's report"),
                format!("{wall:.1} s ÷ {critical:.1} s = **{:.2}** ({path})", wall / critical),
            ),
        ])
    }

    fn p4_build_and_help(&self) -> anyhow::Result<Vec<Row>> {
        let target = self.dir.join("p4-target");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let step = Step::new("cold cargo build -p xtask", &cargo)
            .args(["build", "-p", "xtask"])
            .env("CARGO_TARGET_DIR", target.as_str())
            .cwd(&self.ctx.root)
            .deadline(Duration::from_secs(1800));
        let t = Instant::now();
        ensure_success(&self.ctx.runner.run(&step)?)?;
        let cold = t.elapsed().as_secs_f64();
        let _ = std::fs::remove_dir_all(&target);
        let help = self.hyperfine("p4-help", &[format!("{} --help", self.exe)], &[])?;
        Ok(vec![
            (
                "P4".into(),
                "cold `cargo build -p xtask` (fresh target folder, dependencies fetched)".into(),
                format!("{cold:.1} s"),
            ),
            (
                "P4".into(),
                "warm `xtask --help` (built binary, median)".into(),
                format!("{:.1} ms", help[0] * 1e3),
            ),
        ])
    }

    fn p5_streaming_memory(&self) -> anyhow::Result<Vec<Row>> {
        // A stand-in Gradle that prints 1 GiB in 100-byte lines.
        let gradle = self.write(
            "p5/gradle",
            "#!/bin/sh\n# Stand-in Gradle: 1 GiB of output.\nyes 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' | head -c 1073741824\n",
            true,
        )?;
        let cfg = self.write(
            "p5/xtask.toml",
            &format!("[project]\nservice_dir = \"demo\"\n[gradle]\ncommand = \"{gradle}\"\n[release_gate]\nclasses = [\"Any\"]\n"),
            false,
        )?;
        let out = self.dir.join("p5/time.txt");
        let step = Step::new("p5 streaming", "/usr/bin/time")
            .args([
                "-v",
                "-o",
                out.as_str(),
                self.exe.as_str(),
                "-q",
                "--config",
                cfg.as_str(),
                "--reports-dir",
            ])
            .arg(self.dir.join("p5/reports").as_str())
            .arg("release-gate")
            .deadline(Duration::from_secs(900))
            .hint("apt-get install time");
        let t = Instant::now();
        self.ctx.runner.run(&step)?;
        let secs = t.elapsed().as_secs_f64();
        let kb = max_rss_kb(&out)?;
        let log_size = walk_size(&self.dir.join("p5/reports"));
        let _ = std::fs::remove_dir_all(self.dir.join("p5/reports"));
        Ok(vec![(
            "P5".into(),
            "peak RSS of the xtask while a child streams 1 GiB (tee'd to the log)".into(),
            format!(
                "{:.1} MiB in {secs:.1} s ({:.0} MiB logged)",
                kb / 1024.0,
                log_size as f64 / 1048576.0
            ),
        )])
    }
}

fn walk_size(p: &Utf8Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(p) else {
        return 0;
    };
    rd.filter_map(|e| e.ok())
        .map(|e| {
            let path = Utf8PathBuf::from_path_buf(e.path()).unwrap_or_default();
            if path.is_dir() {
                walk_size(&path)
            } else {
                e.metadata().map(|m| m.len()).unwrap_or(0)
            }
        })
        .sum()
}

/// A minimal HTTP server answering 200 to everything, for as long as the
/// returned handle lives (the thread is detached; the process ends it).
fn serve_http_forever() -> anyhow::Result<(u16, std::thread::JoinHandle<()>)> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    let port = l.local_addr()?.port();
    Ok((port, std::thread::spawn(move || serve(l, None))))
}

fn serve(l: TcpListener, until: Option<Instant>) {
    let _ = l.set_nonblocking(until.is_some());
    loop {
        if until.is_some_and(|u| Instant::now() > u) {
            return;
        }
        match l.accept() {
            Ok((mut c, _)) => {
                let _ = c.set_nonblocking(false);
                let mut buf = [0u8; 2048];
                let _ = c.read(&mut buf);
                let _ = c.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n[]",
                );
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(1))
            }
            Err(_) => return,
        }
    }
}

fn machine_line() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    format!(
        "Machine: {cores} cores, {cpu}; date {}",
        crate::report::rfc3339(std::time::SystemTime::now())
    )
}

/// The peak resident set size (KiB) that `/usr/bin/time -v` wrote to `out`.
fn max_rss_kb(out: &camino::Utf8Path) -> anyhow::Result<f64> {
    let text = std::fs::read_to_string(out)
        .with_context(|| format!("no /usr/bin/time output in {out}"))?;
    text.lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
        .and_then(|v| v.trim().parse().ok())
        .context("no maximum resident set size in /usr/bin/time -v output")
}
