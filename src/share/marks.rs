//! What the policy knows of each inode beyond PassthroughFs: whether it is protected, which
//! PROTECT paths lie below it, where in the guest's repository it is.
//!
//! A mark is made from the folder's mark and the entry's name whenever the kernel learns of an
//! inode (lookup, readdirplus, a create), and replaced by the next one: the kernel never uses
//! an inode it has not just looked up, and one inode number stays one file for PassthroughFs.
//! A file with two names (hard links) would take the mark of the name looked up last, which is
//! why a protected file with other links is remembered apart (`linked`), for good.

use super::gitdir::Area;
use super::protect::Pin;
use std::collections::{HashMap, HashSet};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mark {
    /// Read-only, with everything below it.
    pub protected: bool,
    /// PROTECT paths below this folder, relative to it.
    pub pins: Vec<Pin>,
    /// Where in the guest's repository, for its inodes.
    pub area: Option<Area>,
}

#[derive(Default)]
pub struct Marks {
    marks: RwLock<HashMap<u64, Mark>>,
    /// Protected regular files that had other hard links when seen: a write through any name
    /// of theirs would change the protected file.
    linked: RwLock<HashSet<u64>>,
}

// A panic while a lock is held (none is expected) leaves the maps as they were: use them.
fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

impl Marks {
    /// The mark of `inode`; an inode without one is an ordinary file of the project.
    pub fn get(&self, inode: u64) -> Mark {
        read(&self.marks).get(&inode).cloned().unwrap_or_default()
    }

    pub fn set(&self, inode: u64, mark: Mark) {
        if mark == Mark::default() {
            // most inodes: take the write lock only to drop a mark they no longer have
            if read(&self.marks).contains_key(&inode) {
                write(&self.marks).remove(&inode);
            }
        } else {
            write(&self.marks).insert(inode, mark);
        }
    }

    pub fn protected(&self, inode: u64) -> bool {
        read(&self.marks).get(&inode).is_some_and(|m| m.protected)
    }

    /// The area of an inode of the repository; one never seen is read-only.
    pub fn area(&self, inode: u64) -> Area {
        read(&self.marks)
            .get(&inode)
            .and_then(|m| m.area)
            .unwrap_or(Area::ReadOnly)
    }

    pub fn remember_linked(&self, inode: u64) {
        write(&self.linked).insert(inode);
    }

    pub fn is_linked(&self, inode: u64) -> bool {
        read(&self.linked).contains(&inode)
    }

    /// Whether any protected file with other links was seen: until one is, writes need not
    /// look at link counts.
    pub fn any_linked(&self) -> bool {
        !read(&self.linked).is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unmarked_inode_is_ordinary_and_a_new_mark_replaces_the_old() {
        let m = Marks::default();
        assert_eq!(m.get(5), Mark::default());
        assert!(!m.protected(5));
        m.set(
            5,
            Mark {
                protected: true,
                ..Mark::default()
            },
        );
        assert!(m.protected(5));
        m.set(5, Mark::default());
        assert!(!m.protected(5));
    }

    #[test]
    fn an_unseen_inode_of_the_repository_is_read_only() {
        let m = Marks::default();
        assert_eq!(m.area(9), Area::ReadOnly);
        m.set(
            9,
            Mark {
                area: Some(Area::Writable),
                ..Mark::default()
            },
        );
        assert_eq!(m.area(9), Area::Writable);
    }

    #[test]
    fn linked_files_are_remembered_for_good() {
        let m = Marks::default();
        assert!(!m.any_linked());
        m.remember_linked(3);
        m.set(3, Mark::default());
        assert!(m.any_linked() && m.is_linked(3) && !m.is_linked(4));
    }
}
