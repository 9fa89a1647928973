//! `cargo xtask api-scripts`: the service's own API scripts (`v*.sh`, curl
//! against a live API) after a health probe; replaces the bash harness
//! scripts/api/run-api-script-tests.sh with the same rules:
//!
//! - selection: every `v*.sh` and `[a-z][0-9]*.sh` in `[api_scripts].dir`,
//!   sorted; or the scripts named as arguments, kept only when they lie under
//!   that folder and are named `v<digit>...sh` or `<letter><digit>...sh`;
//!   "no script selected" exits 0 with no report;
//! - health: `API_SCRIPT_HEALTH_URL`, else `TICKETRUSH_HEALTH_URL`, else
//!   `[api_scripts].health_url`, any 2xx within 3 s, else a FAIL report;
//! - push mode: `APP_PUSH_MODE`, else `STEP7_PUSH_MODE`, else `websocket`;
//!   a script of `[api_scripts].push_mode_only` runs only in its mode.
//!
//! The scripts get the caller's environment as it is (its `API_HOST`
//! included). Each has its own log in the run folder; the report and a JUnit
//! file (`api-scripts-junit.xml`) give every script's result and duration.

use anyhow::{bail, Context};
use camino::{Utf8Path, Utf8PathBuf};

use crate::{
    config::PushMode,
    context::{Ctx, Exit},
    flags, probe,
    report::{self, Report, RunOptions},
    runner::Step,
    units::{Duration, HttpUrl},
};

pub const SUITE: &str = "api-scripts";
pub const TITLE: &str = "API Script Test Report";

/// The legacy harness's probe timeout.
const HEALTH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// Everything the suite will do, resolved before anything runs.
#[derive(Debug)]
pub struct Plan {
    pub dir: Utf8PathBuf,
    pub health_url: HttpUrl,
    pub push_mode: PushMode,
    pub timeout: Duration,
    pub scripts: Vec<Script>,
}

#[derive(Debug, Clone)]
pub struct Script {
    pub name: String,
    pub path: Utf8PathBuf,
    /// Why it is not run (push mode).
    pub skip: Option<String>,
}

/// One script's outcome, for the report and the JUnit file.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub name: String,
    /// PASS, FAIL or SKIP.
    pub result: &'static str,
    pub exit_code: Option<i32>,
    pub duration_ms: u64,
    pub log: Option<Utf8PathBuf>,
    pub detail: String,
}

impl flags::ApiScripts {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        let plan = Plan::resolve(ctx, &self, &|k| std::env::var(k).ok())?;
        match plan.run(ctx)? {
            None => Ok(Exit::OK),
            Some((_, exit)) => Ok(exit),
        }
    }
}

impl Plan {
    /// Flags, then the legacy variables (`var`), then `[api_scripts]`.
    pub fn resolve(
        ctx: &Ctx,
        f: &flags::ApiScripts,
        var: &dyn Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Plan> {
        let cfg = &ctx.config.api_scripts;
        let var = |k: &str| var(k).filter(|v| !v.trim().is_empty());
        let health_url = match (
            &f.health_url,
            var("API_SCRIPT_HEALTH_URL"),
            var("TICKETRUSH_HEALTH_URL"),
        ) {
            (Some(u), _, _) => u.clone(),
            (None, Some(v), _) => parse_var("API_SCRIPT_HEALTH_URL", &v)?,
            (None, None, Some(v)) => parse_var("TICKETRUSH_HEALTH_URL", &v)?,
            (None, None, None) => cfg.health_url.clone(),
        };
        let push_mode = match (f.push_mode, var("APP_PUSH_MODE"), var("STEP7_PUSH_MODE")) {
            (Some(m), _, _) => m,
            (None, Some(v), _) => push_mode("APP_PUSH_MODE", &v)?,
            (None, None, Some(v)) => push_mode("STEP7_PUSH_MODE", &v)?,
            (None, None, None) => PushMode::Websocket,
        };
        let dir = ctx.path(&cfg.dir);
        let cwd = std::env::current_dir()
            .ok()
            .and_then(|d| Utf8PathBuf::from_path_buf(d).ok())
            .unwrap_or_else(|| ctx.root.clone());
        let paths = if f.scripts.is_empty() {
            if !dir.is_dir() {
                bail!(
                    "the API scripts folder {} does not exist: set [api_scripts].dir in {}",
                    ctx.relative(&dir),
                    ctx.relative(&ctx.config_path)
                );
            }
            all_in(&dir)?
        } else {
            named(&dir, &cwd, &f.scripts)
        };
        let scripts = paths
            .into_iter()
            .map(|path| {
                let name = path.file_name().unwrap_or_default().to_string();
                let skip = cfg
                    .push_mode_only
                    .get(&name)
                    .filter(|m| **m != push_mode)
                    .map(|m| format!("requires APP_PUSH_MODE={}", m.as_str()));
                Script { name, path, skip }
            })
            .collect();
        Ok(Plan {
            dir,
            health_url,
            push_mode,
            timeout: f.timeout.unwrap_or(cfg.timeout).get(),
            scripts,
        })
    }

    /// The suite run; `None` when no script was selected (no report, as the
    /// legacy harness wrote none).
    pub fn run(&self, ctx: &Ctx) -> anyhow::Result<Option<(Report, Exit)>> {
        if self.scripts.is_empty() {
            eprintln!("{SUITE}: no script selected, skipping");
            return Ok(None);
        }
        let mut outcomes = vec![];
        let (report, exit) =
            ctx.run_suite(SUITE, TITLE, RunOptions::default(), |report, run| {
                report.param("Health URL", &self.health_url);
                report.param("Push Mode", self.push_mode.as_str());
                report.param("Scripts folder", ctx.relative(&self.dir));
                if !self.healthy(ctx, report)? {
                    return Ok(());
                }
                for script in &self.scripts {
                    let o = self.run_one(ctx, script, run)?;
                    if o.result == "FAIL" {
                        report.fail(format!("`{}` failed: {}", o.name, o.detail));
                    }
                    outcomes.push(o);
                    crate::runner::check_interrupt()?;
                }
                let count = |r| outcomes.iter().filter(|o| o.result == r).count();
                report.param("Passed", count("PASS"));
                report.param("Failed", count("FAIL"));
                report.param("Skipped", count("SKIP"));
                let rows = outcomes
                    .iter()
                    .map(|o| {
                        vec![
                            o.name.clone(),
                            o.result.to_string(),
                            o.exit_code.map_or("-".into(), |c| c.to_string()),
                            report::fmt_ms(o.duration_ms),
                            o.log.as_deref().map_or("-".into(), |l| ctx.relative(l)),
                        ]
                    })
                    .collect();
                report.table(
                    "Execution Matrix",
                    &["Script", "Result", "Exit Code", "Duration", "Log"],
                    rows,
                );
                let junit = run.dir.join(JUNIT);
                let xml = junit_xml(&outcomes, &report.started);
                let written = ctx
                    .runner
                    .real_only(|| report::write_atomic(&junit, xml.as_bytes()));
                if written.transpose()?.is_some() {
                    report.artifact("JUnit", ctx.relative(&junit));
                }
                Ok(())
            })?;
        // A stable copy beside the latest report, for CI test views.
        let copy = || -> anyhow::Result<()> {
            let from = ctx
                .layout
                .suite_dir(SUITE)
                .join(&report.run_stamp)
                .join(JUNIT);
            if let Ok(xml) = std::fs::read(&from) {
                report::write_atomic(&ctx.layout.latest_dir(SUITE).join(JUNIT), &xml)?;
            }
            Ok(())
        };
        ctx.runner.real_only(copy).transpose()?;
        Ok(Some((report, exit)))
    }

    /// The health probe; a dry run only says what it would probe.
    fn healthy(&self, ctx: &Ctx, report: &mut Report) -> anyhow::Result<bool> {
        let what = format!("probe GET {} (any 2xx within 3 s)", self.health_url);
        let probed = ctx
            .runner
            .effect(what, || Ok(Some(self.probe(ctx, report))))?;
        Ok(probed.unwrap_or(true))
    }

    fn probe(&self, ctx: &Ctx, report: &mut Report) -> bool {
        let (code, why) = match probe::http_get(&self.health_url, HEALTH_TIMEOUT) {
            Ok(r) if r.is_success() => {
                ctx.runner.say(&format!(
                    "API health {}: HTTP {} in {} ms",
                    self.health_url,
                    r.status,
                    r.latency.as_millis()
                ));
                return true;
            }
            Ok(r) => (r.status.to_string(), format!("HTTP {}", r.status)),
            Err(e) => ("N/A".to_string(), format!("{e:#}")),
        };
        report.param("Reason", "Backend health check failed");
        report.param("Health Status Code", code);
        report.fail(format!(
            "backend health check failed: {} ({why}); start the API first (or set API_SCRIPT_HEALTH_URL)",
            self.health_url
        ));
        false
    }

    fn run_one(&self, ctx: &Ctx, script: &Script, run: &report::Run) -> anyhow::Result<Outcome> {
        let mut o = Outcome {
            name: script.name.clone(),
            result: "SKIP",
            exit_code: None,
            duration_ms: 0,
            log: None,
            detail: String::new(),
        };
        if let Some(why) = &script.skip {
            o.detail = format!("{why} (current push mode: {})", self.push_mode.as_str());
            // Said in a dry run's plan; a real run reports it.
            let what = format!("skip {}: {}", script.name, o.detail);
            ctx.runner.effect(what, || Ok(()))?;
            return Ok(o);
        }
        // The scripts are the service's: run from the service folder, with
        // the caller's environment untouched.
        let step = Step::new(format!("api script {}", script.name), "bash")
            .arg(script.path.as_str())
            .cwd(ctx.service_dir())
            .deadline(self.timeout.std());
        let log = run
            .dir
            .join(format!("{}.log", script.name.trim_end_matches(".sh")));
        ctx.runner.set_log(&log)?;
        // An interrupted script is its row's FAIL; the suite loop stops next.
        let rec = ctx.runner.run_even_if_interrupted(&step);
        ctx.runner.set_log(&run.log)?;
        let rec = rec.with_context(|| format!("cannot run API script {}", script.name))?;
        o.duration_ms = rec.duration_ms;
        o.exit_code = Some(rec.outcome.exit_code());
        o.log = ctx.runner.real_only(|| log);
        // A dry run's step is `ok`: planned, so PASS in the plan.
        o.result = if rec.ok() { "PASS" } else { "FAIL" };
        if o.result == "FAIL" {
            o.detail = format!(
                "{}; log {}",
                rec.outcome.describe(),
                o.log.as_deref().map_or("-".into(), |l| ctx.relative(l))
            );
        }
        Ok(o)
    }
}

const JUNIT: &str = "api-scripts-junit.xml";

fn parse_var(name: &str, v: &str) -> anyhow::Result<HttpUrl> {
    v.parse().map_err(|e| anyhow::anyhow!("{name}={v}: {e}"))
}

fn push_mode(name: &str, v: &str) -> anyhow::Result<PushMode> {
    match v.trim().to_ascii_lowercase().as_str() {
        "sse" => Ok(PushMode::Sse),
        "websocket" => Ok(PushMode::Websocket),
        _ => bail!("{name}={v}: the push mode is `sse` or `websocket`"),
    }
}

/// The harness's own pattern: `find -name 'v*.sh' -o -name '[a-z][0-9]*.sh'`.
fn selected_by_default(name: &str) -> bool {
    let b = name.as_bytes();
    name.ends_with(".sh")
        && (name.starts_with('v')
            || (b.len() > 1 && b[0].is_ascii_lowercase() && b[1].is_ascii_digit()))
}

/// A named script's pattern: `^(v[0-9].*|[a-z][0-9].*)\.sh$`.
fn selectable_by_name(name: &str) -> bool {
    let b = name.as_bytes();
    name.len() > 5 && name.ends_with(".sh") && b[0].is_ascii_lowercase() && b[1].is_ascii_digit()
}

/// Every default-selected script directly in `dir`, sorted.
fn all_in(dir: &Utf8Path) -> anyhow::Result<Vec<Utf8PathBuf>> {
    let mut found = vec![];
    for e in dir
        .read_dir_utf8()
        .with_context(|| format!("cannot list {dir}"))?
    {
        let e = e.with_context(|| format!("cannot list {dir}"))?;
        if e.file_type().is_ok_and(|t| t.is_file()) && selected_by_default(e.file_name()) {
            found.push(e.path().to_path_buf());
        }
    }
    found.sort();
    Ok(found)
}

/// The named scripts that exist, lie under `dir` and match the pattern;
/// the others are dropped, as the legacy harness dropped them.
fn named(dir: &Utf8Path, cwd: &Utf8Path, names: &[String]) -> Vec<Utf8PathBuf> {
    let canon = |p: &Utf8Path| p.canonicalize_utf8().ok();
    let Some(dir) = canon(dir) else {
        return vec![];
    };
    names
        .iter()
        .filter_map(|n| {
            let n = Utf8Path::new(n);
            let path = if n.is_absolute() {
                n.to_path_buf()
            } else if dir.join(n).is_file() {
                dir.join(n)
            } else {
                cwd.join(n)
            };
            let path = canon(&path).filter(|p| p.is_file())?;
            (path.starts_with(&dir) && selectable_by_name(path.file_name()?)).then_some(path)
        })
        .collect()
}

/// One test case per script (suite `api-scripts`).
pub fn junit_xml(outcomes: &[Outcome], started: &str) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let count = |r| outcomes.iter().filter(|o| o.result == r).count();
    let total: u64 = outcomes.iter().map(|o| o.duration_ms).sum();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x += &format!(
        "<testsuite name=\"api-scripts\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{:.3}\" timestamp=\"{}\">\n",
        outcomes.len(),
        count("FAIL"),
        count("SKIP"),
        total as f64 / 1000.0,
        esc(started)
    );
    for o in outcomes {
        x += &format!(
            "  <testcase classname=\"api-scripts\" name=\"{}\" time=\"{:.3}\"",
            esc(&o.name),
            o.duration_ms as f64 / 1000.0
        );
        let tail = o
            .log
            .as_deref()
            .and_then(|l| std::fs::read_to_string(l).ok())
            .map(|t| {
                let lines: Vec<&str> = t.lines().collect();
                lines[lines.len().saturating_sub(30)..].join("\n")
            })
            .unwrap_or_default();
        match o.result {
            "PASS" => x += "/>\n",
            "SKIP" => x += &format!(">\n    <skipped message=\"{}\"/>\n  </testcase>\n", esc(&o.detail)),
            _ => {
                x += &format!(
                    ">\n    <failure message=\"{}\"/>\n    <system-out>{}</system-out>\n  </testcase>\n",
                    esc(&o.detail),
                    esc(&crate::redact::text(&tail))
                )
            }
        }
    }
    x += "</testsuite>\n";
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_selection_is_the_harness_find_pattern() {
        for yes in [
            "v1-optimistic.sh",
            "v13-websocket-switching.sh",
            "a2-auth-track-session-guard.sh",
            "verify.sh",
        ] {
            assert!(selected_by_default(yes), "{yes}");
        }
        for no in [
            "common.sh",
            "run-api-script-tests.sh",
            "setup-test-data.sh",
            "v1.txt",
            "A2-x.sh",
        ] {
            assert!(!selected_by_default(no), "{no}");
        }
    }

    #[test]
    fn a_named_script_must_be_a_versioned_one() {
        assert!(selectable_by_name("v1-optimistic.sh"));
        assert!(selectable_by_name("a2-auth.sh"));
        assert!(!selectable_by_name("verify.sh"), "v without a digit");
        assert!(!selectable_by_name("common.sh"));
    }

    #[test]
    fn named_scripts_are_kept_only_under_the_folder_and_matching() {
        let d = Utf8PathBuf::from_path_buf(std::env::temp_dir())
            .unwrap()
            .join(format!("xtask-api-named-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("scripts/api")).unwrap();
        for f in [
            "scripts/api/v1-a.sh",
            "scripts/api/common.sh",
            "v2-outside.sh",
        ] {
            std::fs::write(d.join(f), "true\n").unwrap();
        }
        let got = named(
            &d.join("scripts/api"),
            &d,
            &[
                "v1-a.sh".into(),
                "common.sh".into(),
                "v2-outside.sh".into(),
                "scripts/api/v1-a.sh".into(),
                "missing-v9.sh".into(),
            ],
        );
        let names: Vec<_> = got.iter().map(|p| p.file_name().unwrap()).collect();
        assert_eq!(names, ["v1-a.sh", "v1-a.sh"]);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn junit_has_one_case_per_script() {
        let o = |name: &str, result, detail: &str| Outcome {
            name: name.into(),
            result,
            exit_code: None,
            duration_ms: 1500,
            log: None,
            detail: detail.into(),
        };
        let xml = junit_xml(
            &[
                o("v1-a.sh", "PASS", ""),
                o("v2-b.sh", "FAIL", "exit 1 <x>"),
                o("v7-sse.sh", "SKIP", "requires APP_PUSH_MODE=sse"),
            ],
            "2026-12-01T00:00:00Z",
        );
        assert!(
            xml.contains("tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\" time=\"4.500\""),
            "{xml}"
        );
        assert!(
            xml.contains("<testcase classname=\"api-scripts\" name=\"v1-a.sh\" time=\"1.500\"/>"),
            "{xml}"
        );
        assert!(
            xml.contains("<failure message=\"exit 1 &lt;x&gt;\"/>"),
            "{xml}"
        );
        assert!(
            xml.contains("<skipped message=\"requires APP_PUSH_MODE=sse\"/>"),
            "{xml}"
        );
    }
}
