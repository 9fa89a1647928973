//! `k6 distributed`: the plan resolved before anything starts (k6's
//! settings, its environment through `EnvSpec::resolve`, the balancer, the
//! warm-up, the spread limit), then the run: environment up or scaled,
//! warm-up, k6 in a container on the compose network (or on this host),
//! and the spread of requests over the replicas, measured from outside.

use std::collections::BTreeMap;

use anyhow::{bail, Context};

use super::{
    execute::execute,
    finish_env,
    settings::{api_base, join_url, num},
    warmup::{warm_up, Warmup},
    Settings,
};
use crate::{
    config::EnvKind,
    context::Ctx,
    env::{self, EnvDefaults, EnvGuard, EnvSpec, Environment, Served},
    flags,
    k6::{self, Runtime},
    report::{Report, Run, Threshold},
    tools,
    units::HttpUrl,
};

/// `k6 distributed`, resolved before anything starts.
pub(super) struct DistPlan {
    pub(super) settings: Settings,
    /// Its own environment (not the gate's), resolved the one way.
    pub(super) env: EnvSpec,
    lb_service: String,
    /// Set when the flag (or DIST_LB_SERVICE_NAME) named the balancer.
    lb_override: Option<String>,
    network: Option<String>,
    host_api: HttpUrl,
    /// The API k6 uses (API_HOST), when given; else the environment's.
    api_host: Option<HttpUrl>,
    max_spread: f64,
    /// A spread that cannot be measured fails the run.
    require_spread: bool,
    warmup: Warmup,
}

impl DistPlan {
    pub(super) fn resolve(ctx: &Ctx, f: &flags::K6Distributed) -> anyhow::Result<DistPlan> {
        let c = &ctx.config;
        let d = &c.k6.distributed;
        let settings = Settings::resolve(ctx, &f.k6, d.user_id_base)?;
        let max_spread = f.max_spread_ratio.unwrap_or(d.max_spread_ratio);
        if !(max_spread.is_finite() && max_spread >= 1.0) {
            bail!("bad --max-spread-ratio {max_spread}: the busiest replica's requests over the idlest's, 1.0 or more (e.g. 3)");
        }
        let warmup = Warmup::resolve(ctx, f)?;
        let host_api = f
            .host_api_host
            .clone()
            .unwrap_or_else(|| d.host_api_host.clone());
        // The configuration's health path, on the host's API.
        let health_path = c.environment.health_url.path();
        let opts = flags::EnvOpts {
            kind: f.env,
            compose_file: f.compose_file.clone(),
            compose_project: f.compose_project.clone(),
            replicas: f.replicas,
            keep_env: f.keep_env,
            health_url: Some(format!("{}{health_path}", api_base(&host_api)).parse()?),
            ..Default::default()
        };
        let env = EnvSpec::resolve(ctx, &opts, &EnvDefaults::distributed(c))?;
        Ok(DistPlan {
            settings,
            env,
            lb_service: f
                .lb_service
                .clone()
                .unwrap_or_else(|| c.environment.compose.lb_service.clone()),
            lb_override: f.lb_service.clone(),
            network: f.network.clone(),
            host_api,
            api_host: f.api_host.clone(),
            max_spread,
            require_spread: d.require_spread,
            warmup,
        })
    }

    pub(super) fn run(
        &self,
        ctx: &Ctx,
        report: &mut Report,
        run: &Run,
        mut shared: Option<&mut dyn Environment>,
    ) -> anyhow::Result<()> {
        let s = &self.settings;
        // The gate's environment, when shared, is what runs (its kind, its project).
        let kind = shared.as_deref().map_or(self.env.kind, |e| e.kind());
        match shared.as_deref() {
            Some(env) => {
                report.param(
                    "Environment",
                    format!("{} (shared by the gate)", kind.as_str()),
                );
                for (k, v) in env.describe() {
                    if k == "Compose project" || k == "Compose file" {
                        report.param(&k, v);
                    }
                }
            }
            None => {
                report.param("Environment", kind.as_str());
                if kind == EnvKind::Compose {
                    report.param(
                        "Compose project",
                        self.env.compose_project.as_deref().unwrap_or_default(),
                    );
                    report.param("Compose file", ctx.relative(&self.env.compose_file));
                }
            }
        }
        report.param("Replicas", self.env.replicas);
        if kind == EnvKind::Compose {
            report.param("LB service", &self.lb_service);
        }
        report.param("Keep env", self.env.keep_env);
        report.param("Max spread ratio", num(self.max_spread));

        let mut up: Option<EnvGuard> = None;
        let mut eps = env::Endpoints::default();
        if let Some(env) = shared.as_deref_mut() {
            // The gate's (or a reused) environment: scale it to this stage's replicas.
            if env.origin().is_some() {
                env::reuse::record(report, env);
            }
            env::rescale(env, self.env.replicas)?;
            eps = env.endpoints();
        } else if self.env.kind != EnvKind::External {
            let mut e = EnvGuard::start(ctx, &self.env, report)?;
            eps = e.endpoints();
            // A reused environment may run another number of replicas.
            if !eps.replicas.is_empty() && eps.replicas.len() != self.env.replicas.get() as usize {
                env::rescale(&mut *e, self.env.replicas)?;
                eps = e.endpoints();
            }
            up = Some(e);
        }
        // Requests per replica, counted from outside the service.
        let served = |shared: &Option<&mut dyn Environment>, up: &Option<EnvGuard>| {
            shared
                .as_deref()
                .or(up.as_deref())
                .map(|e| e.served())
                .unwrap_or_else(|| Served::NotMeasured(env::EXTERNAL_NOT_MEASURED.into()))
        };
        let host_api = eps.api.clone().unwrap_or_else(|| self.host_api.clone());
        report.param("Host API host", api_base(&host_api));
        s.params(ctx, report);

        warm_up(ctx, &self.warmup, &join_url(&host_api)?, s, report)?;

        // Compose: k6 in a container on the compose network, against the
        // balancer's internal address (the legacy way) or API_HOST.
        let network = self.network.clone().or(eps.network.clone());
        let internal = match (&self.api_host, &self.lb_override) {
            (Some(api), _) => Some(api.clone()),
            // DIST_LB_SERVICE_NAME names the balancer on the compose network.
            (None, Some(lb)) => Some(
                format!("http://{lb}:{}", ctx.config.environment.compose.lb_port)
                    .parse::<HttpUrl>()
                    .with_context(|| format!("bad load balancer service name `{lb}`"))?,
            ),
            (None, None) => eps.internal_api.clone(),
        };
        let (rt, api) = match (kind, &network, &internal) {
            (EnvKind::Compose, Some(net), Some(internal)) => {
                // A dry run asks docker nothing: it plans the container.
                let planned = || {
                    ctx.runner.plan_lines(&format!(
                        "k6 runs in a container on {net} when the image {} is present, else on this host against {}",
                        s.docker_image,
                        api_base(self.api_host.as_ref().unwrap_or(&host_api))
                    ));
                    true
                };
                let present = ctx.runner.answer(
                    || crate::images::image_present(&ctx.runner, "docker", &s.docker_image),
                    planned,
                );
                if present {
                    (s.docker(ctx, run, net), internal.clone())
                } else if let Some(program) = tools::k6_local(ctx) {
                    // API_HOST, when given, is still what k6 is pointed at.
                    let api = self.api_host.clone().unwrap_or_else(|| host_api.clone());
                    report.note(format!(
                        "image {} is not present locally (no registry?): k6 ran on this host against {}",
                        s.docker_image,
                        api_base(&api)
                    ));
                    (Runtime::Local { program }, api)
                } else {
                    (s.docker(ctx, run, net), internal.clone())
                }
            }
            _ => (
                s.runtime(ctx, run, &s.docker_network),
                self.api_host.clone().unwrap_or_else(|| host_api.clone()),
            ),
        };
        // The API as k6 sees it (inside the compose network: the internal one).
        report.param("API host", api_base(&api));

        let before = settled(|| served(&shared, &up));
        if s.engine == crate::operator::Engine::K6Operator {
            super::api::on_cluster(ctx, s, &api, report, run)?;
        } else {
            execute(ctx, s, &rt, &api, report, run)?;
        }
        // A dry run measured nothing to judge.
        if let Some(after) = ctx.runner.real_only(|| settled(|| served(&shared, &up))) {
            self.judge_spread(&after.since(&before), report);
        }
        if let Some(e) = up {
            finish_env(e, self.env.keep_env, report);
        }
        Ok(())
    }

    /// Requests per replica, measured from outside: every replica served
    /// some, and the busiest served at most max_spread times what the
    /// idlest did. Not measurable: a note, a FAIL only with require_spread.
    fn judge_spread(&self, served: &Served, report: &mut Report) {
        let (method, counts) = match served {
            Served::Counted { method, counts } => (method, counts),
            Served::NotMeasured(why) => {
                report.param("Spread", "not measured");
                let note = format!("requests per replica not measured: {why}");
                if self.require_spread {
                    report.fail(format!("{note} ([k6.distributed] require_spread = true)"));
                } else {
                    report.note(note);
                }
                return;
            }
        };
        report.param("Spread measured by", method);
        if counts.len() != self.env.replicas.get() as usize {
            report.fail(format!(
                "expected {} replicas behind the load balancer, found {}: {}",
                self.env.replicas,
                counts.len(),
                if counts.is_empty() {
                    "none".to_string()
                } else {
                    counts.keys().cloned().collect::<Vec<_>>().join(", ")
                }
            ));
        }
        if counts.is_empty() {
            return;
        }
        let counts: BTreeMap<String, f64> =
            counts.iter().map(|(k, n)| (k.clone(), *n as f64)).collect();
        let total: f64 = counts.values().sum();
        let rows = counts
            .iter()
            .map(|(id, n)| {
                let share = if total > 0.0 { n / total * 100.0 } else { 0.0 };
                vec![id.clone(), num(*n), format!("{share:.1}%")]
            })
            .collect();
        report.table(
            "Requests per replica",
            &["Replica", "Requests", "Share"],
            rows,
        );
        let spread = k6::spread(&counts);
        for id in &spread.idle {
            report.fail(format!("replica {id} served no request"));
        }
        if let Some(ratio) = spread.ratio {
            let t = Threshold::check(
                "spread (busiest / idlest)",
                Some(ratio),
                crate::report::Cmp::AtMost,
                self.max_spread,
            );
            if !t.ok {
                report.note(format!(
                    "load spread {} is above the limit {}: the balancer favours some replicas",
                    num(ratio),
                    num(self.max_spread)
                ));
            }
            report.threshold(t);
        }
    }
}

/// A snapshot that no longer moves: nginx writes a request's access-log
/// line just after the answer left, so the last warm-up or k6 request may
/// land a moment after its client returned. Two equal snapshots 100 ms
/// apart, for at most 2 s.
fn settled(snapshot: impl Fn() -> Served) -> Served {
    let mut last = snapshot();
    for _ in 0..20 {
        if matches!(last, Served::NotMeasured(_)) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        let next = snapshot();
        if next == last {
            break;
        }
        last = next;
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::Duration;

    const DISTRIBUTED_TITLE: &str = super::super::DISTRIBUTED_TITLE;

    fn plan(replicas: u32, max_spread: f64) -> DistPlan {
        DistPlan {
            settings: super::super::settings::tests::example(),
            env: EnvSpec {
                kind: EnvKind::External,
                replicas: crate::units::Replicas::new(replicas).unwrap(),
                compose_project: Some("p".into()),
                compose_file: "f".into(),
                keep_env: false,
                health_url: "http://127.0.0.1:1/health".parse().unwrap(),
                ready_timeout: Duration::secs(1),
            },
            lb_service: "lb".into(),
            lb_override: None,
            network: None,
            host_api: "http://127.0.0.1:1".parse().unwrap(),
            api_host: None,
            max_spread,
            require_spread: false,
            warmup: Warmup {
                max_attempts: 1,
                consecutive: 1,
                sleep: Duration::secs(1),
                burst_requests: 1,
                burst_attempts: 1,
            },
        }
    }

    fn counted(v: &[(&str, u64)]) -> Served {
        Served::Counted {
            method: "TCP connections each `app` container accepted".into(),
            counts: v.iter().map(|(k, n)| (k.to_string(), *n)).collect(),
        }
    }

    #[test]
    fn spread_over_replicas_as_measured_from_outside() {
        let mut r = Report::new("k6-distributed", DISTRIBUTED_TITLE);
        plan(2, 3.0).judge_spread(&counted(&[("demo-a", 148), ("demo-b", 157)]), &mut r);
        assert!(r.passed(), "{:?}", r.notes);
        assert_eq!(r.tables[0].rows[0], ["demo-a", "148", "48.5%"]);
        assert_eq!(r.tables[0].rows[1], ["demo-b", "157", "51.5%"]);

        // demo-c runs but served nothing.
        let mut r = Report::new("k6-distributed", DISTRIBUTED_TITLE);
        let idle = counted(&[("demo-a", 148), ("demo-b", 157), ("demo-c", 0)]);
        plan(3, 3.0).judge_spread(&idle, &mut r);
        assert!(!r.passed());
        assert_eq!(r.notes, ["replica demo-c served no request"]);

        // A tight limit: 157/148 is above 1.01.
        let mut r = Report::new("k6-distributed", DISTRIBUTED_TITLE);
        plan(2, 1.01).judge_spread(&counted(&[("demo-a", 148), ("demo-b", 157)]), &mut r);
        assert!(!r.passed());
        assert_eq!(
            r.notes,
            ["load spread 1.0608 is above the limit 1.01: the balancer favours some replicas"]
        );
    }

    #[test]
    fn fewer_replicas_than_asked_for_is_a_failure() {
        let mut r = Report::new("k6-distributed", DISTRIBUTED_TITLE);
        plan(3, 3.0).judge_spread(&counted(&[("demo-a", 9), ("demo-b", 8)]), &mut r);
        assert_eq!(
            r.notes,
            ["expected 3 replicas behind the load balancer, found 2: demo-a, demo-b"]
        );
    }

    #[test]
    fn an_unmeasured_spread_is_a_note_unless_the_config_requires_it() {
        let why = Served::NotMeasured("the external environment runs elsewhere".into());
        let mut r = Report::new("k6-distributed", DISTRIBUTED_TITLE);
        plan(3, 3.0).judge_spread(&why, &mut r);
        assert!(r.passed(), "{:?}", r.notes);
        assert_eq!(
            r.notes,
            ["requests per replica not measured: the external environment runs elsewhere"]
        );
        assert!(r.tables.is_empty());

        let mut strict = plan(3, 3.0);
        strict.require_spread = true;
        let mut r = Report::new("k6-distributed", DISTRIBUTED_TITLE);
        strict.judge_spread(&why, &mut r);
        assert!(!r.passed());
        assert_eq!(
            r.notes,
            ["requests per replica not measured: the external environment runs elsewhere ([k6.distributed] require_spread = true)"]
        );
    }
}
