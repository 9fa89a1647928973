//! `cargo xtask gate` and `gate status`.

use crate::{
    context::{not_built, Ctx, Exit},
    flags,
};

impl flags::Gate {
    pub fn run(self, _ctx: &Ctx) -> anyhow::Result<Exit> {
        not_built(if self.sub.is_some() {
            "gate status"
        } else {
            "gate"
        })
    }
}
