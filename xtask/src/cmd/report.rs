//! `cargo xtask report [SUITE] [--json|--html [--open]]`: prints the latest
//! report, or writes its HTML page and prints the page's path. The gate's page
//! gathers the reports of the stages that gate run wrote.

use anyhow::Context;
use camino::{Utf8Path, Utf8PathBuf};

use crate::{
    context::{Ctx, Exit},
    flags, junit, regress,
    report::{
        self,
        html::{self, Condition, GatePage, Load, StagePage, TrendPoint},
        Report,
    },
    samples,
};

impl flags::ReportCmd {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        if let Some(flags::ReportSub::History(h)) = self.sub {
            return h.run(ctx);
        }
        if self.html {
            let suite = self.suite.as_deref().unwrap_or("gate");
            let path = write_html(ctx, suite)?;
            println!("{}", ctx.relative(&path));
            if self.open {
                open_in_browser(ctx, &path)?;
            }
            return Ok(Exit::OK);
        }
        let Some(suite) = self.suite else {
            return list(ctx, self.json);
        };
        let ext = if self.json { "json" } else { "md" };
        let path = ctx.layout.latest(&suite, ext);
        let text = match crate::files::read_string_no_link(&path, crate::files::LARGE) {
            Ok(t) => t,
            Err(e) if crate::files::is_not_found(&e) => {
                return Err(e).with_context(|| {
                    format!("no {ext} report for suite `{suite}` ({}); run it first, or `cargo xtask report` to list suites", ctx.relative(&path))
                })
            }
            Err(e) => return Err(e),
        };
        print!("{text}");
        Ok(Exit::OK)
    }
}

const KNOWN: [&str; 9] = [
    "release-gate",
    "runtime-integration",
    "k6",
    "k6-baseline",
    "k6-distributed",
    "runtime-health-check",
    "runtime-monitor-snapshot",
    "api-scripts",
    "gate",
];

/// One line per suite that has a latest report.
fn list(ctx: &Ctx, json: bool) -> anyhow::Result<Exit> {
    let mut suites: Vec<String> = std::fs::read_dir(&ctx.layout.reports_dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    // In the legacy and CODEX_TMP_DIR layouts folders are areas, not suites.
    suites.extend(KNOWN.iter().map(|s| s.to_string()));
    suites.sort();
    suites.dedup();
    let reports: Vec<_> = suites
        .iter()
        .filter_map(|s| report::load_latest(&ctx.layout, s).ok())
        .collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
        return Ok(Exit::OK);
    }
    if reports.is_empty() {
        println!(
            "no reports yet in {}",
            ctx.relative(&ctx.layout.reports_dir)
        );
        return Ok(Exit::OK);
    }
    println!(
        "{:<26} {:<6} {:<22} {:<10} commit",
        "suite", "result", "finished", "duration"
    );
    for r in reports {
        println!(
            "{:<26} {:<6} {:<22} {:<10} {}",
            r.suite,
            r.result.as_str(),
            r.ended,
            report::fmt_ms(r.duration_ms),
            r.git.describe()
        );
    }
    Ok(Exit::OK)
}

/// Writes `<suite>-latest.html` from the suite's latest JSON report; for the
/// gate, the page with every stage, the frontend gate's conditions and the
/// trends of earlier gate runs.
pub fn write_html(ctx: &Ctx, suite: &str) -> anyhow::Result<Utf8PathBuf> {
    let r = report::load_latest(&ctx.layout, suite).with_context(|| {
        format!("cannot write the HTML page of `{suite}`: run that suite first (`cargo xtask report` lists the reports there are)")
    })?;
    let page = if suite == "gate" {
        let stages = stage_reports(ctx, &r);
        let status = crate::cmd::gate_status::evaluate(ctx).ok();
        let conditions = status
            .as_ref()
            .map(|s| {
                s.rows
                    .iter()
                    .map(|row| Condition {
                        name: row.condition.clone(),
                        state: row.state.as_str().to_string(),
                        reason: row.reason.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        html::gate_page(&GatePage {
            gate: &r,
            stages,
            ready: status.as_ref().map(|s| s.ready),
            conditions,
            trend: trend(ctx, 20),
        })
    } else {
        html::suite_page(&r, load_of(ctx, &r).as_ref())
    };
    let path = ctx.layout.latest(suite, "html");
    report::write_atomic(&path, page.as_bytes())?;
    Ok(path)
}

/// The reports the gate's stages wrote, from its stage table's report column,
/// each k6 run with its load figures, each with the test cases of its JUnit.
fn stage_reports(ctx: &Ctx, gate: &Report) -> Vec<StagePage> {
    let Some(t) = gate.tables.iter().find(|t| t.title == "Stages") else {
        return vec![];
    };
    let col = t.columns.iter().position(|c| c == "Report").unwrap_or(3);
    t.rows
        .iter()
        .filter_map(|row| {
            let md = row.get(col)?.strip_suffix(".md")?;
            let path = ctx.root.join(format!("{md}.json"));
            let r: Report =
                serde_json::from_str(&crate::files::read_string(&path, crate::files::SMALL).ok()?)
                    .ok()?;
            let load = load_of(ctx, &r);
            let cases = r
                .artifacts
                .iter()
                .find(|a| a.name == "junit")
                .and_then(|a| {
                    crate::files::read_string(
                        &ctx.path(Utf8Path::new(&a.path)),
                        crate::files::LARGE,
                    )
                    .ok()
                })
                .and_then(|x| junit::parse(&x).ok())
                .map(|suites| suites.into_iter().flat_map(|s| s.cases).collect())
                .unwrap_or_default();
            Some(StagePage {
                name: row[0].clone(),
                report: r,
                load,
                cases,
            })
        })
        .collect()
}

/// The per-second and histogram figures of a k6 run, from the samples kept
/// in its run folder; None for other suites and runs without samples.
pub fn load_of(ctx: &Ctx, r: &Report) -> Option<Load> {
    if !r.suite.starts_with("k6") || r.run_stamp.is_empty() {
        return None;
    }
    let dir = ctx.layout.suite_dir(&r.suite).join(&r.run_stamp);
    let s = samples::store::load(&dir).ok()?;
    Some(Load::from_samples(&s))
}

/// The last `n` gate runs, oldest first, each with the figures of the stage
/// reports written during it (matched by time: a stage runs inside its gate).
fn trend(ctx: &Ctx, n: usize) -> Vec<TrendPoint> {
    let runs = |suite: &str| -> Vec<Report> {
        let mut v: Vec<Report> = regress::runs(&ctx.layout.suite_dir(suite), suite)
            .into_iter()
            .map(|(_, _, r)| r)
            .collect();
        v.reverse();
        v
    };
    let gates = runs("gate");
    let baselines = runs("k6-baseline");
    let tests: Vec<Report> = ["release-gate", "runtime-integration"]
        .iter()
        .flat_map(|s| runs(s))
        .collect();
    let within = |r: &Report, g: &Report| r.started >= g.started && r.ended <= g.ended;
    let metric = |r: &Report, name: &str| {
        r.metrics
            .iter()
            .find(|m| m.name == name)
            .and_then(|m| m.value)
    };
    let first_metric = |r: &Report, prefix: &str| {
        r.metrics
            .iter()
            .find(|m| m.name.starts_with(prefix))
            .and_then(|m| m.value)
    };
    gates[gates.len().saturating_sub(n)..]
        .iter()
        .map(|g| {
            let b = baselines.iter().rev().find(|b| within(b, g));
            let t: Vec<f64> = tests
                .iter()
                .filter(|t| within(t, g))
                .filter_map(|t| metric(t, "tests"))
                .collect();
            TrendPoint {
                stamp: g.run_stamp.clone(),
                duration_s: g.duration_ms as f64 / 1000.0,
                p95_ms: b.and_then(|b| first_metric(b, "http_req_duration p(95)")),
                failed_rate: b.and_then(|b| first_metric(b, "http_req_failed")),
                tests: (!t.is_empty()).then(|| t.iter().sum()),
            }
        })
        .collect()
}

/// Opens the page with the desktop's opener (it returns at once); without
/// one, the printed path is the answer.
fn open_in_browser(ctx: &Ctx, path: &camino::Utf8Path) -> anyhow::Result<()> {
    let step = crate::runner::Step::new("open the report", "xdg-open")
        .arg(path.as_str())
        .deadline(std::time::Duration::from_secs(30))
        .hint("no xdg-open here: open the printed path in a browser by hand");
    step.require()?;
    let rec = ctx.runner.run(&step)?;
    anyhow::ensure!(rec.ok(), "xdg-open could not open {path}: open it by hand");
    Ok(())
}
