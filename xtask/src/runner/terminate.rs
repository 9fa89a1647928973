//! The one termination policy: a signal to the whole process group
//! (SIGINT for steps, as k6 writes its summary on it; SIGTERM for services),
//! a grace period for the leader to exit, then SIGKILL of the group.

use std::time::{Duration, Instant};

/// Kills the group if the supervising code unwinds (panic) before the child
/// was reaped.
pub(super) struct GroupGuard {
    pub(super) pgid: i32,
    pub(super) armed: bool,
}

impl GroupGuard {
    /// The child was reaped: its group is no longer ours to kill.
    pub(super) fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if self.armed {
            kill_group(self.pgid, libc::SIGKILL);
        }
    }
}

/// A signal to the whole group `pgid` (never to 0 or 1: ourselves, or all).
pub fn kill_group(pgid: i32, sig: i32) {
    if pgid > 1 {
        // SAFETY: plain syscall; ESRCH (group gone) is fine.
        unsafe {
            libc::killpg(pgid, sig);
        }
    }
}

/// `first` (SIGINT or SIGTERM) to the group, then up to `grace` for the
/// leader to exit (`exited` polls it), then SIGKILL of the group: whatever
/// ignored the first signal, grandchildren included.
pub(super) fn terminate_group(
    pgid: i32,
    first: i32,
    grace: Duration,
    mut exited: impl FnMut() -> bool,
) {
    kill_group(pgid, first);
    let until = Instant::now() + grace;
    while Instant::now() < until {
        if exited() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    kill_group(pgid, libc::SIGKILL);
}
