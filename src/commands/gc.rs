//! `tmpl gc`: remove what no project owns any more (see `leftovers`), after showing the list.

use crate::cli::GcArgs;
use crate::context::Ctx;
use crate::error::{ExitStatus, Failure};
use crate::session::leftovers;
use crate::{output, ui};
use anyhow::Result;

pub fn run(ctx: &Ctx, args: &GcArgs) -> Result<ExitStatus> {
    let found = leftovers::find(&ctx.registry, &ctx.dirs);
    if found.is_empty() {
        ui::info("no leftovers");
        return Ok(ExitStatus::Success);
    }
    let mut table = output::Table::new(&[]);
    for f in &found {
        let l = &f.leftover;
        table.row([l.kind.clone(), l.name.clone(), format!("({})", l.why)]);
    }
    table.print();
    if !args.yes {
        if !ui::interactive() {
            return Err(
                Failure::new(ExitStatus::Failure, "not removing without confirmation")
                    .hint("`tmpl gc --yes` removes them")
                    .into(),
            );
        }
        if !ui::confirm(&format!("Remove these {} leftovers?", found.len())) {
            return Err(Failure::new(ExitStatus::Failure, "nothing removed").into());
        }
    }
    let mut failed = 0;
    for f in &found {
        match leftovers::remove(f, &ctx.registry, &ctx.dirs) {
            Ok(()) => ui::info(format!("removed {}", f.leftover.name)),
            Err(e) => {
                failed += 1;
                ui::warn(format!("could not remove {}: {e:#}", f.leftover.name));
            }
        }
    }
    if failed == 0 {
        return Ok(ExitStatus::Success);
    }
    Err(Failure::new(
        ExitStatus::Failure,
        format!("{failed} leftover(s) could not be removed"),
    )
    .into())
}
