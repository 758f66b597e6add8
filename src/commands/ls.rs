//! `tmpl ls`: every project tmpl has brought up, with its live state from its driver. A
//! project whose folder is gone, or whose guest vanished behind tmpl's back, says so.

use crate::cli::JsonArgs;
use crate::context::Ctx;
use crate::driver::State;
use crate::error::ExitStatus;
use crate::output;
use crate::project::list as projects;
use anyhow::Result;
use serde_json::{json, Value};

pub fn run(ctx: &Ctx, args: &JsonArgs) -> Result<ExitStatus> {
    let reg = projects::load(&ctx.dirs.state)?;
    let mut rows = Vec::new();
    for (slug, e) in &reg {
        let mut row = json!({
            "slug": slug, "name": e.name, "type": e.infra_type, "project_dir": e.dir,
            "state": Value::Null, "folder_gone": crate::gone::gone(&e.dir), "guest_gone": false,
        });
        // the full picture (resources, ports, address) needs the project's settings
        let loaded = ctx
            .finder()
            .load_registered(&e.dir, &e.env_file)
            .filter(|l| &l.id.slug == slug);
        let live = loaded
            .as_ref()
            .and_then(|l| ctx.look(l).ok())
            .and_then(|s| s.guest().live().ok());
        let state = match &live {
            Some(l) => Some(l.state),
            // the driver the project was brought up with, by the name it was recorded under
            None => ctx
                .registry
                .get(&e.infra_type)
                .and_then(|d| d.state_of(slug)),
        };
        row["state"] = json!(state.map(|s| s.as_str()).unwrap_or("unknown"));
        row["guest_gone"] = json!(state == Some(State::NotCreated));
        if let Some(l) = &loaded {
            let c = &l.config;
            row["memory_mib"] = json!(c.memory_mib);
            row["cpus"] = json!(c.cpus);
            row["disk_gib"] = json!(c.disk_gib);
            row["ports"] = json!(c.ports.iter().map(|p| p.to_string()).collect::<Vec<_>>());
        }
        if let Some(l) = &live {
            row["address"] = json!(l.address);
        }
        rows.push(row);
    }
    if args.json {
        output::json(&rows)?;
        return Ok(ExitStatus::Success);
    }
    if rows.is_empty() {
        crate::ui::info("no projects yet: `tmpl up` in a project folder adds it here");
        return Ok(ExitStatus::Success);
    }
    output::line(format!(
        "{:<28} {:<12} {:<10} {:<18} {:<16} FOLDER",
        "NAME", "STATE", "TYPE", "RESOURCES", "ADDRESS"
    ));
    for r in &rows {
        let s = |k: &str| r[k].as_str().unwrap_or("-").to_owned();
        let mut state = s("state");
        if r["folder_gone"] == true {
            state = format!("{state} (folder gone)");
        } else if r["guest_gone"] == true {
            state = "gone".into();
        }
        let res = match (
            r["memory_mib"].as_u64(),
            r["cpus"].as_u64(),
            r["disk_gib"].as_u64(),
        ) {
            (Some(m), Some(c), Some(d)) => format!("{m}M/{c}cpu/{d}G"),
            _ => "-".into(),
        };
        output::line(format!(
            "{:<28} {:<12} {:<10} {:<18} {:<16} {}",
            s("slug"),
            state,
            s("type"),
            res,
            s("address"),
            s("project_dir")
        ));
    }
    Ok(ExitStatus::Success)
}
