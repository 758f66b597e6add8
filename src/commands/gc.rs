//! `tmpl gc`: remove what no project owns any more (see `leftovers`), after showing the list.

use crate::cli::GcArgs;
use crate::context::Ctx;
use crate::error::{code, Failure};
use crate::{leftovers, ui};
use anyhow::Result;
use std::io::IsTerminal;

pub fn run(ctx: &Ctx, args: &GcArgs) -> Result<u8> {
    let found = leftovers::find(&ctx.dirs);
    if found.is_empty() {
        ui::info("no leftovers");
        return Ok(code::OK);
    }
    for l in &found {
        println!("{:<18} {}  ({})", l.kind.label(), l.name, l.why);
    }
    if !args.yes {
        if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
            return Err(
                Failure::new(code::FAILURE, "not removing without confirmation")
                    .hint("`tmpl gc --yes` removes them")
                    .into(),
            );
        }
        let answer = console::Term::stderr()
            .write_str(&format!("Remove these {} leftovers? [y/N] ", found.len()))
            .and_then(|_| console::Term::stderr().read_line())
            .unwrap_or_default();
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Err(Failure::new(code::FAILURE, "nothing removed").into());
        }
    }
    let mut failed = 0;
    for l in &found {
        match leftovers::remove(l, &ctx.dirs) {
            Ok(()) => ui::info(format!("removed {}", l.name)),
            Err(e) => {
                failed += 1;
                ui::warn(format!("could not remove {}: {e:#}", l.name));
            }
        }
    }
    Ok(if failed == 0 { code::OK } else { code::FAILURE })
}
