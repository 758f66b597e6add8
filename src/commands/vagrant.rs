//! `tmpl vagrant -- ARGS`: any Vagrant command against the project's VM (snapshots, reload,
//! port, ...), with the project's Vagrantfile and machine data, so nothing Vagrant can do is
//! lost by going through tmpl.

use crate::backend::vagrant::Vagrant;
use crate::cli::VagrantArgs;
use crate::config::InfraType;
use crate::context::Ctx;
use crate::error::{ExitStatus, Failure};
use anyhow::Result;

pub fn run(ctx: &Ctx, args: &VagrantArgs) -> Result<ExitStatus> {
    let loaded = ctx.load()?;
    if loaded.config.infra_type != InfraType::Vm {
        return Err(Failure::config(format!(
            "`tmpl vagrant` drives VMs, but {} is a container",
            loaded.id.name
        ))
        .hint("use `tmpl ssh`, or podman itself (`tmpl status` names the container)")
        .into());
    }
    let _lock = ctx.lock(&loaded)?;
    // Vagrant applies what the Vagrantfile says (`reload` sets up ports and networks anew):
    // only settings the person approved
    crate::trust::ensure(&ctx.dirs.state, &loaded, "vagrant", false)?;
    let vagrant = Vagrant::new(loaded, ctx.dirs.clone());
    vagrant.render()?;
    let code = vagrant.vagrant(&args.args).interactive()?;
    Ok(ExitStatus::Child(code))
}
