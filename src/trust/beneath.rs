//! Reading the provisioning set in one pass, race-free, never leaving it.
//!
//! The guest can rename, exchange (`renameat2(RENAME_EXCHANGE)`) and symlink anything in the
//! folder while tmpl reads it, so no path is checked and then used: checking `files/` and
//! reading `files/key` a moment later may read whatever `files` points to by then (the issue's
//! row: `/root`). Here every file is opened once with `openat2`, relative to the folder it was
//! listed in, and everything about it (type, mode, bytes) comes from that descriptor:
//!
//! - `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`: an entry is its folder's own child, never
//!   reached through a link; the kernel checks it at the moment of the open.
//! - `O_PATH | O_NOFOLLOW` first, then the type from `fstat`: only a regular file or a folder
//!   is opened for reading (through `/proc/self/fd`, the same inode, no second lookup). A fifo
//!   would block the read, and opening a device acts (a watchdog starts, a tape rewinds), so
//!   those, and sockets, are refused before they are opened.
//! - A link inside the set is followed by the kernel from the set's root with
//!   `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS`: wherever it, or any folder above it, points by
//!   then, what is opened is inside the set; one that leads out is refused. A link to a folder
//!   is refused: following it would read the same files under two names, a link to a folder
//!   above it would loop, and a real folder (or copy) says the same without either.
//! - A hard link is its content: it names a file of the same folder tree, which the guest can
//!   write anyway.
//! - The bytes read are the bytes hashed, shown, copied and run: the set is kept in memory
//!   (within the size limits) until it is written to the approved copy.

use crate::error::{ExitStatus, Failure};
use anyhow::{Context as _, Result};
use rustix::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use rustix::fs::{openat, openat2, FileType, Mode, OFlags, ResolveFlags, CWD};
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// A set bigger than this is almost certainly the whole project: refuse, and say why.
const MAX_FILES: usize = 2000;
const MAX_BYTES: u64 = 100 << 20;
/// Folders in the set, and how deep: a bound on the walk whatever the guest builds.
const MAX_DIRS: usize = 2000;
const MAX_DEPTH: usize = 64;

/// One file of the set, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub bytes: Vec<u8>,
    /// Ansible runs an executable `vault_password_file`, so the bit matters as much as the bytes.
    pub exec: bool,
}

/// The set: path relative to its root → the file.
pub type Files = BTreeMap<PathBuf, File>;

/// Reads the set at `root` (relative to the project folder `project`; `""` is the folder
/// itself): a folder and everything in it, or one file, named by its own name.
pub fn read_set(project: &Path, root: &Path) -> Result<Files> {
    let top = rustix::fs::open(
        project,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .with_context(|| format!("cannot open {}", project.display()))?;
    let rel = if root.as_os_str().is_empty() {
        Path::new(".")
    } else {
        root
    };
    // the set's root may be a link inside the project, never one out of it
    let fd = openat2(
        &top,
        rel,
        OFlags::PATH | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS,
    )
    .map_err(|e| opening(e, project, rel))?;
    let mut r = Reader {
        top: project.join(root),
        files: Files::new(),
        bytes: 0,
        dirs: 0,
    };
    match kind(&fd)? {
        FileType::Directory => {
            let dir = reopen(&fd, true)?;
            r.walk(dir.as_fd(), dir.as_fd(), PathBuf::new(), 0)?;
        }
        FileType::RegularFile => {
            let name = PathBuf::from(root.file_name().unwrap_or(OsStr::new("script")));
            r.file(&fd, name)?;
        }
        other => return Err(special(&r.top, Path::new(""), other)),
    }
    Ok(r.files)
}

/// Reads a folder tmpl wrote itself (the approved copy), with the same care.
pub fn read_tree(dir: &Path) -> Result<Files> {
    read_set(dir, Path::new(""))
}

struct Reader {
    /// The set's root, for messages.
    top: PathBuf,
    files: Files,
    bytes: u64,
    dirs: usize,
}

impl Reader {
    /// Reads the folder `dir` (at `rel` in the set); `root` is the set's own root.
    fn walk(
        &mut self,
        root: BorrowedFd,
        dir: BorrowedFd,
        rel: PathBuf,
        depth: usize,
    ) -> Result<()> {
        self.dirs += 1;
        if self.dirs > MAX_DIRS || depth > MAX_DEPTH {
            return Err(too_big(&self.top));
        }
        let mut names = Vec::new();
        for e in rustix::fs::Dir::read_from(dir)? {
            let name = e?.file_name().to_bytes().to_vec();
            if name != b"." && name != b".." && name != b".git" {
                names.push(name);
            }
        }
        names.sort();
        for name in names {
            let name = PathBuf::from(OsStr::from_bytes(&name));
            let rel = rel.join(&name);
            let fd = openat2(
                dir,
                &name,
                OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
                ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS,
            );
            // gone since it was listed: the guest is at work; what is not read is not approved
            let Ok(fd) = fd else { continue };
            match kind(&fd)? {
                FileType::Directory => {
                    let sub = reopen(&fd, true)?;
                    self.walk(root, sub.as_fd(), rel, depth + 1)?;
                }
                FileType::RegularFile => self.file(&fd, rel)?,
                FileType::Symlink => {
                    let target = openat2(
                        root,
                        &rel,
                        OFlags::PATH | OFlags::CLOEXEC,
                        Mode::empty(),
                        ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS,
                    )
                    .map_err(|e| self.link_out(e, dir, &name, &rel))?;
                    match kind(&target)? {
                        FileType::RegularFile => self.file(&target, rel)?,
                        FileType::Directory => return Err(self.link_to_folder(&rel)),
                        other => return Err(special(&self.top, &rel, other)),
                    }
                }
                other => return Err(special(&self.top, &rel, other)),
            }
        }
        Ok(())
    }

    /// Reads the regular file behind the `O_PATH` descriptor `fd`.
    fn file(&mut self, fd: &OwnedFd, rel: PathBuf) -> Result<()> {
        let f = reopen(fd, false)?;
        let exec = rustix::fs::fstat(&f)?.st_mode & 0o111 != 0;
        let left = MAX_BYTES - self.bytes;
        let mut bytes = Vec::new();
        // the file may grow while it is read: read one byte past the limit, not its size
        std::fs::File::from(f)
            .take(left + 1)
            .read_to_end(&mut bytes)
            .with_context(|| format!("cannot read {}", self.top.join(&rel).display()))?;
        self.bytes += bytes.len() as u64;
        if self.bytes > MAX_BYTES || self.files.len() >= MAX_FILES {
            return Err(too_big(&self.top));
        }
        self.files.insert(rel, File { bytes, exec });
        Ok(())
    }

    fn link_out(
        &self,
        e: rustix::io::Errno,
        dir: BorrowedFd,
        name: &Path,
        rel: &Path,
    ) -> anyhow::Error {
        if e != rustix::io::Errno::XDEV && e != rustix::io::Errno::LOOP {
            return anyhow::anyhow!("cannot read {}: {e}", self.top.join(rel).display());
        }
        let to = rustix::fs::readlinkat(dir, name, Vec::new())
            .map(|t| crate::text::visible_bytes(t.as_bytes()))
            .unwrap_or_default();
        Failure::new(
            ExitStatus::Untrusted,
            format!(
                "`{}` in the provisioning folder points outside it, to {to}",
                crate::text::visible_bytes(rel.as_os_str().as_bytes())
            ),
        )
        .detail("a link is followed only when it stays inside the folder by a relative path")
        .hint("replace the link with the file itself, or remove it: files outside the folder are never handed to provisioning")
        .into()
    }

    fn link_to_folder(&self, rel: &Path) -> anyhow::Error {
        Failure::new(
            ExitStatus::Untrusted,
            format!(
                "`{}` in the provisioning folder is a link to a folder",
                crate::text::visible_bytes(rel.as_os_str().as_bytes())
            ),
        )
        .detail(
            "tmpl reads each file of the set once, under one name, and follows links to files only",
        )
        .hint("replace the link with the folder itself, or remove it")
        .into()
    }
}

fn kind(fd: &OwnedFd) -> Result<FileType> {
    Ok(FileType::from_raw_mode(rustix::fs::fstat(fd)?.st_mode))
}

/// The file behind an `O_PATH` descriptor, opened for reading: the same inode, through the
/// kernel's own link to it, so nothing in the folder is looked up again.
fn reopen(fd: &OwnedFd, dir: bool) -> Result<OwnedFd> {
    let before = rustix::fs::fstat(fd)?;
    let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK;
    let flags = if dir {
        flags | OFlags::DIRECTORY
    } else {
        flags
    };
    let path = format!("/proc/self/fd/{}", fd.as_raw_fd());
    let f = openat(CWD, path.as_str(), flags, Mode::empty())
        .with_context(|| format!("cannot reopen a file through {path} (tmpl needs /proc)"))?;
    let after = rustix::fs::fstat(&f)?;
    anyhow::ensure!(
        (before.st_dev, before.st_ino) == (after.st_dev, after.st_ino),
        "{path} is not the file tmpl opened"
    );
    Ok(f)
}

fn opening(e: rustix::io::Errno, project: &Path, rel: &Path) -> anyhow::Error {
    let place = crate::text::visible_bytes(project.join(rel).as_os_str().as_bytes());
    if e == rustix::io::Errno::XDEV {
        return Failure::new(
            ExitStatus::Untrusted,
            format!("the provisioning set {place} leads out of the project folder"),
        )
        .hint("PROVISION_SCRIPT and its folder must be inside the project, not links out of it")
        .into();
    }
    if e == rustix::io::Errno::NOSYS {
        return Failure::new(
            ExitStatus::Unavailable,
            "this kernel has no openat2 (Linux 5.6 or later)",
        )
        .detail(format!(
            "tmpl reads {place} with it, so the guest cannot swap a file for a link meanwhile"
        ))
        .hint("run tmpl on a newer kernel")
        .into();
    }
    anyhow::anyhow!("cannot read {place}: {e}")
}

fn special(top: &Path, rel: &Path, t: FileType) -> anyhow::Error {
    let what = match t {
        FileType::Fifo => "a fifo",
        FileType::Socket => "a socket",
        FileType::CharacterDevice | FileType::BlockDevice => "a device",
        _ => "not a regular file",
    };
    Failure::new(
        ExitStatus::Untrusted,
        format!(
            "`{}` in the provisioning folder {} is {what}",
            crate::text::visible_bytes(rel.as_os_str().as_bytes()),
            crate::text::visible_bytes(top.as_os_str().as_bytes())
        ),
    )
    .detail("only files and folders are approved and copied; tmpl does not open anything else")
    .hint("remove it from the provisioning folder")
    .into()
}

fn too_big(top: &Path) -> anyhow::Error {
    Failure::config(format!(
        "the provisioning folder {} holds more than {MAX_FILES} files, {MAX_DIRS} folders or {} MiB",
        top.display(),
        MAX_BYTES >> 20
    ))
    .detail("tmpl approves and copies the whole folder of a playbook, since Ansible may load any file next to it")
    .hint("keep the playbook in a folder of its own (e.g. `provision/site.yml`) and point PROVISION_SCRIPT at it")
    .into()
}
