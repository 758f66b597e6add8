//! The two ways a project's guest exists, behind one narrow lifecycle interface: a VM
//! (Vagrant + libvirt) or a container (Podman).
//!
//! Like Lima's drivers: `up` on a guest that exists adopts it (starts it if stopped, does
//! nothing if running); `remove` on nothing is not an error. `live` must be cheap: it answers
//! `status`, `ssh` and `up` on a running guest, so it never starts Vagrant.

pub mod podman;
pub mod vagrant;

use crate::config::InfraType;
use crate::context::Loaded;
use crate::ssh::Endpoint;
use crate::timing::Phases;
use anyhow::Result;
use serde::Serialize;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Running,
    Stopped,
    NotCreated,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Running => "running",
            State::Stopped => "stopped",
            State::NotCreated => "not_created",
        }
    }
}

/// What the host says about the guest right now.
#[derive(Debug, Clone, Serialize)]
pub struct Live {
    pub state: State,
    /// The guest's own address on its network, when known.
    pub address: Option<String>,
    /// Where to log in, for a running guest.
    pub ssh: Option<Endpoint>,
}

impl Live {
    pub fn absent() -> Live {
        Live {
            state: State::NotCreated,
            address: None,
            ssh: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpOutcome {
    AlreadyRunning,
    Started,
    Created,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopOutcome {
    Stopped { forced: bool },
    AlreadyStopped,
    NotCreated,
}

pub trait Backend {
    fn infra_type(&self) -> InfraType;
    /// The live state, cheaply (no Vagrant).
    fn live(&self) -> Result<Live>;
    /// Makes the guest run, creating it if needed; returns what it did and where to log in.
    fn up(&self, phases: &mut Phases) -> Result<(UpOutcome, Endpoint)>;
    fn stop(&self, timeout: Duration, phases: &mut Phases) -> Result<StopOutcome>;
    /// Removes the guest and what tmpl made for it on the host; returns what it removed.
    fn remove(&self, phases: &mut Phases) -> Result<Vec<String>>;
    /// Facts for `status` beyond the common ones (`vagrant_cwd`, container id, ...).
    fn details(&self) -> serde_json::Map<String, serde_json::Value> {
        serde_json::Map::new()
    }
}

/// Whether getting at the backend may start a service it needs (Podman's API).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connect {
    /// Commands that act on the guest: `up`, `stop`, `rm`, `provision`, `ssh`.
    MayStart,
    /// Checks (`status`, `ls`, `doctor`, `gc`): report what is there, change nothing.
    Only,
}

/// The backend for this project's `INFRA_TYPE`.
pub fn for_project(loaded: &Loaded, how: Connect) -> Result<Box<dyn Backend>> {
    Ok(match loaded.config.infra_type {
        InfraType::Container => Box::new(podman::Podman::connect(
            loaded.clone(),
            how == Connect::MayStart,
        )?),
        InfraType::Vm => Box::new(vagrant::Vagrant::new(loaded.clone())),
    })
}

/// `Duration` as `12.3s`, for summaries.
pub fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}
