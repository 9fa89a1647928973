//! Everything we print: `println!`, `print!`, `eprintln!` and `eprint!` are
//! redefined at the crate root to come here, so every line we print (clap's
//! usage errors included) goes through the same masking as the logs, and a
//! closed pipe (`report --json | head -1`) ends our printing quietly instead
//! of panicking: the run goes on (its report, its teardown) and later output
//! to that stream is dropped, as `cat` would stop, without a message.

use std::{
    io::{self, Write},
    sync::atomic::{AtomicBool, Ordering},
};

static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);
static STDERR_CLOSED: AtomicBool = AtomicBool::new(false);

#[derive(Clone, Copy)]
pub enum Stream {
    Out,
    Err,
}

/// Writes `args` (masked), and a newline when `newline`, to the stream.
pub fn write(stream: Stream, args: std::fmt::Arguments<'_>, newline: bool) {
    let mut text = crate::redact::text(&std::fmt::format(args));
    if newline {
        text.push('\n');
    }
    write_bytes(stream, text.as_bytes());
}

/// Raw bytes (already masked), e.g. a child's output line.
pub fn write_bytes(stream: Stream, bytes: &[u8]) {
    let closed = match stream {
        Stream::Out => &STDOUT_CLOSED,
        Stream::Err => &STDERR_CLOSED,
    };
    if closed.load(Ordering::Relaxed) {
        return;
    }
    let result = match stream {
        Stream::Out => {
            let mut o = io::stdout().lock();
            o.write_all(bytes).and_then(|()| o.flush())
        }
        Stream::Err => io::stderr().lock().write_all(bytes),
    };
    // EPIPE (reader gone), EIO (terminal closed): nobody reads this stream
    // any more. Stop writing to it; never panic over it.
    if result.is_err() {
        closed.store(true, Ordering::Relaxed);
    }
}
