//! Reusing the environment `env up` (or a keep-env run) left running, so a
//! developer starts it once and runs the suites again and again.
//!
//! - `find`, before a suite's run: the record in `<reports>/env/state.json`,
//!   when every service answers, is used instead of starting one; a record
//!   whose services do not answer is an error saying so (never silently
//!   replaced); `--fresh` ignores the record.
//! - `Found::guard` wraps it in `Reused`: scaled to the shape the suite needs
//!   and scaled back afterwards, on every exit path (the `EnvGuard` calls
//!   `down`, which for a reused environment only restores the shape); it is
//!   never torn down by a suite that did not start it.
//! - `stamp` records who started an environment and from which tree; the
//!   reports of suites that reuse it carry that (`Report.environment`), and
//!   `gate status` treats an environment from another commit as stale.

use anyhow::{bail, Context};

use super::{
    services,
    state::{self, Origin, Recorded, State},
    EnvGuard, Environment,
};
use crate::{
    config::EnvKind,
    context::Ctx,
    git::GitInfo,
    report::{EnvOrigin, Report, SuiteLock},
    units::Replicas,
};

/// What the suite was told, explicitly, about its environment: a recorded
/// environment that contradicts it is refused, not reused.
#[derive(Clone, Debug, Default)]
pub struct Want {
    /// `--env KIND`; `external` never reuses (it names where the API runs).
    pub kind: Option<EnvKind>,
    /// `--compose-project NAME`.
    pub project: Option<String>,
    /// `--fresh`: start one as if nothing were recorded.
    pub fresh: bool,
}

/// A recorded environment that answers.
pub struct Found {
    st: State,
    origin: EnvOrigin,
}

/// [`find`], unless the suite runs on an environment it was handed (the
/// gate's): that one is used as it is, and no record is looked at.
pub fn find_unless_shared(ctx: &Ctx, shared: bool, want: &Want) -> anyhow::Result<Option<Found>> {
    match shared {
        true => Ok(None),
        false => find(ctx, want),
    }
}

/// The recorded environment to reuse, None to start one as usual.
pub fn find(ctx: &Ctx, want: &Want) -> anyhow::Result<Option<Found>> {
    if want.fresh || want.kind == Some(EnvKind::External) {
        return Ok(None);
    }
    let path = state::path(ctx);
    let Some(st) = state::load(ctx)? else {
        return Ok(None);
    };
    let what = describe(&st);
    let kind = st.kind().as_str();
    let record = ctx.relative(&path);
    if let Some(k) = want.kind.filter(|k| *k != st.kind()) {
        bail!(
            "environment: {what} is recorded in {record}, but this run asks for --env {}: run without --env (or with --env {kind}) to reuse it, `cargo xtask env down` to stop it, or --fresh to start another beside it",
            k.as_str()
        );
    }
    if let (Some(p), Recorded::Compose(c)) = (&want.project, &st.env) {
        if *p != c.project {
            bail!(
                "environment: {what} is recorded in {record}, but this run asks for compose project {p}: run without --compose-project to reuse it, `cargo xtask env down` to stop it, or --fresh"
            );
        }
    }
    // A dry run probes nothing: it plans with the record.
    let down = ctx
        .runner
        .real_only(|| services::failing(&services::of(ctx, &st)))
        .unwrap_or_default();
    if !down.is_empty() {
        bail!(
            "environment: {what} (recorded in {record}) does not answer: {}; `cargo xtask env status` shows each service, `cargo xtask env down` clears the record, --fresh starts a new environment anyway",
            down.join("; ")
        );
    }
    let origin = st.origin.clone().unwrap_or_else(|| Origin {
        started_by: "an earlier run".into(),
        git: GitInfo::default(),
    });
    Ok(Some(Found {
        origin: EnvOrigin {
            description: format!("{what}, reused"),
            started: st.started.clone(),
            started_by: origin.started_by,
            git: origin.git,
        },
        st,
    }))
}

/// One line for `env status`: which environment, who started it, from where.
pub fn summary(st: &State) -> String {
    describe(st)
}

/// "compose project tcsit, started by `env up` at ... from 0123456789ab".
fn describe(st: &State) -> String {
    let which = match &st.env {
        Recorded::Compose(c) => format!("compose project {}", c.project),
        Recorded::Local(l) => format!("local, nginx on 127.0.0.1:{}", l.lb_port),
    };
    let (by, from) = match &st.origin {
        Some(o) => (format!("`{}`", o.started_by), from_tree(&o.git)),
        None => (
            "an earlier run".to_string(),
            "an unknown commit".to_string(),
        ),
    };
    format!(
        "{which}, {} replica(s), started by {by} at {} from {from}",
        st.replicas, st.started
    )
}

fn from_tree(git: &GitInfo) -> String {
    match &git.commit {
        None => "an unknown commit".into(),
        Some(c) => format!(
            "{}{}",
            &c[..c.len().min(12)],
            if git.dirty == Some(false) {
                ""
            } else {
                " with uncommitted changes"
            }
        ),
    }
}

impl Found {
    /// Where it answers (any 2xx: ready), as recorded.
    pub fn health_url(&self) -> anyhow::Result<crate::units::HttpUrl> {
        self.st
            .health_url
            .parse()
            .context("the recorded health URL is not a URL")
    }

    /// Reattached, said in one line (terminal, log, report), ready, and
    /// scaled to `replicas` when the suite needs another shape. Its guard
    /// scales it back and never tears it down.
    pub fn guard(
        self,
        ctx: &Ctx,
        report: &mut Report,
        replicas: Option<Replicas>,
    ) -> anyhow::Result<EnvGuard> {
        ctx.runner
            .say(&format!("environment: {}", self.origin.description));
        let inner = super::reattach(ctx, &self.st)?;
        let reused = Reused {
            inner,
            origin: self.origin,
            original: self.st.replicas,
            current: self.st.replicas,
            lock_dir: ctx.lock_dir(),
            runner: ctx.runner.clone(),
            lock: None,
            restored: false,
        };
        record(report, &reused);
        let mut guard = EnvGuard::new(Box::new(reused), false);
        guard
            .ready()
            .context("the reused environment is not ready")?;
        if let Some(n) = replicas {
            guard.scale(n)?;
        }
        Ok(guard)
    }
}

/// The environment a suite runs on when it did not start one: the gate's
/// when given, else the reused one.
pub fn either<'a, 's: 'a>(
    shared: Option<&'s mut (dyn Environment + 's)>,
    reused: &'a mut Option<EnvGuard>,
) -> Option<&'a mut (dyn Environment + 'a)> {
    match shared {
        Some(e) => Some(e),
        None => reused
            .as_mut()
            .map(|g| &mut **g as &mut (dyn Environment + 'a)),
    }
}

/// The report's "Environment" line for an environment the suite did not
/// start: the reused one's provenance, or the gate's.
pub fn record(report: &mut Report, env: &dyn Environment) {
    match env.origin() {
        Some(o) => {
            for (k, v) in env.describe() {
                report.param(&k, v);
            }
            report.param("Environment", &o.description);
            report.environment = Some(o);
        }
        None => report.param(
            "Environment",
            format!("{} (shared by the gate)", env.kind().as_str()),
        ),
    }
}

/// Stamps the record just written by an environment that outlives this
/// process with who started it and from which tree.
pub fn stamp(ctx: &Ctx) -> anyhow::Result<()> {
    ctx.runner.real_only(|| stamp_record(ctx)).unwrap_or(Ok(()))
}

fn stamp_record(ctx: &Ctx) -> anyhow::Result<()> {
    let path = state::path(ctx);
    let Some(mut st) = state::load(ctx)? else {
        return Ok(());
    };
    if st.origin.is_none() {
        st.origin = Some(Origin {
            started_by: invocation(std::env::args().skip(1)),
            git: GitInfo::read(&ctx.root),
        });
        st.save(&path)?;
    }
    Ok(())
}

/// The subcommand and its options as typed, without the global options
/// (`--config`, `--reports-dir`, `-q`...), secrets masked.
fn invocation(args: impl Iterator<Item = String>) -> String {
    let mut words = vec![];
    let mut skip_value = false;
    let mut in_subcommand = false;
    for a in args {
        if skip_value {
            skip_value = false;
            continue;
        }
        if !in_subcommand {
            match a.as_str() {
                "--config" | "--reports-dir" => {
                    skip_value = true;
                    continue;
                }
                s if s.starts_with("--config=") || s.starts_with("--reports-dir=") => continue,
                "--dry-run" | "--quiet" | "--verbose" => continue,
                s if s.starts_with('-') && s[1..].bytes().all(|b| b == b'q' || b == b'v') => {
                    continue
                }
                _ => in_subcommand = true,
            }
        }
        words.push(a);
    }
    crate::redact::text(&words.join(" "))
}

/// The lock `env up|down` take: a reshaping suite holds it too.
pub fn lock(lock_dir: &camino::Utf8Path) -> anyhow::Result<SuiteLock> {
    SuiteLock::at(lock_dir, "env")
}

/// A recorded environment on loan to a suite: reshaped when asked, restored
/// by `down`, never stopped.
struct Reused {
    inner: Box<dyn Environment>,
    origin: EnvOrigin,
    /// Replicas as recorded, restored at the end.
    original: Replicas,
    current: Replicas,
    lock_dir: camino::Utf8PathBuf,
    runner: crate::runner::Runner,
    /// Held while the shape differs from the record: `env up|down` wait.
    lock: Option<SuiteLock>,
    restored: bool,
}

impl Environment for Reused {
    fn kind(&self) -> EnvKind {
        self.inner.kind()
    }
    /// Already up.
    fn up(&mut self) -> anyhow::Result<()> {
        Ok(())
    }
    fn ready(&mut self) -> anyhow::Result<()> {
        self.inner.ready()
    }
    fn endpoints(&self) -> super::Endpoints {
        self.inner.endpoints()
    }
    fn logs(&self, service: &str, tail: u32) -> anyhow::Result<String> {
        self.inner.logs(service, tail)
    }
    fn scale(&mut self, replicas: Replicas) -> anyhow::Result<()> {
        if replicas == self.current {
            return Ok(());
        }
        if self.lock.is_none() {
            self.lock = Some(lock(&self.lock_dir).context(
                "cannot reshape the reused environment while `env up|down` runs: wait for it, or use --fresh",
            )?);
        }
        self.runner.say(&format!(
            "environment: {} -> {replicas} replica(s) for this run (scaled back to {} afterwards)",
            self.current, self.original
        ));
        self.current = replicas;
        self.inner
            .scale(replicas)
            .with_context(|| format!("cannot scale the reused environment to {replicas} replicas"))
    }
    /// Scales back to the recorded shape; stops nothing.
    fn down(&mut self) -> anyhow::Result<()> {
        if std::mem::replace(&mut self.restored, true) || self.current == self.original {
            self.lock = None;
            return Ok(());
        }
        let n = self.original;
        self.runner.say(&format!(
            "environment: back to {n} replica(s), as recorded (left running)"
        ));
        let back = self.inner.scale(n);
        self.current = n;
        self.lock = None;
        match back {
            // Scaled; readiness is not awaited after Ctrl-C.
            Err(e) if e.downcast_ref::<crate::runner::Interrupted>().is_some() => Ok(()),
            r => r.with_context(|| {
                format!("cannot scale the environment back to {n} replica(s): `cargo xtask env up --replicas {n}` does it")
            }),
        }
    }
    fn describe(&self) -> Vec<(String, String)> {
        let mut d: Vec<(String, String)> = self
            .inner
            .describe()
            .into_iter()
            .filter(|(k, _)| k != "Keep env" && k != "Replicas")
            .collect();
        d.push(("Environment replicas".into(), self.original.to_string()));
        d
    }
    fn origin(&self) -> Option<EnvOrigin> {
        Some(self.origin.clone())
    }
    fn served(&self) -> super::Served {
        self.inner.served()
    }
    /// It runs on anyway: nothing of this run's to remove.
    fn keep_running(&mut self) -> anyhow::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// Records the calls a reused environment passes on.
    struct Inner(Arc<Mutex<Vec<String>>>);
    impl Environment for Inner {
        fn kind(&self) -> EnvKind {
            EnvKind::Local
        }
        fn up(&mut self) -> anyhow::Result<()> {
            self.0.lock().unwrap().push("up".into());
            Ok(())
        }
        fn ready(&mut self) -> anyhow::Result<()> {
            Ok(())
        }
        fn endpoints(&self) -> super::super::Endpoints {
            Default::default()
        }
        fn logs(&self, _: &str, _: u32) -> anyhow::Result<String> {
            Ok(String::new())
        }
        fn scale(&mut self, n: Replicas) -> anyhow::Result<()> {
            self.0.lock().unwrap().push(format!("scale {n}"));
            Ok(())
        }
        fn down(&mut self) -> anyhow::Result<()> {
            self.0.lock().unwrap().push("down".into());
            Ok(())
        }
        fn describe(&self) -> Vec<(String, String)> {
            vec![
                ("Replicas".into(), "1".into()),
                ("Provider".into(), "local".into()),
            ]
        }
    }

    fn reused(dir: &camino::Utf8Path) -> (Reused, Arc<Mutex<Vec<String>>>) {
        let calls = Arc::new(Mutex::new(vec![]));
        let r = Reused {
            inner: Box::new(Inner(calls.clone())),
            origin: EnvOrigin {
                description: "local, reused".into(),
                started: "2026-12-01T09:00:00Z".into(),
                started_by: "env up".into(),
                git: GitInfo::default(),
            },
            original: Replicas::ONE,
            current: Replicas::ONE,
            lock_dir: dir.to_owned(),
            runner: crate::runner::Runner::new(
                dir.to_owned(),
                false,
                crate::runner::Verbosity::Quiet,
            ),
            lock: None,
            restored: false,
        };
        (r, calls)
    }

    #[test]
    fn a_reused_environment_is_reshaped_then_restored_never_stopped() {
        let d = super::super::tests::tempdir("reuse-shape");
        let (r, calls) = reused(&d);
        let mut g = EnvGuard::new(Box::new(r), false);
        g.up().unwrap();
        let three = Replicas::new(3).unwrap();
        g.scale(three).unwrap();
        g.scale(three).unwrap();
        let e = lock(&d).map(drop).unwrap_err().to_string();
        assert!(
            e.contains("already running"),
            "env up|down wait meanwhile: {e}"
        );
        g.finish().unwrap();
        assert_eq!(*calls.lock().unwrap(), ["scale 3", "scale 1"]);
        lock(&d).expect("released once restored");

        // Dropped on an error path: restored all the same; unchanged: untouched.
        let (r, calls) = reused(&d);
        let early = || -> anyhow::Result<()> {
            let mut g = EnvGuard::new(Box::new(r), false);
            g.scale(Replicas::new(2).unwrap())?;
            bail!("k6 failed")
        };
        assert!(early().is_err());
        assert_eq!(*calls.lock().unwrap(), ["scale 2", "scale 1"]);
        let (r, calls) = reused(&d);
        drop(EnvGuard::new(Box::new(r), false));
        assert_eq!(*calls.lock().unwrap(), Vec::<String>::new());
    }

    #[test]
    fn the_report_says_where_a_reused_environment_came_from() {
        let d = super::super::tests::tempdir("reuse-record");
        let (r, _) = reused(&d);
        let mut report = Report::new("k6-baseline", "k6");
        record(&mut report, &r);
        let param = |n: &str| {
            report
                .parameters
                .iter()
                .find(|p| p.name == n)
                .map(|p| p.value.clone())
        };
        assert_eq!(param("Environment").as_deref(), Some("local, reused"));
        assert_eq!(param("Provider").as_deref(), Some("local"));
        assert_eq!(param("Replicas"), None, "the suite's own, not the record's");
        assert_eq!(param("Environment replicas").as_deref(), Some("1"));
        assert_eq!(report.environment.as_ref().unwrap().started_by, "env up");
    }

    fn words(s: &str) -> impl Iterator<Item = String> + '_ {
        s.split_whitespace().map(String::from)
    }

    #[test]
    fn the_invocation_is_the_subcommand_as_typed() {
        assert_eq!(invocation(words("env up")), "env up");
        assert_eq!(
            invocation(words(
                "-q --config /tmp/x.toml --reports-dir r integration --keep-env"
            )),
            "integration --keep-env"
        );
        assert_eq!(
            invocation(words("--config=/x -vv k6 distributed --replicas 3 -q")),
            "k6 distributed --replicas 3 -q",
            "options after the subcommand are the subcommand's"
        );
    }

    #[test]
    fn the_tree_an_environment_came_from_is_named_honestly() {
        let git = |commit: Option<&str>, dirty| GitInfo {
            commit: commit.map(String::from),
            branch: None,
            dirty,
        };
        let sha = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(from_tree(&git(Some(sha), Some(false))), "0123456789ab");
        assert_eq!(
            from_tree(&git(Some(sha), Some(true))),
            "0123456789ab with uncommitted changes"
        );
        assert_eq!(from_tree(&git(None, None)), "an unknown commit");
    }
}
