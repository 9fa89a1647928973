//! The demo is a twin of the service wherever the xtask can see it: the
//! compose file's service names, published ports, env file, healthchecks
//! and network; the k6 script's inputs, metrics and thresholds; a balancer
//! that re-resolves `app`. (The facts: ../shared/real-service.md.) When
//! they disagree the demo is wrong, and these tests say where.

mod common;

use common::{root, TempDir};

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap()
}

/// The lines of a top-level block's direct children (`services:` -> names).
fn children(text: &str, block: &str) -> Vec<String> {
    let mut inside = false;
    let mut out = vec![];
    for line in text.lines() {
        if !line.starts_with(' ') && !line.trim().is_empty() && !line.starts_with('#') {
            inside = line.trim() == block;
            continue;
        }
        if inside && line.starts_with("  ") && !line.starts_with("   ") {
            if let Some(name) = line.trim().strip_suffix(':') {
                out.push(name.to_string());
            }
        }
    }
    out
}

#[test]
fn the_compose_file_has_the_services_ports_and_files_of_the_service() {
    let c = read("demo/docker-compose.yml");
    assert_eq!(
        children(&c, "services:"),
        ["postgres-db", "redis", "app", "nginx-lb"]
    );
    assert_eq!(children(&c, "networks:"), ["ticket-network"]);
    assert_eq!(children(&c, "volumes:"), ["postgres_data"]);
    for want in [
        // The service's host ports, the balancer's through its own variable.
        "\"${DEMO_POSTGRES_PORT:-5432}:5432\"",
        "\"${DEMO_REDIS_PORT:-6379}:6379\"",
        "\"${APP_LB_PORT:-18080}:8080\"",
        // app: the env file the service requires, no host port.
        "env_file:\n      - .env.local",
        "expose:\n      - \"8080\"",
        // Healthchecks, and the app waits for them.
        "test: [\"CMD-SHELL\", \"pg_isready -U postgres\"]",
        "test: [\"CMD\", \"redis-cli\", \"ping\"]",
        "postgres-db:\n        condition: service_healthy",
        "redis:\n        condition: service_healthy",
        "app:\n        condition: service_started",
    ] {
        assert!(c.contains(want), "{want} not in demo/docker-compose.yml");
    }
    assert!(!c.contains("TCS_LB_PORT"), "the service reads APP_LB_PORT");
}

#[test]
fn the_balancer_re_resolves_app_through_dockers_dns_and_bookworms_nginx_accepts_it() {
    let conf = read("demo/nginx/lb.conf");
    assert!(conf.contains("resolver 127.0.0.11 valid=5s ipv6=off;"));
    assert!(conf.contains("proxy_pass http://$app_upstream:8080;"));
    assert!(conf.contains("listen 8080;"));
    // No upstream connection kept alive: one per request, as the service's.
    assert!(!conf.contains("keepalive"));
    // The file is what conf.d/default.conf holds: check it inside an http block.
    let ours = nginx_t(
        "twin-nginx",
        &format!("include {};", root().join("demo/nginx/lb.conf").display()),
    );
    assert!(ours.is_ok(), "{ours:?}");
    // Why not the service's own form: this nginx (bookworm's 1.22) refuses it.
    let service_form = nginx_t(
        "twin-nginx-resolve",
        "resolver 127.0.0.11 valid=5s ipv6=off;\n\
         upstream b { zone b 64k; server app:8080 resolve; }\n\
         server { listen 127.0.0.1:1; location / { proxy_pass http://b; } }",
    );
    assert!(
        service_form
            .as_ref()
            .is_err_and(|e| e.contains("invalid parameter \"resolve\"")),
        "{service_form:?}: if nginx accepts `resolve` now, the demo can use the service's form"
    );
}

/// `nginx -t` on an http block holding `body`; Err: nginx's complaint.
fn nginx_t(name: &str, body: &str) -> Result<(), String> {
    let dir = TempDir::new(name);
    let main = dir.join("nginx.conf");
    let d = dir.path().display();
    std::fs::write(
        &main,
        format!(
            "pid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{}}\n\
             http {{ client_body_temp_path {d}/cb; proxy_temp_path {d}/px; fastcgi_temp_path {d}/fc; uwsgi_temp_path {d}/uw; scgi_temp_path {d}/sc;\n\
             {body} }}\n"
        ),
    )
    .unwrap();
    let out = std::process::Command::new("nginx")
        .arg("-t")
        .arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(&main)
        .arg("-e")
        .arg(dir.join("error.log"))
        .output()
        .expect("nginx is needed: apt-get install nginx-light");
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn the_k6_script_has_exactly_the_services_inputs_metrics_and_thresholds() {
    let js = read("demo/perf/waiting-queue-join.js");
    let inputs: Vec<&str> = js
        .match_indices("input('")
        .map(|(at, m)| {
            let rest = &js[at + m.len()..];
            &rest[..rest.find('\'').unwrap()]
        })
        .collect();
    assert_eq!(
        inputs,
        [
            "API_HOST",
            "CONCERT_ID",
            "VUS",
            "DURATION",
            "SLEEP_MAX_SEC",
            "USER_ID_BASE"
        ]
    );
    assert_eq!(js.matches("__ENV[").count(), 1, "only through input()");
    let metrics: Vec<&str> = js
        .match_indices("new Counter('")
        .chain(js.match_indices("new Rate('"))
        .map(|(at, m)| {
            let rest = &js[at + m.len()..];
            &rest[..rest.find('\'').unwrap()]
        })
        .collect();
    assert_eq!(
        metrics,
        [
            "join_accepted",
            "join_rejected",
            "join_unknown",
            "join_http_error",
            "join_valid_status_rate"
        ]
    );
    assert!(!js.contains("new Trend(") && !js.contains("new Gauge("));
    let thresholds = "  thresholds: {
    http_req_failed: ['rate==0'],
    http_req_duration: ['p(95)<700', 'p(99)<1200'],
    checks: ['rate==1'],
    join_valid_status_rate: ['rate==1'],
  },";
    assert!(js.contains(thresholds), "{js}");
    assert!(!js.contains("X-Instance") && !js.contains("INSTANCES"));
}

#[test]
fn no_answer_of_the_demo_app_names_its_replica() {
    let src = read("demo/src/main/java/com/ticketrush/demo/http/ApiServer.java");
    assert!(
        !src.contains("X-Instance"),
        "the service sends no such header"
    );
}
