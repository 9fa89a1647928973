//! `--engine k6-operator`: the k6 run on a Kubernetes cluster by
//! grafana/k6-operator, its runners' raw samples merged here.
//!
//! - The script as a ConfigMap, made by kubectl itself offline
//!   (`create configmap --dry-run=client -o json`), and a `TestRun`
//!   (`manifest.rs`), both kept in the run folder and applied with
//!   `kubectl apply -f`.
//! - The TestRun followed through its stages (`status.stage`:
//!   initialization, initialized, created, started, stopped, finished, or
//!   error) under a deadline: start-up allowance + the k6 duration + slack.
//! - The runners' output (`kubectl logs` of the pods labelled `app=k6`,
//!   `k6_cr=NAME`, `runner=true`) streamed into one histogram per runner
//!   and one of all their samples together (exact, never an average of
//!   percentiles).
//! - [`Cleanup`]: the TestRun (its jobs and pods go with it) and the
//!   ConfigMap deleted on every exit path: `finish()` reports an error,
//!   `Drop` covers early returns, interrupts and panics.
//!
//! Every kubectl call is a `runner::Step`; every name we pass is checked
//! here ([`Label`], [`KubeContext`], [`Quantity`]) and sent as one
//! `--flag=value` element.

use anyhow::{bail, Context};
use camino::{Utf8Path, Utf8PathBuf};
use serde::Deserialize;

use crate::{context::Ctx, report::Report, samples::Samples, units::NonZeroDuration};

mod cluster;
mod logs;
pub mod manifest;
mod names;

pub use cluster::preflight;
#[cfg(test)]
pub use cluster::{configmap_manifest, Kubectl};
pub use logs::Collected;
pub use names::{Image, KubeContext, Label, Quantity};

#[cfg(test)]
mod tests;

/// Where k6 runs: here (a local k6, or its docker fallback), or on a
/// cluster through k6-operator.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Engine {
    #[default]
    Local,
    K6Operator,
}

/// `--engine k6-operator` with an environment on this machine.
pub const NO_LOCAL_ENV: &str = "--engine k6-operator runs k6 on the cluster, which cannot reach an environment on this machine: use --env external and point --api-host at the API as the cluster sees it";

/// Longest name we give: k6-operator names the runners' jobs
/// `NAME-<i>` and their services `NAME-service-<i>` (RFC 1035 labels, at
/// most 63), and the job controller adds a pod suffix.
pub const MAX_NAME: usize = 40;

/// `[k6.operator]` in xtask.toml.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// kubectl's context [default: its current context].
    pub context: Option<KubeContext>,
    pub namespace: Label,
    /// The runners' image: k6 of the version we pin here.
    pub image: Image,
    /// Each runner's CPU and memory (requests = limits), e.g. "1", "512Mi".
    pub cpu: Option<Quantity>,
    pub memory: Option<Quantity>,
    /// From apply to the runners' start: initializer, image pulls,
    /// scheduling. Added to the k6 deadline.
    pub startup_timeout: NonZeroDuration,
    /// Between two looks at the TestRun's stage.
    pub poll_interval: NonZeroDuration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            context: None,
            namespace: Label("default".into()),
            image: Image("grafana/k6:1.1.0".into()),
            cpu: None,
            memory: None,
            startup_timeout: NonZeroDuration::secs(300),
            poll_interval: NonZeroDuration::secs(2),
        }
    }
}

/// One k6 run on the cluster, resolved.
#[derive(Debug)]
pub struct Plan<'a> {
    pub cluster: &'a Config,
    /// The TestRun's and the ConfigMap's.
    pub name: Label,
    pub script: Utf8PathBuf,
    /// The script's `-e` variables, as the runners' environment (k6 reads
    /// both into `__ENV`).
    pub vars: Vec<(String, String)>,
    pub parallelism: u32,
    /// The k6 run's own deadline (duration + slack); the start-up
    /// allowance is added.
    pub deadline: std::time::Duration,
}

impl Plan<'_> {
    /// The script's key in the ConfigMap: its file name, which must be a
    /// ConfigMap key (letters, digits, `-`, `_`, `.`).
    pub fn script_key(&self) -> anyhow::Result<String> {
        let key = self.script.file_name().unwrap_or_default();
        if key.is_empty()
            || key.starts_with('.')
            || !key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            bail!(
                "the k6 script's file name `{}` cannot be a ConfigMap key: rename it to letters, digits, `-`, `_` and `.`",
                crate::units::quote(key)
            );
        }
        Ok(key.to_string())
    }

    pub fn test_run(&self) -> anyhow::Result<manifest::TestRun> {
        let c = self.cluster;
        let mut resources = manifest::Resources::default();
        for (key, q) in [("cpu", &c.cpu), ("memory", &c.memory)] {
            if let Some(Quantity(q)) = q {
                resources.limits.insert(key, q.clone());
                resources.requests.insert(key, q.clone());
            }
        }
        Ok(manifest::TestRun {
            api_version: manifest::API_VERSION,
            kind: manifest::KIND,
            metadata: manifest::Metadata {
                name: self.name.clone(),
                namespace: c.namespace.clone(),
                labels: manifest::labels(&self.name),
            },
            spec: manifest::Spec {
                parallelism: self.parallelism,
                script: manifest::Script {
                    config_map: manifest::ConfigMapRef {
                        name: self.name.clone(),
                        file: self.script_key()?,
                    },
                },
                arguments: manifest::ARGUMENTS,
                runner: manifest::Runner {
                    image: c.image.to_string(),
                    env: self
                        .vars
                        .iter()
                        .map(|(name, value)| manifest::EnvVar {
                            name: name.clone(),
                            // Kubernetes expands `$(NAME)` in values; `$$`
                            // is its escape for a plain `$`.
                            value: value.replace('$', "$$"),
                        })
                        .collect(),
                    resources,
                    metadata: manifest::PodMetadata {
                        labels: manifest::labels(&self.name),
                    },
                },
            },
        })
    }
}

/// The k6 step of `k6 run|baseline` on the cluster: the TestRun run,
/// then the report's numbers from the runners' merged samples (k6's
/// summary is not there to cross-check: each runner's would cover only
/// its segment). Returns the merged samples, `None` when there are none
/// (a dry run, a TestRun that ended in error before any runner ran).
pub fn execute(
    ctx: &Ctx,
    plan: &Plan,
    report: &mut Report,
    run_dir: &Utf8Path,
) -> anyhow::Result<Option<Samples>> {
    let Some(collected) = cluster::run(ctx, plan, report, run_dir)? else {
        return Ok(None);
    };
    logs::describe(&collected, report);
    let merged = merge(collected);
    let got = crate::samples::stream::Finished {
        samples: merged.clone(),
        abandoned: false,
    };
    crate::samples::numbers::fill(ctx, run_dir, Some(Ok(got)), None, report);
    // Once, on the merged samples: the runners ran with --no-thresholds.
    match crate::tools::k6_local(ctx) {
        Some(k6) => {
            let step = crate::samples::thresholds::inspect(&k6, &plan.script, &plan.vars);
            let out = ctx
                .runner
                .read(&step)
                .context("cannot read the script's thresholds with `k6 inspect`")?;
            let thresholds = crate::samples::thresholds::parse(&out)?;
            crate::samples::thresholds::fill(&thresholds, &merged, report);
        }
        None => report.fail(
            "the script's thresholds were not judged: `k6 inspect` needs k6 on this machine (`cargo xtask setup`)",
        ),
    }
    if merged.lines > 0 {
        report.param(
            "Numbers from",
            format!(
                "the raw samples of {} k6-operator runner(s), merged ({} requests, {} lines); no k6 summary to cross-check (each runner's covers only its segment)",
                plan.parallelism, merged.requests, merged.lines
            ),
        );
    }
    Ok(Some(merged))
}

/// The runners' samples as one run's: their histograms added, counters
/// and rates summed (`samples::merge`, the generators' merge too).
fn merge(c: Collected) -> Samples {
    let parts: Vec<Samples> = c.runners.into_iter().map(|r| r.samples).collect();
    crate::samples::merge::merge(&parts)
}
