//! Every effect that is not a step, and every question, written once for
//! both kinds of run: commands and environments say what they do, the
//! runner alone knows whether this is a dry run. A dry run prints each
//! effect as a `[dry-run]` line and does none of them.
//!
//! One method per kind of effect:
//! - questions are `read`/`ask` (`read.rs`): a read-only step is asked by
//!   every run, dry runs included, because its answer decides the plan
//!   (which compose is installed); any other is printed by a dry run.
//! - `effect`: something we do ourselves (a file created, a signal sent,
//!   processes stopped); a dry run prints what and gets `T::default()`.
//! - `write_file`: an `effect` that writes a file atomically.
//! - `wait` and `wait_until`: waiting for readiness; a dry run prints what
//!   it would wait for and for how long.
//! - `answer`: what a run knows, or in a dry run the stated value the plan
//!   assumes in its place (nothing asked, nothing printed).
//! - `plan_only`: what only a dry run does where a real run goes on (a
//!   command whose plan is not its run, e.g. `env up`'s).
//! - `real_only`: bookkeeping only a real run needs (records, leases, the
//!   undo of a planned effect); a dry run skips it silently.

use std::{
    fmt::Display,
    time::{Duration, Instant},
};

use anyhow::Context;
use camino::Utf8Path;

use super::{check_interrupt, sleep, Runner, Waiting};
use crate::probe::Try;

impl Runner {
    /// One line of a dry run's plan per line of `what`.
    pub(crate) fn plan_lines(&self, what: &str) {
        for line in what.lines() {
            println!("[dry-run] {line}");
        }
    }

    /// Something we do ourselves, not through a step. A dry run prints
    /// `what` (each line one `[dry-run]` line; nothing when empty) and gets
    /// `T::default()`.
    pub fn effect<T: Default>(
        &self,
        what: impl Display,
        f: impl FnOnce() -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        if self.dry_run {
            self.plan_lines(&what.to_string());
            return Ok(T::default());
        }
        f()
    }

    /// Writes `bytes` to `path` atomically (a dry run prints `write PATH`).
    pub fn write_file(&self, path: &Utf8Path, bytes: &[u8]) -> anyhow::Result<()> {
        self.effect(format_args!("write {path}"), || {
            crate::report::write_atomic(path, bytes)
        })
    }

    /// What a run knows: `real()`, or in a dry run `planned()`, the value
    /// the plan assumes where a real run would have an answer.
    pub fn answer<T>(&self, real: impl FnOnce() -> T, planned: impl FnOnce() -> T) -> T {
        if self.dry_run {
            planned()
        } else {
            real()
        }
    }

    /// `answer`, for a value both ways need: `real(value)`, or in a dry run
    /// `planned(value)`.
    pub fn answer_with<A, T>(
        &self,
        value: A,
        real: impl FnOnce(A) -> T,
        planned: impl FnOnce(A) -> T,
    ) -> T {
        if self.dry_run {
            planned(value)
        } else {
            real(value)
        }
    }

    /// What only a dry run does: its plan, printed where a real run goes on
    /// (`None`) to do the thing itself.
    pub fn plan_only<T>(&self, f: impl FnOnce() -> T) -> Option<T> {
        self.answer(|| None, || Some(f()))
    }

    /// Bookkeeping only a real run needs (state records, leases, run logs,
    /// the undo of an effect a dry run only printed): `None` in a dry run,
    /// which prints nothing for it.
    pub fn real_only<T>(&self, f: impl FnOnce() -> T) -> Option<T> {
        self.answer(|| Some(f()), || None)
    }

    /// Waits for something made of several probes (`f` does the waiting).
    /// A dry run prints `wait up to Ns for WHAT` instead.
    pub fn wait(
        &self,
        what: impl Display,
        deadline: Duration,
        f: impl FnOnce() -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let what = format_args!("wait up to {}s for {what}", deadline.as_secs());
        self.effect(what, f)
    }

    /// Polls `check` until it says `Ready` or `GiveUp`, at most `interval`
    /// apart, until `deadline`; an `Err` from it means "not yet" (the last
    /// one says why it was not ready). A progress line while it waits
    /// (unless quiet), stopped at once by an interrupt. A dry run prints
    /// what it would wait for and gets `T::default()`.
    pub fn wait_until<T: Default>(
        &self,
        what: &str,
        deadline: Duration,
        interval: Duration,
        mut check: impl FnMut() -> anyhow::Result<Try<T>>,
    ) -> anyhow::Result<T> {
        self.effect(
            format_args!("wait up to {}s for {what}", deadline.as_secs()),
            || {
                let mut waiting = Waiting::new(what, deadline, self.verbosity);
                let mut last_err;
                loop {
                    check_interrupt()?;
                    let t = Instant::now();
                    match check() {
                        Ok(Try::Ready(v)) => return Ok(v),
                        Ok(Try::GiveUp(e)) => return Err(e),
                        Err(e) => last_err = e,
                    }
                    if waiting.expired() {
                        break;
                    }
                    waiting.tick();
                    sleep(interval.saturating_sub(t.elapsed()))?;
                }
                Err(last_err)
                    .with_context(|| format!("{what}: not ready after {}s", deadline.as_secs()))
            },
        )
    }
}
