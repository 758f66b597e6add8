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
//! A failure is exit 10 (`code::PROVISION_FAILED`), names the failing task or script line,
//! and leaves the guest running for inspection: nothing is rolled back.

pub mod ansible;
pub mod script;
pub mod yaml;

use crate::config::{Provision, ProvisionKind};
use crate::context::Loaded;
use crate::error::Failure;
use crate::ssh::{Access, Endpoint};
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
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

/// What `up` was asked to do about provisioning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Only when the guest has not been provisioned successfully yet.
    Needed,
    /// `--provision`.
    Always,
    /// `--no-provision`.
    Never,
}

/// Why provisioning runs, shown on the progress line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Forced,
    FirstUp,
    LastFailed,
    Unfinished,
}

impl Reason {
    pub fn note(self) -> &'static str {
        match self {
            Reason::Forced | Reason::FirstUp => "",
            Reason::LastFailed => " (the last run failed)",
            Reason::Unfinished => " (the last run did not finish)",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Written before a run starts: a run killed half-way is retried by the next `up`.
    Running,
    Succeeded,
    Failed,
}

/// The outcome of the last run on the current guest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub status: Status,
    /// `PROVISION_SCRIPT` as written in `.env`.
    pub script: String,
    /// Unix seconds when the run started.
    pub started: u64,
    pub duration_ms: u64,
}

pub fn record_path(state_dir: &Path) -> PathBuf {
    state_dir.join("provision").join("last.json")
}

/// The last run's record; an unreadable one counts as none (the guest is provisioned again).
pub fn last(state_dir: &Path) -> Option<Record> {
    let text = std::fs::read_to_string(record_path(state_dir)).ok()?;
    serde_json::from_str(&text).ok()
}

/// A new guest: whatever was recorded was about another one.
pub fn forget(state_dir: &Path) -> Result<()> {
    match std::fs::remove_file(record_path(state_dir)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}

fn save(state_dir: &Path, r: &Record) -> Result<()> {
    let text = serde_json::to_string_pretty(r)?;
    crate::state::write_atomic(&record_path(state_dir), text.as_bytes(), 0o600)
}

/// Whether `up` provisions, and why.
pub fn decide(when: When, last: Option<&Record>) -> Option<Reason> {
    match (when, last.map(|r| r.status)) {
        (When::Never, _) => None,
        (When::Always, _) => Some(Reason::Forced),
        (When::Needed, None) => Some(Reason::FirstUp),
        (When::Needed, Some(Status::Failed)) => Some(Reason::LastFailed),
        (When::Needed, Some(Status::Running)) => Some(Reason::Unfinished),
        (When::Needed, Some(Status::Succeeded)) => None,
    }
}

/// Runs the provisioning step, recording its outcome.
pub fn run(t: &Target, p: &Provision) -> Result<()> {
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
    save(state, &record)?;
    let clock = Instant::now();
    let result = match p.kind {
        ProvisionKind::Ansible => ansible::run(t, p),
        ProvisionKind::Script => script::run(t, p),
    };
    record.status = if result.is_ok() {
        Status::Succeeded
    } else {
        Status::Failed
    };
    record.duration_ms = clock.elapsed().as_millis() as u64;
    save(state, &record)?;
    result
}

/// The progress line: `provisioning with provision.yml (ansible-playbook)`.
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

/// A loaded project and a target for unit tests, without any guest.
#[cfg(test)]
pub mod testing {
    use super::*;
    use crate::config::{validate, EnvFile};
    use crate::project::{identity, Dirs, Project};

    pub struct Fixture {
        pub dir: tempfile::TempDir,
        pub loaded: Loaded,
        pub access: Access,
        pub endpoint: Endpoint,
    }

    impl Fixture {
        pub fn new(env: &str, user: &str) -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let env_path = dir.path().join(".env");
            let env = EnvFile::parse(&env_path, env);
            let (config, report) = validate(&env, dir.path(), false).unwrap();
            let dirs = Dirs {
                home: None,
                cache: dir.path().join("cache"),
                state: dir.path().join("state"),
                config: dir.path().join("config"),
            };
            let id = identity(dir.path(), config.name.as_deref(), &dirs);
            let access = Access::new(&id.slug, &id.state_dir);
            let endpoint = Endpoint {
                host: "127.0.0.1".into(),
                port: 2222,
                user: user.into(),
                identity: access.key(),
            };
            let loaded = Loaded {
                project: Project {
                    dir: dir.path().to_owned(),
                    env_path,
                    env,
                },
                config,
                id,
                warnings: report.warnings,
            };
            Fixture {
                dir,
                loaded,
                access,
                endpoint,
            }
        }
        pub fn target(&self) -> Target<'_> {
            Target {
                loaded: &self.loaded,
                access: &self.access,
                endpoint: &self.endpoint,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(status: Status) -> Record {
        Record {
            status,
            script: "p.yml".into(),
            started: 1,
            duration_ms: 2,
        }
    }

    #[test]
    fn up_provisions_until_a_run_succeeds() {
        assert_eq!(decide(When::Needed, None), Some(Reason::FirstUp));
        let failed = rec(Status::Failed);
        assert_eq!(
            decide(When::Needed, Some(&failed)),
            Some(Reason::LastFailed)
        );
        let unfinished = rec(Status::Running);
        assert_eq!(
            decide(When::Needed, Some(&unfinished)),
            Some(Reason::Unfinished)
        );
        let ok = rec(Status::Succeeded);
        assert_eq!(decide(When::Needed, Some(&ok)), None);
        assert_eq!(decide(When::Always, Some(&ok)), Some(Reason::Forced));
        assert_eq!(decide(When::Never, None), None);
        assert_eq!(decide(When::Never, Some(&failed)), None);
    }

    #[test]
    fn the_record_round_trips_and_a_new_guest_forgets_it() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(last(dir.path()), None);
        forget(dir.path()).unwrap();
        save(dir.path(), &rec(Status::Failed)).unwrap();
        assert_eq!(last(dir.path()), Some(rec(Status::Failed)));
        std::fs::write(record_path(dir.path()), "{not json").unwrap();
        assert_eq!(
            last(dir.path()),
            None,
            "a damaged record means: provision again"
        );
        forget(dir.path()).unwrap();
        assert!(!record_path(dir.path()).exists());
    }

    #[test]
    fn long_detail_lines_are_cut() {
        let long = "é".repeat(400);
        let out = detail_lines([long.as_str(), "short"]);
        assert_eq!(out[0].chars().count(), 301);
        assert_eq!(out[1], "short");
    }
}
