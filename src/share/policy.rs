//! The policy's decisions, made on the server whatever the guest's kernel allows: what the
//! guest may add to a folder, remove or move from it, and change in place.
//!
//! Refusals are EPERM, as a file system that does not allow the operation would answer;
//! EROFS when the whole share is read-only, EXDEV between the project and the repository,
//! EOPNOTSUPP for extended attributes outside `user.*`.

use super::fs::{err, own, Share};
use super::gitdir::Area;
use super::marks::Mark;
use super::names;
use super::protect;
use super::route::{self, Side, GITDIR_ROOT};
use fuse_backend_rs::api::filesystem::{Context, Entry, FileSystem};
use std::ffi::CStr;
use std::io;

fn is_dir(attr: &libc::stat64) -> bool {
    attr.st_mode & libc::S_IFMT == libc::S_IFDIR
}

fn is_file(attr: &libc::stat64) -> bool {
    attr.st_mode & libc::S_IFMT == libc::S_IFREG
}

impl Share {
    pub(super) fn writable(&self) -> io::Result<()> {
        if self.readonly {
            Err(err(libc::EROFS))
        } else {
            Ok(())
        }
    }

    /// Whether the project's folder `dir` holds an entry named HEAD: a bare repository, or
    /// git's view of one. Asked live, since the host may make one at any time.
    pub(super) fn has_head(&self, dir: u64) -> bool {
        let c = Context::new();
        match self.source.lookup(&c, dir, c"HEAD") {
            Ok(e) => {
                self.source.forget(&c, e.inode, 1);
                true
            }
            Err(_) => false,
        }
    }

    /// Records what the kernel now knows as `entry`, the entry `name` of `parent` (both as
    /// the kernel numbers them).
    pub(super) fn note(&self, parent: u64, name: &[u8], entry: &Entry) {
        let up = self.marks.get(parent);
        let followed = protect::follow(&up.pins, name);
        let mut mark = Mark {
            protected: up.protected || followed.leaf,
            pins: followed.below,
            area: None,
        };
        if entry.inode == GITDIR_ROOT {
            mark.area = Some(Area::Root);
        } else {
            match route::side(entry.inode) {
                Side::Source => {
                    mark.protected = mark.protected
                        || names::is_repository_name(name)
                        || (is_dir(&entry.attr) && self.has_head(entry.inode));
                }
                Side::Gitdir => {
                    mark.area = Some(up.area.unwrap_or(Area::ReadOnly).child(name));
                }
            }
        }
        if mark.protected && is_file(&entry.attr) && entry.attr.st_nlink > 1 {
            self.marks.remember_linked(entry.inode);
        }
        self.marks.set(entry.inode, mark);
    }

    /// May the guest make the entry `name` in `dir` (create, mkdir, mknod, symlink, the new
    /// name of link and rename)?
    pub(super) fn may_add(&self, dir: u64, name: &CStr) -> io::Result<()> {
        self.writable()?;
        let name = name.to_bytes();
        let up = self.marks.get(dir);
        let refused = protect::follow(&up.pins, name).leaf
            || up.protected
            || match route::side(dir) {
                Side::Source => names::is_repository_name(name) || self.has_head(dir),
                Side::Gitdir => !up.area.unwrap_or(Area::ReadOnly).child(name).writable(),
            };
        if refused {
            Err(err(libc::EPERM))
        } else {
            Ok(())
        }
    }

    /// May the guest remove the entry `name` from `dir` (unlink, rmdir), or move it away
    /// (`moving`: rename it, or have a rename replace or exchange it)?
    pub(super) fn may_remove(
        &self,
        ctx: &Context,
        dir: u64,
        name: &CStr,
        moving: bool,
    ) -> io::Result<()> {
        self.may_add(dir, name)?;
        let up = self.marks.get(dir);
        if protect::follow(&up.pins, name.to_bytes()).pinned() {
            return Err(err(libc::EPERM));
        }
        // A bare repository cannot be moved or swapped away. Removing one needs no check: it
        // takes rmdir of a folder that is not empty.
        if moving && route::side(dir) == Side::Source {
            if let Ok(e) = self.source.lookup(&own(ctx), dir, name) {
                let bare = is_dir(&e.attr) && self.has_head(e.inode);
                self.source.forget(&own(ctx), e.inode, 1);
                if bare {
                    return Err(err(libc::EPERM));
                }
            }
        }
        Ok(())
    }

    /// May the guest change `inode` in place: open it for writing, truncate it, change its
    /// mode or times, set or remove its extended attributes?
    pub(super) fn may_change(&self, ctx: &Context, inode: u64) -> io::Result<()> {
        self.writable()?;
        if self.marks.protected(inode) {
            return Err(err(libc::EPERM));
        }
        match route::side(inode) {
            Side::Source => {
                // a protected file reached through another of its hard links
                if self.marks.any_linked() && self.marks.is_linked(inode) {
                    let (st, _) = self.source.getattr(&own(ctx), inode, None)?;
                    if st.st_nlink > 1 {
                        return Err(err(libc::EPERM));
                    }
                }
            }
            Side::Gitdir => {
                if !self.marks.area(inode).writable() {
                    return Err(err(libc::EPERM));
                }
                // The repository may share files with the project's own `.git` (a `git clone
                // --local` links objects), and git never rewrites a file that has other
                // links: it writes a new one and renames it.
                let (_, i) = route::split(inode);
                let (st, _) = self.gitdir.getattr(&own(ctx), i, None)?;
                if is_file(&st) && st.st_nlink > 1 {
                    return Err(err(libc::EPERM));
                }
            }
        }
        Ok(())
    }

    /// May the guest set or remove the extended attribute `name` of `inode`?
    pub(super) fn may_set_xattr(&self, ctx: &Context, inode: u64, name: &CStr) -> io::Result<()> {
        self.writable()?;
        // As a file system without them: `sed -i`, `cp -p` and tar then leave ACLs and
        // labels out quietly, where EPERM would make them warn.
        if !names::is_guest_xattr(name.to_bytes()) {
            return Err(err(libc::EOPNOTSUPP));
        }
        self.may_change(ctx, inode)
    }

    /// May `inode` get another name? Never a protected file's, never across the two file
    /// systems, and in the repository only a file of its writable parts.
    pub(super) fn may_link(&self, inode: u64, newparent: u64) -> io::Result<()> {
        self.writable()?;
        if route::side(inode) != route::side(newparent) {
            return Err(err(libc::EXDEV));
        }
        let linked = self.marks.any_linked() && self.marks.is_linked(inode);
        let outside = route::side(inode) == Side::Gitdir && !self.marks.area(inode).writable();
        if self.marks.protected(inode) || linked || outside {
            return Err(err(libc::EPERM));
        }
        Ok(())
    }
}
