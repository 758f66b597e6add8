//! The broker as a process of its own, one per guest, run as the person who runs tmpl:
//!
//! - `tmpl __broker start` (run where the guest's network is, see `fence::Place::enter`)
//!   reads the spec on stdin, starts `tmpl __broker serve DIR` detached from everything of
//!   tmpl's, hands it the spec through a pipe, waits until it listens and says so. It then
//!   ends, so whatever ran it (`podman unshare` for a person's containers) ends too.
//! - `serve` holds `DIR/broker.lock` while it runs (so one runs per guest, and tmpl can tell
//!   it is alive), keeps the values in memory only (no core file, not dumpable, an
//!   environment without them), and ends by itself once its project's state folder is
//!   gone.
//! - `tmpl __broker probe ADDR` (also run where the network is) says whether anything
//!   listens at ADDR there: a person's Podman makes a new network namespace when their
//!   containers start again, and a broker left in the old one serves nobody.

use super::spec::Spec;
use crate::error::{ExitStatus, Failure};
use anyhow::{Context as _, Result};
use std::io::{BufRead, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub fn lock_path(dir: &Path) -> PathBuf {
    dir.join("broker.lock")
}

/// What the broker's own environment keeps of tmpl's: how to find programs and certificates
/// and how to resolve names, and none of the secrets it may have been given in.
const KEPT: &[&str] = &[
    "PATH",
    "HOME",
    "LANG",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "RES_OPTIONS",
    "LOCALDOMAIN",
    "HOSTALIASES",
];

/// `tmpl __broker start`.
pub fn start_main() -> Result<ExitStatus> {
    let mut spec = Vec::new();
    std::io::stdin().read_to_end(&mut spec)?;
    let dir = serde_json::from_slice::<Spec>(&spec)
        .context("the broker's spec")?
        .dir;
    use std::os::unix::fs::OpenOptionsExt;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(dir.join("broker.log"))?;
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.args(["__broker", "serve"])
        .arg(&dir)
        .current_dir("/")
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(log);
    for k in KEPT {
        if let Some(v) = std::env::var_os(k) {
            cmd.env(k, v);
        }
    }
    let mut child = cmd.spawn()?;
    child.stdin.take().expect("piped").write_all(&spec)?;
    drop(spec);
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line)?;
    print!("{line}");
    Ok(if line.starts_with("ready ") {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

/// `tmpl __broker serve DIR`.
pub fn serve_main(dir: &Path) -> Result<ExitStatus> {
    use rustix::process::{self as p, Resource, Rlimit};
    // its own session: no terminal's hang-up or Ctrl+C reaches it
    let _ = p::setsid();
    // the values are in this process's memory: no core file, no reading it as a debugger
    let _ = p::setrlimit(
        Resource::Core,
        Rlimit {
            current: Some(0),
            maximum: Some(0),
        },
    );
    let _ = p::set_dumpable_behavior(p::DumpableBehavior::NotDumpable);
    let mut text = Vec::new();
    std::io::stdin().read_to_end(&mut text)?;
    let spec: Spec = serde_json::from_slice(&text)?;
    drop(text);
    let Some(_only_one) = crate::lock::Lock::try_at(&lock_path(dir))? else {
        println!("error: another broker is running for {}", dir.display());
        return Ok(ExitStatus::Failure);
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(spec.listen).await {
            Ok(l) => l,
            Err(e) => {
                println!("error: cannot listen on {}: {e}", spec.listen);
                return Ok(ExitStatus::Failure);
            }
        };
        let (broker, gate) = match spec.broker() {
            Ok(b) => b,
            Err(e) => {
                println!("error: {e}");
                return Ok(ExitStatus::Failure);
            }
        };
        println!("ready {}", std::process::id());
        let _ = std::io::stdout().flush();
        let state = dir.to_owned();
        drop(spec);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(super::gate::REFRESH).await;
                // its project was removed behind tmpl's back: nothing will ever need it. A
                // guest that is gone (its network with it) may come back with the same
                // gateway; `doctor` lists a broker whose guest is gone, `gc` ends it
                if crate::gone::gone(&state) {
                    eprintln!(
                        "{}: the project's state is gone; ending",
                        jiff::Timestamp::now()
                    );
                    std::process::exit(0);
                }
                gate.refresh();
            }
        });
        Arc::new(broker).serve(listener).await?;
        Ok(ExitStatus::Success)
    })
}

/// `tmpl __broker probe ADDR`.
pub fn probe_main(addr: SocketAddr) -> ExitStatus {
    match std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
        Ok(_) => ExitStatus::Success,
        Err(_) => ExitStatus::Failure,
    }
}

/// The broker of `dir` is running (its lock is held).
pub fn alive(dir: &Path) -> bool {
    dir.exists() && !crate::lock::Lock::try_now(&lock_path(dir))
}

/// Whether `pid` is a broker serving `dir` (a pid noted long ago may be anyone's by now).
pub fn is_broker_of(pid: u32, dir: &Path) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    args.len() >= 4
        && args[1] == b"__broker"
        && args[2] == b"serve"
        && args[3] == dir.as_os_str().as_encoded_bytes()
}

/// Ends the broker `pid` of `dir`: asked first, forced if it has not gone in two seconds.
pub fn end(pid: u32, dir: &Path) {
    use rustix::process::{kill_process, Pid, Signal};
    let Some(p) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
        return;
    };
    if !is_broker_of(pid, dir) {
        return;
    }
    let _ = kill_process(p, Signal::TERM);
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(2) {
        if !is_broker_of(pid, dir) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = kill_process(p, Signal::KILL);
}

/// Starts a broker from `spec` through `cmd` (`tmpl __broker start`, entered where the
/// guest's network is); returns its pid.
pub fn start(cmd: crate::process::Cmd, spec: &Spec) -> Result<u32> {
    let out = cmd.output_with_input(&serde_json::to_vec(spec)?)?;
    let line = out.stdout.trim();
    if let Some(pid) = line.strip_prefix("ready ").and_then(|p| p.parse().ok()) {
        return Ok(pid);
    }
    let why = if line.is_empty() {
        out.stderr.trim()
    } else {
        line
    };
    Err(Failure::new(
        ExitStatus::Failure,
        format!("the credential broker did not start on {}", spec.listen),
    )
    .detail(format!("| {}", why.trim_start_matches("error: ")))
    .detail(format!(
        "--> its log: {}",
        spec.dir.join("broker.log").display()
    ))
    .hint("`tmpl up` starts it again; `tmpl doctor` lists what the host lacks")
    .into())
}

/// A broker of this person's running for a project under `state_root`.
#[derive(Debug, Clone)]
pub struct Found {
    pub pid: u32,
    pub dir: PathBuf,
    /// The project's slug, and its `INFRA_TYPE` when the broker's record says.
    pub slug: String,
    pub infra: Option<String>,
}

/// Every broker this person runs for projects under `state_root`.
pub fn all(state_root: &Path) -> Vec<Found> {
    let mut out = Vec::new();
    for d in crate::procs::mine("__broker") {
        let [serve, dir] = &d.args[..] else {
            continue;
        };
        if serve.as_os_str() != "serve" {
            continue;
        }
        let Some(project) = dir.parent().filter(|p| p.parent() == Some(state_root)) else {
            continue;
        };
        out.push(Found {
            pid: d.pid,
            slug: project
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            infra: super::running::read(dir).map(|r| r.infra),
            dir: dir.clone(),
        });
    }
    out
}

/// Ends a broker `all` found.
pub fn end_found(f: &Found) -> Result<()> {
    end(f.pid, &f.dir);
    if is_broker_of(f.pid, &f.dir) {
        return Err(Failure::new(
            ExitStatus::Failure,
            format!("the credential broker pid {} did not end", f.pid),
        )
        .into());
    }
    Ok(())
}
