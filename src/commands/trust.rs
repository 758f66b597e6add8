//! `tmpl trust`: approve the project's current `.env` and provisioning file (see `trust`).

use crate::context::Ctx;
use crate::error::code;
use crate::{trust, ui};
use anyhow::Result;

pub fn run(ctx: &Ctx) -> Result<u8> {
    let loaded = ctx.load()?;
    let new = trust::current(&loaded);
    match trust::load(&loaded) {
        Some(old) => {
            let diff = trust::changes(&old, &new);
            if diff.is_empty() {
                ui::info(format!(
                    "{}: nothing changed since it was last trusted",
                    loaded.id.name
                ));
                return Ok(code::OK);
            }
            for d in diff {
                ui::info(format!("trusting {d}"));
            }
        }
        None => ui::info(format!(
            "trusting the current settings of {}",
            loaded.id.name
        )),
    }
    trust::record(&loaded)?;
    Ok(code::OK)
}
