//! One operation at a time per project, and host-wide serialisation of shared libvirt setup.
//!
//! `flock` on a file in the state dir: the kernel drops the lock when tmpl exits, however it
//! exits (Ctrl+C, `kill -9`), so a lock is never stale. The descriptor is close-on-exec, so
//! a child that outlives tmpl (Podman's conmon, an ssh control master, a port forwarder)
//! never keeps the project locked. The file holds "pid N since T" for the message a second
//! tmpl prints.
//!
//! `rm` deletes its project's lock file while holding it, so ordinary use leaves none
//! behind. A waiter blocked on the old file then wakes up holding a lock on a name that no
//! longer exists, so `acquire` checks, once it holds the lock, that the path still names the
//! file it locked (same device and inode), and starts over with the new file otherwise.

use crate::error::{ExitStatus, Failure};
use anyhow::{Context as _, Result};
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a second operation waits before giving up, without `--wait`.
const BRIEF: Duration = Duration::from_secs(3);

pub struct Lock {
    _file: File,
    pub path: PathBuf,
}

/// Takes the lock on `f` if nobody holds it, without waiting.
fn try_flock(f: &File) -> std::io::Result<bool> {
    use rustix::fs::{flock, FlockOperation};
    match flock(f, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(true),
        Err(rustix::io::Errno::WOULDBLOCK) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// std opens every file with O_CLOEXEC: the lock is never inherited by a child.
fn open(path: &Path) -> Result<File> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
    }
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("cannot open lock {}", path.display()))
}

fn holder(f: &mut File) -> String {
    let mut s = String::new();
    let _ = f.rewind().and_then(|_| f.read_to_string(&mut s));
    let s = s.trim();
    if s.is_empty() {
        "another tmpl".into()
    } else {
        s.to_owned()
    }
}

impl Lock {
    pub fn path_for(state_root: &Path, name: &str) -> PathBuf {
        state_root.join("locks").join(format!("{name}.lock"))
    }

    /// Takes the lock called `name`, waiting briefly (or as long as it takes with `wait`).
    pub fn acquire(state_root: &Path, name: &str, what: &str, wait: bool) -> Result<Lock> {
        let path = Self::path_for(state_root, name);
        let start = Instant::now();
        let mut told = false;
        let mut f = loop {
            let mut f = open(&path)?;
            while !try_flock(&f)? {
                if !wait && start.elapsed() >= BRIEF {
                    return Err(Failure::new(
                        ExitStatus::Locked,
                        format!("{what} is locked by {}", holder(&mut f)),
                    )
                    .hint("wait for it to finish, or pass `--wait` to wait for it")
                    .into());
                }
                if wait && !told {
                    crate::ui::info(format!("waiting for {what}, locked by {}", holder(&mut f)));
                    told = true;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            if still_named(&f, &path) {
                break f;
            }
            // the holder removed the file before letting go: lock the one there now
        };
        f.set_len(0)?;
        f.rewind()?;
        write!(f, "pid {} since {}", std::process::id(), now_utc())?;
        Ok(Lock { _file: f, path })
    }
}

/// Does `path` still name the open file `f`?
fn still_named(f: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (f.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

impl Lock {
    /// Releases the lock and deletes its file, for a project that is gone (`rm`). Safe while
    /// others wait: see the module's comment.
    pub fn release_and_remove(self) {
        let _ = std::fs::remove_file(&self.path);
    }

    /// Whether nobody holds the lock at `path` right now (for leftovers).
    pub fn try_now(path: &Path) -> bool {
        matches!(Self::try_at(path), Ok(Some(_)))
    }

    /// The lock at `path` if nobody holds it, without waiting: for a process that must be
    /// the only one of its kind, and holds it as long as it runs.
    pub fn try_at(path: &Path) -> Result<Option<Lock>> {
        let f = open(path)?;
        Ok(try_flock(&f)?.then(|| Lock {
            _file: f,
            path: path.to_owned(),
        }))
    }
}

/// Now, to the second: `2026-11-21T23:04:10Z` when printed.
pub fn now_utc() -> jiff::Timestamp {
    jiff::Timestamp::from_second(jiff::Timestamp::now().as_second())
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_holder_is_noted_with_the_second_it_took_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let lock = Lock::acquire(dir.path(), "p", "project p", false).unwrap();
        let note = std::fs::read_to_string(&lock.path).unwrap();
        let since = note.split(" since ").nth(1).unwrap();
        // RFC 3339 in UTC, whole seconds: `2026-11-21T23:04:10Z`
        assert_eq!(since.len(), 20, "{note}");
        assert!(since.ends_with('Z'), "{note}");
        let t: jiff::Timestamp = since.parse().unwrap();
        assert!((jiff::Timestamp::now() - t).get_seconds() < 60);
    }

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid() {
        let dir = tempfile::tempdir().unwrap();
        let first = Lock::acquire(dir.path(), "p", "project p", false).unwrap();
        // flock is per open file description: a second open in this process conflicts too
        let err = match Lock::acquire(dir.path(), "p", "project p", false) {
            Err(e) => e,
            Ok(_) => panic!("second lock granted"),
        };
        let f = err.downcast_ref::<Failure>().unwrap();
        assert_eq!(f.code, ExitStatus::Locked);
        assert!(
            f.message.contains(&format!("pid {}", std::process::id())),
            "{}",
            f.message
        );
        drop(first);
        Lock::acquire(dir.path(), "p", "project p", false).unwrap();
    }

    #[test]
    fn a_child_that_outlives_the_holder_does_not_keep_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = Lock::path_for(dir.path(), "p");
        let held = Lock::try_at(&path).unwrap().expect("nobody holds it yet");
        assert!(
            Lock::try_at(&path).unwrap().is_none(),
            "held once at a time"
        );
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        drop(held);
        let free = Lock::try_now(&path);
        let _ = child.kill();
        let _ = child.wait();
        assert!(free, "the child inherited the lock");
    }

    #[test]
    fn a_removed_lock_file_is_never_held_twice() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_owned();
        let first = Lock::acquire(&root, "p", "project p", false).unwrap();
        let path = first.path.clone();
        // a waiter blocks on the file the first holder is about to delete
        let r = root.clone();
        let waiter = std::thread::spawn(move || {
            let l = Lock::acquire(&r, "p", "project p", true).unwrap();
            std::thread::sleep(Duration::from_millis(300));
            l
        });
        std::thread::sleep(Duration::from_millis(200));
        first.release_and_remove();
        // a newcomer after the removal must not get the lock while the waiter holds it
        std::thread::sleep(Duration::from_millis(150));
        let newcomer = Lock::acquire(&root, "p", "project p", false);
        let held = waiter.join().unwrap();
        assert!(
            newcomer.is_err(),
            "two holders at once: the waiter and the newcomer"
        );
        assert!(path.exists(), "the waiter holds the file that is there now");
        held.release_and_remove();
        assert!(!path.exists());
    }
}
