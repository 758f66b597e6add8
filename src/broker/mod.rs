//! The credential broker: secrets never enter the guest.
//!
//! `SECRETS=GITHUB_TOKEN@github.com,...` binds each secret to the hosts it may be sent to.
//! The guest gets a placeholder for each (`placeholder`), the proxy variables and a CA of
//! its own (`guest`); a process on the host, one per guest, run as the person who runs tmpl
//! (`daemon`), listens on the guest's gateway and puts the values (`values`: the person's
//! environment or their own file, never the project) into requests to those hosts only
//! (`rewrite`, `proxy`). It connects only where the guest itself may (`gate`), terminates
//! TLS only for hosts that own a secret, with certificates from the guest's CA (`ca`), and
//! logs every request it looked into, never a value (`record`).
//!
//! Its life follows the guest's: `up` starts it (and starts it again when it is gone, its
//! settings or values changed, or a person's Podman moved the guest to a new network
//! namespace), `stop` and `rm` end it, `status` shows it, `doctor` and `gc` find one whose
//! guest is gone.

pub mod ca;
pub mod daemon;
pub mod gate;
pub mod guest;
pub mod placeholder;
pub mod proxy;
pub mod record;
pub mod rewrite;
mod running;
pub mod spec;
pub mod values;

pub use daemon::{all, end_found, Found};

use crate::fence::net::GuestNet;
use crate::fence::Holder;
use crate::process::Cmd;
use crate::project::Loaded;
use anyhow::Result;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

/// The broker's port on each guest's gateway (each guest has a gateway of its own, so they
/// never collide).
pub const PORT: u16 = 3128;

/// The guest's own services on its gateway that its fence opens to it: the broker's port
/// when the settings name secrets.
pub fn services(config: &crate::config::Config) -> Vec<u16> {
    if config.secrets.is_empty() {
        Vec::new()
    } else {
        vec![PORT]
    }
}

/// The project's broker folder: its CA, placeholders, log, lock and record.
pub fn dir(state_dir: &Path) -> PathBuf {
    state_dir.join("broker")
}

/// Random bytes of the guest's own, mixed into the fingerprint of the values.
fn salt(dir: &Path) -> Result<Vec<u8>> {
    let path = dir.join("salt");
    if let Ok(s) = std::fs::read(&path) {
        if s.len() == 32 {
            return Ok(s);
        }
    }
    let mut s = vec![0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut s)?;
    crate::atomic::write(&path, &s, 0o600)?;
    Ok(s)
}

/// The names `SECRETS` binds, in order, and the hosts it names, sorted.
fn bindings(loaded: &Loaded) -> (Vec<String>, Vec<String>) {
    let mut names: Vec<String> = Vec::new();
    let mut hosts: Vec<String> = Vec::new();
    for s in &loaded.config.secrets {
        if !names.contains(&s.name) {
            names.push(s.name.clone());
        }
        if !hosts.contains(&s.host) {
            hosts.push(s.host.clone());
        }
    }
    hosts.sort();
    (names, hosts)
}

/// What the guest is given, from the broker's folder (no values needed).
fn side_of(loaded: &Loaded, gateway: IpAddr, ca_pem: String) -> Result<guest::Side> {
    let d = dir(&loaded.id.state_dir);
    let (names, _) = bindings(loaded);
    let placeholders = placeholder::for_names(&d, names.iter().map(String::as_str))?;
    let mut git_hosts: Vec<(String, String)> = Vec::new();
    for s in &loaded.config.secrets {
        if !git_hosts.iter().any(|(h, _)| *h == s.host) {
            git_hosts.push((s.host.clone(), placeholders[&s.name].clone()));
        }
    }
    Ok(guest::Side {
        proxy: format!("http://{gateway}:{PORT}"),
        ca_pem,
        placeholders: names
            .iter()
            .map(|n| (n.clone(), placeholders[n].clone()))
            .collect(),
        git_hosts,
    })
}

/// The guest's side as it stands, for a guest brought back without `up` (a snapshot).
pub fn side(loaded: &Loaded, net: &GuestNet) -> Result<Option<guest::Side>> {
    if loaded.config.secrets.is_empty() {
        return Ok(None);
    }
    let d = dir(&loaded.id.state_dir);
    let Ok(ca_pem) = std::fs::read_to_string(d.join("ca.pem")) else {
        return Ok(None);
    };
    Ok(Some(side_of(loaded, net.gateway().into(), ca_pem)?))
}

/// Makes the guest's broker run as the settings say, with the values as they are now: starts
/// it, or starts it again when it is gone, anything changed, or it is not where the guest's
/// network is any more. `None` when the project has no secrets (a broker that ran is ended).
/// `config_dir`: the person's tmpl config folder (`values`).
pub fn ensure(
    loaded: &Loaded,
    net: &GuestNet,
    holder: Holder,
    config_dir: &Path,
    phases: &mut crate::timing::Phases,
) -> Result<Option<guest::Side>> {
    let state = &loaded.id.state_dir;
    let d = dir(state);
    if loaded.config.secrets.is_empty() {
        stop(state);
        return Ok(None);
    }
    crate::ssh::private_dir(&d)?;
    let (names, hosts) = bindings(loaded);
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let values = values::read(&name_refs, config_dir)?;
    let (ca_pem, ca_key) = ca::ensure(&d, &loaded.id.slug, &hosts)?;
    let side = side_of(loaded, net.gateway().into(), ca_pem.clone())?;
    let secrets: Vec<rewrite::Secret> = side
        .placeholders
        .iter()
        .map(|(name, placeholder)| rewrite::Secret {
            name: name.clone(),
            hosts: loaded
                .config
                .secrets
                .iter()
                .filter(|s| s.name == *name)
                .map(|s| s.host.clone())
                .collect(),
            placeholder: placeholder.clone(),
            value: values[name].clone(),
        })
        .collect();
    let c = &loaded.config;
    // the guest's own fence, as `up` writes it: the broker connects nowhere it may not
    let mut policy = crate::fence::policy(
        c.egress,
        &c.egress_allow,
        &crate::fence::lan::read(),
        holder.host_is_remote(),
        &[],
    );
    policy.host_addrs.push(net.gateway().into());
    let mut spec = spec::Spec {
        dir: d.clone(),
        listen: SocketAddr::new(net.gateway().into(), PORT),
        clients: net.subnet,
        fence: spec::Fence::from_policy(&policy),
        secrets,
        leaves: Vec::new(),
    };
    // the host's own addresses change as other guests come and go: not a reason to cut this
    // guest's connections (the broker reads where it runs its own view of them anyway)
    let mut compared = spec.clone();
    compared.fence.host_addrs.clear();
    let mut hash = Sha256::new();
    hash.update(salt(&d)?);
    hash.update(serde_json::to_vec(&compared)?);
    let fingerprint: String = hash
        .finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect();
    let now = running::read(&d);
    let same = now.as_ref().is_some_and(|r| r.fingerprint == fingerprint);
    if same && daemon::alive(&d) && (!holder.may_vanish() || listens(holder, spec.listen)) {
        return Ok(Some(side));
    }
    phases.run(
        "broker",
        "starting the credential broker",
        || -> Result<()> {
            stop(state);
            spec.leaves = ca::leaves(&loaded.id.slug, &hosts, &ca_pem, &ca_key)?;
            let me = std::env::current_exe()?;
            let pid = daemon::start(
                holder.enter(Cmd::new(me).args(["__broker", "start"])),
                &spec,
            )?;
            let record = running::Running {
                pid,
                listen: spec.listen,
                fingerprint,
                infra: c.infra_type.clone(),
            };
            running::write(&d, &record)
        },
    )?;
    Ok(Some(side))
}

/// Whether the broker answers where the guest's network is now.
fn listens(holder: Holder, addr: SocketAddr) -> bool {
    let Ok(me) = std::env::current_exe() else {
        return false;
    };
    holder
        .enter(
            Cmd::new(me)
                .args(["__broker", "probe"])
                .arg(addr.to_string()),
        )
        .output()
        .is_ok_and(|o| o.success())
}

/// Ends the project's broker, if one runs; says what it ended.
pub fn stop(state_dir: &Path) -> Option<String> {
    let d = dir(state_dir);
    let r = running::read(&d)?;
    let was = daemon::alive(&d);
    daemon::end(r.pid, &d);
    running::forget(&d);
    was.then(|| format!("credential broker (pid {})", r.pid))
}

/// What `status` says of the broker, for a project with secrets.
pub fn describe(loaded: &Loaded) -> Option<String> {
    let c = &loaded.config;
    if c.secrets.is_empty() {
        return None;
    }
    let uses: Vec<String> = c.secrets.iter().map(|s| s.to_string()).collect();
    let d = dir(&loaded.id.state_dir);
    Some(match running::read(&d).filter(|_| daemon::alive(&d)) {
        Some(r) => format!(
            "running (pid {}) at {} for {}",
            r.pid,
            r.listen,
            uses.join(",")
        ),
        None => format!("not running (`tmpl up` starts it) for {}", uses.join(",")),
    })
}
