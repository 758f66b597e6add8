//! tmpl: per-project VMs and containers from a flat `.env`.
//!
//! The flow is `.env` → `config` (parse, validate) → `project` (which folder, the loaded
//! project, the list of projects) → `session` (one guest's life, in order) → `driver` (the
//! surface every way of running a guest implements; the drivers are in `backend`) →
//! `provision`. Everything before the drivers is pure and unit-tested without a VM. Each
//! layer uses only the ones below it (`tests/layers.rs` checks it).

pub mod atomic;
pub mod backend;
pub mod broker;
pub mod check;
pub mod cli;
pub mod commands;
pub mod config;
pub mod context;
pub mod driver;
pub mod error;
pub mod fence;
pub mod gone;
pub mod host;
pub mod interrupt;
pub mod ip;
pub mod lock;
pub mod output;
pub mod person;
pub mod process;
pub mod procs;
pub mod project;
pub mod provision;
pub mod session;
pub mod share;
pub mod ssh;
pub mod text;
pub mod timing;
pub mod trust;
pub mod ui;

pub use error::ExitStatus;

use clap::Parser;
use std::ffi::OsString;

/// Runs tmpl with these arguments and returns the process exit code.
pub fn run<I: IntoIterator<Item = OsString>>(args: I) -> u8 {
    run_with(backend::builtin(), args)
}

/// Runs tmpl with these drivers (see `driver::Registry`): how a test runs every command
/// against a driver of its own, with no code here knowing it exists.
pub fn run_with<I: IntoIterator<Item = OsString>>(registry: driver::Registry, args: I) -> u8 {
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitStatus::Usage.code()
            } else {
                ExitStatus::Success.code()
            };
        }
    };
    ui::init(cli.quiet, cli.verbose);
    match commands::dispatch(cli, registry) {
        Ok(exit) => exit.code(),
        // A child stopped by a forwarded Ctrl+C fails in its own words; say what happened.
        Err(err)
            if interrupt::interrupted()
                && error::code_of(&err) != Some(ExitStatus::Interrupted) =>
        {
            error::report(&err.context(interrupt::failure("it ran")))
        }
        Err(err) => error::report(&err),
    }
}
