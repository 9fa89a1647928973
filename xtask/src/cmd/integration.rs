//! `cargo xtask integration`.

use crate::{
    context::{not_built, Ctx, Exit},
    flags,
};

impl flags::Integration {
    pub fn run(self, _ctx: &Ctx) -> anyhow::Result<Exit> {
        not_built("integration")
    }
}
