//! The file server's life, seen from tmpl: one daemon per guest (`tmpl __share CONFIG`),
//! started before the guest runs and stopped after it stops, so the guest never sees the
//! project folder except through it.
//!
//! Files, in `<state>/share/`: `config.json` (what to serve), `ready.json` (written by the
//! daemon once it serves: its pid and the fingerprint of the config it serves), `server.log`
//! (what it said), `mnt/` (the mountpoint). A daemon started inside a person's rootless
//! Podman namespace mounts there, out of tmpl's sight: `ready.json` is how tmpl knows.

use super::config::Config;
use crate::error::{ExitStatus, Failure};
use crate::process::Cmd;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a new server may take to mount.
const START: Duration = Duration::from_secs(15);

/// What the daemon writes once it serves.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ready {
    pub pid: u32,
    pub fingerprint: String,
}

/// One guest's share, by its folder in the project's state.
pub struct Share {
    dir: PathBuf,
}

/// What `ensure` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    /// A server with this very config was serving already.
    Kept,
    /// None was serving (first start, or the last one is gone).
    Started,
    /// One with another config was replaced: a guest still running sees the old mount, which
    /// is gone, and must be started again.
    Replaced,
}

impl Share {
    pub fn new(state_dir: &Path) -> Share {
        Share {
            dir: state_dir.join("share"),
        }
    }

    pub fn mountpoint(&self) -> PathBuf {
        self.dir.join("mnt")
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    pub fn ready_path(&self) -> PathBuf {
        self.dir.join("ready.json")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    /// The daemon serving now, if its process is alive.
    pub fn serving(&self) -> Option<Ready> {
        let r: Ready = serde_json::from_slice(&std::fs::read(self.ready_path()).ok()?).ok()?;
        is_ours(r.pid).then_some(r)
    }

    /// Makes a server with `config` serve: keeps one that does, replaces one with another
    /// config, starts one when none runs. `enter` runs the daemon where the guest's mounts
    /// are made (the host, or a person's rootless Podman namespace).
    pub fn ensure(&self, config: &Config, enter: &dyn Fn(Cmd) -> Cmd) -> Result<Started> {
        crate::ssh::private_dir(&self.dir)?;
        let wanted = config.fingerprint();
        let current = self.serving();
        if current.as_ref().is_some_and(|r| r.fingerprint == wanted) {
            return Ok(Started::Kept);
        }
        let replaced = current.is_some();
        self.stop()?;
        std::fs::create_dir_all(config.mountpoint.as_path())?;
        config.write(&self.config_path())?;
        let me = std::env::current_exe()?;
        enter(Cmd::new(me).arg("__share").arg(self.config_path()))
            .log_to(self.log_path())
            .spawn_daemon();
        let start = Instant::now();
        loop {
            if let Some(r) = self.serving() {
                if r.fingerprint == wanted {
                    return Ok(if replaced {
                        Started::Replaced
                    } else {
                        Started::Started
                    });
                }
            }
            if start.elapsed() > START {
                return Err(self.did_not_start());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn did_not_start(&self) -> anyhow::Error {
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let mut f = Failure::new(
            ExitStatus::Failure,
            "the project folder's file server did not start",
        );
        for line in log
            .lines()
            .rev()
            .take(8)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
        {
            f = f.detail(format!("| {}", crate::text::terminal_safe(line)));
        }
        f.detail(format!("--> the whole log: {}", self.log_path().display()))
            .hint("`tmpl doctor` checks what the server needs (FUSE, fuse3)")
            .into()
    }

    /// Stops the server, if one runs; returns whether one did. Its mount goes with it.
    pub fn stop(&self) -> Result<bool> {
        let Some(r) = self.serving() else {
            let _ = std::fs::remove_file(self.ready_path());
            return Ok(false);
        };
        end(r.pid, &self.mountpoint());
        let _ = std::fs::remove_file(self.ready_path());
        Ok(true)
    }
}

/// Ends the server `pid`: SIGTERM, which unmounts, then after 10 s SIGKILL.
fn end(pid: u32, mountpoint: &Path) {
    let raw = rustix::process::Pid::from_raw(pid as i32);
    if let Some(raw) = raw {
        let _ = rustix::process::kill_process(raw, rustix::process::Signal::TERM);
    }
    let start = Instant::now();
    while is_ours(pid) && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    if is_ours(pid) {
        if let Some(raw) = raw {
            let _ = rustix::process::kill_process(raw, rustix::process::Signal::KILL);
        }
        // a killed server leaves its mount behind, dead: detached here, or by the next
        // server where tmpl cannot reach it (a person's Podman namespace)
        super::mount::unmount_lazily(mountpoint);
    }
}

/// A file server of this person's running for a project under a state folder.
#[derive(Debug, Clone)]
pub struct Running {
    pub pid: u32,
    pub slug: String,
    /// The project's state folder.
    pub state_dir: PathBuf,
    /// The folder it serves, as its config says (none when the config is gone).
    pub source: Option<PathBuf>,
}

/// Every file server this person runs for projects under `state_root`
/// (`<state_root>/<slug>/share/config.json`).
pub fn all(state_root: &Path) -> Vec<Running> {
    let mut out = Vec::new();
    for d in crate::procs::mine("__share") {
        let [config] = &d.args[..] else {
            continue;
        };
        let Some(state_dir) = config.parent().and_then(Path::parent) else {
            continue;
        };
        if state_dir.parent() != Some(state_root) {
            continue;
        }
        let source = std::fs::read(config)
            .ok()
            .and_then(|b| serde_json::from_slice::<Config>(&b).ok())
            .map(|c| c.source);
        out.push(Running {
            pid: d.pid,
            slug: state_dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            state_dir: state_dir.to_path_buf(),
            source,
        });
    }
    out
}

/// Ends a server `all` found.
pub fn end_running(r: &Running) -> Result<()> {
    end(r.pid, &Share::new(&r.state_dir).mountpoint());
    if is_ours(r.pid) {
        return Err(Failure::new(
            ExitStatus::Failure,
            format!("the file server pid {} did not end", r.pid),
        )
        .into());
    }
    let _ = std::fs::remove_file(Share::new(&r.state_dir).ready_path());
    Ok(())
}

/// Is `pid` a file server of tmpl's (and not a process that took its number since)?
fn is_ours(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|c| c.split(|b| *b == 0).any(|w| w == b"__share"))
}

/// What `doctor` says of the file server's needs: FUSE, and for a person `fusermount3`.
pub fn checks() -> Vec<crate::check::Check> {
    use crate::check::Check;
    let mut out = vec![Check::of(
        "fuse",
        true,
        if std::path::Path::new("/dev/fuse").exists() {
            Ok("/dev/fuse: project folders are served to guests through it".into())
        } else {
            Err((
                "/dev/fuse is missing: tmpl's file server cannot serve project folders".into(),
                "load the fuse module (`sudo modprobe fuse`)".into(),
            ))
        },
    )];
    if !crate::person::is_root() {
        if let Some(r) = crate::host::needed_by("person")
            .into_iter()
            .find(|r| r.program == "fusermount3")
        {
            out.push(crate::host::check_program(&r, true));
        }
    }
    out
}

/// For a driver whose guests read the folder through a root daemon of the tool underneath
/// (libvirt's virtiofsd): a person's FUSE mount lets root in only with `user_allow_other`.
pub fn root_may_read() -> crate::check::Check {
    let allowed = crate::person::is_root() || super::mount::fuse_conf_allows_other();
    crate::check::Check::of(
        "fuse for VMs",
        true,
        if allowed {
            Ok("libvirt's virtiofsd may read the file server's mounts".into())
        } else {
            Err((
                "/etc/fuse.conf lacks user_allow_other: libvirt's virtiofsd (root) cannot read the file server of your VMs' folders".into(),
                "add the line `user_allow_other` to /etc/fuse.conf (`make setup` does)".into(),
            ))
        },
    )
}
