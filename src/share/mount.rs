//! Mounting the share, and what to tell the person when it cannot be mounted.
//!
//! `FuseSession::mount` calls mount(2) itself, which root may, and root of a user namespace
//! too when it owns the mount namespace (Linux 4.18 and later let a namespace's root mount
//! FUSE): that is how a person's container share is mounted, inside their rootless Podman's
//! namespaces (`podman unshare`). Anyone else gets EPERM, and the session falls back to
//! fusermount3, the setuid helper of the `fuse3` package, which allows `allow_other` only
//! when /etc/fuse.conf has `user_allow_other`.

use super::config::Config;
use crate::error::{ExitStatus, Failure};
use anyhow::Result;
use fuse_backend_rs::transport::FuseSession;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The mount's name and type in /proc/mounts: `tmpl-share MNT fuse.tmpl-share`.
pub const FSNAME: &str = "tmpl-share";

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Mounts the share at the config's mountpoint; the session serves it until unmounted.
pub fn mount(config: &Config) -> Result<FuseSession> {
    let mnt = &config.mountpoint;
    prepare(mnt)?;
    let mut session =
        FuseSession::new(mnt, FSNAME, FSNAME, config.readonly).map_err(|e| cannot_mount(mnt, e))?;
    session.set_allow_other(config.allow_other);
    if let Err(e) = session.mount() {
        let mut f = cannot_mount(mnt, e);
        if !is_root() && config.allow_other && !fuse_conf_allows_other() {
            f = f.hint(
                "add the line `user_allow_other` to /etc/fuse.conf (as root): fusermount3 lets \
                 a user mount with allow_other only then, and the share needs it for the \
                 container's users and libvirt's virtiofsd",
            );
        } else if !is_root() && crate::process::which("fusermount3").is_none() {
            f = f.hint(crate::host::install("fuse3"));
        }
        return Err(f.into());
    }
    Ok(session)
}

/// The failure to mount at `mnt`, and why (a Failure carries its cause in its details:
/// `report` finds no Failure under an anyhow context).
fn cannot_mount(mnt: &Path, cause: impl std::fmt::Display) -> Failure {
    Failure::new(ExitStatus::Unavailable, "cannot mount the project's share")
        .detail(format!("--> {}", mnt.display()))
        .detail(cause.to_string())
}

/// Whether `mnt` is a FUSE mount whose server is gone. A stat may still answer from the
/// kernel's cache; statfs always asks the server, and a dead connection answers ENOTCONN.
fn dead(mnt: &Path) -> bool {
    let enotconn = |e: rustix::io::Errno| e == rustix::io::Errno::NOTCONN;
    std::fs::metadata(mnt).is_err_and(|e| e.raw_os_error() == Some(libc::ENOTCONN))
        || rustix::fs::statvfs(mnt).is_err_and(enotconn)
}

/// Makes the mountpoint, after unmounting what a server that died left there; refuses one
/// where a share is mounted and served.
fn prepare(mnt: &Path) -> Result<()> {
    if dead(mnt) {
        crate::ui::warn(format!(
            "share: unmounting what a stopped server left at {}",
            mnt.display()
        ));
        unmount_lazily(mnt);
    }
    std::fs::create_dir_all(mnt).map_err(|e| cannot_mount(mnt, e))?;
    let parent = mnt.parent().unwrap_or(Path::new("/"));
    let (here, above) = (std::fs::metadata(mnt)?, std::fs::metadata(parent)?);
    if here.dev() != above.dev() {
        return Err(cannot_mount(mnt, "something is mounted there already")
            .hint(format!(
                "another share may be serving it; stop that one, or unmount it: \
                 `fusermount3 -u {}` (`umount` as root)",
                mnt.display()
            ))
            .into());
    }
    Ok(())
}

/// Detaches the mount at `mnt` (its users keep what they hold open): the system call for
/// root, fusermount3 for anyone else.
pub fn unmount_lazily(mnt: &Path) {
    if is_root() && rustix::mount::unmount(mnt, rustix::mount::UnmountFlags::DETACH).is_ok() {
        return;
    }
    let _ = crate::process::Cmd::new("fusermount3")
        .args(["-u", "-z", "-q", "--"])
        .arg(mnt)
        .output();
}

/// Whether /etc/fuse.conf lets users mount with allow_other (a line `user_allow_other`).
pub fn fuse_conf_allows_other() -> bool {
    std::fs::read_to_string("/etc/fuse.conf").is_ok_and(|text| allows_other(&text))
}

fn allows_other(conf: &str) -> bool {
    conf.lines().any(|l| l.trim() == "user_allow_other")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuse_conf_allows_other_only_with_the_line_itself() {
        assert!(allows_other(
            "# comment\nuser_allow_other\nmount_max = 1000\n"
        ));
        assert!(allows_other("  user_allow_other  \n"));
        assert!(!allows_other("#user_allow_other\n"));
        assert!(!allows_other(
            "# user_allow_other - Using the allow_other...\n"
        ));
        assert!(!allows_other(""));
    }
}
