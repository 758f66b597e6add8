//! What tmpl notes of a guest's running broker (`running.json` in its folder): enough to end
//! it, to tell whether it runs as the settings want, and, for `doctor`, whose it is.

use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::Path;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Running {
    pub pid: u32,
    pub listen: SocketAddr,
    /// Of its settings and values, salted, so a change is seen without keeping them.
    pub fingerprint: String,
    /// `INFRA_TYPE`, for `doctor`: is its guest still there?
    pub infra: String,
}

const FILE: &str = "running.json";

pub fn read(dir: &Path) -> Option<Running> {
    let text = std::fs::read_to_string(dir.join(FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

pub fn write(dir: &Path, r: &Running) -> Result<()> {
    crate::atomic::write(&dir.join(FILE), &serde_json::to_vec(r)?, 0o600)
}

pub fn forget(dir: &Path) {
    let _ = std::fs::remove_file(dir.join(FILE));
}
