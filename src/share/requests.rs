//! The kernel's requests, one by one: each goes to the project's PassthroughFs or the
//! repository's (`route`), through the policy (`policy`) first when it changes anything.

use super::fs::{err, own, Share};
use super::gitdir::Area;
use super::marks::Mark;
use super::names;
use super::route::{handle_of, join, split, Side, GITDIR_ROOT};
use fuse_backend_rs::abi::fuse_abi::{stat64, statvfs64, CreateIn};
use fuse_backend_rs::api::filesystem::{
    Context, DirEntry, Entry, FileSystem, FsOptions, GetxattrReply, ListxattrReply, OpenOptions,
    SetattrValid, ZeroCopyReader, ZeroCopyWriter, ROOT_ID,
};
use std::ffi::CStr;
use std::io;
use std::time::Duration;

type Opened = (Option<u64>, OpenOptions, Option<u32>);

const SUGID: u32 = libc::S_ISUID | libc::S_ISGID;

/// Open flags that write: the file's content changes through the handle.
fn writes(flags: u32) -> bool {
    let flags = flags as i32;
    flags & libc::O_ACCMODE != libc::O_RDONLY || flags & (libc::O_TRUNC | libc::O_APPEND) != 0
}

/// Everything of a setattr that PassthroughFs applies, once the owner is taken out.
fn applied() -> SetattrValid {
    SetattrValid::MODE
        | SetattrValid::SIZE
        | SetattrValid::ATIME
        | SetattrValid::MTIME
        | SetattrValid::ATIME_NOW
        | SetattrValid::MTIME_NOW
}

impl FileSystem for Share {
    type Inode = u64;
    type Handle = u64;

    fn init(&self, capable: FsOptions) -> io::Result<FsOptions> {
        let opts = self.source.init(capable)? & self.gitdir.init(capable)?;
        // The project itself may be protected (PROTECT `.`), or be a bare repository.
        let whole = self.pins.iter().any(Vec::is_empty) || self.has_head(ROOT_ID);
        let pins = self.pins.iter().filter(|p| !p.is_empty()).cloned();
        let top = Mark {
            protected: whole,
            pins: pins.collect(),
            area: None,
        };
        self.marks.set(ROOT_ID, top);
        let repository = Mark {
            area: Some(Area::Root),
            ..Mark::default()
        };
        self.marks.set(GITDIR_ROOT, repository);
        Ok(opts)
    }

    fn destroy(&self) {
        self.source.destroy();
        self.gitdir.destroy();
    }

    fn lookup(&self, ctx: &Context, parent: u64, name: &CStr) -> io::Result<Entry> {
        if names::is_dot(name.to_bytes()) {
            return Err(err(libc::EINVAL));
        }
        // The project's own `.git` is never reached: its name leads to the guest's repository.
        if parent == ROOT_ID && name.to_bytes() == b".git" {
            let e = self.gitdir_root(ctx)?;
            self.note(parent, name.to_bytes(), &e);
            return Ok(e);
        }
        let (side, p) = split(parent);
        self.made(side, parent, name, self.fs(side).lookup(&own(ctx), p, name))
    }

    fn forget(&self, ctx: &Context, inode: u64, count: u64) {
        let (side, i) = split(inode);
        self.fs(side).forget(ctx, i, count)
    }

    fn batch_forget(&self, ctx: &Context, requests: Vec<(u64, u64)>) {
        let (mut source, mut gitdir) = (Vec::new(), Vec::new());
        for (inode, count) in requests {
            match split(inode) {
                (Side::Source, i) => source.push((i, count)),
                (Side::Gitdir, i) => gitdir.push((i, count)),
            }
        }
        self.source.batch_forget(ctx, source);
        self.gitdir.batch_forget(ctx, gitdir);
    }

    fn getattr(&self, ctx: &Context, inode: u64, h: Option<u64>) -> io::Result<(stat64, Duration)> {
        let (side, i) = split(inode);
        let h = h.map(|h| handle_of(side, h)).transpose()?;
        self.fs(side).getattr(&own(ctx), i, h)
    }

    fn setattr(
        &self,
        ctx: &Context,
        inode: u64,
        mut attr: stat64,
        h: Option<u64>,
        mut valid: SetattrValid,
    ) -> io::Result<(stat64, Duration)> {
        self.may_change(ctx, inode)?;
        let (side, i) = split(inode);
        let h = h.map(|h| handle_of(side, h)).transpose()?;
        // chown and chgrp are accepted and not applied: every file stays the server's user's
        valid.remove(SetattrValid::UID | SetattrValid::GID);
        attr.st_mode &= !SUGID;
        if !valid.intersects(applied()) {
            return self.fs(side).getattr(&own(ctx), i, h);
        }
        self.fs(side).setattr(&own(ctx), i, attr, h, valid)
    }

    fn readlink(&self, ctx: &Context, inode: u64) -> io::Result<Vec<u8>> {
        let (side, i) = split(inode);
        self.fs(side).readlink(&own(ctx), i)
    }

    fn symlink(&self, ctx: &Context, link: &CStr, parent: u64, name: &CStr) -> io::Result<Entry> {
        self.may_add(parent, name)?;
        let (side, p) = split(parent);
        // a link in the repository would lead the host's git wherever the guest chose
        if side == Side::Gitdir {
            return Err(err(libc::EPERM));
        }
        self.made(
            side,
            parent,
            name,
            self.source.symlink(&own(ctx), link, p, name),
        )
    }

    fn mknod(
        &self,
        ctx: &Context,
        parent: u64,
        name: &CStr,
        mode: u32,
        _rdev: u32,
        umask: u32,
    ) -> io::Result<Entry> {
        self.may_add(parent, name)?;
        let (side, p) = split(parent);
        // No devices. No FIFOs: one in the project would hang the person's tools that open it
        // on the host (a shell's `> file`). Sockets are inert there: nothing listens on the
        // host's side of one.
        match mode & libc::S_IFMT {
            libc::S_IFREG => {}
            libc::S_IFSOCK if side == Side::Source => {}
            _ => return Err(err(libc::EPERM)),
        }
        let r = self
            .fs(side)
            .mknod(&own(ctx), p, name, mode & !SUGID, 0, umask);
        self.made(side, parent, name, r)
    }

    fn mkdir(
        &self,
        ctx: &Context,
        parent: u64,
        name: &CStr,
        mode: u32,
        umask: u32,
    ) -> io::Result<Entry> {
        self.may_add(parent, name)?;
        let (side, p) = split(parent);
        let r = self
            .fs(side)
            .mkdir(&own(ctx), p, name, mode & !SUGID, umask);
        self.made(side, parent, name, r)
    }

    fn unlink(&self, ctx: &Context, parent: u64, name: &CStr) -> io::Result<()> {
        self.may_remove(ctx, parent, name, false)?;
        let (side, p) = split(parent);
        self.fs(side).unlink(&own(ctx), p, name)
    }

    fn rmdir(&self, ctx: &Context, parent: u64, name: &CStr) -> io::Result<()> {
        self.may_remove(ctx, parent, name, false)?;
        let (side, p) = split(parent);
        self.fs(side).rmdir(&own(ctx), p, name)
    }

    fn rename(
        &self,
        ctx: &Context,
        olddir: u64,
        oldname: &CStr,
        newdir: u64,
        newname: &CStr,
        flags: u32,
    ) -> io::Result<()> {
        self.writable()?;
        // a whiteout is a 0/0 character device left at the old name
        if flags & libc::RENAME_WHITEOUT != 0 {
            return Err(err(libc::EPERM));
        }
        let ((side, old), (new_side, new)) = (split(olddir), split(newdir));
        if side != new_side {
            return Err(err(libc::EXDEV));
        }
        // the entry leaves its name; whatever has the new name is replaced or exchanged
        self.may_remove(ctx, olddir, oldname, true)?;
        self.may_remove(ctx, newdir, newname, true)?;
        self.fs(side)
            .rename(&own(ctx), old, oldname, new, newname, flags)
    }

    fn link(&self, ctx: &Context, inode: u64, newparent: u64, name: &CStr) -> io::Result<Entry> {
        self.may_link(inode, newparent)?;
        self.may_add(newparent, name)?;
        let ((side, i), (_, np)) = (split(inode), split(newparent));
        let r = self.fs(side).link(&own(ctx), i, np, name);
        self.made(side, newparent, name, r)
    }

    fn open(&self, ctx: &Context, inode: u64, flags: u32, fuse_flags: u32) -> io::Result<Opened> {
        if writes(flags) {
            self.may_change(ctx, inode)?;
        }
        let (side, i) = split(inode);
        let (h, opts, passthrough) = self.fs(side).open(&own(ctx), i, flags, fuse_flags)?;
        Ok((h.map(|h| join(side, h)), opts, passthrough))
    }

    fn create(
        &self,
        ctx: &Context,
        parent: u64,
        name: &CStr,
        mut args: CreateIn,
    ) -> io::Result<(Entry, Option<u64>, OpenOptions, Option<u32>)> {
        self.may_add(parent, name)?;
        let (side, p) = split(parent);
        args.mode &= !SUGID;
        // The kernel asks to create only a name it just found missing. Should the host have
        // made it since, PassthroughFs would open that file for writing, past `open`'s checks.
        args.flags |= libc::O_EXCL as u32;
        let (e, h, opts, passthrough) = self.fs(side).create(&own(ctx), p, name, args)?;
        let e = self.made(side, parent, name, Ok(e))?;
        Ok((e, h.map(|h| join(side, h)), opts, passthrough))
    }

    #[allow(clippy::too_many_arguments)]
    fn read(
        &self,
        ctx: &Context,
        inode: u64,
        handle: u64,
        w: &mut dyn ZeroCopyWriter,
        size: u32,
        offset: u64,
        lock_owner: Option<u64>,
        flags: u32,
    ) -> io::Result<usize> {
        self.routed(inode, handle, |fs, i, h| {
            fs.read(&own(ctx), i, h, w, size, offset, lock_owner, flags)
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn write(
        &self,
        ctx: &Context,
        inode: u64,
        handle: u64,
        r: &mut dyn ZeroCopyReader,
        size: u32,
        offset: u64,
        lock_owner: Option<u64>,
        delayed: bool,
        flags: u32,
        fuse_flags: u32,
    ) -> io::Result<usize> {
        // the handle was opened by `open` or `create`, which applied the policy
        self.writable()?;
        self.routed(inode, handle, |fs, i, h| {
            let c = own(ctx);
            fs.write(
                &c, i, h, r, size, offset, lock_owner, delayed, flags, fuse_flags,
            )
        })
    }

    fn flush(&self, ctx: &Context, inode: u64, handle: u64, lock_owner: u64) -> io::Result<()> {
        self.routed(inode, handle, |fs, i, h| {
            fs.flush(&own(ctx), i, h, lock_owner)
        })
    }

    fn fsync(&self, ctx: &Context, inode: u64, datasync: bool, handle: u64) -> io::Result<()> {
        self.routed(inode, handle, |fs, i, h| {
            fs.fsync(&own(ctx), i, datasync, h)
        })
    }

    fn fallocate(
        &self,
        ctx: &Context,
        inode: u64,
        handle: u64,
        mode: u32,
        offset: u64,
        length: u64,
    ) -> io::Result<()> {
        self.may_change(ctx, inode)?;
        self.routed(inode, handle, |fs, i, h| {
            fs.fallocate(&own(ctx), i, h, mode, offset, length)
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn release(
        &self,
        ctx: &Context,
        inode: u64,
        flags: u32,
        handle: u64,
        flush: bool,
        flock_release: bool,
        lock_owner: Option<u64>,
    ) -> io::Result<()> {
        self.routed(inode, handle, |fs, i, h| {
            fs.release(&own(ctx), i, flags, h, flush, flock_release, lock_owner)
        })
    }

    fn statfs(&self, ctx: &Context, inode: u64) -> io::Result<statvfs64> {
        let (side, i) = split(inode);
        self.fs(side).statfs(&own(ctx), i)
    }

    fn setxattr(
        &self,
        ctx: &Context,
        inode: u64,
        name: &CStr,
        value: &[u8],
        flags: u32,
    ) -> io::Result<()> {
        self.may_set_xattr(ctx, inode, name)?;
        let (side, i) = split(inode);
        self.fs(side).setxattr(&own(ctx), i, name, value, flags)
    }

    fn getxattr(
        &self,
        ctx: &Context,
        inode: u64,
        name: &CStr,
        size: u32,
    ) -> io::Result<GetxattrReply> {
        let (side, i) = split(inode);
        self.fs(side).getxattr(&own(ctx), i, name, size)
    }

    fn listxattr(&self, ctx: &Context, inode: u64, size: u32) -> io::Result<ListxattrReply> {
        let (side, i) = split(inode);
        self.fs(side).listxattr(&own(ctx), i, size)
    }

    fn removexattr(&self, ctx: &Context, inode: u64, name: &CStr) -> io::Result<()> {
        self.may_set_xattr(ctx, inode, name)?;
        let (side, i) = split(inode);
        self.fs(side).removexattr(&own(ctx), i, name)
    }

    fn opendir(
        &self,
        ctx: &Context,
        inode: u64,
        flags: u32,
    ) -> io::Result<(Option<u64>, OpenOptions)> {
        let (side, i) = split(inode);
        let (h, opts) = self.fs(side).opendir(&own(ctx), i, flags)?;
        Ok((h.map(|h| join(side, h)), opts))
    }

    fn readdir(
        &self,
        ctx: &Context,
        inode: u64,
        handle: u64,
        size: u32,
        offset: u64,
        add_entry: &mut dyn FnMut(DirEntry) -> io::Result<usize>,
    ) -> io::Result<()> {
        if inode == ROOT_ID {
            return self.root_readdir(ctx, handle, size, offset, add_entry);
        }
        self.routed(inode, handle, |fs, i, h| {
            fs.readdir(&own(ctx), i, h, size, offset, add_entry)
        })
    }

    fn readdirplus(
        &self,
        ctx: &Context,
        inode: u64,
        handle: u64,
        size: u32,
        offset: u64,
        add_entry: &mut dyn FnMut(DirEntry, Entry) -> io::Result<usize>,
    ) -> io::Result<()> {
        if inode == ROOT_ID {
            return self.root_readdirplus(ctx, handle, size, offset, add_entry);
        }
        let side = split(inode).0;
        // entries handed out here are lookups too: numbered and marked the same way
        self.routed(inode, handle, |fs, i, h| {
            fs.readdirplus(&own(ctx), i, h, size, offset, &mut |d, mut e| {
                e.inode = join(side, e.inode);
                self.note(inode, d.name, &e);
                add_entry(d, e)
            })
        })
    }

    fn fsyncdir(&self, ctx: &Context, inode: u64, datasync: bool, handle: u64) -> io::Result<()> {
        self.routed(inode, handle, |fs, i, h| {
            fs.fsyncdir(&own(ctx), i, datasync, h)
        })
    }

    fn releasedir(&self, ctx: &Context, inode: u64, flags: u32, handle: u64) -> io::Result<()> {
        self.routed(inode, handle, |fs, i, h| {
            fs.releasedir(&own(ctx), i, flags, h)
        })
    }

    fn access(&self, _ctx: &Context, _inode: u64, _mask: u32) -> io::Result<()> {
        // mounted with default_permissions: the kernel checks modes itself and never asks
        Ok(())
    }

    fn lseek(
        &self,
        ctx: &Context,
        inode: u64,
        handle: u64,
        offset: u64,
        whence: u32,
    ) -> io::Result<u64> {
        self.routed(inode, handle, |fs, i, h| {
            fs.lseek(&own(ctx), i, h, offset, whence)
        })
    }
}
