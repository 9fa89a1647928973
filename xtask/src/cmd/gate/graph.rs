//! The gate's stages and the graph they form, declared once.
//!
//! ```text
//! release-gate
//! test-classes ───────────┐
//! env-up ──┬─ integration ─┴─┬─ k6-baseline ─ ops-monitor ─ scale ─ k6-distributed ─ env-down
//!          └─ ops-health ────┘
//! ```
//!
//! - release-gate needs nothing an environment makes: it runs beside env-up.
//! - test-classes compiles the integration classes while the environment
//!   starts; it runs only when release-gate (whose Gradle run compiles them
//!   too) is not selected.
//! - ops-health only probes: it runs beside integration.
//! - The k6 runs load the service and measure it: they wait for everything
//!   else that loads it (integration, the other k6 run) and nothing that
//!   loads it starts while they run (`Stage::loads`), so their numbers stay clean.
//! - ops-monitor counts what the baseline's load wrote to the logs: after it.
//! - scale changes the environment under everyone: it waits for every stage
//!   that uses it; env-down waits for all of them and always runs.
//!
//! `Stage::ALL` is today's order (one by one, `--jobs 1`); it is a
//! topological order of the graph (a unit test checks that).

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    ReleaseGate,
    TestClasses,
    EnvUp,
    Integration,
    OpsHealth,
    K6Baseline,
    OpsMonitor,
    Scale,
    K6Distributed,
    EnvDown,
}

use Stage::*;

impl Stage {
    /// Every stage, in the order they run one by one.
    pub const ALL: [Stage; 10] = [
        ReleaseGate,
        TestClasses,
        EnvUp,
        Integration,
        OpsHealth,
        K6Baseline,
        OpsMonitor,
        Scale,
        K6Distributed,
        EnvDown,
    ];

    /// What `--only`/`--skip` choose from; the others follow them.
    pub const SELECTABLE: [Stage; 6] = [
        ReleaseGate,
        Integration,
        OpsHealth,
        K6Baseline,
        OpsMonitor,
        K6Distributed,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ReleaseGate => "release-gate",
            TestClasses => "test-classes",
            EnvUp => "env-up",
            Integration => "integration",
            OpsHealth => "ops-health",
            K6Baseline => "k6-baseline",
            OpsMonitor => "ops-monitor",
            Scale => "scale",
            K6Distributed => "k6-distributed",
            EnvDown => "env-down",
        }
    }

    pub fn from_name(s: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|st| st.name() == s)
    }

    /// The graph: what must have ended before this stage starts. A stage
    /// that is not run (not selected, skipped) counts as ended.
    pub fn needs(self) -> &'static [Stage] {
        match self {
            ReleaseGate | TestClasses | EnvUp => &[],
            Integration => &[EnvUp, TestClasses],
            OpsHealth => &[EnvUp],
            K6Baseline => &[EnvUp, Integration, OpsHealth],
            OpsMonitor => &[K6Baseline],
            Scale => &[EnvUp, Integration, OpsHealth, K6Baseline, OpsMonitor],
            K6Distributed => &[Scale],
            EnvDown => &[
                EnvUp,
                Integration,
                OpsHealth,
                K6Baseline,
                OpsMonitor,
                Scale,
                K6Distributed,
            ],
        }
    }

    /// Puts load on the service: never two of these at once.
    pub fn loads(self) -> bool {
        matches!(self, Integration | K6Baseline | K6Distributed)
    }

    /// Runs against the environment (skipped when env-up failed).
    pub fn uses_env(self) -> bool {
        matches!(
            self,
            Integration | OpsHealth | K6Baseline | OpsMonitor | Scale | K6Distributed
        )
    }

    /// Whether the stage runs for this selection of selectable stages.
    /// None: it runs; Some(why): skipped, with the reason.
    pub fn needed(self, selected: &[Stage], jobs: usize) -> Option<&'static str> {
        let any_env = selected.iter().any(|s| s.uses_env());
        let run = match self {
            EnvUp | EnvDown => any_env,
            Scale => selected.contains(&K6Distributed),
            TestClasses => {
                if !selected.contains(&Integration) {
                    false
                } else if selected.contains(&ReleaseGate) {
                    return Some("release-gate compiles the integration classes");
                } else if jobs < 2 {
                    return Some("one by one: integration compiles its own classes");
                } else {
                    true
                }
            }
            s => selected.contains(&s),
        };
        (!run).then_some("not selected")
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_by_one_order_respects_the_graph() {
        for (i, s) in Stage::ALL.iter().enumerate() {
            for n in s.needs() {
                let j = Stage::ALL.iter().position(|x| x == n).unwrap();
                assert!(j < i, "{s} needs {n}, which comes after it");
            }
        }
    }

    #[test]
    fn release_gate_and_env_up_need_nothing_and_the_k6_runs_wait_for_all_load() {
        assert!(ReleaseGate.needs().is_empty() && EnvUp.needs().is_empty());
        for k6 in [K6Baseline, K6Distributed] {
            for other in Stage::ALL.iter().filter(|s| s.loads() && **s != k6) {
                let before = |a: Stage, b: Stage| depends(b, a);
                assert!(
                    before(*other, k6) || before(k6, *other),
                    "{k6} and {other} could run at once"
                );
            }
        }
    }

    /// `a` (transitively) needs `b`.
    fn depends(a: Stage, b: Stage) -> bool {
        a.needs().iter().any(|&n| n == b || depends(n, b))
    }

    #[test]
    fn names_round_trip() {
        for s in Stage::ALL {
            assert_eq!(Stage::from_name(s.name()), Some(s));
        }
    }

    #[test]
    fn environment_stages_follow_the_selection() {
        assert_eq!(EnvUp.needed(&[ReleaseGate], 4), Some("not selected"));
        assert_eq!(EnvUp.needed(&[OpsHealth], 4), None);
        assert_eq!(Scale.needed(&[K6Baseline], 4), Some("not selected"));
        assert_eq!(TestClasses.needed(&[Integration], 4), None);
        assert!(TestClasses.needed(&[Integration], 1).is_some());
        assert!(TestClasses
            .needed(&[Integration, ReleaseGate], 4)
            .unwrap()
            .contains("release-gate"));
    }
}
