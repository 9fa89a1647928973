//! `k6 run --engine k6-operator` against a stand-in kubectl: no cluster
//! can run here. The stand-in (a script first on PATH) records every call
//! and plays one sequence of TestRun stages per test: finished, error,
//! stuck, deleted from outside, interrupted during `started`. It makes the
//! ConfigMap with the real kubectl (offline), and its `logs` are the real
//! output of the real k6: the test runs k6 once per runner, with the
//! runner's execution segment and the TestRun's arguments, against a
//! small HTTP server the test holds and counts.

mod common;

use std::{
    io::{BufRead, BufReader, Write},
    net::TcpListener,
    path::{Path, PathBuf},
    process::Stdio,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use common::{
    interrupt_when, listen_in, metric, notes, path_with, read_latest, require_k6, stand_in, table,
    which, TempDir, Xtask, K6_PORTS,
};

const STAMP: &str = "20261201T120000Z";
/// `operator::Label::for_run("k6", STAMP)`.
const NAME: &str = "xtask-k6-20261201t120000z";
/// What the cluster would see as the API (never reached: the runners'
/// output is made beforehand against the test's own server).
const API: &str = "http://tcs.load-tests.svc:8080";
/// What `manifest::ARGUMENTS` gives every runner.
const ARGUMENTS: [&str; 4] = ["--out", "json", "--no-thresholds", "--no-summary"];

const SCRIPT: &str = r#"import http from 'k6/http';
import { check } from 'k6';
export const options = {
  vus: 3,
  iterations: 30,
  thresholds: {
    http_req_failed: ['rate==0'],
    checks: ['rate==1'],
    http_req_duration: [__ENV.P95_LIMIT || 'p(95)<5000'],
  },
};
export default function () {
  const r = http.get(`${__ENV.API_HOST}/x`);
  check(r, { 'status is 200': (r) => r.status === 200 });
}
"#;

/// An HTTP server on a port the test holds; counts the requests. With
/// `slow_every` n > 0, every n-th answer comes 200 ms late.
fn counting_server(slow_every: u64) -> (u16, Arc<AtomicU64>) {
    let l: TcpListener = listen_in(K6_PORTS);
    let port = l.local_addr().unwrap().port();
    let count = Arc::new(AtomicU64::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut c = c;
                let mut r = BufReader::new(c.try_clone().unwrap());
                loop {
                    // One request after another on a kept-alive connection;
                    // a body (the warm-up's POST) read through.
                    let mut length = 0;
                    let mut line = String::new();
                    while r.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                        let lower = line.to_ascii_lowercase();
                        if let Some(v) = lower.strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                        line.clear();
                    }
                    if line != "\r\n" {
                        return;
                    }
                    let mut body = vec![0; length];
                    if std::io::Read::read_exact(&mut r, &mut body).is_err() {
                        return;
                    }
                    let n = seen.fetch_add(1, Ordering::SeqCst) + 1;
                    if slow_every > 0 && n.is_multiple_of(slow_every) {
                        std::thread::sleep(Duration::from_millis(200));
                    }
                    // A join's answer, for the distributed warm-up.
                    let answer = br#"{"status":"WAITING","rank":1}"#;
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                        answer.len()
                    );
                    if c.write_all(head.as_bytes())
                        .and_then(|_| c.write_all(answer))
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (port, count)
}

/// The pods' logs: the real k6, once per runner, with the command line
/// k6-operator gives runner `i` of `n` (its `--execution-segment`, the
/// TestRun's arguments, its tags), stdout and stderr together as
/// `kubectl logs` shows them. `--paused` is left out: no starter here.
fn runner_logs(dir: &Path, script: &Path, n: u32, api_port: impl Fn(u32) -> u16) {
    let k6 = require_k6();
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    for i in 1..=n {
        let mut cmd = std::process::Command::new(&k6);
        cmd.args(["run", "--quiet"]);
        if n > 1 {
            let part = |k: u32| match k {
                0 => "0".to_string(),
                k if k == n => "1".to_string(),
                k => format!("{k}/{n}"),
            };
            let sequence: Vec<String> = (0..=n).map(part).collect();
            cmd.arg(format!("--execution-segment={}:{}", part(i - 1), part(i)));
            cmd.arg(format!(
                "--execution-segment-sequence={}",
                sequence.join(",")
            ));
        }
        let log = std::fs::File::create(logs.join(format!("runner-{i}.log"))).unwrap();
        let status = cmd
            .args(ARGUMENTS)
            .arg(script)
            .args(["--address=127.0.0.1:0", "--tag"])
            .arg(format!("instance_id={i}"))
            .arg("--tag")
            .arg(format!("testrun_name={NAME}"))
            .env("API_HOST", format!("http://127.0.0.1:{}", api_port(i)))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .status()
            .unwrap();
        assert!(status.success(), "k6 runner {i} failed");
    }
}

/// kubectl as a cluster with k6-operator would answer, one stage per
/// `get testrun` (the last one repeats; `gone`: deleted from outside).
fn kubectl_stand_in(dir: &Path, stages: &[&str]) -> String {
    let d = dir.display();
    let real = which("kubectl").expect("kubectl is not on PATH: apt-get install kubernetes-client");
    let real = real.display();
    std::fs::write(dir.join("stages"), stages.join("\n") + "\n").unwrap();
    std::fs::create_dir_all(dir.join("applied")).unwrap();
    let bin = dir.join("bin");
    stand_in(
        &bin,
        "kubectl",
        &format!(
            r#"d={d}
echo "$*" >> $d/calls.log
verb=
for a in "$@"; do case "$a" in --*) ;; *) verb=$a; break;; esac; done
case "$verb" in
create) exec {real} "$@" ;;
apply)
  for a in "$@"; do case "$a" in --filename=*) cp "${{a#--filename=}}" $d/applied/ ;; esac; done
  echo "applied" ;;
get)
  case "$*" in
  *" testruns.k6.io "*)
    [ -e $d/deleted ] && exit 0
    n=$(cat $d/polls 2>/dev/null || echo 0); n=$((n+1)); echo $n > $d/polls
    stage=$(sed -n "${{n}}p" $d/stages); [ -n "$stage" ] || stage=$(tail -n 1 $d/stages)
    [ "$stage" = gone ] && exit 0
    printf '{{"apiVersion":"k6.io/v1alpha1","kind":"TestRun","metadata":{{"name":"x"}},"status":{{"stage":"%s"}}}}\n' "$stage" ;;
  *" pods "*)
    for a in "$@"; do case "$a" in --selector=*) sel=${{a#--selector=}} ;; esac; done
    name=${{sel#*k6_cr=}}; name=${{name%%,*}}
    items=
    for f in $d/logs/runner-*.log; do
      [ -e "$f" ] || continue
      i=${{f##*runner-}}; i=${{i%.log}}
      phase=$(cat $d/phase-$i 2>/dev/null || echo Succeeded)
      items="$items${{items:+,}}{{\"metadata\":{{\"name\":\"$name-$i-x7k2p\"}},\"status\":{{\"phase\":\"$phase\"}}}}"
    done
    echo "{{\"items\":[$items]}}" ;;
  esac ;;
logs)
  pod=$2; for a in "$@"; do case "$a" in --*|logs) ;; *) pod=$a ;; esac; done
  i=${{pod%-*}}; i=${{i##*-}}
  cat $d/logs/runner-$i.log
  # A runner still running: its log followed, no end yet.
  case "$*" in *--follow*)
    if [ -e $d/follow-hangs ]; then echo $$ > $d/follow.pid; sleep 300; fi
    # A pod's stream ends when the pod is deleted with its TestRun.
    if [ -e $d/follow-until-deleted ]; then
      echo $$ > $d/follow.pid
      while [ ! -e $d/deleted ]; do sleep 0.05; done
    fi ;;
  esac ;;
delete)
  [ -e $d/delete-fails ] && {{ echo "error: the server is unreachable" >&2; exit 1; }}
  touch $d/deleted; echo "deleted" ;;
*) echo "stand-in kubectl: unexpected: $*" >&2; exit 2 ;;
esac
"#
        ),
    );
    path_with(&[&bin])
}

struct Case {
    dir: TempDir,
    config: PathBuf,
    path: String,
}

fn case(name: &str, stages: &[&str], runners: u32, startup: &str) -> (Case, Arc<AtomicU64>) {
    let dir = TempDir::outside_repo(&format!("operator-{name}"));
    let script = dir.join("tiny.js");
    std::fs::write(&script, SCRIPT).unwrap();
    let (port, count) = counting_server(0);
    if runners > 0 {
        runner_logs(dir.path(), &script, runners, |_| port);
    }
    (case_in(dir, stages, startup), count)
}

/// The stand-in kubectl and the config, in `dir` (its script `tiny.js`).
fn case_in(dir: TempDir, stages: &[&str], startup: &str) -> Case {
    let path = kubectl_stand_in(dir.path(), stages);
    let config = dir.join("xtask.toml");
    std::fs::write(
        &config,
        format!(
            "[project]\nservice_dir = \"{}\"\n[k6]\nscript = \"{}\"\nengine = \"k6-operator\"\n\
             duration = \"1s\"\ndeadline_slack = \"1s\"\n\
             [k6.operator]\ncontext = \"kind-load\"\nnamespace = \"load-tests\"\n\
             poll_interval = \"100ms\"\nstartup_timeout = \"{startup}\"\n",
            dir.path().display(),
            dir.join("tiny.js").display()
        ),
    )
    .unwrap();
    Case { dir, config, path }
}

impl Case {
    fn xtask(&self) -> Xtask {
        Xtask::with(&self.config, &self.dir.join("reports"))
            .env("PATH", &self.path)
            .args(["k6", "run", "--api-host", API, "--run-stamp", STAMP])
    }
    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("calls.log"))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }
    fn report(&self) -> serde_json::Value {
        let (_, json) = read_latest(&self.dir.join("reports"), "k6");
        common::validate_against_schema(&json.to_string());
        json
    }
    /// The TestRun and the ConfigMap were deleted, last, in one call.
    fn assert_deleted(&self) {
        let calls = self.calls();
        let delete = format!(
            "--context=kind-load --namespace=load-tests delete testruns.k6.io/{NAME} configmap/{NAME} --ignore-not-found --wait=false"
        );
        assert_eq!(calls.last(), Some(&delete), "{calls:#?}");
    }
}

#[test]
fn a_finished_testrun_is_followed_its_runners_merged_and_deleted() {
    let (c, served) = case(
        "finished",
        &[
            "initialization",
            "initialized",
            "created",
            "started",
            "stopped",
            "finished",
        ],
        1,
        "2s",
    );
    let out = c.xtask().run();
    assert_eq!(out.code, 0, "{}", out.show());
    let report = c.report();
    assert_eq!(report["result"], "PASS", "{:#?}", notes(&report));
    // Every request the runner made, counted by the server, is in the report.
    assert_eq!(served.load(Ordering::SeqCst), 30);
    assert_eq!(metric(&report, "http_reqs"), Some(30.0));
    let runners = table(&report, "k6-operator runners");
    assert_eq!(runners.len(), 1, "{runners:?}");
    assert_eq!(runners[0][0], format!("{NAME}-1-x7k2p"));
    assert_eq!(runners[0][1], "Succeeded");
    assert_eq!(runners[0][2], "30");
    // The script's thresholds, judged once on the merged samples.
    let judged = table(&report, "k6 thresholds");
    assert_eq!(judged.len(), 3, "{judged:?}");
    assert!(judged.iter().all(|r| r[3] == "passed"), "{judged:?}");
    for stage in ["initialization", "created", "started", "finished"] {
        assert!(
            out.stderr
                .contains(&format!("TestRun {NAME}: stage {stage}")),
            "{}",
            out.stderr
        );
    }
    // The dialogue: made offline, applied, followed, pods by label, logs, deleted.
    let calls = c.calls();
    let at = |prefix: &str| {
        calls
            .iter()
            .position(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` in {calls:#?}"))
    };
    let ctx = "--context=kind-load --namespace=load-tests";
    let made = at(&format!(
        "--namespace=load-tests create configmap {NAME} --from-file=tiny.js="
    ));
    let cm = at(&format!("{ctx} apply --filename="));
    let tr = cm + 1;
    assert!(calls[tr].ends_with("testrun.json"), "{calls:#?}");
    let got = at(&format!(
        "{ctx} get testruns.k6.io {NAME} --output=json --ignore-not-found"
    ));
    let pods = at(&format!(
        "{ctx} get pods --selector=app=k6,k6_cr={NAME},runner=true --output=json"
    ));
    // Followed from `started` on: the kubelet's rotation loses nothing then.
    let logs = at(&format!(
        "{ctx} logs --follow {NAME}-1-x7k2p --container=k6"
    ));
    assert!(
        made < cm && tr < got && got < pods && pods < logs,
        "{calls:#?}"
    );
    c.assert_deleted();
    // What was applied: the ConfigMap kubectl made, and a TestRun with our values.
    let applied = |f: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(c.dir.join("applied").join(f)).unwrap()).unwrap()
    };
    let cm = applied("configmap.json");
    assert_eq!(cm["data"]["tiny.js"], SCRIPT);
    let tr = applied("testrun.json");
    assert_eq!(tr["spec"]["parallelism"], 1);
    assert_eq!(tr["spec"]["arguments"], ARGUMENTS.join(" "));
    let env = tr["spec"]["runner"]["env"].as_array().unwrap();
    assert!(
        env.iter()
            .any(|e| e["name"] == "API_HOST" && e["value"] == API),
        "{env:?}"
    );
}

#[test]
fn a_testrun_in_error_fails_saying_so_and_is_deleted() {
    let (c, _) = case("error", &["initialization", "error"], 0, "2s");
    let out = c.xtask().run();
    assert_eq!(out.code, 1, "{}", out.show());
    let report = c.report();
    assert_eq!(report["result"], "FAIL");
    let n = notes(&report).join("\n");
    assert!(
        n.contains(&format!("TestRun {NAME} ended in stage `error`")),
        "{n}"
    );
    c.assert_deleted();
}

#[test]
fn a_stuck_testrun_is_deleted_at_the_deadline() {
    // Start-up 2 s + k6 1 s + slack 1 s: 4 s in `initialization`.
    let (c, _) = case("stuck", &["initialization"], 0, "2s");
    let started = std::time::Instant::now();
    let out = c.xtask().run();
    let took = started.elapsed();
    assert_eq!(out.code, 1, "{}", out.show());
    assert!(took < Duration::from_secs(15), "took {took:?}");
    let n = notes(&c.report()).join("\n");
    assert!(
        n.contains(&format!(
            "TestRun {NAME} still in stage `initialization` after 4s"
        )),
        "{n}"
    );
    assert!(n.contains("deleted, no results"), "{n}");
    c.assert_deleted();
}

#[test]
fn a_testrun_deleted_from_outside_is_a_clear_error() {
    let (c, _) = case(
        "gone",
        &["initialization", "created", "started", "gone"],
        0,
        "2s",
    );
    let out = c.xtask().run();
    assert_eq!(out.code, 1, "{}", out.show());
    let n = notes(&c.report()).join("\n");
    assert!(
        n.contains(&format!(
            "TestRun {NAME} was deleted from outside (last stage seen: started)"
        )),
        "{n}"
    );
    c.assert_deleted();
}

#[test]
fn an_interrupt_during_started_deletes_the_testrun_and_exits_130() {
    let (c, _) = case(
        "interrupted",
        &["initialization", "initialized", "created", "started"],
        1,
        // Long enough that only the interrupt can end it.
        "10m",
    );
    // Its runner's log is being followed when the signal comes.
    std::fs::write(c.dir.join("follow-hangs"), "").unwrap();
    let mut cmd = c.xtask().cmd;
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let follower = c.dir.join("follow.pid");
    let (status, stderr, took) = interrupt_when(child, |err| {
        err.contains(&format!("TestRun {NAME}: stage started")) && follower.exists()
    });
    assert_eq!(status.code(), Some(130), "{stderr}");
    // R1: signal to exit within 7 s, teardown included.
    assert!(took < Duration::from_secs(7), "took {took:?}");
    // The follower (kubectl logs --follow) went with its process group.
    let pid = common::read_pid(&follower);
    common::wait_for("the follower to be gone", Duration::from_secs(5), || {
        !common::alive(pid)
    });
    let report = c.report();
    assert_eq!(report["result"], "FAIL");
    assert!(
        notes(&report).iter().any(|n| n == "interrupted (SIGINT)"),
        "{:#?}",
        notes(&report)
    );
    c.assert_deleted();
}

#[test]
fn a_runner_whose_k6_failed_fails_the_run() {
    let (c, _) = case(
        "runner-failed",
        // `started` never seen (a short run between two looks): the logs
        // are read once the TestRun finished.
        &["created", "stopped", "finished"],
        1,
        "2s",
    );
    std::fs::write(c.dir.join("phase-1"), "Failed").unwrap();
    let out = c.xtask().run();
    assert_eq!(out.code, 1, "{}", out.show());
    let n = notes(&c.report()).join("\n");
    assert!(
        n.contains(&format!(
            "runner pod {NAME}-1-x7k2p failed (its k6 exited non-zero)"
        )),
        "{n}"
    );
    let calls = c.calls().join("\n");
    assert!(
        calls.contains(&format!(" logs {NAME}-1-x7k2p --container=k6")),
        "{calls}"
    );
    c.assert_deleted();
}

#[test]
fn a_delete_that_fails_is_a_fail_saying_what_to_delete_by_hand() {
    let (c, _) = case("delete-fails", &["started", "stopped", "finished"], 1, "2s");
    std::fs::write(c.dir.join("delete-fails"), "").unwrap();
    let out = c.xtask().run();
    assert_eq!(out.code, 1, "{}", out.show());
    let n = notes(&c.report()).join("\n");
    assert!(
        n.contains(&format!(
            "`kubectl delete testruns.k6.io/{NAME} configmap/{NAME}` failed (exit 1): delete them by hand in namespace load-tests of context kind-load"
        )),
        "{n}"
    );
}

#[test]
fn k6_distributed_runs_on_the_cluster_against_an_external_api() {
    let (c, _) = case(
        "distributed",
        &[
            "initialization",
            "created",
            "started",
            "stopped",
            "finished",
        ],
        1,
        "2s",
    );
    // The warm-up's joins go to the API as seen from here.
    let (warm, warmed) = counting_server(0);
    let out = Xtask::with(&c.config, &c.dir.join("reports"))
        .env("PATH", &c.path)
        .args([
            "k6",
            "distributed",
            "--engine",
            "k6-operator",
            "--env",
            "external",
        ])
        .args(["--api-host", API, "--run-stamp", STAMP, "--host-api-host"])
        .arg(format!("http://127.0.0.1:{warm}"))
        .run();
    assert_eq!(out.code, 0, "{}", out.show());
    assert!(warmed.load(Ordering::SeqCst) > 0);
    let (_, report) = read_latest(&c.dir.join("reports"), "k6-distributed");
    common::validate_against_schema(&report.to_string());
    assert_eq!(report["result"], "PASS", "{:#?}", notes(&report));
    assert_eq!(metric(&report, "http_reqs"), Some(30.0));
    let tr: serde_json::Value =
        serde_json::from_slice(&std::fs::read(c.dir.join("applied/testrun.json")).unwrap())
            .unwrap();
    assert_eq!(
        tr["metadata"]["name"],
        "xtask-k6-distributed-20261201t120000z"
    );
    let env = tr["spec"]["runner"]["env"].as_array().unwrap();
    assert!(
        env.iter()
            .any(|e| e["name"] == "API_HOST" && e["value"] == API),
        "{env:?}"
    );
    let calls = c.calls();
    assert!(
        calls
            .last()
            .unwrap()
            .contains(" delete testruns.k6.io/xtask-k6-distributed-20261201t120000z "),
        "{calls:#?}"
    );
}

#[test]
fn a_threshold_crossed_by_the_merged_samples_fails_the_run() {
    let (c, _) = case("crossed", &["started", "stopped", "finished"], 1, "2s");
    // `k6 inspect` reads the thresholds from the script itself.
    let script = c.dir.join("tiny.js");
    let text = std::fs::read_to_string(&script).unwrap();
    std::fs::write(
        &script,
        text.replace("__ENV.P95_LIMIT || 'p(95)<5000'", "'p(95)<0.001'"),
    )
    .unwrap();
    let out = c.xtask().run();
    assert_eq!(out.code, 1, "{}", out.show());
    let n = notes(&c.report()).join("\n");
    assert!(
        n.contains(
            "k6 thresholds crossed (judged on the merged samples): http_req_duration p(95)<0.001 ("
        ),
        "{n}"
    );
}

#[test]
fn a_runner_log_rotated_by_the_kubelet_fails_the_run() {
    let (c, _) = case("rotated", &["started", "stopped", "finished"], 1, "2s");
    // What `kubectl logs` shows after a rotation: the newest file only.
    let log = c.dir.join("logs/runner-1.log");
    let text = std::fs::read_to_string(&log).unwrap();
    let from = text.find("{\"metric\":").expect("a point");
    std::fs::write(&log, &text[from..]).unwrap();
    let out = c.xtask().run();
    assert_eq!(out.code, 1, "{}", out.show());
    let n = notes(&c.report()).join("\n");
    assert!(
        n.contains(&format!(
            "the log of runner pod {NAME}-1-x7k2p starts inside k6's output"
        )),
        "{n}"
    );
    c.assert_deleted();
}

#[test]
fn a_testrun_stuck_in_started_leaves_no_log_follower_behind() {
    let (c, _) = case("stuck-started", &["started"], 1, "1s");
    std::fs::write(c.dir.join("follow-until-deleted"), "").unwrap();
    let out = c.xtask().run();
    assert_eq!(out.code, 1, "{}", out.show());
    let n = notes(&c.report()).join("\n");
    assert!(
        n.contains(&format!("TestRun {NAME} still in stage `started`")),
        "{n}"
    );
    c.assert_deleted();
    // The follower ended with its pod's stream, before the xtask exited.
    let pid = common::read_pid(&c.dir.join("follow.pid"));
    assert!(
        !common::alive(pid),
        "the log follower {pid} outlived the run"
    );
}

/// k6's percentile (linear interpolation between the nearest ranks) of
/// every `http_req_duration` in the runners' logs: the union's.
fn union_percentile(dir: &Path, q: f64) -> f64 {
    let mut all = vec![];
    for f in std::fs::read_dir(dir.join("logs")).unwrap() {
        let text = std::fs::read_to_string(f.unwrap().path()).unwrap();
        for line in text.lines().filter(|l| l.starts_with('{')) {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            if v["type"] == "Point" && v["metric"] == "http_req_duration" {
                all.push(v["data"]["value"].as_f64().unwrap());
            }
        }
    }
    all.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let rank = q * (all.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    all[lo] + (all[hi] - all[lo]) * (rank - lo as f64)
}

#[test]
fn three_runners_merge_as_the_union_of_their_samples_not_their_percentiles() {
    // Runner 3 alone sees an occasional slow answer (10 of its 100): its
    // p95 is slow; 10 of all 300 is under 5 %, so the union's p95 is fast.
    let dir = TempDir::outside_repo("operator-merge");
    let script = dir.join("tiny.js");
    // Judged once on the merged samples: runner 3 alone would cross it.
    let text = SCRIPT
        .replace("iterations: 30", "iterations: 300")
        .replace("__ENV.P95_LIMIT || 'p(95)<5000'", "'p(95)<150'");
    std::fs::write(&script, text).unwrap();
    let (fast, fast_count) = counting_server(0);
    let (slow, slow_count) = counting_server(10);
    runner_logs(dir.path(), &script, 3, |i| if i == 3 { slow } else { fast });
    assert_eq!(fast_count.load(Ordering::SeqCst), 200);
    assert_eq!(slow_count.load(Ordering::SeqCst), 100);
    let c = case_in(
        dir,
        &[
            "initialization",
            "initialized",
            "created",
            "started",
            "stopped",
            "finished",
        ],
        "2s",
    );
    let out = c.xtask().args(["--generators", "3"]).run();
    assert_eq!(out.code, 0, "{}", out.show());
    let report = c.report();
    let tr: serde_json::Value =
        serde_json::from_slice(&std::fs::read(c.dir.join("applied").join("testrun.json")).unwrap())
            .unwrap();
    assert_eq!(tr["spec"]["parallelism"], 3);
    // Counters summed: every request of every runner, as the servers counted.
    assert_eq!(metric(&report, "http_reqs"), Some(300.0));
    let runners = table(&report, "k6-operator runners");
    assert_eq!(runners.len(), 3, "{runners:?}");
    let p95s: Vec<f64> = runners.iter().map(|r| r[3].parse().unwrap()).collect();
    assert!(runners.iter().all(|r| r[2] == "100"), "{runners:?}");
    // The merged p95 is the union's (within the histogram's 0.1 %), and
    // neither the mean nor the max of the runners' p95s.
    let ours = metric(&report, "http_req_duration p(95)").unwrap();
    let union = union_percentile(c.dir.path(), 0.95);
    assert!(
        (ours - union).abs() <= union * 0.002 + 0.01,
        "merged p95 {ours} ms, union {union} ms"
    );
    let mean = p95s.iter().sum::<f64>() / 3.0;
    eprintln!("merged p95 {ours} ms, union {union} ms, runners {runners:?}");
    let max = p95s.iter().cloned().fold(0.0, f64::max);
    assert!(
        max >= 200.0,
        "runner 3's p95 {max} ms should be slow: {runners:?}"
    );
    assert!(
        ours < 150.0 && ours < mean,
        "merged {ours}, mean {mean}, max {max}"
    );
    let judged = table(&report, "k6 thresholds");
    assert!(
        judged
            .iter()
            .any(|r| r[1] == "p(95)<150" && r[3] == "passed"),
        "{judged:?}"
    );
    c.assert_deleted();
}
