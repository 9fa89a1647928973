//! `cargo xtask adopt`: README's adoption list written into a service-shaped
//! repository, idempotent, never overwriting a changed file without
//! --force, leaving a tree that stays clean after a run.

mod common;

use std::path::Path;

use common::*;

/// A repository shaped like the service: its .gitignore (which ignores
/// neither target/ nor reports/), a Makefile calling the legacy scripts,
/// the legacy scripts and workflow at their paths.
fn service(name: &str) -> TempDir {
    let d = TempDir::outside_repo(name);
    git(d.path(), &["init", "-q"]);
    std::fs::write(
        d.join(".gitignore"),
        ".env\n.env.local\n.gradle/\nbuild/\nout/\n.idea/\n*.iml\n.codex/\n.DS_Store\n",
    )
    .unwrap();
    std::fs::write(
        d.join("Makefile"),
        "test-release-gate:\n\tbash ./scripts/ops/run-release-gate.sh\n\
         test-k6:\n\tbash ./scripts/perf/run-k6-waiting-queue.sh\n\
         test-suite:\n\tbash ./scripts/api/run-api-script-tests.sh\n",
    )
    .unwrap();
    for p in [
        "scripts/ops/run-release-gate.sh",
        "scripts/perf/run-k6-waiting-queue.sh",
        "scripts/api/run-api-script-tests.sh",
        ".github/workflows/verify.yml",
    ] {
        std::fs::create_dir_all(d.join(p).parent().unwrap()).unwrap();
        std::fs::write(d.join(p), "# the service's own\n").unwrap();
    }
    git(d.path(), &["add", "-A"]);
    git(d.path(), &["commit", "-qm", "service"]);
    d
}

fn adopt(target: &Path, extra: &[&str]) -> Run {
    let mut cmd = xtask();
    cmd.arg("adopt").arg(target).args(extra);
    run(&mut cmd)
}

#[test]
fn adopt_writes_the_list_at_the_legacy_paths_and_is_idempotent() {
    let d = service("adopt-legacy");
    let out = adopt(d.path(), &["--legacy-paths"]);
    assert_eq!(out.code, 0, "{}", out.show());
    for f in [
        "Cargo.toml",
        "Cargo.lock",
        ".cargo/config.toml",
        "xtask/Cargo.toml",
        "xtask/src/main.rs",
        "scripts-legacy/run-release-gate.sh",
        ".github/workflows/gate.yml",
        "reports/README.md",
        "reports/report.schema.json",
        "xtask.toml",
        "xtask/adopted.txt",
    ] {
        assert!(d.join(f).is_file(), "{f} missing:\n{}", out.show());
    }
    // The service config became xtask.toml.
    assert_eq!(
        std::fs::read(d.join("xtask.toml")).unwrap(),
        std::fs::read(root().join("configs/ticket-core-service.toml")).unwrap()
    );
    // The wrappers stand where the Makefile and documents call them, and
    // climb two folders to the root; the Makefile is untouched.
    let wrapper = std::fs::read_to_string(d.join("scripts/ops/run-release-gate.sh")).unwrap();
    assert!(
        wrapper.contains("/../..\"") && wrapper.contains("exec cargo xtask release-gate"),
        "{wrapper}"
    );
    let api = std::fs::read_to_string(d.join("scripts/api/run-api-script-tests.sh")).unwrap();
    assert!(api.contains("exec cargo xtask api-scripts"), "{api}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(d.join("scripts/perf/run-k6-waiting-queue.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o111, 0o111, "wrappers are executable");
    assert!(std::fs::read_to_string(d.join("Makefile"))
        .unwrap()
        .contains("bash ./scripts/ops/run-release-gate.sh"));
    assert!(
        out.stdout
            .contains("replaced               scripts/ops/run-release-gate.sh"),
        "{}",
        out.show()
    );
    assert!(
        out.stdout
            .contains("replaced               .github/workflows/verify.yml"),
        "{}",
        out.show()
    );

    // What a run leaves (target/, reports/) is ignored: the tree stays clean.
    git(d.path(), &["add", "-A"]);
    git(d.path(), &["commit", "-qm", "adopt"]);
    for f in [
        "target/debug/xtask",
        "reports/gate/latest/gate-latest.md",
        ".tools/k6/bin/k6",
        ".gradle-build-cache/xtask-build-cache.gradle",
        ".codex/tmp/ticket-core-service/k6/latest/k6-latest.md",
    ] {
        std::fs::create_dir_all(d.join(f).parent().unwrap()).unwrap();
        std::fs::write(d.join(f), "x").unwrap();
    }
    assert_eq!(
        git(d.path(), &["status", "--porcelain"]),
        "",
        "a run leaves the tree clean"
    );

    // Again: nothing to do.
    let again = adopt(d.path(), &["--legacy-paths"]);
    assert_eq!(again.code, 0, "{}", again.show());
    assert!(
        !again
            .stdout
            .lines()
            .any(|l| !l.starts_with("unchanged") && !l.starts_with("adopted into")),
        "{}",
        again.show()
    );
    assert_eq!(git(d.path(), &["status", "--porcelain"]), "");
}

#[test]
fn a_changed_file_is_kept_unless_forced_and_nothing_is_half_written() {
    let d = service("adopt-changed");
    assert_eq!(adopt(d.path(), &[]).code, 0);
    // Without --legacy-paths the Makefile calls the wrappers in scripts-legacy/.
    let make = std::fs::read_to_string(d.join("Makefile")).unwrap();
    assert!(
        make.contains("bash ./scripts-legacy/run-release-gate.sh"),
        "{make}"
    );
    assert!(
        make.contains("bash ./scripts-legacy/run-api-script-tests.sh"),
        "{make}"
    );
    assert_eq!(
        std::fs::read_to_string(d.join("scripts/ops/run-release-gate.sh")).unwrap(),
        "# the service's own\n"
    );

    // The team tunes its xtask.toml; a file adopt wrote and nobody touched
    // (the gate workflow) is stale: adopt refuses, writes nothing.
    std::fs::write(d.join("xtask.toml"), "# tuned by the team\n").unwrap();
    std::fs::write(d.join(".github/workflows/gate.yml"), "old\n").unwrap();
    let manifest = std::fs::read_to_string(d.join("xtask/adopted.txt")).unwrap();
    let out = adopt(d.path(), &[]);
    assert_eq!(out.code, 1, "{}", out.show());
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.show());
    assert!(
        out.stderr.contains("xtask.toml") && out.stderr.contains("--force"),
        "{}",
        out.show()
    );
    assert_eq!(
        std::fs::read_to_string(d.join("xtask.toml")).unwrap(),
        "# tuned by the team\n"
    );
    assert_eq!(
        std::fs::read_to_string(d.join(".github/workflows/gate.yml")).unwrap(),
        "old\n",
        "nothing written"
    );
    assert_eq!(
        std::fs::read_to_string(d.join("xtask/adopted.txt")).unwrap(),
        manifest
    );

    // A file of its own that adopt never wrote is a conflict too.
    let d2 = service("adopt-foreign");
    std::fs::write(d2.join("Cargo.toml"), "[package]\nname = \"theirs\"\n").unwrap();
    let out = adopt(d2.path(), &[]);
    assert_eq!(out.code, 1, "{}", out.show());
    assert!(out.stderr.contains("Cargo.toml"), "{}", out.show());
    assert!(!d2.join("xtask").exists(), "nothing written");

    // --force overwrites.
    let out = adopt(d.path(), &["--force"]);
    assert_eq!(out.code, 0, "{}", out.show());
    assert_eq!(
        std::fs::read(d.join("xtask.toml")).unwrap(),
        std::fs::read(root().join("configs/ticket-core-service.toml")).unwrap()
    );
}

#[test]
fn a_dry_run_lists_the_plan_and_writes_nothing() {
    let d = service("adopt-dry");
    let mut cmd = xtask();
    cmd.args(["--dry-run", "adopt"]).arg(d.path());
    let out = run(&mut cmd);
    assert_eq!(out.code, 0, "{}", out.show());
    assert!(
        out.stdout.contains("added                  xtask.toml"),
        "{}",
        out.show()
    );
    assert!(
        out.stdout.contains("[dry-run] nothing written"),
        "{}",
        out.show()
    );
    assert_eq!(
        git(d.path(), &["status", "--porcelain"]),
        "",
        "nothing written"
    );
}
