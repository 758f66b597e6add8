//! `tmpl render`: what `up` would hand the tool underneath (a Vagrantfile, a container's
//! create request), printed, with nothing created and no service asked.

use crate::context::Ctx;
use crate::error::ExitStatus;
use anyhow::Result;

pub fn run(ctx: &Ctx) -> Result<ExitStatus> {
    let loaded = ctx.load()?;
    let driver = ctx.registry.of(&loaded)?;
    crate::output::raw(driver.preview(&loaded, &ctx.dirs)?);
    Ok(ExitStatus::Success)
}
