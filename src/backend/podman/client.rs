//! Finding Podman's API socket and talking to it.
//!
//! bollard's `connect_with_socket_defaults()` ignores `DOCKER_HOST`, so the socket is chosen
//! here: `CONTAINER_HOST`, then `DOCKER_HOST` (unix sockets); else root's guests go to the
//! system service and a person's to their own rootless Podman, in their runtime folder
//! (`runtime::runtime_dir`). A person never falls back to root's service: their guests would
//! run as root, and its files in their project would not be theirs.
//!
//! `connect` only finds a service that answers. `connect_or_start` (for commands that act on
//! a guest) also starts a transient API service when none does, one that exits after five
//! idle minutes, the way `podman.socket` activation would. Checks (`status`, `ls`, `doctor`,
//! `gc`) never start one: they report what they found.

use crate::error::{ExitStatus, Failure};
use crate::ui;
use anyhow::Result;
use bollard::{Docker, API_DEFAULT_VERSION};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A connection to Podman's API. Its operations (in `api`) are the only place bollard is
/// called from: one runtime, typed results, each error saying what failed.
pub struct Client {
    pub(super) docker: Docker,
    pub socket: PathBuf,
    pub(super) rt: tokio::runtime::Runtime,
}

/// Where to look, in order, with where each candidate came from. A socket named in
/// `CONTAINER_HOST` or `DOCKER_HOST` is the only one tried, as Podman's and Docker's own
/// clients do: falling back to another daemon would put the guest somewhere unexpected.
pub fn candidates() -> Vec<(PathBuf, &'static str)> {
    let mut out = Vec::new();
    for var in ["CONTAINER_HOST", "DOCKER_HOST"] {
        if let Ok(v) = std::env::var(var) {
            if let Some(p) = v.strip_prefix("unix://") {
                out.push((PathBuf::from(p), var));
                return out;
            }
        }
    }
    if crate::person::is_root() {
        out.push((PathBuf::from("/run/podman/podman.sock"), "system"));
    } else {
        let dir = super::runtime::runtime_dir();
        out.push((dir.join("podman/podman.sock"), "rootless"));
    }
    out
}

/// The socket `CONTAINER_HOST` or `DOCKER_HOST` names, if one does: tmpl starts no service then.
pub fn explicit() -> Option<PathBuf> {
    let c = candidates();
    match c.as_slice() {
        [(p, why)] if why.ends_with("_HOST") => Some(p.clone()),
        _ => None,
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn try_socket(rt: &tokio::runtime::Runtime, path: &std::path::Path) -> Option<Docker> {
    if !path.exists() {
        return None;
    }
    let docker =
        Docker::connect_with_unix(&path.to_string_lossy(), 120, API_DEFAULT_VERSION).ok()?;
    let ok =
        rt.block_on(async { tokio::time::timeout(Duration::from_secs(2), docker.ping()).await });
    matches!(ok, Ok(Ok(_))).then_some(docker)
}

/// Where tmpl notes the pid of a service it started on `socket`.
pub fn pid_file(socket: &std::path::Path) -> PathBuf {
    socket.with_extension("tmpl-pid")
}

/// The first candidate whose service answers; never starts one.
pub fn connect() -> Result<Client> {
    connect_with(false)
}

/// Like `connect`, but starts a transient service when none answers (and none was named).
pub fn connect_or_start() -> Result<Client> {
    connect_with(true)
}

fn connect_with(start: bool) -> Result<Client> {
    let rt = runtime()?;
    let tried = candidates();
    for (path, _) in &tried {
        if let Some(docker) = try_socket(&rt, path) {
            return Ok(Client {
                docker,
                socket: path.clone(),
                rt,
            });
        }
    }
    let explicit = tried.iter().any(|(_, why)| why.ends_with("_HOST"));
    if start && !explicit {
        if let Some(c) = start_transient(&rt, &tried)? {
            return Ok(c);
        }
    }
    let mut f = Failure::new(ExitStatus::Unavailable, "Podman's API does not answer");
    for (p, why) in &tried {
        f = f.detail(format!("tried {} ({why})", p.display()));
    }
    Err(f
        .hint(if crate::person::is_root() {
            "start it: `systemctl enable --now podman.socket`, or `podman system service --time=0 &`; `tmpl doctor` checks it"
        } else {
            "start your own: `systemctl --user enable --now podman.socket`, or `podman system service --time=0 &`; `tmpl doctor` says what your account lacks for rootless Podman"
        })
        .into())
}

/// Starts `podman system service` on the first candidate we may create, if podman exists.
fn start_transient(
    rt: &tokio::runtime::Runtime,
    tried: &[(PathBuf, &str)],
) -> Result<Option<Client>> {
    if crate::process::which("podman").is_none() {
        return Ok(None);
    }
    let Some((path, _)) = tried.last() else {
        return Ok(None);
    };
    let rootless = !crate::person::is_root();
    if rootless {
        let rt = super::runtime::runtime_dir();
        super::runtime::ensure_runtime_dir(&rt).map_err(|why| {
            Failure::new(ExitStatus::Unavailable, "no private runtime folder for your Podman")
                .detail(why)
                .hint(format!(
                    "remove it if it is not yours, or set XDG_RUNTIME_DIR to a folder only you can write; tmpl starts your Podman's socket in {}",
                    rt.join("podman").display()
                ))
        })?;
    }
    let Some(dir) = path.parent() else {
        return Ok(None);
    };
    if std::fs::create_dir_all(dir).is_err() {
        return Ok(None);
    }
    ui::info(format!(
        "starting a Podman API service on {} (it exits after 5 idle minutes)",
        path.display()
    ));
    let _ = std::fs::remove_file(path);
    // setsid: the service must not die with tmpl's terminal, nor hold tmpl's pipes or locks.
    // It starts in `/`: it outlives tmpl, and its containers' conmon inherit its folder, so a
    // project folder deleted later would break every container start.
    let mut service = std::process::Command::new("setsid");
    if rootless {
        // the service keeps its state where the person's own `podman` looks for it
        service.env("XDG_RUNTIME_DIR", super::runtime::runtime_dir());
    }
    let spawned = service
        .args(["podman", "system", "service", "--time=300"])
        .arg(format!("unix://{}", path.display()))
        .current_dir("/")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    let Ok(child) = spawned else {
        return Ok(None);
    };
    // for whoever must stop exactly this service later (the fault tests do)
    let _ = std::fs::write(pid_file(path), format!("{}\n", child.id()));
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        if let Some(docker) = try_socket(rt, path) {
            return Ok(Some(Client {
                docker,
                socket: path.clone(),
                rt: runtime()?,
            }));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(None)
}
