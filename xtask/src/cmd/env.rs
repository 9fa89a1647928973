//! `cargo xtask env up|down|status`.

use crate::{
    context::{not_built, Ctx, Exit},
    flags::EnvOpts,
};

pub fn up(_o: EnvOpts, _ctx: &Ctx) -> anyhow::Result<Exit> {
    not_built("env up")
}
pub fn down(_o: EnvOpts, _ctx: &Ctx) -> anyhow::Result<Exit> {
    not_built("env down")
}
pub fn status(_o: EnvOpts, _ctx: &Ctx) -> anyhow::Result<Exit> {
    not_built("env status")
}
