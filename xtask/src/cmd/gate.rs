//! `cargo xtask gate`: every stage on ONE environment, brought up once and
//! torn down once (the legacy scripts started a fresh compose environment
//! per script):
//!
//! release-gate → env-up → integration → ops-health → k6-baseline →
//! ops-monitor → scale → k6-distributed → env-down
//!
//! Fail-fast by default (later stages are SKIPPED with the reason),
//! `--keep-going` runs all, `--only`/`--skip` select. Each stage writes its
//! own suite report; the gate writes `gate-latest.{md,json}`, a JUnit XML of
//! the stages for CI test views, and ends with `gate status`.
//!
//! Each stage's options are parsed from the same words a person would type
//! (`release-gate`, `k6 baseline`, ...), so legacy variables and xtask.toml
//! apply exactly as when the stages run one by one.

use std::time::Instant;

use anyhow::{bail, Context};
use clap::Parser;

use crate::{
    context::{Ctx, Exit},
    env::{self, EnvDefaults, EnvGuard, EnvSpec},
    flags::{self, Cmd, EnvOpts, K6Cmd, OpsCmd},
    report::{self, Report, RunOptions},
    runner::Interrupted,
};

pub const SUITE: &str = "gate";

/// The stages, in order. `env-up`, `scale` and `env-down` run when a stage
/// that needs them is selected.
const STAGES: [&str; 9] = [
    "release-gate",
    "env-up",
    "integration",
    "ops-health",
    "k6-baseline",
    "ops-monitor",
    "scale",
    "k6-distributed",
    "env-down",
];
const SELECTABLE: [&str; 6] = [
    "release-gate",
    "integration",
    "ops-health",
    "k6-baseline",
    "ops-monitor",
    "k6-distributed",
];
const NEEDS_ENV: [&str; 5] = [
    "integration",
    "ops-health",
    "k6-baseline",
    "ops-monitor",
    "k6-distributed",
];

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StageResult {
    Pass,
    /// `--dry-run`: its commands were printed, nothing ran.
    Planned,
    Fail(String),
    Skipped(String),
}

#[derive(Clone, Debug)]
pub struct Stage {
    pub name: &'static str,
    pub result: StageResult,
    pub duration_ms: u64,
    /// Repo-relative path of the stage's own report.
    pub report: Option<String>,
}

impl flags::Gate {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        if let Some(flags::GateSub::Status(s)) = self.sub {
            return s.run(ctx);
        }
        let selected = self.selection()?;
        if !self.no_setup && !ctx.dry_run {
            crate::cmd::setup::ensure(ctx)
                .context("setup before the gate failed (use --no-setup to skip it)")?;
        }
        let spec = EnvSpec::resolve(
            ctx,
            &EnvOpts {
                kind: self.env,
                ..EnvOpts::default()
            },
            &EnvDefaults::gate(&ctx.config),
        )?;
        let replicas = self.replicas.unwrap_or(ctx.config.k6.distributed.replicas);
        let mut stages: Vec<Stage> = vec![];
        let mut interrupted = None;
        let (report, exit) = ctx.run_suite(
            SUITE,
            "Gate Report",
            RunOptions::default(),
            |report, _run| {
                report.param("Environment", spec.kind.as_str());
                report.param("Fail fast", !self.keep_going);
                report.param("Distributed replicas", replicas);
                let mut env: Option<EnvGuard> = None;
                let mut failed: Option<&'static str> = None;
                for name in STAGES {
                    let needed = match name {
                        "env-up" | "env-down" => NEEDS_ENV.iter().any(|s| selected.contains(s)),
                        "scale" => selected.contains(&"k6-distributed"),
                        s => selected.contains(&s),
                    };
                    let skip = |why: String| Stage {
                        name,
                        result: StageResult::Skipped(why),
                        duration_ms: 0,
                        report: None,
                    };
                    if !needed {
                        stages.push(skip("not selected".into()));
                        continue;
                    }
                    // Teardown always runs; everything else stops at an interrupt
                    // and, unless --keep-going, at the first failure.
                    if name != "env-down" {
                        if let Some(sig) = crate::runner::interrupted() {
                            interrupted = Some(sig);
                            stages.push(skip(format!(
                                "interrupted ({})",
                                crate::runner::signal_name(sig)
                            )));
                            continue;
                        }
                        if let Some(f) = failed.filter(|_| !self.keep_going) {
                            stages.push(skip(format!("{f} failed")));
                            continue;
                        }
                        if name != "release-gate"
                            && name != "env-up"
                            && env.is_none()
                            && NEEDS_ENV.contains(&name) | (name == "scale")
                        {
                            stages.push(skip("no environment (env-up failed)".into()));
                            continue;
                        }
                    }
                    let started = Instant::now();
                    let outcome = run_stage(ctx, name, &spec, replicas, &mut env);
                    let (result, report_path) = match outcome {
                        Ok((Exit::OK, path)) if ctx.dry_run => (StageResult::Planned, path),
                        Ok((Exit::OK, path)) => (StageResult::Pass, path),
                        Ok((Exit(code), path)) => (StageResult::Fail(format!("exit {code}")), path),
                        Err(e) => {
                            if let Some(Interrupted(sig)) = e.downcast_ref::<Interrupted>() {
                                interrupted = Some(*sig);
                            }
                            (StageResult::Fail(format!("{e:#}")), None)
                        }
                    };
                    if let Some(sig) = crate::runner::interrupted() {
                        interrupted = Some(sig);
                    }
                    if let StageResult::Fail(why) = &result {
                        report.fail(format!("stage {name} failed: {why}"));
                        failed.get_or_insert(name);
                    }
                    ctx.info(&format!("gate: {name}: {}", describe(&result)));
                    stages.push(Stage {
                        name,
                        result,
                        duration_ms: started.elapsed().as_millis() as u64,
                        report: report_path,
                    });
                }
                // Should a stage have panicked past us, the guard's Drop tears down.
                drop(env);
                fill(report, &stages);
                if let Some(sig) = interrupted {
                    return Err(Interrupted(sig).into());
                }
                Ok(())
            },
        )?;
        if !ctx.dry_run {
            let xml = junit_xml(&stages, &report);
            report::write_atomic(
                &ctx.layout.latest_dir(SUITE).join("gate-junit.xml"),
                xml.as_bytes(),
            )?;
        }
        println!("\n{}", table(&stages));
        if !ctx.dry_run {
            let status = crate::cmd::gate_status::evaluate(ctx)?;
            println!("{}", crate::cmd::gate_status::render(&status));
        }
        Ok(exit)
    }

    /// The stages to run, from --only/--skip (names checked).
    fn selection(&self) -> anyhow::Result<Vec<&'static str>> {
        for name in self.only.iter().chain(&self.skip) {
            if !SELECTABLE.contains(&name.as_str()) {
                bail!(
                    "unknown stage `{name}`: choose from {} (environment stages follow them)",
                    SELECTABLE.join(", ")
                );
            }
        }
        Ok(SELECTABLE
            .into_iter()
            .filter(|s| self.only.is_empty() || self.only.iter().any(|o| o == s))
            .filter(|s| !self.skip.iter().any(|o| o == s))
            .collect())
    }
}

/// Runs one stage; returns its exit and the path of its report.
fn run_stage(
    ctx: &Ctx,
    name: &str,
    spec: &EnvSpec,
    replicas: u32,
    env: &mut Option<EnvGuard>,
) -> anyhow::Result<(Exit, Option<String>)> {
    let latest = |suite: &str| Some(ctx.relative(&ctx.layout.latest(suite, "md")));
    match name {
        "release-gate" => match stage_flags(&["release-gate"])? {
            Cmd::ReleaseGate(c) => Ok((c.run(ctx)?, latest("release-gate"))),
            _ => unreachable!(),
        },
        "env-up" => {
            let mut guard = EnvGuard::new(env::open(ctx, spec)?, false);
            guard.up().with_context(|| {
                format!("cannot bring the {} environment up", spec.kind.as_str())
            })?;
            guard.ready().with_context(|| {
                format!(
                    "the environment did not become ready within {}",
                    spec.ready_timeout
                )
            })?;
            *env = Some(guard);
            Ok((Exit::OK, None))
        }
        "integration" => match stage_flags(&["integration"])? {
            Cmd::Integration(c) => Ok((c.run_on(ctx, shared(env))?, latest("runtime-integration"))),
            _ => unreachable!(),
        },
        "ops-health" => {
            // The environment's own addresses, not the config's fixed ones.
            let ep = env.as_ref().map(|e| e.endpoints()).unwrap_or_default();
            let mut args = vec![
                "ops".to_string(),
                "health".into(),
                "--api-url".into(),
                spec.health_url.to_string(),
            ];
            if let Some((host, port)) = ep.redis {
                args.extend([
                    "--redis-host".into(),
                    host,
                    "--redis-port".into(),
                    port.to_string(),
                ]);
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            match stage_flags(&args)? {
                Cmd::Ops(OpsCmd::Health(c)) => Ok((c.run(ctx)?, latest("runtime-health-check"))),
                _ => unreachable!(),
            }
        }
        "k6-baseline" => match stage_flags(if ctx.config.gate.require_no_regression {
            &["k6", "baseline", "--compare", "last-pass"]
        } else {
            &["k6", "baseline"]
        })? {
            Cmd::K6(K6Cmd::Baseline(c)) => Ok((c.run_on(ctx, shared(env))?, latest("k6-baseline"))),
            _ => unreachable!(),
        },
        "ops-monitor" => match stage_flags(&["ops", "monitor"])? {
            Cmd::Ops(OpsCmd::Monitor(c)) => Ok((
                c.run_on(ctx, shared(env))?,
                latest("runtime-monitor-snapshot"),
            )),
            _ => unreachable!(),
        },
        "scale" => {
            let e = env.as_mut().context("no environment to scale")?;
            e.scale(replicas)
                .with_context(|| format!("cannot scale the app to {replicas} replicas"))?;
            e.ready()
                .context("the environment is not ready after scaling")?;
            Ok((Exit::OK, None))
        }
        "k6-distributed" => {
            let r = replicas.to_string();
            match stage_flags(&["k6", "distributed", "--replicas", &r])? {
                Cmd::K6(K6Cmd::Distributed(c)) => {
                    Ok((c.run_on(ctx, shared(env))?, latest("k6-distributed")))
                }
                _ => unreachable!(),
            }
        }
        "env-down" => match env.take() {
            Some(guard) => guard.finish().map(|()| (Exit::OK, None)),
            None => Ok((Exit::OK, None)),
        },
        other => bail!("unknown stage {other}"),
    }
}

fn shared(env: &mut Option<EnvGuard>) -> Option<&mut dyn env::Environment> {
    match env {
        Some(g) => Some(&mut **g),
        None => None,
    }
}

/// A stage's options, parsed as if typed (legacy variables apply).
fn stage_flags(args: &[&str]) -> anyhow::Result<Cmd> {
    let argv = std::iter::once("cargo xtask").chain(args.iter().copied());
    let parsed = flags::Xtask::try_parse_from(argv).map_err(|e| {
        anyhow::anyhow!(
            "stage `{}`: {}",
            args.join(" "),
            e.to_string().lines().next().unwrap_or_default()
        )
    })?;
    Ok(parsed.cmd)
}

fn describe(r: &StageResult) -> String {
    match r {
        StageResult::Pass => "PASS".into(),
        StageResult::Planned => "DRY RUN (printed, not run)".into(),
        StageResult::Fail(why) => format!("FAIL ({why})"),
        StageResult::Skipped(why) => format!("SKIPPED ({why})"),
    }
}

fn fill(report: &mut Report, stages: &[Stage]) {
    let rows = stages
        .iter()
        .map(|s| {
            vec![
                s.name.to_string(),
                describe(&s.result),
                report::fmt_ms(s.duration_ms),
                s.report.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    report.table("Stages", &["Stage", "Result", "Duration", "Report"], rows);
    let count =
        |f: fn(&StageResult) -> bool| Some(stages.iter().filter(|s| f(&s.result)).count() as f64);
    report.metric("stages passed", count(|r| *r == StageResult::Pass), "");
    report.metric(
        "stages failed",
        count(|r| matches!(r, StageResult::Fail(_))),
        "",
    );
    report.metric(
        "stages skipped",
        count(|r| matches!(r, StageResult::Skipped(_))),
        "",
    );
}

fn table(stages: &[Stage]) -> String {
    let mut out = format!(
        "{:<16} {:<60} {:>9}  report\n",
        "stage", "result", "duration"
    );
    for s in stages {
        let mut result = describe(&s.result);
        if result.chars().count() > 60 {
            result = result.chars().take(57).collect::<String>() + "...";
        }
        out += &format!(
            "{:<16} {:<60} {:>9}  {}\n",
            s.name,
            result,
            report::fmt_ms(s.duration_ms),
            s.report.as_deref().unwrap_or("-")
        );
    }
    out
}

/// The stages as JUnit test cases: CI test views show the gate at a glance.
pub fn junit_xml(stages: &[Stage], report: &Report) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&apos;")
    };
    let failures = stages
        .iter()
        .filter(|s| matches!(s.result, StageResult::Fail(_)))
        .count();
    let skipped = stages
        .iter()
        .filter(|s| matches!(s.result, StageResult::Skipped(_) | StageResult::Planned))
        .count();
    let total: u64 = stages.iter().map(|s| s.duration_ms).sum();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x += &format!(
        "<testsuite name=\"cargo xtask gate\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{:.3}\" timestamp=\"{}\">\n",
        stages.len(),
        total as f64 / 1000.0,
        esc(&report.started)
    );
    for s in stages {
        x += &format!(
            "  <testcase classname=\"gate\" name=\"{}\" time=\"{:.3}\"",
            esc(s.name),
            s.duration_ms as f64 / 1000.0
        );
        match &s.result {
            StageResult::Pass => x += "/>\n",
            StageResult::Planned => x += ">\n    <skipped message=\"dry run\"/>\n  </testcase>\n",
            StageResult::Fail(why) => {
                x += &format!(
                    ">\n    <failure message=\"{}\">{}</failure>\n  </testcase>\n",
                    esc(why),
                    esc(s.report.as_deref().unwrap_or(""))
                )
            }
            StageResult::Skipped(why) => {
                x += &format!(
                    ">\n    <skipped message=\"{}\"/>\n  </testcase>\n",
                    esc(why)
                )
            }
        }
    }
    x += "</testsuite>\n";
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junit_lists_every_stage_with_escaped_reasons() {
        let stages = vec![
            Stage {
                name: "release-gate",
                result: StageResult::Pass,
                duration_ms: 1500,
                report: None,
            },
            Stage {
                name: "k6-baseline",
                result: StageResult::Fail("p95 <1 & >0".into()),
                duration_ms: 10,
                report: Some("r.md".into()),
            },
            Stage {
                name: "k6-distributed",
                result: StageResult::Skipped("k6-baseline failed".into()),
                duration_ms: 0,
                report: None,
            },
        ];
        let xml = junit_xml(&stages, &Report::new("gate", "Gate"));
        assert!(
            xml.contains("tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\""),
            "{xml}"
        );
        assert!(
            xml.contains("<failure message=\"p95 &lt;1 &amp; &gt;0\">r.md</failure>"),
            "{xml}"
        );
        assert!(
            xml.contains("<skipped message=\"k6-baseline failed\"/>"),
            "{xml}"
        );
        // It parses as XML.
        let mut r = quick_xml::Reader::from_str(&xml);
        while r.read_event().unwrap() != quick_xml::events::Event::Eof {}
    }

    #[test]
    fn unknown_stage_names_are_refused() {
        let g = flags::Gate {
            sub: None,
            keep_going: false,
            only: vec!["k6-basline".into()],
            skip: vec![],
            no_setup: true,
            env: None,
            replicas: None,
        };
        let e = g.selection().unwrap_err().to_string();
        assert!(e.contains("unknown stage `k6-basline`"), "{e}");
    }
}
