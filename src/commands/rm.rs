//! `tmpl rm`: the guest and everything tmpl made for it, after asking on a terminal.

use crate::cli::RmArgs;
use crate::context::Ctx;
use crate::error::{ExitStatus, Failure};
use crate::ui;
use anyhow::Result;

pub fn run(ctx: &Ctx, args: &RmArgs) -> Result<ExitStatus> {
    let loaded = ctx.load()?;
    let id = &loaded.id;
    let session = ctx.session(&loaded)?;
    let something = session.anything_to_remove()?;
    if something && !args.force && ui::interactive() {
        let question = format!(
            "Remove the {} of {} ({}) and everything tmpl made for it?",
            session.driver().noun(),
            id.name,
            loaded.project.dir.display()
        );
        if !ui::confirm(&question) {
            return Err(Failure::new(ExitStatus::Failure, "not removed")
                .hint("`tmpl rm -f` removes without asking")
                .into());
        }
    }
    let removed = session.remove()?;
    if !something {
        ui::info(format!("{} has no guest; nothing to remove", id.name));
        return Ok(ExitStatus::Success);
    }
    for r in &removed.items {
        ui::info(format!("removed {r}"));
    }
    ui::info(removed.summary);
    Ok(ExitStatus::Success)
}
