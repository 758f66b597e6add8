//! Provisioning: setting a guest up from `PROVISION_SCRIPT` once it answers SSH, the same way
//! for VMs and containers. A playbook runs on the host (`ansible`), anything else runs in the
//! guest as root (`script`).
//!
//! When: like Vagrant, on the first successful `up` of a guest, and again on the next `up`
//! while the last run failed or never finished. tmpl keeps the outcome of the last run in
//! `<state>/provision/last.json`; a newly created guest drops the record first, so it is
//! provisioned even if an old guest of the same project was. `up --provision` forces a run,
//! `up --no-provision` skips it, `tmpl provision` reruns it on a running guest.
//!
//! A failure is exit 10 (`ExitStatus::ProvisionFailed`), names the failing task or script line,
//! and leaves the guest running for inspection: nothing is rolled back.

pub mod ansible;
mod record;
pub mod script;
#[cfg(test)]
pub mod testing;
mod watch;
pub mod yaml;

pub use record::{decide, forget, last, record_path, Reason, Record, Status, When};

use crate::config::{Provision, ProvisionKind};
use crate::error::Failure;
use crate::project::Loaded;
use crate::ssh::{Access, Endpoint};
use anyhow::Result;
use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// A guest to provision: the project, and how to reach the guest.
pub struct Target<'a> {
    pub loaded: &'a Loaded,
    pub access: &'a Access,
    pub endpoint: &'a Endpoint,
}

impl Target<'_> {
    /// `<state>/provision/` (mode 0700): the inventory, the vars file, the record.
    pub fn work_dir(&self) -> Result<PathBuf> {
        let dir = self.loaded.id.state_dir.join("provision");
        crate::ssh::private_dir(&dir)?;
        Ok(dir)
    }

    /// The environment of host-side steps (`ansible-playbook` and what it runs locally), so
    /// a playbook can fetch files into the project and an installer can target the guest.
    pub fn host_env(&self) -> Vec<(&'static str, String)> {
        let e = self.endpoint;
        let l = self.loaded;
        vec![
            ("TMPL_SSH_HOST", e.host.clone()),
            ("TMPL_SSH_PORT", e.port.to_string()),
            ("TMPL_SSH_USER", e.user.clone()),
            ("TMPL_SSH_KEY", e.identity.display().to_string()),
            (
                "TMPL_SSH_CONFIG",
                self.access.config().display().to_string(),
            ),
            ("TMPL_SSH_ALIAS", self.access.alias.clone()),
            ("TMPL_PROJECT_DIR", l.project.dir.display().to_string()),
            ("TMPL_PROJECT", l.id.name.clone()),
            ("TMPL_INFRA_TYPE", l.config.infra_type.to_string()),
        ]
    }
}

/// Runs the provisioning step from its approved copy (see `trust`), recording its outcome.
pub fn run(t: &Target, p: &Provision, approved: &crate::trust::Approved) -> Result<()> {
    let Some(run) = &approved.script else {
        return Err(Failure::new(
            crate::error::ExitStatus::Untrusted,
            format!("`{}` has not been approved to run", p.relative.display()),
        )
        .hint("`tmpl trust` approves the project's provisioning files")
        .into());
    };
    let state = &t.loaded.id.state_dir;
    let started = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut record = Record {
        status: Status::Running,
        script: p.relative.display().to_string(),
        started,
        duration_ms: 0,
    };
    record::save(state, &record)?;
    let clock = Instant::now();
    let mut result = match p.kind {
        ProvisionKind::Ansible => ansible::run(t, p, run),
        ProvisionKind::Script => script::run(t, p, run),
    };
    // Ctrl+C reached the playbook or script too: say so (exit 130), not "task X failed".
    if result.is_err() && crate::interrupt::interrupted() {
        result = Err(crate::interrupt::failure("provisioning").into());
    }
    record.status = if result.is_ok() {
        Status::Succeeded
    } else {
        Status::Failed
    };
    record.duration_ms = clock.elapsed().as_millis() as u64;
    record::save(state, &record)?;
    result
}

/// The progress line: `provisioning with provision.yml (ansible-playbook on the host)`.
pub fn label(p: &Provision, reason: Option<Reason>) -> String {
    let how = match p.kind {
        ProvisionKind::Ansible => "ansible-playbook on the host",
        ProvisionKind::Script => "run as root in the guest",
    };
    format!(
        "provisioning with {} ({how}){}",
        p.relative.display(),
        reason.map_or("", Reason::note)
    )
}

/// Every provisioning failure ends the same way: what is left, and how to go on.
pub fn left_running(f: Failure) -> Failure {
    f.hint("the guest is left running: `tmpl ssh` to look inside; after a fix, `tmpl provision` runs provisioning again (so does the next `tmpl up`)")
}

/// Lines for a failure's details, each cut to a readable length.
pub fn detail_lines<I: IntoIterator<Item = S>, S: AsRef<str>>(lines: I) -> Vec<String> {
    const MAX: usize = 300;
    lines
        .into_iter()
        .map(|l| {
            let l = l.as_ref();
            match l.char_indices().nth(MAX) {
                Some((i, _)) => format!("{}…", &l[..i]),
                None => l.to_owned(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_detail_lines_are_cut() {
        let long = "é".repeat(400);
        let out = detail_lines([long.as_str(), "short"]);
        assert_eq!(out[0].chars().count(), 301);
        assert_eq!(out[1], "short");
    }
}
