//! `cargo xtask`: the verification tasks of ticket-core-service.
//!
//! This file only parses flags, builds the context and dispatches; each
//! subcommand lives in `cmd/`. See ARCHITECTURE.md for the map.

// Shadow std's printing macros for every module below: all output is
// masked and survives a closed pipe (see out.rs).
macro_rules! println {
    () => { $crate::out::write($crate::out::Stream::Out, format_args!(""), true) };
    ($($arg:tt)*) => { $crate::out::write($crate::out::Stream::Out, format_args!($($arg)*), true) };
}
macro_rules! print {
    ($($arg:tt)*) => { $crate::out::write($crate::out::Stream::Out, format_args!($($arg)*), false) };
}
macro_rules! eprintln {
    () => { $crate::out::write($crate::out::Stream::Err, format_args!(""), true) };
    ($($arg:tt)*) => { $crate::out::write($crate::out::Stream::Err, format_args!($($arg)*), true) };
}
macro_rules! eprint {
    ($($arg:tt)*) => { $crate::out::write($crate::out::Stream::Err, format_args!($($arg)*), false) };
}

mod cmd;
mod config;
mod context;
mod env;
mod files;
mod flags;
mod flaky;
mod git;
mod github;
mod github_api;
mod gradle;
mod images;
mod junit;
mod k6;
mod operator;
mod out;
mod probe;
mod redact;
mod regress;
mod report;
mod runner;
// What a run started, found again: part of the process layer.
use runner::procs;
mod samples;
mod tools;
mod units;

use std::process::ExitCode;

use clap::Parser;

use crate::{
    context::{Ctx, Exit},
    flags::{Cmd, EnvCmd, K6Cmd, OpsCmd},
};

fn main() -> ExitCode {
    // Before parsing: clap's errors echo values, which may be secrets.
    redact::note_process_env();
    let flags = match flags::Xtask::try_parse() {
        Ok(f) => f,
        Err(e) => {
            // `--help` and `--version` go to stdout; usage errors to stderr.
            let text = flags::escape_values(&e, e.render().to_string());
            if e.use_stderr() {
                eprint!("{text}");
            } else {
                print!("{text}");
            }
            return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
        }
    };
    // Daemons our children start come back to us (see procs.rs).
    procs::become_subreaper();
    let result = runner::install_signal_handlers().and_then(|()| {
        let ctx = Ctx::new(&flags)?;
        // A dry run starts nothing, so it leases nothing.
        ctx.runner
            .real_only(|| procs::set_lease_dir(ctx.lock_dir().join("runs")));
        let result = dispatch(flags.cmd, &ctx);
        // Everything it started was stopped or handed on (keep-env): a
        // later run has nothing to reap after this one.
        procs::end_lease();
        result
    });
    match result {
        Ok(Exit(code)) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            // One line: what failed, with which input, and what to do.
            eprintln!(
                "error: {}",
                units::quote_lines(&redact::text(&format!("{e:#}")))
            );
            ExitCode::from(Exit::of_error(&e).0.clamp(0, 255) as u8)
        }
    }
}

fn dispatch(cmd: Cmd, ctx: &Ctx) -> anyhow::Result<Exit> {
    match cmd {
        Cmd::Doctor(c) => c.run(ctx),
        Cmd::Setup(c) => c.run(ctx),
        Cmd::Ci(c) => c.run(ctx),
        Cmd::ReleaseGate(c) => c.run(ctx),
        Cmd::Integration(c) => c.run(ctx),
        Cmd::ApiScripts(c) => c.run(ctx),
        Cmd::K6(K6Cmd::Run(c)) => c.run(ctx),
        Cmd::K6(K6Cmd::Baseline(c)) => c.run(ctx),
        Cmd::K6(K6Cmd::Distributed(c)) => c.run(ctx),
        Cmd::Ops(OpsCmd::Health(c)) => c.run(ctx),
        Cmd::Ops(OpsCmd::Monitor(c)) => c.run(ctx),
        Cmd::Env(EnvCmd::Up(c)) => cmd::env::up(c, ctx),
        Cmd::Env(EnvCmd::Down(c)) => cmd::env::down(c, ctx),
        Cmd::Env(EnvCmd::Status(c)) => cmd::env::status(c, ctx),
        Cmd::Env(EnvCmd::Logs(c)) => c.run(ctx),
        Cmd::Gate(c) => c.run(ctx),
        Cmd::Report(c) => c.run(ctx),
        Cmd::Images(c) => c.run(ctx),
        Cmd::Bench(c) => c.run(ctx),
        Cmd::Adopt(c) => c.run(ctx),
    }
}
