//! The docker fallback, when no k6 is installed: the exact `docker run`
//! that `--dry-run` prints, with every path translated to /repo.

mod k6_support;

use k6_support::{root, run, xtask, TempDir};

/// An xtask that finds no local k6: nothing on PATH, an empty tools folder.
fn without_local_k6(dir: &TempDir) -> std::process::Command {
    let empty = dir.join("empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    let config = dir.config(&format!(
        "docker_image = \"grafana/k6:1.1.0\"\n[tools]\ndir = \"{}\"\n",
        dir.join("no-tools").display()
    ));
    let mut cmd = xtask();
    cmd.env("PATH", &empty).arg("--config").arg(config);
    cmd
}

#[test]
fn without_a_local_k6_the_run_goes_through_docker_with_repo_paths() {
    let dir = TempDir::new("docker-dry-run");
    let root = root();
    // Inside the repository (target/ is ignored by git); a dry run writes nothing.
    let reports = root.join(format!(
        "target/xtask-k6-docker-test-{}",
        std::process::id()
    ));
    let out = run(without_local_k6(&dir)
        .arg("--reports-dir")
        .arg(&reports)
        .args(["--dry-run", "k6", "run", "--docker-user", "1000:1000"])
        .args(["--api-host", "http://127.0.0.1:22999", "--dashboard"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains("docker run"))
        .unwrap_or_else(|| panic!("no docker command:\n{}", out.stdout));
    let root = root.display();
    let rel = format!("target/xtask-k6-docker-test-{}", std::process::id());
    for want in [
        "docker run --rm --name xtask-k6-".to_string(),
        format!("--network host --user 1000:1000 -v {root}:/repo -w /repo -e K6_WEB_DASHBOARD=true"),
        format!("-e K6_WEB_DASHBOARD_EXPORT=/repo/{rel}/k6/"),
        format!(" grafana/k6:1.1.0 run /repo/demo/perf/waiting-queue-join.js --summary-export /repo/{rel}/k6/"),
        "-e API_HOST=http://127.0.0.1:22999".into(),
    ] {
        assert!(line.contains(&want), "{want}\nnot in\n{line}");
    }
    assert!(!reports.exists(), "a dry run writes nothing");
}

#[test]
fn a_summary_outside_the_repo_is_a_one_line_error_under_docker() {
    let dir = TempDir::new("docker-outside");
    let out = run(without_local_k6(&dir)
        .arg("--reports-dir")
        .arg(dir.join("reports"))
        .args([
            "--dry-run",
            "k6",
            "run",
            "--api-host",
            "http://127.0.0.1:22999",
        ]));
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let err: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(err.len(), 1, "{}", out.stderr);
    assert!(
        err[0].contains("is outside the repository") && err[0].contains("cargo xtask setup"),
        "{}",
        err[0]
    );
}
