//! `tmpl rm`: the guest and everything tmpl made for it, after asking on a terminal.

use crate::backend;
use crate::cli::RmArgs;
use crate::context::Ctx;
use crate::error::{ExitStatus, Failure};
use crate::ssh::Access;
use crate::timing::Phases;
use crate::{projects, ui};
use anyhow::Result;

pub fn run(ctx: &Ctx, args: &RmArgs) -> Result<ExitStatus> {
    let loaded = ctx.load()?;
    let lock = ctx.lock(&loaded)?;
    let backend = ctx.backend(&loaded, backend::Connect::MayStart)?;
    let live = backend.live()?;
    let id = &loaded.id;
    let dirs_exist = id.cache_dir.exists() || id.state_dir.exists();
    if live.state == backend::State::NotCreated && !dirs_exist {
        ui::info(format!("{} has no guest; nothing to remove", id.name));
        projects::forget(&ctx.dirs.state, &id.slug)?;
        lock.release_and_remove();
        return Ok(ExitStatus::Success);
    }
    if !args.force && ui::interactive() {
        let question = format!(
            "Remove the {} of {} ({}) and everything tmpl made for it?",
            loaded.config.infra_type,
            id.name,
            loaded.project.dir.display()
        );
        if !ui::confirm(&question) {
            return Err(Failure::new(ExitStatus::Failure, "not removed")
                .hint("`tmpl rm -f` removes without asking")
                .into());
        }
    }
    crate::interrupt::install();
    let mut phases = Phases::new("rm");
    let access = Access::new(&id.slug, &id.state_dir);
    access.close_master();
    let infra = loaded.config.infra_type.to_string();
    let mut removed = backend
        .remove(&mut phases)
        .map_err(|e| phases.record_error(&ctx.dirs.state, &id.slug, &infra, e))?;
    // after the guest: it must never run unfenced
    removed.extend(crate::fence::remove(&id.slug)?);
    for dir in [&id.cache_dir, &id.state_dir] {
        if dir.exists() {
            std::fs::remove_dir_all(dir)?;
            removed.push(format!("{}", dir.display()));
        }
    }
    projects::forget(&ctx.dirs.state, &id.slug)?;
    phases.record(
        &ctx.dirs.state,
        &id.slug,
        &loaded.config.infra_type.to_string(),
        "removed",
    );
    // nothing of the project is left to lock: the lock file goes too
    lock.release_and_remove();
    for r in &removed {
        ui::info(format!("removed {r}"));
    }
    ui::info(phases.summary());
    Ok(ExitStatus::Success)
}
