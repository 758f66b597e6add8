//! Where a guest's fence is held (`Place`, `Holder`): the host's own firewall, a network
//! namespace a driver's guests live in, or a keeper that holds it for a person (root's libvirt
//! hook), and what a keeper publishes of what it holds.

use super::lan;
use crate::config::Egress;
use crate::process::Cmd;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    pub table: String,
    pub egress: Egress,
    /// `EGRESS_ALLOW` as written (`Allow`'s text).
    pub allow: Vec<String>,
    /// What the host's routes closed when it was written.
    pub closed: Vec<lan::Closed>,
    /// Whether the guest's resolver ran when last checked.
    pub resolver: bool,
    /// The guest's own services it opens on the gateway (none from a hook older than them).
    #[serde(default)]
    pub services: Vec<u16>,
}

/// Something of root's that holds a person's fences (see the module's comment).
pub trait Keeper: Sync {
    /// Whether it is installed and in use, and the fix when not.
    fn ready(&self) -> Result<String, (String, String)>;
    /// What it holds now for the guest of `slug`.
    fn published(&self, slug: &str) -> Option<Published>;
}

/// A place where fence tables can be written: the host's own firewall, or a network
/// namespace a driver's guests live in (a person's rootless Podman). Drivers that hold
/// their fences somewhere of their own implement it (see `Driver::fence_holder`).
pub trait Place: Sync {
    /// For messages and for comparing holders: "on the host".
    fn name(&self) -> &'static str;
    /// The `nft` command that acts there.
    fn nft(&self) -> Cmd;
    /// `cmd` run there, in the network the guests are on (a service of the guest's that
    /// must listen on its gateway: the resolver, the credential broker).
    fn enter(&self, cmd: Cmd) -> Cmd {
        cmd
    }
    /// Whether the place is there to hold tables now (without making it).
    fn present(&self) -> bool {
        true
    }
    /// Whether this person may write tables there, and why not.
    fn writable(&self) -> Result<(), (String, String)> {
        Ok(())
    }
    /// The host itself is not local from there: its own addresses are closed as
    /// destinations like any other (a namespace joined to the world through the host).
    fn host_is_remote(&self) -> bool {
        false
    }
    /// The place can vanish and come back empty while a guest starts (a person's Podman
    /// removes its namespace when their last container stops): the fence is written
    /// again once the guest runs.
    fn may_vanish(&self) -> bool {
        false
    }
    /// What `doctor` says when the place is not there yet.
    fn absent_note(&self) -> &'static str {
        "not there yet"
    }
    /// A file naming the network namespace the place is, when the place can be replaced by
    /// a new one (the guest's resolver must then move with it).
    fn netns_file(&self) -> Option<PathBuf> {
        None
    }
    /// Root holds the fence here for the person, not tmpl (see `Keeper`).
    fn keeper(&self) -> Option<&dyn Keeper> {
        None
    }
}

/// Where a fence's tables are written.
#[derive(Clone, Copy)]
pub struct Holder(pub &'static dyn Place);

impl PartialEq for Holder {
    fn eq(&self, other: &Holder) -> bool {
        self.0.name() == other.0.name()
    }
}

impl std::fmt::Debug for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.name())
    }
}

impl std::ops::Deref for Holder {
    type Target = dyn Place;
    fn deref(&self) -> &(dyn Place + 'static) {
        self.0
    }
}

/// The host's own firewall, which only root writes.
pub struct Host;

impl Place for Host {
    fn name(&self) -> &'static str {
        "on the host"
    }
    fn nft(&self) -> Cmd {
        Cmd::new(crate::process::which_sbin("nft").unwrap_or_else(|| "nft".into()))
    }
    fn writable(&self) -> Result<(), (String, String)> {
        if crate::person::is_root() {
            return Ok(());
        }
        Err((
            "the guest's fence is on the host bridge it is on, and only root can write the host's firewall".into(),
            "run guests that need the fence as root, use a container (your rootless Podman holds its fence), or set `EGRESS=open` (no fence) in .env".into(),
        ))
    }
}

/// The host's firewall as a holder.
pub const HOST: Holder = Holder(&Host);
