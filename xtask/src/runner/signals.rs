//! The signal state: SIGINT, SIGTERM and SIGHUP become a flag that every
//! wait loop checks (a gate stage's lane adds its own cancel), and the error
//! (`Interrupted`, exit 128 + signal) that ends the command in order.

use std::{
    sync::atomic::{AtomicUsize, Ordering},
    time::{Duration, Instant},
};

use anyhow::Context;

use super::lane;

/// The signal that asked us to stop (0: none yet).
static INTERRUPT: AtomicUsize = AtomicUsize::new(0);

/// Routes SIGINT, SIGTERM and SIGHUP (a closed terminal) to a flag that
/// every wait loop checks, so a signal turns into an orderly stop: children
/// terminated, environment torn down, a FAIL report saying "interrupted".
pub fn install_signal_handlers() -> anyhow::Result<()> {
    for sig in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        // SAFETY: the handler only stores into a static atomic.
        unsafe {
            signal_hook::low_level::register(sig, move || {
                INTERRUPT.store(sig as usize, Ordering::SeqCst)
            })
            .context("cannot install the signal handler")?;
        }
    }
    Ok(())
}

/// The signal received, if any; inside a gate stage's lane, also the
/// stage's cancel (see `lane`).
pub fn interrupted() -> Option<i32> {
    match INTERRUPT.load(Ordering::SeqCst) {
        0 => lane::current().and_then(|l| l.cancelled()),
        s => Some(s as i32),
    }
}

/// Errors out with the exit code a shell would give (130 for SIGINT) when a
/// signal arrived; for loops that do no I/O through the runner.
pub fn check_interrupt() -> anyhow::Result<()> {
    match interrupted() {
        Some(sig) => Err(Interrupted(sig).into()),
        None => Ok(()),
    }
}

#[derive(Debug)]
pub struct Interrupted(pub i32);

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "interrupted by {}", signal_name(self.0))
    }
}
impl std::error::Error for Interrupted {}

pub fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGKILL => "SIGKILL",
        libc::SIGHUP => "SIGHUP",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGPIPE => "SIGPIPE",
        _ => "a signal",
    }
}

/// Sleeps in small slices so that a signal is noticed at once.
pub fn sleep(d: Duration) -> anyhow::Result<()> {
    let until = Instant::now() + d;
    while Instant::now() < until {
        check_interrupt()?;
        std::thread::sleep((until - Instant::now()).min(Duration::from_millis(20)));
    }
    check_interrupt()
}
