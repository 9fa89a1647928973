//! `cargo xtask ops health` end to end against real servers: a real
//! redis-server, a real PostgreSQL cluster, an HTTP server in the test, and
//! a Kafka stand-in serving recorded protocol bytes (no broker here).

mod common;

use std::{
    io::{Read, Write},
    path::PathBuf,
    process::Command,
};

use common::*;

fn health_config(components: &str) -> String {
    format!("[ops.health]\ntimeout = \"2s\"\ncomponents = [\n{components}]\n")
}

#[test]
fn components_up_with_latencies_then_a_stopped_one_down_and_fail() {
    // One health-check suite at a time: it takes the suite lock.
    let _serial = common::serial();
    let dir = TempDir::new("ops-health");
    let api = stub_api(listen_from(20300));
    let redis_port = free_port(listen_from(20310));
    let mut redis = redis_server(redis_port, None);
    // The config's Redis address is the legacy default; OPS_REDIS_PORT points it
    // at ours, as the legacy variable did.
    let cfg = health_config(&format!(
        "  {{ name = \"api\", kind = \"http\", address = \"http://127.0.0.1:8080/api/concerts\" }},\n\
         \x20 {{ name = \"redis\", kind = \"redis\", address = \"127.0.0.1:6379\" }},\n\
         \x20 {{ name = \"lb\", kind = \"tcp\", address = \"127.0.0.1:{api}\" }},\n"
    ));
    let copy = dir.join("health-copy.md");
    let health = || {
        Xtask::new(&dir, &cfg)
            .args(["ops", "health"])
            .env(
                "OPS_HEALTH_API_URL",
                format!("http://127.0.0.1:{api}/api/concerts"),
            )
            .env("OPS_REDIS_PORT", redis_port.to_string())
            .env("OPS_HEALTH_REPORT_FILE", &copy)
            .run()
    };

    let run = health();
    assert_eq!(run.code, 0, "{}", run.show());
    let (md, json) = latest(&dir, "runtime-health-check");
    assert!(
        md.starts_with("# Runtime Health Check Report\n\n- Result: PASS\n"),
        "{md}"
    );
    assert_eq!(std::fs::read_to_string(&copy).unwrap(), md);
    let rows = table(&json, "Components");
    let view: Vec<(&str, &str, &str, &str)> = rows
        .iter()
        .map(|r| (r[0].as_str(), r[1].as_str(), r[3].as_str(), r[5].as_str()))
        .collect();
    assert_eq!(
        view,
        [
            ("api", "http", "UP", "HTTP 200"),
            ("redis", "redis", "UP", "PING answered PONG"),
            ("lb", "tcp", "UP", "TCP connect"),
        ]
    );
    assert_eq!(rows[1][2], format!("127.0.0.1:{redis_port}"));
    for r in &rows {
        assert!(r[4].ends_with(" ms"), "latency {:?}", r[4]);
    }
    assert!(metric(&json, "api latency").is_some() && metric(&json, "redis latency").is_some());

    redis.stop();
    let run = health();
    assert_eq!(run.code, 1, "{}", run.show());
    let (md, json) = latest(&dir, "runtime-health-check");
    assert!(md.contains("- Result: FAIL"), "{md}");
    let rows = table(&json, "Components");
    assert_eq!((rows[0][3].as_str(), rows[1][3].as_str()), ("UP", "DOWN"));
    assert_eq!(rows[1][4], "-");
    let notes = notes(&json);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].starts_with(&format!(
            "redis (redis 127.0.0.1:{redis_port}) is DOWN: cannot connect"
        )),
        "{notes:?}"
    );
    assert_eq!(metric(&json, "redis latency"), None);
    assert!(run.stderr.contains("is DOWN"), "{}", run.show());
}

#[test]
fn kafka_added_by_the_legacy_variables_answers_api_versions() {
    // One health-check suite at a time: it takes the suite lock.
    let _serial = common::serial();
    let dir = TempDir::new("ops-kafka");
    let l = listen_from(20400);
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let reply = common::kafka_api_versions_response();
        for c in l.incoming() {
            let Ok(mut c) = c else { continue };
            let mut buf = [0u8; 512];
            let _ = c.read(&mut buf);
            let _ = c.write_all(&reply);
        }
    });
    // No kafka component in the config: the variables add one.
    let cfg = health_config(&format!(
        "  {{ name = \"lb\", kind = \"tcp\", address = \"127.0.0.1:{port}\" }},\n"
    ));
    let run = Xtask::new(&dir, &cfg)
        .args(["ops", "health"])
        .env("OPS_KAFKA_HOST", "127.0.0.1")
        .env("OPS_KAFKA_PORT", port.to_string())
        .run();
    assert_eq!(run.code, 0, "{}", run.show());
    let (_, json) = latest(&dir, "runtime-health-check");
    let rows = table(&json, "Components");
    assert_eq!(
        rows[1][..4],
        ["kafka", "kafka", &format!("127.0.0.1:{port}"), "UP"]
    );
    assert_eq!(rows[1][5], "ApiVersions answered: 5 APIs");
}

/// A throwaway PostgreSQL cluster: initdb into a temp folder, `postgres` on
/// a port of our range. As root, both run as the `postgres` user.
struct Postgres {
    server: Option<Proc>,
    data: PathBuf,
    port: u16,
}

fn pg_bin(name: &str) -> PathBuf {
    if let Some(p) = which(name) {
        return p;
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin").join(name))
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    found.pop().unwrap_or_else(|| {
        panic!("PostgreSQL's {name} not found: apt-get install postgresql (cargo xtask ci installs it)")
    })
}

fn as_postgres_user(program: &PathBuf) -> Command {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

impl Postgres {
    fn start(port: u16) -> Postgres {
        let data = std::env::temp_dir().join(format!("xtask-e2e-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data);
        std::fs::create_dir_all(&data).unwrap();
        if unsafe { libc::geteuid() } == 0 {
            let id = Command::new("id")
                .args(["-u", "postgres"])
                .output()
                .unwrap();
            let uid: u32 = String::from_utf8_lossy(&id.stdout).trim().parse().unwrap_or_else(|_| {
                panic!("no `postgres` user: apt-get install postgresql (cargo xtask ci installs it)")
            });
            std::os::unix::fs::chown(&data, Some(uid), None).unwrap();
        }
        let db = data.join("db");
        let out = as_postgres_user(&pg_bin("initdb"))
            .arg("-D")
            .arg(&db)
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "--locale=C",
                "-E",
                "UTF8",
            ])
            .output()
            .expect("cannot run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut cmd = as_postgres_user(&pg_bin("postgres"));
        cmd.arg("-D")
            .arg(&db)
            .args([
                "-p",
                &port.to_string(),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
            ])
            .arg("-k")
            .arg(&data);
        let mut server = Proc::spawn("postgres", &mut cmd, None, "apt-get install postgresql");
        server.wait_listening(port);
        Postgres {
            server: Some(server),
            data,
            port,
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        drop(self.server.take());
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

#[test]
fn postgres_answers_the_ssl_request_in_its_own_protocol() {
    // One health-check suite at a time: it takes the suite lock.
    let _serial = common::serial();
    let dir = TempDir::new("ops-pg");
    let pg = Postgres::start(free_port(listen_from(20500)));
    let cfg = health_config("");
    let run = Xtask::new(&dir, &cfg)
        .args(["ops", "health", "--timeout", "5s"])
        .env("OPS_POSTGRES_PORT", pg.port.to_string())
        .run();
    assert_eq!(run.code, 0, "{}", run.show());
    let (_, json) = latest(&dir, "runtime-health-check");
    let rows = table(&json, "Components");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        rows[0][..4],
        [
            "postgres",
            "postgres",
            &format!("127.0.0.1:{}", pg.port),
            "UP"
        ]
    );
    // initdb leaves TLS off: the server says N.
    assert_eq!(rows[0][5], "SSLRequest answered N (no TLS)");
}

#[test]
fn a_bad_legacy_address_is_a_one_line_error_before_anything_runs() {
    let dir = TempDir::new("ops-bad");
    let run = Xtask::new(&dir, &health_config(""))
        .args(["ops", "health"])
        .env("OPS_HEALTH_API_URL", "https://example.invalid/api")
        .run();
    assert_eq!(run.code, 2, "{}", run.show());
    assert!(
        run.stderr
            .contains("https is not supported by the built-in probes"),
        "{}",
        run.show()
    );
    let run = Xtask::new(&dir, &health_config(""))
        .args(["ops", "health"])
        .run();
    assert_eq!(run.code, 1, "{}", run.show());
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.show());
    assert!(
        run.stderr.contains("no components to probe"),
        "{}",
        run.show()
    );
    assert!(!dir.join("reports/runtime-health-check/latest").exists());
}
