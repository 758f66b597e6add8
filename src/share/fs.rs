//! The share's two file systems, the project's and the repository's, and what the requests
//! (`requests`) share: which one a number belongs to, the repository's folder as `.git`,
//! an entry made or found.

use super::config::Config;
use super::marks::Marks;
use super::protect::Pin;
use super::route::{handle_of, join, split, Side, GITDIR_ROOT};
use anyhow::{Context as _, Result};
use fuse_backend_rs::api::filesystem::{Context, Entry, FileSystem, ROOT_ID};
use fuse_backend_rs::passthrough::{self, CachePolicy, PassthroughFs};
use std::ffi::CStr;
use std::io;
use std::path::Path;

pub fn err(code: i32) -> io::Error {
    io::Error::from_raw_os_error(code)
}

/// The context PassthroughFs gets: uid and gid 0 mean "do not switch credentials", so every
/// file is made by, and belongs to, the user running the server, whoever asked.
pub fn own(ctx: &Context) -> Context {
    let mut c = Context::new();
    c.pid = ctx.pid;
    c
}

pub struct Share {
    pub(super) source: PassthroughFs<()>,
    pub(super) gitdir: PassthroughFs<()>,
    pub(super) readonly: bool,
    pub(super) marks: Marks,
    pub(super) pins: Vec<Pin>,
}

fn served(root: &Path) -> Result<PassthroughFs<()>> {
    let root_dir = root
        .to_str()
        .with_context(|| {
            format!(
                "{} is not UTF-8, which the file server needs",
                root.display()
            )
        })?
        .to_owned();
    let cfg = passthrough::Config {
        root_dir,
        xattr: true,
        do_import: true,
        // close-to-open: the host changes the files too
        cache_policy: CachePolicy::Auto,
        ..passthrough::Config::default()
    };
    PassthroughFs::new(cfg).with_context(|| format!("cannot serve {}", root.display()))
}

impl Share {
    pub fn new(config: &Config) -> Result<Share> {
        Ok(Share {
            source: served(&config.source)?,
            gitdir: served(&config.gitdir)?,
            readonly: config.readonly,
            marks: Marks::default(),
            pins: config.pins(),
        })
    }

    pub(super) fn fs(&self, side: Side) -> &PassthroughFs<()> {
        match side {
            Side::Source => &self.source,
            Side::Gitdir => &self.gitdir,
        }
    }

    /// The repository's folder as the entry `.git` of the project's.
    pub(super) fn gitdir_root(&self, ctx: &Context) -> io::Result<Entry> {
        let (attr, timeout) = self.gitdir.getattr(&own(ctx), ROOT_ID, None)?;
        Ok(Entry {
            inode: GITDIR_ROOT,
            generation: 0,
            attr,
            attr_flags: 0,
            attr_timeout: timeout,
            entry_timeout: timeout,
        })
    }

    /// An entry PassthroughFs made or found in `parent`, numbered for the kernel and marked.
    pub(super) fn made(
        &self,
        side: Side,
        parent: u64,
        name: &CStr,
        r: io::Result<Entry>,
    ) -> io::Result<Entry> {
        let mut e = r?;
        e.inode = join(side, e.inode);
        self.note(parent, name.to_bytes(), &e);
        Ok(e)
    }

    /// Runs `f` on the file system of `inode`, with the numbers it knows `inode` and `handle`
    /// by: the requests that pass as they are.
    pub(super) fn routed<T>(
        &self,
        inode: u64,
        handle: u64,
        f: impl FnOnce(&PassthroughFs<()>, u64, u64) -> io::Result<T>,
    ) -> io::Result<T> {
        let (side, i) = split(inode);
        f(self.fs(side), i, handle_of(side, handle)?)
    }
}
