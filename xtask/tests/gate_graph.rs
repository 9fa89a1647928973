//! The gate as a graph, on real tools: a failing release-gate cancels the
//! env-up running beside it and tears it down; a compose service whose
//! healthcheck fails ends env-up by name, long before the deadline.
//! Ports: 23200-23499 (the gate tests' block).

mod common;

use std::time::{Duration, Instant};

use common::{
    compose_leftovers, latest, port_is_free, processes_mentioning, repo_config,
    require_offline_image, table, TempDir, Xtask, OFFLINE_IMAGE,
};

#[test]
fn a_failing_release_gate_cancels_env_up_and_tears_it_down() {
    // The gate's suites run once at a time per service (the demo here).
    let _serial = common::serial();
    let dir = TempDir::new("graph-cancel");
    // The balancer answers 404 on this path: env-up waits for its full
    // 120 s unless something stops it. release-gate names a class that
    // does not exist: Gradle fails in seconds.
    let config = repo_config(23280)
        .replace(
            "health_url = \"http://127.0.0.1:23280/api/concerts\"",
            "health_url = \"http://127.0.0.1:23280/no-such-page\"",
        )
        .replace(
            "demo.architecture.LayerDependencyArchTest",
            "demo.NoSuchTest",
        )
        .replace("demo.queue.QueuePolicyTest", "demo.NoSuchTest")
        .replace("demo.http.JsonCodecTest", "demo.NoSuchTest");
    assert!(config.contains("/no-such-page") && config.contains("NoSuchTest"));
    let marker = format!("xtask-graph-cancel-{}", std::process::id());
    let started = Instant::now();
    let run = Xtask::new(&dir, &config)
        .args([
            "gate",
            "--no-setup",
            "--env",
            "local",
            "--only",
            "release-gate",
            "--only",
            "ops-health",
        ])
        .env("XTASK_GRAPH_TEST", &marker)
        .run();
    let took = started.elapsed();
    assert_ne!(run.code, 0, "{}", run.show());
    assert!(
        took < Duration::from_secs(90),
        "the gate waited for env-up's deadline ({took:?}):\n{}",
        run.show()
    );
    let (md, json) = latest(&dir, "gate");
    let result = |stage: &str| {
        table(&json, "Stages")
            .into_iter()
            .find(|r| r[0] == stage)
            .unwrap()[1]
            .clone()
    };
    assert!(result("release-gate").starts_with("FAIL"), "{md}");
    assert!(
        result("env-up").starts_with("SKIPPED (cancelled: release-gate failed"),
        "{md}"
    );
    assert_eq!(
        result("ops-health"),
        "SKIPPED (release-gate failed)",
        "{md}"
    );
    // Both ran at once, and the teardown is in env-up's own log.
    let schedule = table(&json, "Schedule");
    assert!(schedule.iter().any(|r| r[0] == "env-up"), "{md}");
    let log = schedule.iter().find(|r| r[0] == "env-up").unwrap()[5].clone();
    let log = std::fs::read_to_string(common::root().join(&log))
        .or_else(|_| std::fs::read_to_string(dir.join(&log)))
        .unwrap_or_else(|e| panic!("env-up's log {log}: {e}"));
    assert!(log.contains("stop nginx"), "{log}");
    assert!(
        run.stderr.contains("[env-up] ") && run.stderr.contains("gate: env-up: cancelling"),
        "{}",
        run.show()
    );
    assert!(port_is_free(23280), "the load balancer still runs");
    assert_eq!(processes_mentioning(&marker), vec![], "processes left");
}

#[test]
fn an_unhealthy_compose_service_fails_env_up_by_name_before_the_deadline() {
    require_offline_image();
    let dir = TempDir::new("graph-unhealthy");
    let compose = dir.join("docker-compose.yml");
    std::fs::write(
        &compose,
        format!(
            r#"services:
  redis:
    image: {OFFLINE_IMAGE}
    command: ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--save", ""]
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
  app:
    image: {OFFLINE_IMAGE}
    command: ["sh", "-c", "echo app starting; echo app cannot reach its database; sleep 600"]
    healthcheck:
      test: ["CMD-SHELL", "echo database unreachable; exit 1"]
      interval: 1s
      timeout: 2s
      retries: 2
  nginx-lb:
    image: {OFFLINE_IMAGE}
    command: ["sleep", "600"]
    ports:
      - "${{APP_LB_PORT}}:8080"
"#
        ),
    )
    .unwrap();
    let project = format!("xtgraph{}", std::process::id());
    let config = format!(
        r#"[environment]
default = "compose"
health_url = "http://127.0.0.1:23380/api/concerts"
ready_timeout = "180s"
[environment.compose]
file = "{}"
services = ["redis", "app", "nginx-lb"]
app_service = "app"
lb_service = "nginx-lb"
lb_port = 8080
build = false
env_file = "{}"
"#,
        compose.display(),
        dir.join(".env.local").display()
    );
    let started = Instant::now();
    let run = Xtask::new(&dir, &config)
        .args([
            "env",
            "up",
            "--env",
            "compose",
            "--compose-project",
            &project,
        ])
        .run();
    let took = started.elapsed();
    let leftovers = compose_leftovers(&project);
    assert_ne!(run.code, 0, "{}", run.show());
    assert!(
        run.stderr
            .contains("compose service `app` turned unhealthy")
            && run.stderr.contains("database unreachable"),
        "{}",
        run.show()
    );
    // Its last log lines are shown.
    assert!(
        run.stderr.contains("app cannot reach its database"),
        "{}",
        run.show()
    );
    assert!(
        took < Duration::from_secs(60),
        "took {took:?}: the deadline was 180 s"
    );
    assert_eq!(leftovers, Vec::<String>::new(), "{}", run.show());
}

#[test]
fn on_github_actions_each_stage_is_one_group_printed_when_it_ends() {
    let _serial = common::serial();
    let dir = TempDir::new("graph-gha");
    let config = "[project]\nservice_dir = \"demo\"\n[gradle]\noffline = true\n[release_gate]\nclasses = [\"com.ticketrush.demo.queue.QueuePolicyTest\"]\n";
    let run = Xtask::new(&dir, config)
        .args(["gate", "--no-setup", "--only", "release-gate"])
        .env("GITHUB_ACTIONS", "true")
        .run();
    assert_eq!(run.code, 0, "{}", run.show());
    // One group for the stage (none per step inside it), opened after the
    // stage ended, holding the stage's whole output.
    assert_eq!(run.stdout.matches("::group::").count(), 1, "{}", run.show());
    assert_eq!(
        run.stdout.matches("::endgroup::").count(),
        1,
        "{}",
        run.show()
    );
    let group = &run.stdout[run.stdout.find("::group::release-gate — PASS").unwrap()..];
    let group = &group[..group.find("::endgroup::").unwrap()];
    assert!(group.contains("==> gradle:"), "{group}");
    assert!(group.contains("BUILD SUCCESSFUL"), "{group}");
}

#[test]
fn integration_alone_compiles_its_classes_beside_env_up() {
    let _serial = common::serial();
    let dir = TempDir::new("graph-classes");
    let run = Xtask::new(&dir, &repo_config(23480))
        .args([
            "gate",
            "--no-setup",
            "--env",
            "local",
            "--only",
            "integration",
        ])
        .run();
    assert_eq!(run.code, 0, "{}", run.show());
    let (md, json) = latest(&dir, "gate");
    let schedule = table(&json, "Schedule");
    let span = |stage: &str| {
        let r = schedule
            .iter()
            .find(|r| r[0] == stage)
            .unwrap_or_else(|| panic!("{stage} not in the schedule:\n{md}"));
        (r[1].clone(), r[2].clone())
    };
    // test-classes starts with env-up (both at the gate's start).
    for stage in ["test-classes", "env-up"] {
        assert!(
            span(stage).0.ends_with(" ms"),
            "{stage} started late:\n{md}"
        );
    }
    assert!(md.contains("| test-classes | PASS |"), "{md}");
    assert!(md.contains("| integration | PASS |"), "{md}");
    assert!(port_is_free(23480), "the load balancer still runs");
}
