//! `tmpl provision`: run `PROVISION_SCRIPT` again on the running guest, whatever the last run
//! did (see `session::Session::provision`).

use crate::context::Ctx;
use crate::error::{ExitStatus, Failure};
use crate::ui;
use anyhow::Result;

pub fn run(ctx: &Ctx) -> Result<ExitStatus> {
    let loaded = ctx.load()?;
    let nothing = || -> anyhow::Error {
        Failure::config(format!(
            "`{}` sets no PROVISION_SCRIPT: there is nothing to provision",
            ctx.show(&loaded.project.env_path)
        ))
        .hint("add e.g. `PROVISION_SCRIPT=provision.yml` (a playbook) or `PROVISION_SCRIPT=setup.sh` (a script run as root)")
        .into()
    };
    if loaded.config.provision.is_none() {
        return Err(nothing());
    }
    let summary = ctx.session(&loaded)?.provision()?.ok_or_else(nothing)?;
    ui::info(format!("{} provisioned", loaded.id.name));
    ui::info(summary);
    Ok(ExitStatus::Success)
}
