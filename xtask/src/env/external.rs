//! The external environment: something already runs (started by hand, or
//! elsewhere). Nothing is started or stopped; `ready` only probes.

use crate::units::Replicas;
use anyhow::{bail, Context};

use super::{Endpoints, EnvSpec, Environment, Served};
use crate::{config::EnvKind, context::Ctx, runner::Runner};

pub struct External {
    spec: EnvSpec,
    redis: Option<(String, u16)>,
    poll: std::time::Duration,
    runner: Runner,
}

impl External {
    pub fn open(ctx: &Ctx, spec: &EnvSpec) -> anyhow::Result<External> {
        let redis = match &ctx.config.environment.external.redis {
            Some(r) => {
                Some(crate::config::parse_host_port(r).context("in [environment.external].redis")?)
            }
            None => None,
        };
        Ok(External {
            spec: spec.clone(),
            redis,
            poll: ctx.config.environment.poll_interval.std(),
            runner: ctx.runner.clone(),
        })
    }
}

impl Environment for External {
    fn kind(&self) -> EnvKind {
        EnvKind::External
    }

    fn up(&mut self) -> anyhow::Result<()> {
        Ok(())
    }

    fn ready(&mut self) -> anyhow::Result<()> {
        let url = &self.spec.health_url;
        let deadline = self.spec.ready_timeout.std();
        let what = format!("{url} (external)");
        let wait = || {
            let waited =
                super::wait_http_ok(&self.runner, &what, url, deadline, self.poll, || Ok(()));
            if crate::runner::interrupted().is_some() {
                return waited;
            }
            waited.context("the external environment does not answer: start it first, or check the health URL (--health-url, IT_HEALTH_URL, [environment].health_url)")
        };
        self.runner
            .wait(format_args!("{url} to answer 2xx"), deadline, wait)
    }

    fn endpoints(&self) -> Endpoints {
        Endpoints {
            api: Some(super::origin(&self.spec.health_url)),
            redis: self.redis.clone(),
            ..Endpoints::default()
        }
    }

    fn logs(&self, service: &str, _tail: u32) -> anyhow::Result<String> {
        bail!("the external environment's logs are not ours to read (service `{service}`): read them where it runs, or use --env compose|local")
    }

    fn scale(&mut self, replicas: Replicas) -> anyhow::Result<()> {
        if replicas == self.spec.replicas {
            return Ok(());
        }
        bail!("cannot scale an external environment to {replicas} replicas: it is managed elsewhere; use --env compose|local")
    }

    fn down(&mut self) -> anyhow::Result<()> {
        Ok(())
    }

    fn describe(&self) -> Vec<(String, String)> {
        let mut d = vec![
            ("Provider".to_string(), "external".to_string()),
            ("Health URL".into(), self.spec.health_url.to_string()),
        ];
        if let Some((h, p)) = &self.redis {
            d.push(("Redis".into(), format!("{h}:{p}")));
        }
        d
    }

    fn served(&self) -> Served {
        Served::NotMeasured(super::EXTERNAL_NOT_MEASURED.into())
    }
}
