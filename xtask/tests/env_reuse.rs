//! `env up` once, then the suites again and again on the running
//! environment, for real (the demo, Gradle, k6, redis-server, nginx; Docker
//! for compose): nothing new starts, the reports say where the environment
//! came from, `k6 distributed` scales it to 3 replicas and back to 1,
//! `env logs` shows the app's lines, and `env down` stops it all.

mod common;

use std::collections::BTreeSet;

use common::{
    alive, docker, processes_mentioning, read_latest, require_k6, require_offline_image, serial,
    Run, Workdir,
};

/// The repository's config (the demo) with the balancer on `lb`, short k6
/// runs, and a marker in the replicas' environment to find them by.
fn config(lb: u16, marker: &str) -> String {
    common::repo_config(lb)
        .replace("duration = \"15s\"", "duration = \"3s\"")
        .replace("vus = 20", "vus = 5")
        .replace(
            "PUSH_SNAPSHOT_INTERVAL_MS = \"2000\"",
            &format!("PUSH_SNAPSHOT_INTERVAL_MS = \"2000\"\nXTENV_TEST_RUN = \"{marker}\""),
        )
        .replace(
            "INSTANCE_ID = \"app-{index}\"",
            "INSTANCE_ID = \"app-{index}\"\nXTENV_API_TOKEN = \"tok-devloop-4242\"",
        )
        + "\n[environment.compose.env]\nXTENV_API_TOKEN = \"tok-devloop-4242\"\n"
}

/// Brings whatever is recorded down, whatever happened in the test.
struct DownOnDrop<'a>(&'a Workdir, Option<String>);
impl Drop for DownOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.cmd(&["env", "down"]).output();
        if let Some(p) = &self.1 {
            let _ = self
                .0
                .cmd(&["env", "down", "--env", "compose", "--compose-project", p])
                .output();
        }
    }
}

fn output(r: &Run) -> String {
    format!("{}{}", r.stdout, r.stderr)
}

/// Passed, said it reused the environment in one line, started nothing,
/// and its report carries where the environment came from.
fn passed_on_the_running_env(x: &Workdir, r: &Run, suite: &str, what: &str) {
    let out = output(r);
    assert_eq!(r.code, 0, "{suite}: {out}");
    let line = out
        .lines()
        .find(|l| l.starts_with("environment: ") && l.ends_with(", reused"))
        .unwrap_or_else(|| panic!("{suite} says it reused the environment: {out}"));
    assert!(line.contains(what), "{line}");
    assert!(line.contains("started by `env up"), "{line}");
    for starting in ["--> start redis", "==> compose up", "==> compose scale"] {
        assert!(!out.contains(starting), "{suite} started something: {out}");
    }
    let (md, json) = read_latest(&x.reports, suite);
    let env = &json["environment"];
    assert!(
        env["started_by"].as_str().unwrap().starts_with("env up"),
        "{json}"
    );
    assert!(env["git"]["commit"].is_string(), "{json}");
    assert!(env["description"].as_str().unwrap().ends_with(", reused"));
    assert!(
        md.contains("- Environment: ") && md.contains(", reused"),
        "{md}"
    );
    assert!(md.contains("- Environment commit: "), "{md}");
    assert!(!md.contains("tok-devloop-4242") && !out.contains("tok-devloop-4242"));
}

/// The environment's processes that can be told by their command line or
/// variables: nginx names the run folder (in the reports), the replicas
/// carry the marker.
fn env_processes(x: &Workdir, marker: &str) -> BTreeSet<i32> {
    processes_mentioning(x.reports.to_str().unwrap())
        .into_iter()
        .chain(processes_mentioning(marker))
        .map(|(pid, _)| pid)
        .collect()
}

#[test]
fn local_env_up_once_then_suites_reuse_it_and_down_stops_it_all() {
    let _serial = serial();
    require_k6();
    let lb = 21300;
    let marker = "xtenv-reuse-local";
    let x = Workdir::new("reuse-local", &config(lb, marker));
    let _down = DownOnDrop(&x, None);

    let up = x.run(&["env", "up"]);
    common::ok(&up);
    let up = output(&up);
    assert!(
        !up.contains("tok-devloop-4242") && up.contains("XTENV_API_TOKEN='***'"),
        "{up}"
    );
    let recorded = x.recorded_pids();
    let names: Vec<&str> = recorded.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["redis", "app-1", "nginx"]);
    let before = env_processes(&x, marker);
    // redis-server renames itself; the replicas carry the marker, nginx
    // names the run folder (as would any second environment's).
    let expected: BTreeSet<i32> = recorded
        .iter()
        .filter(|(n, _)| n != "redis")
        .map(|(_, p)| *p)
        .collect();
    assert_eq!(before, expected);

    let status = x.run(&["env", "status"]);
    assert_eq!(status.code, 0, "{}", output(&status));
    for row in ["redis ", "app-1 ", "nginx "] {
        let line = status
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with(row))
            .unwrap_or_else(|| panic!("a row for {row}: {}", status.stdout));
        assert!(
            line.contains("running") && line.contains("127.0.0.1:") && line.contains("yes ("),
            "{line}"
        );
    }

    let local = format!("local, nginx on 127.0.0.1:{lb}");
    for _ in 0..2 {
        let r = x.run(&["k6", "baseline"]);
        passed_on_the_running_env(&x, &r, "k6-baseline", &local);
        let r = x.run(&["integration"]);
        passed_on_the_running_env(&x, &r, "runtime-integration", &local);
        assert_eq!(env_processes(&x, marker), before, "no process came or went");
    }

    // Distributed needs 3 replicas: scaled up for the run, back to 1 after.
    let r = x.run(&["k6", "distributed"]);
    let out = output(&r);
    assert_eq!(r.code, 0, "{out}");
    assert!(
        out.contains("environment: 1 -> 3 replica(s) for this run"),
        "{out}"
    );
    assert!(
        out.contains("environment: back to 1 replica(s), as recorded"),
        "{out}"
    );
    let (_, json) = read_latest(&x.reports, "k6-distributed");
    let replicas: Vec<&str> = json["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["title"] == "Requests per replica")
        .expect("a table of requests per replica")["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[0].as_str().unwrap())
        .collect();
    assert_eq!(replicas, ["app-1", "app-2", "app-3"]);
    assert_eq!(
        x.recorded_pids(),
        recorded,
        "the same three processes again"
    );
    assert_eq!(x.state()["replicas"], 1);
    assert_eq!(env_processes(&x, marker), before);

    // Ctrl-C while it runs on 3 replicas: scaled back to 1 all the same.
    let child = x
        .cmd(&["k6", "distributed", "--duration", "60s"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (status, err, _) = common::interrupt_when(child, |err| err.contains("==> k6 run"));
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(
        err.contains("environment: back to 1 replica(s), as recorded"),
        "{err}"
    );
    assert_eq!(x.recorded_pids(), recorded);
    assert_eq!(env_processes(&x, marker), before);

    let logs = x.run(&["env", "logs", "app", "--tail", "5"]);
    assert_eq!(logs.code, 0, "{}", output(&logs));
    let lines: Vec<&str> = logs.stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{}", logs.stdout);
    assert!(
        lines.iter().all(|l| l.starts_with("app-1 | ")),
        "{}",
        logs.stdout
    );

    // A recorded environment that stops answering is said to, not replaced.
    let (_, app) = recorded.iter().find(|(n, _)| n == "app-1").unwrap().clone();
    // SAFETY: a plain syscall on a pid the test just read from the record.
    unsafe { libc::kill(app, libc::SIGKILL) };
    common::wait_for("app-1 to die", std::time::Duration::from_secs(10), || {
        !alive(app)
    });
    let r = x.run(&["integration"]);
    let out = output(&r);
    assert_eq!(r.code, 1, "{out}");
    assert!(out.contains("does not answer: app-1: pid"), "{out}");
    assert!(
        out.contains("`cargo xtask env down` clears the record"),
        "{out}"
    );
    assert!(!out.contains("--> start"), "{out}");
    let status = x.run(&["env", "status"]);
    assert_eq!(status.code, 1);
    assert!(status.stdout.contains("NO (pid"), "{}", status.stdout);

    common::ok(&x.run(&["env", "down"]));
    for (name, pid) in &recorded {
        assert!(!alive(*pid), "{name} (pid {pid}) survived env down");
    }
    assert_eq!(env_processes(&x, marker), BTreeSet::new());
    assert!(!x.state_path().exists());
}

/// The project's containers (ids), running or not.
fn containers(project: &str) -> BTreeSet<String> {
    docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=com.docker.compose.project={project}"),
    ])
    .into_iter()
    .collect()
}

#[test]
#[ignore = "needs a Docker engine and the offline image; run by cargo xtask ci"]
fn compose_env_up_once_then_suites_reuse_it_and_down_removes_it_all() {
    let _serial = serial();
    require_offline_image();
    require_k6();
    let lb = 21320;
    let p = format!("xtenvreuse{}", std::process::id());
    let x = Workdir::new("reuse-compose", &config(lb, "xtenv-reuse-compose"));
    let _down = DownOnDrop(&x, Some(p.clone()));

    common::ok(&x.run(&["env", "up", "--env", "compose", "--compose-project", &p]));
    let before = containers(&p);
    assert!(
        before.len() >= 3,
        "redis, app, nginx-lb at least: {before:?}"
    );

    let status = x.run(&["env", "status"]);
    assert_eq!(status.code, 0, "{}", output(&status));
    for row in ["redis ", "app ", "nginx-lb "] {
        let line = status
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with(row))
            .unwrap_or_else(|| panic!("a row for {row}: {}", status.stdout));
        assert!(line.contains("running") && line.contains("yes ("), "{line}");
    }

    let project = format!("compose project {p}");
    for _ in 0..2 {
        let r = x.run(&["k6", "baseline"]);
        passed_on_the_running_env(&x, &r, "k6-baseline", &project);
        let r = x.run(&["integration"]);
        passed_on_the_running_env(&x, &r, "runtime-integration", &project);
        assert_eq!(containers(&p), before, "no container came or went");
    }

    let r = x.run(&["k6", "distributed"]);
    let out = output(&r);
    assert_eq!(r.code, 0, "{out}");
    assert!(
        out.contains("environment: 1 -> 3 replica(s) for this run"),
        "{out}"
    );
    assert!(
        out.contains("environment: back to 1 replica(s), as recorded"),
        "{out}"
    );
    let (_, json) = read_latest(&x.reports, "k6-distributed");
    let rows = json["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["title"] == "Requests per replica")
        .expect("a table of requests per replica")["rows"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(rows, 3);
    let app = |all: bool| {
        docker(&[
            "ps",
            if all { "-aq" } else { "-q" },
            "--filter",
            &format!("label=com.docker.compose.project={p}"),
            "--filter",
            "label=com.docker.compose.service=app",
        ])
        .len()
    };
    assert_eq!(app(true), 1, "back to one replica");
    assert_eq!(containers(&p), before, "the first containers were kept");
    assert_eq!(x.state()["replicas"], 1);

    let logs = x.run(&["env", "logs", "app", "--tail", "5"]);
    assert_eq!(logs.code, 0, "{}", output(&logs));
    let lines: Vec<&str> = logs.stdout.lines().filter(|l| l.contains(" | ")).collect();
    assert_eq!(lines.len(), 5, "{}", logs.stdout);

    common::ok(&x.run(&["env", "down"]));
    assert_eq!(containers(&p), BTreeSet::new());
    assert_eq!(common::compose_leftovers(&p), Vec::<String>::new());
    assert!(!x.state_path().exists());
}
