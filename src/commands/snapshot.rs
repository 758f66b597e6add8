//! `tmpl snapshot save|restore|list|delete`: take a guest back to before the agent ran.
//!
//! The guest is snapshotted, never the project folder: that is the person's data on the
//! host, shared into the guest, and a restore never rolls it back. Each backend says how it
//! snapshots (`Backend::snapshot_*`); when it needs the guest shut down (a VM), this command
//! shuts it down and brings it back the way `up` does, so a running guest is running again
//! afterwards.
//!
//! Ctrl+C is taken at the step boundaries only: a save or restore under way finishes, then
//! tmpl exits 130. The guest is in the old state or the new one, never between; what a
//! `kill -9` cut short is finished or undone by the next command (`Backend::snapshot_recover`).

use crate::backend::{Backend, SnapshotNeeds, State, UpOutcome};
use crate::cli::{SnapshotAction, SnapshotArgs};
use crate::context::{Ctx, Loaded};
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

fn unknown(name: &str, have: &[crate::backend::Snapshot]) -> anyhow::Error {
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

pub fn run(ctx: &Ctx, args: &SnapshotArgs) -> Result<ExitStatus> {
    if let SnapshotAction::Save { name }
    | SnapshotAction::Restore { name }
    | SnapshotAction::Delete { name } = &args.action
    {
        check_name(name)?;
    }
    let loaded = ctx.load()?;
    if let SnapshotAction::List(a) = &args.action {
        let backend = ctx.backend(&loaded, crate::backend::Connect::Only)?;
        return list(backend.as_ref(), a.json);
    }
    let _lock = ctx.lock(&loaded)?;
    let verb = match &args.action {
        SnapshotAction::Save { .. } => "snapshot save",
        SnapshotAction::Restore { .. } => "snapshot restore",
        _ => "snapshot delete",
    };
    crate::interrupt::install();
    let backend = ctx.backend(&loaded, crate::backend::Connect::MayStart)?;
    recover(backend.as_ref())?;
    if backend.live()?.state == State::NotCreated {
        return Err(crate::backend::no_guest(&loaded.id.name));
    }
    // bringing a guest back applies the settings as they are now: they must be approved
    if !matches!(args.action, SnapshotAction::Delete { .. }) {
        crate::trust::ensure(&ctx.dirs.state, &loaded, verb, false)?;
    }
    let mut phases = Phases::new("snapshot");
    let result = match &args.action {
        SnapshotAction::Save { name } => save(&loaded, backend.as_ref(), name, false, &mut phases),
        SnapshotAction::Restore { name } => restore(&loaded, backend.as_ref(), name, &mut phases),
        SnapshotAction::Delete { name } => {
            let have = backend.snapshots()?;
            if !have.iter().any(|s| &s.name == name) {
                return Err(unknown(name, &have));
            }
            backend.snapshot_delete(name)?;
            ui::info(format!("deleted snapshot {name}"));
            return Ok(ExitStatus::Success);
        }
        SnapshotAction::List(_) => unreachable!("answered above"),
    };
    let infra = loaded.config.infra_type.to_string();
    result.map_err(|e| phases.record_error(&ctx.dirs.state, &loaded.id.slug, &infra, e))?;
    phases.record(&ctx.dirs.state, &loaded.id.slug, &infra, verb);
    ui::info(phases.summary());
    crate::interrupt::check("taking the snapshot")?;
    Ok(ExitStatus::Success)
}

/// Says what an interrupted restore left, after putting it right.
pub fn recover(backend: &dyn Backend) -> Result<()> {
    if let Some(said) = backend.snapshot_recover()? {
        ui::warn(said);
    }
    Ok(())
}

fn list(backend: &dyn Backend, json: bool) -> Result<ExitStatus> {
    let snaps = backend.snapshots()?;
    if json {
        crate::output::json(&snaps)?;
        return Ok(ExitStatus::Success);
    }
    if snaps.is_empty() {
        ui::info("no snapshots: `tmpl snapshot save NAME` takes one");
        return Ok(ExitStatus::Success);
    }
    let mut table = crate::output::Table::new(&["NAME", "TAKEN", "SIZE"]);
    for s in &snaps {
        let size = s
            .size_bytes
            .map(|b| format!("{:.1} MiB", b as f64 / 1048576.0))
            .unwrap_or_else(|| "-".into());
        table.row([s.name.clone(), s.created.to_string(), size]);
    }
    table.print();
    Ok(ExitStatus::Success)
}

/// Runs `op` with the guest shut down if the backend needs it, and brings a guest that was
/// running back up afterwards, reachable over SSH, as `up` does. Returns whether it was.
fn with_guest_still(
    loaded: &Loaded,
    backend: &dyn Backend,
    what: &str,
    phases: &mut Phases,
    op: impl FnOnce() -> Result<()>,
) -> Result<bool> {
    let live = backend.live()?;
    if live.state == State::NotCreated {
        return Err(crate::backend::no_guest(&loaded.id.name));
    }
    let running = live.state == State::Running;
    let shut = running && backend.snapshot_needs() == SnapshotNeeds::Shutdown;
    crate::interrupt::check(what)?;
    if shut {
        crate::ssh::Access::new(&loaded.id.slug, &loaded.id.state_dir).close_master();
        phases.run("stop", "shutting the guest down for the snapshot", || {
            backend.stop(SHUTDOWN, &mut Phases::new("stop")).map(|_| ())
        })?;
    }
    phases.run("snapshot", what, op)?;
    Ok(running)
}

fn bring_back(loaded: &Loaded, backend: &dyn Backend, phases: &mut Phases) -> Result<()> {
    if crate::interrupt::interrupted() {
        ui::warn("interrupted: the guest stays stopped; `tmpl up` starts it");
        return Ok(());
    }
    let (outcome, endpoint) = backend.up(phases)?;
    super::up::reach(loaded, backend, outcome, &endpoint, phases)?;
    Ok(())
}

/// Saves snapshot `name`; `replace` overwrites one of that name (`pre-provision`).
pub fn save(
    loaded: &Loaded,
    backend: &dyn Backend,
    name: &str,
    replace: bool,
    phases: &mut Phases,
) -> Result<()> {
    let what = format!("saving snapshot {name}");
    let was_running = with_guest_still(loaded, backend, &what, phases, || {
        backend.snapshot_save(name, replace)
    })?;
    if was_running && backend.snapshot_needs() == SnapshotNeeds::Shutdown {
        bring_back(loaded, backend, phases)?;
    }
    ui::info(format!("saved snapshot {name} of {}", loaded.id.name));
    Ok(())
}

fn restore(loaded: &Loaded, backend: &dyn Backend, name: &str, phases: &mut Phases) -> Result<()> {
    let have = backend.snapshots()?;
    if !have.iter().any(|s| s.name == name) {
        if backend.live()?.state == State::NotCreated {
            return Err(crate::backend::no_guest(&loaded.id.name));
        }
        return Err(unknown(name, &have));
    }
    let what = format!("restoring snapshot {name}");
    let was_running = with_guest_still(loaded, backend, &what, phases, || {
        backend.snapshot_restore(name)
    })?;
    match backend.live()?.state {
        // a container comes back running: reach it as `up` does, at its new SSH port
        State::Running => {
            let (_, endpoint) = backend.up(phases)?;
            super::up::reach(loaded, backend, UpOutcome::Started, &endpoint, phases)?;
        }
        _ if was_running => bring_back(loaded, backend, phases)?,
        _ => {}
    }
    ui::info(format!(
        "{} is back as in snapshot {name}; the project folder was not rolled back",
        loaded.id.name
    ));
    Ok(())
}

/// `SNAPSHOT_BEFORE_PROVISION=yes`: the snapshot `pre-provision`, replaced, before a
/// provisioning run on a running guest. Returns where the guest answers now (a VM was shut
/// down for it and came back).
pub(super) fn before_provision(
    loaded: &Loaded,
    backend: &dyn Backend,
    endpoint: &crate::ssh::Endpoint,
    phases: &mut Phases,
) -> Result<crate::ssh::Endpoint> {
    if !loaded.config.snapshot_before_provision {
        return Ok(endpoint.clone());
    }
    save(loaded, backend, PRE_PROVISION, true, phases)?;
    backend
        .live()?
        .ssh
        .ok_or_else(|| anyhow::anyhow!("the guest did not come back after its snapshot"))
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
