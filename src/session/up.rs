//! `up`: make the project's guest run, whatever state it is in, reachable and provisioned.
//! The order matters: nothing is made before the settings are approved, the host checked and
//! every secret found a value, and the guest never runs before its fence is in force. The
//! credential broker starts once the guest's network exists, and the guest gets its side of
//! it before anything (provisioning) runs there.

use super::open::Session;
use super::preflight;
use super::provision::Provisioning;
use crate::driver::{State, UpOutcome};
use crate::fence::net::GuestNet;
use crate::share::daemon::Started;
use crate::timing::Phases;
use crate::ui;
use anyhow::Result;

/// What `up` did.
pub struct UpReport {
    pub outcome: UpOutcome,
    /// Whether provisioning ran.
    pub provisioned: bool,
    /// `up took 58.2s (create 51.0s, ssh 5.1s, provision 2.1s)`.
    pub summary: String,
}

impl Session<'_> {
    pub fn up(&self, provisioning: Provisioning) -> Result<UpReport> {
        let state = self.guest.live()?.state;
        let will_provision = self.provision_wanted(state, provisioning);
        let approved = self.approve("up", will_provision)?;
        if state != State::Running {
            preflight::check(self.loaded, &self.guest.needs(), state == State::NotCreated)?;
        }
        self.check_values()?;
        crate::interrupt::install();
        let mut phases = Phases::new("up");
        let (outcome, provisioned) = self.recorded(&mut phases, |phases| {
            let net = self.fence(phases)?;
            let served = self.serve_folder(phases)?;
            if state == State::Running && served.is_some_and(|s| s != Started::Kept) {
                // the guest holds the mount of a server that is gone: it starts again on the
                // new one, with its data
                phases.run(
                    "stop",
                    "restarting the guest on its new file server",
                    || {
                        self.guest
                            .stop(std::time::Duration::from_secs(60), &mut Phases::new("stop"))
                    },
                )?;
            }
            let (outcome, endpoint) = self.guest.up(phases)?;
            self.fence_again(net.as_ref())?;
            let side = self.broker(net.as_ref(), phases)?;
            let access = self.reach(outcome, &endpoint, phases)?;
            self.give_secrets(&access, &endpoint, side.as_ref(), outcome, phases)?;
            crate::project::list::remember(&self.dirs.state, self.loaded)?;
            self.dirs.keep_private();
            let provisioned = self.provision_after_up(
                &approved,
                &access,
                &endpoint,
                outcome,
                provisioning,
                phases,
            );
            let label = match &provisioned {
                Err(_) => "provision_failed",
                Ok(_) => outcome.as_str(),
            };
            Ok(((outcome, provisioned), label.to_owned()))
        })?;
        let summary = phases.summary();
        match provisioned {
            Ok(provisioned) => Ok(UpReport {
                outcome,
                provisioned,
                summary,
            }),
            Err(e) => {
                ui::info(summary);
                Err(e)
            }
        }
    }

    /// The fence goes up before the guest runs, on every `up`: a rule the host lost (a
    /// reboot, a flushed ruleset) is back before the guest can use the gap.
    fn fence(&self, phases: &mut Phases) -> Result<Option<GuestNet>> {
        let Some(network) = self.guest.network() else {
            return Ok(None);
        };
        let Some(net) = network.network()? else {
            return Ok(None);
        };
        let holder = self.driver.fence_holder();
        phases.run("fence", "fencing the guest's network", || {
            crate::fence::enforce(self.loaded, &net, holder, &self.services())
        })?;
        Ok(Some(net))
    }

    /// Where a fence's place can vanish while the guest starts (a person's Podman removes
    /// its network namespace, fence and all, when their last container stops, and makes a
    /// new one at the next start), a start that raced another project's stop may be in a
    /// place without it: checked again once the guest runs. Where root's keeper holds it
    /// (a person's VM), what it holds is checked once the guest's network runs.
    fn fence_again(&self, net: Option<&GuestNet>) -> Result<()> {
        let holder = self.driver.fence_holder();
        match net {
            Some(net) if holder.may_vanish() => {
                crate::fence::enforce(self.loaded, net, holder, &self.services())
            }
            Some(_) => crate::fence::confirm(self.loaded, holder, &self.services()),
            None => Ok(()),
        }
    }
}
