//! Reaching a guest over SSH: the one place its config, host keys and readiness are set up
//! after it was brought up (`up`, and a snapshot bringing one back), and the answer to
//! "where does the running guest answer now" for the commands that only log in.

use super::open::Session;
use crate::driver::{State, UpOutcome};
use crate::error::{ExitStatus, Failure};
use crate::ssh::{Access, Endpoint};
use crate::timing::Phases;
use anyhow::Result;
use std::time::Duration;

/// How long a new or restarted guest may take to accept SSH (software emulation is slow).
const SSH_TIMEOUT: Duration = Duration::from_secs(300);

impl Session<'_> {
    /// Sets SSH up for a guest that `up` just brought up: a new guest has new host keys, and
    /// the config follows the guest wherever it is now. Then what the driver still needs once
    /// the guest answers (`Reach::settle`).
    pub(super) fn reach(
        &self,
        outcome: UpOutcome,
        endpoint: &Endpoint,
        phases: &mut Phases,
    ) -> Result<Access> {
        let id = &self.loaded.id;
        let access = Access::new(&id.slug, &id.state_dir);
        if outcome == UpOutcome::Created {
            access.forget_host_keys();
            if let Some(public) = self.guest.host_key() {
                access.pin_host_key(&public)?;
            }
        }
        let moved = access.write_config(endpoint)?;
        // A running guest is only trusted to be reachable when nothing changed and its SSH
        // port accepts a connection: an earlier `up` may have been interrupted while sshd
        // started.
        if outcome != UpOutcome::AlreadyRunning || moved || !crate::ssh::port_open(endpoint) {
            phases.run("ssh", "waiting for SSH", || {
                self.guest.wait_ready(&access, SSH_TIMEOUT)
            })?;
        }
        self.guest.settle(&access, phases)?;
        Ok(access)
    }

    /// Brings the guest up again after a step that stopped or replaced it (a snapshot), and
    /// reaches it as `up` does. `as_started`: a guest that came back running from the step
    /// itself keeps its host keys, whatever its driver calls it.
    pub(super) fn bring_back(&self, phases: &mut Phases, as_started: bool) -> Result<()> {
        let (outcome, endpoint) = self.guest.up(phases)?;
        let outcome = if as_started {
            UpOutcome::Started
        } else {
            outcome
        };
        let access = self.reach(outcome, &endpoint, phases)?;
        // a snapshot may hold the guest as it was before it had its placeholders
        let side = self.side_as_it_stands()?;
        self.give_secrets(
            &access,
            &endpoint,
            side.as_ref(),
            UpOutcome::Started,
            phases,
        )?;
        Ok(())
    }

    /// Where the running guest answers now, or why it cannot: not created, stopped, or no
    /// address yet, said for what needs it.
    pub(super) fn running(&self, purpose: Purpose) -> Result<Endpoint> {
        let live = self.guest.live()?;
        let name = &self.loaded.id.name;
        let (what, hint) = match (live.state, live.ssh, purpose) {
            (State::Running, Some(e), _) => return Ok(e),
            (State::Running, None, _) => (
                format!("{name} is running but has no SSH address yet"),
                "wait a moment, or run `tmpl up`, which waits for it",
            ),
            (State::Stopped, _, Purpose::Login) => {
                (format!("{name} is stopped"), "`tmpl up` starts it")
            }
            (State::Stopped, _, Purpose::Provision) => (
                format!("{name} is stopped: provisioning needs a running guest"),
                "`tmpl up` starts it (and provisions it if the last run failed)",
            ),
            (State::NotCreated, _, Purpose::Login) => {
                (format!("{name} has no guest"), "`tmpl up` creates it")
            }
            (State::NotCreated, _, Purpose::Provision) => (
                format!("{name} has no guest to provision"),
                "`tmpl up` creates it and provisions it",
            ),
        };
        Err(Failure::new(ExitStatus::Failure, what).hint(hint).into())
    }
}

/// What a running guest is wanted for, so that "not running" says the right thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Purpose {
    Login,
    Provision,
}

/// Where the project's running guest answers now, for a command that only logs in (`ssh`):
/// asks its driver, with no lock (a login never changes the guest).
pub fn running_endpoint(
    loaded: &crate::project::Loaded,
    dirs: &crate::project::Dirs,
    registry: &crate::driver::Registry,
) -> Result<Endpoint> {
    let driver = registry.of(loaded)?;
    let guest = driver.open(loaded, dirs, crate::driver::Connect::MayStart)?;
    let session = Session {
        loaded,
        dirs,
        driver,
        guest,
        lock: None,
    };
    session.running(Purpose::Login)
}
