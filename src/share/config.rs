//! What the file server serves and how, as tmpl writes it into the project's state for the
//! daemon (`tmpl __share CONFIG`).

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// The person's project folder.
    pub source: PathBuf,
    /// The guest's own git repository (a git dir), shown at `<share>/.git`.
    pub gitdir: PathBuf,
    /// Where the share is mounted (created if missing).
    pub mountpoint: PathBuf,
    /// `SYNC=ro`: every modification of the project folder fails.
    pub readonly: bool,
    /// `PROTECT`: read-only subtrees, relative to the project.
    pub protect: Vec<PathBuf>,
    /// Mounted with `allow_other`: the guest's other users, and libvirt's virtiofsd, get in.
    pub allow_other: bool,
}
