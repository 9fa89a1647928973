//! The adoption, as a new user does it: a service-shaped git repository
//! built from the demo (the demo's files at its root, the service's
//! .gitignore), README's "Adopting it in the real service" commands run
//! word for word (only `SERVICE` and `CONFIG` take this test's values),
//! then the gate there must say READY with clean provenance, and one more
//! commit must make it STALE. The adopted xtask is compiled there from cold
//! by `cargo xtask`, as the service would compile it.

mod common;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Command,
};

use common::*;

/// README's adoption block: the lines of the first ```sh block of the section.
fn readme_steps() -> Vec<String> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = readme
        .split("\n## ")
        .find(|s| s.starts_with("Adopting it in the real service"))
        .expect("README has the adoption section");
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("the adoption section has a ```sh block");
    block
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

/// Words of a line as sh splits them: double quotes group, `$NAME` and
/// `"$NAME"` expand from `vars`.
fn words(line: &str, vars: &BTreeMap<String, String>) -> Vec<String> {
    let mut out = vec![];
    let mut cur = String::new();
    let mut quoted = false;
    let mut started = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                started = true;
            }
            ' ' if !quoted => {
                if started {
                    out.push(std::mem::take(&mut cur));
                    started = false;
                }
            }
            '$' => {
                let mut name = String::new();
                while let Some(n) = chars
                    .peek()
                    .filter(|n| n.is_ascii_alphanumeric() || **n == '_')
                {
                    name.push(*n);
                    chars.next();
                }
                cur += vars
                    .get(&name)
                    .unwrap_or_else(|| panic!("README uses ${name}, which the test does not set"));
                started = true;
            }
            c => {
                cur.push(c);
                started = true;
            }
        }
    }
    if started {
        out.push(cur);
    }
    out
}

fn copy_tree(from: &Path, to: &Path, skip: &[&str]) {
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().into_string().unwrap();
        if skip.contains(&name.as_str()) {
            continue;
        }
        let (src, dst) = (e.path(), to.join(&name));
        if e.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&dst).unwrap();
            copy_tree(&src, &dst, &[]);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

/// The demo as the service is laid out: its files at the root, the
/// service's .gitignore (which ignores neither target/ nor reports/).
fn service_twin(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    copy_tree(
        &root().join("demo"),
        dir,
        &["build", ".gradle", ".env.local"],
    );
    std::fs::write(
        dir.join(".gitignore"),
        ".env\n.env.local\n.gradle/\nbuild/\nout/\n.idea/\n*.iml\n.codex/\n.DS_Store\n",
    )
    .unwrap();
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["config", "user.name", "adoption test"]);
    git(dir, &["config", "user.email", "adoption@example.invalid"]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", "the service, before the xtask"]);
}

/// As a new user's shell: none of the legacy variables a developer may have
/// set, and the service builds its own xtask into its own target/.
fn clean_env(c: &mut Command) {
    const PREFIXES: [&str; 10] = [
        "XTASK_",
        "CODEX_TMP_DIR",
        "GITHUB_",
        "IT_",
        "K6_",
        "DIST_",
        "OPS_",
        "RELEASE_GATE_",
        "DEMO_",
        "TCS_",
    ];
    for (k, _) in std::env::vars() {
        if PREFIXES.iter().any(|p| k.starts_with(p)) || k == "API_HOST" || k == "CONCERT_ID" {
            c.env_remove(&k);
        }
    }
    c.env_remove("CARGO_TARGET_DIR");
}

/// The demo's config, for the demo laid out at the root.
fn twin_config(path: &Path) {
    let text = std::fs::read_to_string(root().join("xtask.toml")).unwrap();
    let text = text
        .replace("service_dir = \"demo\"", "service_dir = \".\"")
        .replace("\"demo/", "\"");
    let left: Vec<_> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && l.contains("demo/"))
        .collect();
    assert!(
        left.is_empty(),
        "demo/ paths left in the twin's config: {left:?}"
    );
    std::fs::write(path, text).unwrap();
}

#[test]
#[ignore = "compiles the adopted xtask from cold and runs the whole gate (2-3 min, port 18080): cargo xtask ci runs it"]
fn readme_adoption_steps_make_a_service_ready_and_a_new_commit_stale() {
    let _demo = serial();
    let k6 = require_k6();
    let work = TempDir::outside_repo("adoption");
    let service = work.join("ticket-core-service");
    service_twin(&service);
    let config = work.join("twin.toml");
    twin_config(&config);

    let mut vars = BTreeMap::new();
    let steps = readme_steps();
    // The README's own values for SERVICE and CONFIG give way to ours; any
    // other assignment would be a step this test does not know.
    let mut cwd: PathBuf = root();
    // The pinned k6 this checkout's setup installed: nothing downloaded.
    let path = format!(
        "{}:{}",
        k6.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut ran = vec![];
    for line in &steps {
        if let Some((name, _)) = line.split_once('=').filter(|(n, _)| !n.contains(' ')) {
            let ours = match name {
                "SERVICE" => service.display().to_string(),
                "CONFIG" => config.display().to_string(),
                other => panic!("README sets {other}, which the adoption test does not know"),
            };
            vars.insert(name.to_string(), ours);
            continue;
        }
        let argv = words(line, &vars);
        if argv[0] == "cd" {
            cwd = cwd.join(&argv[1]);
            continue;
        }
        let mut cmd = if argv[..2] == ["cargo", "xtask"] && cwd == root() {
            // In this repository `cargo xtask` is the binary under test.
            let mut c = xtask();
            c.args(&argv[2..]);
            c
        } else {
            let mut c = Command::new(&argv[0]);
            c.args(&argv[1..]);
            clean_env(&mut c);
            c
        };
        cmd.current_dir(&cwd).env("PATH", &path);
        let out = run(&mut cmd);
        eprintln!("$ {line}\n{}{}-> {}", out.stdout, out.stderr, out.code);
        assert_eq!(out.code, 0, "README step `{line}` failed:\n{}", out.show());
        ran.push(line.clone());
    }
    assert!(
        ran.iter().any(|l| l.contains("xtask adopt"))
            && ran.last().is_some_and(|l| l.ends_with("gate status")),
        "the README's steps adopt, then end with `gate status`: {ran:?}"
    );

    // READY, every required report from HEAD on a clean tree.
    assert_eq!(
        git(&service, &["status", "--porcelain"]),
        "",
        "the run left the tree clean"
    );
    let head = git(&service, &["rev-parse", "HEAD"]);
    for suite in [
        "runtime-integration",
        "release-gate",
        "k6-baseline",
        "k6-distributed",
    ] {
        let (_, json) = read_latest(&service.join("reports"), suite);
        assert_eq!(json["result"], "PASS", "{suite}: {json}");
        assert_eq!(json["git"]["commit"], head.as_str(), "{suite}");
        assert_eq!(json["git"]["dirty"], false, "{suite}");
    }

    // One more commit: the same reports are STALE now.
    git(
        &service,
        &["commit", "-q", "--allow-empty", "-m", "one more change"],
    );
    let mut status = Command::new("cargo");
    status
        .args(["xtask", "gate", "status"])
        .current_dir(&service)
        .env("PATH", &path);
    clean_env(&mut status);
    let out = run(&mut status);
    assert_eq!(out.code, 1, "{}", out.show());
    assert!(
        out.stdout.contains("STALE") && out.stdout.contains("frontend gate: NOT READY"),
        "{}",
        out.show()
    );
}

#[test]
fn readme_steps_parse_as_a_shell_would() {
    let vars = BTreeMap::from([("SERVICE".to_string(), "/tmp/a b".to_string())]);
    assert_eq!(
        words("cargo xtask adopt \"$SERVICE\" --legacy-paths", &vars),
        ["cargo", "xtask", "adopt", "/tmp/a b", "--legacy-paths"]
    );
    assert_eq!(
        words("git commit -m \"Adopt cargo xtask\"", &vars),
        ["git", "commit", "-m", "Adopt cargo xtask"]
    );
    let steps = readme_steps();
    assert!(steps.iter().any(|s| s.starts_with("SERVICE=")), "{steps:?}");
    assert!(steps.iter().any(|s| s.starts_with("CONFIG=")), "{steps:?}");
}
