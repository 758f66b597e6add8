//! `tmpl ls`: every project tmpl has brought up, with its live state from libvirt and Podman.
//! A project whose folder is gone, or whose guest vanished behind tmpl's back, says so.

use crate::backend::podman::{client, spec};
use crate::backend::vagrant::virsh;
use crate::backend::{self, State};
use crate::cli::JsonArgs;
use crate::context::Ctx;
use crate::error::code;
use crate::registry;
use anyhow::Result;
use serde_json::{json, Value};

/// The live state of a registered project from its slug alone (its `.env` may be gone).
fn state_by_slug(
    slug: &str,
    infra_type: &str,
    podman: &mut Option<Option<client::Client>>,
) -> Option<State> {
    if infra_type == "vm" {
        return virsh::domain(&format!("tmpl-{slug}"))
            .ok()
            .map(|d| d.map(|d| d.state).unwrap_or(State::NotCreated));
    }
    let c = podman
        .get_or_insert_with(|| client::connect().ok())
        .as_ref()?;
    match c.block_on(
        c.docker
            .inspect_container(&spec::container_name(slug), None),
    ) {
        Ok(i) => Some(if i.state.and_then(|s| s.running).unwrap_or(false) {
            State::Running
        } else {
            State::Stopped
        }),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Some(State::NotCreated),
        Err(_) => None,
    }
}

pub fn run(ctx: &Ctx, args: &JsonArgs) -> Result<u8> {
    let reg = registry::load(&ctx.dirs.state)?;
    let mut podman = None;
    let mut rows = Vec::new();
    for (slug, e) in &reg {
        let mut row = json!({
            "slug": slug, "name": e.name, "type": e.infra_type, "project_dir": e.dir,
            "state": Value::Null, "folder_gone": !e.dir.is_dir(), "guest_gone": false,
        });
        // the full picture (resources, ports, address) needs the project's settings
        let sub = Ctx {
            cwd: e.dir.clone(),
            env_file: Some(e.env_file.clone()),
            strict: false,
            wait: false,
            dirs: ctx.dirs.clone(),
        };
        let loaded = e
            .dir
            .is_dir()
            .then(|| sub.load().ok())
            .flatten()
            .filter(|l| &l.id.slug == slug);
        let live = loaded
            .as_ref()
            .and_then(|l| backend::for_project(l, backend::Connect::Only).ok())
            .and_then(|b| b.live().ok());
        let state = match &live {
            Some(l) => Some(l.state),
            None => state_by_slug(slug, &e.infra_type, &mut podman),
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
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(code::OK);
    }
    if rows.is_empty() {
        crate::ui::info("no projects yet: `tmpl up` in a project folder adds it here");
        return Ok(code::OK);
    }
    println!(
        "{:<28} {:<12} {:<10} {:<18} {:<16} FOLDER",
        "NAME", "STATE", "TYPE", "RESOURCES", "ADDRESS"
    );
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
        println!(
            "{:<28} {:<12} {:<10} {:<18} {:<16} {}",
            s("slug"),
            state,
            s("type"),
            res,
            s("address"),
            s("project_dir")
        );
    }
    Ok(code::OK)
}
