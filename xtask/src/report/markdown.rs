//! The Markdown writer: the report people and documents read. Its first bullet is
//! `- Result: PASS|FAIL`, as the legacy scripts wrote it (they grep that line).

use super::{fmt_ms, fmt_num, fmt_value, Report};

impl Report {
    pub fn to_markdown(&self) -> String {
        let mut md = String::new();
        let w = &mut md;
        use std::fmt::Write as _;
        let _ = writeln!(w, "# {}\n", self.title);
        let _ = writeln!(w, "- Result: {}", self.result.as_str());
        let _ = writeln!(w, "- Suite: {}", self.suite);
        let _ = writeln!(w, "- Run: {}", self.run_stamp);
        let _ = writeln!(w, "- Started: {}", self.started);
        let _ = writeln!(w, "- Finished: {}", self.ended);
        // Not `Duration`: the legacy k6 reports used that for k6's duration.
        let _ = writeln!(w, "- Wall time: {}", fmt_ms(self.duration_ms));
        let _ = writeln!(w, "- Commit: {}", self.git.describe());
        if let Some(e) = &self.environment {
            let _ = writeln!(w, "- Environment commit: {}", e.git.describe());
        }
        for p in &self.parameters {
            let _ = writeln!(w, "- {}: {}", p.name, md_inline(&p.value));
        }
        if !self.steps.is_empty() {
            let _ = writeln!(w, "\n## Steps\n");
            let _ = writeln!(w, "| Step | Outcome | Duration | Command |");
            let _ = writeln!(w, "|---|---|---|---|");
            for s in &self.steps {
                let _ = writeln!(
                    w,
                    "| {} | {} | {} | `{}` |",
                    cell(&s.name),
                    if s.ok {
                        s.outcome.clone()
                    } else {
                        format!("**{}**", s.outcome)
                    },
                    fmt_ms(s.duration_ms),
                    cell(&s.argv.join(" ")).replace('`', "'"),
                );
            }
        }
        if !self.metrics.is_empty() {
            let _ = writeln!(w, "\n## Metrics\n");
            let _ = writeln!(w, "| Metric | Value |");
            let _ = writeln!(w, "|---|---|");
            for m in &self.metrics {
                let _ = writeln!(w, "| {} | {} |", cell(&m.name), fmt_value(m.value, &m.unit));
            }
        }
        if !self.thresholds.is_empty() {
            let _ = writeln!(w, "\n## Thresholds\n");
            let _ = writeln!(w, "| Check | Observed | Limit | OK |");
            let _ = writeln!(w, "|---|---|---|---|");
            for t in &self.thresholds {
                let _ = writeln!(
                    w,
                    "| {} | {} | {} {} | {} |",
                    cell(&t.name),
                    fmt_value(t.observed, ""),
                    t.op,
                    fmt_num(t.limit),
                    if t.ok { "yes" } else { "**no**" }
                );
            }
        }
        for t in &self.tables {
            let _ = writeln!(w, "\n## {}\n", t.title);
            let _ = writeln!(
                w,
                "| {} |",
                t.columns
                    .iter()
                    .map(|c| cell(c))
                    .collect::<Vec<_>>()
                    .join(" | ")
            );
            let _ = writeln!(w, "|{}", "---|".repeat(t.columns.len()));
            for r in &t.rows {
                let _ = writeln!(
                    w,
                    "| {} |",
                    r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")
                );
            }
        }
        if !self.notes.is_empty() {
            let _ = writeln!(w, "\n## Notes\n");
            for n in &self.notes {
                let _ = writeln!(w, "- {}", md_inline(n));
            }
        }
        if !self.artifacts.is_empty() {
            let _ = writeln!(w, "\n## Artifacts\n");
            for a in &self.artifacts {
                let _ = writeln!(w, "- {}: `{}`", a.name, a.path);
            }
        }
        md
    }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn md_inline(s: &str) -> String {
    s.replace('\n', " ")
}
