//! `tmpl provision`: run `PROVISION_SCRIPT` again on the running guest, whatever the last run
//! did. The address comes from the backend's live state (libvirt or Podman, never Vagrant),
//! so a guest that moved is reached where it is now.

use crate::backend::{self, State};
use crate::context::Ctx;
use crate::error::{ExitStatus, Failure};
use crate::provision::{self, Target};
use crate::ssh::Access;
use crate::timing::Phases;
use crate::ui;
use anyhow::Result;

pub fn run(ctx: &Ctx) -> Result<ExitStatus> {
    let loaded = ctx.load()?;
    let Some(script) = loaded.config.provision.clone() else {
        return Err(Failure::config(format!(
            "`{}` sets no PROVISION_SCRIPT: there is nothing to provision",
            ctx.show(&loaded.project.env_path)
        ))
        .hint("add e.g. `PROVISION_SCRIPT=provision.yml` (a playbook) or `PROVISION_SCRIPT=setup.sh` (a script run as root)")
        .into());
    };
    let _lock = ctx.lock(&loaded)?;
    // a playbook runs on the host: only the approved files, copied out of the guest's reach
    let approved = crate::trust::ensure(&ctx.dirs.state, &loaded, "provision", true)?;
    let backend = ctx.backend(&loaded, backend::Connect::MayStart)?;
    let live = backend.live()?;
    let name = &loaded.id.name;
    let endpoint = match (live.state, live.ssh) {
        (State::Running, Some(e)) => e,
        (State::Running, None) => {
            return Err(Failure::new(
                ExitStatus::Failure,
                format!("{name} is running but has no SSH address yet"),
            )
            .hint("wait a moment, or run `tmpl up`, which waits for it")
            .into())
        }
        (State::Stopped, _) => {
            return Err(Failure::new(
                ExitStatus::Failure,
                format!("{name} is stopped: provisioning needs a running guest"),
            )
            .hint("`tmpl up` starts it (and provisions it if the last run failed)")
            .into())
        }
        (State::NotCreated, _) => {
            return Err(Failure::new(
                ExitStatus::Failure,
                format!("{name} has no guest to provision"),
            )
            .hint("`tmpl up` creates it and provisions it")
            .into())
        }
    };
    crate::interrupt::install();
    let mut phases = Phases::new("provision");
    let endpoint =
        super::snapshot::before_provision(&loaded, backend.as_ref(), &endpoint, &mut phases)?;
    let access = Access::new(&loaded.id.slug, &loaded.id.state_dir);
    access.write_config(&endpoint)?;
    let target = Target {
        loaded: &loaded,
        access: &access,
        endpoint: &endpoint,
    };
    let result = phases.run("provision", &provision::label(&script, None), || {
        provision::run(&target, &script, &approved)
    });
    phases.record(
        &ctx.dirs.state,
        &loaded.id.slug,
        &loaded.config.infra_type.to_string(),
        if result.is_ok() {
            "provisioned"
        } else {
            "provision_failed"
        },
    );
    result?;
    ui::info(format!("{name} provisioned"));
    ui::info(phases.summary());
    Ok(ExitStatus::Success)
}
