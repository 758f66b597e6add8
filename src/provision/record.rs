//! The outcome of the last provisioning run of a guest, in `<state>/provision/last.json`
//! (written atomically), and what `up` decides from it.

use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

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

pub(super) fn save(state_dir: &Path, r: &Record) -> Result<()> {
    let text = serde_json::to_string_pretty(r)?;
    crate::atomic::write(&record_path(state_dir), text.as_bytes(), 0o600)
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
}
