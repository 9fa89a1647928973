//! The compose program and its command lines: which compose the legacy order
//! picks (`detect`), `<compose> -f FILE -p PROJECT ...` steps, the `up`
//! arguments, and the variables handed to compose (offline images).

use super::Compose;
use crate::units::Replicas;
use crate::{
    images,
    runner::{MissingTool, Runner, Step},
};

/// The programs to look for; tests put stand-ins here.
#[derive(Clone, Debug)]
pub(in crate::env) struct Programs {
    pub docker: String,
    pub docker_compose: String,
}

impl Default for Programs {
    fn default() -> Self {
        Programs {
            docker: "docker".into(),
            docker_compose: "docker-compose".into(),
        }
    }
}

impl Compose {
    /// `<compose> -f FILE -p PROJECT <args>`, run beside the compose file.
    pub(super) fn step(&self, name: &str, args: &[String]) -> Step {
        let file = &self.spec.compose_file;
        let mut step = Step::new(format!("compose {name}"), &self.command[0])
            .args(self.command[1..].iter().cloned())
            .args(["-f", file.as_str(), "-p", &self.project])
            .args(args.iter().cloned())
            .envs(self.env())
            .hint(INSTALL_HINT);
        if let Some(dir) = file.parent().filter(|d| !d.as_str().is_empty()) {
            step = step.cwd(dir);
        }
        step
    }

    pub(super) fn up_args(&self, replicas: Replicas, recreate: bool) -> Vec<String> {
        let mut a = vec!["up".to_string(), "-d".into()];
        if !recreate {
            a.push("--no-recreate".into());
        } else if self.cfg.build {
            a.push("--build".into());
        }
        if recreate && self.command.len() > 1 && self.healthchecks() {
            // v2 waits for the healthchecks itself (v1 has no --wait: see `ready`).
            a.push("--wait".into());
            a.push("--wait-timeout".into());
            a.push(self.spec.ready_timeout.std().as_secs().max(1).to_string());
        }
        a.push("--scale".into());
        a.push(format!("{}={replicas}", self.cfg.app_service));
        a.extend(self.cfg.services.iter().cloned());
        a
    }

    pub(super) fn docker(&self, name: &str, args: &[&str]) -> Step {
        Step::new(name, &self.docker)
            .args(args.iter().copied())
            .hint(INSTALL_HINT)
    }

    /// Our variables for the offline image, unless the user chose images.
    pub(super) fn offline_images(&self) -> Vec<(String, String)> {
        let unset: Vec<(String, String)> = images::compose_env(images::OFFLINE_IMAGE)
            .into_iter()
            .filter(|(k, _)| std::env::var_os(k).is_none() && !self.cfg.env.contains_key(k))
            .collect();
        if unset.is_empty() {
            return vec![];
        }
        // Not read-only here: a dry run prints the question instead of
        // asking it, answers nothing, and plans with the registry images.
        let mut check = images::inspect(&self.docker, images::OFFLINE_IMAGE);
        check.read_only = false;
        if !matches!(self.runner.read(&check), Ok(id) if !id.is_empty()) {
            return vec![];
        }
        let keys: Vec<&str> = unset.iter().map(|(k, _)| k.as_str()).collect();
        self.runner.say(&format!(
            "compose: the offline image {} stands in for {} (no registry needed)",
            images::OFFLINE_IMAGE,
            keys.join(", ")
        ));
        unset
    }
}

/// How to get compose, in every error that misses it.
pub(super) const INSTALL_HINT: &str = "install Docker Engine and the Compose plugin (apt-get install docker-compose-plugin), or docker-compose v1 (apt-get install docker-compose)";

/// The legacy order: `docker-compose` (v1) when on PATH, else `docker
/// compose` (v2) when `docker compose version` answers, else a `MissingTool`
/// (exit 127). A dry run asks the same, so it names the tool the real run
/// uses (the one question it asks, and only without v1 on PATH).
pub(in crate::env) fn detect(runner: &Runner, p: &Programs) -> anyhow::Result<Vec<String>> {
    if crate::runner::resolve_program(&p.docker_compose, None, "").is_ok() {
        return Ok(vec![p.docker_compose.clone()]);
    }
    let version = Step::new("docker compose version", &p.docker)
        .args(["compose", "version"])
        .read_only();
    match runner.read(&version) {
        Ok(_) => return Ok(vec![p.docker.clone(), "compose".into()]),
        // Asked to stop while docker thinks: stop there.
        Err(e) if e.is::<crate::runner::Interrupted>() => return Err(e),
        Err(_) => {}
    }
    Err(MissingTool {
        tool: "docker compose".into(),
        hint: format!(
            "neither `{} compose` (v2) nor `{}` (v1) answers: {INSTALL_HINT}",
            p.docker, p.docker_compose
        ),
    }
    .into())
}
