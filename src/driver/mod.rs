//! The surface every way of running a guest implements, and the registry that finds one by
//! the name `INFRA_TYPE` gives, as Lima's `pkg/driver` and `pkg/registry` do.
//!
//! A `Driver` is one way (VMs through Vagrant and libvirt, containers through Podman; the
//! drivers themselves are in `backend/`). It owns everything about that way that is not one
//! project's: its rules about settings, what its settings make the host hand the guest
//! (for approval), the host checks `doctor` prints (a person's included), where its
//! network fence is held, the live state of a guest known only by its slug (`ls`), its
//! leftovers, the preview for `render`, and the tool underneath (`tmpl vagrant --`).
//! `Driver::open` gives one project's `Guest` (see `guest`).
//!
//! Nothing above this layer names a driver, so a new way to run guests is one folder under
//! `backend/` and one line in its list.

pub mod guest;
pub mod types;

pub use guest::{Guest, Lifecycle, Network, Reach, Snapshots};
pub use types::*;

use crate::config::{Config, Rule};
use crate::error::{ExitStatus, Failure};
use crate::fence::Holder;
use crate::project::{Dirs, Loaded};
use anyhow::Result;

/// The tool underneath a driver, run against the project's guest with the person's own
/// arguments (`tmpl vagrant -- ARGS`).
pub trait Tool {
    /// The tmpl command that runs it, for messages (`vagrant`).
    fn command(&self) -> &'static str;
    /// Runs the tool with `args`; returns its exit code.
    fn run(&self, args: &[String]) -> Result<i32>;
}

/// Everything about one way to run guests that is not one project's.
pub trait Driver {
    /// The `INFRA_TYPE` that names it.
    fn name(&self) -> &'static str;
    /// What its guests are called in messages: "VM", "container".
    fn noun(&self) -> &'static str;
    /// Words people type for it by mistake (`docker` for containers), for "did you mean".
    fn also_called(&self) -> &'static [&'static str] {
        &[]
    }
    /// Its rules about settings that hold generally (`tmpl validate` runs them).
    fn validate(&self, _config: &Config) -> Vec<Rule> {
        Vec::new()
    }
    /// What the settings make the host hand the guest (a host file as its image), for the
    /// approval to show.
    fn exposure(&self, _loaded: &Loaded, _home: Option<&std::path::Path>) -> Vec<String> {
        Vec::new()
    }
    /// The host checks for `doctor`, each with its fix, including what an ordinary person
    /// lacks for this way; never changes the host.
    fn host_checks(&self, dirs: &Dirs, wants: Wants) -> Vec<Check>;
    /// Where the network fence of its guests is written, for the person running tmpl.
    fn fence_holder(&self) -> Holder;
    /// `cmd`, run where this driver's guests take their mounts from: the file server of a
    /// guest's project folder runs there (see `share`). The host's own namespace unless a
    /// driver's guests live in another (a person's rootless Podman).
    fn share_enter(&self, cmd: crate::process::Cmd) -> crate::process::Cmd {
        cmd
    }
    /// A hook the tool underneath runs as root to hold a person's fences (`tmpl
    /// __fence-hook NAME ARGS...`); `None` for a driver without one.
    fn fence_hook(&self, _args: &[String]) -> Option<Result<()>> {
        None
    }
    /// The live state of the guest of project `slug`, for `ls` when its `.env` is gone;
    /// `None` when it cannot be told (the service does not answer).
    fn state_of(&self, slug: &str) -> Option<State>;
    /// What this way made that no project of this user's owns any more.
    fn leftovers(&self, dirs: &Dirs) -> Vec<Leftover>;
    fn remove_leftover(&self, leftover: &Leftover) -> Result<()>;
    /// What `up` would hand the tool underneath for this project (`tmpl render`): creates
    /// nothing and needs no service.
    fn preview(&self, loaded: &Loaded, dirs: &Dirs) -> Result<String>;
    /// The guest of one project.
    fn open(&self, loaded: &Loaded, dirs: &Dirs, how: Connect) -> Result<Box<dyn Guest>>;
    /// The tool underneath, if the driver has one to offer.
    fn tool(&self, _loaded: &Loaded, _dirs: &Dirs) -> Option<Box<dyn Tool>> {
        None
    }
}

/// The drivers, by name.
pub struct Registry {
    drivers: Vec<Box<dyn Driver>>,
}

impl Registry {
    pub fn new(drivers: Vec<Box<dyn Driver>>) -> Registry {
        Registry { drivers }
    }

    /// This registry with `driver` added, in place of one of the same name.
    pub fn with(mut self, driver: Box<dyn Driver>) -> Registry {
        self.drivers.retain(|d| d.name() != driver.name());
        self.drivers.push(driver);
        self
    }

    pub fn get(&self, name: &str) -> Option<&dyn Driver> {
        self.drivers
            .iter()
            .find(|d| d.name() == name)
            .map(|d| d.as_ref())
    }

    /// The driver of a project whose settings were validated against this registry.
    pub fn of(&self, loaded: &Loaded) -> Result<&dyn Driver> {
        let name = &loaded.config.infra_type;
        self.get(name).ok_or_else(|| {
            Failure::new(
                ExitStatus::Config,
                format!("no driver called `{name}` (INFRA_TYPE)"),
            )
            .hint(format!("INFRA_TYPE is one of: {}", self.names().join(", ")))
            .into()
        })
    }

    pub fn all(&self) -> impl Iterator<Item = &dyn Driver> {
        self.drivers.iter().map(|d| d.as_ref())
    }

    fn names(&self) -> Vec<&str> {
        self.drivers.iter().map(|d| d.name()).collect()
    }
}

impl crate::config::Drivers for Registry {
    fn names(&self) -> Vec<&str> {
        Registry::names(self)
    }

    fn suggest(&self, typed: &str) -> Option<&str> {
        let typed = typed.to_ascii_lowercase();
        self.all()
            .find(|d| d.name() == typed || d.also_called().contains(&typed.as_str()))
            .map(|d| d.name())
    }

    fn rules(&self, config: &Config) -> Vec<Rule> {
        self.get(&config.infra_type)
            .map(|d| d.validate(config))
            .unwrap_or_default()
    }
}

/// The error for an operation on a guest that is not there.
pub fn no_guest(name: &str) -> anyhow::Error {
    Failure::new(ExitStatus::Failure, format!("{name} has no guest"))
        .hint("`tmpl up` creates it")
        .into()
}
