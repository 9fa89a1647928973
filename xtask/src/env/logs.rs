//! Service log files on the terminal (the local environment's run folder):
//! the last lines of each, prefixed with the service's name as compose does,
//! then, when following, new lines as they are written, until Ctrl-C or
//! until every service has stopped. Secrets are masked on every line.

use std::{
    io::{Read, Seek, SeekFrom, Write},
    time::Duration,
};

use camino::Utf8PathBuf;

/// How often a followed file is looked at.
const POLL: Duration = Duration::from_millis(200);

pub(super) fn show_files(
    files: &[(String, Utf8PathBuf)],
    tail: Option<u32>,
    follow: bool,
    alive: impl FnMut() -> bool,
) -> anyhow::Result<()> {
    write_files(&mut std::io::stdout().lock(), files, tail, follow, alive)
}

fn write_files(
    out: &mut impl Write,
    files: &[(String, Utf8PathBuf)],
    tail: Option<u32>,
    follow: bool,
    mut alive: impl FnMut() -> bool,
) -> anyhow::Result<()> {
    let width = files.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    let mut offsets = vec![];
    for (name, path) in files {
        // The size first: a line written while the tail is read is shown
        // once, by the follow below.
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let text = super::tail_file(path, tail.unwrap_or(u32::MAX))?;
        if !print(out, name, width, &text) {
            return Ok(());
        }
        offsets.push((size, Vec::new()));
    }
    if !follow {
        return Ok(());
    }
    loop {
        // One last read after the services stopped: their final words.
        let stopped = !alive();
        for ((name, path), (offset, partial)) in files.iter().zip(&mut offsets) {
            let Ok(mut f) = std::fs::File::open(path) else {
                continue;
            };
            let len = f.metadata().map(|m| m.len()).unwrap_or(0);
            if len < *offset {
                *offset = 0; // truncated: read it from the start
            }
            if len == *offset {
                continue;
            }
            let mut chunk = vec![];
            if f.seek(SeekFrom::Start(*offset)).is_err()
                || Read::by_ref(&mut f)
                    .take(len - *offset)
                    .read_to_end(&mut chunk)
                    .is_err()
            {
                continue;
            }
            *offset += chunk.len() as u64;
            partial.extend_from_slice(&chunk);
            // Only whole lines; the rest waits for its newline.
            if let Some(end) = partial.iter().rposition(|&b| b == b'\n') {
                let lines: Vec<u8> = partial.drain(..=end).collect();
                if !print(out, name, width, &String::from_utf8_lossy(&lines)) {
                    return Ok(());
                }
            }
        }
        if stopped {
            eprintln!("env logs: every service has stopped");
            return Ok(());
        }
        if crate::runner::interrupted().is_some() {
            return Ok(());
        }
        std::thread::sleep(POLL);
    }
}

/// False when the terminal went away (a closed pipe): stop quietly.
fn print(out: &mut impl Write, name: &str, width: usize, text: &str) -> bool {
    for line in text.lines() {
        let line = crate::redact::text(line);
        if writeln!(out, "{name:<width$} | {line}").is_err() {
            return false;
        }
    }
    out.flush().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_carry_their_service_and_secrets_are_masked() {
        crate::redact::note("DB_PASSWORD", "hunter2-secret");
        let mut out = vec![];
        assert!(print(
            &mut out,
            "app-1",
            7,
            "started\nconnecting with hunter2-secret\n"
        ));
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "app-1   | started\napp-1   | connecting with ***\n"
        );
    }

    #[test]
    fn following_shows_what_is_written_until_the_services_stop() {
        let d = super::super::tests::tempdir("logs-follow");
        let p = d.join("app-1.log");
        std::fs::write(&p, "old 1\nold 2\n").unwrap();
        let files = vec![("app-1".to_string(), p.clone())];
        let mut polls = 0;
        let mut out = vec![];
        // Writes while followed, then says the service stopped.
        write_files(&mut out, &files, Some(1), true, || {
            polls += 1;
            if polls == 1 {
                let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
                f.write_all(b"new 1\nhalf").unwrap();
            }
            polls < 3
        })
        .unwrap();
        assert_eq!(polls, 3);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "app-1 | old 2\napp-1 | new 1\n",
            "the last line, then the new whole lines"
        );
    }
}
