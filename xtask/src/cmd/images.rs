//! `cargo xtask images`: the offline images for compose (debootstrap +
//! docker import), for machines that cannot pull from a registry. Skipped
//! when the image already exists, unless `--force`.

use anyhow::Context;

use crate::{
    context::{Ctx, Exit},
    flags, images,
    runner::Plan,
};

impl flags::Images {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        if !self.force && images::image_present(&ctx.runner, "docker", images::OFFLINE_IMAGE) {
            ctx.info(&format!(
                "images: {} is present (use --force to rebuild)",
                images::OFFLINE_IMAGE
            ));
            print_env();
            return Ok(Exit::OK);
        }
        let sources = images::read_apt_sources();
        let mirror = images::debian_mirror(&sources).context(
            "no Debian archive in the apt sources (/etc/apt/sources.list, /etc/apt/sources.list.d/*.list|*.sources): add one",
        )?;
        let release = images::debian_release();
        let scratch = ctx.path(&ctx.config.tools.dir).join("offline-rootfs");
        ctx.info(&format!(
            "images: building {} from {mirror} ({release}); about a minute",
            images::OFFLINE_IMAGE
        ));
        let plan = images::plan(&mirror, &release, scratch.as_str(), images::OFFLINE_IMAGE);
        let (cleanup, work) = plan.split_last().expect("the plan is never empty");
        // The scratch rootfs is removed even when a step fails.
        let build = Plan::new()
            .steps(work.iter().cloned())
            .finally(cleanup.clone());
        (ctx.runner.execute(&build)?.ensure_success()).context("cannot build the offline image")?;
        let smoke = Plan::new().steps(images::smoke_checks(images::OFFLINE_IMAGE));
        ctx.runner.execute(&smoke)?.ensure_success()?;
        print_env();
        Ok(Exit::OK)
    }
}

fn print_env() {
    eprintln!("images: point compose at it with:");
    for (k, v) in images::compose_env(images::OFFLINE_IMAGE) {
        eprintln!("  export {k}={v}");
    }
}
