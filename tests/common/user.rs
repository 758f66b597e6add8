//! An ordinary user of this host, made for a test and removed after it: the person tmpl is
//! built for works as themselves, in the `libvirt` group, with rootless Podman.
//!
//! uids start at 2300, never 1000: a guest's first user is 1000, and a match would hide the
//! very mapping the tests check. Each test names its own user, so the tests of one binary
//! never share one.

use super::{host, host_ok};
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Clone)]
pub struct RunAs {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub bin: PathBuf,
    pub home: PathBuf,
}

pub struct TestUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
    /// This build of tmpl, copied where the user may run it (the build tree may not be).
    pub bin: PathBuf,
}

impl TestUser {
    /// A new user `name` with uid `uid`, in the `libvirt` group, with a home of their own and
    /// subordinate ids for rootless Podman (what `make setup` gives every person).
    pub fn new(name: &str, uid: u32) -> TestUser {
        remove(name);
        host_ok(
            "useradd",
            &[
                "--create-home",
                "--uid",
                &uid.to_string(),
                "--user-group",
                "--groups",
                "libvirt",
                "--shell",
                "/bin/sh",
                name,
            ],
        );
        let home = PathBuf::from(format!("/home/{name}"));
        let gid: u32 = host_ok("id", &["-g", name]).trim().parse().unwrap();
        let bin_dir = home.join(".local/bin");
        std::fs::create_dir_all(&bin_dir).unwrap();
        let src =
            std::env::var("TMPL_TEST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_tmpl").into());
        let bin = bin_dir.join("tmpl");
        std::fs::copy(src, &bin).unwrap();
        host_ok(
            "chown",
            &["-R", &format!("{uid}:{gid}"), &home.to_string_lossy()],
        );
        TestUser {
            name: name.into(),
            uid,
            gid,
            home,
            bin,
        }
    }

    pub fn run_as(&self) -> RunAs {
        RunAs {
            name: self.name.clone(),
            uid: self.uid,
            gid: self.gid,
            bin: self.bin.clone(),
            home: self.home.clone(),
        }
    }

    /// `program ARGS` as this user, with a login's environment and nothing of root's.
    pub fn command(&self, program: &str) -> Command {
        self.run_as().command(program)
    }

    /// Runs `program ARGS` as this user; asserts success; stdout.
    pub fn ok(&self, program: &str, args: &[&str]) -> String {
        let out = self.command(program).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{program} {args:?} as {}: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Gives this user's rootless Podman a copy of an image from root's storage: a person's
    /// Podman has images of its own, and tests pull nothing from the network.
    pub fn load_image(&self, image: &str) {
        let tar = self.home.join("image.tar");
        host_ok(
            "podman",
            &["save", "--quiet", "-o", &tar.to_string_lossy(), image],
        );
        host_ok("chown", &[&self.name, &tar.to_string_lossy()]);
        self.ok("podman", &["load", "--quiet", "-i", &tar.to_string_lossy()]);
        let _ = std::fs::remove_file(tar);
    }

    /// Hands `path` (and the folders above it, inside `root`) to this user.
    pub fn own(&self, path: &Path) {
        host_ok(
            "chown",
            &[
                "-R",
                &format!("{}:{}", self.uid, self.gid),
                &path.to_string_lossy(),
            ],
        );
    }
}

impl RunAs {
    /// `program ARGS` as this user, with a login's environment and nothing of root's.
    pub fn command(&self, program: &str) -> Command {
        // by path: the user's PATH, set below, is the one a command is looked up in, and it
        // has no sbin
        let mut c = Command::new("/usr/sbin/runuser");
        c.args(["-u", &self.name, "--", program])
            .env(
                "PATH",
                format!(
                    "{}:/usr/local/bin:/usr/bin:/bin",
                    self.bin.parent().unwrap().display()
                ),
            )
            .env_remove("XDG_RUNTIME_DIR")
            .env_remove("CONTAINER_HOST")
            .env_remove("DOCKER_HOST")
            .env_remove("VAGRANT_HOME")
            .env_remove("LIBVIRT_DEFAULT_URI")
            .current_dir(&self.home);
        c
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        remove(&self.name);
    }
}

/// Removes `name` and everything running as them (their Podman service, its containers'
/// conmon), home included.
fn remove(name: &str) {
    if host("id", &["-u", name]).status.success() {
        let uid = uid_of(name);
        let _ = host("pkill", &["-KILL", "-u", name]);
        std::thread::sleep(std::time::Duration::from_millis(200));
        // rootless storage holds files of subordinate ids: only root removes those
        let _ = host("userdel", &["--remove", name]);
        let _ = host("rm", &["-rf", &format!("/tmp/podman-run-{uid}")]);
        // tmpl's ssh control folder of that uid (see src/ssh/control.rs)
        let _ = host("rm", &["-rf", &format!("/tmp/tmpl-{uid}")]);
    }
}

fn uid_of(name: &str) -> String {
    String::from_utf8_lossy(&host("id", &["-u", name]).stdout)
        .trim()
        .to_owned()
}

impl TestUser {
    /// Gives this user root's copy of the Vagrant box `name` (a fixture only root's
    /// ~/.vagrant.d has), so that nothing is downloaded: hard links, in folders of the user's.
    /// The files stay root's and read-only to the user, which is all Vagrant needs of a box.
    pub fn give_box(&self, name: &str) {
        let dir = name.replace('/', "-VAGRANTSLASH-");
        let src = PathBuf::from("/root/.vagrant.d/boxes").join(&dir);
        let boxes = self.home.join(".vagrant.d/boxes");
        std::fs::create_dir_all(&boxes).unwrap();
        host_ok(
            "cp",
            &[
                "-al",
                &src.to_string_lossy(),
                &boxes.join(&dir).to_string_lossy(),
            ],
        );
        let _ = host(
            "find",
            &[
                &self.home.join(".vagrant.d").to_string_lossy(),
                "-type",
                "d",
                "-exec",
                "chown",
                &format!("{}:{}", self.uid, self.gid),
                "{}",
                "+",
            ],
        );
    }

    /// A hard link to root's `file` in this user's home, readable by them; removed with the
    /// home. The fixtures under /root are out of their reach.
    pub fn link_file(&self, file: &Path) -> PathBuf {
        let to = self.home.join(file.file_name().unwrap());
        let _ = std::fs::remove_file(&to);
        std::fs::hard_link(file, &to).unwrap();
        to
    }
}

impl TestUser {
    /// Gives the user's own group the gid `gid`, so that a test can tell a uid from a gid.
    pub fn regroup(&mut self, gid: u32) {
        host_ok("groupmod", &["-g", &gid.to_string(), &self.name]);
        self.gid = gid;
        self.own(&self.home.clone());
    }
}
