//! Two file systems behind one mount: the project folder, and the guest's own repository
//! shown as the project's `.git`.
//!
//! Each is a PassthroughFs with inode and handle numbers of its own, counted up from 1. The
//! kernel sees the repository's with the top bit set, which PassthroughFs never reaches (its
//! inodes stop at 2^56, its handles are counted one by one), so every number the kernel sends
//! says which file system it belongs to.

use fuse_backend_rs::api::filesystem::ROOT_ID;
use std::io;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The person's project folder.
    Source,
    /// The guest's own repository, at `<share>/.git`.
    Gitdir,
}

const TAG: u64 = 1 << 63;

/// The repository's own folder, as the kernel knows it.
pub const GITDIR_ROOT: u64 = TAG | ROOT_ID;

/// Which file system a number of the kernel's belongs to, and its number there.
pub fn split(id: u64) -> (Side, u64) {
    if id & TAG == 0 {
        (Side::Source, id)
    } else {
        (Side::Gitdir, id & !TAG)
    }
}

/// The number the kernel knows for `id` of `side`.
pub fn join(side: Side, id: u64) -> u64 {
    match side {
        Side::Source => id,
        Side::Gitdir => id | TAG,
    }
}

pub fn side(id: u64) -> Side {
    split(id).0
}

/// A handle of the inode's own file system, or EBADF: a handle of the other one would name
/// an unrelated open file there.
pub fn handle_of(side: Side, handle: u64) -> io::Result<u64> {
    let (s, h) = split(handle);
    if s == side {
        Ok(h)
    } else {
        Err(io::Error::from_raw_os_error(libc::EBADF))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip_and_keep_their_side() {
        for id in [1, 2, 12345, (1 << 56) - 1] {
            assert_eq!(split(join(Side::Source, id)), (Side::Source, id));
            assert_eq!(split(join(Side::Gitdir, id)), (Side::Gitdir, id));
            assert_ne!(join(Side::Source, id), join(Side::Gitdir, id));
        }
        assert_eq!(split(GITDIR_ROOT), (Side::Gitdir, ROOT_ID));
        assert_eq!(side(ROOT_ID), Side::Source);
    }

    #[test]
    fn a_handle_of_the_other_side_is_refused() {
        assert_eq!(handle_of(Side::Source, 7).unwrap(), 7);
        assert_eq!(handle_of(Side::Gitdir, join(Side::Gitdir, 7)).unwrap(), 7);
        assert!(handle_of(Side::Source, join(Side::Gitdir, 7)).is_err());
        assert!(handle_of(Side::Gitdir, 7).is_err());
    }
}
