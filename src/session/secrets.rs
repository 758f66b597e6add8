//! The credential broker's steps in a guest's life (see `broker`): its port in the fence,
//! its values checked before anything is made, the broker started once the guest's network
//! exists, and the guest's side given once the guest answers SSH.

use super::open::Session;
use crate::broker::guest::Side;
use crate::driver::UpOutcome;
use crate::error::{ExitStatus, Failure};
use crate::fence::net::GuestNet;
use crate::ssh::{Access, Endpoint};
use crate::timing::Phases;
use anyhow::Result;

impl Session<'_> {
    /// TCP ports of the guest's own services on its gateway, for the fence.
    pub(super) fn services(&self) -> Vec<u16> {
        crate::broker::services(&self.loaded.config)
    }

    /// Every secret has a value: checked before anything is made, so a missing one costs
    /// nothing but the message.
    pub(super) fn check_values(&self) -> Result<()> {
        let names: Vec<&str> = self
            .loaded
            .config
            .secrets
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        if names.is_empty() {
            return Ok(());
        }
        crate::broker::values::read(&names, &self.dirs.config).map(|_| ())
    }

    /// Starts the guest's broker (or checks the one that runs) once the guest's network is
    /// there; ends one the settings no longer want.
    pub(super) fn broker(
        &self,
        net: Option<&GuestNet>,
        phases: &mut Phases,
    ) -> Result<Option<Side>> {
        let secrets = !self.loaded.config.secrets.is_empty();
        let Some(net) = net else {
            if secrets {
                return Err(Failure::new(
                    ExitStatus::Config,
                    format!("SECRETS needs a {} on a network of its own, where the credential broker listens", self.driver.noun()),
                )
                .hint("use `NETWORK_TYPE=default` (a bridged container is on the LAN, past the host)")
                .into());
            }
            crate::broker::stop(&self.loaded.id.state_dir);
            return Ok(None);
        };
        if !secrets {
            crate::broker::stop(&self.loaded.id.state_dir);
            return Ok(None);
        }
        let holder = self.driver.fence_holder();
        crate::broker::ensure(self.loaded, net, holder, &self.dirs.config, phases)
    }

    /// The guest's side of the broker (or its removal), over SSH.
    pub(super) fn give_secrets(
        &self,
        access: &Access,
        endpoint: &Endpoint,
        side: Option<&Side>,
        outcome: UpOutcome,
        phases: &mut Phases,
    ) -> Result<()> {
        let dir = crate::broker::dir(&self.loaded.id.state_dir);
        let fresh = outcome != UpOutcome::AlreadyRunning;
        if !crate::broker::guest::needed(&dir, side, fresh) {
            return Ok(());
        }
        phases.run("secrets", "giving the guest its placeholders", || {
            crate::broker::guest::settle(access, &endpoint.user, &dir, side, fresh)
        })
    }

    /// The guest's side for a guest brought back by a snapshot: what the broker's folder
    /// says, no values needed (the broker itself is `up`'s).
    pub(super) fn side_as_it_stands(&self) -> Result<Option<Side>> {
        let Some(network) = self.guest.network() else {
            return Ok(None);
        };
        match network.network()? {
            Some(net) => crate::broker::side(self.loaded, &net),
            None => Ok(None),
        }
    }
}
