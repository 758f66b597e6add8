//! tmpl: per-project VMs and containers from a flat `.env`.
//!
//! The flow is `.env` → `config` (parse, validate) → `render` (Vagrantfile, container spec)
//! → `backend` (Vagrant + libvirt, Podman) → `provision`. Everything before the backend is
//! pure and unit-tested without a VM.

pub mod backend;
pub mod cli;
pub mod commands;
pub mod config;
pub mod context;
pub mod error;
pub mod interrupt;
pub mod leftovers;
pub mod lock;
pub mod login;
pub mod preflight;
pub mod process;
pub mod project;
pub mod provision;
pub mod registry;
pub mod render;
pub mod ssh;
pub mod state;
pub mod text;
pub mod timing;
pub mod trust;
pub mod ui;

use clap::Parser;
use std::ffi::OsString;

/// Runs tmpl with these arguments and returns the process exit code.
pub fn run<I: IntoIterator<Item = OsString>>(args: I) -> u8 {
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                error::code::USAGE
            } else {
                error::code::OK
            };
        }
    };
    ui::init(cli.quiet, cli.verbose);
    match commands::dispatch(cli) {
        Ok(code) => code,
        // A child stopped by a forwarded Ctrl+C fails in its own words; say what happened.
        Err(err)
            if interrupt::interrupted()
                && error::code_of(&err) != Some(error::code::INTERRUPTED) =>
        {
            error::report(&err.context(interrupt::failure("it ran")))
        }
        Err(err) => error::report(&err),
    }
}
