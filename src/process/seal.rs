//! Host-side steps that write into a folder the guest writes (a playbook's `fetch` or
//! `template` to `localhost`, a shell redirect) must never be led out of it by a link the
//! guest planted. Such a command runs in a mount namespace of its own where the folder is
//! mounted again with `nosymfollow` (Linux 5.10): the kernel then follows no symlink that
//! lives in the folder, for any path through it, so a write either lands in the folder or
//! fails with ELOOP. Nothing is checked and then used: there is no moment for the guest to
//! swap a link in.
//!
//! Root gets a mount namespace; an ordinary person a user namespace too, where their own uid
//! and gid map to themselves (files they write stay theirs; root's files show as `nobody`,
//! which is all a host-side step needs). The namespace goes with the command.
//!
//! Everything the child does between fork and exec is a system call on buffers made before
//! the fork: no allocation, no lock.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// What the child needs, made before the fork.
pub struct Seal {
    dir: CString,
    /// `Some` for an ordinary person: the lines for uid_map and gid_map.
    maps: Option<(Vec<u8>, Vec<u8>)>,
    /// The mount flags the folder has now (`nosuid`, `nodev`, `ro`...): a remount in a user
    /// namespace must keep the ones locked by the mount's owner.
    kept: rustix::mount::MountFlags,
    /// The command's working folder, entered again once the folder is remounted: a working
    /// folder entered before stays on the mount below, where links are followed.
    cwd: CString,
}

impl Seal {
    /// `cwd`: where the command starts (the current folder when `None`).
    pub fn new(dir: &Path, cwd: Option<&Path>) -> io::Result<Seal> {
        let c = |p: &Path| {
            CString::new(p.as_os_str().as_bytes())
                .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
        };
        let cwd = match cwd {
            Some(p) => c(p)?,
            None => c(&std::env::current_dir()?)?,
        };
        let dir = c(dir)?;
        let uid = rustix::process::getuid().as_raw();
        let gid = rustix::process::getgid().as_raw();
        let maps = (uid != 0).then(|| {
            (
                format!("{uid} {uid} 1\n").into_bytes(),
                format!("{gid} {gid} 1\n").into_bytes(),
            )
        });
        let st = rustix::fs::statvfs(dir.as_c_str())?;
        use rustix::fs::StatVfsMountFlags as S;
        use rustix::mount::MountFlags as M;
        let mut kept = M::empty();
        for (s, m) in [
            (S::RDONLY, M::RDONLY),
            (S::NOSUID, M::NOSUID),
            (S::NODEV, M::NODEV),
            (S::NOEXEC, M::NOEXEC),
            (S::NOATIME, M::NOATIME),
            (S::NODIRATIME, M::NODIRATIME),
            (S::RELATIME, M::RELATIME),
        ] {
            if st.f_flag.contains(s) {
                kept |= m;
            }
        }
        Ok(Seal {
            dir,
            maps,
            kept,
            cwd,
        })
    }

    /// In the child, after fork, before exec.
    pub fn apply(&self) -> io::Result<()> {
        use rustix::mount::{MountFlags, MountPropagationFlags};
        use rustix::thread::UnshareFlags;
        // SAFETY: a new mount (and user) namespace for this child alone, between fork and
        // exec: nothing else in the process shares its file system state
        match &self.maps {
            None => unsafe { rustix::thread::unshare_unsafe(UnshareFlags::NEWNS)? },
            Some((uid_map, gid_map)) => {
                unsafe {
                    rustix::thread::unshare_unsafe(UnshareFlags::NEWUSER | UnshareFlags::NEWNS)?
                };
                write_file(c"/proc/self/setgroups", b"deny")?;
                write_file(c"/proc/self/uid_map", uid_map)?;
                write_file(c"/proc/self/gid_map", gid_map)?;
            }
        }
        // nothing of this namespace goes back to the host's
        rustix::mount::mount_change(
            c"/",
            MountPropagationFlags::REC | MountPropagationFlags::PRIVATE,
        )?;
        rustix::mount::mount_bind_recursive(self.dir.as_c_str(), self.dir.as_c_str())?;
        rustix::mount::mount_remount(
            self.dir.as_c_str(),
            MountFlags::BIND | MountFlags::NOSYMFOLLOW | self.kept,
            c"",
        )?;
        rustix::process::chdir(self.cwd.as_c_str())?;
        Ok(())
    }
}

fn write_file(path: &std::ffi::CStr, bytes: &[u8]) -> io::Result<()> {
    use rustix::fs::{Mode, OFlags};
    let fd = rustix::fs::open(path, OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty())?;
    rustix::io::write(&fd, bytes)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::process::Cmd;

    #[test]
    fn a_sealed_command_writes_into_the_folder_and_never_through_a_link() {
        let d = tempfile::tempdir().unwrap();
        let project = d.path().join("project");
        std::fs::create_dir(&project).unwrap();
        let outside = d.path().join("outside");
        std::fs::write(&outside, "host file\n").unwrap();
        std::os::unix::fs::symlink(&outside, project.join("kubeconfig")).unwrap();
        std::os::unix::fs::symlink(d.path(), project.join("up")).unwrap();
        let sh = |script: &str| {
            Cmd::new("sh")
                .args(["-c", script])
                .dir(&project)
                .without_symlinks_in(&project)
                .output()
                .unwrap()
        };
        let out = sh("echo guest > kubeconfig");
        assert!(!out.success(), "wrote through a link: {out:?}");
        let out = sh("echo guest > up/outside");
        assert!(!out.success(), "wrote through a linked folder: {out:?}");
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "host file\n");
        let out = sh("echo fetched > plain && cat plain");
        assert!(out.success(), "{out:?}");
        assert_eq!(
            std::fs::read_to_string(project.join("plain")).unwrap(),
            "fetched\n"
        );
        // the host's own view is untouched: the link still works outside the command
        assert_eq!(
            std::fs::read_to_string(project.join("kubeconfig")).unwrap(),
            "host file\n"
        );
    }
}
