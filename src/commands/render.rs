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
            let host = backend::vagrant::VmHost::detect();
            let plan = backend::vagrant::plan::plan(&loaded, &host);
            let (template, _) = crate::render::template_source(&ctx.dirs.config)?;
            print!("{}", crate::render::vagrantfile(&template, &plan.context)?);
        }
        InfraType::Container => {
            let spec = backend::podman::spec::container_spec(
                &loaded,
                "<public key generated at up>",
                false,
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
