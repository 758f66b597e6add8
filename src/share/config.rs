//! What the file server serves and how, as tmpl writes it into the project's state for the
//! daemon (`tmpl __share CONFIG`), which reads and checks it at its start.

use super::protect;
use crate::error::Failure;
use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The person's project folder.
    pub source: PathBuf,
    /// The guest's own repository (a git dir), shown at `<share>/.git` in place of the
    /// project's.
    pub gitdir: PathBuf,
    /// Where the share is mounted (made if missing). It must sit inside a folder only its
    /// owner can enter: `allow_other` opens the mount to anyone who can reach it.
    pub mountpoint: PathBuf,
    /// SYNC=ro: every change is refused with EROFS, in the repository too.
    #[serde(default)]
    pub readonly: bool,
    /// PROTECT paths, relative to the project: read-only subtrees, matched by name.
    #[serde(default)]
    pub protect: Vec<PathBuf>,
    /// Mount with `allow_other`: other users of a container, and libvirt's virtiofsd (root),
    /// reach the share. An ordinary user needs `user_allow_other` in /etc/fuse.conf for it.
    #[serde(default = "yes")]
    pub allow_other: bool,
}

fn yes() -> bool {
    true
}

impl Config {
    /// Reads and checks the config at `path`.
    pub fn load(path: &Path) -> Result<Config> {
        let place = format!("--> {}", path.display());
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the share's config {}", path.display()))?;
        let config: Config = serde_json::from_str(&text).map_err(|e| {
            Failure::config(format!("the share's config is not valid: {e}")).detail(&place)
        })?;
        config
            .check()
            .map_err(|msg| Failure::config(msg).detail(place))?;
        Ok(config)
    }

    /// Writes the config for `tmpl __share` (0600: it names the person's folders).
    pub fn write(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_vec_pretty(self)?;
        crate::atomic::write(path, &json, 0o600)
    }

    fn check(&self) -> Result<(), String> {
        for (what, p) in [
            ("source", &self.source),
            ("gitdir", &self.gitdir),
            ("mountpoint", &self.mountpoint),
        ] {
            if !p.is_absolute() {
                return Err(format!("{what} `{}` is not an absolute path", p.display()));
            }
        }
        // PassthroughFs opens its root without following a link: a link would be served as
        // the root itself
        for (what, p) in [("source", &self.source), ("gitdir", &self.gitdir)] {
            let meta = std::fs::symlink_metadata(p)
                .map_err(|e| format!("{what} `{}`: {e}", p.display()))?;
            if !meta.is_dir() {
                return Err(format!("{what} `{}` is not a folder", p.display()));
            }
        }
        if std::fs::symlink_metadata(self.gitdir.join("HEAD")).is_err() {
            return Err(format!(
                "gitdir `{}` is not a git repository (it has no HEAD)",
                self.gitdir.display()
            ));
        }
        let source = self.source.canonicalize().map_err(|e| e.to_string())?;
        let gitdir = self.gitdir.canonicalize().map_err(|e| e.to_string())?;
        // one inside the other would serve the repository's files under the project's rules,
        // or the project's under the repository's
        if gitdir.starts_with(&source) || source.starts_with(&gitdir) {
            return Err(format!(
                "source `{}` and gitdir `{}` must not contain one another",
                source.display(),
                gitdir.display()
            ));
        }
        // a mount inside what it serves would have the server look into its own mount
        let mnt = existing_prefix(&self.mountpoint);
        if mnt.starts_with(&source) || mnt.starts_with(&gitdir) {
            return Err(format!(
                "mountpoint `{}` is inside the folders it serves",
                self.mountpoint.display()
            ));
        }
        if self.allow_other && !private_ancestor(&self.mountpoint) {
            return Err(format!(
                "mountpoint `{}` is not inside a folder only its owner can enter, and \
                 allow_other would open the project to every user who reaches it",
                self.mountpoint.display()
            ));
        }
        for p in &self.protect {
            pin(p)?;
        }
        Ok(())
    }

    /// The PROTECT paths as names (checked by `load`).
    pub fn pins(&self) -> Vec<protect::Pin> {
        self.protect.iter().filter_map(|p| pin(p).ok()).collect()
    }

    /// What names this config among others: the daemon says which one it serves in
    /// `ready.json` (the first 8 bytes of the SHA-256 of its JSON, in hex).
    pub fn fingerprint(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        Sha256::digest(&json)
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

fn pin(path: &Path) -> Result<protect::Pin, String> {
    let text = path
        .to_str()
        .ok_or_else(|| format!("PROTECT path `{}` is not UTF-8", path.display()))?;
    protect::parse(text).map_err(|e| format!("PROTECT path {e}"))
}

/// The path with its existing part resolved (the mountpoint may not exist yet).
fn existing_prefix(path: &Path) -> PathBuf {
    let mut rest = Vec::new();
    let mut p = path;
    loop {
        if let Ok(real) = p.canonicalize() {
            return rest.iter().rev().fold(real, |acc, n| acc.join(n));
        }
        match (p.parent(), p.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                p = parent;
            }
            _ => return path.to_path_buf(),
        }
    }
}

/// Whether some existing folder above `path` lets no one but its owner in (no `x` for
/// group or others).
fn private_ancestor(path: &Path) -> bool {
    path.ancestors()
        .skip(1)
        .any(|a| std::fs::metadata(a).is_ok_and(|m| m.is_dir() && m.mode() & 0o011 == 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, Config) {
        use std::os::unix::fs::PermissionsExt;
        // what tmpl's state folder is: the owner's alone
        let t = tempfile::Builder::new()
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir()
            .unwrap();
        for d in ["proj", "state/git", "state/share"] {
            std::fs::create_dir_all(t.path().join(d)).unwrap();
        }
        std::fs::write(t.path().join("state/git/HEAD"), "ref: refs/heads/main\n").unwrap();
        let c = Config {
            source: t.path().join("proj"),
            gitdir: t.path().join("state/git"),
            mountpoint: t.path().join("state/share/mnt"),
            readonly: false,
            protect: vec![".git/hooks".into(), "kept/dir".into()],
            allow_other: true,
        };
        (t, c)
    }

    #[test]
    fn the_integrators_json_reads_back() {
        let (t, c) = setup();
        let path = t.path().join("state/share.json");
        c.write(&path).unwrap();
        assert_eq!(Config::load(&path).unwrap(), c);
        let minimal = format!(
            r#"{{"source": {:?}, "gitdir": {:?}, "mountpoint": {:?}}}"#,
            c.source, c.gitdir, c.mountpoint
        );
        std::fs::write(&path, minimal).unwrap();
        let m = Config::load(&path).unwrap();
        assert!(m.allow_other && !m.readonly && m.protect.is_empty());
    }

    #[test]
    fn the_json_is_what_the_fingerprint_is_of() {
        // tmpl's side compares fingerprints of this very text: fields in this order
        let (_t, c) = setup();
        let json = serde_json::to_string(&c).unwrap();
        let at = |k: &str| json.find(&format!("\"{k}\":")).unwrap();
        let keys = [
            "source",
            "gitdir",
            "mountpoint",
            "readonly",
            "protect",
            "allow_other",
        ];
        assert!(keys.windows(2).all(|w| at(w[0]) < at(w[1])), "{json}");
        assert_eq!(c.fingerprint().len(), 16);
        assert_ne!(
            c.fingerprint(),
            Config {
                readonly: true,
                ..c.clone()
            }
            .fingerprint()
        );
    }

    #[test]
    fn mistakes_are_config_errors_that_say_where() {
        let (t, c) = setup();
        let path = t.path().join("share.json");
        let bad = |c: &Config| {
            c.write(&path).unwrap();
            let e = Config::load(&path).unwrap_err();
            let f = e.downcast_ref::<Failure>().unwrap();
            assert_eq!(f.code, crate::error::ExitStatus::Config);
            assert_eq!(f.details, [format!("--> {}", path.display())]);
            f.message.clone()
        };
        let mut x = c.clone();
        x.source = "proj".into();
        assert!(bad(&x).contains("not an absolute path"));
        let mut x = c.clone();
        x.gitdir = c.source.clone();
        assert!(bad(&x).contains("no HEAD"));
        let mut x = c.clone();
        x.mountpoint = c.source.join("mnt");
        assert!(bad(&x).contains("inside the folders it serves"));
        let mut x = c.clone();
        x.protect = vec!["../up".into()];
        assert!(bad(&x).contains("PROTECT path"));
        std::fs::write(&path, r#"{"source": "/x", "typo": 1}"#).unwrap();
        assert!(Config::load(&path).is_err());
    }

    #[test]
    fn allow_other_needs_a_private_folder_above_the_mountpoint() {
        let (t, mut c) = setup();
        use std::os::unix::fs::PermissionsExt;
        let open = std::fs::Permissions::from_mode(0o755);
        std::fs::set_permissions(t.path(), open.clone()).unwrap();
        std::fs::set_permissions(t.path().join("state"), open.clone()).unwrap();
        std::fs::set_permissions(t.path().join("state/share"), open).unwrap();
        // `/` and `/tmp` let everyone in; nothing above is private
        if !private_ancestor(&c.mountpoint) {
            assert!(c.check().unwrap_err().contains("only its owner"));
        }
        c.allow_other = false;
        c.check().unwrap();
    }
}
