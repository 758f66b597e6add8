//! `tmpl completions SHELL` and `tmpl man`: generated from the clap definitions in `cli.rs`,
//! so they can never disagree with the commands tmpl really has. Neither needs a project.

use crate::cli::Cli;
use crate::error::code;
use anyhow::{Context as _, Result};
use clap::CommandFactory;
use std::io::Write;
use std::path::Path;

pub fn completions(shell: clap_complete::Shell) -> Result<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "tmpl", &mut out);
    write_stdout(&out)
}

/// `tmpl.1` on stdout, or every page (the main one refers to `tmpl-up(1)`, ...) into `dir`.
pub fn man(dir: Option<&Path>) -> Result<u8> {
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        clap_mangen::generate_to(Cli::command(), dir)
            .with_context(|| format!("cannot write the manual pages into {}", dir.display()))?;
        crate::ui::info(format!("wrote the manual pages into {}", dir.display()));
        return Ok(code::OK);
    }
    let mut out = Vec::new();
    // as `generate_to` does: `help` has no page of its own to refer to
    clap_mangen::Man::new(Cli::command().disable_help_subcommand(true))
        .render(&mut out)
        .context("cannot render the manual page")?;
    write_stdout(&out)
}

fn write_stdout(bytes: &[u8]) -> Result<u8> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        // `tmpl man | head` closes the pipe early: not an error
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(code::OK),
        r => r.map(|()| code::OK).context("cannot write to stdout"),
    }
}
