//! Each guest's own network, so the fence has one host interface to hold: a libvirt NAT
//! network for a VM, a Podman bridge network for a container. Its bridge is named after the
//! project (`tmplv<hash>`, `tmplc<hash>`), so rules keyed on the name hold before the bridge
//! exists and again after libvirt or Podman re-creates it.
//!
//! The /24 comes from `10.137.0.0/16` (VMs) or `10.138.0.0/16` (containers), picked once from
//! the slug's hash past the ones in use, and kept in the project's state (`network.json`);
//! with `FIXED_IP` it is the address's own /24.

use anyhow::Result;
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::net::Ipv4Addr;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestNet {
    /// The host side of the guest's link: a bridge only this guest is on.
    pub bridge: String,
    pub subnet: Ipv4Net,
    /// With `NETWORK_TYPE=bridge`, the VM's tap on the LAN bridge (see `tap_name`); decided
    /// by the settings at each `up`, never recorded.
    #[serde(skip)]
    pub lan_tap: Option<LanTap>,
}

/// A bridged VM's NIC on the LAN bridge, as the host sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LanTap {
    pub name: String,
    /// The MAC libvirt gave the NIC; frames from the tap with another are dropped.
    pub mac: String,
}

impl GuestNet {
    /// The host's address on the guest's network (DHCP and DNS are served there).
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.subnet.network()) + 1)
    }

    /// The range DHCP hands out (the gateway and a fixed address are outside it).
    pub fn dhcp_range(&self) -> (Ipv4Addr, Ipv4Addr) {
        let n = u32::from(self.subnet.network());
        (Ipv4Addr::from(n + 100), Ipv4Addr::from(n + 254))
    }
}

/// The networks of one driver's guests: the bridge names' prefix and the /16 their /24s
/// come from (`10.<second>.0.0/16`). Each driver that gives guests a network of their own
/// has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    pub bridge_prefix: &'static str,
    pub second_octet: u8,
}

impl Kind {
    fn prefix(self) -> (&'static str, u8) {
        (self.bridge_prefix, self.second_octet)
    }
}

pub fn hash8(slug: &str) -> String {
    Sha256::digest(slug.as_bytes())
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn bridge_name(kind: Kind, slug: &str) -> String {
    format!("{}{}", kind.prefix().0, hash8(slug))
}

/// A bridged VM's tap on the LAN bridge.
pub fn tap_name(slug: &str) -> String {
    format!("tmplb{}", hash8(slug))
}

const FILE: &str = "network.json";

/// The network recorded for the project, if `up` made one.
pub fn recorded(state_dir: &Path) -> Option<GuestNet> {
    let text = std::fs::read_to_string(state_dir.join(FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

/// The project's network: the recorded one, or a new one whose /24 no other project and no
/// route of the host's uses. Taken under a host lock, so two `up`s never pick the same one.
pub fn allocate(
    state_root: &Path,
    state_dir: &Path,
    slug: &str,
    kind: Kind,
    fixed_ip: Option<Ipv4Addr>,
) -> Result<GuestNet> {
    let bridge = bridge_name(kind, slug);
    let wanted = fixed_ip.map(|ip| Ipv4Net::new(ip, 24).expect("24 is a prefix").trunc());
    if let Some(net) = recorded(state_dir) {
        if net.bridge == bridge && wanted.map_or(true, |w| w == net.subnet) {
            return Ok(net);
        }
    }
    let _host =
        crate::lock::Lock::acquire(state_root, "host-subnets", "the choice of subnets", true)?;
    let subnet = match wanted {
        Some(w) => w,
        None => {
            let mut used = crate::ip::v4_routes();
            used.extend(recorded_elsewhere(state_root, state_dir));
            pick(kind, slug, &used)
        }
    };
    let net = GuestNet {
        bridge,
        subnet,
        lan_tap: None,
    };
    crate::atomic::write(
        &state_dir.join(FILE),
        &serde_json::to_vec_pretty(&net)?,
        0o600,
    )?;
    Ok(net)
}

/// Forgets the project's network (`rm`).
pub fn forget(state_dir: &Path) {
    let _ = std::fs::remove_file(state_dir.join(FILE));
}

/// The first free /24 in the kind's range, starting from where the slug's hash points.
pub fn pick(kind: Kind, slug: &str, used: &[Ipv4Net]) -> Ipv4Net {
    let second = kind.prefix().1;
    let start = u32::from_str_radix(&hash8(slug), 16).unwrap_or(0) % 254;
    (0..254u32)
        .map(|i| (start + i) % 254 + 1)
        .map(|third| {
            Ipv4Net::new(Ipv4Addr::new(10, second, third as u8, 0), 24).expect("24 is a prefix")
        })
        .find(|n| !used.iter().any(|u| u.contains(n) || n.contains(u)))
        // every /24 taken: 254 guests of one kind on one host; libvirt or Podman then says so
        .unwrap_or_else(|| Ipv4Net::new(Ipv4Addr::new(10, second, 1, 0), 24).expect("24"))
}

/// The subnets other projects of this user have recorded (their guests may be stopped, so
/// their bridges are not in the routes).
fn recorded_elsewhere(state_root: &Path, own: &Path) -> Vec<Ipv4Net> {
    let Ok(entries) = std::fs::read_dir(state_root) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p != own)
        .filter_map(|p| recorded(&p))
        .map(|n| n.subnet)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const VMS: Kind = Kind {
        bridge_prefix: "tmplv",
        second_octet: 137,
    };
    const CONTAINERS: Kind = Kind {
        bridge_prefix: "tmplc",
        second_octet: 138,
    };

    #[test]
    fn names_fit_an_interface_and_differ_by_kind() {
        let v = bridge_name(VMS, "app-0123abcd");
        let c = bridge_name(CONTAINERS, "app-0123abcd");
        assert_eq!(v.len(), 13);
        assert!(v.starts_with("tmplv") && c.starts_with("tmplc"));
        assert_eq!(v[5..], c[5..]);
    }

    #[test]
    fn picks_past_what_is_used() {
        let first = pick(CONTAINERS, "x-1", &[]);
        assert_eq!(first.prefix_len(), 24);
        assert_eq!(first.network().octets()[..2], [10, 138]);
        let second = pick(CONTAINERS, "x-1", &[first]);
        assert_ne!(first, second);
        // a wider route covering the range blocks all of it but the fallback
        let all: Ipv4Net = "10.138.0.0/16".parse().unwrap();
        assert_eq!(
            pick(CONTAINERS, "x-1", &[all]).network(),
            Ipv4Addr::new(10, 138, 1, 0)
        );
        let n = GuestNet {
            bridge: "b".into(),
            subnet: "10.137.5.0/24".parse().unwrap(),
            lan_tap: None,
        };
        assert_eq!(n.gateway(), Ipv4Addr::new(10, 137, 5, 1));
    }
}
