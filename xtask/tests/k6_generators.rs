//! `--generators N` end to end with the real k6 on the demo (started by the
//! test on ports in 22000-22999): N k6 processes on execution segments,
//! their samples merged exactly, judged once.
//!
//! The "independent" histogram is built here from what each generator kept
//! of its own raw samples (`generator-I/k6-samples.hlog`, tag `all`), added
//! with hdrhistogram directly, never through the xtask's merge.

mod common;

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicBool, AtomicU32, Ordering},
        Arc,
    },
    time::Duration,
};

use common::{
    build_demo_jar, k6_config, metric, read_latest, require_k6, run_dir, serial, Demo, K6Image,
    TempDir, Xtask,
};
use hdrhistogram::{
    serialization::{interval_log::IntervalLogIterator, interval_log::LogEntry, Deserializer},
    Histogram,
};

/// The whole-run histogram (`all`) a run folder's hlog keeps.
fn all_histogram(dir: &Path) -> Histogram<u64> {
    let text = std::fs::read(dir.join("k6-samples.hlog")).unwrap();
    let mut de = Deserializer::new();
    for entry in IntervalLogIterator::new(&text) {
        if let Ok(LogEntry::Interval(i)) = entry {
            if i.tag().map(|t| t.as_str()) == Some("all") {
                let bytes = base64_decode(i.encoded_histogram());
                return de.deserialize(&mut bytes.as_slice()).unwrap();
            }
        }
    }
    panic!("no `all` histogram in {}", dir.display());
}

fn base64_decode(s: &str) -> Vec<u8> {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = vec![];
    let (mut buf, mut bits) = (0u32, 0);
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = T.iter().position(|t| *t == c).expect("base64") as u32;
        buf = (buf << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
        }
    }
    out
}

/// k6's percentile over a histogram (linear interpolation between ranks),
/// written again here, in ms.
fn k6_quantile(h: &Histogram<u64>, q: f64) -> f64 {
    let n = h.len();
    let rank = q * (n - 1) as f64;
    let (lo, hi) = (rank.floor() as u64, rank.ceil() as u64);
    let at = |r: u64| {
        let mut seen = 0;
        for v in h.iter_recorded() {
            seen += v.count_at_value();
            if seen > r {
                return h.highest_equivalent(v.value_iterated_to()) as f64;
            }
        }
        h.max() as f64
    };
    let (a, b) = (at(lo), at(hi));
    (a + (b - a) * (rank - lo as f64)) / 1000.0
}

fn generator_dirs(run: &Path, n: usize) -> Vec<PathBuf> {
    (1..=n)
        .map(|i| run.join(format!("generator-{i}")))
        .collect()
}

fn k6_count(dir: &Path) -> u64 {
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("k6-summary.json")).unwrap())
            .unwrap();
    s["metrics"]["http_reqs"]["count"].as_u64().unwrap()
}

fn table<'a>(json: &'a serde_json::Value, title: &str) -> &'a Vec<serde_json::Value> {
    json["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["title"] == title)
        .unwrap_or_else(|| panic!("no table {title}"))["rows"]
        .as_array()
        .unwrap()
}

#[test]
fn three_local_generators_merge_to_the_union_of_their_samples() {
    require_k6();
    build_demo_jar().unwrap_or_else(|e| panic!("{e}"));
    let _one = serial();
    let dir = TempDir::outside_repo("generators");
    let reports = dir.join("reports");
    let config = k6_config(&dir, "vus = 6\nduration = \"5s\"\ngenerators = 3\n");
    let demo = Demo::start("generators", &["solo"], 1);
    let out = Xtask::with(&config, &reports)
        .args(["k6", "run", "--api-host", &demo.api()])
        .run();
    drop(demo);
    let (md, json) = read_latest(&reports, "k6");
    assert_eq!(out.code, 0, "{md}\n{}", out.stderr);
    let run = run_dir(&reports, "k6");
    let gens = generator_dirs(&run, 3);

    // Requests: the merged count is the sum of what each k6 itself counted.
    let counts: Vec<u64> = gens.iter().map(|g| k6_count(g)).collect();
    assert!(counts.iter().all(|c| *c > 0), "{counts:?}");
    let merged = metric(&json, "http_reqs").unwrap();
    assert_eq!(merged as u64, counts.iter().sum::<u64>(), "{md}");
    let rows = table(&json, "Requests per generator");
    for (row, c) in rows.iter().zip(&counts) {
        assert_eq!(row[1].as_str().unwrap(), c.to_string(), "{md}");
    }

    // The histogram: the union of the generators' own, added here.
    let mut union = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
    for g in &gens {
        union.add(all_histogram(g)).unwrap();
    }
    let kept = all_histogram(&run);
    assert_eq!(kept.len(), union.len());
    for q in [0.5, 0.9, 0.95, 0.99, 1.0] {
        assert_eq!(
            kept.value_at_quantile(q),
            union.value_at_quantile(q),
            "q{q}"
        );
    }
    let p95 = metric(&json, "http_req_duration p(95)").unwrap();
    let theirs = k6_quantile(&union, 0.95);
    assert!(
        (p95 - theirs).abs() <= theirs * 0.001 + 0.002,
        "merged p95 {p95}, union {theirs}"
    );
    // Judged once, from the script's own thresholds.
    let judged = table(&json, "k6 thresholds");
    assert!(
        judged
            .iter()
            .any(|r| r[0] == "http_req_duration" && r[1] == "p(95)<700" && r[3] == "passed"),
        "{md}"
    );
}

/// Finds the pid of the k6 process running execution segment `segment`
/// with its summary under `under`.
fn generator_pid(under: &Path, segment: &str) -> Option<u32> {
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmd
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let ours = args
            .iter()
            .any(|a| a.starts_with(&*under.to_string_lossy()));
        if ours
            && args
                .windows(2)
                .any(|w| w[0] == "--execution-segment" && w[1] == segment)
        {
            return Some(pid);
        }
    }
    None
}

/// Whether process `pid` owns the local TCP socket bound to `port` (the
/// client end of a connection the proxy accepted).
fn owns(pid: u32, port: u16) -> bool {
    let want = format!(":{port:04X}");
    let Ok(tcp) = std::fs::read_to_string("/proc/net/tcp") else {
        return false;
    };
    let Some(inode) = tcp.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        (f.len() > 9 && f[1].ends_with(&want)).then(|| f[9].to_string())
    }) else {
        return false;
    };
    let link = format!("socket:[{inode}]");
    std::fs::read_dir(format!("/proc/{pid}/fd")).is_ok_and(|fds| {
        fds.flatten()
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l.to_string_lossy() == link))
    })
}

/// A TCP proxy in front of the demo, owned by the test: connections from
/// the slow generator's k6 get one response in `every` held back `delay`;
/// the others pass as they are. The demo itself is not touched.
fn delaying_proxy(upstream: u16, slow: Arc<AtomicU32>, every: u32, delay: Duration) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    // Counted over all of the slow generator's connections (k6 may open
    // a new one per request).
    let seen = Arc::new(AtomicU32::new(0));
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            let (slow, seen) = (slow.clone(), seen.clone());
            std::thread::spawn(move || {
                let peer = c.peer_addr().unwrap().port();
                let Ok(up) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    return;
                };
                // No Nagle: small writes must not wait for delayed ACKs.
                let _ = (c.set_nodelay(true), up.set_nodelay(true));
                let is_slow = {
                    let want = slow.load(Ordering::SeqCst);
                    want != 0 && owns(want, peer)
                };
                let (mut c2, mut up2) = (c.try_clone().unwrap(), up.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut c2, &mut up2);
                    let _ = up2.shutdown(std::net::Shutdown::Write);
                });
                let (mut up, mut c) = (up, c);
                let mut buf = [0u8; 16384];
                loop {
                    let n = match up.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    if is_slow && (seen.fetch_add(1, Ordering::SeqCst) + 1) % every == 0 {
                        std::thread::sleep(delay);
                    }
                    if c.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = c.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    port
}

#[test]
fn a_slow_generator_moves_the_merged_p95_as_the_union_does() {
    require_k6();
    build_demo_jar().unwrap_or_else(|e| panic!("{e}"));
    let _one = serial();
    let dir = TempDir::outside_repo("generators-slow");
    let reports = dir.join("reports");
    let config = k6_config(
        &dir,
        "vus = 6\nduration = \"8s\"\nsleep_max = \"0.05\"\ngenerators = 3\n",
    );
    let demo = Demo::start("generators-slow", &["solo"], 1);
    let slow = Arc::new(AtomicU32::new(0));
    // One read in 20 of generator 2's (a response is one or two) is 80 ms late: above 5 % of its
    // own, under 5 % of all.
    let proxy = delaying_proxy(demo.api_port, slow.clone(), 20, Duration::from_millis(80));
    let done = Arc::new(AtomicBool::new(false));
    let finder = {
        let (slow, done, under) = (slow.clone(), done.clone(), dir.path().to_path_buf());
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) && slow.load(Ordering::SeqCst) == 0 {
                if let Some(pid) = generator_pid(&under, "1/3:2/3") {
                    slow.store(pid, Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let out = Xtask::with(&config, &reports)
        .args([
            "k6",
            "run",
            "--api-host",
            &format!("http://127.0.0.1:{proxy}"),
        ])
        .run();
    done.store(true, Ordering::SeqCst);
    finder.join().unwrap();
    drop(demo);
    let (md, json) = read_latest(&reports, "k6");
    assert_ne!(
        slow.load(Ordering::SeqCst),
        0,
        "generator 2 was never found\n{md}"
    );
    let run = run_dir(&reports, "k6");
    let gens = generator_dirs(&run, 3);
    let own: Vec<f64> = gens
        .iter()
        .map(|g| k6_quantile(&all_histogram(g), 0.95))
        .collect();
    let mut union = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
    for g in &gens {
        union.add(all_histogram(g)).unwrap();
    }
    let union_p95 = k6_quantile(&union, 0.95);
    let merged = metric(&json, "http_req_duration p(95)").unwrap();
    let mean = own.iter().sum::<f64>() / 3.0;
    let max = own.iter().cloned().fold(0.0, f64::max);
    assert!(
        own[1] > 60.0,
        "generator 2 was not slow: p95s {own:?}\n{md}"
    );
    assert!(
        (merged - union_p95).abs() <= union_p95 * 0.001 + 0.002,
        "merged {merged}, union {union_p95}"
    );
    assert!(
        mean > 1.5 * union_p95 && max > 3.0 * union_p95,
        "union {union_p95}, mean {mean}, max {max} (p95s {own:?}): the test does not tell them apart"
    );
    assert!(md.contains("generator 2 is an outlier: its p95"), "{md}");
    // The verdict is the union's: the script's p95 < 700 ms holds.
    assert_eq!(out.code, 0, "{md}\n{}", out.stderr);
}

/// Every generator's k6 of this test (pid, segment), found by its summary
/// path under `under`.
fn generator_pids(under: &Path) -> Vec<u32> {
    ["0:1/3", "1/3:2/3", "2/3:1"]
        .iter()
        .filter_map(|seg| generator_pid(under, seg))
        .collect()
}

fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !ok() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_generator_that_dies_fails_the_run_and_the_others_still_count() {
    require_k6();
    build_demo_jar().unwrap_or_else(|e| panic!("{e}"));
    let _one = serial();
    let dir = TempDir::outside_repo("generators-die");
    let reports = dir.join("reports");
    let config = k6_config(&dir, "vus = 3\nduration = \"6s\"\ngenerators = 3\n");
    let demo = Demo::start("generators-die", &["solo"], 1);
    let under = dir.path().to_path_buf();
    let killer = std::thread::spawn(move || {
        wait_for("generator 2 started", Duration::from_secs(60), || {
            generator_pid(&under, "1/3:2/3").is_some()
        });
        std::thread::sleep(Duration::from_secs(3));
        let pid = generator_pid(&under, "1/3:2/3").expect("generator 2 still runs");
        // SAFETY: a plain kill of a k6 this test's run started.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    });
    let out = Xtask::with(&config, &reports)
        .args(["k6", "run", "--api-host", &demo.api()])
        .run();
    killer.join().unwrap();
    drop(demo);
    let (md, json) = read_latest(&reports, "k6");
    assert_ne!(out.code, 0, "{md}");
    assert!(md.contains("- Result: FAIL"), "{md}");
    assert!(md.contains("generator 2: k6 was killed by SIGKILL"), "{md}");
    // The others ran to the end and their requests are in the numbers.
    let rows = table(&json, "Requests per generator");
    let reqs: Vec<u64> = rows
        .iter()
        .map(|r| r[1].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(reqs[0] > 0 && reqs[2] > 0, "{reqs:?}");
    assert_eq!(
        metric(&json, "http_reqs").unwrap() as u64,
        reqs.iter().sum::<u64>()
    );
}

#[test]
fn an_interrupt_stops_every_generator() {
    require_k6();
    build_demo_jar().unwrap_or_else(|e| panic!("{e}"));
    let _one = serial();
    let dir = TempDir::outside_repo("generators-int");
    let reports = dir.join("reports");
    let config = k6_config(&dir, "vus = 3\nduration = \"60s\"\ngenerators = 3\n");
    let demo = Demo::start("generators-int", &["solo"], 1);
    let mut child = Xtask::with(&config, &reports)
        .args(["k6", "run", "--api-host", &demo.api()])
        .cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let under = dir.path().to_path_buf();
    wait_for("3 generators running", Duration::from_secs(60), || {
        generator_pids(&under).len() == 3
    });
    std::thread::sleep(Duration::from_secs(2));
    let sent = std::time::Instant::now();
    // SAFETY: a plain kill of the child this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    let took = sent.elapsed();
    drop(demo);
    assert_eq!(status.code(), Some(130), "{status:?}");
    assert!(took < Duration::from_secs(7), "R1: {took:?}");
    assert!(
        generator_pids(&under).is_empty(),
        "a generator outlived the run"
    );
    let (md, _) = read_latest(&reports, "k6");
    assert!(md.contains("- Result: FAIL"), "{md}");
}

#[test]
fn bad_generator_counts_and_a_dashboard_are_refused_before_the_run() {
    let dir = TempDir::outside_repo("generators-bad");
    let reports = dir.join("reports");
    let config = k6_config(&dir, "");
    for (args, says) in [
        (vec!["--generators", "0"], "0 k6 generators: choose 1 to 32"),
        (
            vec!["--generators", "33"],
            "33 k6 generators: choose 1 to 32",
        ),
        (vec!["--generators", "x"], "bad generator count `x`"),
        (
            vec!["--generators", "2", "--dashboard"],
            "--dashboard with 2 generators",
        ),
    ] {
        let out = Xtask::with(&config, &reports)
            .args(["k6", "run", "--api-host", "http://127.0.0.1:9"])
            .args(&args)
            .run();
        assert!(matches!(out.code, 1 | 2), "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.starts_with("error: "),
            "{args:?}: {}",
            out.stderr
        );
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
        assert!(!reports.join("k6").exists(), "{args:?} wrote a report");
    }
    let cfg = k6_config(&dir, "generators = 0\n");
    let out = Xtask::with(&cfg, &reports).args(["k6", "run"]).run();
    assert_ne!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("k6.generators"), "{}", out.stderr);
}

#[test]
#[ignore = "needs a Docker engine and the offline images (cargo xtask images), about a minute; run by cargo xtask ci"]
fn three_generators_as_containers_on_the_compose_network() {
    let k6 = require_k6();
    let _one = serial();
    let dir = TempDir::new("generators-compose");
    let image = K6Image::build("xtask-k6-gen-test", &k6, dir.path());
    let image = &image.0;
    let project = format!("xtgen{}", std::process::id());
    let run = Xtask::new(&dir, &common::repo_config(23390))
        .args(["k6", "distributed", "--env", "compose", "--replicas", "2"])
        .args(["--compose-project", &project, "--generators", "3"])
        .args(["--docker-image", image])
        .env("K6_DURATION", "5s")
        .env("K6_VUS", "6")
        .run();
    let (md, json) = common::latest(&dir, "k6-distributed");
    assert_eq!(run.code, 0, "{md}\n{}", run.show());
    assert!(
        md.contains(&format!("- Execution mode: docker ({image}, network ")),
        "{md}"
    );
    let run = run_dir(&dir.join("reports"), "k6-distributed");
    let gens = generator_dirs(&run, 3);
    let counts: Vec<u64> = gens.iter().map(|g| k6_count(g)).collect();
    assert!(counts.iter().all(|c| *c > 0), "{counts:?}");
    assert_eq!(
        metric(&json, "http_reqs").unwrap() as u64,
        counts.iter().sum::<u64>(),
        "{md}"
    );
    let mut union = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
    for g in &gens {
        union.add(all_histogram(g)).unwrap();
    }
    let kept = all_histogram(&run);
    assert_eq!(kept.len(), union.len());
    assert_eq!(kept.value_at_quantile(0.95), union.value_at_quantile(0.95));
    // Each generator was a container of its own on the project's network.
    let steps = json["steps"].as_array().unwrap();
    let names: Vec<String> = steps
        .iter()
        .filter(|s| {
            s["name"]
                .as_str()
                .unwrap_or("")
                .starts_with("k6 run (generator")
        })
        .map(|s| {
            s["argv"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_string())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    assert_eq!(names.len(), 3, "{md}");
    assert!(
        names
            .iter()
            .all(|a| a.contains("--network") && !a.contains("--network host")),
        "{names:?}"
    );
    let left = common::docker(&["ps", "-aq", "--filter", "name=xtask-k6-"]);
    assert!(left.is_empty(), "containers left: {left:?}");
    let left = common::docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=com.docker.compose.project={project}"),
    ]);
    assert!(left.is_empty(), "containers left: {left:?}");
}
