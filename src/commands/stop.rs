//! `tmpl stop`: a graceful shutdown, forced once the timeout has passed (and said so).

use crate::cli::StopArgs;
use crate::context::Ctx;
use crate::driver::StopOutcome;
use crate::error::ExitStatus;
use crate::ui;
use anyhow::Result;
use std::time::Duration;

pub fn run(ctx: &Ctx, args: &StopArgs) -> Result<ExitStatus> {
    let loaded = ctx.load()?;
    let name = &loaded.id.name;
    let (outcome, summary) = ctx
        .session(&loaded)?
        .stop(Duration::from_secs(args.timeout))?;
    match outcome {
        StopOutcome::NotCreated => {
            ui::info(format!("{name} has no guest; nothing to stop"));
            return Ok(ExitStatus::Success);
        }
        StopOutcome::AlreadyStopped => {
            ui::info(format!("{name} is already stopped"));
            return Ok(ExitStatus::Success);
        }
        StopOutcome::Stopped { forced: true } => ui::warn(format!(
            "the guest did not shut down within {}s; it was forced off",
            args.timeout
        )),
        StopOutcome::Stopped { forced: false } => {}
    }
    ui::info(format!(
        "{name} stopped; `tmpl up` starts it again with its data"
    ));
    ui::info(summary);
    Ok(ExitStatus::Success)
}
