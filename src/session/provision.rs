//! Provisioning a guest: after `up` when it needs it, or again on request (`tmpl
//! provision`), always from the approved copy of the files, with the snapshot
//! `pre-provision` first when `SNAPSHOT_BEFORE_PROVISION` asks for one.

use super::open::Session;
use crate::driver::{State, UpOutcome};
pub use crate::provision::When as Provisioning;
use crate::provision::{self, Target};
use crate::ssh::{Access, Endpoint};
use crate::timing::Phases;
use crate::trust::Approved;
use crate::ui;
use anyhow::Result;

impl Session<'_> {
    /// Whether this `up` is going to provision (so its files must be approved first): a guest
    /// to be created always, an existing one until a run has succeeded; the flags override.
    pub(super) fn provision_wanted(&self, state: State, when: Provisioning) -> bool {
        if self.loaded.config.provision.is_none() || when == Provisioning::Never {
            return false;
        }
        when == Provisioning::Always
            || state == State::NotCreated
            || provision::decide(
                Provisioning::Needed,
                provision::last(&self.loaded.id.state_dir).as_ref(),
            )
            .is_some()
    }

    /// Provisions the guest `up` just reached, when it needs it. Returns whether it ran.
    pub(super) fn provision_after_up(
        &self,
        approved: &Approved,
        access: &Access,
        endpoint: &Endpoint,
        outcome: UpOutcome,
        when: Provisioning,
        phases: &mut Phases,
    ) -> Result<bool> {
        let state = &self.loaded.id.state_dir;
        if outcome == UpOutcome::Created {
            provision::forget(state)?;
        }
        let Some(script) = &self.loaded.config.provision else {
            if when == Provisioning::Always {
                ui::warn("`--provision`: `.env` sets no PROVISION_SCRIPT; nothing to provision");
            }
            return Ok(false);
        };
        let last = provision::last(state);
        let Some(reason) = provision::decide(when, last.as_ref()) else {
            if when == Provisioning::Never
                && last.map(|r| r.status) != Some(provision::Status::Succeeded)
            {
                ui::info("not provisioned (`--no-provision`): `tmpl provision` runs it");
            }
            return Ok(false);
        };
        let endpoint = &self.before_provision(endpoint, phases)?;
        let target = Target {
            loaded: self.loaded,
            access,
            endpoint,
        };
        phases.run("provision", &provision::label(script, Some(reason)), || {
            provision::run(&target, script, approved)
        })?;
        Ok(true)
    }

    /// `tmpl provision`: runs `PROVISION_SCRIPT` again on the running guest, whatever the
    /// last run did, at the address the guest has now. Returns the summary; does nothing
    /// (`None`) when the settings name no script.
    pub fn provision(&self) -> Result<Option<String>> {
        let Some(script) = self.loaded.config.provision.clone() else {
            return Ok(None);
        };
        // a playbook runs on the host: only the approved files, copied out of the guest's reach
        let approved = self.approve("provision", true)?;
        let endpoint = self.running(super::reach::Purpose::Provision)?;
        crate::interrupt::install();
        let mut phases = Phases::new("provision");
        self.recorded(&mut phases, |phases| {
            let endpoint = self.before_provision(&endpoint, phases)?;
            let id = &self.loaded.id;
            let access = Access::new(&id.slug, &id.state_dir);
            access.write_config(&endpoint)?;
            let target = Target {
                loaded: self.loaded,
                access: &access,
                endpoint: &endpoint,
            };
            let result = phases.run("provision", &provision::label(&script, None), || {
                provision::run(&target, &script, &approved)
            });
            let label = if result.is_ok() {
                "provisioned"
            } else {
                "provision_failed"
            };
            Ok((result, label.to_owned()))
        })??;
        Ok(Some(phases.summary()))
    }

    /// `SNAPSHOT_BEFORE_PROVISION=yes`: the snapshot `pre-provision`, replaced, before a
    /// provisioning run on a running guest. Returns where the guest answers now (a VM was
    /// shut down for it and came back).
    fn before_provision(&self, endpoint: &Endpoint, phases: &mut Phases) -> Result<Endpoint> {
        if !self.loaded.config.snapshot_before_provision {
            return Ok(endpoint.clone());
        }
        self.save_snapshot(super::snapshot::PRE_PROVISION, true, phases)?;
        self.guest
            .live()?
            .ssh
            .ok_or_else(|| anyhow::anyhow!("the guest did not come back after its snapshot"))
    }
}
