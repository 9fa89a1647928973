//! `cargo xtask ops health|monitor`.

use crate::{
    context::{not_built, Ctx, Exit},
    flags,
};

impl flags::OpsHealth {
    pub fn run(self, _ctx: &Ctx) -> anyhow::Result<Exit> {
        not_built("ops health")
    }
}

impl flags::OpsMonitor {
    pub fn run(self, _ctx: &Ctx) -> anyhow::Result<Exit> {
        not_built("ops monitor")
    }
}
