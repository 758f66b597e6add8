//! The file server from the guest's side: a container binds the share's mountpoint as the
//! project folder, its root attacks it (`tests/support/share-attack.py`) and works in it with
//! git, and the host checks what is left: owners, modes, no device, the project's own `.git`
//! and the guest repository's config and hooks as they were.
//!
//! Root's share with rootful Podman, and a person's: the daemon inside their rootless
//! Podman's namespaces (`podman unshare`), where root of the namespace mounts FUSE itself.

mod common;
use common::share::*;
use common::user::TestUser;
use common::*;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Mounts of the host's git, for an image without its own: the test image and the host are
/// the same Debian release.
const HOST_GIT: &[&str] = &[
    "-v",
    "/usr/bin/git:/usr/bin/git:ro",
    "-v",
    "/usr/lib/git-core:/usr/lib/git-core:ro",
    "-v",
    "/usr/share/git-core:/usr/share/git-core:ro",
];

/// What the guest does with git in the project folder: the everyday commands, against its
/// own repository at `.git`; then what it must not manage to do.
const GIT_WORK: &str = r#"set -e
cd /p
G="git -c user.name=guest -c user.email=g@g -c safe.directory=*"
$G status --short >/dev/null
echo guest >> a.txt
$G commit -qam guest1
$G branch feat
$G checkout -q feat
echo b > b.txt
$G add b.txt
$G commit -qm guest2
$G checkout -q main
echo m >> sub/f
$G commit -qam guest3
$G merge -q --no-edit feat
$G checkout -qb reb HEAD~1
echo r > r.txt
$G add r.txt
$G commit -qm guest4
$G rebase -q main
echo s >> a.txt
$G stash -q
$G stash pop -q
$G reset -q --hard HEAD
$G tag -a v1 -m v1
$G checkout -q main
$G gc -q
$G fsck --no-dangling
if $G config core.hooksPath /tmp 2>/dev/null; then echo "config written"; exit 1; fi
if printf '#!/bin/sh\ntouch /p/PWNED\n' > .git/hooks/post-merge 2>/dev/null; then echo "hook written"; exit 1; fi
$G log --oneline reb | wc -l
"#;

/// Runs Podman as root, or as a person.
struct Podman<'a>(Option<&'a TestUser>);

impl Podman<'_> {
    fn run(&self, args: &[&str]) -> Output {
        let mut c = match self.0 {
            Some(u) => u.command("podman"),
            None => Command::new("podman"),
        };
        c.args(args).output().unwrap()
    }

    /// How a container gets git: the image's own, or the host's; None when neither runs.
    fn git_mounts(&self) -> Option<Vec<&'static str>> {
        let ok = |extra: &[&'static str]| {
            let mut args = vec!["run", "--rm"];
            args.extend_from_slice(extra);
            args.extend([CONTAINER_IMAGE, "git", "--version"]);
            self.run(&args).status.success()
        };
        if ok(&[]) {
            Some(Vec::new())
        } else if ok(HOST_GIT) {
            Some(HOST_GIT.to_vec())
        } else {
            None
        }
    }

    /// The guest's side: the attack script, then git, in containers on the share.
    fn guest(&self, s: &Served) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/share-attack.py");
        let mnt = format!("{}:/p", s.mnt.display());
        let attack = format!("{}:/attack.py:ro", script.display());
        let out = self.run(&[
            "run",
            "--rm",
            "-v",
            &mnt,
            "-v",
            &attack,
            CONTAINER_IMAGE,
            "python3",
            "/attack.py",
            "/p",
        ]);
        let report = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "the guest got past the share:\n{}\n{}",
            report
                .lines()
                .filter(|l| !l.starts_with("PASS"))
                .collect::<Vec<_>>()
                .join("\n"),
            String::from_utf8_lossy(&out.stderr)
        );
        let passed = report.lines().filter(|l| l.starts_with("PASS")).count();
        assert!(
            passed >= 56,
            "the attack script ran {passed} checks:\n{report}"
        );
        eprintln!("the guest's attacks: {passed} checks, every one held");
        let Some(git) = self.git_mounts() else {
            eprintln!(
                "SKIPPED the guest's git: {CONTAINER_IMAGE} has no git and the host's does not \
                 run in it (`make fixtures` rebuilds the image with git)"
            );
            return;
        };
        let mut args = vec!["run", "--rm", "-v", &mnt];
        args.extend(git);
        args.extend([CONTAINER_IMAGE, "sh", "-c", GIT_WORK]);
        let out = self.run(&args);
        assert!(
            out.status.success(),
            "git in the guest: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let commits = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        assert_eq!(commits, "6", "commits on the rebased branch");
    }
}

/// What the host finds after the guest: everything in the project the given owner's, no
/// privilege, no device or FIFO, the project's own `.git` and the guest repository's config
/// and hooks as before; and the guest's commits reach the host's git through a fetch.
struct Before {
    host_git: Vec<(PathBuf, Vec<u8>, u32)>,
    hooks: Vec<(PathBuf, Vec<u8>, u32)>,
    config: Vec<u8>,
}

impl Before {
    fn take(s: &Served) -> Before {
        Before {
            host_git: snapshot(&s.proj.join(".git")),
            hooks: snapshot(&s.gitdir.join("hooks")),
            config: std::fs::read(s.gitdir.join("config")).unwrap(),
        }
    }

    fn check(&self, s: &Served, owner: (u32, u32)) {
        for (p, _, _) in snapshot(&s.proj) {
            let m = std::fs::symlink_metadata(&p).unwrap();
            let t = m.file_type();
            assert_eq!((m.uid(), m.gid()), owner, "{}", p.display());
            assert_eq!(m.mode() & 0o6000, 0, "setuid or setgid: {}", p.display());
            let special = t.is_char_device() || t.is_block_device() || t.is_fifo();
            assert!(!special, "{} is a device or FIFO", p.display());
        }
        assert!(!s.proj.join("PWNED").exists());
        assert!(
            snapshot(&s.proj.join(".git")) == self.host_git,
            "the project's .git changed"
        );
        assert!(
            snapshot(&s.gitdir.join("hooks")) == self.hooks,
            "the guest changed its hooks"
        );
        assert_eq!(std::fs::read(s.gitdir.join("config")).unwrap(), self.config);
    }
}

#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn a_containers_root_gets_nothing_past_roots_share() {
    let s = Served::start(Options::default());
    let before = Before::take(&s);
    Podman(None).guest(&s);
    before.check(&s, (0, 0));
    let gitdir = s.gitdir.to_string_lossy();
    git(&s.proj, &["fetch", "-q", &gitdir, "reb:guest"]);
    assert!(git(&s.proj, &["log", "--format=%s", "guest"]).contains("guest4"));
}

#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn a_persons_share_serves_their_rootless_containers() {
    let u = TestUser::new("tmplshare", 2381);
    u.load_image(CONTAINER_IMAGE);
    let mut s = Served::prepare(Options::default());
    u.own(s.root.path());
    let before = Before::take(&s);
    // as tmpl starts it: inside the person's rootless Podman namespaces, where it mounts
    // FUSE as root of the namespace
    let bin = u.bin.to_string_lossy().into_owned();
    let config = s.config.to_string_lossy().into_owned();
    let log = std::fs::File::create(s.root.path().join("share.log")).unwrap();
    u.own(&s.root.path().join("share.log"));
    let child = u
        .command("podman")
        .args(["unshare", &bin, "__share", &config])
        .stdout(std::process::Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap();
    s.set_child(child);
    // the mount is in the person's namespace, out of sight here: ready.json says it serves
    let daemon = s.wait_ready_named();
    Podman(Some(&u)).guest(&s);
    before.check(&s, (u.uid, u.gid));
    // stopped as tmpl stops it: SIGTERM to the pid in ready.json (podman's child)
    host_ok("kill", &["-TERM", &daemon.to_string()]);
    assert_eq!(s.wait_exit(), Some(0), "podman unshare's exit: {}", s.log());
    let mounts = u.ok("podman", &["unshare", "cat", "/proc/self/mounts"]);
    assert!(!mounts.contains("tmpl-share"), "{mounts}");
}
