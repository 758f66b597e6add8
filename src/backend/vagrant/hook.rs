//! libvirt's network hook, run by libvirtd as root (`make setup` installs it as
//! `/etc/libvirt/hooks/network.d/tmpl-fence`, which execs a root-owned copy of tmpl): it holds
//! the fence of a person's VM, whose bridge is the host's and whose firewall only root
//! writes. The person's tmpl puts the policy into the network's XML (`hook_xml`), which
//! libvirt hands to the hook with every event; networks without it are left alone (root's VMs
//! are fenced by root's tmpl itself).
//!
//! - `start`: the guest's table, the same `rules` text root's tmpl writes, before libvirt
//!   makes the bridge; any error fails the network's start, so no VM runs unfenced;
//! - `started`: the guest's resolver (`fence::dns`), which never fails the event (libvirt
//!   would leave the bridge behind);
//! - `port-created` (each VM start): the table again, with the host's routes read anew, and
//!   the resolver restarted if it died; for the VM's `-lan` network, the `bridge` table on its
//!   tap, with the MAC libvirt gave the port; an error refuses the port, so the VM does not
//!   start;
//! - `stopped`: the resolver and the tables go.
//!
//! What it holds is published in `/run/tmpl-fence/<network>.json` for the person's `up`,
//! `status` and `doctor`, which cannot list the host's tables.

use super::hook_xml::{self, HookData};
use super::keeper::{published_path, RUN};
use crate::config::Egress;
use crate::fence::{self, lan, net, Published, HOST};
use anyhow::{bail, Context as _, Result};
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use std::io::Read as _;
use std::path::{Path, PathBuf};

/// Where root may point the hook's resolvers instead of `/etc/resolv.conf`'s servers (the
/// tests' stand-in resolver): `ADDR:PORT,...`, in a root-owned file.
const UPSTREAM_FILE: &str = "/etc/tmpl/dns-upstream";

/// The checked policy of a network, kept by the hook for its `-lan` network's events.
#[derive(Serialize, Deserialize)]
struct Kept {
    egress: Egress,
    allow: Vec<String>,
    #[serde(default)]
    services: Vec<u16>,
    lan_mac: Option<String>,
    subnet: Ipv4Net,
}

fn dir_of(network: &str) -> PathBuf {
    Path::new(RUN).join(network)
}

/// `tmpl __fence-hook vm NETWORK OP SUBOP -`, with the XML on stdin.
pub fn run(args: &[String]) -> Result<()> {
    let (Some(name), Some(op)) = (args.first(), args.get(1)) else {
        return Ok(());
    };
    let Some(slug) = name.strip_prefix("tmpl-") else {
        return Ok(());
    };
    let mut xml = String::new();
    std::io::stdin().take(1 << 20).read_to_string(&mut xml)?;
    std::fs::create_dir_all(RUN)?;
    // libvirtd, our parent, runs the hook: `doctor` compares this with its pid
    let _ = crate::atomic::write(
        &Path::new(RUN).join("hook-seen"),
        std::os::unix::process::parent_id().to_string().as_bytes(),
        0o644,
    );
    let result = match slug.strip_suffix("-lan") {
        Some(main) => lan_event(main, op, &xml),
        None => own_event(name, slug, op, &xml),
    };
    if let Err(e) = &result {
        eprintln!("tmpl fence: network {name}, {op}: {e:#}");
    }
    match op.as_str() {
        // fail closed where a failure stops the network or the VM
        "start" | "port-created" => result,
        _ => Ok(()),
    }
}

fn checked_slug(slug: &str) -> Result<()> {
    let ok = !slug.is_empty()
        && slug.len() <= 64
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !ok {
        bail!("`{slug}` is not a project's name");
    }
    Ok(())
}

/// The guest's network as the hook trusts it: named after the project, on the bridge tmpl
/// names for it (so a network cannot point the fence's rules at another interface), NAT, a /24.
fn guest_net(name: &str, slug: &str, d: &HookData) -> Result<net::GuestNet> {
    checked_slug(slug)?;
    let bridge = net::bridge_name(super::vm::NET, slug);
    if d.name != name || d.bridge != bridge || d.forward != "nat" {
        bail!("network {name} is not a tmpl VM's own network on bridge {bridge}");
    }
    let (Some(address), Some(24)) = (d.address, d.prefix) else {
        bail!("network {name} has no /24 of its own");
    };
    Ok(net::GuestNet {
        bridge,
        subnet: Ipv4Net::new(address, 24)?.trunc(),
        lan_tap: None,
    })
}

fn own_event(name: &str, slug: &str, op: &str, xml: &str) -> Result<()> {
    let d = hook_xml::read(xml).context("the network's XML does not read")?;
    let Some((egress, allow, services)) = d.fence.clone() else {
        return Ok(()); // not a person's fenced network
    };
    let dir = dir_of(name);
    if op == "stopped" {
        fence::dns::stop(&dir);
        let _ = fence::remove_table(&fence::table_name(slug), HOST);
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_file(published_path(slug));
        return Ok(());
    }
    if !matches!(op, "start" | "started" | "port-created") {
        return Ok(());
    }
    let net = guest_net(name, slug, &d)?;
    let policy = hook_xml::policy(&egress, &allow, &services).map_err(anyhow::Error::msg)?;
    std::fs::create_dir_all(&dir)?;
    let lan_mac = if op == "start" {
        None // a new start: the `-lan` port comes after
    } else {
        kept(&dir).and_then(|k| k.lan_mac)
    };
    hold(name, slug, &net, &policy, lan_mac, op != "start")
}

fn kept(dir: &Path) -> Option<Kept> {
    serde_json::from_slice(&std::fs::read(dir.join("policy.json")).ok()?).ok()
}

/// Writes the fence (and, with `resolver`, makes sure the resolver runs), then publishes it.
fn hold(
    name: &str,
    slug: &str,
    net: &net::GuestNet,
    (egress, allow, services): &hook_xml::Checked,
    lan_mac: Option<String>,
    resolver: bool,
) -> Result<()> {
    let egress = *egress;
    let dir = dir_of(name);
    let mut net = net.clone();
    net.lan_tap = lan_mac.clone().map(|mac| net::LanTap {
        name: net::tap_name(slug),
        mac,
    });
    let closed = lan::read();
    let policy = fence::policy(egress, allow, &closed, false, services);
    let table = fence::table_name(slug);
    let base = format!("tmpl fence (libvirt hook) of network {name}");
    let rewritten = fence::write(HOST, &table, &base, &net, &policy)?;
    let kept = Kept {
        egress,
        allow: allow.iter().map(|a| a.to_string()).collect(),
        services: services.clone(),
        lan_mac,
        subnet: net.subnet,
    };
    crate::atomic::write(&dir.join("policy.json"), &serde_json::to_vec(&kept)?, 0o600)?;
    let running = if resolver {
        let mut config = fence::resolver(egress, allow, &net, &table, HOST, &dir);
        config.upstream = upstream();
        fence::dns::ensure(&config, |c| c, rewritten).is_ok()
    } else {
        fence::dns::running(&dir).is_some()
    };
    let published = Published {
        table,
        egress,
        allow: kept.allow,
        closed,
        resolver: running,
        services: kept.services,
    };
    crate::atomic::write(
        &published_path(slug),
        &serde_json::to_vec_pretty(&published)?,
        0o644,
    )
}

/// Root's choice of upstream for the hook's resolvers, if any (see `UPSTREAM_FILE`).
fn upstream() -> Vec<std::net::SocketAddr> {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(UPSTREAM_FILE) else {
        return Vec::new();
    };
    if meta.uid() != 0 || meta.mode() & 0o022 != 0 {
        return Vec::new();
    }
    std::fs::read_to_string(UPSTREAM_FILE)
        .unwrap_or_default()
        .split([',', '\n'])
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

/// A bridged VM's way onto the LAN (`tmpl-<slug>-lan`): at each port, the `bridge` table on
/// the VM's tap with the port's MAC, next to the VM's own network's table.
fn lan_event(main: &str, op: &str, xml: &str) -> Result<()> {
    if op != "port-created" {
        return Ok(());
    }
    checked_slug(main)?;
    let name = format!("tmpl-{main}");
    let dir = dir_of(&name);
    let Some(k) = kept(&dir) else {
        return Ok(()); // its own network is not a person's fenced one
    };
    let d = hook_xml::read(xml).context("the network's XML does not read")?;
    let mac = d.port_mac.clone().context("the port has no MAC")?;
    if d.port_owner.as_deref() != Some(name.as_str()) || d.forward != "bridge" {
        bail!("the port is not VM {name}'s on its LAN");
    }
    let allow = k
        .allow
        .iter()
        .map(|a| crate::config::validate::parse_allow(a).map_err(anyhow::Error::msg))
        .collect::<Result<Vec<_>>>()?;
    // from what the hook kept: a hook must not call back into libvirt, which waits for it
    let net = net::GuestNet {
        bridge: net::bridge_name(super::vm::NET, main),
        subnet: k.subnet,
        lan_tap: None,
    };
    hold(
        &name,
        main,
        &net,
        &(k.egress, allow, k.services),
        Some(mac),
        true,
    )
}
