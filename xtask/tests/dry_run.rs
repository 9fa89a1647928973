//! `--dry-run` on the compose environment prints the whole plan and runs
//! nothing: `docker` and `docker-compose` are recording stand-ins here (the
//! only way to show that nothing was asked of them), everything else is the
//! repository's own config and demo.

mod common;

use std::path::Path;

use common::{path_with, repo_config, stand_in, TempDir, Xtask};

/// A `docker` and a `docker-compose` that only write down how they were called.
fn recorders(dir: &Path) -> String {
    let calls = dir.join("calls");
    let body = format!(
        "echo \"$(basename \"$0\") $*\" >> {}\nexit 0\n",
        calls.display()
    );
    let bin = dir.join("bin");
    stand_in(&bin, "docker", &body);
    stand_in(&bin, "docker-compose", &body);
    path_with(&[&bin])
}

fn calls(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("calls")).unwrap_or_default()
}

#[test]
fn a_dry_run_of_k6_distributed_on_compose_runs_nothing_and_shows_the_warm_up() {
    let dir = TempDir::new("dry-dist");
    let out = Xtask::new(&dir, &repo_config(18080))
        .args(["--dry-run", "k6", "distributed", "--env", "compose"])
        .env("PATH", recorders(dir.path()))
        .run();
    assert_eq!(out.code, 0, "{}", out.show());
    assert_eq!(
        calls(dir.path()),
        "",
        "a dry run ran docker: {}",
        out.show()
    );
    for want in [
        // docker-compose on PATH: the legacy choice, named without asking docker.
        "docker-compose -f ",
        " up -d --build --scale app=3 postgres-db redis app nginx-lb",
        "[dry-run] warm up: POST http://127.0.0.1:18080/api/v1/waiting-queue/join until 5 valid joins in a row",
        "-e API_HOST=http://nginx-lb:8080",
        " down -v --remove-orphans",
    ] {
        assert!(out.stdout.contains(want), "{want}\nnot in\n{}", out.show());
    }
    assert!(!out.stdout.contains("INSTANCES"), "{}", out.stdout);
    // The balancer's published port goes through the service's own variable.
    assert!(out.stdout.contains("APP_LB_PORT=18080"), "{}", out.stdout);
    assert!(!out.stdout.contains("TCS_LB_PORT"), "{}", out.stdout);
}

#[test]
fn a_dry_run_of_the_gate_on_compose_is_complete_and_names_the_gates_project() {
    let dir = TempDir::new("dry-gate");
    let out = Xtask::new(&dir, &repo_config(18080))
        .args(["--dry-run", "gate", "--env", "compose"])
        .env("PATH", recorders(dir.path()))
        .run();
    assert_eq!(out.code, 0, "{}", out.show());
    assert_eq!(
        calls(dir.path()),
        "",
        "a dry run ran docker: {}",
        out.show()
    );
    for stage in [
        "release-gate",
        "env-up",
        "integration",
        "ops-health",
        "k6-baseline",
        "ops-monitor",
        "scale",
        "k6-distributed",
        "env-down",
    ] {
        // The stage table: every stage planned, none failed or skipped.
        assert!(
            out.stdout
                .lines()
                .any(|l| l.starts_with(&format!("{stage} "))
                    && l.contains("DRY RUN (printed, not run)")),
            "{stage} not planned:\n{}",
            out.show()
        );
    }
    // The monitor reads the gate's project, with the command it would run.
    assert!(
        out.stdout
            .contains("-p tcsgate logs --no-color --tail 2000 app"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("-p tcs logs"), "{}", out.stdout);
    // Scaling is `up --no-recreate`; the service's balancer needs no restart.
    assert!(
        out.stdout.contains("up -d --no-recreate --scale app=3"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains(" restart "), "{}", out.stdout);
    assert!(out.stdout.contains("[dry-run] warm up:"), "{}", out.stdout);
}
