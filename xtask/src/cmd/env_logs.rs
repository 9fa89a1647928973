//! `cargo xtask env logs [SERVICE] [--follow] [--tail N]`: the services'
//! logs, for the environment `env up` (or keep-env) recorded: compose's
//! through the engine (`compose logs`), local's from the run folder. A
//! compose project nothing recorded can be named with `--env compose
//! --compose-project NAME`. Secrets are masked on every line.

use anyhow::bail;

use crate::{
    config::EnvKind,
    context::{Ctx, Exit},
    env::{self, services, EnvDefaults, EnvSpec, Environment},
    flags,
};

impl flags::EnvLogs {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        if let Some(s) = &self.service {
            services::check_service_name(s)?;
        }
        let path = env::state::path(ctx);
        let env: Box<dyn Environment> = match env::state::load(ctx)? {
            Some(st) => env::reattach(ctx, &st)?,
            None => {
                let spec = EnvSpec::resolve(ctx, &self.env, &EnvDefaults::default())?;
                match (spec.kind, &spec.compose_project) {
                    (EnvKind::Compose, Some(_)) => env::open(ctx, &spec)?,
                    _ => bail!(
                        "nothing recorded in {}: `cargo xtask env up` starts an environment whose logs this shows (or name a running compose project: --env compose --compose-project NAME)",
                        ctx.relative(&path)
                    ),
                }
            }
        };
        env.show_logs(self.service.as_deref(), self.tail, self.follow)?;
        Ok(Exit::OK)
    }
}
