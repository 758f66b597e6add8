//! Ctrl+C, SIGTERM and SIGHUP during a long operation.
//!
//! tmpl does not die on the spot: a child in the middle of `vagrant up` or `ansible-playbook`
//! must be allowed to clean up, or the next `up` would find half a machine. So:
//!
//! - Every child that is not attached to the terminal (`process::Cmd` outside `interactive`)
//!   runs in a process group of its own. A terminal's Ctrl+C (sent to the whole foreground
//!   group) therefore reaches tmpl alone, never the child directly.
//! - tmpl passes each signal it receives on to the children running at that moment, once per
//!   signal: one Ctrl+C is one SIGINT for Vagrant. Vagrant reads a second SIGINT as "exit
//!   immediately, without cleanup", so it must never get two for one key press; a person who
//!   presses Ctrl+C twice still can make it hurry.
//! - tmpl then waits for the child, fails with exit 130 and records the phase it stopped in.
//!   The next `up` converges from there.
//!
//! Children attached to the terminal (`tmpl ssh`, `tmpl vagrant --`) stay in the foreground
//! group and get the terminal's signals themselves; tmpl only survives them.

use crate::error::{ExitStatus, Failure};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Mutex, Once};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static SIGNAL: AtomicI32 = AtomicI32::new(0);
static INSTALL: Once = Once::new();
/// Process groups of the children running now, each with the program's name.
static CHILDREN: Mutex<Vec<(i32, String)>> = Mutex::new(Vec::new());

/// Installs the handlers; called once at start by commands that change a guest. The handler
/// thread blocks on signal-hook's self-pipe: no polling.
pub fn install() {
    INSTALL.call_once(|| {
        let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
            return;
        };
        std::thread::spawn(move || {
            for sig in signals.forever() {
                on_signal(sig);
            }
        });
    });
}

fn on_signal(sig: i32) {
    let first = !INTERRUPTED.swap(true, Ordering::SeqCst);
    SIGNAL.store(sig, Ordering::SeqCst);
    let children = CHILDREN.lock().unwrap_or_else(|e| e.into_inner());
    for (pgid, _) in children.iter() {
        // SAFETY: signalling a process group tmpl created for its own child.
        unsafe {
            libc::kill(-pgid, sig);
        }
    }
    if first {
        let names: Vec<&str> = children.iter().map(|(_, n)| n.as_str()).collect();
        let what = if names.is_empty() {
            "stopping at the next step".to_owned()
        } else {
            format!("waiting for `{}` to clean up", names.join("`, `"))
        };
        crate::ui::info(format!("tmpl: interrupted; {what}"));
    }
}

/// A running child's process group, registered for forwarding until dropped.
pub struct Registered(i32);

/// Registers a child's process group (its pid: it leads a group of its own). A signal that
/// arrived just before is passed on now, so a child started during an interrupt stops too.
pub fn register(pgid: u32, program: &str) -> Registered {
    let pgid = pgid as i32;
    let mut children = CHILDREN.lock().unwrap_or_else(|e| e.into_inner());
    children.push((pgid, program.to_owned()));
    if interrupted() {
        // SAFETY: as in `on_signal`.
        unsafe {
            libc::kill(-pgid, SIGNAL.load(Ordering::SeqCst));
        }
    }
    Registered(pgid)
}

impl Drop for Registered {
    fn drop(&mut self) {
        let mut children = CHILDREN.lock().unwrap_or_else(|e| e.into_inner());
        children.retain(|(p, _)| *p != self.0);
    }
}

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// The error an interrupted operation ends with.
pub fn failure(phase: &str) -> Failure {
    Failure::new(
        ExitStatus::Interrupted,
        format!("interrupted while {phase}"),
    )
    .hint("run the command again: `tmpl up` adopts what exists, or cleans it up and recreates it")
}

/// Returns `Err` when an interrupt arrived.
pub fn check(phase: &str) -> anyhow::Result<()> {
    if interrupted() {
        Err(failure(phase).into())
    } else {
        Ok(())
    }
}
