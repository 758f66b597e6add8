//! The project folder's file server in a guest's life: served before the guest runs (so the
//! guest never sees the folder but through it), its own git repository seeded and brought up
//! to date first, stopped after the guest stops.

use super::open::Session;
use crate::share::config::Config;
use crate::share::daemon::{Share, Started};
use crate::share::repo;
use crate::timing::Phases;
use anyhow::Result;

impl Session<'_> {
    fn share(&self) -> Share {
        Share::new(&self.loaded.id.state_dir)
    }

    /// The guest's own git repository, where the server shows it as `.git`.
    pub(super) fn gitdir(&self) -> std::path::PathBuf {
        repo::gitdir(&self.loaded.id.state_dir)
    }

    /// Serves the project folder for the guest (or stops serving it with `SYNC=none`).
    /// Returns what it did: a server replaced under a running guest leaves it with a mount
    /// that is gone.
    pub(super) fn serve_folder(&self, phases: &mut Phases) -> Result<Option<Started>> {
        let c = &self.loaded.config;
        let Some(sync) = &c.sync else {
            self.share().stop()?;
            return Ok(None);
        };
        let gitdir = self.gitdir();
        repo::seed(&self.loaded.project.dir, &gitdir)?;
        repo::refresh(&self.loaded.project.dir, &gitdir)?;
        let config = Config {
            source: sync.host_path.clone(),
            gitdir,
            mountpoint: self.share().mountpoint(),
            readonly: sync.mode == crate::config::SyncMode::Ro,
            protect: c.protect.clone(),
            allow_other: true,
        };
        let started = phases.run("share", "serving the project folder", || {
            self.share()
                .ensure(&config, &|cmd| self.driver.share_enter(cmd))
        })?;
        Ok(Some(started))
    }

    /// Stops the project folder's server, after the guest.
    pub(super) fn stop_serving(&self) -> Result<bool> {
        self.share().stop()
    }
}
