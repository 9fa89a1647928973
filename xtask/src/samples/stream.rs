//! The FIFO k6 writes its raw samples to (`--out json=<run>/k6-samples.fifo`),
//! read by a thread into [`Samples`] while k6 runs. Nothing of the raw
//! stream reaches the disk.
//!
//! Why a FIFO and JSON: `--out json` takes a path and opens it like a file
//! (k6 1.1.0: `os.Create`, i.e. read-write, which a FIFO accepts without
//! waiting for a reader), in the docker fallback too, where the run folder
//! is inside the mounted repository and a FIFO there is the same kernel
//! object; stdout (`json=-`) would mix the samples with k6's own output.
//! Each JSON line names its metric and carries its tags as a map, so a tag
//! k6 or the script adds cannot shift a column (CSV's weakness), and its
//! time has nanoseconds (CSV's default is whole seconds).
//!
//! We hold a write end of our own for the whole run: the reader never sees
//! an end of file before k6 has even opened the FIFO, and a k6 that never
//! opens it (bad script, bad flag) cannot leave the reader waiting; once k6
//! is gone we drop ours and the reader drains what is left.

use std::{
    fs::File,
    io::{BufReader, Read},
    os::{
        fd::AsRawFd,
        unix::{ffi::OsStrExt, fs::OpenOptionsExt},
    },
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use anyhow::Context;
use camino::{Utf8Path, Utf8PathBuf};

use super::Samples;

pub const FIFO: &str = "k6-samples.fifo";

/// After k6 ended, how long a silent FIFO may stay open by someone else
/// (a container that outlived its `docker run`) before we stop reading.
const ABANDON_AFTER: Duration = Duration::from_secs(3);

pub struct Stream {
    path: Utf8PathBuf,
    writer: Option<File>,
    done: Arc<AtomicBool>,
    abandoned: Arc<AtomicBool>,
    reader: Option<JoinHandle<std::io::Result<Samples>>>,
}

/// What was read, and whether the reader had to give up on a writer that
/// never closed.
pub struct Finished {
    pub samples: Samples,
    pub abandoned: bool,
}

impl Stream {
    /// Creates `dir/k6-samples.fifo` (mode 0600) and starts reading it.
    pub fn open(dir: &Utf8Path) -> anyhow::Result<Stream> {
        let path = dir.join(FIFO);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot remove the old {path}")),
        }
        let c = std::ffi::CString::new(path.as_os_str().as_bytes())
            .with_context(|| format!("{path} contains a NUL byte"))?;
        // SAFETY: a valid C string; mkfifo only reads it.
        if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } != 0 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("cannot create the FIFO {path} for k6's samples (is the run folder on a filesystem that has FIFOs?)"));
        }
        // Non-blocking both: opening the read end cannot wait for a writer,
        // and then the write end finds its reader.
        let read = File::options()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&path)
            .with_context(|| format!("cannot open {path} for reading"))?;
        let writer = File::options()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&path)
            .with_context(|| format!("cannot open {path} for writing"))?;
        let done = Arc::new(AtomicBool::new(false));
        let abandoned = Arc::new(AtomicBool::new(false));
        let src = PollReader {
            file: read,
            done: done.clone(),
            abandoned: abandoned.clone(),
            silent_since: None,
        };
        let reader = std::thread::Builder::new()
            .name("k6-samples".into())
            .spawn(move || Samples::read_from(BufReader::with_capacity(1 << 16, src)))
            .context("cannot start the thread that reads k6's samples")?;
        Ok(Stream {
            path,
            writer: Some(writer),
            done,
            abandoned,
            reader: Some(reader),
        })
    }

    pub fn path(&self) -> &Utf8Path {
        &self.path
    }

    /// Call once k6 has exited: the rest is drained, the FIFO removed.
    pub fn finish(mut self) -> anyhow::Result<Finished> {
        self.writer = None;
        self.done.store(true, Ordering::SeqCst);
        let samples = self
            .reader
            .take()
            .expect("finish runs once")
            .join()
            .map_err(|_| anyhow::anyhow!("the thread reading k6's samples panicked"))?
            .with_context(|| format!("cannot read k6's samples from {}", self.path))?;
        Ok(Finished {
            samples,
            abandoned: self.abandoned.load(Ordering::SeqCst),
        })
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        // An early return (error, interrupt): the reader ends with the
        // writers, the FIFO goes.
        self.writer = None;
        self.done.store(true, Ordering::SeqCst);
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Reads a non-blocking FIFO, waiting with poll(2); ends at EOF, or when k6
/// is done and the FIFO stayed silent for [`ABANDON_AFTER`].
struct PollReader {
    file: File,
    done: Arc<AtomicBool>,
    abandoned: Arc<AtomicBool>,
    silent_since: Option<Instant>,
}

impl Read for PollReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            match self.file.read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            let mut fds = libc::pollfd {
                fd: self.file.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd, for 100 ms.
            let ready = unsafe { libc::poll(&mut fds, 1, 100) };
            if ready > 0 {
                self.silent_since = None;
                continue;
            }
            if self.done.load(Ordering::SeqCst) {
                let since = *self.silent_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= ABANDON_AFTER {
                    self.abandoned.store(true, Ordering::SeqCst);
                    return Ok(0);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn tmp() -> Utf8PathBuf {
        let d = std::env::temp_dir().join(format!(
            "xtask-fifo-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&d).unwrap();
        Utf8PathBuf::from_path_buf(d).unwrap()
    }

    #[test]
    fn samples_written_to_the_fifo_by_another_writer_are_read_until_it_closes() {
        let dir = tmp();
        let s = Stream::open(&dir).unwrap();
        let text = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/k6/samples/pass.ndjson"
        ));
        let mut w = File::options().write(true).open(s.path()).unwrap();
        let writer = std::thread::spawn(move || {
            for chunk in text.as_bytes().chunks(4000) {
                w.write_all(chunk).unwrap();
            }
        });
        writer.join().unwrap();
        let f = s.finish().unwrap();
        assert!(!f.abandoned);
        assert_eq!(f.samples.requests, 70);
        assert!(!dir.join(FIFO).exists(), "the FIFO is removed");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_writer_that_outlives_k6_is_given_up_on_with_what_it_sent() {
        let dir = tmp().join("outlived");
        std::fs::create_dir_all(&dir).unwrap();
        let s = Stream::open(&dir).unwrap();
        // Like a container still holding the FIFO after `docker run` died.
        let mut w = File::options().write(true).open(s.path()).unwrap();
        w.write_all(include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/k6/samples/pass.ndjson"
        )))
        .unwrap();
        let f = s.finish().unwrap();
        assert!(f.abandoned);
        assert_eq!(f.samples.requests, 70);
        drop(w);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_k6_that_never_opened_the_fifo_gives_empty_samples_at_once() {
        let dir = tmp().join("never");
        std::fs::create_dir_all(&dir).unwrap();
        let s = Stream::open(&dir).unwrap();
        let f = s.finish().unwrap();
        assert_eq!(f.samples.lines, 0);
        // Ended by the end of file, not by giving up on a silent writer.
        assert!(!f.abandoned);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
