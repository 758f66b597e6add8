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
//! `EGRESS_ALLOW` names are resolved on the host at `up` and every `REFRESH` after by a small
//! background process (`tmpl __fence-refresh`), which exits when the table is gone. Each
//! address stays allowed for `rules::NAME_TIMEOUT` after it was last seen.

pub mod allows;
pub mod net;
pub mod rules;

use crate::config::{AllowTarget, Egress};
use crate::error::{ExitStatus, Failure};
use crate::process::Cmd;
use crate::project::Loaded;
use anyhow::Result;
use net::GuestNet;
use rules::{Policy, Resolved};
use serde::{Deserialize, Serialize};
use std::net::ToSocketAddrs;
use std::path::Path;
use std::time::Duration;

pub const REFRESH: Duration = Duration::from_secs(300);
const TABLE_PREFIX: &str = "tmpl-";
const COMMENT_PREFIX: &str = "tmpl fence of ";

pub fn table_name(slug: &str) -> String {
    format!("{TABLE_PREFIX}{}", net::hash8(slug))
}

/// What the refresher needs to know, kept in the project's state.
#[derive(Debug, Serialize, Deserialize)]
struct Names {
    table: String,
    /// Where the table is held (`Place::name`).
    #[serde(default)]
    holder: String,
    families: Vec<String>,
    names: Vec<(String, Option<u16>)>,
}

/// A place where fence tables can be written: the host's own firewall, or a network
/// namespace a driver's guests live in (a person's rootless Podman). Drivers that hold
/// their fences somewhere of their own implement it (see `Driver::fence_holder`).
pub trait Place: Sync {
    /// For messages and for comparing holders: "on the host".
    fn name(&self) -> &'static str;
    /// The `nft` command that acts there.
    fn nft(&self) -> Cmd;
    /// `cmd` run there, in the network the guests are on (a service of the guest's that
    /// must listen on its gateway: the resolver, the credential broker).
    fn enter(&self, cmd: Cmd) -> Cmd {
        cmd
    }
    /// Whether the place is there to hold tables now (without making it).
    fn present(&self) -> bool {
        true
    }
    /// Whether this person may write tables there, and why not.
    fn writable(&self) -> Result<(), (String, String)> {
        Ok(())
    }
    /// The host itself is not local from there: its own addresses are closed as
    /// destinations like any other (a namespace joined to the world through the host).
    fn host_is_remote(&self) -> bool {
        false
    }
    /// The place can vanish and come back empty while a guest starts (a person's Podman
    /// removes its namespace when their last container stops): the fence is written
    /// again once the guest runs.
    fn may_vanish(&self) -> bool {
        false
    }
    /// What `doctor` says when the place is not there yet.
    fn absent_note(&self) -> &'static str {
        "not there yet"
    }
}

/// Where a fence's tables are written.
#[derive(Clone, Copy)]
pub struct Holder(pub &'static dyn Place);

impl PartialEq for Holder {
    fn eq(&self, other: &Holder) -> bool {
        self.0.name() == other.0.name()
    }
}

impl std::fmt::Debug for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.name())
    }
}

impl std::ops::Deref for Holder {
    type Target = dyn Place;
    fn deref(&self) -> &(dyn Place + 'static) {
        self.0
    }
}

/// The host's own firewall, which only root writes.
pub struct Host;

impl Place for Host {
    fn name(&self) -> &'static str {
        "on the host"
    }
    fn nft(&self) -> Cmd {
        Cmd::new(crate::process::which_sbin("nft").unwrap_or_else(|| "nft".into()))
    }
    fn writable(&self) -> Result<(), (String, String)> {
        if crate::person::is_root() {
            return Ok(());
        }
        Err((
            "the guest's fence is on the host bridge it is on, and only root can write the host's firewall".into(),
            "run guests that need the fence as root, use a container (your rootless Podman holds its fence), or set `EGRESS=open` (no fence) in .env".into(),
        ))
    }
}

/// The host's firewall as a holder.
pub const HOST: Holder = Holder(&Host);

/// Whether this host can hold a fence in `holder` (see `Driver::fence_holder`), and why not.
pub fn can_enforce(holder: Holder) -> Result<String, (String, String)> {
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
fn may_enforce(holder: Holder) -> Result<(), (String, String)> {
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

fn resolve(names: &[(String, Option<u16>)]) -> Resolved {
    let mut out = Vec::new();
    for (name, port) in names {
        match (name.as_str(), 0).to_socket_addrs() {
            Ok(addrs) => out.extend(addrs.map(|a| (a.ip(), *port))),
            Err(e) => crate::ui::warn(format!(
                "EGRESS_ALLOW: `{name}` does not resolve on the host ({e}); it is let through once it does"
            )),
        }
    }
    out.sort();
    out.dedup();
    out
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

/// Puts the project's fence in force for the guest behind `net` (or lifts it for
/// `EGRESS=open`). Called by `up` before the guest runs, every time. `services`: TCP ports
/// of the guest's own services on its gateway (the credential broker), opened to it alone.
pub fn enforce(loaded: &Loaded, net: &GuestNet, holder: Holder, services: &[u16]) -> Result<()> {
    let c = &loaded.config;
    let table = table_name(&loaded.id.slug);
    if c.egress == Egress::Open && c.egress_allow.is_empty() {
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
    let names: Vec<(String, Option<u16>)> = c
        .egress_allow
        .iter()
        .filter_map(|a| match &a.target {
            AllowTarget::Name(n) => Some((n.clone(), a.port)),
            _ => None,
        })
        .collect();
    let policy = Policy {
        egress: c.egress,
        allow: c.egress_allow.clone(),
        host_addrs: if holder.host_is_remote() {
            host_addrs()
        } else {
            Vec::new()
        },
        services: services.to_vec(),
    };
    // Writing costs a kernel commit (about 20 ms here) where reading costs 4: the comment
    // carries a fingerprint of the rules, and a fence already in force as written is left as
    // it is. Names are looked up again on every `up` regardless.
    let base = format!("{COMMENT_PREFIX}{}", loaded.id.state_dir.display());
    let fingerprint = net::hash8(&rules::script(&table, &base, net, &policy, &Vec::new()));
    let comment = format!("{base} #{fingerprint}");
    if names.is_empty() && in_force_as(holder, &table, net, &fingerprint) {
        return Ok(());
    }
    apply(
        holder,
        &rules::script(&table, &comment, net, &policy, &resolve(&names)),
    )?;
    let record = loaded.id.state_dir.join("fence-names.json");
    if names.is_empty() {
        let _ = std::fs::remove_file(&record);
    } else {
        let families = rules::families(net).iter().map(|f| f.to_string()).collect();
        let n = Names {
            table,
            holder: holder.name().to_owned(),
            families,
            names,
        };
        crate::atomic::write(&record, &serde_json::to_vec(&n)?, 0o600)?;
        start_refresher(&loaded.id.state_dir);
    }
    Ok(())
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

fn table_exists(holder: Holder, table: &str) -> bool {
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

/// What `status` says of the fence: the policy, and whether the host holds it now.
pub fn describe(loaded: &Loaded, holder: Holder) -> String {
    let c = &loaded.config;
    let mut s = c.egress.to_string();
    if !c.egress_allow.is_empty() {
        let allow: Vec<String> = c.egress_allow.iter().map(|a| a.to_string()).collect();
        s.push_str(&format!(" + {}", allow.join(",")));
    }
    if c.egress == Egress::Open && c.egress_allow.is_empty() {
        return format!("{s} (no fence)");
    }
    if let Err((why, _)) = may_enforce(holder) {
        return format!("{s} (cannot be enforced: {why})");
    }
    if table_exists(holder, &table_name(&loaded.id.slug)) {
        let at = if holder == HOST {
            String::new()
        } else {
            format!(" {}", holder.name())
        };
        format!(
            "{s} (in force: nft table inet {}{at})",
            table_name(&loaded.id.slug)
        )
    } else {
        format!("{s} (not in force: `tmpl up` sets it)")
    }
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

fn start_refresher(state_dir: &Path) {
    let lock = state_dir.join("fence-refresh.lock");
    if !crate::lock::Lock::try_now(&lock) {
        return; // one is running
    }
    if let Ok(me) = std::env::current_exe() {
        Cmd::new(me)
            .arg("__fence-refresh")
            .arg(state_dir)
            .spawn_daemon();
    }
}

/// The refresher's loop: re-resolve every `REFRESH` while the table exists. `holders`: the
/// places the drivers hold fences in, one of which the record names.
pub fn refresh_loop(state_dir: &Path, holders: &[Holder]) -> Result<()> {
    let Some(_only_one) = crate::lock::Lock::try_at(&state_dir.join("fence-refresh.lock"))? else {
        return Ok(()); // another refresher runs
    };
    loop {
        std::thread::sleep(REFRESH);
        let Ok(text) = std::fs::read_to_string(state_dir.join("fence-names.json")) else {
            return Ok(());
        };
        let Ok(n) = serde_json::from_str::<Names>(&text) else {
            return Ok(());
        };
        let Some(holder) = holders
            .iter()
            .copied()
            .find(|h| h.name() == n.holder || n.holder.is_empty() && *h == HOST)
        else {
            return Ok(());
        };
        if !table_exists(holder, &n.table) {
            return Ok(());
        }
        let families: Vec<&str> = n.families.iter().map(String::as_str).collect();
        let elements = rules::name_elements(&n.table, &families, &resolve(&n.names));
        if !elements.is_empty() {
            let _ = apply(holder, &elements);
        }
    }
}
