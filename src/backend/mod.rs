//! The ways a project's guest can exist, behind one surface, as Lima's drivers are.
//!
//! A `Driver` is one way (VMs through Vagrant and libvirt, containers through Podman): it owns
//! everything about that way that is not one project's, such as the rules for its settings,
//! the host checks `doctor` prints, the live state of a guest known only by its slug (`ls`),
//! and the leftovers it can find and remove. `Driver::open` gives the `Backend` of one project:
//! its lifecycle, its preview (`render`) and its pre-flight needs.
//!
//! The `Registry` lists the drivers by `INFRA_TYPE`. Commands go through it and never name a
//! driver (only `tmpl vagrant --`, which is Vagrant's by definition), so a new way to run a
//! guest is a new driver and nothing outside this folder.
//!
//! The lifecycle follows Lima's rules: `up` on a guest that exists adopts it (starts it if
//! stopped, does nothing if running); `remove` on nothing is not an error; `live` must be
//! cheap, because it answers `status`, `ssh` and `up` on a running guest.

pub mod podman;
pub mod vagrant;

use crate::config::{Config, InfraType};
use crate::context::Loaded;
use crate::project::Dirs;
use crate::ssh::{Access, Endpoint};
use crate::timing::Phases;
use anyhow::Result;
use serde::Serialize;
use std::path::PathBuf;
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

/// What creating or starting a guest needs from the host, checked before anything is made.
#[derive(Debug, Clone, Default)]
pub struct Needs {
    /// Where the guest's disk goes, for the free-space check.
    pub disk_dir: Option<PathBuf>,
    /// A host file the guest is made from, which must exist (and its size is needed too).
    pub image_file: Option<PathBuf>,
}

/// One snapshot of a guest (`tmpl snapshot list`).
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    pub name: String,
    /// When it was taken, to the second: `2026-12-02T04:10:00Z` in JSON and tables.
    pub created: jiff::Timestamp,
    /// What it takes on the host, when the tool underneath says.
    pub size_bytes: Option<u64>,
}

/// Whether a snapshot operation needs the guest stopped, and so brought back afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotNeeds {
    /// The guest keeps running (a container is paused for the moment of the commit).
    Nothing,
    /// The guest must be shut down first (a VM whose folder is shared over virtiofs).
    Shutdown,
}

/// The error for an operation on a guest that is not there.
pub fn no_guest(name: &str) -> anyhow::Error {
    crate::error::Failure::new(
        crate::error::ExitStatus::Failure,
        format!("{name} has no guest"),
    )
    .hint("`tmpl up` creates it")
    .into()
}

fn no_snapshots(what: InfraType) -> anyhow::Error {
    crate::error::Failure::new(
        crate::error::ExitStatus::Failure,
        format!("snapshots are not supported for {what} guests"),
    )
    .into()
}

/// One project's guest.
pub trait Backend {
    fn infra_type(&self) -> InfraType;
    /// The live state, cheaply (no Vagrant).
    fn live(&self) -> Result<Live>;
    /// Makes the guest run, creating it if needed; returns what it did and where to log in.
    /// It does not wait for SSH: `up` does that, once, for every kind of guest.
    fn up(&self, phases: &mut Phases) -> Result<(UpOutcome, Endpoint)>;
    /// What the guest still needs once it answers SSH, called by every `up`: a backend keeps
    /// its own record of what is done (a VM from a box: its first boot), so that this costs
    /// nothing once done and an interrupted `up` is finished by the next.
    fn settle(&self, _access: &Access, _phases: &mut Phases) -> Result<()> {
        Ok(())
    }
    /// The host key tmpl handed the guest at creation, to pin exactly (`None`: the guest
    /// makes its own, and the first contact pins it).
    fn host_key(&self) -> Option<String> {
        None
    }
    /// Waits until the guest's sshd greets. Enough for both backends, and a login would cost
    /// a key exchange with a guest still busy starting: a container's entrypoint starts sshd
    /// only once its keys are in place, and Vagrant's `up` returns only after it has logged
    /// in. A backend whose sshd may greet before a login works would wait with
    /// `access.wait_ready` instead.
    fn wait_ready(&self, access: &Access, timeout: Duration) -> Result<()> {
        access.wait_greeting(timeout)
    }
    fn stop(&self, timeout: Duration, phases: &mut Phases) -> Result<StopOutcome>;
    /// Removes the guest and what tmpl made for it on the host; returns what it removed.
    fn remove(&self, phases: &mut Phases) -> Result<Vec<String>>;
    /// Facts for `status` beyond the common ones (`vagrant_cwd`, container id, ...).
    fn details(&self) -> serde_json::Map<String, serde_json::Value> {
        serde_json::Map::new()
    }
    /// The guest's own network, which the fence holds (see `fence::net`); picked on first
    /// use. `None` when the guest has no host hop to hold (a macvlan container).
    fn network(&self) -> Result<Option<crate::fence::net::GuestNet>> {
        Ok(None)
    }
    /// What a snapshot operation needs of the guest's state (see `SnapshotNeeds`).
    fn snapshot_needs(&self) -> SnapshotNeeds {
        SnapshotNeeds::Nothing
    }
    /// The guest's snapshots, oldest first.
    fn snapshots(&self) -> Result<Vec<Snapshot>> {
        Ok(Vec::new())
    }
    /// Saves the guest as snapshot `name` (replacing one of that name with `replace`). With
    /// `SnapshotNeeds::Shutdown`, the guest is already shut down.
    fn snapshot_save(&self, _name: &str, _replace: bool) -> Result<()> {
        Err(no_snapshots(self.infra_type()))
    }
    /// Puts the guest back as it was in snapshot `name`. It is stopped afterwards unless the
    /// tool underneath restores a running guest (containers are started again).
    fn snapshot_restore(&self, _name: &str) -> Result<()> {
        Err(no_snapshots(self.infra_type()))
    }
    fn snapshot_delete(&self, _name: &str) -> Result<()> {
        Err(no_snapshots(self.infra_type()))
    }
    /// Finishes or undoes a restore that was cut short (`kill -9`), and says which.
    fn snapshot_recover(&self) -> Result<Option<String>> {
        Ok(None)
    }
    /// What creating the guest needs from the host (see `preflight`).
    fn needs(&self) -> Needs {
        Needs::default()
    }
}

/// Whether getting at a guest may start a service it needs (Podman's API).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connect {
    /// Commands that act on the guest: `up`, `stop`, `rm`, `provision`, `ssh`.
    MayStart,
    /// Checks (`status`, `ls`, `doctor`, `gc`): report what is there, change nothing.
    Only,
}

/// One line of `tmpl doctor`.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    /// A failed optional check is a warning: the project works without it, worse.
    pub required: bool,
    pub detail: String,
    pub fix: Option<String>,
}

impl Check {
    /// A check from its result: what was found, or what is wrong and its fix.
    pub fn of(name: &str, required: bool, result: Result<String, (String, String)>) -> Check {
        let (ok, detail, fix) = match result {
            Ok(detail) => (true, detail, None),
            Err((detail, fix)) => (false, detail, Some(fix)),
        };
        Check {
            name: name.into(),
            ok,
            required,
            detail,
            fix,
        }
    }
}

/// Something a driver made that no project owns any more (see `leftovers`).
#[derive(Debug, Clone, Serialize)]
pub struct Leftover {
    /// What it is, in words: "VM", "disk volume", "container".
    pub kind: String,
    pub name: String,
    pub why: String,
}

/// A rule of a driver's about settings: `key` is wrong, expected `expected`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub key: &'static str,
    pub expected: String,
    pub example: Option<String>,
}

/// What the host needs checked for `doctor`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Wants {
    /// The project shares its folder (`SYNC`).
    pub sync: bool,
}

/// Everything about one way to run guests that is not one project's.
pub trait Driver {
    fn infra_type(&self) -> InfraType;
    /// Rules of this way about settings that validate generally (`tmpl validate` runs them).
    fn validate(&self, _config: &Config) -> Vec<Rule> {
        Vec::new()
    }
    /// The host checks for `doctor`, each with its fix; never changes the host.
    fn host_checks(&self, dirs: &Dirs, wants: Wants) -> Vec<Check>;
    /// The live state of the guest of project `slug`, for `ls` when its `.env` is gone;
    /// `None` when it cannot be told (the service does not answer).
    fn state_of(&self, slug: &str) -> Option<State>;
    /// What this way made that no project of this user's owns any more.
    fn leftovers(&self, dirs: &Dirs) -> Vec<Leftover>;
    fn remove_leftover(&self, leftover: &Leftover) -> Result<()>;
    /// What `up` would hand the tool underneath for this project (`tmpl render`): creates
    /// nothing and needs no service.
    fn preview(&self, loaded: &Loaded, dirs: &Dirs) -> Result<String>;
    /// The backend of one project.
    fn open(&self, loaded: &Loaded, dirs: &Dirs, how: Connect) -> Result<Box<dyn Backend>>;
}

/// The drivers, by `INFRA_TYPE`.
pub struct Registry {
    drivers: Vec<Box<dyn Driver>>,
}

impl Registry {
    /// The drivers tmpl ships: VMs through Vagrant and libvirt, containers through Podman.
    pub fn builtin() -> Registry {
        Registry {
            drivers: vec![
                Box::new(vagrant::VagrantDriver),
                Box::new(podman::PodmanDriver),
            ],
        }
    }

    /// This registry with `driver` in place of the one of the same `INFRA_TYPE`.
    pub fn with(mut self, driver: Box<dyn Driver>) -> Registry {
        self.drivers
            .retain(|d| d.infra_type() != driver.infra_type());
        self.drivers.push(driver);
        self
    }

    pub fn driver(&self, t: InfraType) -> &dyn Driver {
        self.drivers
            .iter()
            .find(|d| d.infra_type() == t)
            .map(|d| d.as_ref())
            .expect("every INFRA_TYPE has a driver")
    }

    pub fn all(&self) -> impl Iterator<Item = &dyn Driver> {
        self.drivers.iter().map(|d| d.as_ref())
    }
}
