//! What compose reads beside the compose file: the fixed host ports it
//! publishes (checked before `up`) and the `env_file` it insists on.

use anyhow::{bail, Context};

use camino::Utf8PathBuf;

use super::Compose;
use crate::{context::Ctx, env::published};

/// `[environment.compose].env_file`, from the project root: the file
/// compose insists on, which we create when it is missing (and remove).
pub fn configured_env_file(ctx: &Ctx) -> Option<Utf8PathBuf> {
    let f = ctx.config.environment.compose.env_file.as_deref()?;
    Some(ctx.path(f))
}

impl Compose {
    /// Fixed host ports the compose file publishes that something else
    /// holds, checked before `up` unless the project already runs (then
    /// they are its own).
    pub fn check_fixed_ports(&self) -> anyhow::Result<()> {
        let label = format!("label=com.docker.compose.project={}", self.project);
        let running = self
            .runner
            .read(
                &self
                    .docker("docker ps", &["ps", "-q", "--filter", &label])
                    .read_only(),
            )
            .unwrap_or_default();
        if !running.trim().is_empty() {
            return Ok(());
        }
        let file = &self.spec.compose_file;
        for p in self.fixed_ports()? {
            let hosts = match &p.host_ip {
                Some(ip) => vec![ip.as_str()],
                None => vec!["0.0.0.0", "127.0.0.1"],
            };
            for host in hosts {
                if let Err(e) = std::net::TcpListener::bind((host, p.port)) {
                    bail!(
                        "port {} for compose service `{}` ({} publishes it) is not free ({e}): stop what listens there (`ss -ltnp 'sport = :{}'`, or `cargo xtask env down`); nothing was started",
                        p.port,
                        p.service,
                        self.runner.relative(file),
                        p.port
                    );
                }
            }
        }
        Ok(())
    }

    /// The fixed host ports of the compose file, its variables resolved
    /// as compose would (ours, the process's, then `.env` beside the file).
    pub(super) fn fixed_ports(&self) -> anyhow::Result<Vec<published::Published>> {
        let file = &self.spec.compose_file;
        let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {file}"))?;
        let env = self.env();
        let dotenv = file
            .parent()
            .and_then(|d| std::fs::read_to_string(d.join(".env")).ok())
            .unwrap_or_default();
        let var = |k: &str| {
            env.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .or_else(|| std::env::var(k).ok())
                .or_else(|| {
                    dotenv.lines().find_map(|l| {
                        let (n, v) = l.split_once('=')?;
                        (n.trim() == k).then(|| v.trim().to_string())
                    })
                })
        };
        Ok(published::fixed_ports(&text, &var))
    }

    /// The compose file's `env_file` must exist (compose refuses to read the
    /// file otherwise, even for `down`); the legacy script created it empty.
    pub(super) fn ensure_env_file(&mut self) -> anyhow::Result<()> {
        let Some(f) = &self.env_file else {
            return Ok(());
        };
        // A dry run counts the file it planned to create as there.
        let there = self
            .runner
            .answer(|| f.exists(), || self.created_env_file || f.exists());
        if there {
            return Ok(());
        }
        let what = format!("create an empty {f} (removed again at teardown)");
        self.runner.effect(&what, || {
            crate::procs::lease(None, Some(f));
            std::fs::write(f, b"")
                .with_context(|| format!("cannot create the empty env file {f} compose needs"))?;
            self.runner.say(&format!(
                "compose: {}",
                what.replacen("create", "created", 1)
            ));
            Ok(())
        })?;
        self.created_env_file = true;
        Ok(())
    }

    /// Runs `f` with the env file present: compose v1 reads the whole file,
    /// `env_file` included, for any command. After a keep-env run removed
    /// the one we made, a later `logs` or `scale` makes it again just for
    /// that command.
    pub(super) fn with_env_file<T>(&self, f: impl FnOnce() -> T) -> T {
        let made = match &self.env_file {
            Some(p) if !p.exists() => self
                .runner
                .real_only(|| std::fs::write(p, b"").is_ok())
                .unwrap_or(false),
            _ => false,
        };
        let out = f();
        if let (true, Some(p)) = (made, &self.env_file) {
            let _ = std::fs::remove_file(p);
        }
        out
    }

    pub(super) fn remove_created_env_file(&mut self) -> anyhow::Result<()> {
        if let (true, Some(f)) = (self.created_env_file, &self.env_file) {
            // A dry run only planned the file.
            let removed = self.runner.real_only(|| std::fs::remove_file(f));
            match removed.unwrap_or(Ok(())) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e)
                        .with_context(|| format!("cannot remove {f} (created empty for compose)"));
                }
                _ => self.created_env_file = false,
            }
        }
        Ok(())
    }
}
