//! Whether this host can share a folder with a VM over virtiofs (`SYNC` for VMs).
//!
//! libvirt starts one virtiofsd per shared folder and finds the binary through QEMU's
//! vhost-user descriptors (`{"type": "fs", "binary": ...}` in `*/qemu/vhost-user/*.json`), not
//! through `PATH`. Debian 12 ships the C virtiofsd in `qemu-system-common`; later releases
//! (Debian 13, Ubuntu 24.04) in the `virtiofsd` package. Without one, `vagrant up` would fail
//! half way with a libvirt error, so `up` checks first.

use crate::error::{ExitStatus, Failure};
use anyhow::Result;
use std::path::{Path, PathBuf};

/// Where libvirt (qemu:///system) looks for vhost-user descriptors, highest priority first.
const DESCRIPTOR_DIRS: &[&str] = &["/etc/qemu/vhost-user", "/usr/share/qemu/vhost-user"];

/// The virtiofsd a descriptor in `dirs` names, if one exists on disk.
pub fn find_in(dirs: &[&Path]) -> Option<PathBuf> {
    let mut files: Vec<PathBuf> = dirs
        .iter()
        .flat_map(|d| std::fs::read_dir(d).into_iter().flatten().flatten())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files.into_iter().find_map(|f| {
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(f).ok()?).ok()?;
        let binary = PathBuf::from(v.get("binary")?.as_str()?);
        (v.get("type")?.as_str()? == "fs" && binary.is_file()).then_some(binary)
    })
}

pub fn find() -> Option<PathBuf> {
    let dirs: Vec<&Path> = DESCRIPTOR_DIRS.iter().map(Path::new).collect();
    find_in(&dirs)
}

/// Fails with what to install when the VM's `SYNC` cannot work on this host.
pub fn ensure_available() -> Result<()> {
    if find().is_some() {
        return Ok(());
    }
    Err(Failure::new(
        ExitStatus::Unavailable,
        "the project folder cannot be shared with the VM: this host has no virtiofsd",
    )
    .detail(format!(
        "looked for a vhost-user `fs` descriptor in {}",
        DESCRIPTOR_DIRS.join(" and ")
    ))
    .hint("install virtiofsd (`apt-get install virtiofsd`; on Debian 12 it comes with qemu-system-common), or set SYNC=none in .env")
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_fs_descriptor_whose_binary_exists_counts() {
        let d = tempfile::tempdir().unwrap();
        let bin = d.path().join("virtiofsd");
        let write = |name: &str, ty: &str, binary: &Path| {
            let text = serde_json::json!({"type": ty, "binary": binary}).to_string();
            std::fs::write(d.path().join(name), text).unwrap();
        };
        write("50-gpu.json", "gpu", &bin);
        std::fs::write(&bin, "").unwrap();
        assert_eq!(
            find_in(&[d.path()]),
            None,
            "a gpu descriptor is not virtiofsd"
        );
        write("60-fs.json", "fs", &d.path().join("missing"));
        assert_eq!(find_in(&[d.path()]), None, "the binary must exist");
        write("70-fs.json", "fs", &bin);
        assert_eq!(find_in(&[d.path()]), Some(bin));
    }
}
