//! `tmpl render`: what `up` would use, printed, with nothing created.

use crate::backend;
use crate::config::InfraType;
use crate::context::Ctx;
use crate::error::code;
use anyhow::Result;

pub fn run(ctx: &Ctx) -> Result<u8> {
    let loaded = ctx.load()?;
    match loaded.config.infra_type {
        InfraType::Vm => {
            print!("{}", backend::vagrant::Vagrant::new(loaded).vagrantfile()?);
        }
        InfraType::Container => {
            let binds = backend::podman::binds(&loaded, false)?;
            let spec = backend::podman::spec::container_spec(
                &loaded,
                "<public key generated at up>",
                false,
                binds,
            );
            // through Value, whose maps are sorted, so the output is stable
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::to_value(&spec)?)?
            );
        }
    }
    Ok(code::OK)
}
