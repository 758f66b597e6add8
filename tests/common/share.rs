//! A project folder served by `tmpl __share`, for the tests of the file server: a fixture with
//! every kind of repository git could find in it, the guest's own repository beside it, and
//! the daemon, stopped (and its mount gone) when the value is dropped.
#![allow(dead_code)]

use super::host_ok;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The fixture's PROTECT paths: two that exist, one that does not yet.
pub const PROTECT: &[&str] = &["kept/dir", "keep/deep", "later/x"];

pub fn git(dir: &Path, args: &[&str]) -> String {
    let mut all = vec![
        "-c",
        "safe.directory=*",
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t",
        "-C",
    ];
    let d = dir.to_string_lossy();
    all.push(&d);
    all.extend_from_slice(args);
    host_ok("git", &all)
}

/// The project: a work tree with its own `.git`, a nested repository (`vendor/lib/.git`), a
/// bare one (`bare.git`), PROTECT paths, and a hard link to a protected file made by the host.
pub fn project(proj: &Path) {
    std::fs::create_dir_all(proj).unwrap();
    let w = |rel: &str, text: &str| {
        let p = proj.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    git(proj, &["init", "-q", "-b", "main"]);
    w("a.txt", "a\n");
    w("sub/f", "f\n");
    w("kept/dir/k", "kept\n");
    w("keep/deep/file", "deep\n");
    git(proj, &["add", "-A"]);
    git(proj, &["commit", "-qm", "a"]);
    let lib = proj.join("vendor/lib");
    std::fs::create_dir_all(&lib).unwrap();
    git(&lib, &["init", "-q", "-b", "main"]);
    w("vendor/lib/l.txt", "l\n");
    git(&lib, &["add", "-A"]);
    git(&lib, &["commit", "-qm", "l"]);
    git(proj, &["init", "-q", "--bare", "bare.git"]);
    std::fs::hard_link(proj.join("kept/dir/k"), proj.join("hardlink-k")).unwrap();
}

/// The guest's own repository, as tmpl seeds it: a clone of the project's (a local clone
/// links the objects), not bare, with an index of the work tree.
pub fn guest_repository(proj: &Path, gitdir: &Path) {
    let (p, g) = (proj.to_string_lossy(), gitdir.to_string_lossy());
    host_ok("git", &["clone", "-q", "--bare", &p, &g]);
    host_ok("git", &["--git-dir", &g, "config", "core.bare", "false"]);
    host_ok("git", &["--git-dir", &g, "--work-tree", &p, "reset", "-q"]);
}

/// Every file below `dir` with its content, for "nothing changed" checks.
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>, u32)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                todo.push(p.clone());
            }
            let content = if m.is_file() {
                std::fs::read(&p).unwrap()
            } else {
                Vec::new()
            };
            out.push((p, content, m.mode()));
        }
    }
    out.sort();
    out
}

pub struct Options {
    pub readonly: bool,
    pub allow_other: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            readonly: false,
            allow_other: true,
        }
    }
}

pub struct Served {
    pub root: tempfile::TempDir,
    pub proj: PathBuf,
    pub gitdir: PathBuf,
    pub mnt: PathBuf,
    pub config: PathBuf,
    child: Option<Child>,
}

impl Served {
    /// The fixture, served (as the user running the test).
    pub fn start(opts: Options) -> Served {
        let mut s = Served::prepare(opts);
        s.child = Some(s.spawn());
        s.wait_ready();
        s
    }

    /// The fixture and the config, no daemon yet.
    pub fn prepare(opts: Options) -> Served {
        let root = tempfile::Builder::new()
            .prefix("tmpl-share-")
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir_in("/tmp")
            .unwrap();
        let proj = root.path().join("proj");
        let gitdir = root.path().join("state/git");
        project(&proj);
        guest_repository(&proj, &gitdir);
        let s = Served {
            proj,
            gitdir,
            mnt: root.path().join("state/share/mnt"),
            config: root.path().join("state/share/config.json"),
            root,
            child: None,
        };
        s.write_config(&opts);
        s
    }

    pub fn write_config(&self, opts: &Options) {
        let config = serde_json::json!({
            "source": self.proj, "gitdir": self.gitdir, "mountpoint": self.mnt,
            "readonly": opts.readonly, "protect": PROTECT, "allow_other": opts.allow_other,
        });
        std::fs::create_dir_all(self.config.parent().unwrap()).unwrap();
        std::fs::write(&self.config, config.to_string()).unwrap();
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.root.path().join("share.log")).unwrap_or_default()
    }

    /// Another daemon on this config; its stderr goes to the log.
    pub fn spawn(&self) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.root.path().join("share.log"))
            .unwrap();
        Command::new(env!("CARGO_BIN_EXE_tmpl"))
            .arg("__share")
            .arg(&self.config)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap()
    }

    pub fn mounted(&self) -> bool {
        let parent = std::fs::metadata(self.mnt.parent().unwrap()).unwrap();
        std::fs::metadata(&self.mnt).is_ok_and(|m| m.dev() != parent.dev())
    }

    /// The pid `ready.json` names, if any.
    pub fn ready_pid(&self) -> Option<u32> {
        let text = std::fs::read(self.config.with_file_name("ready.json")).ok()?;
        let v: serde_json::Value = serde_json::from_slice(&text).ok()?;
        v["pid"].as_u64().map(|p| p as u32)
    }

    /// Waits for `ready.json` to name the daemon, and for the mount to answer.
    pub fn wait_ready(&self) {
        let pid = self.child.as_ref().unwrap().id();
        self.wait_for(|s| s.ready_pid() == Some(pid) && s.mounted());
    }

    /// Waits for `ready.json` from a daemon the test did not start itself (one inside a
    /// person's namespaces, whose mount is out of the test's sight); its pid.
    pub fn wait_ready_named(&self) -> u32 {
        self.wait_for(|s| s.ready_pid().is_some());
        self.ready_pid().unwrap()
    }

    fn wait_for(&self, done: impl Fn(&Served) -> bool) {
        let start = Instant::now();
        loop {
            if done(self) {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "the share did not start:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERMs the daemon; its exit code, and whether it said anything on stdout.
    pub fn stop(&mut self) -> (Option<i32>, String) {
        let Some(mut child) = self.child.take() else {
            return (None, String::new());
        };
        host_ok("kill", &["-TERM", &child.id().to_string()]);
        let out = wait(&mut child, Duration::from_secs(15));
        let mut stdout = String::new();
        if let Some(mut s) = child.stdout.take() {
            use std::io::Read;
            let _ = s.read_to_string(&mut stdout);
        }
        (out, stdout)
    }

    /// Waits for the process the test started to end by itself; its exit code.
    pub fn wait_exit(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        wait(&mut child, Duration::from_secs(15))
    }

    /// The daemon, killed at once: its mount is left behind, dead.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn set_child(&mut self, child: Child) {
        self.child = Some(child);
    }
}

/// Waits for `child` at most `limit`; its exit code, None if it had to be killed.
pub fn wait(child: &mut Child, limit: Duration) -> Option<i32> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(status)) = child.try_wait() {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

impl Drop for Served {
    fn drop(&mut self) {
        self.stop();
        if self.mounted() || std::fs::metadata(&self.mnt).is_err() {
            let _ = Command::new("umount").args(["-l"]).arg(&self.mnt).status();
        }
    }
}
