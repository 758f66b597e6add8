//! `stop` and `rm`: what `up` set up, undone in reverse. The SSH connection and the
//! credential broker go first, then the guest; `rm` then removes what kept it apart (its fence, after the guest: it must
//! never run unfenced), its files and its record.

use super::open::Session;
use crate::driver::{State, StopOutcome};
use crate::ssh::Access;
use crate::timing::Phases;
use anyhow::Result;
use std::time::Duration;

/// What `rm` did.
pub struct Removed {
    /// What it removed, in words, in order.
    pub items: Vec<String>,
    pub summary: String,
}

impl Session<'_> {
    fn close_ssh(&self) {
        let id = &self.loaded.id;
        Access::new(&id.slug, &id.state_dir).close_master();
    }

    /// Shuts the guest down, forced once `timeout` has passed. Returns what happened and the
    /// summary.
    pub fn stop(&self, timeout: Duration) -> Result<(StopOutcome, String)> {
        crate::interrupt::install();
        let mut phases = Phases::new("stop");
        self.close_ssh();
        crate::broker::stop(&self.loaded.id.state_dir);
        let outcome = self.guest.stop(timeout, &mut phases).map_err(|e| {
            let id = &self.loaded.id;
            phases.record_error(
                &self.dirs.state,
                &id.slug,
                &self.loaded.config.infra_type,
                e,
            )
        })?;
        let label = match outcome {
            StopOutcome::Stopped { forced: true } => "forced",
            StopOutcome::Stopped { forced: false } => "stopped",
            // nothing was done: nothing to record
            StopOutcome::NotCreated | StopOutcome::AlreadyStopped => {
                return Ok((outcome, phases.summary()))
            }
        };
        let id = &self.loaded.id;
        phases.record(
            &self.dirs.state,
            &id.slug,
            &self.loaded.config.infra_type,
            label,
        );
        Ok((outcome, phases.summary()))
    }

    /// Whether there is anything of the project's to remove: a guest, or its files.
    pub fn anything_to_remove(&self) -> Result<bool> {
        let id = &self.loaded.id;
        Ok(self.guest.live()?.state != State::NotCreated
            || id.cache_dir.exists()
            || id.state_dir.exists())
    }

    /// Removes the guest and everything tmpl made for it, and forgets the project. The
    /// session's lock file goes too: nothing of the project is left to lock.
    pub fn remove(mut self) -> Result<Removed> {
        let id = &self.loaded.id;
        if !self.anything_to_remove()? {
            crate::project::list::forget(&self.dirs.state, &id.slug)?;
            if let Some(lock) = self.lock.take() {
                lock.release_and_remove();
            }
            return Ok(Removed {
                items: Vec::new(),
                summary: String::new(),
            });
        }
        crate::interrupt::install();
        let mut phases = Phases::new("rm");
        self.close_ssh();
        let items = self.recorded(&mut phases, |phases| {
            let broker = crate::broker::stop(&id.state_dir);
            let mut removed = self.guest.remove(phases)?;
            removed.extend(broker);
            if self.stop_serving()? {
                removed.push("the project folder's file server".into());
            }
            // after the guest: it must never run unfenced
            removed.extend(crate::fence::remove(&id.slug, self.driver.fence_holder())?);
            crate::fence::dns::stop(&id.state_dir);
            for dir in [&id.cache_dir, &id.state_dir] {
                if dir.exists() {
                    std::fs::remove_dir_all(dir)?;
                    removed.push(format!("{}", dir.display()));
                }
            }
            crate::project::list::forget(&self.dirs.state, &id.slug)?;
            Ok((removed, "removed".to_owned()))
        })?;
        if let Some(lock) = self.lock.take() {
            lock.release_and_remove();
        }
        Ok(Removed {
            items,
            summary: phases.summary(),
        })
    }
}
