//! The validated, typed settings of a project. Everything downstream (rendering, backends,
//! provisioning) takes a `Config` and never looks at `.env` text again.

use serde::Serialize;
use std::fmt;
use std::net::Ipv4Addr;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        })
    }
}

/// One forwarded port: `host_ip:host_port` on the host reaches `guest_port` in the guest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortForward {
    pub host_ip: Ipv4Addr,
    pub host_port: u16,
    pub guest_port: u16,
    pub protocol: Protocol,
}

impl fmt::Display for PortForward {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}/{}",
            self.host_ip, self.host_port, self.guest_port, self.protocol
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Network {
    /// NAT: libvirt's `default` network, or Podman's default bridge.
    Default,
    /// The guest on the host's LAN through this host interface.
    Bridge { interface: String },
}

/// `EGRESS`: what the guest may open connections to (see `fence`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Egress {
    /// Public addresses only: no LAN, tailnet, link-local, host or other guest.
    Internet,
    /// Nothing at all; connections the host opens still work.
    None,
    /// No fence (widening: needs approval).
    Open,
}

impl fmt::Display for Egress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Egress::Internet => "internet",
            Egress::None => "none",
            Egress::Open => "open",
        })
    }
}

/// What one `EGRESS_ALLOW` entry lets through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "lowercase")]
pub enum AllowTarget {
    /// An address or network, `192.168.1.10` or `192.168.1.0/24` (IPv4 or IPv6).
    Net(String),
    /// A name resolved on the host when `up` runs and refreshed while the guest runs.
    Name(String),
    /// The host itself (`host:11434`).
    Host,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Allow {
    pub target: AllowTarget,
    /// TCP and UDP to this port only; every port when `None`.
    pub port: Option<u16>,
}

impl fmt::Display for Allow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = match &self.target {
            AllowTarget::Net(n) if n.contains(':') && self.port.is_some() => format!("[{n}]"),
            AllowTarget::Net(n) | AllowTarget::Name(n) => n.clone(),
            AllowTarget::Host => "host".into(),
        };
        match self.port {
            Some(p) => write!(f, "{t}:{p}"),
            None => f.write_str(&t),
        }
    }
}

/// One `SECRETS` entry: the secret `name` may be sent to `host` (see `broker`). The value
/// never comes from `.env`: the guest writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretUse {
    /// The variable the guest sees, set to a placeholder: `ANTHROPIC_API_KEY`.
    pub name: String,
    /// The host whose requests get the real value, lowercase: `api.anthropic.com`.
    pub host: String,
}

impl fmt::Display for SecretUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name, self.host)
    }
}

/// The provisioning step, resolved against the project folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Provision {
    /// As written in `.env`, relative to the project.
    pub relative: PathBuf,
    /// Absolute path inside the project.
    pub path: PathBuf,
    pub kind: ProvisionKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProvisionKind {
    Ansible,
    Script,
}

/// `SYNC`: how the project folder is shared with the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncMode {
    Rw,
    Ro,
}

/// The project folder, shared into the guest (a bind mount for containers, virtiofs for VMs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncFolder {
    pub mode: SyncMode,
    /// The project folder on the host (canonical).
    pub host_path: PathBuf,
    /// Where it appears in the guest: `SYNC_PATH`, or the same path as on the host.
    pub guest_path: String,
}

/// `SESSION`: the terminal multiplexer `tmpl ssh` attaches to in the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Session {
    Tmux,
    Zellij,
}

impl Session {
    pub fn program(self) -> &'static str {
        match self {
            Session::Tmux => "tmux",
            Session::Zellij => "zellij",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Config {
    /// `INFRA_TYPE`: the name of the driver that runs the guest (see `driver::Registry`).
    pub infra_type: String,
    pub memory_mib: u32,
    pub cpus: u32,
    pub disk_gib: u32,
    /// `IMAGE` as written; its driver says what it names (and the default without it).
    pub image: Option<String>,
    pub image_sha256: Option<String>,
    /// `NAME` when set; the folder name otherwise (see `project`).
    pub name: Option<String>,
    pub network: Network,
    pub fixed_ip: Option<Ipv4Addr>,
    pub egress: Egress,
    pub egress_allow: Vec<Allow>,
    /// `SECRETS`: which secret may be sent to which host, through the credential broker.
    pub secrets: Vec<SecretUse>,
    pub ports: Vec<PortForward>,
    pub provision: Option<Provision>,
    /// `SNAPSHOT_BEFORE_PROVISION=yes`: the snapshot `pre-provision` before each run.
    pub snapshot_before_provision: bool,
    /// `None` with `SYNC=none`.
    pub sync: Option<SyncFolder>,
    pub session: Option<Session>,
    /// `PROTECT`: project paths the guest sees read-only (relative to the project).
    pub protect: Vec<PathBuf>,
}
