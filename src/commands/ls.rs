//! `tmpl ls`: every project tmpl has brought up, with its live state from its driver. A
//! project whose folder is gone, or whose guest vanished behind tmpl's back, says so.

use crate::cli::JsonArgs;
use crate::context::Ctx;
use crate::driver::State;
use crate::error::ExitStatus;
use crate::output;
use crate::project::list as projects;
use anyhow::Result;
use serde::Serialize;
use std::path::PathBuf;

/// A project as `ls` shows it: the table's row and, as it is, an element of `--json`.
#[derive(Serialize)]
struct Row {
    slug: String,
    name: String,
    #[serde(rename = "type")]
    infra_type: String,
    project_dir: PathBuf,
    state: &'static str,
    folder_gone: bool,
    guest_gone: bool,
    /// What the project's settings ask for; absent when they cannot be read.
    #[serde(flatten)]
    resources: Option<Resources>,
    /// Absent when the driver could not be asked; null when the guest has no address.
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<Option<String>>,
}

#[derive(Serialize)]
struct Resources {
    memory_mib: u32,
    cpus: u32,
    disk_gib: u32,
    ports: Vec<String>,
}

impl Row {
    fn cells(&self) -> [String; 6] {
        let state = if self.folder_gone {
            format!("{} (folder gone)", self.state)
        } else if self.guest_gone {
            "gone".into()
        } else {
            self.state.into()
        };
        let resources = match &self.resources {
            Some(r) => format!("{}M/{}cpu/{}G", r.memory_mib, r.cpus, r.disk_gib),
            None => "-".into(),
        };
        [
            self.slug.clone(),
            state,
            self.infra_type.clone(),
            resources,
            self.address.clone().flatten().unwrap_or_else(|| "-".into()),
            self.project_dir.display().to_string(),
        ]
    }
}

fn row(ctx: &Ctx, slug: &str, e: &projects::Entry) -> Row {
    // the full picture (resources, ports, address) needs the project's settings
    let loaded = ctx
        .finder()
        .load_registered(&e.dir, &e.env_file)
        .filter(|l| l.id.slug == slug);
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
    Row {
        slug: slug.to_owned(),
        name: e.name.clone(),
        infra_type: e.infra_type.clone(),
        project_dir: e.dir.clone(),
        state: state.map(|s| s.as_str()).unwrap_or("unknown"),
        folder_gone: crate::gone::gone(&e.dir),
        guest_gone: state == Some(State::NotCreated),
        resources: loaded.as_ref().map(|l| Resources {
            memory_mib: l.config.memory_mib,
            cpus: l.config.cpus,
            disk_gib: l.config.disk_gib,
            ports: l.config.ports.iter().map(|p| p.to_string()).collect(),
        }),
        address: live.map(|l| l.address),
    }
}

pub fn run(ctx: &Ctx, args: &JsonArgs) -> Result<ExitStatus> {
    let reg = projects::load(&ctx.dirs.state)?;
    let rows: Vec<Row> = reg.iter().map(|(slug, e)| row(ctx, slug, e)).collect();
    if args.json {
        output::json(&rows)?;
        return Ok(ExitStatus::Success);
    }
    if rows.is_empty() {
        crate::ui::info("no projects yet: `tmpl up` in a project folder adds it here");
        return Ok(ExitStatus::Success);
    }
    let mut table =
        output::Table::new(&["NAME", "STATE", "TYPE", "RESOURCES", "ADDRESS", "FOLDER"]);
    for r in &rows {
        table.row(r.cells());
    }
    table.print();
    Ok(ExitStatus::Success)
}
