//! The stand-in a guest gets instead of a secret: unique per guest and per name, random, and
//! useless anywhere but in a request that this guest's broker sends to a host that owns the
//! secret. Made once per guest and kept in its state, so the guest's variables stay the same
//! from one `up` to the next.

use anyhow::{Context as _, Result};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

/// `tmpl-placeholder-github_token-<32 hex digits>`: it says what it stands for to a person
/// reading a log in the guest, and 128 random bits say nothing to anyone else. Only
/// characters that survive any header, URL or shell quoting.
pub fn make(name: &str) -> Result<String> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("cannot read /dev/urandom for a placeholder")?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!(
        "tmpl-placeholder-{}-{hex}",
        name.to_ascii_lowercase()
    ))
}

/// Whether `s` is one of ours, of any guest (for the log: a placeholder of another guest's
/// arriving here is worth saying).
pub fn looks_like(s: &str) -> bool {
    s.starts_with("tmpl-placeholder-")
}

const FILE: &str = "placeholders.json";

/// The guest's placeholders, one per secret name, made for the names that have none yet.
/// Kept in `dir` (the broker's state folder) mode 0600.
pub fn for_names<'a>(
    dir: &Path,
    names: impl IntoIterator<Item = &'a str>,
) -> Result<BTreeMap<String, String>> {
    let path = dir.join(FILE);
    let mut known: BTreeMap<String, String> = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let mut wanted = BTreeMap::new();
    let mut changed = false;
    for name in names {
        if !known.contains_key(name) {
            known.insert(name.to_owned(), make(name)?);
            changed = true;
        }
        wanted.insert(name.to_owned(), known[name].clone());
    }
    if changed {
        crate::atomic::write(&path, &serde_json::to_vec_pretty(&known)?, 0o600)?;
    }
    Ok(wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_per_name_and_kept() {
        let a = make("GITHUB_TOKEN").unwrap();
        let b = make("GITHUB_TOKEN").unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("tmpl-placeholder-github_token-") && a.len() == 30 + 32);
        assert!(looks_like(&a));
        let dir = tempfile::tempdir().unwrap();
        let first = for_names(dir.path(), ["A", "B"]).unwrap();
        let again = for_names(dir.path(), ["B", "C"]).unwrap();
        assert_eq!(first["B"], again["B"], "kept from one up to the next");
        assert_ne!(first["A"], first["B"]);
        assert_eq!(again.len(), 2);
    }
}
