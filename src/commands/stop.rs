//! `tmpl stop`: a graceful shutdown, forced once the timeout has passed (and said so).

use crate::backend::{self, StopOutcome};
use crate::cli::StopArgs;
use crate::context::Ctx;
use crate::error::ExitStatus;
use crate::ssh::Access;
use crate::timing::Phases;
use crate::ui;
use anyhow::Result;
use std::time::Duration;

pub fn run(ctx: &Ctx, args: &StopArgs) -> Result<ExitStatus> {
    let loaded = ctx.load()?;
    let _lock = ctx.lock(&loaded)?;
    crate::interrupt::install();
    let backend = ctx.backend(&loaded, backend::Connect::MayStart)?;
    let mut phases = Phases::new("stop");
    Access::new(&loaded.id.slug, &loaded.id.state_dir).close_master();
    let infra = loaded.config.infra_type.to_string();
    let outcome = backend
        .stop(Duration::from_secs(args.timeout), &mut phases)
        .map_err(|e| phases.record_error(&ctx.dirs.state, &loaded.id.slug, &infra, e))?;
    let what = match outcome {
        StopOutcome::NotCreated => {
            ui::info(format!("{} has no guest; nothing to stop", loaded.id.name));
            return Ok(ExitStatus::Success);
        }
        StopOutcome::AlreadyStopped => {
            ui::info(format!("{} is already stopped", loaded.id.name));
            return Ok(ExitStatus::Success);
        }
        StopOutcome::Stopped { forced: true } => {
            ui::warn(format!(
                "the guest did not shut down within {}s; it was forced off",
                args.timeout
            ));
            "forced"
        }
        StopOutcome::Stopped { forced: false } => "stopped",
    };
    phases.record(
        &ctx.dirs.state,
        &loaded.id.slug,
        &loaded.config.infra_type.to_string(),
        what,
    );
    ui::info(format!(
        "{} stopped; `tmpl up` starts it again with its data",
        loaded.id.name
    ));
    ui::info(phases.summary());
    Ok(ExitStatus::Success)
}
