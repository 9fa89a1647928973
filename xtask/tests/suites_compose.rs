//! The suites on the compose environment with the real Docker engine and the
//! offline image (`cargo xtask images`): integration, k6 baseline, and k6
//! distributed over three replicas.

mod common;

use common::{docker, latest, repo_config, table, TempDir, Xtask};

#[test]
#[ignore = "needs a Docker engine and the offline image, about a minute; run by cargo xtask ci"]
fn integration_and_k6_suites_pass_on_compose() {
    let dir = TempDir::new("suites-compose");
    let config = repo_config(23380);
    let project = format!("xtsuite{}", std::process::id());
    let run = Xtask::new(&dir, &config)
        .args([
            "integration",
            "--env",
            "compose",
            "--compose-project",
            &project,
        ])
        .run();
    assert_eq!(run.code, 0, "{}", run.show());
    let (md, _) = latest(&dir, "runtime-integration");
    assert!(
        md.contains("- Provider: compose") || md.contains("compose"),
        "{md}"
    );

    let run = Xtask::new(&dir, &config)
        .args(["k6", "baseline", "--env", "compose"])
        .env("K6_DURATION", "5s")
        .run();
    assert_eq!(run.code, 0, "{}", run.show());

    let run = Xtask::new(&dir, &config)
        .args([
            "k6",
            "distributed",
            "--env",
            "compose",
            "--replicas",
            "3",
            "--compose-project",
            &project,
        ])
        .env("K6_DURATION", "5s")
        .run();
    assert_eq!(run.code, 0, "{}", run.show());
    let (_, dist) = latest(&dir, "k6-distributed");
    let per_replica = table(&dist, "Requests per replica");
    assert_eq!(per_replica.len(), 3, "{per_replica:?}");
    assert!(
        per_replica
            .iter()
            .all(|r| r[1].parse::<f64>().unwrap() > 0.0),
        "{per_replica:?}"
    );

    // Nothing of the project is left.
    let left = docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=com.docker.compose.project={project}"),
    ]);
    assert!(left.is_empty(), "containers left: {left:?}");
}
