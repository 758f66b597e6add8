//! A VM's snapshots: libvirt's internal snapshots of the shut-off domain, named `tmpl-<name>`.
//!
//! libvirt refuses a snapshot with memory state of a domain whose folder is shared over
//! virtiofs (vhost-user-fs cannot be migrated), so such a VM is shut down first and brought
//! back afterwards (see `commands::snapshot`): what lived only in memory (running processes,
//! tmux sessions) is lost. A VM without the share (`SYNC=none`) is snapshotted running, with
//! its memory, and a restore puts it back running as it was. Each disk's snapshot lives
//! inside its own qcow2 file, so it goes with the domain's disks.
//!
//! Vagrant's own `vagrant snapshot` (through `tmpl vagrant --`) uses libvirt's snapshots too,
//! under the names it is given; tmpl lists and touches only those named `tmpl-*`.

use super::virsh::virsh;
use super::vm::Vagrant;
use crate::driver::{Snapshot, SnapshotNeeds, Snapshots};
use anyhow::Result;

const PREFIX: &str = "tmpl-";

/// Every snapshot of a domain, tmpl's or not, by libvirt's name.
pub fn all_of(domain: &str) -> Result<Vec<String>> {
    let out = virsh().args(["snapshot-list", domain, "--name"]).read()?;
    Ok(out
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect())
}

/// Removes every snapshot of a domain (libvirt will not undefine a domain that has some).
pub fn delete_all(domain: &str) -> Result<usize> {
    let names = all_of(domain)?;
    for n in &names {
        virsh().args(["snapshot-delete", domain, n]).read()?;
    }
    Ok(names.len())
}

/// `virsh snapshot-list` rows: name, creation time (date, time, offset), state.
pub fn parse_list(text: &str) -> Vec<(String, jiff::Timestamp)> {
    text.lines()
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            let name = cols.first()?.strip_prefix(PREFIX)?;
            let when = cols.get(1..4)?.join(" ");
            // virsh always prints this form; a time it cannot read must not hide the snapshot
            let created = jiff::fmt::strtime::parse("%Y-%m-%d %H:%M:%S %z", &when)
                .and_then(|t| t.to_timestamp())
                .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
            Some((name.to_owned(), created))
        })
        .collect()
}

/// A VM sharing its folder over virtiofs must be shut down (libvirt refuses a snapshot with
/// memory of it); one without is snapshotted running, memory and all, as `vagrant snapshot`
/// does.
impl Snapshots for Vagrant {
    fn snapshot_needs(&self) -> SnapshotNeeds {
        if self.plan.context.sync.is_some() {
            SnapshotNeeds::Shutdown
        } else {
            SnapshotNeeds::Nothing
        }
    }

    fn list(&self) -> Result<Vec<Snapshot>> {
        if super::virsh::domain(&self.plan.domain)?.is_none() {
            return Ok(Vec::new());
        }
        let out = virsh().args(["snapshot-list", &self.plan.domain]).read()?;
        Ok(parse_list(&out)
            .into_iter()
            .map(|(name, created)| Snapshot {
                name,
                created,
                size_bytes: None,
            })
            .collect())
    }

    fn save(&self, name: &str, replace: bool) -> Result<()> {
        let full = format!("{PREFIX}{name}");
        if replace && all_of(&self.plan.domain)?.contains(&full) {
            virsh()
                .args(["snapshot-delete", &self.plan.domain, &full])
                .read()?;
        }
        virsh()
            .args(["snapshot-create-as", &self.plan.domain, &full])
            .args(["--description", "taken by tmpl snapshot save"])
            .read()?;
        Ok(())
    }

    fn restore(&self, name: &str) -> Result<()> {
        virsh()
            .args([
                "snapshot-revert",
                &self.plan.domain,
                &format!("{PREFIX}{name}"),
            ])
            .read()?;
        Ok(())
    }

    fn delete(&self, name: &str) -> Result<()> {
        virsh()
            .args([
                "snapshot-delete",
                &self.plan.domain,
                &format!("{PREFIX}{name}"),
            ])
            .read()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_only_tmpls_snapshots() {
        let text = " tmpl-before-agent   2026-12-02 04:10:00 +0000   shutoff\n \
                    tmpl-later          2026-12-02 05:11:00 +0100   shutoff\n \
                    vagrant-s1          2026-12-02 04:11:00 +0000   running\n";
        let listed: Vec<(String, String)> = parse_list(text)
            .into_iter()
            .map(|(n, t)| (n, t.to_string()))
            .collect();
        assert_eq!(
            listed,
            [
                ("before-agent".to_owned(), "2026-12-02T04:10:00Z".to_owned()),
                ("later".to_owned(), "2026-12-02T04:11:00Z".to_owned()),
            ]
        );
    }
}
