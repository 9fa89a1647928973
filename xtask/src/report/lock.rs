//! One run per suite at a time: an OS file lock (released even if we are killed) holding
//! the owner's pid for the message; `wait_at` for what may run one after the other.

use std::{fs::File, io::Write, time::Instant};

use anyhow::Context;
use camino::Utf8Path;

/// One run per suite at a time. The lock is an OS file lock (released even
/// if we are killed); the file holds the owner's pid for the message.
pub struct SuiteLock {
    _file: File,
}

impl SuiteLock {
    #[cfg(test)]
    pub fn acquire(suite_dir: &Utf8Path, suite: &str) -> anyhow::Result<SuiteLock> {
        Self::acquire_at(&suite_dir.join(".lock"), suite)
    }

    /// `<dir>/<suite>.lock`, the folder created if need be.
    pub fn at(dir: &Utf8Path, suite: &str) -> anyhow::Result<SuiteLock> {
        std::fs::create_dir_all(dir).with_context(|| {
            format!(
                "cannot create the lock folder {dir}: check that the service folder is writable"
            )
        })?;
        SuiteLock::acquire_at(&dir.join(format!("{suite}.lock")), suite)
    }

    /// Waits (interruptibly, up to `limit`) for `<dir>/<name>.lock`, saying
    /// once whom it waits for: for what must not run twice at once but may
    /// run one after the other (Gradle's test results of one service).
    pub fn wait_at(
        dir: &Utf8Path,
        name: &str,
        what: &str,
        limit: std::time::Duration,
        mut say: impl FnMut(&str),
    ) -> anyhow::Result<SuiteLock> {
        let until = Instant::now() + limit;
        let mut said = false;
        loop {
            match SuiteLock::at(dir, name) {
                Ok(lock) => return Ok(lock),
                Err(e) if e.downcast_ref::<Busy>().is_some() => {
                    if !said {
                        say(&format!("waiting for {what}: {e}"));
                        said = true;
                    }
                    if Instant::now() >= until {
                        return Err(e).context(format!(
                            "gave up waiting for {what} after {}",
                            crate::units::Duration(limit)
                        ));
                    }
                    crate::runner::sleep(std::time::Duration::from_millis(100))?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    pub fn acquire_at(path: &Utf8Path, suite: &str) -> anyhow::Result<SuiteLock> {
        let path = path.to_path_buf();
        let mut file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("cannot open lock file {path}"))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = crate::files::read_string(&path, 64).unwrap_or_default();
                let holder = holder.trim();
                return Err(Busy(format!(
                    "suite `{suite}` is already running (pid {}, lock {path}); wait for it or stop it",
                    if holder.is_empty() { "unknown" } else { holder }
                ))
                .into());
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {path}"))
            }
        }
        file.set_len(0)?;
        write!(file, "{}", std::process::id())?;
        Ok(SuiteLock { _file: file })
    }
}

/// Another process holds the lock.
#[derive(Debug)]
pub struct Busy(String);

impl std::fmt::Display for Busy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for Busy {}
