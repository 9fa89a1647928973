//! The legacy scripts' report fields, under their legacy names, beside ours
//! (legacy-behavior.md): documents and people grep `- Compose Project:` or
//! `| http_reqs.count |`, so every field the old Markdown had is written
//! again, from the values this run recorded under our own names.

use super::{fmt_value, Report};

/// Where a legacy field's value comes from.
enum Source {
    /// One of our parameters, as it is.
    Param(&'static str),
    /// One of our parameters, `yes`/`enabled...` written `true`, else `false`.
    Flag(&'static str),
    /// The run's start (RFC 3339, UTC).
    Started,
    /// The run folder's stamp.
    RunStamp,
    /// The address of the component named `api`.
    ApiComponent,
    /// The dashboard's address, when it was enabled.
    DashboardUrl,
}

use Source::*;

/// Per suite: (legacy field, where its value comes from), in the legacy order.
fn fields(suite: &str) -> &'static [(&'static str, Source)] {
    match suite {
        "runtime-integration" => &[
            ("Compose Project", Param("Compose project")),
            ("Compose File", Param("Compose file")),
            ("App Replicas", Param("Replicas")),
            ("Health URL", Param("Health URL")),
            ("Keep Environment", Param("Keep env")),
        ],
        "release-gate" => &[("Include API Script Suite", Flag("API scripts included"))],
        "k6" => &[
            ("Run Started (UTC)", Started),
            ("API Host", Param("API host")),
            ("Concert ID", Param("Concert ID")),
            ("VUs", Param("VUs")),
            ("Duration", Param("k6 duration")),
            ("k6 Script", Param("Script")),
            ("Execution Mode", Param("Execution mode")),
            ("Web Dashboard Enabled", Flag("Web dashboard")),
            ("Web Dashboard URL", DashboardUrl),
        ],
        "k6-baseline" => &[
            ("Threshold max p95(ms)", Param("Max p95 (ms)")),
            ("Threshold max fail rate", Param("Max failed rate")),
            ("Threshold min checks rate", Param("Min checks rate")),
        ],
        "k6-distributed" => &[
            ("Run Stamp (UTC)", RunStamp),
            ("Compose Project", Param("Compose project")),
            ("App Replicas", Param("Replicas")),
            ("LB Service", Param("LB service")),
            ("API Host (in-network)", Param("API host")),
            ("API Host (host access)", Param("Host API host")),
            ("VUs", Param("VUs")),
            ("Duration", Param("k6 duration")),
            ("k6 Script", Param("Script")),
            ("Keep Environment", Param("Keep env")),
        ],
        "runtime-health-check" => &[("API URL", ApiComponent)],
        "runtime-monitor-snapshot" => &[
            ("Log Source", Param("Log source")),
            ("Tail Lines", Param("Tail lines")),
        ],
        _ => &[],
    }
}

/// Our k6 metric names and the legacy table's.
const K6_METRICS: [(&str, &str); 10] = [
    ("http_reqs", "http_reqs.count"),
    ("http_req_failed rate", "http_req_failed.rate"),
    ("http_req_duration p(95)", "http_req_duration.p(95) ms"),
    ("http_req_duration p(99)", "http_req_duration.p(99) ms"),
    ("checks rate", "checks.rate"),
    ("join_accepted", "join_accepted.count"),
    ("join_rejected", "join_rejected.count"),
    ("join_unknown", "join_unknown.count"),
    ("join_http_error", "join_http_error.count"),
    ("join_valid_status_rate", "join_valid_status_rate.rate"),
];

/// Adds the legacy fields that are not there yet, first (right after the
/// Result line in the Markdown), and the k6 reports' legacy metrics table.
pub fn add_fields(report: &mut Report) {
    let value = |r: &Report, src: &Source| -> Option<String> {
        let param = |name: &str| {
            r.parameters
                .iter()
                .find(|p| p.name == name)
                .map(|p| p.value.clone())
        };
        match src {
            Param(name) => param(name),
            Flag(name) => param(name).map(|v| {
                let on = v == "yes" || v == "true" || v.starts_with("enabled");
                on.to_string()
            }),
            Started => (!r.started.is_empty()).then(|| r.started.clone()),
            RunStamp => (!r.run_stamp.is_empty()).then(|| r.run_stamp.clone()),
            ApiComponent => r
                .tables
                .iter()
                .flat_map(|t| &t.rows)
                .find(|row| row.first().is_some_and(|c| c == "api"))
                .and_then(|row| row.get(2).cloned()),
            DashboardUrl => param("Web dashboard").and_then(|v| {
                let at = v.find("http://")?;
                v[at..].split_whitespace().next().map(String::from)
            }),
        }
    };
    let mut legacy = vec![];
    for (name, src) in fields(&report.suite) {
        if report.parameters.iter().any(|p| p.name == *name) {
            continue;
        }
        if let Some(v) = value(report, src) {
            legacy.push(super::Param {
                name: (*name).into(),
                value: v,
            });
        }
    }
    report.parameters.splice(0..0, legacy);
    // The legacy sections that listed what ran, under their headings.
    for (suite, title, column, param, sep) in [
        (
            "runtime-integration",
            "Executed Tests",
            "Test class",
            "Test classes",
            ", ",
        ),
        ("release-gate", "Executed Gates", "Gate", "Gates", "; "),
    ] {
        if report.suite != suite || report.tables.iter().any(|t| t.title == title) {
            continue;
        }
        let Some(p) = report.parameters.iter().find(|p| p.name == param) else {
            continue;
        };
        let rows: Vec<Vec<String>> = p
            .value
            .split(sep)
            .filter(|v| !v.is_empty())
            .map(|v| vec![v.to_string()])
            .collect();
        report.table(title, &[column], rows);
    }
    let k6_suite = matches!(
        report.suite.as_str(),
        "k6" | "k6-baseline" | "k6-distributed"
    );
    if k6_suite
        && !report.metrics.is_empty()
        && !report.tables.iter().any(|t| t.title == "Summary Metrics")
    {
        let rows = K6_METRICS
            .iter()
            .filter_map(|(ours, theirs)| {
                let m = report.metrics.iter().find(|m| m.name == *ours)?;
                let unit = if m.unit == "ms" { "" } else { &m.unit };
                Some(vec![theirs.to_string(), fmt_value(m.value, unit)])
            })
            .collect();
        report.table("Summary Metrics", &["Metric", "Value"], rows);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_legacy_fields_come_first_under_their_legacy_names() {
        let mut r = Report::new("k6-distributed", "k6 Distributed Load Test Report");
        r.run_stamp = "20261124T021238Z".into();
        r.param("Replicas", 3);
        r.param("Compose project", "tcsdist");
        r.param("LB service", "nginx-lb");
        r.param("API host", "http://nginx-lb:8080");
        r.param("Host API host", "http://127.0.0.1:18080");
        r.param("VUs", 60);
        r.param("k6 duration", "60s");
        r.param("Script", "scripts/perf/k6-waiting-queue-join.js");
        r.param("Keep env", false);
        r.metric("http_reqs", Some(1200.0), "");
        r.metric("http_req_duration p(95)", Some(12.5), "ms");
        add_fields(&mut r);
        let md = r.to_markdown();
        for line in [
            "- Run Stamp (UTC): 20261124T021238Z",
            "- Compose Project: tcsdist",
            "- App Replicas: 3",
            "- LB Service: nginx-lb",
            "- API Host (in-network): http://nginx-lb:8080",
            "- API Host (host access): http://127.0.0.1:18080",
            "- Duration: 60s",
            "- k6 Script: scripts/perf/k6-waiting-queue-join.js",
            "- Keep Environment: false",
            "| http_reqs.count | 1200 |",
            "| http_req_duration.p(95) ms | 12.5 |",
        ] {
            assert!(md.contains(&format!("{line}\n")), "missing `{line}`:\n{md}");
        }
        // Ours stay beside them; VUs has one name in both.
        assert!(md.contains("- Compose project: tcsdist\n"), "{md}");
        assert_eq!(md.matches("- VUs: 60").count(), 1, "{md}");
        // The legacy fields right after the result, as the old reports had them.
        let result = md.find("- Result:").unwrap();
        assert!(md.find("- Run Stamp (UTC)").unwrap() > result);
        assert!(md.find("- Run Stamp (UTC)").unwrap() < md.find("- Replicas").unwrap());
    }

    #[test]
    fn what_ran_stands_under_the_legacy_headings() {
        let mut it = Report::new("runtime-integration", "Runtime Integration Test Report");
        it.param(
            "Test classes",
            "com.a.FirstIntegrationTest, com.a.SecondIntegrationTest",
        );
        add_fields(&mut it);
        let md = it.to_markdown();
        assert!(md.contains("## Executed Tests\n"), "{md}");
        assert!(md.contains("| com.a.SecondIntegrationTest |"), "{md}");
        let mut rg = Report::new("release-gate", "Release Gate Report");
        rg.param(
            "Gates",
            "compile: gradle compileJava; core verify tests: 6 classes",
        );
        add_fields(&mut rg);
        let md = rg.to_markdown();
        assert!(md.contains("## Executed Gates\n"), "{md}");
        assert!(md.contains("| core verify tests: 6 classes |"), "{md}");
    }

    #[test]
    fn flags_are_written_true_or_false_as_the_scripts_did() {
        let mut r = Report::new("release-gate", "Release Gate Report");
        r.param("API scripts included", "no");
        add_fields(&mut r);
        assert!(r
            .to_markdown()
            .contains("- Include API Script Suite: false\n"));
        let mut r = Report::new("k6", "k6");
        r.param(
            "Web dashboard",
            "enabled (http://127.0.0.1:5665 while running)",
        );
        add_fields(&mut r);
        let md = r.to_markdown();
        assert!(md.contains("- Web Dashboard Enabled: true\n"), "{md}");
        assert!(
            md.contains("- Web Dashboard URL: http://127.0.0.1:5665\n"),
            "{md}"
        );
    }

    #[test]
    fn integration_and_ops_reports_get_their_legacy_fields() {
        let mut r = Report::new("runtime-integration", "Runtime Integration Test Report");
        r.param("Compose project", "tcsit");
        r.param("Compose file", "docker-compose.yml");
        r.param("Replicas", 1);
        r.param("Health URL", "http://127.0.0.1:18080/api/concerts");
        r.param("Keep env", false);
        add_fields(&mut r);
        let md = r.to_markdown();
        for line in [
            "- Compose Project: tcsit",
            "- Compose File: docker-compose.yml",
            "- App Replicas: 1",
            "- Keep Environment: false",
        ] {
            assert!(md.contains(line), "missing `{line}`:\n{md}");
        }
        let mut r = Report::new(
            "runtime-monitor-snapshot",
            "Runtime Monitor Snapshot Report",
        );
        r.param("Tail lines", 2000);
        r.param("Log source", "app logs");
        add_fields(&mut r);
        let md = r.to_markdown();
        assert!(
            md.contains("- Tail Lines: 2000") && md.contains("- Log Source: app logs"),
            "{md}"
        );
    }
}
