//! Lanes: one gate stage running in its own thread of this process, next to
//! others. The runner asks the current thread's lane for three things:
//!
//! - **cancel**: `runner::interrupted()` answers for the lane as well as for
//!   the process, so every wait loop, deadline and child group of a stage
//!   stops through the one path a Ctrl-C takes (SIGINT to the group, grace,
//!   SIGKILL); nothing kills children by hand.
//! - **log**: a suite started in a lane logs to its own file without moving
//!   another lane's log (`Runner::set_log` is per lane).
//! - **output**: every line is written to the stage's own log and shown with
//!   the stage's name in front; on GitHub Actions the terminal copy is held
//!   and printed as one `::group::` when the stage ends (groups cannot nest
//!   or interleave there); on a terminal one progress line per running stage
//!   stays at the bottom.
//!
//! Outside a lane (every command but `gate`) nothing changes.

use std::{
    cell::RefCell,
    fs::File,
    io::{self, IsTerminal, Write},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Instant,
};

use anyhow::Context;
use camino::{Utf8Path, Utf8PathBuf};

/// The suite log slot a `Runner` writes to (path, open file).
pub type LogSlot = Arc<Mutex<Option<(Utf8PathBuf, File)>>>;

pub struct Lane {
    pub name: String,
    /// The signal a cancel stands for (SIGINT: "interrupt, then teardown"); 0: none.
    cancel: AtomicUsize,
    /// The suite log of the lane's current suite (`Runner::set_log`).
    pub(super) log: LogSlot,
    /// None in a dry run: nothing is written.
    stage_log: Mutex<Option<File>>,
    stage_log_path: Utf8PathBuf,
    /// Terminal copy held back, to be replayed in one group at the end.
    pub hold: bool,
    status: Mutex<String>,
    started: Instant,
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<Lane>>> = const { RefCell::new(None) };
}

impl Lane {
    /// A lane writing its own log to `log` (created, truncated; not in a
    /// dry run).
    pub fn new(
        name: &str,
        log: &Utf8Path,
        hold: bool,
        runner: &super::Runner,
    ) -> anyhow::Result<Arc<Lane>> {
        let f = if runner.dry_run {
            None
        } else {
            if let Some(dir) = log.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create log folder {dir}"))?;
            }
            Some(File::create(log).with_context(|| format!("cannot create stage log {log}"))?)
        };
        Ok(Arc::new(Lane {
            name: name.to_string(),
            cancel: AtomicUsize::new(0),
            log: Arc::new(Mutex::new(None)),
            stage_log: Mutex::new(f),
            stage_log_path: log.to_owned(),
            hold,
            status: Mutex::new(String::new()),
            started: Instant::now(),
        }))
    }

    /// Asks the stage to stop as an interrupt would: its children get SIGINT,
    /// its wait loops end, its guards tear down.
    pub fn cancel(&self) {
        self.cancel.store(libc::SIGINT as usize, Ordering::SeqCst);
    }

    pub fn cancelled(&self) -> Option<i32> {
        match self.cancel.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s as i32),
        }
    }

    pub fn log_path(&self) -> &Utf8Path {
        &self.stage_log_path
    }

    /// The progress text shown for this stage on a terminal.
    pub fn set_status(&self, s: &str) {
        *self.status.lock().unwrap() = s.to_string();
    }

    fn line(&self, line: &[u8], to_err: bool) {
        self.record(line);
        if self.hold {
            return;
        }
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches(['\n', '\r']);
        let prefixed = format!("[{}] {text}\n", self.name);
        console(|| {
            // Through `out`: masked, and a closed pipe ends printing quietly.
            let stream = if to_err {
                crate::out::Stream::Err
            } else {
                crate::out::Stream::Out
            };
            crate::out::write_bytes(stream, prefixed.as_bytes());
        });
    }

    /// Into the stage's log (and its progress line) only.
    fn record(&self, line: &[u8]) {
        if let Some(f) = self.stage_log.lock().unwrap().as_mut() {
            let _ = f.write_all(line);
            if !line.ends_with(b"\n") {
                let _ = f.write_all(b"\n");
            }
        }
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches(['\n', '\r']);
        if !text.trim().is_empty() {
            // The last thing said is the best progress line there is.
            self.set_status(text);
        }
    }
}

/// The lane of this thread, if any.
pub fn current() -> Option<Arc<Lane>> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Runs the rest of this thread (until the guard drops) in `lane`.
pub fn enter(lane: Option<Arc<Lane>>) -> Entered {
    let previous = CURRENT.with(|c| std::mem::replace(&mut *c.borrow_mut(), lane));
    Entered(previous)
}

pub struct Entered(Option<Arc<Lane>>);

impl Drop for Entered {
    fn drop(&mut self) {
        let previous = self.0.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

/// A line for stderr (our own words): through the lane when there is one.
pub fn err_line(msg: &str) {
    match current() {
        Some(l) => l.line(msg.as_bytes(), true),
        None => console(|| eprintln!("{msg}")),
    }
}

/// A line kept in the stage's log only (`--quiet` prints nothing, but the
/// stage's log still has it all).
pub fn log_only(line: &[u8]) {
    if let Some(l) = current() {
        l.record(line);
    }
}

/// A line of a child's output for stdout: through the lane when there is one.
/// False: no lane, the caller prints it as before.
pub fn out_line(line: &[u8]) -> bool {
    match current() {
        Some(l) => {
            l.line(line, false);
            true
        }
        None => false,
    }
}

// ---------------------------------------------------------------------------
// The terminal: lines above, one progress line per running stage below.
// ---------------------------------------------------------------------------

struct Board {
    lanes: Vec<Arc<Lane>>,
    /// Progress lines currently drawn under the output.
    drawn: usize,
    tty: bool,
}

static BOARD: Mutex<Board> = Mutex::new(Board {
    lanes: Vec::new(),
    drawn: 0,
    tty: false,
});

/// Prints through the board: the progress lines are wiped first and drawn
/// again after, so output and progress never overwrite each other.
fn console(print: impl FnOnce()) {
    let mut b = BOARD.lock().unwrap();
    b.wipe();
    print();
    b.draw();
}

impl Board {
    fn wipe(&mut self) {
        if self.drawn > 0 {
            let mut e = io::stderr().lock();
            for _ in 0..self.drawn {
                let _ = e.write_all(b"\x1b[1A\x1b[2K");
            }
            let _ = e.write_all(b"\r");
            self.drawn = 0;
        }
    }
    fn draw(&mut self) {
        if !self.tty || self.lanes.is_empty() {
            return;
        }
        let width = terminal_width();
        let mut e = io::stderr().lock();
        for l in &self.lanes {
            let status = l.status.lock().unwrap().clone();
            let mut line = format!(
                "  {:<15} {:>6.1}s  {}",
                l.name,
                l.started.elapsed().as_secs_f64(),
                status
            );
            if line.chars().count() > width {
                line = line.chars().take(width.saturating_sub(1)).collect();
            }
            let _ = writeln!(e, "{line}");
        }
        self.drawn = self.lanes.len();
    }
}

/// stderr's width (progress lines must not wrap, or wiping them fails).
fn terminal_width() -> usize {
    // SAFETY: TIOCGWINSZ fills a plain struct; on failure it stays zero.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(libc::STDERR_FILENO, libc::TIOCGWINSZ, &mut ws) } == 0;
    if ok && ws.ws_col > 0 {
        return ws.ws_col as usize;
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(80)
}

/// Whether progress lines are drawn: stderr is a terminal and not on CI.
pub fn live_progress() -> bool {
    io::stderr().is_terminal() && !crate::github::enabled()
}

/// Shows `lane` as running (a progress line on a terminal).
pub fn show(lane: &Arc<Lane>) {
    let mut b = BOARD.lock().unwrap();
    b.tty = live_progress();
    b.wipe();
    b.lanes.push(Arc::clone(lane));
    b.draw();
}

/// Removes `lane`'s progress line.
pub fn hide(lane: &Arc<Lane>) {
    let mut b = BOARD.lock().unwrap();
    b.wipe();
    b.lanes.retain(|l| !Arc::ptr_eq(l, lane));
    b.draw();
}

/// Redraws the progress lines (elapsed time moves on).
pub fn redraw() {
    let mut b = BOARD.lock().unwrap();
    if b.tty && !b.lanes.is_empty() {
        b.wipe();
        b.draw();
    }
}

/// Prints a finished lane's held output as one GitHub Actions group.
pub fn replay_group(lane: &Lane, title: &str) {
    console(|| {
        let mut out = io::stdout().lock();
        let _ = writeln!(
            out,
            "::group::{}",
            crate::github::escape_data(&format!("{} — {title}", lane.name))
        );
        if let Ok(mut f) = File::open(&lane.stage_log_path) {
            let _ = io::copy(&mut f, &mut out);
        }
        let _ = writeln!(out, "::endgroup::");
        let _ = out.flush();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quiet_runner() -> super::super::Runner {
        super::super::Runner::new(".".into(), false, super::super::Verbosity::Quiet)
    }

    fn temp_log(name: &str) -> Utf8PathBuf {
        Utf8PathBuf::from_path_buf(std::env::temp_dir())
            .unwrap()
            .join(format!("xtask-lane-{}", std::process::id()))
            .join(format!("{name}.log"))
    }

    #[test]
    fn a_lane_is_seen_only_by_its_thread_and_its_children_that_enter_it() {
        let p = temp_log("a");
        let lane = Lane::new("a", &p, true, &quiet_runner()).unwrap();
        assert!(current().is_none());
        {
            let _in = enter(Some(Arc::clone(&lane)));
            assert_eq!(current().unwrap().name, "a");
            std::thread::spawn(|| assert!(current().is_none()))
                .join()
                .unwrap();
            err_line("hello from a");
        }
        assert!(current().is_none());
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(text, "hello from a\n");
    }

    #[test]
    fn cancel_reads_as_an_interrupt_inside_the_lane_only() {
        let p = temp_log("b");
        let lane = Lane::new("b", &p, true, &quiet_runner()).unwrap();
        lane.cancel();
        assert_eq!(crate::runner::interrupted(), None);
        let _in = enter(Some(lane));
        assert_eq!(crate::runner::interrupted(), Some(libc::SIGINT));
    }
}
