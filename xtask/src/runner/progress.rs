//! Progress while we wait for something (readiness, a port, a lock): a
//! live line on a terminal, a plain line every 10 s in CI logs, the stage's
//! progress line inside a gate lane.

use std::{
    io::{self, IsTerminal},
    time::{Duration, Instant},
};

use super::{lane, Verbosity};

/// Shows that we are waiting for something: a live line on a terminal,
/// a plain line every 10 s otherwise (CI logs).
pub struct Waiting {
    what: String,
    started: Instant,
    deadline: Duration,
    tty: bool,
    last_print: Option<Instant>,
    quiet: bool,
}

impl Waiting {
    pub fn new(what: impl Into<String>, deadline: Duration, verbosity: Verbosity) -> Waiting {
        // In a gate stage's lane the stage's progress line shows the wait.
        let tty = match lane::current() {
            Some(_) => lane::live_progress(),
            None => io::stderr().is_terminal(),
        };
        Waiting {
            what: what.into(),
            started: Instant::now(),
            deadline,
            tty,
            last_print: None,
            quiet: verbosity == Verbosity::Quiet,
        }
    }
    pub fn expired(&self) -> bool {
        self.started.elapsed() >= self.deadline
    }
    pub fn tick(&mut self) {
        if self.quiet {
            return;
        }
        let now = Instant::now();
        let every = if self.tty {
            Duration::from_millis(200)
        } else {
            Duration::from_secs(10)
        };
        if self.last_print.is_some_and(|t| now - t < every) {
            return;
        }
        if !self.tty && self.last_print.is_none() && self.started.elapsed() < Duration::from_secs(1)
        {
            // Don't print for waits that end at once.
            return;
        }
        self.last_print = Some(now);
        let line = format!(
            "waiting for {}: {:.1}s of {}s",
            self.what,
            self.started.elapsed().as_secs_f64(),
            self.deadline.as_secs()
        );
        match (lane::current(), self.tty) {
            (Some(l), true) => l.set_status(&line),
            (Some(_), false) => lane::err_line(&line),
            (None, true) => eprint!("\r\x1b[2K{line}"),
            (None, false) => eprintln!("{line}"),
        }
    }
    pub fn done(&mut self) {
        if self.tty && self.last_print.is_some() && !self.quiet && lane::current().is_none() {
            eprint!("\r\x1b[2K");
        }
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.done();
    }
}
