//! `cargo xtask k6 run|baseline|distributed` (legacy run-k6-waiting-queue.sh,
//! run-k6-baseline.sh, run-k6-waiting-queue-distributed.sh): the three entry
//! points.
//!
//! Each is one suite run: resolve the options once (`settings`; the
//! environment through `EnvSpec::resolve`), bring an environment up when
//! asked, probe the API (`api`), warm up (`warmup`, distributed), run k6 once
//! through the runner (`execute`), judge (`limits`, `distributed`'s spread),
//! write the report.

use crate::{
    config::EnvKind,
    context::{Ctx, Exit},
    env::{self, EnvGuard, Environment},
    flags, regress,
    report::Report,
};

mod api;
mod distributed;
mod execute;
mod generators;
mod limits;
mod settings;
mod warmup;

use distributed::DistPlan;
use limits::Limits;
use settings::Settings;

const RUN_TITLE: &str = "k6 Waiting Queue Load Test Report";
const BASELINE_TITLE: &str = "k6 Baseline Report";
const DISTRIBUTED_TITLE: &str = "k6 Distributed Load Test Report";

/// Per request, for the health probe and the warm-up.
const HTTP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

impl flags::K6Run {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        let s = Settings::resolve(ctx, &self.k6, ctx.config.k6.user_id_base)?;
        let own = api::own_env(ctx, &self)?;
        let found = env::reuse::find(ctx, &self.reuse_wanted())?;
        api::preflight(ctx, &s, own.as_ref(), found.is_some())?;
        let (_, exit) = ctx.run_suite("k6", RUN_TITLE, s.run_options(), |report, run| {
            let mut reused = found.map(|f| f.guard(ctx, report, None)).transpose()?;
            let env = env::reuse::either(None, &mut reused);
            api::run_against_api(ctx, &self, &s, own.as_ref(), report, run, env).map(drop)
        })?;
        Ok(exit)
    }
}

impl flags::K6Baseline {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        self.run_on(ctx, None)
    }

    /// On `shared` (the gate's environment) when given, else as configured.
    pub fn run_on(
        self,
        ctx: &Ctx,
        mut shared: Option<&mut dyn Environment>,
    ) -> anyhow::Result<Exit> {
        let s = Settings::resolve(ctx, &self.run.k6, ctx.config.k6.user_id_base)?;
        let limits = Limits::resolve(ctx, &self)?;
        let own = api::own_env(ctx, &self.run)?;
        let found =
            env::reuse::find_unless_shared(ctx, shared.is_some(), &self.run.reuse_wanted())?;
        if shared.is_none() {
            api::preflight(ctx, &s, own.as_ref(), found.is_some())?;
        }
        // Found before the run: a name that matches nothing is bad input.
        let compare = match &self.compare {
            Some(t) => Some(regress::resolve(ctx, "k6-baseline", t)?),
            None => None,
        };
        // As run-k6-baseline.sh: K6_BASELINE_REPORT_FILE is this report's
        // copy; K6_REPORT_FILE stays the k6-run report's (k6-latest.md),
        // which a baseline also writes, as the legacy run did.
        let mut opts = s.run_options();
        opts.report_file = self.baseline_report_file.as_deref().map(|p| ctx.path(p));
        let summary_copy = self
            .baseline_summary_json
            .as_deref()
            .map(|p| ctx.path(p))
            .unwrap_or_else(|| {
                ctx.layout
                    .latest_dir("k6-baseline")
                    .join("k6-baseline-summary.json")
            });
        let mut k6_run = None;
        let (baseline, exit) =
            ctx.run_suite("k6-baseline", BASELINE_TITLE, opts, |report, run| {
                let mut reused = found.map(|f| f.guard(ctx, report, None)).transpose()?;
                let env = env::reuse::either(shared.take(), &mut reused);
                api::run_against_api(ctx, &self.run, &s, own.as_ref(), report, run, env)?;
                // A dry run has no numbers to judge.
                let judge = || -> anyhow::Result<()> {
                    let mut plain = report.clone();
                    plain.suite = "k6".into();
                    plain.title = RUN_TITLE.into();
                    k6_run = Some(plain);
                    limits.params(report);
                    limits::copy_summary(ctx, report, run, &s.summary_path(run), &summary_copy)?;
                    limits.judge(report);
                    match &compare {
                        None => {}
                        Some(None) => report.note(
                            "no passing run of k6-baseline with samples to compare with yet: this run can be the first baseline",
                        ),
                        Some(Some(base)) => {
                            if let Err(e) = regress::check(ctx, report, base, &run.dir) {
                                report.fail(format!("{e:#}"));
                            }
                        }
                    }
                    Ok(())
                };
                ctx.runner.real_only(judge).transpose()?;
                Ok(())
            })?;
        if let Some(plain) = k6_run {
            // The k6-run report of the same run (k6-latest.md), judged by k6's
            // exit code alone, as run-k6-waiting-queue.sh judged it.
            if let Err(e) = crate::report::write_companion(
                &ctx.layout,
                &ctx.lock_dir(),
                plain,
                &baseline,
                s.report_file.as_deref(),
            ) {
                eprintln!("k6-baseline: the k6-run report was not written: {e:#}");
            }
        }
        Ok(exit)
    }
}

impl flags::K6Distributed {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        self.run_on(ctx, None)
    }

    /// On `shared` (the gate's environment, scaled to the replicas) when
    /// given, else on an environment of its own.
    pub fn run_on(
        self,
        ctx: &Ctx,
        mut shared: Option<&mut dyn Environment>,
    ) -> anyhow::Result<Exit> {
        let plan = DistPlan::resolve(ctx, &self)?;
        let on_cluster = plan.settings.engine == crate::operator::Engine::K6Operator;
        if on_cluster && (shared.is_some() || plan.env.kind != EnvKind::External) {
            anyhow::bail!(crate::operator::NO_LOCAL_ENV);
        }
        plan.settings.preflight(ctx)?;
        let want = env::reuse::Want {
            kind: self.env,
            project: self.compose_project.clone(),
            fresh: self.fresh,
        };
        let found = env::reuse::find_unless_shared(ctx, shared.is_some(), &want)?;
        if on_cluster && found.is_some() {
            anyhow::bail!(crate::operator::NO_LOCAL_ENV);
        }
        if shared.is_none() && found.is_none() && plan.env.kind != EnvKind::External {
            env::preflight(ctx, &plan.env)?;
        }
        let (_, exit) = ctx.run_suite(
            "k6-distributed",
            DISTRIBUTED_TITLE,
            plan.settings.run_options(),
            |report, run| {
                // A reused environment is scaled by the run and back here.
                let mut reused = found.map(|f| f.guard(ctx, report, None)).transpose()?;
                let env = env::reuse::either(shared.take(), &mut reused);
                let ran = plan.run(ctx, report, run, env);
                if let Some(Err(e)) = reused.map(EnvGuard::finish) {
                    report.fail(format!("{e:#}"));
                }
                ran
            },
        )?;
        Ok(exit)
    }
}

/// The explicit teardown, whose error the report shows.
fn finish_env(guard: EnvGuard, keep_env: bool, report: &mut Report) {
    if keep_env {
        report.note("environment left running (keep-env)");
    }
    if let Err(e) = guard.finish() {
        report.fail(format!("environment teardown failed: {e:#}"));
    }
}
