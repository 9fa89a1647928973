//! The dialogue with the cluster, all through kubectl steps: the
//! ConfigMap made offline, both manifests applied, the TestRun's stages
//! followed under the deadline, the runners' logs streamed into their
//! histograms and the merged ones, and [`Cleanup`], which deletes what was
//! applied on every exit path.

use std::time::Instant;

use anyhow::{bail, Context};
use camino::Utf8Path;
use serde::Deserialize;

use super::{
    logs::{collect, Collected, Following},
    manifest, Config, KubeContext, Label, Plan,
};
use crate::{
    context::Ctx,
    report::Report,
    runner::{self, Interrupted, Outcome, Runner, Step},
    units::Duration,
};

/// The TestRun's resource, in full: another CRD may also be a `testrun`.
const RESOURCE: &str = "testruns.k6.io";

const KUBECTL_HINT: &str = "install kubectl (Debian: apt-get install kubernetes-client; `cargo xtask setup` does it when kubectl is missing)";

/// kubectl with our context and namespace, as argument vectors.
#[derive(Clone, Debug)]
pub struct Kubectl {
    context: Option<KubeContext>,
    namespace: Label,
}

impl Kubectl {
    pub fn new(c: &Config) -> Kubectl {
        Kubectl {
            context: c.context.clone(),
            namespace: c.namespace.clone(),
        }
    }

    pub fn step<'s>(&self, what: &str, args: impl IntoIterator<Item = &'s str>) -> Step {
        let mut step = Step::new(format!("kubectl {what}"), "kubectl")
            .hint(KUBECTL_HINT)
            .deadline(std::time::Duration::from_secs(60));
        if let Some(c) = &self.context {
            step = step.arg(format!("--context={c}"));
        }
        step.arg(format!("--namespace={}", self.namespace))
            .args(args)
    }

    /// Without the context: kubectl refuses a context it does not know
    /// even for what it does offline (`--dry-run=client`).
    fn offline_step<'s>(&self, what: &str, args: impl IntoIterator<Item = &'s str>) -> Step {
        Step::new(format!("kubectl {what}"), "kubectl")
            .hint(KUBECTL_HINT)
            .deadline(std::time::Duration::from_secs(60))
            .arg(format!("--namespace={}", self.namespace))
            .args(args)
    }

    fn where_(&self) -> String {
        match &self.context {
            Some(c) => format!("namespace {} of context {c}", self.namespace),
            None => format!("namespace {} of kubectl's current context", self.namespace),
        }
    }
}

/// Fails with exit 127 before the run when kubectl is missing.
pub fn preflight() -> anyhow::Result<()> {
    Step::new("kubectl", "kubectl").hint(KUBECTL_HINT).require()
}

/// Deletes the TestRun (its jobs and pods go with it) and the ConfigMap:
/// `finish` says whether that worked; dropped unfinished (an error, an
/// interrupt, a panic) it deletes them all the same.
pub struct Cleanup {
    runner: Runner,
    kubectl: Kubectl,
    name: Label,
    armed: bool,
}

impl Cleanup {
    pub fn new(runner: &Runner, kubectl: &Kubectl, name: &Label) -> Cleanup {
        Cleanup {
            runner: runner.clone(),
            kubectl: kubectl.clone(),
            name: name.clone(),
            armed: true,
        }
    }

    pub fn finish(mut self) -> anyhow::Result<()> {
        self.armed = false;
        self.delete()
    }

    fn delete(&self) -> anyhow::Result<()> {
        let testrun = format!("{RESOURCE}/{}", self.name);
        let configmap = format!("configmap/{}", self.name);
        // A teardown step: runs after an interrupt too; `--wait=false` so
        // that the garbage collector, not we, waits for the pods to go.
        let step = self
            .kubectl
            .step(
                "delete",
                [
                    "delete",
                    testrun.as_str(),
                    configmap.as_str(),
                    "--ignore-not-found",
                    "--wait=false",
                ],
            )
            .cleanup()
            .deadline(std::time::Duration::from_secs(5))
            .grace(std::time::Duration::from_millis(500));
        let rec = self.runner.run(&step)?;
        if !rec.ok() {
            bail!(
                "`kubectl delete {testrun} {configmap}` failed ({}): delete them by hand in {}",
                rec.outcome.describe(),
                self.kubectl.where_()
            );
        }
        Ok(())
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if self.armed {
            if let Err(e) = self.delete() {
                eprintln!("k6-operator: {e:#}");
            }
        }
    }
}

/// The last stage seen, and when.
struct Seen {
    stage: String,
    at: Instant,
}

/// Runs the plan on the cluster and fills the report's k6-operator part.
/// The TestRun and the ConfigMap are gone when this returns, whatever
/// happened.
pub fn run(
    ctx: &Ctx,
    plan: &Plan,
    report: &mut Report,
    dir: &Utf8Path,
) -> anyhow::Result<Option<Collected>> {
    let kubectl = Kubectl::new(plan.cluster);
    report.param(
        "Engine",
        format!(
            "k6-operator: TestRun {} in {}, {} runner(s), image {}",
            plan.name,
            kubectl.where_(),
            plan.parallelism,
            plan.cluster.image
        ),
    );
    let folder = dir.join("k6-operator");
    let configmap = folder.join("configmap.json");
    let testrun = folder.join("testrun.json");
    let cm = configmap_manifest(&ctx.runner, &kubectl, plan)?;
    let tr = serde_json::to_vec_pretty(&plan.test_run()?)?;
    let write = || -> anyhow::Result<()> {
        std::fs::create_dir_all(&folder).with_context(|| format!("cannot create {folder}"))?;
        crate::report::write_atomic(&configmap, &cm)?;
        crate::report::write_atomic(&testrun, &tr)
    };
    // A dry run prints the manifests' commands; it writes no files.
    if ctx.runner.real_only(write).transpose()?.is_some() {
        report.artifact("k6-operator ConfigMap", ctx.relative(&configmap));
        report.artifact("k6-operator TestRun", ctx.relative(&testrun));
    }
    // Armed before the first apply: a half-applied pair is deleted too.
    let cleanup = Cleanup::new(&ctx.runner, &kubectl, &plan.name);
    let mut following = None;
    let ran = on_cluster(
        ctx,
        plan,
        &kubectl,
        report,
        [&configmap, &testrun],
        &mut following,
    );
    if let Err(e) = cleanup.finish() {
        report.fail(format!("{e:#}"));
    }
    // Left by an error: with the TestRun gone their streams end.
    if let Some(f) = following {
        f.abandon(ctx, std::time::Duration::from_secs(10));
    }
    ran
}

/// The ConfigMap of the script, made by kubectl offline, with our labels.
pub fn configmap_manifest(
    runner: &Runner,
    kubectl: &Kubectl,
    plan: &Plan,
) -> anyhow::Result<Vec<u8>> {
    let from = format!("--from-file={}={}", plan.script_key()?, plan.script);
    let name = plan.name.to_string();
    let step = kubectl
        .offline_step(
            "create configmap",
            [
                "create",
                "configmap",
                name.as_str(),
                from.as_str(),
                "--dry-run=client",
                "--output=json",
            ],
        )
        // Offline (--dry-run=client): it only prints the manifest.
        .read_only();
    let out = runner
        .read(&step)
        .context("cannot make the script's ConfigMap with kubectl (offline, --dry-run=client)")?;
    let mut cm: serde_json::Value = serde_json::from_str(&out)
        .with_context(|| format!("`{}` printed no JSON object", step.display()))?;
    let Some(meta) = cm.get_mut("metadata").and_then(|m| m.as_object_mut()) else {
        bail!("`{}` printed a ConfigMap without metadata", step.display());
    };
    meta.insert(
        "labels".into(),
        serde_json::to_value(manifest::labels(&plan.name))?,
    );
    Ok(serde_json::to_vec_pretty(&cm)?)
}

fn on_cluster(
    ctx: &Ctx,
    plan: &Plan,
    kubectl: &Kubectl,
    report: &mut Report,
    [configmap, testrun]: [&Utf8Path; 2],
    following: &mut Option<Following>,
) -> anyhow::Result<Option<Collected>> {
    for (what, file) in [("ConfigMap", configmap), ("TestRun", testrun)] {
        let file = format!("--filename={file}");
        let step = kubectl.step(&format!("apply {what}"), ["apply", file.as_str()]);
        let rec = ctx.runner.run(&step)?;
        report.step(&rec);
        ensure(&rec.outcome, || {
            format!(
                "cannot apply the {what} in {} (is k6-operator installed there? `kubectl get crd testruns.k6.io`)",
                kubectl.where_()
            )
        })?;
    }
    let until = Instant::now() + plan.cluster.startup_timeout.get().std() + plan.deadline;
    let follow_it = || {
        follow(ctx, plan, kubectl, &mut |stage| {
            if following.is_none() && stage == "started" {
                *following = Following::start(ctx, plan, kubectl, until)?;
            }
            Ok(())
        })
    };
    // A dry run has no TestRun to follow.
    let Some(end) = ctx.runner.real_only(follow_it) else {
        return Ok(None);
    };
    let end = end?;
    if end.stage != "error" {
        if let Some(f) = following.take() {
            return f.finish(ctx, plan, kubectl).map(Some);
        }
    }
    if end.stage == "error" {
        report.fail(format!(
            "k6-operator: TestRun {} ended in stage `error`{}: see `kubectl describe testruns.k6.io {}` and the operator's log",
            plan.name,
            end.why.map(|w| format!(" ({w})")).unwrap_or_default(),
            plan.name
        ));
        // Whatever runners ran still show what they measured.
        return Ok(collect(ctx, plan, kubectl).ok());
    }
    collect(ctx, plan, kubectl).map(Some)
}

/// Interrupted outcomes become the `Interrupted` error (exit 130/143);
/// other failures the message of `what`.
fn ensure(o: &Outcome, what: impl FnOnce() -> String) -> anyhow::Result<()> {
    match o {
        o if o.success() => Ok(()),
        Outcome::Interrupted { signal } => Err(Interrupted(*signal).into()),
        o => bail!("{}: {}", what(), o.describe()),
    }
}

struct End {
    stage: String,
    why: Option<String>,
}

#[derive(Deserialize)]
struct Observed {
    #[serde(default)]
    status: Status,
}

#[derive(Default, Deserialize)]
struct Status {
    #[serde(default)]
    stage: String,
    #[serde(default)]
    conditions: Vec<Condition>,
}

#[derive(Deserialize)]
struct Condition {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    message: String,
}

/// Polls the TestRun's stage until `finished` or `error`, the deadline, an
/// interrupt, or its disappearance.
fn follow(
    ctx: &Ctx,
    plan: &Plan,
    kubectl: &Kubectl,
    on_stage: &mut dyn FnMut(&str) -> anyhow::Result<()>,
) -> anyhow::Result<End> {
    let started = Instant::now();
    let startup = plan.cluster.startup_timeout.get();
    let limit = startup.std() + plan.deadline;
    let name = plan.name.to_string();
    let step = kubectl
        .step(
            "get testrun",
            [
                "get",
                RESOURCE,
                name.as_str(),
                "--output=json",
                "--ignore-not-found",
            ],
        )
        .deadline(std::time::Duration::from_secs(15))
        .read_only();
    let mut seen: Option<Seen> = None;
    let mut failures = 0;
    loop {
        let out = match ctx.runner.read(&step) {
            Ok(out) => {
                failures = 0;
                out
            }
            Err(e) if e.downcast_ref::<Interrupted>().is_some() => return Err(e),
            // The API server may blink: three failures in a row end it.
            Err(e) if failures < 2 => {
                failures += 1;
                ctx.runner.say(&format!("k6-operator: {e:#}; asking again"));
                runner::sleep(plan.cluster.poll_interval.get().std())?;
                continue;
            }
            Err(e) => {
                return Err(e).context(format!(
                    "cannot follow TestRun {name} in {}",
                    kubectl.where_()
                ))
            }
        };
        if out.trim().is_empty() {
            bail!(
                "k6-operator: TestRun {name} was deleted from outside (last stage seen: {}): its runners and their results are gone; nothing to merge",
                seen.as_ref().map_or("none", |s| s.stage.as_str())
            );
        }
        let observed: Observed = serde_json::from_str(&out).with_context(|| {
            format!(
                "`{}` printed something that is not a TestRun",
                step.display()
            )
        })?;
        let stage = observed.status.stage;
        if seen.as_ref().map(|s| &s.stage) != Some(&stage) {
            let shown = if stage.is_empty() {
                "(none yet)"
            } else {
                stage.as_str()
            };
            ctx.runner.say(&format!(
                "k6-operator: TestRun {name}: stage {shown} after {}",
                Duration::millis(started.elapsed().as_millis() as u64)
            ));
            seen = Some(Seen {
                stage: stage.clone(),
                at: Instant::now(),
            });
        }
        on_stage(&stage)?;
        match stage.as_str() {
            "finished" => return Ok(End { stage, why: None }),
            "error" => {
                let why = observed
                    .status
                    .conditions
                    .iter()
                    .filter(|c| !c.message.is_empty())
                    .map(|c| format!("{} {}: {}", c.kind, c.status, c.message))
                    .collect::<Vec<_>>()
                    .join("; ");
                return Ok(End {
                    stage,
                    why: (!why.is_empty()).then_some(why),
                });
            }
            _ => {}
        }
        if started.elapsed() >= limit {
            let s = seen.as_ref().expect("a stage was seen");
            bail!(
                "k6-operator: TestRun {name} still in stage `{}` after {} (start-up {} + k6 {}; in that stage for {}): deleted, no results",
                if s.stage.is_empty() { "(none)" } else { s.stage.as_str() },
                Duration(limit),
                startup,
                Duration(plan.deadline),
                Duration::millis(s.at.elapsed().as_millis() as u64)
            );
        }
        runner::sleep(plan.cluster.poll_interval.get().std())?;
    }
}
