//! `tmpl status`: the live state from libvirt or Podman (never `vagrant status`), with an
//! exit code a script can branch on: 0 running, 3 stopped, 4 not created.

use crate::backend::{self, Backend, Live, State};
use crate::cli::JsonArgs;
use crate::context::{Ctx, Loaded};
use crate::error::code;
use anyhow::Result;
use serde_json::{json, Value};

pub fn exit_code(state: State) -> u8 {
    match state {
        State::Running => code::OK,
        State::Stopped => code::STOPPED,
        State::NotCreated => code::NOT_CREATED,
    }
}

pub fn status_json(loaded: &Loaded, live: &Live, backend: &dyn Backend) -> Value {
    let c = &loaded.config;
    let mut v = json!({
        "name": loaded.id.name,
        "slug": loaded.id.slug,
        "project_dir": loaded.project.dir,
        "type": c.infra_type,
        "state": live.state,
        "memory_mib": c.memory_mib,
        "cpus": c.cpus,
        "disk_gib": c.disk_gib,
        "ports": c.ports.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        "address": live.address,
        "ssh": live.ssh.as_ref().map(|e| json!({"host": e.host, "port": e.port, "user": e.user})),
    });
    if let Value::Object(m) = &mut v {
        m.extend(backend.details());
    }
    v
}

pub fn run(ctx: &Ctx, args: &JsonArgs) -> Result<u8> {
    let loaded = ctx.load()?;
    let backend = backend::for_project(&loaded, backend::Connect::Only)?;
    let live = backend.live()?;
    let v = status_json(&loaded, &live, backend.as_ref());
    if args.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        let c = &loaded.config;
        println!("{}: {}", loaded.id.name, live.state.as_str());
        println!(
            "  type      {} ({} MiB, {} CPU, {} GiB disk)",
            c.infra_type, c.memory_mib, c.cpus, c.disk_gib
        );
        println!("  folder    {}", loaded.project.dir.display());
        if let Some(a) = &live.address {
            println!("  address   {a}");
        }
        if let Some(e) = &live.ssh {
            println!("  ssh       {}@{}:{}", e.user, e.host, e.port);
        }
        for p in &c.ports {
            println!("  port      {p}");
        }
        for (k, val) in backend.details() {
            println!(
                "  {k:<9} {}",
                val.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| val.to_string())
            );
        }
    }
    Ok(exit_code(live.state))
}
