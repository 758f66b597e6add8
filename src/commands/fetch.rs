//! `tmpl fetch`: the guest's commits, from the repository it has of its own, into the
//! person's repository as `tmpl/*` (see `share::repo`), then how to review them.

use crate::context::Ctx;
use crate::error::ExitStatus;
use crate::{share, ui};
use anyhow::Result;

pub fn run(ctx: &Ctx) -> Result<ExitStatus> {
    let loaded = ctx.load()?;
    let gitdir = share::repo::gitdir(&loaded.id.state_dir);
    let said = share::repo::fetch(&loaded.project.dir, &gitdir)?;
    for line in said.lines().filter(|l| !l.trim().is_empty()) {
        ui::info(format!("  {}", crate::text::terminal_safe(line)));
    }
    ui::info(
        "the guest's branches are tmpl/*: `git log HEAD..tmpl/main` lists its commits, \
         `git diff HEAD...tmpl/main` shows them, `git merge tmpl/main` takes them",
    );
    Ok(ExitStatus::Success)
}
