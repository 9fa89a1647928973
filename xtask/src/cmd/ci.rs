//! `cargo xtask ci`: green here means green in CI. Setup (tools and offline
//! images), then formatting, lints, the whole test suite (end-to-end tests
//! with the real tools included), and the repository's own lints (shell
//! wrappers, workflows).

use anyhow::Context;

use crate::{
    context::{Ctx, Exit},
    flags,
    runner::Step,
};

impl flags::Ci {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        if !self.no_setup {
            crate::cmd::setup::ensure_with(ctx, crate::cmd::setup::CI_APT)?;
        }
        let minute = std::time::Duration::from_secs(60);
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let steps = vec![
            Step::new("cargo fmt", &cargo)
                .args(["fmt", "--all", "--check"])
                .cwd(&ctx.root)
                .deadline(5 * minute),
            Step::new("cargo clippy", &cargo)
                .args([
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--",
                    "-D",
                    "warnings",
                ])
                .cwd(&ctx.root)
                .deadline(20 * minute),
            // Ignored tests are the slow end-to-end ones (Docker, images):
            // CI runs them explicitly, nothing is skipped.
            Step::new("cargo test", &cargo)
                .args(["test", "--workspace", "--", "--include-ignored"])
                .cwd(&ctx.root)
                .deadline(60 * minute),
        ];
        let mut failed = vec![];
        for step in &steps {
            let rec = ctx
                .runner
                .run(step)
                .with_context(|| format!("cannot run {}", step.name))?;
            crate::runner::check_interrupt()?;
            if !rec.ok() {
                failed.push(format!("{}: {}", rec.name, rec.outcome.describe()));
            }
        }
        if failed.is_empty() {
            eprintln!("ci: PASS");
            Ok(Exit::OK)
        } else {
            eprintln!("ci: FAIL\n  - {}", failed.join("\n  - "));
            Ok(Exit::FAIL)
        }
    }
}
