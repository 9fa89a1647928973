//! `cargo xtask adopt TARGET`: puts this xtask into a service repository,
//! the list README's adoption section names: the workspace (`Cargo.toml`,
//! `Cargo.lock`, `.cargo/`, `xtask/`), the wrappers (`scripts-legacy/`, and
//! with `--legacy-paths` at the legacy scripts' own paths, `scripts/ops/...`,
//! `scripts/perf/...`, `scripts/api/run-api-script-tests.sh`), the
//! workflows, `reports/README.md` and the schema, the service's config as
//! `xtask.toml`, our block in `.gitignore` (the service's ignores neither
//! `target/` nor `reports/`), and, without `--legacy-paths`, the Makefile's
//! calls of the legacy scripts pointed at the wrappers.
//!
//! Idempotent: a file already as it would be written is left alone. A file
//! adopt wrote before (recorded with its hash in `xtask/adopted.txt`) and
//! nobody changed since is updated. The legacy scripts (with
//! `--legacy-paths`) and the service's two legacy workflows are replaced on
//! purpose (git keeps them). Any other file that exists and differs is a
//! conflict: all conflicts are listed and nothing is written, unless
//! `--force`.

use std::collections::BTreeMap;

use anyhow::{bail, Context};
use camino::{Utf8Path, Utf8PathBuf};

use crate::{
    context::{Ctx, Exit},
    flags,
};

/// Where adopt records what it wrote: `<fnv1a-64 hex> <path>` per line.
const MANIFEST: &str = "xtask/adopted.txt";

/// The wrappers and the legacy script each stands in for.
pub const LEGACY_PATHS: [(&str, &str); 8] = [
    ("run-runtime-integration-tests.sh", "scripts/ops"),
    ("run-release-gate.sh", "scripts/ops"),
    ("runtime-health-check.sh", "scripts/ops"),
    ("collect-runtime-monitor-snapshot.sh", "scripts/ops"),
    ("run-k6-waiting-queue.sh", "scripts/perf"),
    ("run-k6-baseline.sh", "scripts/perf"),
    ("run-k6-waiting-queue-distributed.sh", "scripts/perf"),
    ("run-api-script-tests.sh", "scripts/api"),
];

/// The service's workflows that ours replace (same names, same jobs).
const REPLACED_WORKFLOWS: [&str; 2] = [
    ".github/workflows/verify.yml",
    ".github/workflows/runtime-integration-smoke.yml",
];

const GITIGNORE_BEGIN: &str = "# >>> cargo xtask (written by `cargo xtask adopt`)";
const GITIGNORE_END: &str = "# <<< cargo xtask";
/// What a run leaves in the service root: the build, the pinned tools,
/// the reports, Gradle's build cache (`[gradle].build_cache`'s default).
const GITIGNORE_BLOCK: &str = "/target/\n/.tools/\n/reports/*\n!/reports/README.md\n!/reports/report.schema.json\n/.gradle-build-cache/\n";

/// One file adopt means to write.
#[derive(Debug, Clone)]
struct Planned {
    rel: Utf8PathBuf,
    bytes: Vec<u8>,
    exec: bool,
    /// Replaced on purpose when it is not ours yet (a legacy script or
    /// workflow), and merged files (`.gitignore`, Makefile): never a conflict.
    replaces: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Add,
    Unchanged,
    Update,
    Replace,
    Conflict,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Add => "added",
            Action::Unchanged => "unchanged",
            Action::Update => "updated",
            Action::Replace => "replaced",
            Action::Conflict => "CHANGED",
        }
    }
}

impl flags::Adopt {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        let target = crate::context::absolute(&ctx.root, &self.target);
        if !target.is_dir() {
            bail!("{target} is not a folder: name the service repository's checkout");
        }
        let target = target
            .canonicalize_utf8()
            .with_context(|| format!("cannot resolve {target}"))?;
        if target == ctx.root {
            bail!("{target} is this repository: name the service repository's checkout");
        }
        let config = ctx.path(&self.config_file);
        let planned = plan(&ctx.root, &target, &config, self.legacy_paths)?;
        let recorded = read_manifest(&target);
        let mut actions = vec![];
        for p in &planned {
            actions.push((p, classify(&target, p, &recorded)));
        }
        let conflicts: Vec<_> = actions
            .iter()
            .filter(|(_, a)| *a == Action::Conflict)
            .map(|(p, _)| p.rel.as_str())
            .collect();
        if !conflicts.is_empty() && !self.force {
            bail!(
                "{} file(s) in {target} differ from what adopt writes and were not written by it: {}; nothing was written. Keep your changes elsewhere, or pass --force to overwrite them",
                conflicts.len(),
                conflicts.join(", ")
            );
        }
        let mut manifest = recorded.clone();
        for (p, action) in &actions {
            let shown = if *action == Action::Conflict {
                "overwritten (--force)"
            } else {
                action.as_str()
            };
            println!("{:<22} {}", shown, p.rel);
            if *action != Action::Unchanged {
                // A dry run lists the plan above; it writes nothing.
                let file = target.join(&p.rel);
                ctx.runner
                    .real_only(|| write(&file, &p.bytes, p.exec))
                    .transpose()?;
            }
            manifest.insert(p.rel.to_string(), fnv1a(&p.bytes));
        }
        let runner = ctx.runner.clone();
        runner.effect("nothing written", || {
            self.write_manifest(&target, &manifest, &planned)
        })?;
        Ok(Exit::OK)
    }

    /// The manifest of what adopt wrote, and what to do next.
    fn write_manifest(
        &self,
        target: &Utf8Path,
        manifest: &std::collections::BTreeMap<String, u64>,
        planned: &[Planned],
    ) -> anyhow::Result<()> {
        let text: String = manifest
            .iter()
            .filter(|(rel, _)| planned.iter().any(|p| p.rel.as_str() == rel.as_str()))
            .map(|(rel, h)| format!("{h:016x} {rel}\n"))
            .collect();
        let text = format!(
            "# Files `cargo xtask adopt` wrote, with their FNV-1a hashes: a file still\n# matching its hash is updated by the next adopt; a changed one is kept.\n{text}"
        );
        write(&target.join(MANIFEST), text.as_bytes(), false)?;
        println!(
            "adopted into {target}: commit it (git add -A && git commit), then `cargo xtask doctor` and `cargo xtask gate` there"
        );
        Ok(())
    }
}

/// Every file adopt writes, with its content.
fn plan(
    root: &Utf8Path,
    target: &Utf8Path,
    config: &Utf8Path,
    legacy_paths: bool,
) -> anyhow::Result<Vec<Planned>> {
    let read = |rel: &str| -> anyhow::Result<Vec<u8>> {
        let p = root.join(rel);
        std::fs::read(&p).with_context(|| format!("cannot read {p}"))
    };
    let copy = |rel: &str, exec: bool, replaces: bool| -> anyhow::Result<Planned> {
        Ok(Planned {
            rel: rel.into(),
            bytes: read(rel)?,
            exec,
            replaces,
        })
    };
    let mut out = vec![];
    for rel in [
        "Cargo.toml",
        "Cargo.lock",
        ".cargo/config.toml",
        "xtask/Cargo.toml",
    ] {
        out.push(copy(rel, false, false)?);
    }
    for rel in files_under(root, "xtask/src")? {
        out.push(copy(&rel, false, false)?);
    }
    for (name, legacy_dir) in LEGACY_PATHS {
        let rel = format!("scripts-legacy/{name}");
        let wrapper = copy(&rel, true, false)?;
        if legacy_paths {
            out.push(Planned {
                rel: format!("{legacy_dir}/{name}").into(),
                bytes: at_depth(&wrapper.bytes, 2)?,
                exec: true,
                replaces: true,
            });
        }
        out.push(wrapper);
    }
    for rel in files_under(root, ".github/workflows")? {
        let replaces = REPLACED_WORKFLOWS.contains(&rel.as_str());
        out.push(copy(&rel, false, replaces)?);
    }
    for rel in ["reports/README.md", "reports/report.schema.json"] {
        out.push(copy(rel, false, false)?);
    }
    out.push(Planned {
        rel: "xtask.toml".into(),
        bytes: std::fs::read(config)
            .with_context(|| format!("cannot read the service config {config}"))?,
        exec: false,
        replaces: false,
    });
    let current = |rel: &str| std::fs::read_to_string(target.join(rel)).ok();
    out.push(Planned {
        rel: ".gitignore".into(),
        bytes: gitignore(current(".gitignore").as_deref()).into_bytes(),
        exec: false,
        replaces: true,
    });
    if !legacy_paths {
        if let Some(make) = current("Makefile") {
            out.push(Planned {
                rel: "Makefile".into(),
                bytes: makefile(&make).into_bytes(),
                exec: false,
                replaces: true,
            });
        }
    }
    Ok(out)
}

/// Files under `dir` (relative to `root`), sorted, as relative paths.
fn files_under(root: &Utf8Path, dir: &str) -> anyhow::Result<Vec<String>> {
    let mut found = vec![];
    let mut todo = vec![root.join(dir)];
    while let Some(d) = todo.pop() {
        for e in d
            .read_dir_utf8()
            .with_context(|| format!("cannot list {d}"))?
        {
            let e = e.with_context(|| format!("cannot list {d}"))?;
            let t = e.file_type()?;
            if t.is_dir() {
                todo.push(e.path().to_path_buf());
            } else if t.is_file() {
                let rel = e.path().strip_prefix(root).unwrap_or(e.path());
                found.push(rel.to_string());
            }
        }
    }
    found.sort();
    Ok(found)
}

/// A wrapper moved `depth` folders below the root: its `cd` climbs that far.
fn at_depth(wrapper: &[u8], depth: usize) -> anyhow::Result<Vec<u8>> {
    let text = std::str::from_utf8(wrapper).context("a wrapper is not UTF-8")?;
    let from = "\"${BASH_SOURCE[0]}\")/..\"";
    if !text.contains(from) {
        bail!("a wrapper in scripts-legacy/ has no `cd` to the repository root");
    }
    let to = format!("\"${{BASH_SOURCE[0]}}\"){}\"", "/..".repeat(depth));
    Ok(text.replace(from, &to).into_bytes())
}

/// The service's .gitignore with our block (added, or brought up to date).
pub fn gitignore(current: Option<&str>) -> String {
    let block = format!("{GITIGNORE_BEGIN}\n{GITIGNORE_BLOCK}{GITIGNORE_END}\n");
    let current = current.unwrap_or("");
    match (current.find(GITIGNORE_BEGIN), current.find(GITIGNORE_END)) {
        (Some(b), Some(e)) if e > b => {
            let end = e + GITIGNORE_END.len();
            let rest = current[end..].strip_prefix('\n').unwrap_or(&current[end..]);
            format!("{}{block}{rest}", &current[..b])
        }
        _ if current.is_empty() => block,
        _ if current.ends_with('\n') => format!("{current}\n{block}"),
        _ => format!("{current}\n\n{block}"),
    }
}

/// The Makefile with every call of a legacy script pointed at its wrapper.
pub fn makefile(current: &str) -> String {
    let mut text = current.to_string();
    for (name, dir) in LEGACY_PATHS {
        text = text.replace(&format!("{dir}/{name}"), &format!("scripts-legacy/{name}"));
    }
    text
}

fn classify(target: &Utf8Path, p: &Planned, recorded: &BTreeMap<String, u64>) -> Action {
    let Ok(current) = std::fs::read(target.join(&p.rel)) else {
        return Action::Add;
    };
    if current == p.bytes {
        return Action::Unchanged;
    }
    match recorded.get(p.rel.as_str()) {
        Some(h) if *h == fnv1a(&current) => Action::Update,
        _ if is_merge(&p.rel) => Action::Update,
        Some(_) => Action::Conflict,
        None if p.replaces => Action::Replace,
        None => Action::Conflict,
    }
}

/// Files adopt edits rather than owns: their new content already keeps the
/// team's.
fn is_merge(rel: &Utf8Path) -> bool {
    rel == ".gitignore" || rel == "Makefile"
}

fn read_manifest(target: &Utf8Path) -> BTreeMap<String, u64> {
    let text = std::fs::read_to_string(target.join(MANIFEST)).unwrap_or_default();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (h, rel) = l.split_once(' ')?;
            Some((rel.to_string(), u64::from_str_radix(h, 16).ok()?))
        })
        .collect()
}

fn write(path: &Utf8Path, bytes: &[u8], exec: bool) -> anyhow::Result<()> {
    crate::report::write_atomic(path, bytes)?;
    if exec {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("cannot make {path} executable"))?;
    }
    Ok(())
}

/// FNV-1a, 64 bits: stable across Rust versions (std's hasher is not), enough
/// to tell "as adopt wrote it" from "changed since".
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gitignore_block_is_added_once_and_kept_up_to_date() {
        let service = ".env\n.env.local\n.gradle/\nbuild/\n.codex/\n";
        let once = gitignore(Some(service));
        assert!(once.starts_with(service), "{once}");
        assert!(
            once.contains("/target/\n") && once.contains("/reports/*\n"),
            "{once}"
        );
        assert_eq!(gitignore(Some(&once)), once, "idempotent");
        // An old block is replaced, the team's lines around it kept.
        let old = format!("{service}\n{GITIGNORE_BEGIN}\n/target/\n{GITIGNORE_END}\n*.log\n");
        let new = gitignore(Some(&old));
        assert!(
            new.contains("/reports/*\n") && new.ends_with("*.log\n"),
            "{new}"
        );
        assert_eq!(new.matches(GITIGNORE_BEGIN).count(), 1, "{new}");
    }

    #[test]
    fn the_makefile_calls_the_wrappers() {
        let make = "test-k6:\n\tbash ./scripts/perf/run-k6-waiting-queue.sh\n\
                    test-k6-distributed:\n\tbash ./scripts/perf/run-k6-waiting-queue-distributed.sh\n\
                    test-suite:\n\tbash ./scripts/api/run-api-script-tests.sh\n\
                    test-v1:\n\t./scripts/api/v1-optimistic.sh\n";
        let new = makefile(make);
        assert!(
            new.contains("bash ./scripts-legacy/run-k6-waiting-queue.sh\n"),
            "{new}"
        );
        assert!(
            new.contains("bash ./scripts-legacy/run-k6-waiting-queue-distributed.sh\n"),
            "{new}"
        );
        assert!(
            new.contains("bash ./scripts-legacy/run-api-script-tests.sh\n"),
            "{new}"
        );
        assert!(
            new.contains("./scripts/api/v1-optimistic.sh"),
            "the service's own scripts stay: {new}"
        );
        assert_eq!(makefile(&new), new);
    }

    #[test]
    fn a_wrapper_at_a_legacy_path_climbs_to_the_root() {
        let w =
            b"cd -- \"$(dirname -- \"${BASH_SOURCE[0]}\")/..\"\nexec cargo xtask k6 run \"$@\"\n";
        let moved = String::from_utf8(at_depth(w, 2).unwrap()).unwrap();
        assert!(
            moved.starts_with("cd -- \"$(dirname -- \"${BASH_SOURCE[0]}\")/../..\"\n"),
            "{moved}"
        );
    }

    #[test]
    fn the_hash_is_fnv1a() {
        // The published FNV-1a 64 test vectors.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
