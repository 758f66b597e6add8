//! `tmpl vagrant -- ARGS`: the tool underneath the project's driver, against its guest, with
//! the settings approved first (see `driver::Driver::tool`). Only the VM driver has one.

use crate::context::Ctx;
use crate::error::{ExitStatus, Failure};
use anyhow::Result;

pub fn run(ctx: &Ctx, args: &[String]) -> Result<ExitStatus> {
    let loaded = ctx.load()?;
    let driver = ctx.registry.of(&loaded)?;
    if driver.tool(&loaded, &ctx.dirs).is_none() {
        return Err(Failure::config(format!(
            "`tmpl vagrant` drives VMs, but {} is a {}",
            loaded.id.name,
            driver.noun()
        ))
        .hint("use `tmpl ssh`, or the tool itself (`tmpl status` names the guest)")
        .into());
    }
    let code = ctx.session(&loaded)?.tool(args)?;
    Ok(ExitStatus::Child(code))
}
