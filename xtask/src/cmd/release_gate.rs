//! `cargo xtask release-gate`.

use crate::{
    context::{not_built, Ctx, Exit},
    flags,
};

impl flags::ReleaseGate {
    pub fn run(self, _ctx: &Ctx) -> anyhow::Result<Exit> {
        not_built("release-gate")
    }
}
