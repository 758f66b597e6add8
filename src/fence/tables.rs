//! The fence's nftables tables on the host (or in a person's namespace): their names, who
//! may write them, writing them only when their rules changed, and finding those whose
//! project is gone.

use super::net::{self, GuestNet};
use super::place::Holder;
use super::rules::{self, Policy};
use crate::error::{ExitStatus, Failure};
use anyhow::Result;
use std::path::Path;

const TABLE_PREFIX: &str = "tmpl-";
pub(super) const COMMENT_PREFIX: &str = "tmpl fence of ";
pub fn table_name(slug: &str) -> String {
    format!("{TABLE_PREFIX}{}", net::hash8(slug))
}

/// Whether this host can hold a fence in `holder` (see `Driver::fence_holder`), and why not.
pub fn can_enforce(holder: Holder) -> Result<String, (String, String)> {
    if let Some(k) = holder.keeper() {
        return k.ready();
    }
    may_enforce(holder)?;
    if !holder.present() {
        return Ok(holder.absent_note().into());
    }
    match holder.nft().args(["list", "tables"]).output() {
        Ok(o) if o.success() => Ok(format!(
            "nftables answers; guests are fenced {}",
            holder.name()
        )),
        Ok(o) => Err((
            format!("nft cannot list tables: {}", o.stderr.trim()),
            "load the kernel's nf_tables module (`modprobe nf_tables`)".into(),
        )),
        Err(e) => Err((
            format!("nft does not run: {e}"),
            "reinstall nftables".into(),
        )),
    }
}

/// The part of `can_enforce` that costs no process: `up` runs it every time, and a kernel
/// without nftables shows in `nft`'s own error.
pub(super) fn may_enforce(holder: Holder) -> Result<(), (String, String)> {
    if let Some(k) = holder.keeper() {
        return k.ready().map(|_| ());
    }
    // who may write there first: for a person's guest on the host it is the reason
    // whatever else is true
    holder.writable()?;
    if crate::process::which_sbin("nft").is_none() {
        return Err((
            "`nft` is not installed".into(),
            "install nftables (`make setup` does)".into(),
        ));
    }
    Ok(())
}

fn apply(holder: Holder, script: &str) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("fence.nft");
    std::fs::write(&file, script)?;
    let out = holder.nft().arg("-f").arg(&file).output()?;
    if !out.success() {
        return Err(
            Failure::new(ExitStatus::Failure, "cannot write the network fence")
                .detail(format!("| {}", out.stderr.trim()))
                .hint("`tmpl doctor` checks that this host can hold the fence")
                .into(),
        );
    }
    Ok(())
}

/// Writes the fence's tables unless they are in force as they would be written; returns
/// whether it wrote them. `base` says whose they are; the comment adds a fingerprint of the
/// rules.
pub fn write(
    holder: Holder,
    table: &str,
    base: &str,
    net: &GuestNet,
    policy: &Policy,
) -> Result<bool> {
    let fingerprint = net::hash8(&rules::script(table, base, net, policy));
    if in_force_as(holder, table, net, &fingerprint) {
        return Ok(false);
    }
    let comment = format!("{base} #{fingerprint}");
    apply(holder, &rules::script(table, &comment, net, policy))?;
    Ok(true)
}

/// Whether the fence's tables are there with rules of this fingerprint.
fn in_force_as(holder: Holder, table: &str, net: &GuestNet, fingerprint: &str) -> bool {
    holder.present()
        && rules::families(net).iter().all(|family| {
            holder
                .nft()
                .args(["list", "table", family, table])
                .output()
                .is_ok_and(|o| o.success() && o.stdout.contains(&format!(" #{fingerprint}\"")))
        })
}

pub(super) fn table_exists(holder: Holder, table: &str) -> bool {
    crate::process::which_sbin("nft").is_some()
        && holder.present()
        && holder
            .nft()
            .args(["list", "table", "inet", table])
            .output()
            .is_ok_and(|o| o.success())
}

/// Deletes the project's fence; returns what it removed.
pub fn remove(slug: &str, holder: Holder) -> Result<Option<String>> {
    let table = table_name(slug);
    if !table_exists(holder, &table) {
        return Ok(None);
    }
    remove_table(&table, holder)?;
    Ok(Some(format!("network fence {table}")))
}

/// A fence table whose project has no network any more (`rm` was skipped, or the state went).
pub fn leftovers(holder: Holder) -> Vec<(String, String)> {
    if crate::process::which_sbin("nft").is_none() || !holder.present() {
        return Vec::new();
    }
    let Ok(out) = holder.nft().args(["list", "tables", "inet"]).read() else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for table in out.lines().filter_map(|l| l.strip_prefix("table inet ")) {
        if !table.starts_with(TABLE_PREFIX) {
            continue;
        }
        let Ok(text) = holder.nft().args(["list", "table", "inet", table]).read() else {
            continue;
        };
        let Some(state) = text
            .lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix(&format!("comment \"{COMMENT_PREFIX}"))
            })
            .map(|s| {
                let s = s.trim_end_matches('"');
                s.rsplit_once(" #").map_or(s, |(state, _)| state).to_owned()
            })
        else {
            continue;
        };
        // only what this user's state names, and only when that project has no network left
        let state = Path::new(&state);
        if net::recorded(state).is_none() && crate::gone::gone(&state.join("network.json")) {
            found.push((
                table.to_owned(),
                format!("project state {} is gone", state.display()),
            ));
        }
    }
    found
}

/// Deletes the fence's tables called `table`, in every family, in one transaction.
pub fn remove_table(table: &str, holder: Holder) -> Result<()> {
    let script: String = ["inet", "bridge"]
        .iter()
        .map(|f| format!("table {f} {table} {{}}\ndelete table {f} {table}\n"))
        .collect();
    apply(holder, &script)
}
