//! `tmpl snapshot save|restore|list|delete`: take a guest back to before the agent ran (see
//! `session::Session::snapshot_save` and the others).

use crate::cli::{SnapshotAction, SnapshotArgs};
use crate::context::Ctx;
use crate::driver::Snapshot;
use crate::error::{ExitStatus, Failure};
use crate::ui;
use anyhow::Result;

pub fn run(ctx: &Ctx, args: &SnapshotArgs) -> Result<ExitStatus> {
    if let SnapshotAction::Save { name }
    | SnapshotAction::Restore { name }
    | SnapshotAction::Delete { name } = &args.action
    {
        if !crate::session::valid_snapshot_name(name) {
            return Err(Failure::config(format!("`{name}` is not a snapshot name"))
                .hint("a lowercase letter or digit, then up to 63 of `a-z`, `0-9`, `.`, `_`, `-`: e.g. `before-agent`")
                .into());
        }
    }
    let loaded = ctx.load()?;
    if let SnapshotAction::List(a) = &args.action {
        let snaps = ctx.look(&loaded)?.snapshot_list()?;
        return list(&snaps, a.json);
    }
    let session = ctx.session(&loaded)?;
    match &args.action {
        SnapshotAction::Save { name } => ui::info(session.snapshot_save(name)?),
        SnapshotAction::Restore { name } => ui::info(session.snapshot_restore(name)?),
        SnapshotAction::Delete { name } => {
            session.snapshot_delete(name)?;
            ui::info(format!("deleted snapshot {name}"));
        }
        SnapshotAction::List(_) => unreachable!("answered above"),
    }
    Ok(ExitStatus::Success)
}

fn list(snaps: &[Snapshot], json: bool) -> Result<ExitStatus> {
    if json {
        crate::output::json(&snaps)?;
        return Ok(ExitStatus::Success);
    }
    if snaps.is_empty() {
        ui::info("no snapshots: `tmpl snapshot save NAME` takes one");
        return Ok(ExitStatus::Success);
    }
    let mut table = crate::output::Table::new(&["NAME", "TAKEN", "SIZE"]);
    for s in snaps {
        let size = s
            .size_bytes
            .map(|b| format!("{:.1} MiB", b as f64 / 1048576.0))
            .unwrap_or_else(|| "-".into());
        table.row([s.name.clone(), s.created.to_string(), size]);
    }
    table.print();
    Ok(ExitStatus::Success)
}
