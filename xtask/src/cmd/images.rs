//! `cargo xtask images`: the offline images for compose (debootstrap +
//! docker import), for machines that cannot pull from a registry. Skipped
//! when the image already exists, unless `--force`.

use anyhow::Context;

use crate::{
    context::{Ctx, Exit},
    flags, images,
    runner::{ensure_success, Step},
};

impl flags::Images {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        if !self.force && image_exists(ctx, images::OFFLINE_IMAGE) {
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
        let minute = std::time::Duration::from_secs(60);
        let to_step = |s: &images::Step| {
            let hint = match s.argv[0].as_str() {
                "debootstrap" => "apt-get install debootstrap",
                "docker" => "install Docker Engine",
                _ => "",
            };
            Step::new(s.name, &s.argv[0])
                .args(s.argv[1..].iter().cloned())
                .deadline(15 * minute)
                .hint(hint)
        };
        // The scratch rootfs is removed even when a step fails.
        let outcome = work
            .iter()
            .try_for_each(|s| ensure_success(&ctx.runner.run(&to_step(s))?));
        let cleaned = ctx
            .runner
            .run(&to_step(cleanup))
            .and_then(|r| ensure_success(&r));
        outcome.context("cannot build the offline image")?;
        cleaned?;
        for check in images::smoke_checks(images::OFFLINE_IMAGE) {
            ensure_success(&ctx.runner.run(&to_step(&check))?)?;
        }
        print_env();
        Ok(Exit::OK)
    }
}

pub fn image_exists(ctx: &Ctx, image: &str) -> bool {
    let argv = images::image_exists_argv(image);
    let step = Step::new("docker image inspect", &argv[0]).args(argv[1..].iter().cloned());
    ctx.runner.read(&step).is_ok()
}

fn print_env() {
    eprintln!("images: point compose at it with:");
    for (k, v) in images::compose_env(images::OFFLINE_IMAGE) {
        eprintln!("  export {k}={v}");
    }
}
