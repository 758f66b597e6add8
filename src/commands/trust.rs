//! `tmpl trust`: approve what the project folder makes tmpl do (see `trust`): its settings,
//! and the provisioning files, copied out of the guest's reach to run from there.

use crate::cli::TrustArgs;
use crate::context::Ctx;
use crate::error::ExitStatus;
use crate::ui;
use anyhow::Result;

pub fn run(ctx: &Ctx, args: &TrustArgs) -> Result<ExitStatus> {
    // what the `.env` takes from tmpl's environment is read, shown and granted here
    let loaded = ctx.load_asking()?;
    let approval = if args.diff {
        crate::session::review(&loaded, &ctx.dirs, &ctx.registry)?
    } else {
        crate::session::trust(&loaded, &ctx.dirs, &ctx.registry)?
    };
    if approval.changes.is_empty() {
        ui::info(format!(
            "{}: nothing changed since it was approved",
            loaded.project.dir.display()
        ));
        return Ok(ExitStatus::Success);
    }
    ui::info(format!("approved {}:", loaded.project.dir.display()));
    // every line is escaped already (see `trust::show`)
    for l in &approval.changes {
        ui::info(format!("  {l}"));
    }
    for n in &approval.notes {
        ui::info(format!("  - {n}"));
    }
    Ok(ExitStatus::Success)
}
