//! The folder of the ssh control sockets, through which `tmpl ssh` shares one connection per
//! project: whoever can put a socket there receives the session, so it must be private.

use crate::error::{ExitStatus, Failure};
use anyhow::{Context as _, Result};
use std::path::PathBuf;

/// Where the control sockets live, short enough for a socket path: `$XDG_RUNTIME_DIR/tmpl`,
/// or `/tmp/tmpl-<uid>` without one. Only the path; `ensure_control_dir` makes it safe.
pub fn control_dir() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(d) => PathBuf::from(d).join("tmpl"),
        None => std::env::temp_dir().join(format!("tmpl-{}", euid())),
    }
}

fn euid() -> u32 {
    crate::person::uid()
}

/// Creates the control socket folder (mode 0700), or checks the one there: a socket in it
/// receives `tmpl ssh`'s session, so it must be a real folder (not a symlink) of this user's
/// that nobody else can enter. In a shared `/tmp`, another user could have made it first.
pub fn ensure_control_dir() -> Result<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    let dir = control_dir();
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("cannot create {}", dir.display())),
    }
    let meta = std::fs::symlink_metadata(&dir)?;
    let why = if !meta.file_type().is_dir() {
        Some("it is not a folder (a symlink, say)".to_owned())
    } else if meta.uid() != euid() {
        Some(format!(
            "it belongs to uid {}, not to you (uid {})",
            meta.uid(),
            euid()
        ))
    } else if meta.mode() & 0o077 != 0 {
        Some(format!(
            "others may use it (mode {:o})",
            meta.mode() & 0o777
        ))
    } else {
        None
    };
    match why {
        None => Ok(dir),
        Some(why) => Err(Failure::new(
            ExitStatus::Failure,
            format!("refusing the ssh control folder {}: {why}", dir.display()),
        )
        .detail("a connection shared through it would reach whoever controls that folder")
        .hint(format!(
            "remove it if it is yours (`rm -r {}`), or set XDG_RUNTIME_DIR to a private folder",
            dir.display()
        ))
        .into()),
    }
}
