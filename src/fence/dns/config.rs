//! What one guest's resolver serves (`dns.json` in its folder), and where it asks.

use serde::{Deserialize, Serialize};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

/// What one resolver serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The guest network's gateway.
    pub listen: Ipv4Addr,
    pub port: u16,
    /// Every name is forwarded (`internet`, `open`), or only `names` (`none`).
    pub all_names: bool,
    /// `EGRESS_ALLOW`'s names, lower case, each with its port.
    pub names: Vec<(String, Option<u16>)>,
    /// `host.tmpl.internal`'s address, where the gateway is the host.
    pub host: Option<Ipv4Addr>,
    /// The fence's table, and the families it has tables in (`inet`, `bridge`).
    pub table: String,
    pub families: Vec<String>,
    /// Where names are asked; empty: the nameservers of `/etc/resolv.conf` where it runs.
    pub upstream: Vec<SocketAddr>,
    /// A network namespace that can be replaced under it (a person's rootless Podman's):
    /// it exits once this file names another one.
    pub netns_file: Option<PathBuf>,
    /// Its folder: `dns.json`, `dns.lock`, `dns.pid`.
    pub state: PathBuf,
}

/// The upstream tests choose (`TMPL_DNS_UPSTREAM=ADDR:PORT,...`): a stand-in resolver in a
/// namespace of the test's, never the host's real one.
pub fn upstream_from_env() -> Vec<SocketAddr> {
    std::env::var("TMPL_DNS_UPSTREAM")
        .unwrap_or_default()
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

/// The nameservers of a `resolv.conf`, on port 53.
pub fn nameservers(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|a| a.trim().parse::<std::net::IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

/// The inode of a network namespace file (`/proc/self/ns/net`, a bind-mounted netns).
pub fn netns_inode(path: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| m.ino())
}
