//! Each fenced guest's own resolver (`tmpl __dns DIR`): DNS is part of the fence.
//!
//! The fence redirects every query the guest sends to its gateway's port 53 to this resolver,
//! on the gateway at `PORT` (see `rules`), so the guest's network's own DNS server (libvirt's
//! dnsmasq, Podman's aardvark-dns, which forward any name to the host's resolver) never
//! hears from it, and DNS to any other address is a connection like any other. Under
//! `EGRESS=none` it answers only `EGRESS_ALLOW`'s names (and `host.tmpl.internal`); every
//! other query gets REFUSED here and never leaves the host. Under `internet` and `open` it
//! forwards every name to the host's resolver.
//!
//! Name allowlists follow the names the guest asks for: the addresses of an allowed name's
//! answer (its CNAME chain included) go into the fence's timed sets for the answer's TTL
//! (`answer::FLOOR_SECS` at least) before the answer reaches the guest, and a failed write
//! is a SERVFAIL. Nothing is resolved on the host ahead of the guest.
//!
//! One process per guest network, started by whoever holds the fence: `up` for root's guests
//! and a person's containers (in their rootless Podman's network namespace), the libvirt
//! hook for a person's VMs. Its folder holds `dns.json` (what it serves), `dns.lock` (held
//! while it runs) and `dns.pid` (its pid and network namespace). It exits when the fence's
//! table is gone or, in a namespace that can be replaced, when the namespace is no longer the
//! current one; SIGHUP makes it forget what it opened (the table was written anew).

pub mod answer;
mod config;
mod privilege;
mod serve;

pub use config::{nameservers, netns_inode, upstream_from_env, Config};

use crate::process::Cmd;
use anyhow::Result;
use std::path::Path;
use std::time::Duration;

/// Where every guest's resolver listens on its own gateway. One port for all: each binds its
/// own gateway's address.
pub const PORT: u16 = 10053;

/// The pid and network namespace (inode) of the resolver in `dir`, while it runs.
pub fn running(dir: &Path) -> Option<(i32, u64)> {
    if crate::lock::Lock::try_now(&dir.join("dns.lock")) {
        return None;
    }
    let text = std::fs::read_to_string(dir.join("dns.pid")).ok()?;
    let mut it = text.split_whitespace();
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

fn signal(pid: i32, sig: i32) {
    // SAFETY: kill(2) with a pid read from the resolver's own file; no memory is involved
    unsafe {
        libc::kill(pid, sig);
    }
}

/// Makes the resolver in `config.state` run with `config`, in the network `enter` gives:
/// left alone when it already does (told to forget what it opened when `rewritten`),
/// replaced when its settings or its namespace changed.
pub fn ensure(config: &Config, enter: impl Fn(Cmd) -> Cmd, rewritten: bool) -> Result<()> {
    let dir = &config.state;
    let file = dir.join("dns.json");
    let same = std::fs::read(&file)
        .ok()
        .and_then(|b| serde_json::from_slice::<Config>(&b).ok())
        .is_some_and(|c| c == *config);
    let here = config.netns_file.as_deref().map(netns_inode);
    match running(dir) {
        Some((pid, ino)) if same && here.map_or(true, |h| h == Some(ino)) => {
            if rewritten {
                signal(pid, libc::SIGHUP);
            }
            return Ok(());
        }
        Some((pid, _)) => stop_pid(dir, pid),
        None => {}
    }
    crate::atomic::write(&file, &serde_json::to_vec_pretty(config)?, 0o600)?;
    let me = std::env::current_exe()?;
    enter(Cmd::new(me).arg("__dns").arg(dir)).spawn_daemon();
    // it answers once it holds its lock, a few milliseconds from now
    for _ in 0..100 {
        if running(dir).is_some() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(crate::error::Failure::new(
        crate::error::ExitStatus::Failure,
        "the guest's resolver did not start",
    )
    .hint(format!(
        "`tmpl __dns {}` in a shell shows why; `tmpl doctor` checks the host",
        dir.display()
    ))
    .into())
}

fn stop_pid(dir: &Path, pid: i32) {
    signal(pid, libc::SIGTERM);
    for _ in 0..50 {
        if running(dir).is_none() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    signal(pid, libc::SIGKILL);
}

/// Stops the resolver in `dir`, if one runs, and forgets its settings (`rm`).
pub fn stop(dir: &Path) {
    if let Some((pid, _)) = running(dir) {
        stop_pid(dir, pid);
    }
    for f in ["dns.json", "dns.pid", "dns.lock"] {
        let _ = std::fs::remove_file(dir.join(f));
    }
}

/// `tmpl __dns DIR`: serves until the fence is gone.
pub fn run(dir: &Path) -> Result<()> {
    let text = std::fs::read(dir.join("dns.json"))?;
    let config: Config = serde_json::from_slice(&text)?;
    serve::serve(config)
}
