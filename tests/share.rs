//! The project folder's file server (`tmpl __share`) mounted for real and used through its
//! mountpoint as a guest would: as root, against the policy, and for ordinary work. The
//! guest's side, from a container, is `e2e_share.rs`.
//!
//! Needs root and /dev/fuse (the daemon mounts directly), and git.

mod common;
use common::share::*;
use rustix::fs::{FileType, RenameFlags};
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{symlink, DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

/// What the guest tried, collected, so that one run reports every hole at once.
#[derive(Default)]
struct Checks(Vec<String>);

impl Checks {
    fn refused<T>(&mut self, what: &str, r: io::Result<T>, errno: i32) {
        match r {
            Ok(_) => self.0.push(format!("{what}: succeeded")),
            Err(e) if e.raw_os_error() != Some(errno) => {
                let want = io::Error::from_raw_os_error(errno);
                self.0.push(format!("{what}: {e}, not {want}"))
            }
            Err(_) => {}
        }
    }
    fn denied<T>(&mut self, what: &str, r: io::Result<T>) {
        self.refused(what, r, libc::EPERM)
    }
    fn allowed<T>(&mut self, what: &str, r: io::Result<T>) {
        if let Err(e) = r {
            self.0.push(format!("{what}: {e}"));
        }
    }
    fn that(&mut self, what: &str, ok: bool) {
        if !ok {
            self.0.push(what.to_owned());
        }
    }
    fn done(self) {
        assert!(self.0.is_empty(), "holes:\n  {}", self.0.join("\n  "));
    }
}

fn touch(p: &Path) -> io::Result<()> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(p)
        .map(drop)
}

fn append(p: &Path) -> io::Result<()> {
    OpenOptions::new().append(true).open(p)?.write_all(b"x\n")
}

fn truncate(p: &Path) -> io::Result<()> {
    OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(p)
        .map(drop)
}

fn chmod(p: &Path, mode: u32) -> io::Result<()> {
    fs::set_permissions(p, fs::Permissions::from_mode(mode))
}

fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    use rustix::fs::CWD;
    Ok(rustix::fs::renameat_with(
        CWD,
        a,
        CWD,
        b,
        RenameFlags::EXCHANGE,
    )?)
}

fn mknod(p: &Path, kind: FileType, dev: u64) -> io::Result<()> {
    let mode = rustix::fs::Mode::from_raw_mode(0o644);
    Ok(rustix::fs::mknodat(rustix::fs::CWD, p, kind, mode, dev)?)
}

fn setxattr(p: &Path, name: &str) -> io::Result<()> {
    let flags = rustix::fs::XattrFlags::empty();
    Ok(rustix::fs::setxattr(p, name, b"1", flags)?)
}

fn served(opts: Options) -> Served {
    assert!(
        rustix::process::geteuid().is_root(),
        "the file server's tests mount FUSE directly: run them as root"
    );
    Served::start(opts)
}

#[test]
#[cfg_attr(
    not(feature = "host-tools"),
    ignore = "needs root, /dev/fuse and git: `cargo test --features host-tools` as root"
)]
fn the_guest_makes_no_repository_and_changes_none() {
    let s = served(Options::default());
    let m = &s.mnt;
    let (host_git, hooks) = (
        snapshot(&s.proj.join(".git")),
        snapshot(&s.gitdir.join("hooks")),
    );
    let mut c = Checks::default();
    // new repositories, by name
    c.denied("mkdir sub/.git", fs::create_dir(m.join("sub/.git")));
    c.denied("mkdir sub/.GiT", fs::create_dir(m.join("sub/.GiT")));
    c.denied(
        "create sub/.git (a gitdir: file)",
        touch(&m.join("sub/.git")),
    );
    c.denied("create sub/HEAD", touch(&m.join("sub/HEAD")));
    c.denied("mkdir HEAD", fs::create_dir(m.join("HEAD")));
    c.denied("symlink sub/.git", symlink("/tmp", m.join("sub/.git")));
    c.allowed("create w", touch(&m.join("w")));
    c.denied(
        "rename w to sub/.git",
        fs::rename(m.join("w"), m.join("sub/.git")),
    );
    c.denied(
        "rename w to sub/HEAD",
        fs::rename(m.join("w"), m.join("sub/HEAD")),
    );
    c.denied(
        "link w as sub/.git",
        fs::hard_link(m.join("w"), m.join("sub/.git")),
    );
    c.allowed("mkdir r/refs", fs::create_dir_all(m.join("r/refs")));
    c.allowed("create r/HEAD2", touch(&m.join("r/HEAD2")));
    c.denied(
        "rename r/HEAD2 to r/HEAD",
        fs::rename(m.join("r/HEAD2"), m.join("r/HEAD")),
    );
    c.denied(
        "rename r to sub/.git",
        fs::rename(m.join("r"), m.join("sub/.git")),
    );
    // the top `.git` is the guest's repository; the host's is out of reach
    let config = fs::read(m.join(".git/config")).unwrap();
    c.that(
        "the top .git is the guest's",
        config == fs::read(s.gitdir.join("config")).unwrap(),
    );
    let names: Vec<_> = fs::read_dir(m)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    let gits = names.iter().filter(|n| *n == ".git").count();
    c.that("one .git in the top folder's listing", gits == 1);
    let (listed, real) = (
        fs::metadata(m.join(".git")).unwrap(),
        fs::metadata(&s.gitdir).unwrap(),
    );
    c.that("the listed .git is the guest's", listed.ino() == real.ino());
    c.denied("rename .git", fs::rename(m.join(".git"), m.join("git2")));
    c.denied("rmdir .git", fs::remove_dir(m.join(".git")));
    c.denied(
        "RENAME_EXCHANGE sub and .git",
        exchange(&m.join("sub"), &m.join(".git")),
    );
    c.refused(
        "move a file into .git",
        fs::rename(m.join("w"), m.join(".git/refs/w")),
        libc::EXDEV,
    );
    c.refused(
        "link a file into .git",
        fs::hard_link(m.join("w"), m.join(".git/refs/w")),
        libc::EXDEV,
    );
    // a nested repository and a bare one: read-only, and where they are
    let lib = m.join("vendor/lib/.git");
    c.denied("append vendor/lib/.git/config", append(&lib.join("config")));
    c.denied(
        "create vendor/lib/.git/hooks/pre-commit",
        touch(&lib.join("hooks/pre-commit")),
    );
    c.denied("truncate vendor/lib/.git/HEAD", truncate(&lib.join("HEAD")));
    c.denied(
        "chmod vendor/lib/.git/config",
        chmod(&lib.join("config"), 0o777),
    );
    c.denied(
        "rename vendor/lib/.git",
        fs::rename(&lib, m.join("vendor/lib/g")),
    );
    c.denied(
        "move vendor/lib/.git/config out",
        fs::rename(lib.join("config"), m.join("cfg")),
    );
    c.denied(
        "link vendor/lib/.git/config out",
        fs::hard_link(lib.join("config"), m.join("cfg")),
    );
    c.denied(
        "set user.x on vendor/lib/.git/config",
        setxattr(&lib.join("config"), "user.x"),
    );
    c.denied("create in bare.git", touch(&m.join("bare.git/x")));
    c.denied("append bare.git/config", append(&m.join("bare.git/config")));
    c.denied(
        "create bare.git/refs/heads/evil",
        touch(&m.join("bare.git/refs/heads/evil")),
    );
    c.denied(
        "rename bare.git",
        fs::rename(m.join("bare.git"), m.join("b2")),
    );
    c.denied(
        "RENAME_EXCHANGE sub and bare.git",
        exchange(&m.join("sub"), &m.join("bare.git")),
    );
    c.done();
    assert!(
        snapshot(&s.proj.join(".git")) == host_git,
        "the project's .git changed"
    );
    assert!(
        snapshot(&s.gitdir.join("hooks")) == hooks,
        "the guest's hooks changed"
    );
}

#[test]
#[cfg_attr(
    not(feature = "host-tools"),
    ignore = "needs root, /dev/fuse and git: `cargo test --features host-tools` as root"
)]
fn the_guests_repository_takes_what_git_writes_and_nothing_else() {
    let s = served(Options::default());
    let g = s.mnt.join(".git");
    let (config, hooks) = (
        fs::read(s.gitdir.join("config")).unwrap(),
        snapshot(&s.gitdir.join("hooks")),
    );
    let mut c = Checks::default();
    for f in ["config", "info/exclude", "description"] {
        c.denied(&format!("append .git/{f}"), append(&g.join(f)));
    }
    for f in [
        "hooks/pre-commit",
        "config.lock",
        "commondir",
        "gitdir",
        "shallow",
        "config.worktree",
        "info/grafts",
        "objects/info/alternates",
        "objects/info/http-alternates",
    ] {
        c.denied(&format!("create .git/{f}"), touch(&g.join(f)));
    }
    for d in ["worktrees", "modules", "hooks/x"] {
        c.denied(&format!("mkdir .git/{d}"), fs::create_dir(g.join(d)));
    }
    c.denied("symlink in .git/refs", symlink("/etc", g.join("refs/l")));
    c.denied(
        "move .git/config",
        fs::rename(g.join("config"), g.join("refs/c")),
    );
    c.denied(
        "move a ref into hooks",
        fs::rename(g.join("packed-refs"), g.join("hooks/post-checkout")),
    );
    c.denied("chmod .git", chmod(&g, 0o777));
    c.denied(
        "mkfifo in .git/refs",
        mknod(&g.join("refs/f"), FileType::Fifo, 0),
    );
    c.denied("mkdir .git/refs/.git", fs::create_dir(g.join("refs/.git")));
    // A local clone links its objects with the project's own .git: never written through.
    let mut objects = fs::read_dir(g.join("objects")).unwrap().flatten();
    let loose = objects.find(|e| e.file_name().len() == 2);
    let object = loose.and_then(|d| fs::read_dir(d.path()).unwrap().flatten().next());
    let shared = object
        .map(|e| e.path())
        .filter(|p| fs::metadata(p).unwrap().nlink() > 1);
    let what = "the fixture shares an object with the project's .git";
    c.that(what, shared.is_some());
    if let Some(p) = shared {
        c.denied(
            "write a shared object",
            OpenOptions::new().write(true).open(&p),
        );
        c.denied("chmod a shared object", chmod(&p, 0o644));
        c.allowed("read a shared object", fs::read(&p));
    }
    for f in [
        "refs/heads/new",
        "logs/x",
        "index.lock",
        "HEAD.lock",
        "MERGE_MSG",
        "objects/ab/tmp_obj_1",
        "objects/info/commit-graph",
        "info/refs",
    ] {
        let p = g.join(f);
        c.allowed(
            &format!("create .git/{f}"),
            fs::create_dir_all(p.parent().unwrap()).and_then(|()| touch(&p)),
        );
        c.allowed(&format!("remove .git/{f}"), fs::remove_file(&p));
    }
    c.done();

    // git itself, through the share, as the guest runs it
    let w = &s.mnt;
    fs::write(w.join("a.txt"), "changed\n").unwrap();
    git(w, &["commit", "-qam", "b"]);
    git(w, &["checkout", "-qb", "feat"]);
    fs::write(w.join("b.txt"), "b\n").unwrap();
    git(w, &["add", "b.txt"]);
    git(w, &["commit", "-qm", "c"]);
    git(w, &["checkout", "-q", "main"]);
    fs::write(w.join("sub/f"), "m\n").unwrap();
    git(w, &["commit", "-qam", "m"]);
    git(w, &["merge", "-q", "--no-edit", "feat"]);
    git(w, &["checkout", "-qb", "reb", "feat~1"]);
    fs::write(w.join("r.txt"), "r\n").unwrap();
    git(w, &["add", "r.txt"]);
    git(w, &["commit", "-qm", "r"]);
    git(w, &["rebase", "-q", "main"]);
    fs::write(w.join("a.txt"), "stashed\n").unwrap();
    git(w, &["stash", "-q"]);
    git(w, &["stash", "pop", "-q"]);
    git(w, &["reset", "-q", "--hard", "HEAD"]);
    git(w, &["tag", "-a", "v1", "-m", "v1"]);
    git(w, &["checkout", "-q", "main"]);
    git(w, &["cherry-pick", "reb"]);
    git(w, &["gc", "-q"]);
    git(w, &["fsck", "--no-dangling"]);
    let log = git(w, &["log", "--oneline", "main"]);
    assert_eq!(log.lines().count(), 6, "{log}");
    assert!(git(w, &["status", "--porcelain"])
        .lines()
        .all(|l| l.starts_with("??")));
    // ...and the host's git fetches them, with tmpl's config and hooks
    let host = git(&s.proj, &["log", "--oneline"]);
    assert_eq!(
        host.lines().count(),
        1,
        "the project's own repository changed: {host}"
    );
    git(
        &s.proj,
        &["fetch", "-q", &s.gitdir.to_string_lossy(), "main:guest"],
    );
    assert_eq!(
        git(&s.proj, &["log", "--oneline", "guest"]).lines().count(),
        6
    );
    assert_eq!(fs::read(s.gitdir.join("config")).unwrap(), config);
    assert!(
        snapshot(&s.gitdir.join("hooks")) == hooks,
        "the guest's hooks changed"
    );
}

#[test]
#[cfg_attr(
    not(feature = "host-tools"),
    ignore = "needs root, /dev/fuse and git: `cargo test --features host-tools` as root"
)]
fn protected_paths_stay_as_the_host_made_them() {
    let s = served(Options::default());
    let m = &s.mnt;
    let before = snapshot(&s.proj.join("kept"));
    let mut c = Checks::default();
    c.denied("append kept/dir/k", append(&m.join("kept/dir/k")));
    c.denied("truncate kept/dir/k", truncate(&m.join("kept/dir/k")));
    c.denied("create kept/dir/new", touch(&m.join("kept/dir/new")));
    c.denied("unlink kept/dir/k", fs::remove_file(m.join("kept/dir/k")));
    c.denied(
        "rename kept/dir",
        fs::rename(m.join("kept/dir"), m.join("kept/d2")),
    );
    c.denied(
        "rename kept, an ancestor",
        fs::rename(m.join("kept"), m.join("k2")),
    );
    c.denied(
        "RENAME_EXCHANGE kept and sub",
        exchange(&m.join("kept"), &m.join("sub")),
    );
    c.denied(
        "rename over kept",
        fs::rename(m.join("sub"), m.join("kept")),
    );
    c.denied("append keep/deep/file", append(&m.join("keep/deep/file")));
    c.allowed("create keep/other, beside", touch(&m.join("keep/other")));
    c.denied(
        "link kept/dir/k out",
        fs::hard_link(m.join("kept/dir/k"), m.join("k-link")),
    );
    // the host linked kept/dir/k as hardlink-k: a write through that name is refused too
    c.denied(
        "append hardlink-k, another name of kept/dir/k",
        append(&m.join("hardlink-k")),
    );
    // a PROTECT path that does not exist yet cannot be made
    c.allowed("mkdir later", fs::create_dir(m.join("later")));
    c.denied("mkdir later/x", fs::create_dir(m.join("later/x")));
    c.denied("create later/x", touch(&m.join("later/x")));
    c.allowed("mkdir y/x", fs::create_dir_all(m.join("y/x")));
    c.denied(
        "move y/x to later/x",
        fs::rename(m.join("y/x"), m.join("later/x")),
    );
    c.done();
    assert!(snapshot(&s.proj.join("kept")) == before, "kept/ changed");
    // The host re-creates a protected folder: it is protected by its name.
    fs::remove_dir_all(s.proj.join("kept/dir")).unwrap();
    fs::create_dir(s.proj.join("kept/dir")).unwrap();
    std::thread::sleep(Duration::from_secs(6)); // the kernel's entry cache
    let mut c = Checks::default();
    c.denied(
        "create in the re-created kept/dir",
        touch(&m.join("kept/dir/new")),
    );
    c.done();
}

#[test]
#[cfg_attr(
    not(feature = "host-tools"),
    ignore = "needs root, /dev/fuse and git: `cargo test --features host-tools` as root"
)]
fn nothing_the_guest_makes_carries_a_privilege() {
    let s = served(Options::default());
    let m = &s.mnt;
    let mut c = Checks::default();
    c.allowed("create f", touch(&m.join("f")));
    c.allowed("chmod 6755 (accepted)", chmod(&m.join("f"), 0o6755));
    c.allowed(
        "mkdir mode 2775 (accepted)",
        fs::DirBuilder::new().mode(0o2775).create(m.join("d")),
    );
    c.allowed(
        "chmod 2775 a folder (accepted)",
        chmod(&m.join("sub"), 0o2775),
    );
    let made = OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(0o4755)
        .open(m.join("g"));
    c.allowed("create mode 4755 (accepted)", made);
    for f in ["f", "d", "sub", "g"] {
        let mode = fs::metadata(s.proj.join(f)).unwrap().mode();
        c.that(
            &format!("no setuid or setgid bit on {f}: {mode:o}"),
            mode & 0o6000 == 0,
        );
    }
    c.allowed(
        "chown 1234:1234 (accepted)",
        std::os::unix::fs::chown(m.join("f"), Some(1234), Some(1234)),
    );
    let meta = fs::metadata(s.proj.join("f")).unwrap();
    c.that("chown is not applied", (meta.uid(), meta.gid()) == (0, 0));
    let mem = rustix::fs::makedev(1, 3);
    c.denied(
        "mknod a character device",
        mknod(&m.join("c"), FileType::CharacterDevice, mem),
    );
    c.denied(
        "mknod a block device",
        mknod(
            &m.join("b"),
            FileType::BlockDevice,
            rustix::fs::makedev(8, 0),
        ),
    );
    c.denied("mkfifo", mknod(&m.join("fifo"), FileType::Fifo, 0));
    c.allowed(
        "bind a unix socket",
        std::os::unix::net::UnixListener::bind(m.join("sock")),
    );
    let whiteout = rustix::fs::renameat_with(
        rustix::fs::CWD,
        m.join("f"),
        rustix::fs::CWD,
        m.join("f2"),
        RenameFlags::WHITEOUT,
    );
    c.denied("RENAME_WHITEOUT", whiteout.map_err(io::Error::from));
    // well-formed values, or the guest's kernel refuses them before the server sees them
    let cap = [
        0, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let acl = [
        2, 0, 0, 0, 1, 0, 7, 0, 255, 255, 255, 255, 2, 0, 7, 0, 210, 4, 0, 0, 4, 0, 5, 0, 255, 255,
        255, 255, 0x10, 0, 7, 0, 255, 255, 255, 255, 0x20, 0, 5, 0, 255, 255, 255, 255,
    ];
    let attrs: [(&str, &[u8]); 3] = [
        ("security.capability", &cap),
        ("trusted.x", b"1"),
        ("system.posix_acl_access", &acl),
    ];
    for (x, v) in attrs {
        let r = rustix::fs::setxattr(m.join("f"), x, v, rustix::fs::XattrFlags::empty());
        c.that(&format!("set {x} refused"), r.is_err());
        let mut buf = [0u8; 64];
        let on_host = rustix::fs::getxattr(s.proj.join("f"), x, &mut buf);
        c.that(&format!("no {x} on the host's file"), on_host.is_err());
    }
    c.allowed("set user.x", setxattr(&m.join("f"), "user.x"));
    c.allowed(
        "remove user.x",
        rustix::fs::removexattr(m.join("f"), "user.x").map_err(io::Error::from),
    );
    c.done();
    for e in fs::read_dir(&s.proj).unwrap().flatten() {
        let t = e.file_type().unwrap();
        use std::os::unix::fs::FileTypeExt;
        assert!(
            !t.is_char_device() && !t.is_block_device() && !t.is_fifo(),
            "{:?}",
            e.path()
        );
    }
}

#[test]
#[cfg_attr(
    not(feature = "host-tools"),
    ignore = "needs root, /dev/fuse and git: `cargo test --features host-tools` as root"
)]
fn ordinary_work_goes_through_at_a_usable_speed() {
    let s = served(Options::default());
    let m = &s.mnt;
    let w = m.join("work/a/b");
    fs::create_dir_all(&w).unwrap();
    let mut f = fs::File::create(w.join("f")).unwrap();
    f.write_all(&b"hello\n".repeat(1000)).unwrap();
    f.sync_all().unwrap();
    drop(f);
    fs::rename(w.join("f"), m.join("work/a/g")).unwrap();
    fs::hard_link(m.join("work/a/g"), m.join("work/a/h")).unwrap();
    {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(m.join("work/a/h"))
            .unwrap();
        use std::os::fd::AsRawFd;
        // SAFETY: a shared writable mapping of 5 bytes of a 6000-byte file, unmapped below.
        unsafe {
            let p = libc::mmap(
                std::ptr::null_mut(),
                5,
                libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            );
            assert_ne!(p, libc::MAP_FAILED, "mmap: {}", io::Error::last_os_error());
            std::ptr::copy_nonoverlapping(b"HELLO".as_ptr(), p as *mut u8, 5);
            assert_eq!(libc::msync(p, 5, libc::MS_SYNC), 0);
            libc::munmap(p, 5);
        }
    }
    assert_eq!(&fs::read(s.proj.join("work/a/g")).unwrap()[..5], b"HELLO");
    OpenOptions::new()
        .write(true)
        .open(m.join("work/a/g"))
        .unwrap()
        .set_len(3)
        .unwrap();
    assert_eq!(fs::metadata(m.join("work/a/h")).unwrap().len(), 3);
    truncate(&m.join("work/a/g")).unwrap();
    assert_eq!(fs::metadata(s.proj.join("work/a/g")).unwrap().len(), 0);
    let locked = fs::File::open(m.join("work/a/g")).unwrap();
    rustix::fs::flock(&locked, rustix::fs::FlockOperation::LockExclusive).unwrap();
    drop(locked);
    rustix::fs::statvfs(m).unwrap();
    assert_eq!(
        fs::read_dir(m.join("work/a")).unwrap().count(),
        3,
        "b, g and h"
    );
    fs::remove_dir_all(m.join("work")).unwrap();
    assert!(!s.proj.join("work").exists());

    // 2,000 small files, then a stat of each: a slow path shows as tens of seconds
    let time = |dir: &Path| {
        let t = Instant::now();
        fs::create_dir(dir).unwrap();
        for i in 0..2000 {
            fs::write(dir.join(format!("f{i}")), format!("x {i}\n")).unwrap();
        }
        for i in 0..2000 {
            fs::metadata(dir.join(format!("f{i}"))).unwrap();
        }
        t.elapsed()
    };
    let direct = time(&s.proj.join("direct"));
    let through = time(&m.join("through"));
    eprintln!("2,000 files: {direct:?} directly, {through:?} through the share");
    assert!(
        through < direct * 40 + Duration::from_secs(5),
        "{through:?} against {direct:?}"
    );
}

#[test]
#[cfg_attr(
    not(feature = "host-tools"),
    ignore = "needs root, /dev/fuse and git: `cargo test --features host-tools` as root"
)]
fn read_only_refuses_every_change_and_reads() {
    let s = served(Options {
        readonly: true,
        ..Options::default()
    });
    let m = &s.mnt;
    let before = snapshot(&s.proj);
    let mut c = Checks::default();
    let rofs = |c: &mut Checks, what: &str, r: io::Result<()>| c.refused(what, r, libc::EROFS);
    rofs(&mut c, "create", touch(&m.join("new")));
    rofs(&mut c, "mkdir", fs::create_dir(m.join("d")));
    rofs(&mut c, "append", append(&m.join("a.txt")));
    rofs(&mut c, "chmod", chmod(&m.join("a.txt"), 0o600));
    rofs(&mut c, "unlink", fs::remove_file(m.join("a.txt")));
    rofs(
        &mut c,
        "rename",
        fs::rename(m.join("a.txt"), m.join("b.txt")),
    );
    rofs(&mut c, "set user.x", setxattr(&m.join("a.txt"), "user.x"));
    rofs(
        &mut c,
        "write the guest's repository",
        touch(&m.join(".git/refs/heads/x")),
    );
    c.allowed("read", fs::read(m.join("a.txt")));
    c.done();
    assert_eq!(git(m, &["log", "--oneline"]).lines().count(), 1);
    assert!(snapshot(&s.proj) == before, "the project changed");
}

#[test]
#[cfg_attr(
    not(feature = "host-tools"),
    ignore = "needs root, /dev/fuse and git: `cargo test --features host-tools` as root"
)]
fn the_daemon_stops_cleanly_and_mends_what_a_dead_one_left() {
    let mut s = served(Options::default());
    let ready = s.config.with_file_name("ready.json");
    // a second daemon on a mountpoint that is served: refused, with what to do
    let mut second = s.spawn();
    assert_eq!(
        wait(&mut second, Duration::from_secs(10)),
        Some(69),
        "{}",
        s.log()
    );
    assert!(
        s.log().contains("something is mounted there already"),
        "{}",
        s.log()
    );
    assert!(s.log().contains("hint:"), "{}", s.log());
    // SIGTERM: unmounted, exit 0, nothing on stdout, ready.json gone
    let (code, stdout) = s.stop();
    assert_eq!(code, Some(0), "{}", s.log());
    assert_eq!(stdout, "");
    assert!(!s.mounted() && !ready.exists());
    // killed: a dead mount is left, which the next daemon unmounts before it mounts again
    let child = s.spawn();
    s.set_child(child);
    s.wait_ready();
    s.kill();
    // a stat may answer from the kernel's cache; statfs reaches the dead connection
    let dead = rustix::fs::statvfs(&s.mnt).err();
    assert_eq!(dead, Some(rustix::io::Errno::NOTCONN));
    let child = s.spawn();
    s.set_child(child);
    s.wait_ready();
    assert!(fs::read(s.mnt.join("a.txt")).is_ok());
    assert!(s.log().contains("a stopped server left"), "{}", s.log());
}
