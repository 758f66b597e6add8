//! Which key logs in to a VM made from a box.
//!
//! A box authorizes Vagrant's shared insecure key. Vagrant's own way out (`insert_key`) costs
//! about 20 s under software emulation at the first boot: it detects the guest's OS with a
//! dozen SSH commands, then inserts a key it generated and reconnects. tmpl instead offers the
//! project's own key first and the insecure key second, and its first-boot script
//! (`first-boot.sh`) puts the project's key in and takes the insecure one out, in the one SSH
//! command that also names the VM and grows its disk.
//!
//! The insecure key is read from the Vagrant installed here and offered from a copy in the
//! project's private SSH folder: Vagrant insists on owning a key file with mode 0600, and
//! would otherwise chmod the file of its own package (or refuse it, run by a person). Where
//! no insecure key is found, and for VMs an older tmpl made, Vagrant's `insert_key` stays in
//! charge (`Login::Vagrant`).

use std::path::{Path, PathBuf};

/// How the login key of a VM from a box is handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    /// The project's key, with the insecure keys (copies, see `staged`) offered until the
    /// first-boot script has replaced them.
    Project { insecure: Vec<PathBuf> },
    /// Vagrant inserts a key of its own at the first boot, into the machine's data folder.
    Vagrant,
}

/// Decides for one VM: `vagrant_key` is the key Vagrant inserted for it, if it did;
/// `sources` the insecure keys found (`insecure_keys`); `ssh_dir` the project's SSH folder.
pub fn login(vagrant_key: &Path, sources: &[PathBuf], ssh_dir: &Path) -> Login {
    if vagrant_key.is_file() || sources.is_empty() {
        Login::Vagrant
    } else {
        Login::Project {
            insecure: staged(sources, ssh_dir),
        }
    }
}

/// Where the copy of each insecure key goes in the project's SSH folder.
fn staged(sources: &[PathBuf], ssh_dir: &Path) -> Vec<PathBuf> {
    sources
        .iter()
        .map(|s| {
            let name = s.file_name().and_then(|n| n.to_str()).unwrap_or("vagrant");
            ssh_dir.join(format!("insecure-{name}"))
        })
        .collect()
}

/// Copies the insecure keys to where `login` said they would be (mode 0600, the project's
/// owner's), unless they are there.
pub fn stage(sources: &[PathBuf], ssh_dir: &Path) -> anyhow::Result<()> {
    use anyhow::Context as _;
    for (from, to) in sources.iter().zip(staged(sources, ssh_dir)) {
        if !to.is_file() {
            let key = std::fs::read(from).with_context(|| {
                format!("cannot read Vagrant's insecure key {}", from.display())
            })?;
            crate::atomic::write(&to, &key, 0o600)?;
        }
    }
    Ok(())
}

/// Where Vagrant installs keep their `keys` folder: Debian's and Fedora's packages, and
/// HashiCorp's installer (whose gem folder has had a Ruby version in its path, or not).
fn gem_roots() -> Vec<PathBuf> {
    let mut roots = Vec::new();
    if let Some(dir) = std::env::var_os("VAGRANT_INSTALLER_EMBEDDED_DIR").filter(|d| !d.is_empty())
    {
        roots.push(PathBuf::from(dir).join("gems"));
    }
    roots.extend(
        [
            "/opt/vagrant/embedded/gems",
            "/usr/share/rubygems-integration/all",
            "/usr/share/vagrant/gems",
            "/usr/share/gems",
        ]
        .map(PathBuf::from),
    );
    roots
}

fn dirs_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

/// The insecure private keys of the Vagrant installed here: `keys/vagrant` (up to 2.3),
/// `keys/vagrant.key.ed25519` and `keys/vagrant.key.rsa` (later), of the newest version
/// found, readable by whoever runs tmpl. Vagrant's own copy in its home folder, if the
/// package's is not readable.
pub fn insecure_keys() -> Vec<PathBuf> {
    let readable = |v: Vec<PathBuf>| {
        v.into_iter()
            .filter(|k| std::fs::File::open(k).is_ok())
            .collect::<Vec<_>>()
    };
    let found = readable(insecure_keys_under(&gem_roots()));
    if !found.is_empty() {
        return found;
    }
    readable(vec![
        super::image::vagrant_home().join("insecure_private_key")
    ])
}

fn insecure_keys_under(roots: &[PathBuf]) -> Vec<PathBuf> {
    for root in roots {
        // <root>/gems/vagrant-X, or <root>/<ruby version>/gems/vagrant-X
        let mut gem_dirs: Vec<PathBuf> = std::iter::once(root.join("gems"))
            .chain(dirs_in(root).into_iter().map(|d| d.join("gems")))
            .flat_map(|g| dirs_in(&g))
            .filter(|d| {
                d.file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.strip_prefix("vagrant-"))
                    .is_some_and(|v| v.starts_with(|c: char| c.is_ascii_digit()))
            })
            .collect();
        gem_dirs.sort_by_key(|d| version_key(d));
        if let Some(newest) = gem_dirs.last() {
            let keys: Vec<PathBuf> = ["vagrant.key.ed25519", "vagrant.key.rsa", "vagrant"]
                .iter()
                .map(|k| newest.join("keys").join(k))
                .filter(|k| k.is_file())
                .collect();
            if !keys.is_empty() {
                return keys;
            }
        }
    }
    Vec::new()
}

/// `vagrant-2.3.10` sorts after `vagrant-2.3.4`.
fn version_key(dir: &Path) -> Vec<u64> {
    dir.file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("vagrant-"))
        .unwrap_or("")
        .split(['.', '-'])
        .map(|p| p.parse().unwrap_or(0))
        .collect()
}

/// The public halves' base64 blobs of the staged `keys`: the first-boot script removes the
/// lines that hold them from the login user's `authorized_keys`.
pub fn public_blobs(keys: &[PathBuf]) -> anyhow::Result<Vec<String>> {
    keys.iter()
        .map(|k| {
            let public = crate::process::Cmd::new("ssh-keygen")
                .arg("-y")
                .arg("-f")
                .arg(k)
                .read()?;
            public
                .split_whitespace()
                .nth(1)
                .map(str::to_owned)
                .ok_or_else(|| {
                    anyhow::anyhow!("ssh-keygen printed no public key for {}", k.display())
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(p: &Path, text: &str) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn the_newest_installed_vagrants_keys_are_found() {
        let d = tempfile::tempdir().unwrap();
        let debian = d.path().join("debian");
        touch(&debian.join("gems/vagrant-2.3.4/keys/vagrant"), "k");
        touch(
            &debian.join("gems/vagrant-2.3.10/keys/vagrant.key.rsa"),
            "k",
        );
        touch(
            &debian.join("gems/vagrant-2.3.10/keys/vagrant.key.ed25519"),
            "k",
        );
        touch(&debian.join("gems/vagrant-libvirt-0.11.2/keys/x"), "k");
        let keys = insecure_keys_under(&[d.path().join("none"), debian.clone()]);
        assert_eq!(
            keys,
            vec![
                debian.join("gems/vagrant-2.3.10/keys/vagrant.key.ed25519"),
                debian.join("gems/vagrant-2.3.10/keys/vagrant.key.rsa"),
            ]
        );
    }

    #[test]
    fn a_ruby_version_folder_between_root_and_gems_is_looked_into() {
        let d = tempfile::tempdir().unwrap();
        let key = d.path().join("3.1.0/gems/vagrant-2.3.7/keys/vagrant");
        touch(&key, "k");
        assert_eq!(insecure_keys_under(&[d.path().to_path_buf()]), vec![key]);
        assert!(insecure_keys_under(&[d.path().join("empty")]).is_empty());
    }

    #[test]
    fn vagrants_own_key_or_no_insecure_key_leaves_vagrant_in_charge() {
        let d = tempfile::tempdir().unwrap();
        let inserted = d.path().join("private_key");
        let sources = vec![PathBuf::from("/usr/share/x/keys/vagrant")];
        let ssh = d.path().join("ssh");
        assert_eq!(
            login(&inserted, &sources, &ssh),
            Login::Project {
                insecure: vec![ssh.join("insecure-vagrant")]
            }
        );
        assert_eq!(login(&inserted, &[], &ssh), Login::Vagrant);
        touch(&inserted, "k");
        assert_eq!(login(&inserted, &sources, &ssh), Login::Vagrant);
    }

    #[test]
    fn staged_copies_are_private_and_left_alone_once_there() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let source = d.path().join("keys/vagrant.key.rsa");
        touch(&source, "the key");
        std::fs::set_permissions(&source, std::fs::Permissions::from_mode(0o644)).unwrap();
        let ssh = d.path().join("ssh");
        std::fs::create_dir(&ssh).unwrap();
        stage(std::slice::from_ref(&source), &ssh).unwrap();
        let copy = ssh.join("insecure-vagrant.key.rsa");
        assert_eq!(std::fs::read_to_string(&copy).unwrap(), "the key");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&copy), 0o600);
        assert_eq!(mode(&source), 0o644, "the package's file is never changed");
        std::fs::write(&copy, "kept").unwrap();
        stage(&[source], &ssh).unwrap();
        assert_eq!(std::fs::read_to_string(&copy).unwrap(), "kept");
    }
}
