//! `tmpl up`: make the project's guest run, whatever state it is in, and make it reachable
//! (see `session::Session::up` for the steps).

use crate::cli::UpArgs;
use crate::context::Ctx;
use crate::driver::UpOutcome;
use crate::error::ExitStatus;
use crate::session::Provisioning;
use crate::ui;
use anyhow::Result;

pub fn run(ctx: &Ctx, args: &UpArgs) -> Result<ExitStatus> {
    let loaded = ctx.load()?;
    let when = match (args.provision, args.no_provision) {
        (true, _) => Provisioning::Always,
        (_, true) => Provisioning::Never,
        _ => Provisioning::Needed,
    };
    let report = ctx.session(&loaded)?.up(when)?;
    ui::info(format!(
        "{} {}: `tmpl ssh` opens a shell",
        loaded.id.name,
        report.outcome.as_str()
    ));
    if report.outcome != UpOutcome::AlreadyRunning || report.provisioned {
        ui::info(report.summary);
    }
    Ok(ExitStatus::Success)
}
