//! Reading files we did not make (the config, a latest report, a k6
//! summary, JUnit results, the environment record): regular files only, up
//! to a size cap. A FIFO, a device or a directory is refused at once instead
//! of blocking the run forever or reading without end; the file is opened
//! without blocking and checked on the opened descriptor, so it cannot be
//! swapped between the check and the read.

use std::{
    io::Read,
    os::unix::fs::{FileTypeExt, OpenOptionsExt},
};

use anyhow::{bail, Context};
use camino::Utf8Path;

/// Caps for what we read: a config or a record is small; a report or a
/// k6 summary is a few MiB at most; JUnit XML of a big class can be large.
pub const SMALL: u64 = 4 << 20;
pub const LARGE: u64 = 256 << 20;

/// The bytes of the regular file at `path`, or an error saying what it is
/// instead. `NotFound` stays recognisable (`is_not_found`).
pub fn read(path: &Utf8Path, cap: u64) -> anyhow::Result<Vec<u8>> {
    read_with(path, cap, 0)
}

/// `read`, but a symbolic link is refused, never followed: for what a run
/// or a tool wrote (a k6 summary, a latest report, an artifact), where a
/// link can only have been planted (`/etc/passwd` must not become an artifact).
pub fn read_no_link(path: &Utf8Path, cap: u64) -> anyhow::Result<Vec<u8>> {
    read_with(path, cap, libc::O_NOFOLLOW).map_err(|e| {
        let link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
        if link {
            anyhow::anyhow!("cannot read {path}: it is a symbolic link, and links we did not make are never followed")
        } else {
            e
        }
    })
}

/// Whether `path` is a regular file itself (a link to one is not).
pub fn is_plain_file(path: &Utf8Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file())
}

fn read_with(path: &Utf8Path, cap: u64, flags: i32) -> anyhow::Result<Vec<u8>> {
    let file = std::fs::File::options()
        .read(true)
        // Opening a FIFO for reading would wait for a writer.
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | flags)
        .open(path)
        .with_context(|| format!("cannot read {path}"))?;
    let meta = file
        .metadata()
        .with_context(|| format!("cannot read {path}"))?;
    let kind = meta.file_type();
    if !kind.is_file() {
        let what = if kind.is_dir() {
            "a folder"
        } else if kind.is_fifo() {
            "a named pipe (FIFO)"
        } else if kind.is_socket() {
            "a socket"
        } else if kind.is_char_device() || kind.is_block_device() {
            "a device"
        } else {
            "not a regular file"
        };
        bail!("cannot read {path}: it is {what}, not a regular file");
    }
    if meta.len() > cap {
        bail!(
            "cannot read {path}: {} bytes, more than the {} MiB such a file can be",
            meta.len(),
            cap >> 20
        );
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // It may grow while we read: never past the cap.
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {path}"))?;
    if bytes.len() as u64 > cap {
        bail!(
            "cannot read {path}: it grew past {} MiB while being read",
            cap >> 20
        );
    }
    Ok(bytes)
}

/// `read_no_link`, as UTF-8 text.
pub fn read_string_no_link(path: &Utf8Path, cap: u64) -> anyhow::Result<String> {
    String::from_utf8(read_no_link(path, cap)?).with_context(|| format!("{path} is not UTF-8 text"))
}

/// `read`, as UTF-8 text.
pub fn read_string(path: &Utf8Path, cap: u64) -> anyhow::Result<String> {
    String::from_utf8(read(path, cap)?).with_context(|| format!("{path} is not UTF-8 text"))
}

/// Whether `read` failed because nothing is at the path.
/// `p` from `root` when it lies inside, else `p` as given: how paths are
/// shown in messages, logs and reports.
pub fn relative<'a>(root: &Utf8Path, p: &'a Utf8Path) -> &'a Utf8Path {
    p.strip_prefix(root).unwrap_or(p)
}

pub fn is_not_found(e: &anyhow::Error) -> bool {
    e.downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use camino::Utf8PathBuf;

    fn dir(name: &str) -> Utf8PathBuf {
        let d = Utf8PathBuf::from_path_buf(std::env::temp_dir())
            .unwrap()
            .join(format!("xtask-files-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn links_are_never_followed_where_we_read_what_a_run_wrote() {
        let d = dir("links");
        std::fs::write(d.join("real.json"), "{}").unwrap();
        std::os::unix::fs::symlink(d.join("real.json"), d.join("link.json")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", d.join("passwd")).unwrap();
        assert_eq!(read_no_link(&d.join("real.json"), SMALL).unwrap(), b"{}");
        for l in ["link.json", "passwd"] {
            let e = format!("{:#}", read_no_link(&d.join(l), SMALL).unwrap_err());
            assert!(e.contains("symbolic link"), "{e}");
            assert!(!is_plain_file(&d.join(l)));
        }
        assert!(is_plain_file(&d.join("real.json")));
        // Where the user names a file (the config), a link is fine.
        assert_eq!(read(&d.join("link.json"), SMALL).unwrap(), b"{}");
    }

    fn mkfifo(p: &Utf8Path) {
        let c = std::ffi::CString::new(p.as_str()).unwrap();
        // SAFETY: a plain syscall on a valid C string.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    }

    #[test]
    fn a_regular_file_reads_back() {
        let d = dir("regular");
        std::fs::write(d.join("a"), "hello").unwrap();
        assert_eq!(read_string(&d.join("a"), SMALL).unwrap(), "hello");
    }

    #[test]
    fn a_fifo_is_refused_at_once_without_a_writer() {
        let d = dir("fifo");
        let p = d.join("summary.json");
        mkfifo(&p);
        let t = std::time::Instant::now();
        let e = read(&p, SMALL).unwrap_err().to_string();
        assert!(t.elapsed() < std::time::Duration::from_secs(1));
        assert_eq!(
            e,
            format!("cannot read {p}: it is a named pipe (FIFO), not a regular file")
        );
    }

    #[test]
    fn devices_folders_and_missing_files_are_refused_saying_what_they_are() {
        let e = read(Utf8Path::new("/dev/zero"), SMALL).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("it is a device, not a regular file"),
            "{e}"
        );
        let d = dir("folder");
        let e = read(&d, SMALL).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("it is a folder, not a regular file"),
            "{e}"
        );
        let e = read(&d.join("none"), SMALL).unwrap_err();
        assert!(is_not_found(&e), "{e:#}");
        assert!(!is_not_found(&read(&d, SMALL).unwrap_err()));
    }

    #[test]
    fn a_file_over_its_cap_is_refused() {
        let d = dir("cap");
        let p = d.join("big");
        std::fs::write(&p, vec![b'x'; 2048]).unwrap();
        assert_eq!(read(&p, 2048).unwrap().len(), 2048);
        let e = read(&p, 2047).unwrap_err().to_string();
        assert!(e.contains("2048 bytes, more than"), "{e}");
    }
}
