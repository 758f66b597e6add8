//! The network fence: what a guest may connect to (`EGRESS`, `EGRESS_ALLOW`), enforced on the
//! host and never inside the guest, where root could lift it.
//!
//! Each guest has a network of its own (`net`), and one nftables table per guest holds that
//! network's bridge (`rules`). The table is named `tmpl-<hash of the slug>` and its comment
//! says whose it is, so `doctor` finds tables whose project is gone and `gc` removes them.
//!
//! Lifetime: `up` writes the table before the guest runs and again every time (it is
//! replaced atomically), `rm` deletes it. It does not depend on libvirtd or Podman: they can
//! restart, re-create the bridge, and the rules still hold it, because they name the bridge.
//!
//! Where the tables live (`Holder`, a `Place` each driver names for its guests): root's are
//! the host's own firewall. A driver whose guests live in a network namespace of the
//! person's (rootless containers) holds their fence there, where the person is root and
//! the guest's root is not, with the host's own addresses closed as destinations.
//!
//! DNS is part of the fence: each fenced guest has a resolver of its own (`dns`), which
//! answers under the guest's `EGRESS` and opens `EGRESS_ALLOW`'s names as the guest asks for
//! them. The host's own networks are closed whatever their range (`lan`), read from its
//! routes at every `up`.
//!
//! A driver whose fence root must hold for a person (a person's VMs: their bridges are the
//! host's) names a `Keeper`: something of root's that writes the same table from what the
//! guest's network carries (the libvirt hook), and publishes what it holds for `up`,
//! `status` and `doctor` to check.

pub mod allows;
pub mod dns;
mod in_force;
pub mod lan;
pub mod net;
mod place;
pub mod rules;
mod tables;

pub use in_force::{closed_in_force, confirm, describe};
pub use place::{Holder, Host, Keeper, Place, Published, HOST};
pub use tables::{can_enforce, leftovers, remove, remove_table, table_name, write};

use crate::config::{Allow, AllowTarget, Egress};
use crate::error::{ExitStatus, Failure};
use crate::project::Loaded;
use anyhow::Result;
use in_force::CLOSED_FILE;
use net::GuestNet;
use rules::Policy;
use std::path::Path;
use tables::{may_enforce, COMMENT_PREFIX};

/// The host's own addresses, every interface's.
pub fn host_addrs() -> Vec<std::net::IpAddr> {
    let mut out: Vec<std::net::IpAddr> = crate::ip::links(None)
        .iter()
        .flat_map(|l| &l.addr_info)
        .filter_map(|a| a.local)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The fence's policy for `egress` and `allow`, with the host's LAN (`closed`, see `lan`)
/// and, where the host is remote, its addresses.
pub fn policy(
    egress: Egress,
    allow: &[Allow],
    closed: &[lan::Closed],
    host_is_remote: bool,
    services: &[u16],
) -> Policy {
    Policy {
        egress,
        allow: allow.to_vec(),
        host_addrs: if host_is_remote {
            host_addrs()
        } else {
            Vec::new()
        },
        lan: closed.iter().map(|c| c.net).collect(),
        dns_port: dns::PORT,
        services: services.to_vec(),
    }
}

/// The guest's resolver for `egress` and `allow` on `net`, keeping its files in `state`.
pub fn resolver(
    egress: Egress,
    allow: &[Allow],
    net: &GuestNet,
    table: &str,
    holder: Holder,
    state: &Path,
) -> dns::Config {
    dns::Config {
        listen: net.gateway(),
        port: dns::PORT,
        all_names: egress != Egress::None,
        names: allow
            .iter()
            .filter_map(|a| match &a.target {
                AllowTarget::Name(n) => Some((n.trim_end_matches('.').to_lowercase(), a.port)),
                _ => None,
            })
            .collect(),
        // from a person's Podman namespace the gateway is that namespace, not the host
        host: (!holder.host_is_remote()).then(|| net.gateway()),
        table: table.to_owned(),
        families: rules::families(net).iter().map(|f| f.to_string()).collect(),
        upstream: dns::upstream_from_env(),
        netns_file: holder.netns_file(),
        state: state.to_owned(),
    }
}

/// Puts the project's fence in force for the guest behind `net` (or lifts it for
/// `EGRESS=open`), with the guest's resolver. Called by `up` before the guest runs, every
/// time. Where a keeper holds it, checks that the keeper is there (see `confirm`).
/// `services`: TCP ports of the guest's own services on its gateway (the credential broker),
/// opened to it alone.
pub fn enforce(loaded: &Loaded, net: &GuestNet, holder: Holder, services: &[u16]) -> Result<()> {
    let c = &loaded.config;
    let state = &loaded.id.state_dir;
    let table = table_name(&loaded.id.slug);
    // an earlier tmpl's name refresher exits once its record is gone
    let _ = std::fs::remove_file(state.join("fence-names.json"));
    if c.egress == Egress::Open && c.egress_allow.is_empty() {
        dns::stop(state);
        let _ = std::fs::remove_file(state.join(CLOSED_FILE));
        remove(&loaded.id.slug, holder)?;
        return Ok(());
    }
    if let Err((why, fix)) = may_enforce(holder) {
        return Err(Failure::new(
            ExitStatus::Failure,
            format!("`EGRESS={}` cannot be enforced here: {why}", c.egress),
        )
        .hint(fix)
        .into());
    }
    if holder.keeper().is_some() {
        return Ok(());
    }
    let closed = lan::read();
    let policy = policy(
        c.egress,
        &c.egress_allow,
        &closed,
        holder.host_is_remote(),
        services,
    );
    // Writing costs a kernel commit (about 20 ms here) where reading costs 4: the comment
    // carries a fingerprint of the rules, and a fence already in force as written is left as
    // it is.
    let base = format!("{COMMENT_PREFIX}{}", state.display());
    let rewritten = write(holder, &table, &base, net, &policy)?;
    crate::atomic::write(
        &state.join(CLOSED_FILE),
        &serde_json::to_vec(&closed)?,
        0o600,
    )?;
    let config = resolver(c.egress, &c.egress_allow, net, &table, holder, state);
    dns::ensure(&config, |cmd| holder.enter(cmd), rewritten)
}
