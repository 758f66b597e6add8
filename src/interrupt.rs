//! Ctrl+C (SIGINT) and SIGTERM during a long operation.
//!
//! tmpl does not die on the spot: a child in the middle of `vagrant up` or `podman` must be
//! allowed to clean up, or the next `up` would find half a machine. The handler only sets a
//! flag. Running children get the signal too (from the terminal, or forwarded by
//! `forward_while` when only tmpl was signalled), tmpl waits for them, then fails with exit
//! 130 and records the phase it stopped in. The next `up` converges from there.

use crate::error::{code, Failure};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::Duration;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    SIGNAL.store(sig, Ordering::SeqCst);
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Installs the handlers; called once at start by commands that change a guest.
pub fn install() {
    // SAFETY: the handler only stores to atomics, which is async-signal-safe.
    unsafe {
        let handler: extern "C" fn(libc::c_int) = on_signal;
        libc::signal(libc::SIGINT, handler as libc::sighandler_t);
        libc::signal(libc::SIGTERM, handler as libc::sighandler_t);
    }
}

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// The error an interrupted operation ends with.
pub fn failure(phase: &str) -> Failure {
    Failure::new(code::INTERRUPTED, format!("interrupted while {phase}"))
        .hint("run `tmpl up` again: it adopts what exists, or cleans it up and recreates it")
}

/// Returns `Err` when an interrupt arrived.
pub fn check(phase: &str) -> anyhow::Result<()> {
    if interrupted() {
        Err(failure(phase).into())
    } else {
        Ok(())
    }
}

/// While `pids` run, passes an interrupt on to them once (they may not have seen it: a
/// `kill -INT` aimed at tmpl alone does not reach its children). Returns a guard that stops
/// watching when dropped.
pub fn forward_while(pids: Vec<u32>) -> Forwarder {
    let done = std::sync::Arc::new(AtomicBool::new(false));
    let d = done.clone();
    std::thread::spawn(move || {
        while !d.load(Ordering::SeqCst) {
            if interrupted() {
                let sig = match SIGNAL.load(Ordering::SeqCst) {
                    0 => libc::SIGINT,
                    s => s,
                };
                for pid in &pids {
                    // SAFETY: signalling our own child by pid.
                    unsafe {
                        libc::kill(*pid as libc::pid_t, sig);
                    }
                }
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    Forwarder { done }
}

pub struct Forwarder {
    done: std::sync::Arc<AtomicBool>,
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.done.store(true, Ordering::SeqCst);
    }
}
