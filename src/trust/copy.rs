//! The approved copy of the provisioning set: what it records (the manifest) and writing it
//! into tmpl's own state, out of the guest's reach, from the bytes the approval read.
//!
//! The set is read once (see `beneath`); the manifest, what the approval shows and the copy
//! all come from those bytes, so a file the guest swaps while tmpl works changes nothing
//! that runs. `.git` folders are never part of it: Ansible never loads them, and they are
//! large.

use super::beneath::Files;
use anyhow::Result;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Relative path → `sha256:<hex>` (with `+x` when executable: Ansible runs an executable
/// `vault_password_file`, so the bit matters as much as the bytes).
pub type Manifest = BTreeMap<PathBuf, String>;

pub fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What `files` holds, by hash.
pub fn manifest(files: &Files) -> Manifest {
    files
        .iter()
        .map(|(rel, f)| {
            let x = if f.exec { " +x" } else { "" };
            (rel.clone(), format!("sha256:{}{x}", sha256(&f.bytes)))
        })
        .collect()
}

/// Writes `files` into the new folder `dest` (mode 0700, files 0600 or 0700).
pub fn write(files: &Files, dest: &Path) -> Result<()> {
    crate::ssh::private_dir(dest)?;
    for (rel, f) in files {
        let to = dest.join(rel);
        if let Some(d) = to.parent() {
            std::fs::create_dir_all(d)?;
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700))?;
        }
        crate::atomic::write(&to, &f.bytes, if f.exec { 0o700 } else { 0o600 })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::beneath::{read_set, read_tree};
    use super::*;

    #[test]
    fn a_link_out_of_the_set_is_refused_and_one_inside_is_followed() {
        let d = tempfile::tempdir().unwrap();
        let set = d.path().join("provision");
        std::fs::create_dir_all(set.join("files")).unwrap();
        std::fs::write(set.join("site.yml"), "- hosts: all\n").unwrap();
        std::fs::write(d.path().join("secret"), "host only").unwrap();
        std::os::unix::fs::symlink("../site.yml", set.join("files/same.yml")).unwrap();
        let m = manifest(&read_set(d.path(), Path::new("provision")).unwrap());
        assert_eq!(m.len(), 2);
        assert_eq!(m[Path::new("site.yml")], m[Path::new("files/same.yml")]);
        std::os::unix::fs::symlink("../../secret", set.join("files/key")).unwrap();
        let err = read_set(d.path(), Path::new("provision")).unwrap_err();
        assert!(err.to_string().contains("points outside it"), "{err}");
        std::fs::remove_file(set.join("files/key")).unwrap();
        std::os::unix::fs::symlink(d.path().join("secret"), set.join("files/key")).unwrap();
        let err = read_set(d.path(), Path::new("provision")).unwrap_err();
        assert!(
            err.to_string().contains("points outside it"),
            "absolute: {err}"
        );
    }

    #[test]
    fn a_link_to_a_folder_and_special_files_are_refused_without_opening_them() {
        let d = tempfile::tempdir().unwrap();
        let set = d.path().join("p");
        std::fs::create_dir_all(set.join("roles/r")).unwrap();
        std::fs::write(set.join("site.yml"), "- hosts: all\n").unwrap();
        std::os::unix::fs::symlink("roles", set.join("again")).unwrap();
        let err = read_set(d.path(), Path::new("p")).unwrap_err();
        assert!(err.to_string().contains("a link to a folder"), "{err}");
        std::fs::remove_file(set.join("again")).unwrap();
        // a fifo nobody writes: reading it would wait for ever
        rustix::fs::mknodat(
            rustix::fs::CWD,
            set.join("pipe"),
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        let err = read_set(d.path(), Path::new("p")).unwrap_err();
        assert!(err.to_string().contains("is a fifo"), "{err}");
        std::fs::remove_file(set.join("pipe")).unwrap();
        let _ = std::os::unix::net::UnixListener::bind(set.join("sock")).unwrap();
        let err = read_set(d.path(), Path::new("p")).unwrap_err();
        assert!(err.to_string().contains("is a socket"), "{err}");
    }

    #[test]
    fn the_copy_is_what_the_manifest_says_and_git_is_skipped() {
        let d = tempfile::tempdir().unwrap();
        let set = d.path().join("p");
        std::fs::create_dir_all(set.join("group_vars")).unwrap();
        std::fs::create_dir_all(set.join(".git")).unwrap();
        std::fs::write(set.join(".git/config"), "x").unwrap();
        std::fs::write(set.join("group_vars/all.yml"), "a: 1\n").unwrap();
        std::fs::write(set.join("pass.sh"), "#!/bin/sh\necho x\n").unwrap();
        std::fs::set_permissions(set.join("pass.sh"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        let files = read_set(d.path(), Path::new("p")).unwrap();
        let before = manifest(&files);
        assert!(before[Path::new("pass.sh")].ends_with(" +x"));
        assert!(!before.contains_key(Path::new(".git/config")));
        write(&files, &d.path().join("copy")).unwrap();
        assert_eq!(
            manifest(&read_tree(&d.path().join("copy")).unwrap()),
            before
        );
        std::fs::set_permissions(set.join("pass.sh"), std::fs::Permissions::from_mode(0o644))
            .unwrap();
        let after = manifest(&read_set(d.path(), Path::new("p")).unwrap());
        assert_ne!(after, before, "the executable bit counts");
    }
}
