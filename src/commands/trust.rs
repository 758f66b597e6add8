//! `tmpl trust`: approve what the project folder makes tmpl do (see `trust`): its settings,
//! and the provisioning files, copied out of the guest's reach to run from there.

use crate::context::Ctx;
use crate::error::ExitStatus;
use crate::ui;
use anyhow::Result;

pub fn run(ctx: &Ctx) -> Result<ExitStatus> {
    let loaded = ctx.load()?;
    let approval = crate::session::trust(&loaded, &ctx.dirs, &ctx.registry)?;
    if approval.changes.is_empty() {
        ui::info(format!(
            "{}: nothing changed since it was approved",
            loaded.project.dir.display()
        ));
        return Ok(ExitStatus::Success);
    }
    ui::info(format!("approved {}:", loaded.project.dir.display()));
    for l in approval.changes.iter().chain(&approval.notes) {
        ui::info(format!("  - {}", crate::text::terminal_safe(l)));
    }
    Ok(ExitStatus::Success)
}
