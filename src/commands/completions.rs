//! `tmpl completions SHELL`: generated from the clap definitions in `cli.rs`, so it can never
//! disagree with the commands tmpl really has. Needs no project.

use crate::cli::Cli;
use crate::error::ExitStatus;
use anyhow::Result;
use clap::CommandFactory;

pub fn run(shell: clap_complete::Shell) -> Result<ExitStatus> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "tmpl", &mut out);
    crate::output::raw(out);
    Ok(ExitStatus::Success)
}
