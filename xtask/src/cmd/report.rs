//! `cargo xtask report [SUITE] [--json]`: prints the latest report.

use anyhow::Context;

use crate::{
    context::{Ctx, Exit},
    flags, report,
};

impl flags::ReportCmd {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        if let Some(flags::ReportSub::History(h)) = self.sub {
            return h.run(ctx);
        }
        let Some(suite) = self.suite else {
            return list(ctx, self.json);
        };
        let ext = if self.json { "json" } else { "md" };
        let path = ctx.layout.latest(&suite, ext);
        let text = match crate::files::read_string(&path, crate::files::LARGE) {
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
