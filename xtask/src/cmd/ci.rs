//! `cargo xtask ci`: green here means green in CI. Setup (tools and offline
//! images), then formatting, lints, the whole test suite (end-to-end tests
//! with the real tools included), and the repository's own lints (shell
//! wrappers, workflows).

use anyhow::Context;

use crate::{
    context::{Ctx, Exit},
    flags,
    runner::{Plan, Step},
    tools,
};

impl flags::Ci {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        if !self.no_setup {
            crate::cmd::setup::ensure_with(ctx, &crate::cmd::setup::ci_apt())?;
            crate::cmd::setup::ensure_ci_lints(ctx)?;
            // The compose end-to-end tests run on the offline image: no registry here.
            let images = flags::Images { force: false }
                .run(ctx)
                .context("cannot build the offline images the compose tests use")?;
            if images != Exit::OK {
                return Ok(images);
            }
        }
        let minute = std::time::Duration::from_secs(60);
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut steps = vec![
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
        ];
        // The repository's own lints are quick: before the long test run.
        steps.extend(lint_steps(ctx)?);
        steps.push(
            // Ignored tests are the slow end-to-end ones (Docker, images):
            // CI runs them explicitly, nothing is skipped.
            Step::new("cargo test", &cargo)
                .args(["test", "--workspace", "--", "--include-ignored"])
                .cwd(&ctx.root)
                .deadline(60 * minute),
        );
        // Every check runs, so one CI run names every failure.
        let done = ctx
            .runner
            .execute(&Plan::new().keep_going(true).steps(steps))?;
        if done.ok() {
            eprintln!("ci: PASS");
            Ok(Exit::OK)
        } else {
            eprintln!("ci: FAIL\n  - {}", done.failed.join("\n  - "));
            Ok(Exit::FAIL)
        }
    }
}

/// shellcheck on the shell scripts we ship (the legacy wrappers and .ci/run),
/// actionlint and zizmor on the workflows. zizmor runs offline: its online
/// audits need a GitHub token and network.
fn lint_steps(ctx: &Ctx) -> anyhow::Result<Vec<Step>> {
    let minute = std::time::Duration::from_secs(60);
    let hint = "run `cargo xtask setup`";
    let mut scripts = files_with(ctx, "scripts-legacy", &["sh"])?;
    scripts.push(".ci/run".into());
    // The demo's API scripts, where there is a demo (not in an adopted service).
    if ctx.root.join("demo/scripts/api").is_dir() {
        scripts.extend(files_with(ctx, "demo/scripts/api", &["sh"])?);
    }
    let workflows = files_with(ctx, ".github/workflows", &["yml", "yaml"])?;
    anyhow::ensure!(
        !workflows.is_empty(),
        "no workflows in .github/workflows to lint: the folder is missing or empty"
    );
    Ok(vec![
        Step::new("shellcheck", "shellcheck")
            .arg("--")
            .args(scripts)
            .cwd(&ctx.root)
            .deadline(minute)
            .hint("apt-get install shellcheck, or run `cargo xtask setup`"),
        Step::new("actionlint", tools::ci_linter(ctx, "actionlint").as_str())
            .args(workflows)
            .cwd(&ctx.root)
            .deadline(minute)
            .hint(hint),
        Step::new("zizmor", tools::ci_linter(ctx, "zizmor").as_str())
            .args(["--offline", ".github/workflows"])
            .cwd(&ctx.root)
            .deadline(minute)
            .hint(hint),
    ])
}

/// Root-relative paths of the files in `dir` with one of `exts`, sorted.
fn files_with(ctx: &Ctx, dir: &str, exts: &[&str]) -> anyhow::Result<Vec<String>> {
    let abs = ctx.root.join(dir);
    let entries = match abs.read_dir_utf8() {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(e).with_context(|| format!("cannot list {dir}")),
    };
    let mut files = vec![];
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {dir}"))?;
        if entry.path().extension().is_some_and(|e| exts.contains(&e)) {
            files.push(format!("{dir}/{}", entry.file_name()));
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn lints_cover_the_shipped_scripts_and_workflows() {
        let flags = flags::Xtask::parse_from(["cargo xtask", "ci"]);
        let ctx = Ctx::new(&flags).unwrap();
        let steps = lint_steps(&ctx).unwrap();
        let names: Vec<_> = steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["shellcheck", "actionlint", "zizmor"]);
        let has = |step: &Step, arg: &str| step.args.iter().any(|a| a == arg);
        assert!(has(&steps[0], "scripts-legacy/run-release-gate.sh"));
        assert!(has(&steps[0], ".ci/run"));
        assert!(has(&steps[0], "demo/scripts/api/v1-concerts.sh"));
        assert!(has(&steps[1], ".github/workflows/verify.yml"));
        assert!(has(&steps[1], ".github/workflows/gate.yml"));
        assert_eq!(steps[2].args, ["--offline", ".github/workflows"]);
    }

    fn workflow(name: &str) -> String {
        let p = crate::context::project_root()
            .join(".github/workflows")
            .join(name);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
    }

    #[test]
    fn every_setup_java_caches_gradle_as_the_services_workflows_did() {
        for name in ["verify.yml", "runtime-integration-smoke.yml", "gate.yml"] {
            let text = workflow(name);
            let setups = text.matches("actions/setup-java@").count();
            assert!(setups > 0, "{name} sets up Java");
            assert_eq!(text.matches("cache: gradle").count(), setups, "{name}");
        }
    }

    #[test]
    fn the_integration_workflow_runs_when_what_runs_it_changes() {
        let text = workflow("runtime-integration-smoke.yml");
        for path in [
            "\"**/docker-compose.yml\"",
            "\"xtask/**\"",
            "\"xtask.toml\"",
            "\"Cargo.lock\"",
            "\"scripts/perf/nginx/**\"",
        ] {
            assert!(
                text.contains(&format!("- {path}")),
                "path filter misses {path}"
            );
        }
    }
}
