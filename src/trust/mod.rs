//! Approval of what a project folder makes tmpl do on this host.
//!
//! With the project folder shared, the agent in the guest (root there) can write every file
//! in it: `.env`, the playbook, anything Ansible loads next to the playbook. A playbook runs
//! on the host, and settings can open the guest to the network. So nothing of a folder runs
//! until its owner approved it, and what runs is exactly what was approved:
//!
//! - **Keyed on the folder.** The record lives under `$XDG_STATE_HOME/tmpl/trust/`, named by
//!   a hash of the canonical project folder, so renaming the project (`NAME`) or nesting a new
//!   `.env` in a subfolder is a change like any other, and a folder with no record is new.
//! - **Asked, or refused.** A new or changed folder shows what it will run and open; on a
//!   terminal tmpl asks, without one it refuses with exit 77 until `tmpl trust`.
//! - **The approved bytes run.** Approval copies the provisioning set (see `survey`) into
//!   tmpl's own state, out of the guest's reach, and provisioning runs from that copy. The
//!   record is written before anything runs, from the copy's own hashes.
//!
//! - **Shown truthfully.** Every line is escaped, and every file that is new or changed is
//!   shown by name and content (see `show`); what was not shown is not approved.
//! - **Read once.** The set is read in one pass beneath its folder, race-free (`beneath`);
//!   the bytes read are the bytes shown, recorded, copied and run.
//! - **Nothing from tmpl's environment unnamed.** A `$VAR` takes the environment only where
//!   the record grants that key that variable (`record`), which an approval shows by name.

mod beneath;
mod copy;
mod record;
mod show;
mod survey;

pub use record::{dir, granted, load, stale, Approval};
pub use show::Length;
pub use survey::{set_root, settings, Set};

use crate::error::{ExitStatus, Failure};
use crate::project::Loaded;
use anyhow::Result;
use beneath::Files;
use record::{copy_dir, record_path};
use std::path::{Path, PathBuf};

/// What the approved provisioning runs from.
#[derive(Debug, Clone)]
pub struct Approved {
    pub script: Option<Copied>,
}

/// The approved copy of the provisioning set.
#[derive(Debug, Clone)]
pub struct Copied {
    /// The copy of `PROVISION_SCRIPT`.
    pub script: PathBuf,
    /// The folder the set was copied into (a playbook's whole folder).
    pub dir: PathBuf,
    /// What was copied, relative to the project, for messages.
    pub root: PathBuf,
}

/// Makes sure what tmpl is about to do was approved; asks on a terminal, refuses otherwise.
/// `with_provision`: provisioning will run, so its set must be approved too.
/// `exposure`: what the settings make the host hand the guest, in the driver's words.
pub fn ensure(
    state_root: &Path,
    loaded: &Loaded,
    verb: &str,
    with_provision: bool,
    exposure: &[String],
) -> Result<Approved> {
    let old = load(state_root, &loaded.project.dir);
    let now = survey::survey(loaded, with_provision, exposure)?;
    let same_settings = old
        .as_ref()
        .is_some_and(|o| o.settings == now.settings && o.environment == now.environment);
    let same_set = match (
        &now.provision,
        old.as_ref().and_then(|o| o.provision.as_ref()),
    ) {
        (None, _) => true,
        (Some(n), Some(o)) => n == o,
        (Some(_), None) => false,
    };
    if same_settings && same_set && !now.ungranted {
        return approved(state_root, loaded, old.as_ref(), now.files.as_ref());
    }
    decide(state_root, loaded, verb, old, now, Length::Screen).map(|(a, _)| a)
}

/// Shows what approving would approve, every line of every file (`tmpl trust --diff`), and
/// at a terminal asks; approves exactly what it showed.
pub fn review(state_root: &Path, loaded: &Loaded, exposure: &[String]) -> Result<Approving> {
    let old = load(state_root, &loaded.project.dir);
    let now = survey::survey(loaded, true, exposure)?;
    let notes = now.notes.clone();
    let (_, changes) = decide(state_root, loaded, "trust", old, now, Length::Full)?;
    Ok(Approving { changes, notes })
}

/// Shows the changes, asks at a terminal, and approves them or refuses.
fn decide(
    state_root: &Path,
    loaded: &Loaded,
    verb: &str,
    old: Option<Approval>,
    now: survey::Survey,
    length: Length,
) -> Result<(Approved, Vec<String>)> {
    let folder = &loaded.project.dir;
    let old_files = approved_files(state_root, folder, now.files.is_some());
    let list = show::lines(&show::changes(
        old.as_ref(),
        &now,
        &loaded.project.env,
        old_files.as_ref(),
        length,
    ));
    if list.is_empty() && !now.ungranted {
        let a = promote(state_root, loaded, old.as_ref(), &now)?;
        return Ok((a, list));
    }
    let place = crate::text::visible(&folder.display().to_string());
    // values read without a `$VAR` that was not granted are not what the file says: only
    // `tmpl trust`, which reads them with it and shows them, can approve that
    let interactive = crate::ui::interactive() && !now.ungranted;
    if interactive {
        crate::ui::warn(format!("{place} needs your approval before `tmpl {verb}`:"));
        for l in &list {
            crate::ui::raw_line(format!("  {l}"));
        }
        for n in &now.notes {
            crate::ui::raw_line(format!("  - {n}"));
        }
        if crate::ui::confirm("Approve and go on?") {
            let a = promote(state_root, loaded, old.as_ref(), &now)?;
            return Ok((a, list));
        }
    }
    let what = if old.is_none() {
        format!("{place} has not been approved on this host")
    } else {
        format!("{place} changed since it was approved")
    };
    let mut f = Failure::new(
        ExitStatus::Untrusted,
        format!("not running `tmpl {verb}`: {what}"),
    );
    for l in &list {
        f = f.detail(l.clone());
    }
    if !interactive {
        for n in &now.notes {
            f = f.detail(format!("- {n}"));
        }
    }
    let hint = if now.ungranted {
        "`tmpl trust` shows the values `.env` takes from tmpl's environment, and approves the folder with them"
    } else {
        "review it, then `tmpl trust` approves the folder's settings and provisioning files (`tmpl trust --diff` shows every line first)"
    };
    Err(f.hint(hint).into())
}

/// The approved copy's files, to show a diff against (when there is a set to show).
fn approved_files(state_root: &Path, folder: &Path, wanted: bool) -> Option<Files> {
    let copy = copy_dir(state_root, folder);
    (wanted && copy.is_dir())
        .then(|| beneath::read_tree(&copy).ok())
        .flatten()
}

/// What `approve` approved: the changes (none: it was approved already) and what the
/// project runs and opens, each an escaped line.
pub struct Approving {
    pub changes: Vec<String>,
    pub notes: Vec<String>,
}

/// Approves everything the project would do now (`tmpl trust`, `tmpl init`), and says what.
pub fn approve(state_root: &Path, loaded: &Loaded, exposure: &[String]) -> Result<Approving> {
    let old = load(state_root, &loaded.project.dir);
    let now = survey::survey(loaded, true, exposure)?;
    let old_files = approved_files(state_root, &loaded.project.dir, now.files.is_some());
    let changes = show::lines(&show::changes(
        old.as_ref(),
        &now,
        &loaded.project.env,
        old_files.as_ref(),
        Length::Screen,
    ));
    promote(state_root, loaded, old.as_ref(), &now)?;
    Ok(Approving {
        changes,
        notes: now.notes,
    })
}

/// Puts the files read into the approved copy, then records the approval: the record always
/// names bytes that are there to run.
fn promote(
    state_root: &Path,
    loaded: &Loaded,
    old: Option<&Approval>,
    now: &survey::Survey,
) -> Result<Approved> {
    let folder = &loaded.project.dir;
    let record = Approval {
        folder: folder.clone(),
        settings: now.settings.clone(),
        environment: now.environment.clone(),
        provision: match &now.provision {
            Some(set) => Some(set.clone()),
            None => old.and_then(|o| o.provision.clone()),
        },
    };
    if let Some(files) = &now.files {
        let parent = dir(state_root, folder);
        crate::ssh::private_dir(&parent)?;
        let tmp = parent.join(format!(".staging-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        copy::write(files, &tmp)?;
        let target = copy_dir(state_root, folder);
        let _ = std::fs::remove_dir_all(&target);
        std::fs::rename(&tmp, &target)?;
    }
    let text = serde_json::to_string_pretty(&record)?;
    crate::atomic::write(&record_path(state_root, folder), text.as_bytes(), 0o600)?;
    approved(state_root, loaded, Some(&record), now.files.as_ref())
}

/// Where the approved provisioning runs from; the copy is checked against the record, and
/// made again from the files read now (or the project's) if it went missing and they still
/// match.
fn approved(
    state_root: &Path,
    loaded: &Loaded,
    record: Option<&Approval>,
    read: Option<&Files>,
) -> Result<Approved> {
    let Some(p) = &loaded.config.provision else {
        return Ok(Approved { script: None });
    };
    let Some(set) = record
        .and_then(|r| r.provision.as_ref())
        .filter(|s| s.script == p.relative)
    else {
        return Ok(Approved { script: None });
    };
    let copy = copy_dir(state_root, &loaded.project.dir);
    let intact = beneath::read_tree(&copy).map(|f| copy::manifest(&f));
    if intact.ok().as_ref() != Some(&set.manifest) {
        let _ = std::fs::remove_dir_all(&copy);
        let files = match read {
            Some(f) => f.clone(),
            None => beneath::read_set(&loaded.project.dir, &set.root)?,
        };
        if copy::manifest(&files) != set.manifest {
            return Err(Failure::new(
                ExitStatus::Untrusted,
                "the approved copy of the provisioning files is gone, and the project's files no longer match it",
            )
            .hint("`tmpl trust` approves the files as they are now")
            .into());
        }
        copy::write(&files, &copy)?;
    }
    Ok(Approved {
        script: Some(Copied {
            script: set.script_in(&copy),
            dir: copy,
            root: set.root.clone(),
        }),
    })
}

#[cfg(test)]
mod tests;
