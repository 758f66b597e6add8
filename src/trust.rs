//! Trust on first use for a project's `.env` and provisioning file.
//!
//! Both run code on the host (Ansible runs there) or widen what a guest reaches (bridged
//! networking, ports on every interface), and when the project folder is shared with the guest
//! an agent inside could edit them. The first successful `up` records what they were; when
//! either changed since, `up` and `provision` show what changed and ask on a terminal, or
//! refuse without one, until `tmpl trust` approves it.
//!
//! The record keeps tmpl's own settings in clear (they are shown by `status` anyway) and only
//! a hash of every other value, which may be an application secret.

use crate::config::keys;
use crate::context::Loaded;
use crate::error::{code, Failure};
use anyhow::Result;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// tmpl keys with their values; other keys with a hash of their value.
    pub settings: BTreeMap<String, String>,
    pub provision: Option<(PathBuf, String)>,
}

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn current(loaded: &Loaded) -> Record {
    let mut settings = BTreeMap::new();
    for e in &loaded.project.env.entries {
        let v = if keys::is_tmpl_key(&e.key) {
            e.value.clone()
        } else {
            format!("sha256:{}", &sha(e.value.as_bytes())[..16])
        };
        settings.insert(e.key.clone(), v);
    }
    let provision = loaded.config.provision.as_ref().map(|p| {
        let digest = std::fs::read(&p.path).map(|b| sha(&b)).unwrap_or_default();
        (p.relative.clone(), digest)
    });
    Record {
        settings,
        provision,
    }
}

fn path(loaded: &Loaded) -> PathBuf {
    loaded.id.state_dir.join("trust.json")
}

pub fn load(loaded: &Loaded) -> Option<Record> {
    serde_json::from_str(&std::fs::read_to_string(path(loaded)).ok()?).ok()
}

pub fn record(loaded: &Loaded) -> Result<()> {
    let text = serde_json::to_string_pretty(&current(loaded))?;
    crate::state::write_atomic(&path(loaded), text.as_bytes(), 0o600)
}

/// What changed between `old` and `new`, one line each.
pub fn changes(old: &Record, new: &Record) -> Vec<String> {
    let mut out = Vec::new();
    for (k, v) in &new.settings {
        match old.settings.get(k) {
            None if keys::is_tmpl_key(k) => out.push(format!(".env: {k}={v} (new)")),
            None => out.push(format!(".env: {k} (new)")),
            Some(o) if o != v && keys::is_tmpl_key(k) => out.push(format!(".env: {k}: {o} -> {v}")),
            Some(o) if o != v => out.push(format!(".env: {k} (value changed)")),
            _ => {}
        }
    }
    for k in old
        .settings
        .keys()
        .filter(|k| !new.settings.contains_key(*k))
    {
        out.push(format!(".env: {k} (removed)"));
    }
    match (&old.provision, &new.provision) {
        (Some((op, oh)), Some((np, nh))) if op == np && oh != nh => {
            out.push(format!("{} (content changed)", np.display()))
        }
        (o, n) if o != n => out.push(format!(
            "PROVISION_SCRIPT: {} -> {}",
            o.as_ref()
                .map(|p| p.0.display().to_string())
                .unwrap_or_else(|| "none".into()),
            n.as_ref()
                .map(|p| p.0.display().to_string())
                .unwrap_or_else(|| "none".into())
        )),
        _ => {}
    }
    out
}

/// Passes when nothing was recorded yet (first use) or nothing changed; asks on a terminal;
/// refuses otherwise (exit 77).
pub fn check(loaded: &Loaded, verb: &str) -> Result<()> {
    let Some(old) = load(loaded) else {
        return Ok(());
    };
    let new = current(loaded);
    let diff = changes(&old, &new);
    if diff.is_empty() {
        return Ok(());
    }
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if interactive {
        crate::ui::warn(format!(
            "{} changed since it was last trusted:",
            loaded.id.name
        ));
        for d in &diff {
            eprintln!("  {d}");
        }
        let answer = console::Term::stderr()
            .write_str("Trust these changes and go on? [y/N] ")
            .and_then(|_| console::Term::stderr().read_line())
            .unwrap_or_default();
        if matches!(answer.trim(), "y" | "Y" | "yes") {
            return record(loaded);
        }
    }
    let mut f = Failure::new(
        code::UNTRUSTED,
        format!(
            "not running `tmpl {verb}`: the project's settings changed since they were trusted"
        ),
    );
    for d in diff {
        f = f.detail(format!("- {d}"));
    }
    Err(f
        .hint("review the changes, then `tmpl trust` to approve them")
        .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(pairs: &[(&str, &str)], prov: Option<(&str, &str)>) -> Record {
        Record {
            settings: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            provision: prov.map(|(p, h)| (PathBuf::from(p), h.to_string())),
        }
    }

    #[test]
    fn describes_changes_without_revealing_other_values() {
        let old = rec(
            &[
                ("NETWORK_TYPE", "default"),
                ("API_KEY", "sha256:aaaa"),
                ("GONE", "sha256:x"),
            ],
            Some(("p.yml", "1")),
        );
        let new = rec(
            &[
                ("NETWORK_TYPE", "bridge"),
                ("API_KEY", "sha256:bbbb"),
                ("BRIDGE", "br0"),
            ],
            Some(("p.yml", "2")),
        );
        let d = changes(&old, &new);
        assert!(
            d.contains(&".env: NETWORK_TYPE: default -> bridge".to_string()),
            "{d:?}"
        );
        assert!(d.contains(&".env: API_KEY (value changed)".to_string()));
        assert!(d.contains(&".env: BRIDGE=br0 (new)".to_string()));
        assert!(d.contains(&".env: GONE (removed)".to_string()));
        assert!(d.contains(&"p.yml (content changed)".to_string()));
        assert!(changes(&old, &old).is_empty());
    }
}
