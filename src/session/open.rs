//! A session: one project's guest, opened for an operation, holding the project's lock; and
//! what every operation shares (recording how it ended, approval, the tool underneath).

use crate::driver::{Connect, Driver, Guest, Registry};
use crate::lock::Lock;
use crate::project::{Dirs, Loaded};
use crate::timing::Phases;
use anyhow::Result;

/// One project's guest, opened for an operation.
pub struct Session<'a> {
    pub(super) loaded: &'a Loaded,
    pub(super) dirs: &'a Dirs,
    pub(super) driver: &'a dyn Driver,
    pub(super) guest: Box<dyn Guest>,
    /// Held while the session lives: one operation at a time per project.
    pub(super) lock: Option<Lock>,
}

impl<'a> Session<'a> {
    /// Opens the guest to act on it: takes the project's lock (waiting with `wait`), and
    /// finishes or undoes what an interrupted snapshot restore left.
    pub fn open(
        loaded: &'a Loaded,
        dirs: &'a Dirs,
        registry: &'a Registry,
        wait: bool,
    ) -> Result<Session<'a>> {
        let lock = Lock::acquire(
            &dirs.state,
            &loaded.id.slug,
            &format!("project {}", loaded.id.name),
            wait,
        )?;
        let driver = registry.of(loaded)?;
        let guest = driver.open(loaded, dirs, Connect::MayStart)?;
        let session = Session {
            loaded,
            dirs,
            driver,
            guest,
            lock: Some(lock),
        };
        session.recover()?;
        Ok(session)
    }

    /// Opens the guest to look at it: no lock, and no service is started to answer.
    pub fn look(loaded: &'a Loaded, dirs: &'a Dirs, registry: &'a Registry) -> Result<Session<'a>> {
        let driver = registry.of(loaded)?;
        let guest = driver.open(loaded, dirs, Connect::Only)?;
        Ok(Session {
            loaded,
            dirs,
            driver,
            guest,
            lock: None,
        })
    }

    pub fn guest(&self) -> &dyn Guest {
        self.guest.as_ref()
    }

    pub fn driver(&self) -> &dyn Driver {
        self.driver
    }

    /// Runs an operation's steps and records how it ended, once: `outcome` names a success
    /// (`created`, `stopped`), a failure says where it stopped and whether it was interrupted.
    pub(super) fn recorded<T>(
        &self,
        phases: &mut Phases,
        steps: impl FnOnce(&mut Phases) -> Result<(T, String)>,
    ) -> Result<T> {
        let id = &self.loaded.id;
        let infra = &self.loaded.config.infra_type;
        match steps(phases) {
            Ok((value, outcome)) => {
                phases.record(&self.dirs.state, &id.slug, infra, &outcome);
                Ok(value)
            }
            Err(e) => Err(phases.record_error(&self.dirs.state, &id.slug, infra, e)),
        }
    }

    /// Makes sure the settings (and, `with_provision`, the provisioning files) tmpl is about
    /// to act on were approved; asks at a terminal, refuses otherwise.
    pub(super) fn approve(
        &self,
        verb: &str,
        with_provision: bool,
    ) -> Result<crate::trust::Approved> {
        let notes = self.driver.exposure(self.loaded, self.dirs.home.as_deref());
        crate::trust::ensure(&self.dirs.state, self.loaded, verb, with_provision, &notes)
    }

    /// Runs the tool underneath (`tmpl vagrant -- ARGS`) with the settings as approved: the
    /// tool applies what its configuration says. Returns its exit code.
    pub fn tool(&self, args: &[String]) -> Result<i32> {
        let tool = self.driver.tool(self.loaded, self.dirs).ok_or_else(|| {
            anyhow::anyhow!("{} guests have no tool underneath", self.driver.noun())
        })?;
        self.approve(tool.command(), false)?;
        tool.run(args)
    }
}

/// Approves everything the project would do now (`tmpl trust`, `tmpl init`): its settings,
/// what they make the host hand the guest, and the provisioning files.
pub fn trust(loaded: &Loaded, dirs: &Dirs, registry: &Registry) -> Result<crate::trust::Approving> {
    let notes = registry.of(loaded)?.exposure(loaded, dirs.home.as_deref());
    crate::trust::approve(&dirs.state, loaded, &notes)
}

/// Shows every line of what approving would approve, and asks (`tmpl trust --diff`).
pub fn review(
    loaded: &Loaded,
    dirs: &Dirs,
    registry: &Registry,
) -> Result<crate::trust::Approving> {
    let notes = registry.of(loaded)?.exposure(loaded, dirs.home.as_deref());
    crate::trust::review(&dirs.state, loaded, &notes)
}
