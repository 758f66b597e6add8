//! The approval as it is kept: one record per folder under `$XDG_STATE_HOME/tmpl/trust/`,
//! named by a hash of the canonical folder, next to the approved copy of its provisioning set.
//!
//! The record keeps tmpl's settings in clear and a hash of every other value (often a secret),
//! and which variables of tmpl's environment each key may take: a `.env` gets nothing from
//! the environment that an approval did not name (see `config::Grants`).

use super::survey::Set;
use crate::config::Grants;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub folder: PathBuf,
    pub settings: BTreeMap<String, String>,
    /// Key → the variables of tmpl's environment its value may take.
    #[serde(default)]
    pub environment: BTreeMap<String, BTreeSet<String>>,
    /// The provisioning set last approved (kept when only settings are approved).
    pub provision: Option<Set>,
}

/// `$XDG_STATE_HOME/tmpl/trust/<hash of the folder>/`.
pub fn dir(state_root: &Path, folder: &Path) -> PathBuf {
    let hex: String = Sha256::digest(folder.as_os_str().as_encoded_bytes())
        .iter()
        .take(12)
        .map(|b| format!("{b:02x}"))
        .collect();
    state_root.join("trust").join(hex)
}

pub(super) fn record_path(state_root: &Path, folder: &Path) -> PathBuf {
    dir(state_root, folder).join("approval.json")
}

/// Where the approved copy of the provisioning set lives.
pub(super) fn copy_dir(state_root: &Path, folder: &Path) -> PathBuf {
    dir(state_root, folder).join("provision")
}

pub fn load(state_root: &Path, folder: &Path) -> Option<Approval> {
    let text = std::fs::read_to_string(record_path(state_root, folder)).ok()?;
    serde_json::from_str::<Approval>(&text)
        .ok()
        .filter(|a| a.folder == folder)
}

/// What the folder's `.env` may take from tmpl's environment: what its approval named.
pub fn granted(state_root: &Path, folder: &Path) -> Grants {
    Grants::Only(
        load(state_root, folder)
            .map(|a| a.environment)
            .unwrap_or_default(),
    )
}

/// Approvals whose folder is gone (for `gc`).
pub fn stale(state_root: &Path) -> Vec<(PathBuf, PathBuf)> {
    std::fs::read_dir(state_root.join("trust"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let text = std::fs::read_to_string(e.path().join("approval.json")).ok()?;
            let a: Approval = serde_json::from_str(&text).ok()?;
            crate::gone::gone(&a.folder).then(|| (e.path(), a.folder))
        })
        .collect()
}
