//! `cargo xtask doctor`: every tool the configuration needs, where it was
//! found, its version and how to install it. Non-zero when a required one is
//! missing.

use crate::{
    context::{Ctx, Exit},
    flags, tools,
};

impl flags::Doctor {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        let found = tools::survey(ctx);
        let docker = found
            .iter()
            .any(|f| f.tool.name == "docker" && f.path.is_some());
        println!("config: {}", ctx.relative(&ctx.config_path));
        println!(
            "{:<14} {:<9} {:<44} {:<40} needed for / how to install",
            "tool", "status", "found at", "version"
        );
        let mut missing = vec![];
        for f in &found {
            let status = match (&f.path, f.tool.required) {
                (Some(_), _) => "ok",
                (None, _) if f.tool.name == "k6" && docker => "docker",
                (None, true) => "MISSING",
                (None, false) => "optional",
            };
            if status == "MISSING" {
                missing.push(f.tool.name);
            }
            let detail = if f.path.is_some() {
                f.tool.purpose.clone()
            } else {
                format!("{}; {}", f.tool.purpose, f.tool.hint)
            };
            println!(
                "{:<14} {:<9} {:<44} {:<40} {}",
                f.tool.name,
                status,
                f.path
                    .as_ref()
                    .map(|p| p.to_string())
                    .unwrap_or_else(|| "-".into()),
                f.version.as_deref().unwrap_or("-"),
                detail
            );
        }
        if missing.is_empty() {
            println!("all required tools found");
            Ok(Exit::OK)
        } else {
            eprintln!(
                "error: missing required tools: {}; run `cargo xtask setup`",
                missing.join(", ")
            );
            Ok(Exit::FAIL)
        }
    }
}
