//! `cargo xtask env up|down|status`: an environment by hand.
//!
//! `up` starts one, waits until it is ready, prints where it answers and
//! leaves it running, recorded in `<reports>/env/state.json`; run again with
//! another `--replicas`, it scales the running one. `down` stops what the
//! record names (or a compose project named with `--compose-project`).
//! `status` says what runs and whether it answers (exit 0 only when ready).

use anyhow::bail;

use crate::{
    config::EnvKind,
    context::{Ctx, Exit},
    env::{
        self,
        state::{self, Recorded, State},
        EnvDefaults, EnvGuard, EnvSpec, Environment,
    },
    flags::EnvOpts,
    report::SuiteLock,
};

pub fn up(o: EnvOpts, ctx: &Ctx) -> anyhow::Result<Exit> {
    let mut spec = EnvSpec::resolve(ctx, &o, &EnvDefaults::default())?;
    // By hand, it outlives this command: services are left running at exit.
    spec.keep_env = true;
    let plan = || -> anyhow::Result<Exit> {
        let mut env = env::open(ctx, &spec)?;
        env.up()?;
        env.ready()?;
        eprintln!("env: dry run, nothing was started");
        Ok(Exit::OK)
    };
    if let Some(planned) = ctx.runner.plan_only(plan) {
        return planned;
    }
    let _lock = lock(ctx)?;
    env::reap_dead_runs(ctx);
    let path = state::path(ctx);
    if let Some(st) = state::load(ctx)? {
        if still_running(ctx, &st) {
            let same_project = match (&st.env, &spec.compose_project) {
                (Recorded::Compose(c), Some(p)) => c.project == *p,
                _ => true,
            };
            if st.kind() != spec.kind || !same_project {
                bail!(
                    "a {} environment is already up (recorded in {}): stop it first with `cargo xtask env down`",
                    st.kind().as_str(),
                    ctx.relative(&path)
                );
            }
            ctx.runner.set_log(&st.run_dir.join("env.log"))?;
            let mut env = env::reattach(ctx, &st)?;
            if st.replicas != spec.replicas {
                env.scale(spec.replicas)?;
            } else {
                env.ready()?;
            }
            print_up(ctx, &*env);
            return Ok(Exit::OK);
        }
        ctx.info("env: the recorded environment no longer runs; cleaning up after it");
        env::reattach(ctx, &st)?.down()?;
        State::remove(&path)?;
    }
    // Missing tools or a taken port: refused before a run folder exists.
    env::preflight(ctx, &spec)?;
    let dir = env::run_dir(ctx);
    ctx.runner.set_log(&dir.join("env.log"))?;
    if let Some(stamp) = dir.file_name() {
        let _ = crate::report::prune_runs(
            &ctx.layout.reports_dir.join("env"),
            ctx.config.reports.keep_runs,
            stamp,
        );
    }
    // Until it is ready, any failure or interrupt tears it down again.
    let mut guard = EnvGuard::new(env::open(ctx, &spec)?, false);
    guard.up()?;
    guard.ready()?;
    env::reuse::stamp(ctx)?;
    print_up(ctx, &*guard);
    guard.release();
    Ok(Exit::OK)
}

pub fn down(o: EnvOpts, ctx: &Ctx) -> anyhow::Result<Exit> {
    let path = state::path(ctx);
    let _lock = ctx.runner.real_only(|| lock(ctx)).transpose()?;
    env::reap_dead_runs(ctx);
    if let Some(st) = state::load(ctx)? {
        ctx.runner.set_log(&st.run_dir.join("env.log"))?;
        let mut env = env::reattach(ctx, &st)?;
        env.down()?;
        let kind = st.kind().as_str();
        ctx.runner
            .real_only(|| println!("env: the {kind} environment is down"));
        return Ok(Exit::OK);
    }
    let spec = EnvSpec::resolve(ctx, &o, &EnvDefaults::default())?;
    match (spec.kind, &spec.compose_project) {
        (EnvKind::Compose, Some(project)) => {
            // A project left running by a keep-env run, named explicitly.
            env::adopt(ctx, &spec)?.down()?;
            ctx.runner
                .real_only(|| println!("env: compose project {project} is down"));
        }
        _ => println!(
            "env: nothing recorded in {}, nothing to stop (name a compose project with --env compose --compose-project NAME)",
            ctx.relative(&path)
        ),
    }
    Ok(Exit::OK)
}

pub fn status(o: EnvOpts, ctx: &Ctx) -> anyhow::Result<Exit> {
    let path = state::path(ctx);
    let Some(st) = state::load(ctx)? else {
        let spec = EnvSpec::resolve(ctx, &o, &EnvDefaults::default())?;
        println!(
            "env: nothing recorded in {} (`cargo xtask env up` starts an environment)",
            ctx.relative(&path)
        );
        let url = spec.health_url;
        let ready = match crate::probe::http_get(&url, std::time::Duration::from_secs(3)) {
            Ok(r) if r.is_success() => {
                println!("  ready: yes ({url} answered HTTP {})", r.status);
                true
            }
            Ok(r) => {
                println!("  ready: no ({url} answered HTTP {})", r.status);
                false
            }
            Err(e) => {
                println!("  ready: no ({e:#})");
                false
            }
        };
        return Ok(if ready { Exit::OK } else { Exit::FAIL });
    };
    println!(
        "env: {}; logs in {} (`cargo xtask env logs`)",
        env::reuse::summary(&st),
        ctx.relative(&st.run_dir)
    );
    let services = env::services::of(ctx, &st);
    print!("{}", env::services::table(&services));
    let failing = env::services::failing(&services);
    if failing.is_empty() {
        println!("  ready: yes (every service answers; {})", st.health_url);
        Ok(Exit::OK)
    } else {
        println!("  ready: no ({})", crate::redact::text(&failing.join("; ")));
        Ok(Exit::FAIL)
    }
}

/// One `env up|down` at a time per service (whatever the reports folder).
fn lock(ctx: &Ctx) -> anyhow::Result<SuiteLock> {
    SuiteLock::at(&ctx.lock_dir(), "env")
}

fn still_running(ctx: &Ctx, st: &State) -> bool {
    match &st.env {
        Recorded::Local(l) => l
            .processes
            .iter()
            .any(|p| crate::runner::procfs::is_running(p.pid, p.start_ticks)),
        Recorded::Compose(c) => !compose_containers(ctx, &c.project).is_empty(),
    }
}

/// Running containers of a compose project, by its label.
fn compose_containers(ctx: &Ctx, project: &str) -> Vec<String> {
    let step = crate::runner::Step::new("docker ps", "docker")
        .args([
            "ps".to_string(),
            "-q".into(),
            "--filter".into(),
            format!("label=com.docker.compose.project={project}"),
        ])
        .read_only();
    ctx.runner
        .read(&step)
        .map(|out| out.split_whitespace().map(String::from).collect())
        .unwrap_or_default()
}

fn print_up(ctx: &Ctx, env: &dyn Environment) {
    let e = env.endpoints();
    println!("env: the {} environment is ready", env.kind().as_str());
    let mut rows: Vec<(String, String)> = vec![];
    if let Some(api) = &e.api {
        rows.push(("API".into(), api.to_string()));
    }
    if let Some((h, p)) = &e.redis {
        rows.push(("Redis".into(), format!("{h}:{p}")));
    }
    if !e.replicas.is_empty() {
        rows.push(("Replica names".into(), e.replicas.join(", ")));
    }
    if let Some(n) = &e.network {
        rows.push(("Network".into(), n.clone()));
    }
    if let Some(i) = &e.internal_api {
        rows.push(("Internal API".into(), i.to_string()));
    }
    for (k, v) in env.describe() {
        if !rows.iter().any(|(seen, _)| *seen == k) {
            rows.push((k, v));
        }
    }
    for (k, v) in rows {
        println!("  {k:<16} {v}");
    }
    println!(
        "  {:<16} cargo xtask env status | down{}",
        "Then",
        if ctx.config_path.file_name() == Some("xtask.toml")
            && ctx.config_path.parent() == Some(&ctx.root)
        {
            String::new()
        } else {
            format!(" (with --config {})", ctx.config_path)
        }
    );
}
