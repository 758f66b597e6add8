//! `tmpl status`: the live state from libvirt or Podman (never `vagrant status`), with an
//! exit code a script can branch on: 0 running, 3 stopped, 4 not created.

use crate::cli::JsonArgs;
use crate::context::Ctx;
use crate::driver::{Guest, Live, State};
use crate::error::ExitStatus;
use crate::fence::Holder;
use crate::project::Loaded;
use anyhow::Result;
use serde_json::{json, Value};

pub fn exit_code(state: State) -> ExitStatus {
    match state {
        State::Running => ExitStatus::Success,
        State::Stopped => ExitStatus::Stopped,
        State::NotCreated => ExitStatus::NotCreated,
    }
}

pub fn status_json(loaded: &Loaded, live: &Live, guest: &dyn Guest, holder: Holder) -> Value {
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
        "egress": c.egress,
        "egress_allow": c.egress_allow.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        "fence": crate::fence::describe(loaded, holder),
        "fence_closed": crate::fence::closed_in_force(loaded, holder),
        "credential_broker": crate::broker::describe(loaded),
        "address": live.address,
        "ssh": live.ssh.as_ref().map(|e| json!({"host": e.host, "port": e.port, "user": e.user})),
    });
    if let Value::Object(m) = &mut v {
        m.extend(guest.details());
    }
    v
}

pub fn run(ctx: &Ctx, args: &JsonArgs) -> Result<ExitStatus> {
    let loaded = ctx.load()?;
    let session = ctx.look(&loaded)?;
    let (guest, holder) = (session.guest(), session.driver().fence_holder());
    let live = guest.live()?;
    let v = status_json(&loaded, &live, guest, holder);
    if args.json {
        crate::output::json(&v)?;
    } else {
        let c = &loaded.config;
        crate::output::line(format!("{}: {}", loaded.id.name, live.state.as_str()));
        crate::output::line(format!(
            "  type      {} ({} MiB, {} CPU, {} GiB disk)",
            c.infra_type, c.memory_mib, c.cpus, c.disk_gib
        ));
        crate::output::line(format!("  folder    {}", loaded.project.dir.display()));
        if let Some(a) = &live.address {
            crate::output::line(format!("  address   {a}"));
        }
        if let Some(e) = &live.ssh {
            crate::output::line(format!("  ssh       {}@{}:{}", e.user, e.host, e.port));
        }
        for p in &c.ports {
            crate::output::line(format!("  port      {p}"));
        }
        crate::output::line(format!(
            "  egress    {}",
            crate::fence::describe(&loaded, holder)
        ));
        let closed = crate::fence::closed_in_force(&loaded, holder);
        if !closed.is_empty() {
            crate::output::line(format!("  closed    {}", closed.join(", ")));
        }
        if let Some(b) = crate::broker::describe(&loaded) {
            crate::output::line(format!("  broker    {b}"));
        }
        for (k, val) in guest.details() {
            crate::output::line(format!(
                "  {k:<9} {}",
                val.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| val.to_string())
            ));
        }
    }
    Ok(exit_code(live.state))
}
