//! The gate's JUnit (`gate-junit.xml`): every test case, not only the
//! stages. One suite `gate` with a case per stage, then for each stage that
//! wrote a report: the test cases of its own JUnit (each Gradle test case,
//! each API script, flaky attempts included) and one case per threshold
//! (k6 limits and script thresholds).

use crate::{
    cmd::gate::{StageResult, StageRun},
    context::Ctx,
    junit::{self, Case, Outcome, Problem, Suite, Suites},
    report::Report,
};

/// The stage's own report (`.md` path in the stage table → its `.json`).
fn stage_report(ctx: &Ctx, md: &str) -> Option<Report> {
    let json = ctx.path(camino::Utf8Path::new(md)).with_extension("json");
    serde_json::from_str(&std::fs::read_to_string(json).ok()?).ok()
}

pub fn xml(ctx: &Ctx, stages: &[StageRun], report: &Report) -> String {
    let mut doc = Suites {
        name: "cargo xtask gate".into(),
        suites: vec![stage_suite(stages, report)],
    };
    for s in stages {
        let Some(r) = s.report.as_deref().and_then(|md| stage_report(ctx, md)) else {
            continue;
        };
        let own = r
            .artifacts
            .iter()
            .find(|a| a.name == "junit")
            .and_then(|a| std::fs::read_to_string(ctx.path(camino::Utf8Path::new(&a.path))).ok())
            .and_then(|x| junit::parse(&x).ok())
            .unwrap_or_default();
        if own.is_empty() {
            // A suite without a JUnit of its own (the API scripts): its script steps.
            doc.suites.extend(junit::script_suite(&r).map(|mut t| {
                t.name = format!("{}: {}", s.name, t.name);
                t
            }));
        }
        for mut suite in own {
            suite.name = format!("{}: {}", s.name, suite.name);
            doc.suites.push(suite);
        }
        if let Some(mut t) = junit::threshold_suite(&r) {
            t.name = format!("{}: thresholds", s.name);
            doc.suites.push(t);
        }
    }
    doc.to_xml()
}

/// The stages themselves, as before: CI test views show the gate at a glance.
fn stage_suite(stages: &[StageRun], report: &Report) -> Suite {
    Suite {
        name: "gate".into(),
        timestamp: Some(report.started.clone()).filter(|t| !t.is_empty()),
        cases: stages
            .iter()
            .map(|s| Case {
                outcome: match &s.result {
                    StageResult::Pass => Outcome::Passed,
                    StageResult::Planned => Outcome::Skipped(Some("dry run".into())),
                    StageResult::Fail(why) => Outcome::Failed(Problem {
                        message: why.clone(),
                        kind: "stage".into(),
                        text: s.report.clone().unwrap_or_default(),
                    }),
                    StageResult::Skipped(why) => Outcome::Skipped(Some(why.clone())),
                },
                ..Case::passed("gate", s.name, s.duration_ms as f64 / 1000.0)
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stage_is_a_case_with_escaped_reasons() {
        let stages = vec![
            StageRun {
                start_ms: None,
                log: None,
                name: "release-gate",
                result: StageResult::Pass,
                duration_ms: 1500,
                report: None,
            },
            StageRun {
                start_ms: None,
                log: None,
                name: "k6-baseline",
                result: StageResult::Fail("p95 <1 & >0 \u{1b}[31mred\u{1b}[0m".into()),
                duration_ms: 10,
                report: Some("r.md".into()),
            },
            StageRun {
                start_ms: None,
                log: None,
                name: "k6-distributed",
                result: StageResult::Skipped("k6-baseline failed".into()),
                duration_ms: 0,
                report: None,
            },
        ];
        let s = stage_suite(&stages, &Report::new("gate", "Gate"));
        let xml = Suites {
            name: "g".into(),
            suites: vec![s],
        }
        .to_xml();
        assert!(
            xml.contains("tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\""),
            "{xml}"
        );
        assert!(
            xml.contains(
                "<failure message=\"p95 &lt;1 &amp; &gt;0 red\" type=\"stage\">r.md</failure>"
            ),
            "{xml}"
        );
        assert!(
            xml.contains("<skipped message=\"k6-baseline failed\"/>"),
            "{xml}"
        );
        let mut r = quick_xml::Reader::from_str(&xml);
        while r.read_event().unwrap() != quick_xml::events::Event::Eof {}
    }

    #[test]
    fn thresholds_are_cases() {
        let mut r = Report::new("k6-baseline", "t");
        r.threshold(crate::report::Threshold::check(
            "p95 ms",
            Some(12.0),
            crate::report::Cmp::AtMost,
            10.0,
        ));
        r.threshold(crate::report::Threshold::check(
            "checks rate",
            Some(1.0),
            crate::report::Cmp::AtLeast,
            0.99,
        ));
        let s = junit::threshold_suite(&r).unwrap();
        assert_eq!((s.tests(), s.failures()), (2, 1));
        assert_eq!(
            s.cases[0].outcome,
            Outcome::Failed(Problem {
                message: "p95 ms: observed 12, limit <= 10".into(),
                kind: "threshold".into(),
                text: String::new(),
            })
        );
    }
}
