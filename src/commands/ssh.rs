//! `tmpl ssh`: plain OpenSSH with the config written at `up`, never `vagrant ssh`.
//!
//! The cached config is tried first (no libvirt or Podman call). It is never trusted blindly:
//! the host key is pinned per project, so a different machine at the cached address is
//! refused, and when ssh itself fails (exit 255) the live address is looked up; if the guest
//! moved, the config is rewritten and the command runs there. A command is never run twice:
//! the retry happens only when the first attempt went to an address the guest no longer has.

use crate::cli::SshArgs;
use crate::context::Ctx;
use crate::error::ExitStatus;
use crate::ssh::Access;
use anyhow::Result;
use std::io::IsTerminal;

/// ssh's own exit code for "could not connect" (and for remote commands that exit 255).
const SSH_FAILED: i32 = 255;

pub fn run(ctx: &Ctx, args: &SshArgs) -> Result<ExitStatus> {
    let loaded = ctx.load()?;
    let access = Access::new(&loaded.id.slug, &loaded.id.state_dir);
    let tty = args.command.is_empty()
        || (std::io::stdin().is_terminal() && std::io::stdout().is_terminal());
    let remote =
        crate::ssh::remote::remote_line(&loaded.config, &loaded.id.name, &ctx.cwd, &args.command);
    let cached = access.cached_endpoint();
    if cached.is_some() && access.master_alive() {
        // The shared connection is up, so the cached address is the live guest: become ssh
        // (no fork, no waiting; exit code and signals are ssh's own).
        return Err(access.command_line(&remote, tty)?.exec());
    }
    if cached.is_some() {
        let code = access.command_line(&remote, tty)?.interactive()?;
        if code != SSH_FAILED {
            return Ok(ExitStatus::Child(code));
        }
    }
    let endpoint = crate::session::running_endpoint(&loaded, &ctx.dirs, &ctx.registry)?;
    if cached.as_ref() == Some(&endpoint) {
        // same address: the 255 came from the guest or the command itself
        return Ok(ExitStatus::Child(SSH_FAILED));
    }
    access.write_config(&endpoint)?;
    Ok(ExitStatus::Child(
        access.command_line(&remote, tty)?.interactive()?,
    ))
}
