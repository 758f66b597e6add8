//! The projects tmpl has brought up, so `tmpl ls` can show them all: one JSON file in the
//! state dir, keyed by slug, written atomically.

use super::Loaded;
use crate::error::{ExitStatus, Failure};
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub dir: PathBuf,
    pub env_file: PathBuf,
    pub infra_type: String,
}

pub fn path(state_root: &Path) -> PathBuf {
    state_root.join("registry.json")
}

pub fn load(state_root: &Path) -> Result<BTreeMap<String, Entry>> {
    let p = path(state_root);
    match std::fs::read_to_string(&p) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| {
            Failure::new(
                ExitStatus::Failure,
                format!("{} is corrupt: {e}", p.display()),
            )
            .hint(format!(
                "move it away (`mv {0} {0}.bad`); `tmpl up` in each project rebuilds it",
                p.display()
            ))
            .into()
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(e.into()),
    }
}

fn save(state_root: &Path, map: &BTreeMap<String, Entry>) -> Result<()> {
    crate::atomic::write(
        &path(state_root),
        serde_json::to_string_pretty(map)?.as_bytes(),
        0o600,
    )
}

/// Moves a corrupt registry aside (it only lists projects; `up` in each rebuilds it).
fn load_or_reset(state_root: &Path) -> Result<BTreeMap<String, Entry>> {
    match load(state_root) {
        Ok(m) => Ok(m),
        Err(e) if path(state_root).is_file() => {
            let aside = state_root.join(format!("registry.json.bad-{}", std::process::id()));
            std::fs::rename(path(state_root), &aside)?;
            crate::ui::warn(format!(
                "{e:#}; moved it to {} and started a new one",
                aside.display()
            ));
            Ok(BTreeMap::new())
        }
        Err(e) => Err(e),
    }
}

pub fn remember(state_root: &Path, loaded: &Loaded) -> Result<()> {
    let mut map = load_or_reset(state_root)?;
    let entry = Entry {
        name: loaded.id.name.clone(),
        dir: loaded.project.dir.clone(),
        env_file: loaded.project.env_path.clone(),
        infra_type: loaded.config.infra_type.to_string(),
    };
    if map.get(&loaded.id.slug) != Some(&entry) {
        map.insert(loaded.id.slug.clone(), entry);
        save(state_root, &map)?;
    }
    Ok(())
}

pub fn forget(state_root: &Path, slug: &str) -> Result<()> {
    let mut map = load_or_reset(state_root)?;
    if map.remove(slug).is_some() {
        save(state_root, &map)?;
    }
    Ok(())
}
