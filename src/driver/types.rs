//! What drivers and the layers above them say to each other: a guest's state and where to
//! reach it, what an operation did, what the host must have, and what `doctor` and `gc`
//! list. Plain data.

pub use crate::check::Check;
use crate::ssh::Endpoint;
use serde::Serialize;
use std::path::PathBuf;

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

impl UpOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            UpOutcome::AlreadyRunning => "already running",
            UpOutcome::Started => "started",
            UpOutcome::Created => "created",
        }
    }
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
    /// The guest's disk is allocated up to `DISK` on the host (a VM's), so a `DISK` larger
    /// than the free space is worth a warning.
    pub disk_grows: bool,
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

/// Whether getting at a guest may start a service it needs (Podman's API).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connect {
    /// Commands that act on the guest: `up`, `stop`, `rm`, `provision`, `ssh`.
    MayStart,
    /// Checks (`status`, `ls`, `doctor`, `gc`): report what is there, change nothing.
    Only,
}

/// Something a driver made that no project owns any more (see `session::leftovers`).
#[derive(Debug, Clone, Serialize)]
pub struct Leftover {
    /// What it is, in words: "VM", "disk volume", "container".
    pub kind: String,
    pub name: String,
    pub why: String,
}

/// What the host needs checked for `doctor`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Wants {
    /// The project shares its folder (`SYNC`).
    pub sync: bool,
    /// The lowest host port `PORTS` binds, when the project forwards any.
    pub lowest_port: Option<u16>,
}
