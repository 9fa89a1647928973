//! The docker fallback, when no k6 is installed: the exact `docker run`
//! that `--dry-run` prints, with every path translated to /repo.

mod common;

use std::path::Path;

use common::{
    docker, k6_config, read_latest, require_k6, root, run_dir, serial, which, Demo, K6Image,
    TempDir, Xtask,
};

/// An xtask that finds no local k6: nothing on PATH, an empty tools folder.
fn without_local_k6(dir: &TempDir, reports: &Path) -> Xtask {
    let empty = dir.join("empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    let config = k6_config(
        dir,
        &format!(
            "docker_image = \"grafana/k6:1.1.0\"\n[tools]\ndir = \"{}\"\n",
            dir.join("no-tools").display()
        ),
    );
    Xtask::with(&config, reports).env("PATH", &empty)
}

#[test]
fn without_a_local_k6_the_run_goes_through_docker_with_repo_paths() {
    let dir = TempDir::outside_repo("docker-dry-run");
    let root = root();
    // Inside the repository (target/ is ignored by git); a dry run writes nothing.
    let reports = root.join(format!(
        "target/xtask-k6-docker-test-{}",
        std::process::id()
    ));
    let out = without_local_k6(&dir, &reports)
        .args(["--dry-run", "k6", "run", "--docker-user", "1000:1000"])
        .args(["--api-host", "http://127.0.0.1:22999", "--dashboard"])
        .run();
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
    let dir = TempDir::outside_repo("docker-outside");
    let out = without_local_k6(&dir, &dir.join("reports"))
        .args([
            "--dry-run",
            "k6",
            "run",
            "--api-host",
            "http://127.0.0.1:22999",
        ])
        .run();
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

/// Removes a reports folder however the test ends.
struct RemoveDir(std::path::PathBuf);

impl Drop for RemoveDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
#[ignore = "needs a Docker engine and the offline image (cargo xtask images); run by cargo xtask ci"]
fn the_docker_fallback_runs_k6_in_a_container_for_real() {
    let k6 = require_k6();
    let docker_bin =
        which("docker").expect("docker is not installed: the docker fallback needs it");
    let _one = serial();
    let dir = TempDir::outside_repo("docker-real");
    let image = K6Image::build("xtask-k6-test", &k6, dir.path());
    let image = &image.0;
    let reports = root().join(format!("target/xtask-k6-docker-e2e-{}", std::process::id()));
    let _cleanup = RemoveDir(reports.clone());

    let demo = Demo::start("docker", &["solo"], 1);
    // Only docker on PATH, and an empty tools folder: no local k6 to find.
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(&docker_bin, bin.join("docker")).unwrap();
    let config = k6_config(
        &dir,
        &format!(
            "docker_image = \"{image}\"\nvus = 2\nduration = \"2s\"\n[tools]\ndir = \"{}\"\n",
            dir.join("no-tools").display()
        ),
    );
    let out = Xtask::with(&config, &reports)
        .env("PATH", &bin)
        .args(["k6", "run", "--api-host", &demo.api()])
        .run();
    let (md, _) = read_latest(&reports, "k6");
    assert_eq!(out.code, 0, "{md}\n{}", out.stderr);
    assert!(md.contains("- Result: PASS"), "{md}");
    assert!(
        md.contains(&format!("- Execution mode: docker ({image}, network host)")),
        "{md}"
    );
    // k6 wrote the summary through the /repo mount.
    assert!(run_dir(&reports, "k6").join("k6-summary.json").is_file());
    let left = docker(&["ps", "-aq", "--filter", "name=xtask-k6-"]);
    assert!(left.is_empty(), "containers left: {left:?}");
}
