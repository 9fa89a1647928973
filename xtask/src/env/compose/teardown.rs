//! Removing a project by its label: after `down`, and for a project a
//! dead run left behind (the reaper), which needs no compose file.

use std::time::Duration;

use anyhow::Context;

use super::{Compose, INSTALL_HINT};
use crate::runner::{ensure_success, Runner, Step};

impl Compose {
    /// Removes what carries the project's label and is still there (an
    /// interrupted `up` may have created containers after compose stopped).
    pub(super) fn sweep(&self) -> anyhow::Result<()> {
        remove_project(&self.runner, &self.docker, &self.project)
    }
}

/// Removes every container, network and volume labelled with `project`:
/// after `down`, and for a project a run that died left (the reaper), which
/// needs no compose file.
pub(in crate::env) fn remove_project(
    runner: &Runner,
    docker: &str,
    project: &str,
) -> anyhow::Result<()> {
    let label = format!("label=com.docker.compose.project={project}");
    let docker = |name: &str, args: &[&str]| {
        Step::new(name, docker)
            .args(args.iter().copied())
            .hint(INSTALL_HINT)
    };
    for (what, list, rm) in [
        (
            "containers",
            vec!["ps", "-aq", "--filter"],
            vec!["rm", "-f", "-v"],
        ),
        (
            "networks",
            vec!["network", "ls", "-q", "--filter"],
            vec!["network", "rm"],
        ),
        (
            "volumes",
            vec!["volume", "ls", "-q", "--filter"],
            vec!["volume", "rm", "-f"],
        ),
    ] {
        let mut args = list.clone();
        args.push(&label);
        let out = runner
            // Teardown: it lists even after an interrupt.
            .read(
                &docker(&format!("docker {} ls", what), &args)
                    .cleanup()
                    .read_only(),
            )
            .with_context(|| format!("cannot list the project's {what}"))?;
        let ids: Vec<&str> = out.split_whitespace().collect();
        if ids.is_empty() {
            continue;
        }
        runner.say(&format!(
            "compose: removing {} leftover {what} of {}",
            ids.len(),
            project
        ));
        let mut args = rm.clone();
        args.extend(ids);
        let step = docker(&format!("docker remove {what}"), &args)
            .cleanup()
            .deadline(Duration::from_secs(20));
        ensure_success(&runner.run(&step)?)?;
    }
    Ok(())
}
