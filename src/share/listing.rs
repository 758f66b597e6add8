//! The project's top folder as the guest lists it: the host's own `.git` left out, the guest's
//! repository listed as `.git` instead, after every other entry.
//!
//! Entries come from getdents, one batch per request, each with the offset the next request
//! starts from. The repository's entry goes last, with an offset getdents never gives
//! (`GIT_OFFSET`: -1 as an `off_t`), so a listing resumed after it ends there. Leaving the
//! host's `.git` out can empty a batch that is not the last: then the next one is read at
//! once, since an empty answer means the end to the kernel.

use super::fs::{own, Share};
use fuse_backend_rs::api::filesystem::{Context, DirEntry, Entry, FileSystem, ROOT_ID};
use std::io;

const GIT_OFFSET: u64 = u64::MAX;
const GIT: &[u8] = b".git";

/// What one batch of the host's listing gave.
#[derive(Default)]
struct Batch {
    seen: usize,
    added: usize,
    full: bool,
    last: u64,
}

impl Batch {
    /// The answer is complete: it holds entries, or the kernel's buffer is full.
    fn answered(&self) -> bool {
        self.added > 0 || self.full
    }

    fn count(&mut self, added: usize, offset: u64) {
        self.seen += 1;
        self.last = offset;
        if added == 0 {
            self.full = true;
        } else {
            self.added += 1;
        }
    }
}

impl Share {
    pub(super) fn root_readdir(
        &self,
        ctx: &Context,
        handle: u64,
        size: u32,
        mut offset: u64,
        add_entry: &mut dyn FnMut(DirEntry) -> io::Result<usize>,
    ) -> io::Result<()> {
        if offset == GIT_OFFSET {
            return Ok(());
        }
        loop {
            let mut b = Batch::default();
            self.source
                .readdir(&own(ctx), ROOT_ID, handle, size, offset, &mut |d| {
                    if d.name == GIT {
                        b.seen += 1;
                        b.last = d.offset;
                        return Ok(1);
                    }
                    let off = d.offset;
                    let n = add_entry(d)?;
                    b.count(n, off);
                    Ok(n)
                })?;
            if b.answered() {
                return Ok(());
            }
            if b.seen == 0 {
                let e = self.gitdir_root(ctx)?;
                add_entry(git_dirent(&e))?;
                return Ok(());
            }
            offset = b.last;
        }
    }

    pub(super) fn root_readdirplus(
        &self,
        ctx: &Context,
        handle: u64,
        size: u32,
        mut offset: u64,
        add_entry: &mut dyn FnMut(DirEntry, Entry) -> io::Result<usize>,
    ) -> io::Result<()> {
        if offset == GIT_OFFSET {
            return Ok(());
        }
        loop {
            let mut b = Batch::default();
            self.source
                .readdirplus(&own(ctx), ROOT_ID, handle, size, offset, &mut |d, e| {
                    // PassthroughFs looked it up already: mark it like any entry (the host's
                    // `.git` is protected by its name), and give its reference back when the
                    // kernel is not to have it
                    self.note(ROOT_ID, d.name, &e);
                    if d.name == GIT {
                        self.source.forget(&own(ctx), e.inode, 1);
                        b.seen += 1;
                        b.last = d.offset;
                        return Ok(1);
                    }
                    let off = d.offset;
                    let n = add_entry(d, e)?;
                    b.count(n, off);
                    Ok(n)
                })?;
            if b.answered() {
                return Ok(());
            }
            if b.seen == 0 {
                let e = self.gitdir_root(ctx)?;
                self.note(ROOT_ID, GIT, &e);
                add_entry(git_dirent(&e), e)?;
                return Ok(());
            }
            offset = b.last;
        }
    }
}

fn git_dirent(e: &Entry) -> DirEntry<'static> {
    DirEntry {
        ino: e.attr.st_ino,
        offset: GIT_OFFSET,
        type_: u32::from(libc::DT_DIR),
        name: GIT,
    }
}
