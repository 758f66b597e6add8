//! `tmpl ssh-config`: the project's OpenSSH `Host` block, for editors (VS Code Remote-SSH),
//! Ansible and plain `ssh -F`. `--write` keeps one file per project under
//! `~/.ssh/config.d/tmpl/` and includes them from `~/.ssh/config` once.

use crate::cli::SshConfigArgs;
use crate::context::Ctx;
use crate::driver::State;
use crate::error::{ExitStatus, Failure};
use crate::ssh::Access;
use crate::ui;
use anyhow::{Context as _, Result};
use std::path::Path;

pub const INCLUDE_LINE: &str = "Include config.d/tmpl/*";

pub fn run(ctx: &Ctx, args: &SshConfigArgs) -> Result<ExitStatus> {
    let loaded = ctx.load()?;
    let access = Access::new(&loaded.id.slug, &loaded.id.state_dir);
    let live = ctx.look(&loaded)?.guest().live()?;
    let endpoint = match (live.state, live.ssh) {
        (State::Running, Some(e)) => e,
        _ => match access.cached_endpoint() {
            Some(e) => e,
            None => {
                return Err(Failure::new(
                    ExitStatus::Failure,
                    format!("{} has not been brought up yet", loaded.id.name),
                )
                .hint("`tmpl up` first; the block names the guest's address")
                .into())
            }
        },
    };
    access.write_config(&endpoint)?;
    let block = access.host_block(&endpoint);
    if !args.write {
        crate::output::raw(&block);
        return Ok(ExitStatus::Success);
    }
    let home = ctx.dirs.home.clone().context("HOME is not set")?;
    let ssh_dir = home.join(".ssh");
    let dir = ssh_dir.join("config.d/tmpl");
    crate::ssh::private_dir(&ssh_dir)?;
    std::fs::create_dir_all(&dir)?;
    let file = dir.join(&access.alias);
    crate::atomic::write(
        &file,
        // a folder's name can hold a newline: it must not start a line of ssh's config
        format!(
            "# tmpl: {}\n{block}",
            crate::text::one_line(&loaded.project.dir.display().to_string())
        )
        .as_bytes(),
        0o600,
    )?;
    if add_include(&ssh_dir.join("config"))? {
        ui::info(format!(
            "added `{INCLUDE_LINE}` at the top of ~/.ssh/config"
        ));
    }
    ui::info(format!(
        "wrote {}; `ssh {}` works from anywhere",
        file.display(),
        access.alias
    ));
    Ok(ExitStatus::Success)
}

/// Puts the `Include` line at the top of `config` (an `Include` below a `Host` line would only
/// apply to that host) unless it is there. Returns whether it changed the file.
pub fn add_include(config: &Path) -> Result<bool> {
    let existing = match std::fs::read_to_string(config) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", config.display())),
    };
    if existing.lines().any(|l| l.trim() == INCLUDE_LINE) {
        return Ok(false);
    }
    let text = format!("# Added by tmpl: one Host block per project\n{INCLUDE_LINE}\n\n{existing}");
    crate::atomic::write(config, text.as_bytes(), 0o600)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_is_added_once_at_the_top() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("config");
        std::fs::write(&cfg, "Host old\n  User me\n").unwrap();
        assert!(add_include(&cfg).unwrap());
        assert!(!add_include(&cfg).unwrap());
        let text = std::fs::read_to_string(&cfg).unwrap();
        assert_eq!(text.matches(INCLUDE_LINE).count(), 1);
        assert!(text.find(INCLUDE_LINE).unwrap() < text.find("Host old").unwrap());
        assert!(text.ends_with("Host old\n  User me\n"));
    }
}
