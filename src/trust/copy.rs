//! The provisioning set as files: walking it (to hash it, or to copy it out of the guest's
//! reach) without ever leaving it.
//!
//! The set is a folder of the project (a playbook's) or one file (a script). A symlink in it
//! is followed only when it resolves inside the set: one that points elsewhere could hand a
//! host file (a key, a password store) to a play that copies `files/` into the guest, so it
//! is an error. `.git` folders are skipped: Ansible never loads them, and they are large.

use crate::error::{ExitStatus, Failure};
use anyhow::{Context as _, Result};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A set bigger than this is almost certainly the whole project: refuse, and say why.
const MAX_FILES: usize = 2000;
const MAX_BYTES: u64 = 100 << 20;

/// Relative path → `sha256:<hex>` (with `+x` when executable: Ansible runs an executable
/// `vault_password_file`, so the bit matters as much as the bytes).
pub type Manifest = BTreeMap<PathBuf, String>;

/// Calls `each(relative, real_path)` for every regular file of the set at `root`.
fn walk(root: &Path, each: &mut dyn FnMut(&Path, &Path) -> Result<()>) -> Result<()> {
    let top = root
        .canonicalize()
        .with_context(|| format!("cannot read {}", root.display()))?;
    if top.is_file() {
        let name = PathBuf::from(top.file_name().unwrap_or_default());
        return each(&name, &top);
    }
    let mut count = 0usize;
    let mut bytes = 0u64;
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = top.join(&rel);
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .with_context(|| format!("cannot read {}", dir.display()))?
            .flatten()
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name();
            if name == ".git" {
                continue;
            }
            let rel = rel.join(&name);
            let path = top.join(&rel);
            let real = path
                .canonicalize()
                .with_context(|| format!("cannot read {}", path.display()))?;
            if !real.starts_with(&top) {
                return Err(Failure::new(
                    ExitStatus::Untrusted,
                    format!(
                        "`{}` in the provisioning folder points outside it, to {}",
                        rel.display(),
                        real.display()
                    ),
                )
                .hint("replace the link with the file itself, or remove it: files outside the folder are never handed to provisioning")
                .into());
            }
            let meta = std::fs::metadata(&real)?;
            if meta.is_dir() {
                stack.push(rel);
            } else if meta.is_file() {
                count += 1;
                bytes += meta.len();
                if count > MAX_FILES || bytes > MAX_BYTES {
                    return Err(too_big(&top));
                }
                each(&rel, &real)?;
            }
        }
    }
    Ok(())
}

fn too_big(top: &Path) -> anyhow::Error {
    Failure::config(format!(
        "the provisioning folder {} holds more than {MAX_FILES} files or {} MiB",
        top.display(),
        MAX_BYTES >> 20
    ))
    .detail("tmpl approves and copies the whole folder of a playbook, since Ansible may load any file next to it")
    .hint("keep the playbook in a folder of its own (e.g. `provision/site.yml`) and point PROVISION_SCRIPT at it")
    .into()
}

fn entry(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let hex: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let exec = std::fs::metadata(path)?.permissions().mode() & 0o111 != 0;
    Ok(format!("sha256:{hex}{}", if exec { " +x" } else { "" }))
}

/// What the set at `root` holds now.
pub fn manifest(root: &Path) -> Result<Manifest> {
    let mut m = Manifest::new();
    walk(root, &mut |rel, real| {
        m.insert(rel.to_owned(), entry(real)?);
        Ok(())
    })?;
    Ok(m)
}

/// Copies the set at `root` into the new folder `dest` (mode 0700, files 0600 or 0700) and
/// returns the manifest of the copy: what was copied is what gets recorded and run.
pub fn copy(root: &Path, dest: &Path) -> Result<Manifest> {
    crate::ssh::private_dir(dest)?;
    walk(root, &mut |rel, real| {
        let to = dest.join(rel);
        if let Some(d) = to.parent() {
            std::fs::create_dir_all(d)?;
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700))?;
        }
        let bytes = std::fs::read(real)?;
        let exec = std::fs::metadata(real)?.permissions().mode() & 0o111 != 0;
        crate::atomic::write(&to, &bytes, if exec { 0o700 } else { 0o600 })
    })?;
    manifest(dest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_out_of_the_set_is_refused_and_one_inside_is_followed() {
        let d = tempfile::tempdir().unwrap();
        let set = d.path().join("provision");
        std::fs::create_dir_all(set.join("files")).unwrap();
        std::fs::write(set.join("site.yml"), "- hosts: all\n").unwrap();
        std::fs::write(d.path().join("secret"), "host only").unwrap();
        std::os::unix::fs::symlink("../site.yml", set.join("files/same.yml")).unwrap();
        let m = manifest(&set).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[Path::new("site.yml")], m[Path::new("files/same.yml")]);
        std::os::unix::fs::symlink(d.path().join("secret"), set.join("files/key")).unwrap();
        let err = manifest(&set).unwrap_err();
        assert!(err.to_string().contains("points outside it"), "{err}");
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
        let before = manifest(&set).unwrap();
        assert!(before[Path::new("pass.sh")].ends_with(" +x"));
        assert!(!before.contains_key(Path::new(".git/config")));
        let copied = copy(&set, &d.path().join("copy")).unwrap();
        assert_eq!(before, copied);
        std::fs::set_permissions(set.join("pass.sh"), std::fs::Permissions::from_mode(0o644))
            .unwrap();
        assert_ne!(manifest(&set).unwrap(), before, "the executable bit counts");
    }
}
