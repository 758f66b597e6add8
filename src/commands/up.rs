//! `tmpl up`: make the project's guest run, whatever state it is in, and make it reachable.

use crate::backend::{self, UpOutcome};
use crate::cli::UpArgs;
use crate::context::Ctx;
use crate::error::code;
use crate::ssh::Access;
use crate::timing::Phases;
use crate::{registry, ui};
use anyhow::Result;
use std::time::Duration;

/// How long a new or restarted guest may take to accept SSH (software emulation is slow).
const SSH_TIMEOUT: Duration = Duration::from_secs(300);

pub fn run(ctx: &Ctx, _args: &UpArgs) -> Result<u8> {
    let loaded = ctx.load()?;
    let _lock = ctx.lock(&loaded)?;
    let backend = backend::for_project(&loaded)?;
    let mut phases = Phases::new("up");
    let state = backend.live()?.state;
    if state != backend::State::Running {
        crate::preflight::check(&loaded, state == backend::State::NotCreated)?;
    }
    let (outcome, endpoint) = backend.up(&mut phases)?;
    let access = Access::new(&loaded.id.slug, &loaded.id.state_dir);
    if outcome == UpOutcome::Created {
        access.forget_host_keys();
    }
    access.write_config(&endpoint)?;
    if outcome != UpOutcome::AlreadyRunning {
        phases.run("ssh", "waiting for SSH", || access.wait_ready(SSH_TIMEOUT))?;
    }
    registry::remember(&ctx.dirs.state, &loaded)?;
    let what = match outcome {
        UpOutcome::AlreadyRunning => "already running",
        UpOutcome::Started => "started",
        UpOutcome::Created => "created",
    };
    phases.record(
        &ctx.dirs.state,
        &loaded.id.slug,
        &loaded.config.infra_type.to_string(),
        what,
    );
    ui::info(format!(
        "{} {what}: `tmpl ssh` opens a shell",
        loaded.id.name
    ));
    if outcome != UpOutcome::AlreadyRunning {
        ui::info(phases.summary());
    }
    Ok(code::OK)
}
