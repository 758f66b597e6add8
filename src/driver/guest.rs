//! One project's guest, as small capabilities, the way Lima splits its driver interface: the
//! lifecycle every driver has, how tmpl reaches the guest once it runs, and the optional
//! network the fence holds and snapshots. A driver without a capability says so by
//! returning `None`, and the session answers for it.
//!
//! The lifecycle follows Lima's rules: `up` on a guest that exists adopts it (starts it if
//! stopped, does nothing if running); `remove` on nothing is not an error; `live` must be
//! cheap, because it answers `status`, `ssh` and `up` on a running guest.

use super::types::{Live, Needs, Snapshot, SnapshotNeeds, StopOutcome, UpOutcome};
use crate::fence::net::GuestNet;
use crate::ssh::{Access, Endpoint};
use crate::timing::Phases;
use anyhow::Result;
use std::time::Duration;

/// Making the guest exist and run, and ending it.
pub trait Lifecycle {
    /// The live state, cheaply (no Vagrant).
    fn live(&self) -> Result<Live>;
    /// Makes the guest run, creating it if needed; returns what it did and where to log in.
    /// It does not wait for SSH: the session does that, once, for every kind of guest.
    fn up(&self, phases: &mut Phases) -> Result<(UpOutcome, Endpoint)>;
    fn stop(&self, timeout: Duration, phases: &mut Phases) -> Result<StopOutcome>;
    /// Removes the guest and what the driver made for it on the host; returns what it
    /// removed.
    fn remove(&self, phases: &mut Phases) -> Result<Vec<String>>;
    /// What creating the guest needs from the host (see `session::preflight`).
    fn needs(&self) -> Needs {
        Needs::default()
    }
    /// Facts for `status` beyond the common ones (`vagrant_cwd`, container id, ...).
    fn details(&self) -> serde_json::Map<String, serde_json::Value> {
        serde_json::Map::new()
    }
}

/// How tmpl reaches a running guest over SSH.
pub trait Reach {
    /// The host key tmpl handed the guest at creation, to pin exactly (`None`: the guest
    /// makes its own, and the first contact pins it).
    fn host_key(&self) -> Option<String> {
        None
    }
    /// Waits until the guest's sshd greets. Enough for both built-in drivers, and a login
    /// would cost a key exchange with a guest still busy starting: a container's entrypoint
    /// starts sshd only once its keys are in place, and Vagrant's `up` returns only after it
    /// has logged in. A driver whose sshd may greet before a login works would wait with
    /// `access.wait_ready` instead.
    fn wait_ready(&self, access: &Access, timeout: Duration) -> Result<()> {
        access.wait_greeting(timeout)
    }
    /// What the guest still needs once it answers SSH, called by every `up`: a driver keeps
    /// its own record of what is done (a VM from a box: its first boot), so that this costs
    /// nothing once done and an interrupted `up` is finished by the next.
    fn settle(&self, _access: &Access, _phases: &mut Phases) -> Result<()> {
        Ok(())
    }
}

/// The guest's own network, which the fence holds (see `fence::net`).
pub trait Network {
    /// Picked on first use and kept. `None` when the guest has no host hop to hold (a
    /// macvlan container).
    fn network(&self) -> Result<Option<GuestNet>>;
}

/// Snapshots of the guest's own disk, never the project folder.
pub trait Snapshots {
    /// What an operation needs of the guest's state (see `SnapshotNeeds`).
    fn snapshot_needs(&self) -> SnapshotNeeds {
        SnapshotNeeds::Nothing
    }
    /// The guest's snapshots, oldest first.
    fn list(&self) -> Result<Vec<Snapshot>>;
    /// Saves the guest as snapshot `name` (replacing one of that name with `replace`). With
    /// `SnapshotNeeds::Shutdown`, the guest is already shut down.
    fn save(&self, name: &str, replace: bool) -> Result<()>;
    /// Puts the guest back as it was in snapshot `name`. It is stopped afterwards unless the
    /// tool underneath restores a running guest (containers are started again).
    fn restore(&self, name: &str) -> Result<()>;
    fn delete(&self, name: &str) -> Result<()>;
    /// Finishes or undoes a restore that was cut short (`kill -9`), and says which.
    fn recover(&self) -> Result<Option<String>> {
        Ok(None)
    }
}

/// One project's guest: its lifecycle and access, and the capabilities it has.
pub trait Guest: Lifecycle + Reach {
    fn network(&self) -> Option<&dyn Network> {
        None
    }
    fn snapshots(&self) -> Option<&dyn Snapshots> {
        None
    }
}
