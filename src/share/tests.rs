//! The share's file system called as the kernel would, without a mount (no root needed): the
//! top folder's listing across small batches, the two file systems' numbers, refusals.

use super::config::Config;
use super::fs::Share;
use super::route::GITDIR_ROOT;
use fuse_backend_rs::abi::fuse_abi::CreateIn;
use fuse_backend_rs::api::filesystem::{Context, FileSystem, FsOptions, ROOT_ID};
use std::ffi::CString;
use std::path::Path;

fn share(t: &Path, files: usize) -> Share {
    let (src, git) = (t.join("proj"), t.join("git"));
    std::fs::create_dir_all(src.join(".git")).unwrap();
    std::fs::write(src.join(".git/config"), "the host's own config\n").unwrap();
    for i in 0..files {
        std::fs::write(src.join(format!("file-{i:02}")), "x").unwrap();
    }
    std::fs::create_dir_all(&git).unwrap();
    std::fs::write(git.join("HEAD"), "ref: refs/heads/main\n").unwrap();
    std::fs::write(git.join("config"), "guest\n").unwrap();
    let config = Config {
        source: src,
        gitdir: git,
        mountpoint: t.join("mnt"),
        readonly: false,
        protect: vec![],
        allow_other: false,
    };
    let s = Share::new(&config).unwrap();
    s.init(FsOptions::empty()).unwrap();
    s
}

fn c(name: &str) -> CString {
    CString::new(name).unwrap()
}

fn errno<T>(r: std::io::Result<T>) -> Option<i32> {
    r.err().and_then(|e| e.raw_os_error())
}

/// The whole top listing, read in batches of `size` bytes as the kernel asks for it.
fn listing(s: &Share, size: u32, plus: bool) -> Vec<(String, u64)> {
    let ctx = Context::new();
    let (h, _) = s.opendir(&ctx, ROOT_ID, 0).unwrap();
    let h = h.unwrap();
    let (mut all, mut offset) = (Vec::new(), 0);
    loop {
        let mut batch = Vec::new();
        if plus {
            s.readdirplus(&ctx, ROOT_ID, h, size, offset, &mut |d, e| {
                let name = String::from_utf8_lossy(d.name).into_owned();
                batch.push((name, d.offset, e.inode));
                Ok(1)
            })
            .unwrap();
        } else {
            s.readdir(&ctx, ROOT_ID, h, size, offset, &mut |d| {
                batch.push((String::from_utf8_lossy(d.name).into_owned(), d.offset, 0));
                Ok(1)
            })
            .unwrap();
        }
        let Some(last) = batch.last() else {
            return all;
        };
        offset = last.1;
        for (name, _, inode) in batch {
            if name == ".git" && plus {
                assert_eq!(
                    inode, GITDIR_ROOT,
                    "readdirplus hands out the guest's repository"
                );
            }
            all.push((name, inode));
        }
        assert!(all.len() < 1000, "the listing does not end");
    }
}

#[test]
fn the_top_listing_has_the_guests_git_once_and_last_in_any_batch_size() {
    let t = tempfile::tempdir().unwrap();
    let s = share(t.path(), 30);
    for plus in [false, true] {
        // 80 bytes hold two or three entries: the host's .git falls alone in some batch
        for size in [80, 4096] {
            let names: Vec<String> = listing(&s, size, plus).into_iter().map(|e| e.0).collect();
            assert_eq!(names.len(), 31, "{size} {plus}: {names:?}");
            assert_eq!(names.last().map(String::as_str), Some(".git"));
            assert_eq!(names.iter().filter(|n| *n == ".git").count(), 1);
        }
    }
}

#[test]
fn dot_and_dotdot_are_never_looked_up_and_dot_git_is_the_guests() {
    let t = tempfile::tempdir().unwrap();
    let s = share(t.path(), 1);
    let ctx = Context::new();
    assert_eq!(errno(s.lookup(&ctx, ROOT_ID, &c(".."))), Some(libc::EINVAL));
    assert_eq!(errno(s.lookup(&ctx, ROOT_ID, &c("."))), Some(libc::EINVAL));
    let git = s.lookup(&ctx, ROOT_ID, &c(".git")).unwrap();
    assert_eq!(git.inode, GITDIR_ROOT);
    let config = s.lookup(&ctx, git.inode, &c("config")).unwrap();
    assert_eq!(config.attr.st_size, "guest\n".len() as i64);
    assert_eq!(
        errno(s.lookup(&ctx, git.inode, &c(".."))),
        Some(libc::EINVAL)
    );
}

#[test]
fn refusals_come_before_anything_is_made() {
    let t = tempfile::tempdir().unwrap();
    let s = share(t.path(), 1);
    let ctx = Context::new();
    let git = s.lookup(&ctx, ROOT_ID, &c(".git")).unwrap().inode;
    let fifo = libc::S_IFIFO | 0o644;
    assert_eq!(
        errno(s.mknod(&ctx, ROOT_ID, &c("p"), fifo, 0, 0)),
        Some(libc::EPERM)
    );
    let chr = libc::S_IFCHR | 0o644;
    assert_eq!(
        errno(s.mknod(&ctx, ROOT_ID, &c("c"), chr, 0x103, 0)),
        Some(libc::EPERM)
    );
    assert_eq!(
        errno(s.mkdir(&ctx, ROOT_ID, &c("HEAD"), 0o755, 0)),
        Some(libc::EPERM)
    );
    let rename = s.rename(&ctx, ROOT_ID, &c("file-00"), git, &c("refs"), 0);
    assert_eq!(errno(rename), Some(libc::EXDEV));
    let args = CreateIn {
        flags: libc::O_WRONLY as u32,
        mode: libc::S_IFREG | 0o6755,
        umask: 0,
        fuse_flags: 0,
    };
    assert_eq!(
        errno(s.create(&ctx, git, &c("config.lock"), args)),
        Some(libc::EPERM)
    );
    let (e, ..) = s.create(&ctx, ROOT_ID, &c("new"), args).unwrap();
    assert_eq!(e.attr.st_mode & 0o7777, 0o755, "setuid and setgid stripped");
    for made in [
        "proj/p",
        "proj/c",
        "proj/HEAD",
        "proj/.git/refs",
        "git/config.lock",
    ] {
        assert!(!t.path().join(made).exists(), "{made}");
    }
}
