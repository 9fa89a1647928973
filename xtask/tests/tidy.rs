//! Tidy: the repository itself, checked as part of `cargo test` (as rust-analyzer's xtask
//! does). Each invariant of ARCHITECTURE.md that a reader of the source can check is one
//! `#[test]` here; each failure lists every offending file (and line), not just the first.
//!
//! To add a check: write a `#[test] fn` that collects its findings into a `Vec<String>`
//! (one line each, `path:line: what`) and ends with `ok_or_list("what is wrong", "what to
//! do", findings)`. `source_files()` gives every `.rs` file under `xtask/src` with its path
//! relative to `src` and its text; `code_lines()` its lines that are code (no blank or
//! comment lines, no trailing unit-test module), with their line numbers.

use std::path::{Path, PathBuf};

/// At most this many lines of code in one file (see `code_lines`): a file a newcomer can hold.
const MAX_CODE_LINES: usize = 600;

struct SourceFile {
    /// Path relative to `xtask/src`, `/`-separated: `cmd/gate/graph.rs`.
    rel: String,
    text: String,
}

impl SourceFile {
    /// A unit-test file: `tests.rs` or `*_tests.rs`, the `mod tests` of the module beside it.
    fn is_tests(&self) -> bool {
        let name = self.rel.rsplit('/').next().unwrap_or(&self.rel);
        name == "tests.rs" || name.ends_with("_tests.rs")
    }
}

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `xtask/src`, sorted by path.
fn source_files() -> Vec<SourceFile> {
    fn walk(dir: &Path, src: &Path, out: &mut Vec<SourceFile>) {
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, src, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(src).unwrap();
                let rel = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                let text = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                out.push(SourceFile { rel, text });
            }
        }
    }
    let src = crate_dir().join("src");
    let mut files = Vec::new();
    walk(&src, &src, &mut files);
    files.sort_by(|a, b| a.rel.cmp(&b.rel));
    assert!(files.len() > 10, "no sources found under {}", src.display());
    files
}

/// The lines of a file that are code, numbered from 1: not blank, not a comment (`//`,
/// `///`, `//!`; we write no block comments), and not inside a trailing
/// `#[cfg(test)] mod tests { ... }` (unit tests beside the code are not what makes a file
/// hard to hold; a `tests.rs` file is measured on its own, with the same limit).
fn code_lines(text: &str) -> Vec<(usize, &str)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut end = lines.len();
    for (i, pair) in lines.windows(2).enumerate() {
        if pair[0] == "#[cfg(test)]" && pair[1].starts_with("mod tests {") {
            // rustfmt closes a top-level item with `}` in column 0; trailing if only blanks follow.
            let close = lines[i + 2..]
                .iter()
                .position(|l| *l == "}")
                .map(|p| i + 2 + p);
            if close.is_some_and(|c| lines[c + 1..].iter().all(|l| l.trim().is_empty())) {
                end = i;
                break;
            }
        }
    }
    lines[..end]
        .iter()
        .enumerate()
        .filter(|(_, l)| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with("//")
        })
        .map(|(i, l)| (i + 1, *l))
        .collect()
}

/// Passes when nothing was found; else fails with every finding, one a line.
fn ok_or_list(what: &str, fix: &str, findings: Vec<String>) {
    assert!(
        findings.is_empty(),
        "{what} ({} found):\n  {}\n{fix}",
        findings.len(),
        findings.join("\n  ")
    );
}

#[test]
fn every_source_file_opens_with_a_module_comment() {
    let findings = source_files()
        .into_iter()
        .filter(|f| !f.text.starts_with("//!"))
        .map(|f| format!("src/{}:1", f.rel))
        .collect();
    ok_or_list(
        "source files that do not open with a `//!` module comment",
        "Start each with `//!` lines saying what the module is for (why it exists, briefly).",
        findings,
    );
}

#[test]
fn no_source_file_is_over_the_size_limit() {
    let findings = source_files()
        .iter()
        .filter_map(|f| {
            let n = code_lines(&f.text).len();
            (n > MAX_CODE_LINES).then(|| format!("src/{}: {n} lines of code", f.rel))
        })
        .collect();
    ok_or_list(
        &format!("source files over {MAX_CODE_LINES} lines of code (not blank, not comments, not a trailing `mod tests`)"),
        "Split the file into submodules by job (a folder with one file per job), and name them in ARCHITECTURE.md.",
        findings,
    );
}

/// What ARCHITECTURE.md's module table names: the backticked paths in the first cell of each
/// row (`cmd/gate/graph.rs`, or `report/html.rs`, `report/svg.rs` in one cell). A path
/// ending in `/` is a folder row: it covers the `.rs` files directly in that folder (not
/// those in its subfolders, which need rows of their own).
fn architecture_names() -> Vec<String> {
    let path = crate_dir().join("../ARCHITECTURE.md");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut names = Vec::new();
    for line in text.lines().filter(|l| l.starts_with('|')) {
        let first = line.split('|').nth(1).unwrap_or("");
        names.extend(first.split('`').skip(1).step_by(2).map(str::to_string));
    }
    names
}

/// The rule: every source file is named in ARCHITECTURE.md's module table by its path
/// relative to `src`, or covered by a folder row (see `architecture_names`). Unit-test files
/// (`tests.rs`, `*_tests.rs`) need no row: they are the tests of the module beside them.
/// And every path the table names exists, so the map never points at a file that is gone.
#[test]
fn architecture_md_names_every_module() {
    let names = architecture_names();
    let files = source_files();
    let covered = |rel: &str| {
        let folder = rel.rfind('/').map_or("", |i| &rel[..=i]);
        names
            .iter()
            .any(|n| n == rel || (!folder.is_empty() && n == folder))
    };
    let mut findings: Vec<String> = files
        .iter()
        .filter(|f| !f.is_tests() && !covered(&f.rel))
        .map(|f| format!("src/{}: no row in ARCHITECTURE.md", f.rel))
        .collect();
    for n in &names {
        let exists = match n.strip_suffix('/') {
            Some(folder) => files
                .iter()
                .any(|f| f.rel.starts_with(&format!("{folder}/"))),
            None => files.iter().any(|f| f.rel == *n),
        };
        if !exists {
            findings.push(format!(
                "ARCHITECTURE.md names `{n}`: no such file or folder under xtask/src"
            ));
        }
    }
    ok_or_list(
        "ARCHITECTURE.md's module map and xtask/src disagree",
        "Give each module a row `| `path/relative/to/src.rs` | its role |` (or one folder row `| `folder/` | ... |` \
         for the files directly in it); drop rows of files that are gone.",
        findings,
    );
}

#[test]
fn code_lines_leave_out_blanks_comments_and_a_trailing_test_module() {
    let text = "//! module\n\nuse a;\n/// doc\nfn f() {\n    // why\n    g();\n}\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn t() {}\n}\n";
    let lines: Vec<usize> = code_lines(text).into_iter().map(|(n, _)| n).collect();
    assert_eq!(lines, [3, 5, 7, 8]);
    // A test module with code after it is not trailing: it counts.
    let text = "fn f() {}\n#[cfg(test)]\nmod tests {\n    fn t() {}\n}\nfn g() {}\n";
    assert_eq!(code_lines(text).len(), 6);
}

/// The process layer is the only place a process is started (ARCHITECTURE.md: every external
/// command is a `runner::Step`). Outside `src/runner/`, no code names `std::process::Command`,
/// `Command::new`, `duct` or `xshell`. Test code (a trailing `#[cfg(test)] mod tests`, or a
/// `tests.rs` file) may start a victim process (`sleep`) for the code under test to find.
#[test]
fn no_process_is_spawned_outside_the_runner() {
    const SPAWNS: &[&str] = &[
        "process::Command",
        "Command::new",
        "duct::",
        "duct!",
        "xshell::",
        "cmd!(",
        "libc::fork",
        "libc::exec",
        "posix_spawn",
    ];
    let mut findings = Vec::new();
    for f in source_files() {
        if f.rel.starts_with("runner/") || f.is_tests() {
            continue;
        }
        for (n, line) in code_lines(&f.text) {
            // clap's `Command::new` builds a parser, not a process.
            let line = line.replace("clap::Command::new", "");
            if let Some(s) = SPAWNS.iter().find(|s| line.contains(*s)) {
                findings.push(format!("src/{}:{n}: `{s}`", f.rel));
            }
        }
    }
    ok_or_list(
        "processes started outside the process layer (src/runner/)",
        "Build a `runner::Step` and run it with `Runner::run` (streamed, logged), `Runner::read` / \
         `runner::ask` (a question: `.read_only()` if it only observes), or `Runner::spawn_service`.",
        findings,
    );
}

/// Whether `line` names the identifier `ident` on its own (not as part of a longer
/// name such as `a_dry_run_sends_nothing`).
fn names_ident(line: &str, ident: &str) -> bool {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    line.match_indices(ident).any(|(at, _)| {
        let before = line[..at].chars().next_back();
        let after = line[at + ident.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

#[test]
fn only_the_runner_knows_whether_this_is_a_dry_run() {
    // Where the flag is parsed (flags.rs) and handed to the runner (context.rs builds it).
    const HANDED_OVER: &[&str] = &["flags.rs", "context.rs"];
    let mut findings = Vec::new();
    for f in source_files() {
        if f.rel.starts_with("runner/") || HANDED_OVER.contains(&f.rel.as_str()) {
            continue;
        }
        for (n, line) in code_lines(&f.text) {
            if names_ident(line, "dry_run") || line.contains("[dry-run]") {
                findings.push(format!("src/{}:{n}: {}", f.rel, line.trim()));
            }
        }
    }
    ok_or_list(
        "code outside src/runner/ that asks whether this is a dry run, or prints a `[dry-run]` line",
        "Say what the code does through the runner instead (runner/effects.rs: `effect`, \
         `write_file`, `wait`/`wait_until`, `answer`, `real_only`, `plan_only`; `run` and `read` for steps): \
         it alone decides what a dry run prints and skips.",
        findings,
    );
}

#[test]
fn names_ident_finds_the_identifier_alone() {
    assert!(names_ident("if ctx.dry_run {", "dry_run"));
    assert!(names_ident("dry_run: bool,", "dry_run"));
    assert!(!names_ident("fn a_dry_run_sends_nothing() {", "dry_run"));
    assert!(!names_ident("let dry_runs = 1;", "dry_run"));
}
