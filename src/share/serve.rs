//! The daemon: mount, answer the kernel from a few threads, unmount on SIGTERM, SIGINT or
//! SIGHUP, or end when someone else unmounts the share.
//!
//! It writes nothing to stdout; a line at its start and end, and what goes wrong, go to
//! stderr, which its starter sends to a log. Once it serves, it writes `ready.json` beside its
//! config: its pid and the fingerprint of the config it serves. tmpl cannot always see the
//! mount itself: a person's container share is mounted inside their rootless Podman's
//! namespaces. Where it can, the mountpoint's st_dev (of a stat that succeeds) differs from its
//! folder's once mounted.

use super::config::Config;
use super::fs::Share;
use super::mount;
use crate::ui;
use anyhow::{anyhow, Context as _, Result};
use fuse_backend_rs::api::server::Server;
use fuse_backend_rs::transport::{FuseChannel, FuseSession};
use serde::Serialize;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use std::path::Path;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// How long the threads get to finish the requests in hand after a stop.
const DRAIN: Duration = Duration::from_secs(5);

/// `ready.json`: which daemon serves which config.
#[derive(Serialize)]
struct Ready {
    pid: u32,
    fingerprint: String,
}

enum Event {
    Signal,
    /// A thread stopped serving: the share was unmounted, or /dev/fuse failed.
    Ended(Result<()>),
}

pub fn run(config_path: &Path) -> Result<()> {
    let config = Config::load(config_path)?;
    prepare_process();
    let share = Share::new(&config)?;
    // watched before the mount: a signal's default action would leave it behind, dead
    let signals = Signals::new([SIGTERM, SIGINT, SIGHUP]).context("cannot watch for signals")?;
    let mut session = mount::mount(&config)?;
    ui::info(format!(
        "tmpl share: serving {} at {} (repository {}{})",
        config.source.display(),
        config.mountpoint.display(),
        config.gitdir.display(),
        if config.readonly { ", read-only" } else { "" }
    ));
    let ready = config_path.with_file_name("ready.json");
    let result = serve(&session, Arc::new(Server::new(share)), signals, || {
        let me = Ready {
            pid: std::process::id(),
            fingerprint: config.fingerprint(),
        };
        crate::atomic::write(&ready, &serde_json::to_vec(&me)?, 0o600)
    });
    forget_ready(&ready);
    // lazily (MNT_DETACH, `fusermount3 -u -z`): a guest still holding a file open must not
    // keep the daemon from ending
    if let Err(e) = session.umount() {
        ui::warn(format!(
            "share: cannot unmount {}: {e}",
            config.mountpoint.display()
        ));
    }
    ui::info("tmpl share: unmounted");
    result
}

fn prepare_process() {
    // PassthroughFs holds an O_PATH descriptor for every inode the kernel knows
    let mut limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    if limit.current < limit.maximum {
        limit.current = limit.maximum;
        if let Err(e) = rustix::process::setrlimit(rustix::process::Resource::Nofile, limit) {
            ui::warn(format!("share: cannot raise the open files limit: {e}"));
        }
    }
    // The modes in requests have the guest's umask applied already; the server's own would
    // take more bits away.
    rustix::process::umask(rustix::fs::Mode::empty());
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8))
}

/// Removes `ready.json` if it still names this daemon (a new one may have replaced it).
fn forget_ready(ready: &Path) {
    let ours = std::fs::read(ready).is_ok_and(|text| {
        serde_json::from_slice::<serde_json::Value>(&text)
            .is_ok_and(|v| v["pid"] == std::process::id())
    });
    if ours {
        let _ = std::fs::remove_file(ready);
    }
}

fn serve(
    session: &FuseSession,
    server: Arc<Server<Share>>,
    mut signals: Signals,
    announce: impl FnOnce() -> Result<()>,
) -> Result<()> {
    let (tx, rx) = mpsc::channel();
    let stop = signals.handle();
    {
        let tx = tx.clone();
        std::thread::spawn(move || {
            if signals.forever().next().is_some() {
                let _ = tx.send(Event::Signal);
            }
        });
    }
    let mut running = 0;
    for n in 0..threads() {
        let mut channel = session.new_channel().map_err(|e| anyhow!("share: {e}"))?;
        let (server, tx) = (server.clone(), tx.clone());
        std::thread::Builder::new()
            .name(format!("share-{n}"))
            .spawn(move || {
                let _ = tx.send(Event::Ended(work(&mut channel, &server)));
            })
            .context("cannot start the share's threads")?;
        running += 1;
    }
    drop(tx);
    // a daemon that cannot say it serves is not waited for: it stops
    let mut failed = announce().err();
    while running > 0 && failed.is_none() {
        match rx.recv() {
            Ok(Event::Ended(r)) => {
                running -= 1;
                if let Err(e) = r {
                    failed.get_or_insert(e);
                }
            }
            Ok(Event::Signal) | Err(_) => break,
        }
    }
    stop.close();
    // Wake the threads that still wait for requests; give those in a request time to answer.
    let _ = session.wake();
    let deadline = Instant::now() + DRAIN;
    while running > 0 {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(Event::Ended(_)) => running -= 1,
            Ok(Event::Signal) => {}
            Err(_) => break,
        }
    }
    failed.map_or(Ok(()), Err)
}

/// One thread's loop: requests until the share is unmounted or the thread is woken to stop.
fn work(channel: &mut FuseChannel, server: &Server<Share>) -> Result<()> {
    loop {
        let Some((reader, writer)) = channel
            .get_request()
            .map_err(|e| anyhow!("share: reading /dev/fuse: {e}"))?
        else {
            return Ok(());
        };
        if let Err(e) = server.handle_message(reader, writer.into(), None, None) {
            match &e {
                fuse_backend_rs::Error::EncodeMessage(io) => match io.raw_os_error() {
                    // unmounted while answering
                    Some(libc::ENODEV) | Some(libc::EBADF) => return Ok(()),
                    // the request was interrupted: its answer is not awaited any more
                    Some(libc::ENOENT) => {}
                    _ => ui::warn(format!("share: {e}")),
                },
                _ => ui::warn(format!("share: {e}")),
            }
        }
    }
}
