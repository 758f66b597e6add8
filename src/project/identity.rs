//! What a project is called on the host, and where tmpl keeps its files for it.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Where tmpl keeps things for one project.
#[derive(Debug, Clone)]
pub struct Identity {
    pub name: String,
    pub slug: String,
    /// `$XDG_CACHE_HOME/tmpl/<slug>`: regenerable (the rendered Vagrantfile, downloads).
    pub cache_dir: PathBuf,
    /// `$XDG_STATE_HOME/tmpl/<slug>`: must survive (keys, Vagrant's machine data).
    pub state_dir: PathBuf,
}

/// The user's base directories, read from the environment once.
#[derive(Debug, Clone)]
pub struct Dirs {
    pub home: Option<PathBuf>,
    pub cache: PathBuf,
    pub state: PathBuf,
    pub config: PathBuf,
}

impl Dirs {
    pub fn from_env() -> Dirs {
        let home = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from);
        let base = |var: &str, fallback: &str| {
            std::env::var_os(var)
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .or_else(|| home.as_ref().map(|h| h.join(fallback)))
                .unwrap_or_else(|| std::env::temp_dir().join(fallback))
                .join("tmpl")
        };
        Dirs {
            cache: base("XDG_CACHE_HOME", ".cache"),
            state: base("XDG_STATE_HOME", ".local/state"),
            config: base("XDG_CONFIG_HOME", ".config"),
            home,
        }
    }
}

impl Dirs {
    /// Does this user have files for the project `slug` (an interrupted `up` leaves them)?
    pub fn has_files_for(&self, slug: &str) -> bool {
        !crate::gone::gone(&self.state.join(slug)) || !crate::gone::gone(&self.cache.join(slug))
    }

    /// tmpl's state and cache folders are the person's alone: they hold keys, inventories
    /// and the paths of every project, and on a shared host another person must not read them.
    /// Tightened where an older tmpl or a umask left them open (every command does it, and
    /// `up` once it has made them); best effort, and nothing is made here: a command that
    /// fails writes nothing.
    pub fn keep_private(&self) {
        use std::os::unix::fs::PermissionsExt;
        for d in [&self.state, &self.cache] {
            if let Ok(m) = std::fs::symlink_metadata(d) {
                if m.is_dir() && m.permissions().mode() & 0o077 != 0 {
                    let _ = std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700));
                }
            }
        }
    }
}

pub fn identity(dir: &Path, name_override: Option<&str>, dirs: &Dirs) -> Identity {
    identity_of(dir, name_override, dirs, crate::person::uid())
}

/// `identity` for the person with `uid`.
pub fn identity_of(dir: &Path, name_override: Option<&str>, dirs: &Dirs, uid: u32) -> Identity {
    let folder = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = name_override
        .map(str::to_owned)
        .unwrap_or_else(|| crate::config::names::sanitise(&folder));
    let mut h = Sha256::new();
    h.update(dir.as_os_str().as_encoded_bytes());
    if uid != 0 {
        // NUL cannot occur in a path, so no path of root's hashes to a person's path + uid
        h.update(format!("\0uid={uid}").as_bytes());
    }
    let digest = h.finalize();
    let hash: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    let slug = format!("{name}-{hash}");
    Identity {
        cache_dir: dirs.cache.join(&slug),
        state_dir: dirs.state.join(&slug),
        name,
        slug,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::folder::*;

    #[test]
    fn same_folder_name_different_paths_get_different_slugs() {
        let dirs = Dirs {
            home: None,
            cache: "/c".into(),
            state: "/s".into(),
            config: "/k".into(),
        };
        let a = identity(Path::new("/work/a/app"), None, &dirs);
        let b = identity(Path::new("/work/b/app"), None, &dirs);
        assert_eq!(a.name, "app");
        assert_ne!(a.slug, b.slug);
        assert!(a.slug.starts_with("app-"));
        assert_eq!(a.cache_dir, Path::new("/c").join(&a.slug));
        let named = identity(Path::new("/work/a/app"), Some("web"), &dirs);
        assert!(named.slug.starts_with("web-"));
        assert_eq!(named.slug[4..], a.slug[4..]);
    }

    #[test]
    fn a_persons_slug_carries_their_uid_and_roots_stays_as_it_was() {
        let dirs = Dirs {
            home: None,
            cache: "/c".into(),
            state: "/s".into(),
            config: "/k".into(),
        };
        let dir = Path::new("/srv/app");
        let root = identity_of(dir, None, &dirs, 0);
        // sha256("/srv/app")[..4]: the slug root's existing guests are known by
        assert_eq!(root.slug, "app-dae668e4");
        let ann = identity_of(dir, None, &dirs, 2310);
        let bob = identity_of(dir, None, &dirs, 2311);
        assert!(ann.slug.starts_with("app-"));
        assert_ne!(ann.slug, root.slug);
        assert_ne!(ann.slug, bob.slug);
        assert_eq!(ann.slug, identity_of(dir, None, &dirs, 2310).slug);
    }

    #[test]
    fn discovery_walks_up_and_skips_foreign_env_files() {
        let root = tempfile::tempdir().unwrap();
        let proj = root.path().join("proj");
        let sub = proj.join("src/deep");
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(proj.join(".env"), "INFRA_TYPE=vm\n").unwrap();
        std::fs::write(proj.join("src/.env"), "DATABASE_URL=x\n").unwrap();
        let found = discover(&sub, None).unwrap();
        assert_eq!(found.dir, proj);
        let err = discover(root.path(), None).unwrap_err();
        assert_eq!(err.looked_in[0], root.path());
    }

    #[test]
    fn discovery_stops_at_home() {
        let root = tempfile::tempdir().unwrap();
        let home = root.path().join("home");
        let sub = home.join("code");
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(root.path().join(".env"), "INFRA_TYPE=vm\n").unwrap();
        std::fs::write(home.join(".env"), "INFRA_TYPE=vm\n").unwrap();
        let err = discover(&sub, Some(&home)).unwrap_err();
        assert_eq!(err.looked_in, vec![sub.clone()]);
        assert_eq!(discover(&home, Some(&home)).unwrap().dir, home);
    }
}
