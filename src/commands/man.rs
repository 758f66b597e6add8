//! `tmpl man`: the manual page, generated from the clap definitions in `cli.rs` like the
//! completions. Needs no project.

use crate::cli::Cli;
use crate::error::ExitStatus;
use anyhow::{Context as _, Result};
use clap::CommandFactory;
use std::path::Path;

/// `tmpl.1` on stdout, or every page (the main one refers to `tmpl-up(1)`, ...) into `dir`.
pub fn run(dir: Option<&Path>) -> Result<ExitStatus> {
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        clap_mangen::generate_to(Cli::command(), dir)
            .with_context(|| format!("cannot write the manual pages into {}", dir.display()))?;
        crate::ui::info(format!("wrote the manual pages into {}", dir.display()));
        return Ok(ExitStatus::Success);
    }
    let mut out = Vec::new();
    // as `generate_to` does: `help` has no page of its own to refer to
    clap_mangen::Man::new(Cli::command().disable_help_subcommand(true))
        .render(&mut out)
        .context("cannot render the manual page")?;
    crate::output::raw(out);
    Ok(ExitStatus::Success)
}
