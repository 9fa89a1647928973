//! `cargo xtask ops health|monitor`.
//!
//! `health` (legacy runtime-health-check.sh) probes every component in its
//! own protocol, where the script only opened TCP connections; `monitor`
//! (legacy collect-runtime-monitor-snapshot.sh) counts monitor keys in the
//! app's recent logs, read through the environment trait.

use std::collections::BTreeMap;

use anyhow::bail;

use crate::{
    config::{parse_host_port, Component, EnvKind, ProbeKind},
    context::{Ctx, Exit},
    env::{self, EnvSpec, Environment},
    flags, probe,
    report::{Report, RunOptions, Threshold},
    units::{Host, HttpUrl},
};

pub const HEALTH_SUITE: &str = "runtime-health-check";
pub const HEALTH_TITLE: &str = "Runtime Health Check Report";
pub const MONITOR_SUITE: &str = "runtime-monitor-snapshot";
pub const MONITOR_TITLE: &str = "Runtime Monitor Snapshot";

impl flags::OpsHealth {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        let cfg = &ctx.config.ops.health;
        let components = self.apply_to(cfg.components.clone());
        if components.is_empty() {
            bail!(
                "no components to probe: add [[ops.health.components]] to {} or set OPS_HEALTH_API_URL / OPS_REDIS_HOST / ...",
                ctx.relative(&ctx.config_path)
            );
        }
        for c in &components {
            probe_address(c)?;
        }
        let timeout = self.timeout.unwrap_or(cfg.timeout);
        // What `env up` left running, unless an address was given.
        let mut found = match self.names_an_address() || self.fresh {
            true => None,
            false => env::reuse::find(ctx, &env::reuse::Want::default())?,
        };
        let plan: String = (components.iter())
            .map(|c| format!("probe {} ({} {})\n", c.name, c.kind.as_str(), c.address))
            .collect();
        let planned = ctx.runner.plan_only(|| {
            ctx.runner.effect(plan, || Ok(()))?;
            eprintln!("runtime-health-check: dry run, nothing was run");
            anyhow::Ok(Exit::OK)
        });
        if let Some(planned) = planned {
            return planned;
        }
        let opts = RunOptions {
            report_file: self.report_file.as_deref().map(|p| ctx.path(p)),
            ..RunOptions::default()
        };
        let (_, exit) = ctx.run_suite(HEALTH_SUITE, HEALTH_TITLE, opts, |report, _| {
            report.param("Probe timeout", timeout);
            let mut components = components;
            let _reused = match found.take() {
                Some(f) => {
                    let health = f.health_url()?;
                    let g = f.guard(ctx, report, None)?;
                    components = flags::OpsHealth::default()
                        .on_env(health, &g.endpoints())
                        .apply_to(components);
                    Some(g)
                }
                None => None,
            };
            let results = probe_all(&components, timeout.std());
            for (c, r) in components.iter().zip(&results) {
                ctx.runner.say(&match r {
                    Ok(h) => format!("{} ({}): UP, {}", c.name, c.address, h.detail),
                    Err(e) => format!("{} ({}): DOWN, {e:#}", c.name, c.address),
                });
            }
            health_report(report, &components, &results);
            Ok(())
        })?;
        Ok(exit)
    }

    /// The running environment's own addresses, not the config's fixed
    /// ones: its API (the readiness URL) and its Redis when it has one.
    pub fn on_env(mut self, api: HttpUrl, ep: &env::Endpoints) -> flags::OpsHealth {
        self.api_url = Some(api);
        if let Some((host, port)) = &ep.redis {
            self.redis_host = Some(Host(host.clone()));
            self.redis_port = Some(*port);
        }
        self
    }

    /// An address flag (or legacy variable) says what to probe.
    fn names_an_address(&self) -> bool {
        self.api_url.is_some()
            || self.redis_host.is_some()
            || self.redis_port.is_some()
            || self.kafka_host.is_some()
            || self.kafka_port.is_some()
            || self.postgres_host.is_some()
            || self.postgres_port.is_some()
    }

    /// The legacy variables (and their flags) override the component of
    /// their kind, or add one when the config has none.
    fn apply_to(&self, mut components: Vec<Component>) -> Vec<Component> {
        if let Some(url) = &self.api_url {
            let i = components
                .iter()
                .position(|c| c.kind == ProbeKind::Http && c.name == "api")
                .or_else(|| components.iter().position(|c| c.kind == ProbeKind::Http));
            match i {
                Some(i) => components[i].address = url.to_string(),
                None => components.push(Component {
                    name: "api".into(),
                    kind: ProbeKind::Http,
                    address: url.to_string(),
                }),
            }
        }
        for (kind, host, port, default_port) in [
            (ProbeKind::Redis, &self.redis_host, self.redis_port, 6379),
            (ProbeKind::Kafka, &self.kafka_host, self.kafka_port, 9092),
            (
                ProbeKind::Postgres,
                &self.postgres_host,
                self.postgres_port,
                5432,
            ),
        ] {
            if host.is_none() && port.is_none() {
                continue;
            }
            match components.iter_mut().find(|c| c.kind == kind) {
                Some(c) => {
                    let (h, p) = parse_host_port(&c.address)
                        .unwrap_or_else(|_| ("127.0.0.1".into(), default_port));
                    c.address = host_port(
                        host.as_ref().map_or(h.as_str(), |h| h.0.as_str()),
                        port.unwrap_or(p),
                    );
                }
                None => components.push(Component {
                    name: kind.as_str().into(),
                    kind,
                    address: host_port(
                        host.as_ref().map_or("127.0.0.1", |h| h.0.as_str()),
                        port.unwrap_or(default_port),
                    ),
                }),
            }
        }
        components
    }
}

/// `host:port`, with brackets around an IPv6 host.
fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Addresses from the legacy variables are checked here, as config ones are
/// at load time: a bad one is a one-line error before anything runs.
fn probe_address(c: &Component) -> anyhow::Result<()> {
    let checked = match c.kind {
        ProbeKind::Http => c.address.parse::<crate::units::HttpUrl>().map(|_| ()),
        _ => parse_host_port(&c.address).map(|_| ()),
    };
    checked.map_err(|e| anyhow::anyhow!("component `{}`: {e:#}", c.name))
}

/// Every component at once, so a dead one costs one timeout, not one each.
fn probe_all(
    components: &[Component],
    timeout: std::time::Duration,
) -> Vec<anyhow::Result<probe::Health>> {
    std::thread::scope(|s| {
        let handles: Vec<_> = components
            .iter()
            .map(|c| s.spawn(move || probe::check(c.kind, &c.address, timeout)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("probe thread"))
            .collect()
    })
}

/// The table, one latency metric per component, and a FAIL note per DOWN one.
fn health_report(
    report: &mut Report,
    components: &[Component],
    results: &[anyhow::Result<probe::Health>],
) {
    let mut rows = Vec::new();
    let mut up = 0;
    for (c, r) in components.iter().zip(results) {
        let (status, latency, detail) = match r {
            Ok(h) => {
                up += 1;
                let ms = h.latency.as_secs_f64() * 1000.0;
                report.metric(&format!("{} latency", c.name), Some(round1(ms)), "ms");
                ("UP", format!("{:.1} ms", ms), h.detail.clone())
            }
            Err(e) => {
                report.metric(&format!("{} latency", c.name), None, "ms");
                report.fail(format!(
                    "{} ({} {}) is DOWN: {e:#}",
                    c.name,
                    c.kind.as_str(),
                    c.address
                ));
                ("DOWN", "-".into(), format!("{e:#}"))
            }
        };
        rows.push(vec![
            c.name.clone(),
            c.kind.as_str().into(),
            c.address.clone(),
            status.into(),
            latency,
            detail,
        ]);
    }
    report.metric("components up", Some(up as f64), "");
    report.metric("components down", Some((components.len() - up) as f64), "");
    report.table(
        "Components",
        &[
            "Component",
            "Kind",
            "Address",
            "Status",
            "Latency",
            "Detail",
        ],
        rows,
    );
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

impl flags::OpsMonitor {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        self.run_on(ctx, None)
    }

    /// Reads `shared`'s logs (the gate's environment) when given; else the
    /// environment `env up` left running, else the configured one.
    pub fn run_on(self, ctx: &Ctx, shared: Option<&mut dyn Environment>) -> anyhow::Result<Exit> {
        let cfg = &ctx.config;
        let m = &cfg.ops.monitor;
        let tail = self.tail.unwrap_or(m.tail_lines);
        if tail == 0 {
            bail!("--tail / OPS_LOG_TAIL_LINES / [ops.monitor].tail_lines must be 1 or more");
        }
        let service = self
            .app_service
            .clone()
            .unwrap_or_else(|| cfg.environment.compose.app_service.clone());
        let mut mins = m.min.clone();
        mins.extend(self.min.iter().map(|k| (k.key.clone(), k.count)));
        let mut keys = m.keys.clone();
        for k in mins.keys() {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
        if keys.is_empty() {
            bail!(
                "no monitor keys to count: set [ops.monitor].keys in {} or pass --min KEY=N",
                ctx.relative(&ctx.config_path)
            );
        }
        if let Some(k) = keys
            .iter()
            .find(|k| k.trim().is_empty() || k.contains('\n'))
        {
            bail!("monitor key {k:?} is empty or spans lines: use a word like QUEUE_MONITOR");
        }
        let opts = crate::flags::EnvOpts {
            kind: self.env,
            compose_file: self.compose_file.clone(),
            compose_project: self.compose_project.clone(),
            ..Default::default()
        };
        let spec = EnvSpec::resolve(ctx, &opts, &env::EnvDefaults::monitor(cfg))?;
        let want = env::reuse::Want {
            kind: self.env,
            project: self.compose_project.clone(),
            fresh: self.fresh,
        };
        let found = env::reuse::find_unless_shared(ctx, shared.is_some(), &want)?;
        let plan = || {
            let source = match &shared {
                Some(env) => format!(
                    "{service} logs of the gate's {} environment",
                    env.kind().as_str()
                ),
                None => log_source(ctx, &spec, &service),
            };
            let what = format!(
                "count {} in the last {tail} lines of the {source}",
                keys.join(", "),
            );
            ctx.runner.effect(what, || Ok(()))?;
            // The command that would read them (the gate's project, when shared).
            match &shared {
                Some(env) => drop(env.logs(&service, tail)?),
                None if spec.kind != EnvKind::External => {
                    drop(env::open(ctx, &spec)?.logs(&service, tail)?)
                }
                None => {}
            }
            eprintln!("runtime-monitor-snapshot: dry run, nothing was run");
            anyhow::Ok(Exit::OK)
        };
        if let Some(planned) = ctx.runner.plan_only(plan) {
            return planned;
        }
        let opts = RunOptions {
            report_file: self.report_file.as_deref().map(|p| ctx.path(p)),
            ..RunOptions::default()
        };
        let (_, exit) = ctx.run_suite(MONITOR_SUITE, MONITOR_TITLE, opts, |report, _| {
            report.param("Tail lines", tail);
            let snapshot = Snapshot {
                service: &service,
                tail,
                keys: &keys,
                mins: &mins,
            };
            if let Some(env) = shared {
                env::reuse::record(report, env);
                report.param(
                    "Log source",
                    format!(
                        "{} logs of the gate's {} environment",
                        service,
                        env.kind().as_str()
                    ),
                );
                return snapshot.take(&*env, report);
            }
            if let Some(f) = found {
                // What `env up` left running.
                let g = f.guard(ctx, report, None)?;
                report.param(
                    "Log source",
                    format!(
                        "{} logs of the reused {} environment",
                        service,
                        g.kind().as_str()
                    ),
                );
                return snapshot.take(&*g, report);
            }
            report.param("Log source", log_source(ctx, &spec, &service));
            snapshot.take(env::open(ctx, &spec)?.as_ref(), report)
        })?;
        Ok(exit)
    }
}

/// Where the logs come from, as the legacy report said it.
fn log_source(ctx: &Ctx, spec: &EnvSpec, service: &str) -> String {
    match spec.kind {
        EnvKind::Compose => format!(
            "compose logs of service `{service}` (project {}, file {})",
            spec.compose_project.as_deref().unwrap_or("-"),
            ctx.relative(&spec.compose_file)
        ),
        other => format!("{} environment, logs of `{service}`", other.as_str()),
    }
}

/// One monitor snapshot: what to read and what to count.
pub struct Snapshot<'a> {
    pub service: &'a str,
    pub tail: u32,
    pub keys: &'a [String],
    /// Minimum line count per key; none makes the snapshot informational.
    pub mins: &'a BTreeMap<String, u64>,
}

impl Snapshot<'_> {
    /// Reads the logs through the environment and fills the report.
    pub fn take(&self, environment: &dyn Environment, report: &mut Report) -> anyhow::Result<()> {
        let logs = environment.logs(self.service, self.tail)?;
        self.fill(report, logs.as_bytes());
        Ok(())
    }

    /// Counts and judges captured log text (any bytes: a log is not
    /// guaranteed to be UTF-8).
    pub fn fill(&self, report: &mut Report, log: &[u8]) {
        let lines = last_lines(log, self.tail as usize);
        let counts = count_keys(&lines, self.keys);
        report.param("Lines read", lines.len());
        let mut rows = Vec::new();
        for c in &counts {
            let min = self.mins.get(&c.key);
            report.metric(&c.key, Some(c.exact as f64), "lines");
            rows.push(vec![
                c.key.clone(),
                c.exact.to_string(),
                c.substring.to_string(),
                min.map_or("-".into(), |m| m.to_string()),
            ]);
            if let Some(&m) = min {
                report.threshold(Threshold::check(
                    &format!("{} lines", c.key),
                    Some(c.exact as f64),
                    crate::report::Cmp::AtLeast,
                    m as f64,
                ));
            }
        }
        report.table(
            "Monitor key counts",
            &[
                "Key",
                "Lines (exact token)",
                "Lines (legacy substring)",
                "Minimum",
            ],
            rows,
        );
        report.note(
            "lines are counted when they hold the key as a whole token, so a PUSH_MONITOR_SNAPSHOT line no longer counts as PUSH_MONITOR; the legacy script counted substrings (both columns shown)",
        );
        for t in report.thresholds.clone().iter().filter(|t| !t.ok) {
            report.fail(format!(
                "{} {} below the minimum {}",
                t.name,
                t.observed.map_or("N/A".into(), crate::report::fmt_num),
                crate::report::fmt_num(t.limit)
            ));
        }
        if self.mins.is_empty() {
            report.note("no check configured: the snapshot is informational (set --min KEY=N or [ops.monitor].min to make it a check)");
        }
        if lines.is_empty() {
            report.note(format!(
                "the logs of `{}` were empty: is the app running?",
                self.service
            ));
        }
        // Logs read as text already had such bytes replaced (U+FFFD).
        let not_utf8 = lines
            .iter()
            .filter(|l| std::str::from_utf8(l).map_or(true, |t| t.contains('\u{fffd}')))
            .count();
        if not_utf8 > 0 {
            report.note(format!(
                "{not_utf8} lines were not valid UTF-8; they were searched as bytes"
            ));
        }
    }
}

/// Lines holding a key, counted two ways.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyLines {
    pub key: String,
    /// Lines holding the key as a whole token (not inside a longer word).
    pub exact: u64,
    /// Lines holding the key anywhere (the legacy `grep -c` count).
    pub substring: u64,
}

/// The last `n` lines (a trailing newline ends the last line, it does not
/// start an empty one). `\r` before a newline is dropped.
pub fn last_lines(log: &[u8], n: usize) -> Vec<&[u8]> {
    let log = log.strip_suffix(b"\n").unwrap_or(log);
    if log.is_empty() {
        return vec![];
    }
    let lines: Vec<&[u8]> = log
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .collect();
    lines[lines.len().saturating_sub(n)..].to_vec()
}

pub fn count_keys(lines: &[&[u8]], keys: &[String]) -> Vec<KeyLines> {
    keys.iter()
        .map(|key| {
            let k = key.as_bytes();
            let mut exact = 0;
            let mut substring = 0;
            for line in lines {
                let mut found = false;
                let mut token = false;
                for at in find_all(line, k) {
                    found = true;
                    if is_token_at(line, at, k.len()) {
                        token = true;
                        break;
                    }
                }
                substring += u64::from(found);
                exact += u64::from(token);
            }
            KeyLines {
                key: key.clone(),
                exact,
                substring,
            }
        })
        .collect()
}

/// Every offset where `needle` starts in `hay`.
fn find_all<'a>(hay: &'a [u8], needle: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    (0..=hay.len().saturating_sub(needle.len()))
        .filter(move |&i| !needle.is_empty() && hay[i..].starts_with(needle))
}

/// Word characters of a key-like token: ASCII letters, digits and `_`.
fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The match at `at` is not part of a longer word on either side.
fn is_token_at(line: &[u8], at: usize, len: usize) -> bool {
    let before = at.checked_sub(1).map(|i| line[i]);
    let after = line.get(at + len).copied();
    !before.is_some_and(is_word) && !after.is_some_and(is_word)
}

#[cfg(test)]
mod tests;
