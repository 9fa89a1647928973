//! `cargo xtask gate` and `gate status`.

use crate::{
    context::{not_built, Ctx, Exit},
    flags,
};

impl flags::Gate {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        if let Some(flags::GateSub::Status(s)) = self.sub {
            return s.run(ctx);
        }
        not_built("gate")
    }
}
