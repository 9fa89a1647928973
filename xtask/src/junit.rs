//! The one JUnit XML model and its one writer (quick-xml), plus a reader of
//! the JUnit files Gradle writes, into the same model.
//!
//! What CI test views need: suites of test cases, each with class, name,
//! time, and a failure (message, type, text), an error or a skip. A test
//! that failed and then passed on a rerun is a passing case carrying its
//! failed attempts as `<flakyFailure>` (Maven Surefire's element, which
//! GitHub test reporters and nextest read the same way).
//!
//! Everything written is cleaned first: terminal colour codes (test output
//! is full of them) and the characters XML 1.0 forbids (NUL, most C0
//! controls, U+FFFE/U+FFFF) are removed; quick-xml escapes the rest.

use std::io::Cursor;

use anyhow::Context;
use quick_xml::{
    events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event},
    Reader, Writer, XmlVersion,
};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Suites {
    pub name: String,
    pub suites: Vec<Suite>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Suite {
    pub name: String,
    pub timestamp: Option<String>,
    pub cases: Vec<Case>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Case {
    pub classname: String,
    pub name: String,
    pub time_s: f64,
    pub outcome: Outcome,
    /// Failed attempts before the final outcome (a rerun passed: FLAKY).
    pub flaky: Vec<Problem>,
    pub system_out: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub enum Outcome {
    #[default]
    Passed,
    Failed(Problem),
    Error(Problem),
    Skipped(Option<String>),
}

/// A failure or an error: `message` and `type` attributes, text body.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Problem {
    pub message: String,
    pub kind: String,
    pub text: String,
}

impl Case {
    pub fn passed(classname: &str, name: &str, time_s: f64) -> Case {
        Case {
            classname: classname.into(),
            name: name.into(),
            time_s,
            ..Case::default()
        }
    }
    pub fn is_flaky(&self) -> bool {
        self.outcome == Outcome::Passed && !self.flaky.is_empty()
    }
    pub fn failed(&self) -> bool {
        matches!(self.outcome, Outcome::Failed(_) | Outcome::Error(_))
    }
}

impl Suite {
    pub fn tests(&self) -> usize {
        self.cases.len()
    }
    pub fn failures(&self) -> usize {
        self.cases
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::Failed(_)))
            .count()
    }
    pub fn errors(&self) -> usize {
        self.cases
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::Error(_)))
            .count()
    }
    pub fn skipped(&self) -> usize {
        self.cases
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::Skipped(_)))
            .count()
    }
    pub fn flaky(&self) -> usize {
        self.cases.iter().filter(|c| c.is_flaky()).count()
    }
    pub fn time_s(&self) -> f64 {
        self.cases.iter().map(|c| c.time_s).sum()
    }
}

/// Removes terminal escape sequences (CSI `ESC [ ... final`, OSC `ESC ] ...
/// BEL|ESC \`, and two-byte `ESC x`) and every character XML 1.0 forbids.
pub fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            match chars.next() {
                Some('[') => {
                    // Parameters and intermediates, then one final byte @..~.
                    for n in chars.by_ref() {
                        if ('@'..='~').contains(&n) {
                            break;
                        }
                    }
                }
                Some(']') => {
                    while let Some(n) = chars.next() {
                        if n == '\u{7}' {
                            break;
                        }
                        if n == '\u{1b}' && chars.peek() == Some(&'\\') {
                            chars.next();
                            break;
                        }
                    }
                }
                _ => {}
            }
            continue;
        }
        // XML 1.0 Char: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]
        let ok =
            matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{fffe}' && c != '\u{ffff}');
        if ok {
            out.push(c);
        }
    }
    out
}

fn secs(t: f64) -> String {
    format!("{:.3}", if t.is_finite() && t > 0.0 { t } else { 0.0 })
}

type W = Writer<Cursor<Vec<u8>>>;

fn start(w: &mut W, name: &str, attrs: &[(&str, String)], empty: bool) -> anyhow::Result<()> {
    let mut e = BytesStart::new(name);
    for (k, v) in attrs {
        e.push_attribute((*k, clean(v).as_str()));
    }
    w.write_event(if empty {
        Event::Empty(e)
    } else {
        Event::Start(e)
    })?;
    Ok(())
}

fn end(w: &mut W, name: &str) -> anyhow::Result<()> {
    w.write_event(Event::End(BytesEnd::new(name)))?;
    Ok(())
}

fn text(w: &mut W, s: &str) -> anyhow::Result<()> {
    w.write_event(Event::Text(BytesText::new(&clean(s))))?;
    Ok(())
}

fn problem(w: &mut W, element: &str, p: &Problem, time: Option<f64>) -> anyhow::Result<()> {
    let mut attrs = vec![("message", p.message.clone()), ("type", p.kind.clone())];
    if let Some(t) = time {
        attrs.push(("time", secs(t)));
    }
    if p.text.is_empty() {
        return start(w, element, &attrs, true);
    }
    start(w, element, &attrs, false)?;
    if element == "flakyFailure" {
        // Surefire puts a rerun's trace in <stackTrace>.
        start(w, "stackTrace", &[], false)?;
        text(w, &p.text)?;
        end(w, "stackTrace")?;
    } else {
        text(w, &p.text)?;
    }
    end(w, element)
}

impl Suites {
    pub fn to_xml(&self) -> String {
        self.write().expect("writing XML to memory does not fail")
    }

    fn write(&self) -> anyhow::Result<String> {
        let mut w = Writer::new_with_indent(Cursor::new(Vec::new()), b' ', 2);
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        let all = |f: fn(&Suite) -> usize| self.suites.iter().map(f).sum::<usize>().to_string();
        start(
            &mut w,
            "testsuites",
            &[
                ("name", self.name.clone()),
                ("tests", all(Suite::tests)),
                ("failures", all(Suite::failures)),
                ("errors", all(Suite::errors)),
                ("skipped", all(Suite::skipped)),
                ("flaky", all(Suite::flaky)),
                ("time", secs(self.suites.iter().map(Suite::time_s).sum())),
            ],
            false,
        )?;
        for s in &self.suites {
            let mut attrs = vec![
                ("name", s.name.clone()),
                ("tests", s.tests().to_string()),
                ("failures", s.failures().to_string()),
                ("errors", s.errors().to_string()),
                ("skipped", s.skipped().to_string()),
                ("flaky", s.flaky().to_string()),
                ("time", secs(s.time_s())),
            ];
            if let Some(t) = &s.timestamp {
                attrs.push(("timestamp", t.clone()));
            }
            start(&mut w, "testsuite", &attrs, s.cases.is_empty())?;
            if s.cases.is_empty() {
                continue;
            }
            for c in &s.cases {
                let attrs = [
                    ("classname", c.classname.clone()),
                    ("name", c.name.clone()),
                    ("time", secs(c.time_s)),
                ];
                let inner =
                    c.outcome != Outcome::Passed || !c.flaky.is_empty() || c.system_out.is_some();
                start(&mut w, "testcase", &attrs, !inner)?;
                if !inner {
                    continue;
                }
                match &c.outcome {
                    Outcome::Passed => {}
                    Outcome::Failed(p) => problem(&mut w, "failure", p, None)?,
                    Outcome::Error(p) => problem(&mut w, "error", p, None)?,
                    Outcome::Skipped(m) => {
                        let attrs: Vec<(&str, String)> =
                            m.iter().map(|m| ("message", m.clone())).collect();
                        start(&mut w, "skipped", &attrs, true)?;
                    }
                }
                for p in &c.flaky {
                    // Surefire: flakyFailure on a passing case, rerunFailure on a failing one.
                    let element = if c.outcome == Outcome::Passed {
                        "flakyFailure"
                    } else {
                        "rerunFailure"
                    };
                    problem(&mut w, element, p, None)?;
                }
                if let Some(out) = &c.system_out {
                    start(&mut w, "system-out", &[], false)?;
                    text(&mut w, out)?;
                    end(&mut w, "system-out")?;
                }
                end(&mut w, "testcase")?;
            }
            end(&mut w, "testsuite")?;
        }
        end(&mut w, "testsuites")?;
        let mut xml = String::from_utf8(w.into_inner().into_inner()).context("XML is UTF-8")?;
        xml.push('\n');
        Ok(xml)
    }
}

/// A suite run's own JUnit file, `junit.xml` in its run folder, listed
/// among the report's artifacts (the gate gathers them). Nothing in a dry run.
pub fn write_for_run(
    ctx: &crate::context::Ctx,
    run: &crate::report::Run,
    report: &mut crate::report::Report,
    suites: Vec<Suite>,
) -> anyhow::Result<()> {
    let path = run.dir.join("junit.xml");
    let doc = Suites {
        name: run.suite.clone(),
        suites,
    };
    // A dry run has no results to write.
    let written = ctx
        .runner
        .real_only(|| crate::report::write_atomic(&path, doc.to_xml().as_bytes()));
    if written.transpose()?.is_some() {
        report.artifact("junit", ctx.relative(&path));
    }
    Ok(())
}

/// The API scripts a report ran (its `api script NAME` steps), as a suite.
pub fn script_suite(report: &crate::report::Report) -> Option<Suite> {
    let cases: Vec<Case> = report
        .steps
        .iter()
        .filter_map(|s| Some((s, s.name.strip_prefix("api script ")?)))
        .map(|(s, name)| Case {
            outcome: if s.ok {
                Outcome::Passed
            } else {
                Outcome::Failed(Problem {
                    message: format!("API script `{name}` {}", s.outcome),
                    kind: "api-script".into(),
                    text: s.argv.join(" "),
                })
            },
            ..Case::passed("api-scripts", name, s.duration_ms as f64 / 1000.0)
        })
        .collect();
    (!cases.is_empty()).then(|| Suite {
        name: "api-scripts".into(),
        timestamp: None,
        cases,
    })
}

/// A report's thresholds (k6 limits, script thresholds), one case each.
pub fn threshold_suite(report: &crate::report::Report) -> Option<Suite> {
    let class = format!("{}.thresholds", report.suite);
    let cases: Vec<Case> = report
        .thresholds
        .iter()
        .map(|t| {
            let observed = t
                .observed
                .map(crate::report::fmt_num)
                .unwrap_or_else(|| "N/A".into());
            Case {
                outcome: if t.ok {
                    Outcome::Passed
                } else {
                    Outcome::Failed(Problem {
                        message: format!(
                            "{}: observed {observed}, limit {} {}",
                            t.name,
                            t.op,
                            crate::report::fmt_num(t.limit)
                        ),
                        kind: "threshold".into(),
                        text: String::new(),
                    })
                },
                system_out: Some(format!(
                    "observed {observed}, limit {} {}",
                    t.op,
                    crate::report::fmt_num(t.limit)
                )),
                ..Case::passed(&class, &t.name, 0.0)
            }
        })
        .collect();
    (!cases.is_empty()).then(|| Suite {
        name: format!("{} thresholds", report.suite),
        timestamp: None,
        cases,
    })
}

/// What a `<testsuite>` says of itself in its attributes; a writer may
/// leave any out (then its cases are what counts).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Declared {
    pub tests: Option<u32>,
    pub failures: Option<u32>,
    pub errors: Option<u32>,
    pub skipped: Option<u32>,
    pub time_s: Option<f64>,
}

/// Reads a JUnit document (a `<testsuite>` or `<testsuites>`, as Gradle,
/// Surefire and we write them) into suites of cases.
pub fn parse(xml: &str) -> anyhow::Result<Vec<Suite>> {
    Ok(parse_declared(xml)?.into_iter().map(|(s, _)| s).collect())
}

/// `parse`, with each suite's own attributes (Gradle's per-class counts).
/// A count that is not a number makes the document unreadable.
pub fn parse_declared(xml: &str) -> anyhow::Result<Vec<(Suite, Declared)>> {
    let mut reader = Reader::from_str(xml);
    let mut suites: Vec<(Suite, Declared)> = vec![];
    let mut suite: Option<(Suite, Declared)> = None;
    let mut case: Option<Case> = None;
    // The element whose text is being collected, and its problem.
    let mut open: Option<(String, Problem)> = None;
    let mut buf = String::new();
    loop {
        let pos = reader.buffer_position();
        let event = reader
            .read_event()
            .with_context(|| format!("malformed XML near byte {pos}"))?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                let name = e.local_name().as_ref().to_string();
                let attr = |k: &str| -> String {
                    e.try_get_attribute(k)
                        .ok()
                        .flatten()
                        .and_then(|a| {
                            a.normalized_value(XmlVersion::Implicit1_0)
                                .ok()
                                .map(|v| v.into_owned())
                        })
                        .unwrap_or_default()
                };
                match name.as_str() {
                    "testsuite" => {
                        let count = |k: &str| -> anyhow::Result<Option<u32>> {
                            let v = attr(k);
                            let v = v.trim();
                            (!v.is_empty())
                                .then(|| {
                                    v.parse::<u32>().with_context(|| {
                                        format!("testsuite {k}=\"{v}\" is not a count")
                                    })
                                })
                                .transpose()
                        };
                        let declared = Declared {
                            tests: count("tests")?,
                            failures: count("failures")?,
                            errors: count("errors")?,
                            skipped: count("skipped")?,
                            time_s: attr("time").trim().parse().ok(),
                        };
                        let s = (
                            Suite {
                                name: attr("name"),
                                timestamp: Some(attr("timestamp")).filter(|t| !t.is_empty()),
                                cases: vec![],
                            },
                            declared,
                        );
                        if empty {
                            suites.push(s);
                        } else {
                            suite = Some(s);
                        }
                    }
                    "testcase" => {
                        let c = Case {
                            classname: attr("classname"),
                            name: attr("name"),
                            time_s: attr("time").parse().unwrap_or(0.0),
                            ..Case::default()
                        };
                        if empty {
                            if let Some((s, _)) = &mut suite {
                                s.cases.push(c);
                            }
                        } else {
                            case = Some(c);
                        }
                    }
                    "failure" | "error" | "flakyFailure" | "flakyError" | "rerunFailure"
                    | "rerunError"
                        if case.is_some() =>
                    {
                        let p = Problem {
                            message: attr("message"),
                            kind: attr("type"),
                            text: String::new(),
                        };
                        if empty {
                            attach(case.as_mut().unwrap(), &name, p);
                        } else {
                            open = Some((name, p));
                            buf.clear();
                        }
                    }
                    "skipped" if case.is_some() => {
                        let m = attr("message");
                        case.as_mut().unwrap().outcome =
                            Outcome::Skipped(Some(m).filter(|m| !m.is_empty()));
                    }
                    "system-out" if case.is_some() && !empty => {
                        open = Some((name, Problem::default()));
                        buf.clear();
                    }
                    _ => {}
                }
            }
            Event::Text(t) if open.is_some() => buf.push_str(&t.xml10_content()),
            Event::CData(t) if open.is_some() => buf.push_str(&t.xml10_content()),
            Event::GeneralRef(r) if open.is_some() => {
                if let Ok(Some(ch)) = r.resolve_char_ref() {
                    buf.push(ch);
                } else {
                    let name = r.xml10_content();
                    buf.push_str(quick_xml::escape::resolve_predefined_entity(&name).unwrap_or(""));
                }
            }
            Event::End(ref e) => {
                let name = e.local_name().as_ref().to_string();
                match name.as_str() {
                    "testsuite" => {
                        if let Some(s) = suite.take() {
                            suites.push(s);
                        }
                    }
                    "testcase" => {
                        if let (Some(c), Some((s, _))) = (case.take(), suite.as_mut()) {
                            s.cases.push(c);
                        }
                    }
                    n if open.as_ref().is_some_and(|(o, _)| o == n) => {
                        let (el, mut p) = open.take().unwrap();
                        if el == "system-out" {
                            if let Some(c) = &mut case {
                                c.system_out = Some(std::mem::take(&mut buf));
                            }
                        } else if let Some(c) = &mut case {
                            p.text = std::mem::take(&mut buf).trim().to_string();
                            attach(c, &el, p);
                        }
                    }
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    anyhow::ensure!(
        suite.is_none() && case.is_none(),
        "the XML ends early (cut short?)"
    );
    Ok(suites)
}

fn attach(c: &mut Case, element: &str, p: Problem) {
    match element {
        "failure" => c.outcome = Outcome::Failed(p),
        "error" => c.outcome = Outcome::Error(p),
        _ => c.flaky.push(p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Suites {
        let mut flaky = Case::passed("demo.FlakyTest", "passesOnRerun", 0.02);
        flaky.flaky.push(Problem {
            message: "expected:<1> but was:<2>".into(),
            kind: "java.lang.AssertionError".into(),
            text: "java.lang.AssertionError: expected:<1> but was:<2>\n\tat demo.FlakyTest".into(),
        });
        Suites {
            name: "cargo xtask gate".into(),
            suites: vec![Suite {
                name: "release-gate".into(),
                timestamp: Some("2026-12-01T00:00:00Z".into()),
                cases: vec![
                    Case::passed("demo.QueueTest", "admits", 0.5),
                    Case {
                        outcome: Outcome::Failed(Problem {
                            message: "\u{1b}[31mred\u{1b}[0m <&> \"q\" \u{0}nul\u{7}".into(),
                            kind: "java.lang.AssertionError".into(),
                            text: "trace \u{1b}]0;title\u{7}line\u{8}\u{ffff}".into(),
                        }),
                        ..Case::passed("demo.QueueTest", "refuses", 0.25)
                    },
                    Case {
                        outcome: Outcome::Skipped(Some("ignored".into())),
                        ..Case::passed("demo.QueueTest", "later", 0.0)
                    },
                    flaky,
                ],
            }],
        }
    }

    #[test]
    fn colour_codes_and_forbidden_characters_are_removed() {
        assert_eq!(clean("\u{1b}[1;31mFAIL\u{1b}[0m ok"), "FAIL ok");
        assert_eq!(clean("a\u{0}b\u{b}c\u{1f}d\te\nf\r"), "abcd\te\nf\r");
        assert_eq!(
            clean("x\u{1b}]8;;http://x\u{1b}\\link\u{1b}]8;;\u{7}y"),
            "xlinky"
        );
        assert_eq!(clean("\u{fffe}\u{ffff}é😀"), "é😀");
    }

    #[test]
    fn written_xml_counts_cases_and_reads_back_the_same() {
        let s = sample();
        let xml = s.to_xml();
        assert!(
            xml.contains(r#"<testsuite name="release-gate" tests="4" failures="1" errors="0" skipped="1" flaky="1" time="0.770" timestamp="2026-12-01T00:00:00Z">"#),
            "{xml}"
        );
        assert!(
            xml.contains(r#"message="red &lt;&amp;&gt; &quot;q&quot; nul""#),
            "{xml}"
        );
        assert!(xml.contains("<flakyFailure message=\"expected:&lt;1&gt; but was:&lt;2&gt;\" type=\"java.lang.AssertionError\">"), "{xml}");
        assert!(!xml.contains('\u{1b}') && !xml.contains('\u{0}') && !xml.contains('\u{ffff}'));
        let back = parse(&xml).unwrap();
        assert_eq!(back.len(), 1);
        let cases = &back[0].cases;
        assert_eq!(cases.len(), 4);
        assert_eq!(
            cases[1].outcome,
            Outcome::Failed(Problem {
                message: "red <&> \"q\" nul".into(),
                kind: "java.lang.AssertionError".into(),
                text: "trace line".into(),
            })
        );
        assert!(cases[3].is_flaky());
        assert_eq!(cases[3].flaky[0].message, "expected:<1> but was:<2>");
        assert_eq!(cases[2].outcome, Outcome::Skipped(Some("ignored".into())));
    }

    #[test]
    fn gradles_files_are_read_case_by_case() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/junit");
        let mut seen = 0;
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "xml") {
                let text = std::fs::read_to_string(&p).unwrap();
                if let Ok(suites) = parse(&text) {
                    seen += suites.iter().map(|s| s.cases.len()).sum::<usize>();
                }
            }
        }
        assert!(seen > 0, "the fixtures hold test cases");
    }
}
