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
//! The record keeps tmpl's settings in clear and a hash of every other value (often a secret).

mod copy;
mod survey;

pub use survey::{set_root, settings, Set};

use crate::error::{ExitStatus, Failure};
use crate::project::Loaded;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub folder: PathBuf,
    pub settings: BTreeMap<String, String>,
    /// The provisioning set last approved (kept when only settings are approved).
    pub provision: Option<Set>,
}

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

/// `$XDG_STATE_HOME/tmpl/trust/<hash of the folder>/`.
pub fn dir(state_root: &Path, folder: &Path) -> PathBuf {
    let hex: String = Sha256::digest(folder.as_os_str().as_encoded_bytes())
        .iter()
        .take(12)
        .map(|b| format!("{b:02x}"))
        .collect();
    state_root.join("trust").join(hex)
}

fn record_path(state_root: &Path, folder: &Path) -> PathBuf {
    dir(state_root, folder).join("approval.json")
}

fn copy_dir(state_root: &Path, folder: &Path) -> PathBuf {
    dir(state_root, folder).join("provision")
}

pub fn load(state_root: &Path, folder: &Path) -> Option<Approval> {
    let text = std::fs::read_to_string(record_path(state_root, folder)).ok()?;
    serde_json::from_str::<Approval>(&text)
        .ok()
        .filter(|a| a.folder == folder)
}

/// What changed from `old` (none: a new folder) to the survey, one line each.
fn changes(old: Option<&Approval>, new: &survey::Survey) -> Vec<String> {
    let Some(old) = old else {
        return vec!["a new project folder: nothing of it has been approved on this host".into()];
    };
    let mut out = Vec::new();
    let shown = |k: &str, v: &str| {
        if crate::config::keys::is_tmpl_key(k) {
            format!("{k}={}", crate::text::redact_url(v))
        } else {
            k.to_owned()
        }
    };
    for (k, v) in &new.settings {
        match old.settings.get(k) {
            None => out.push(format!(".env: {} (new)", shown(k, v))),
            Some(o) if o != v && crate::config::keys::is_tmpl_key(k) => out.push(format!(
                ".env: {k}: {} -> {}",
                crate::text::redact_url(o),
                crate::text::redact_url(v)
            )),
            Some(o) if o != v => out.push(format!(".env: {k} (value changed)")),
            _ => {}
        }
    }
    for k in old
        .settings
        .keys()
        .filter(|k| !new.settings.contains_key(*k))
    {
        out.push(format!(".env: {k} (removed)"));
    }
    if let Some(set) = &new.provision {
        match &old.provision {
            Some(o) if o.script == set.script && o.root == set.root => {
                let file = |p: &Path| set.root.join(p).display().to_string();
                for (p, h) in &set.manifest {
                    match o.manifest.get(p) {
                        None => out.push(format!("{} (new)", file(p))),
                        Some(oh) if oh != h => out.push(format!("{} (changed)", file(p))),
                        _ => {}
                    }
                }
                for p in o.manifest.keys().filter(|p| !set.manifest.contains_key(*p)) {
                    out.push(format!("{} (removed)", file(p)));
                }
            }
            Some(o) => out.push(format!(
                "PROVISION_SCRIPT: {} -> {}",
                o.script.display(),
                set.script.display()
            )),
            None => out.push(format!(
                "provisioning with {} (not approved before)",
                set.script.display()
            )),
        }
    }
    out
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
    let folder = &loaded.project.dir;
    let old = load(state_root, folder);
    let now = survey::survey(loaded, with_provision, exposure)?;
    let same_settings = old.as_ref().is_some_and(|o| o.settings == now.settings);
    let same_set = match (
        &now.provision,
        old.as_ref().and_then(|o| o.provision.as_ref()),
    ) {
        (None, _) => true,
        (Some(n), Some(o)) => n == o,
        (Some(_), None) => false,
    };
    if same_settings && same_set {
        return approved(state_root, loaded, old.as_ref());
    }
    let staged = stage(state_root, loaded, now.provision.as_ref())?;
    // what is shown is what was copied: a file swapped since the survey shows up here
    let now = survey::Survey {
        provision: staged.as_ref().map(|(set, _)| set.clone()),
        ..now
    };
    let diff = changes(old.as_ref(), &now);
    if diff.is_empty() {
        return promote(state_root, loaded, old.as_ref(), &now, staged);
    }
    let place = folder.display();
    let interactive = crate::ui::interactive();
    if interactive {
        crate::ui::warn(format!("{place} needs your approval before `tmpl {verb}`:"));
        for d in diff.iter().chain(&now.notes) {
            crate::ui::raw_line(format!("  - {}", crate::text::terminal_safe(d)));
        }
        if crate::ui::confirm("Approve and go on?") {
            return promote(state_root, loaded, old.as_ref(), &now, staged);
        }
    }
    if let Some((_, tmp)) = staged {
        let _ = std::fs::remove_dir_all(tmp);
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
    for d in diff.iter().chain(if interactive {
        [].iter()
    } else {
        now.notes.iter()
    }) {
        f = f.detail(format!("- {}", crate::text::terminal_safe(d)));
    }
    Err(f
        .hint("review it, then `tmpl trust` approves the folder's settings and provisioning files")
        .into())
}

/// What `approve` approved: the changes (none: it was approved already) and what the
/// project runs and opens.
pub struct Approving {
    pub changes: Vec<String>,
    pub notes: Vec<String>,
}

/// Approves everything the project would do now (`tmpl trust`, `tmpl init`).
pub fn approve(state_root: &Path, loaded: &Loaded, exposure: &[String]) -> Result<Approving> {
    let old = load(state_root, &loaded.project.dir);
    let now = survey::survey(loaded, true, exposure)?;
    let staged = stage(state_root, loaded, now.provision.as_ref())?;
    let now = survey::Survey {
        provision: staged.as_ref().map(|(set, _)| set.clone()),
        ..now
    };
    let changes = changes(old.as_ref(), &now);
    promote(state_root, loaded, old.as_ref(), &now, staged)?;
    Ok(Approving {
        changes,
        notes: now.notes,
    })
}

/// Copies the provisioning set into a fresh folder next to the approved one.
fn stage(state_root: &Path, loaded: &Loaded, set: Option<&Set>) -> Result<Option<(Set, PathBuf)>> {
    let Some(set) = set else { return Ok(None) };
    let parent = dir(state_root, &loaded.project.dir);
    crate::ssh::private_dir(&parent)?;
    let tmp = parent.join(format!(".staging-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let manifest = copy::copy(&loaded.project.dir.join(&set.root), &tmp)?;
    Ok(Some((
        Set {
            manifest,
            ..set.clone()
        },
        tmp,
    )))
}

/// Records the approval, then puts the staged copy in place: the record always names bytes
/// that are there to run.
fn promote(
    state_root: &Path,
    loaded: &Loaded,
    old: Option<&Approval>,
    now: &survey::Survey,
    staged: Option<(Set, PathBuf)>,
) -> Result<Approved> {
    let folder = &loaded.project.dir;
    let record = Approval {
        folder: folder.clone(),
        settings: now.settings.clone(),
        provision: match &staged {
            Some((set, _)) => Some(set.clone()),
            None => old.and_then(|o| o.provision.clone()),
        },
    };
    if let Some((_, tmp)) = &staged {
        let target = copy_dir(state_root, folder);
        let _ = std::fs::remove_dir_all(&target);
        std::fs::rename(tmp, &target)?;
    }
    let text = serde_json::to_string_pretty(&record)?;
    crate::atomic::write(&record_path(state_root, folder), text.as_bytes(), 0o600)?;
    approved(state_root, loaded, Some(&record))
}

/// Where the approved provisioning runs from; the copy is checked against the record, and
/// made again from the project if it went missing and the project still matches.
fn approved(state_root: &Path, loaded: &Loaded, record: Option<&Approval>) -> Result<Approved> {
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
    if copy::manifest(&copy).ok().as_ref() != Some(&set.manifest) {
        let _ = std::fs::remove_dir_all(&copy);
        let made = copy::copy(&loaded.project.dir.join(&set.root), &copy)?;
        if made != set.manifest {
            let _ = std::fs::remove_dir_all(&copy);
            return Err(Failure::new(
                ExitStatus::Untrusted,
                "the approved copy of the provisioning files is gone, and the project's files no longer match it",
            )
            .hint("`tmpl trust` approves the files as they are now")
            .into());
        }
    }
    Ok(Approved {
        script: Some(Copied {
            script: set.script_in(&copy),
            dir: copy,
            root: set.root.clone(),
        }),
    })
}

/// Forgets approvals whose folder is gone (for `gc`).
pub fn stale(state_root: &Path) -> Vec<(PathBuf, PathBuf)> {
    std::fs::read_dir(state_root.join("trust"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let text = std::fs::read_to_string(e.path().join("approval.json")).ok()?;
            let a: Approval = serde_json::from_str(&text).ok()?;
            crate::gone::gone(&a.folder).then(|| (e.path(), a.folder))
        })
        .collect()
}

#[cfg(test)]
mod tests;
