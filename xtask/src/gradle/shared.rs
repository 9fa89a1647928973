//! What Gradle runs of one gate share: the build cache, and the project.
//!
//! - **Build cache**: every Gradle run gets `--build-cache` and an init
//!   script that puts the local cache in a folder of the project
//!   (`[gradle].build_cache`, default `.gradle-build-cache`), so that CI can
//!   keep it between runs. Init scripts, `settingsEvaluated` and
//!   `buildCache.local.directory` all exist in Gradle 4.4.1 (the oldest we
//!   run) as in 8.x; the service's own build files are not touched. Test
//!   tasks are never taken from the cache: they run against live
//!   environments, which are no task input (compiled classes are).
//! - **One build at a time**: two Gradle builds in one project write the same
//!   classes and the same `build/test-results`, so gate stages running at
//!   once take turns (`turn`). The environment's build (a jar, seconds) goes
//!   first when the gate expects one: it unblocks the long part of env-up
//!   (images, containers, the app's JVM), which then overlaps the tests.

use std::{
    sync::{Condvar, Mutex},
    time::Duration,
};

use anyhow::Context;
use camino::Utf8PathBuf;

use crate::{context::Ctx, runner::Step};

/// The init script's name inside the cache folder.
const INIT_SCRIPT: &str = "xtask-build-cache.gradle";

/// The cache folder, or None when `[gradle].build_cache` is empty.
pub fn cache_dir(ctx: &Ctx) -> Option<Utf8PathBuf> {
    let dir = &ctx.config.gradle.build_cache;
    (!dir.as_str().is_empty()).then(|| ctx.path(dir))
}

/// `--build-cache --init-script <cache>/xtask-build-cache.gradle`, or
/// nothing when the cache is off. `prepare_cache` writes the script.
pub fn cache_args(ctx: &Ctx) -> Vec<String> {
    match cache_dir(ctx) {
        Some(dir) => vec![
            "--build-cache".into(),
            "--init-script".into(),
            dir.join(INIT_SCRIPT).into_string(),
        ],
        None => vec![],
    }
}

/// Writes the init script `cache_args` names (not in a dry run); cheap when
/// it is already there.
pub fn prepare_cache(ctx: &Ctx) -> anyhow::Result<()> {
    ctx.runner
        .real_only(|| write_cache_script(ctx))
        .unwrap_or(Ok(()))
}

fn write_cache_script(ctx: &Ctx) -> anyhow::Result<()> {
    let Some(dir) = cache_dir(ctx) else {
        return Ok(());
    };
    let script = dir.join(INIT_SCRIPT);
    let text = init_script(&dir.join("cache"));
    if std::fs::read_to_string(&script).ok().as_deref() == Some(text.as_str()) {
        return Ok(());
    }
    std::fs::create_dir_all(&dir).with_context(|| {
        format!("cannot create the Gradle build cache folder {dir} ([gradle].build_cache)")
    })?;
    crate::report::write_atomic(&script, text.as_bytes())
}

/// The init script: the local cache in `dir`. The path is a Groovy string
/// literal, escaped.
fn init_script(dir: &camino::Utf8Path) -> String {
    let lit = dir.as_str().replace('\\', "\\\\").replace('\'', "\\'");
    format!(
        "// Written by cargo xtask: Gradle's local build cache inside the project, so CI can keep it.\n\
         gradle.settingsEvaluated {{ settings ->\n    \
             settings.buildCache.local.directory = new File('{lit}')\n    \
             settings.buildCache.local.enabled = true\n\
         }}\n\
         // Tests run against live environments, which are no task input: never from the cache.\n\
         gradle.allprojects {{ project ->\n    \
             project.tasks.withType(Test) {{ t -> t.outputs.cacheIf {{ false }} }}\n\
         }}\n"
    )
}

/// `testClasses` with the cache: the integration classes compiled while the
/// environment starts (the gate's `test-classes` stage).
pub fn classes_step(ctx: &Ctx) -> anyhow::Result<Step> {
    let cfg = &ctx.config.gradle;
    let gradle = crate::tools::gradle_program(ctx);
    let mut step = Step::new("gradle testClasses", gradle.program())
        .cwd(ctx.service_dir())
        .arg(if cfg.daemon {
            "--daemon"
        } else {
            "--no-daemon"
        });
    if cfg.offline {
        step = step.arg("--offline");
    }
    prepare_cache(ctx)?;
    Ok(step
        .args(cache_args(ctx))
        .args(cfg.extra_args.iter().cloned())
        .arg("testClasses")
        .deadline(cfg.timeout.std())
        .hint("no ./gradlew in the service folder: apt-get install gradle (or `cargo xtask setup`), or set [gradle].command"))
}

// ---------------------------------------------------------------------------
// Turns: one Gradle build at a time in this process.
// ---------------------------------------------------------------------------

struct Queue {
    busy: bool,
    /// The gate expects an environment build: other builds wait for it.
    env_build_expected: bool,
}

static QUEUE: Mutex<Queue> = Mutex::new(Queue {
    busy: false,
    env_build_expected: false,
});
static FREED: Condvar = Condvar::new();

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Build {
    /// What the environment starts (a jar): short, first.
    Env,
    /// Everything else (tests, classes).
    Other,
}

/// Holds the project's Gradle turn until dropped.
pub struct Turn(());

impl Drop for Turn {
    fn drop(&mut self) {
        QUEUE.lock().unwrap().busy = false;
        FREED.notify_all();
    }
}

/// Waits for this build's turn (an interrupt or a stage's cancel ends the
/// wait with `Interrupted`).
pub fn turn(kind: Build) -> anyhow::Result<Turn> {
    let mut q = QUEUE.lock().unwrap();
    loop {
        let waits_for_env = kind == Build::Other && q.env_build_expected;
        if !q.busy && !waits_for_env {
            q.busy = true;
            if kind == Build::Env {
                q.env_build_expected = false;
            }
            return Ok(Turn(()));
        }
        if let Some(sig) = crate::runner::interrupted() {
            return Err(crate::runner::Interrupted(sig).into());
        }
        q = FREED.wait_timeout(q, Duration::from_millis(50)).unwrap().0;
    }
}

/// Until dropped, other builds let an environment build go first.
pub struct EnvBuildExpected(());

pub fn expect_env_build() -> EnvBuildExpected {
    QUEUE.lock().unwrap().env_build_expected = true;
    EnvBuildExpected(())
}

impl Drop for EnvBuildExpected {
    fn drop(&mut self) {
        QUEUE.lock().unwrap().env_build_expected = false;
        FREED.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_init_script_escapes_the_folder_as_a_groovy_string() {
        let s = init_script(camino::Utf8Path::new("/w/it's\\here"));
        assert!(s.contains("new File('/w/it\\'s\\\\here')"), "{s}");
        assert!(s.contains("gradle.settingsEvaluated"));
        assert!(s.contains("t.outputs.cacheIf { false }"), "{s}");
    }

    #[test]
    fn builds_take_turns_and_the_environment_build_goes_first() {
        let order = std::sync::Arc::new(Mutex::new(Vec::new()));
        let expected = expect_env_build();
        let other = {
            let order = std::sync::Arc::clone(&order);
            std::thread::spawn(move || {
                let _t = turn(Build::Other).unwrap();
                order.lock().unwrap().push("other");
            })
        };
        std::thread::sleep(Duration::from_millis(100));
        {
            let _t = turn(Build::Env).unwrap();
            order.lock().unwrap().push("env");
        }
        other.join().unwrap();
        drop(expected);
        assert_eq!(*order.lock().unwrap(), ["env", "other"]);
    }
}
