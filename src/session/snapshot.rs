//! Snapshots: take a guest back to before the agent ran.
//!
//! The guest is snapshotted, never the project folder: that is the person's data on the
//! host, shared into the guest, and a restore never rolls it back. Each driver says how it
//! snapshots (`driver::Snapshots`); when it needs the guest shut down (a VM), the session
//! shuts it down and brings it back the way `up` does, so a running guest is running again
//! afterwards.
//!
//! Ctrl+C is taken at the step boundaries only: a save or restore under way finishes, then
//! tmpl exits 130. The guest is in the old state or the new one, never between; what a
//! `kill -9` cut short is finished or undone when the next session opens
//! (`Snapshots::recover`).

use super::open::Session;
use crate::driver::{no_guest, Snapshot, SnapshotNeeds, Snapshots, State};
use crate::error::{ExitStatus, Failure};
use crate::timing::Phases;
use crate::ui;
use anyhow::Result;
use std::time::Duration;

/// `pre-provision`, replaced before each provisioning run with `SNAPSHOT_BEFORE_PROVISION`.
pub const PRE_PROVISION: &str = "pre-provision";

/// How long a VM may take to shut down for a snapshot before it is forced off.
const SHUTDOWN: Duration = Duration::from_secs(120);

pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z' | '0'..='9'))
        && name.len() <= 64
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '.' | '_' | '-'))
}

fn check_name(name: &str) -> Result<()> {
    if valid_name(name) {
        return Ok(());
    }
    Err(Failure::config(format!("`{name}` is not a snapshot name"))
        .hint("a lowercase letter or digit, then up to 63 of `a-z`, `0-9`, `.`, `_`, `-`: e.g. `before-agent`")
        .into())
}

fn unknown(name: &str, have: &[Snapshot]) -> anyhow::Error {
    let list = if have.is_empty() {
        "the guest has no snapshots".to_owned()
    } else {
        let names: Vec<&str> = have.iter().map(|s| s.name.as_str()).collect();
        format!("its snapshots: {}", names.join(", "))
    };
    Failure::new(ExitStatus::Failure, format!("no snapshot `{name}`"))
        .detail(list)
        .hint("`tmpl snapshot list` shows them; `tmpl snapshot save NAME` takes one")
        .into()
}

impl Session<'_> {
    /// The guest's snapshots, or why it has none: its driver has no snapshots.
    fn snapshots(&self) -> Result<&dyn Snapshots> {
        self.guest.snapshots().ok_or_else(|| {
            Failure::new(
                ExitStatus::Failure,
                format!(
                    "snapshots are not supported for {} guests",
                    self.loaded.config.infra_type
                ),
            )
            .into()
        })
    }

    /// Finishes or undoes what a `kill -9` cut short, and says which.
    pub(super) fn recover(&self) -> Result<()> {
        if let Some(said) = self
            .guest
            .snapshots()
            .map(|s| s.recover())
            .transpose()?
            .flatten()
        {
            ui::warn(said);
        }
        Ok(())
    }

    pub fn snapshot_list(&self) -> Result<Vec<Snapshot>> {
        self.snapshots()?.list()
    }

    /// The guest must exist, and, for what brings it back, its settings must be approved.
    fn snapshot_start(&self, verb: &str, name: &str, applies_settings: bool) -> Result<()> {
        check_name(name)?;
        crate::interrupt::install();
        self.snapshots()?;
        if self.guest.live()?.state == State::NotCreated {
            return Err(no_guest(&self.loaded.id.name));
        }
        if applies_settings {
            // bringing a guest back applies the settings as they are now
            self.approve(verb, false)?;
        }
        Ok(())
    }

    /// `tmpl snapshot save NAME`. Returns the summary.
    pub fn snapshot_save(&self, name: &str) -> Result<String> {
        self.snapshot_start("snapshot save", name, true)?;
        let mut phases = Phases::new("snapshot");
        self.recorded(&mut phases, |phases| {
            self.save_snapshot(name, false, phases)?;
            Ok(((), "snapshot save".to_owned()))
        })?;
        crate::interrupt::check("taking the snapshot")?;
        Ok(phases.summary())
    }

    /// `tmpl snapshot restore NAME`. Returns the summary.
    pub fn snapshot_restore(&self, name: &str) -> Result<String> {
        self.snapshot_start("snapshot restore", name, true)?;
        let mut phases = Phases::new("snapshot");
        self.recorded(&mut phases, |phases| {
            self.restore_snapshot(name, phases)?;
            Ok(((), "snapshot restore".to_owned()))
        })?;
        crate::interrupt::check("taking the snapshot")?;
        Ok(phases.summary())
    }

    /// `tmpl snapshot delete NAME`.
    pub fn snapshot_delete(&self, name: &str) -> Result<()> {
        self.snapshot_start("snapshot delete", name, false)?;
        let snaps = self.snapshots()?;
        let have = snaps.list()?;
        if !have.iter().any(|s| s.name == name) {
            return Err(unknown(name, &have));
        }
        snaps.delete(name)
    }

    /// Runs `op` with the guest shut down if the driver needs it; returns whether the guest
    /// was running before.
    fn with_guest_still(
        &self,
        what: &str,
        phases: &mut Phases,
        op: impl FnOnce() -> Result<()>,
    ) -> Result<bool> {
        let live = self.guest.live()?;
        if live.state == State::NotCreated {
            return Err(no_guest(&self.loaded.id.name));
        }
        let running = live.state == State::Running;
        let shut = running && self.snapshots()?.snapshot_needs() == SnapshotNeeds::Shutdown;
        crate::interrupt::check(what)?;
        if shut {
            let id = &self.loaded.id;
            crate::ssh::Access::new(&id.slug, &id.state_dir).close_master();
            phases.run("stop", "shutting the guest down for the snapshot", || {
                self.guest
                    .stop(SHUTDOWN, &mut Phases::new("stop"))
                    .map(|_| ())
            })?;
        }
        phases.run("snapshot", what, op)?;
        Ok(running)
    }

    fn bring_back_unless_interrupted(&self, phases: &mut Phases) -> Result<()> {
        if crate::interrupt::interrupted() {
            ui::warn("interrupted: the guest stays stopped; `tmpl up` starts it");
            return Ok(());
        }
        self.bring_back(phases, false)
    }

    /// Saves snapshot `name`; `replace` overwrites one of that name (`pre-provision`).
    pub(super) fn save_snapshot(
        &self,
        name: &str,
        replace: bool,
        phases: &mut Phases,
    ) -> Result<()> {
        let snaps = self.snapshots()?;
        let what = format!("saving snapshot {name}");
        let was_running = self.with_guest_still(&what, phases, || snaps.save(name, replace))?;
        if was_running && snaps.snapshot_needs() == SnapshotNeeds::Shutdown {
            self.bring_back_unless_interrupted(phases)?;
        }
        ui::info(format!("saved snapshot {name} of {}", self.loaded.id.name));
        Ok(())
    }

    fn restore_snapshot(&self, name: &str, phases: &mut Phases) -> Result<()> {
        let snaps = self.snapshots()?;
        let have = snaps.list()?;
        if !have.iter().any(|s| s.name == name) {
            if self.guest.live()?.state == State::NotCreated {
                return Err(no_guest(&self.loaded.id.name));
            }
            return Err(unknown(name, &have));
        }
        let what = format!("restoring snapshot {name}");
        let was_running = self.with_guest_still(&what, phases, || snaps.restore(name))?;
        match self.guest.live()?.state {
            // a container comes back running: reach it as `up` does, at its new SSH port
            State::Running => self.bring_back(phases, true)?,
            _ if was_running => self.bring_back_unless_interrupted(phases)?,
            _ => {}
        }
        ui::info(format!(
            "{} is back as in snapshot {name}; the project folder was not rolled back",
            self.loaded.id.name
        ));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::valid_name;

    #[test]
    fn names_are_what_every_backend_can_carry() {
        for ok in ["before-agent", "0", "v1.2_rc", "pre-provision"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in [
            "",
            "-x",
            ".x",
            "Before",
            "a b",
            "a/b",
            "a:b",
            &"x".repeat(65),
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
