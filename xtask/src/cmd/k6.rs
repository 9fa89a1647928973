//! `cargo xtask k6 run|baseline|distributed`.

use crate::{
    context::{not_built, Ctx, Exit},
    flags,
};

impl flags::K6Run {
    pub fn run(self, _ctx: &Ctx) -> anyhow::Result<Exit> {
        not_built("k6 run")
    }
}

impl flags::K6Baseline {
    pub fn run(self, _ctx: &Ctx) -> anyhow::Result<Exit> {
        not_built("k6 baseline")
    }
}

impl flags::K6Distributed {
    pub fn run(self, _ctx: &Ctx) -> anyhow::Result<Exit> {
        not_built("k6 distributed")
    }
}
