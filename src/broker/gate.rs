//! Where the broker may connect for a guest: exactly where the guest itself may (the fence's
//! `Policy::allows`, asked of each address after the name is resolved), and never into
//! another guest's network. From the host, the broker's connections go out through the
//! host's own stack, past the other guests' fences (those hold what crosses their bridges),
//! so the networks of tmpl's guests are closed here whatever `EGRESS_ALLOW` says; they are
//! read from the interfaces every few seconds, since guests come and go.

use crate::fence::rules::Policy;
use ipnet::IpNet;
use std::net::IpAddr;
use std::sync::RwLock;
use std::time::Duration;

/// Asked for every address the broker is about to connect to.
pub trait Gate: Send + Sync {
    fn allows(&self, ip: IpAddr, port: u16, name: Option<&str>) -> bool;
}

/// The guest's fence, and the other guests' networks.
pub struct FenceGate {
    pub policy: Policy,
    /// What the broker sees of the host and its guests where it runs, read again every
    /// `REFRESH`: its own addresses (the host's, or a person's namespace's) and the guests'
    /// networks.
    seen: RwLock<Seen>,
}

#[derive(Default, Clone)]
struct Seen {
    local: Vec<IpAddr>,
    guests: Vec<IpNet>,
}

fn look() -> Seen {
    let links = crate::ip::links(None);
    Seen {
        local: links
            .iter()
            .flat_map(|l| &l.addr_info)
            .filter_map(|a| a.local)
            .collect(),
        guests: links
            .iter()
            .filter(|l| is_guest_link(&l.ifname))
            .flat_map(|l| &l.addr_info)
            .filter_map(|a| IpNet::new(a.local?, a.prefixlen).ok().map(|n| n.trunc()))
            .collect(),
    }
}

/// How often the guests' networks are read again.
pub const REFRESH: Duration = Duration::from_secs(5);

/// `tmplv1a2b3c4d`, `tmplc…`, `tmplb…`: the bridges and taps tmpl makes for guests (see
/// `fence::net`), and nothing else that starts with `tmpl`.
pub fn is_guest_link(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("tmpl") else {
        return false;
    };
    let mut chars = rest.chars();
    matches!(chars.next(), Some('v' | 'c' | 'b'))
        && rest.len() == 9
        && chars.all(|c| c.is_ascii_hexdigit())
}

impl FenceGate {
    pub fn new(policy: Policy) -> FenceGate {
        FenceGate {
            policy,
            seen: RwLock::new(look()),
        }
    }

    pub fn refresh(&self) {
        let now = look();
        if let Ok(mut s) = self.seen.write() {
            *s = now;
        }
    }
}

impl Gate for FenceGate {
    fn allows(&self, ip: IpAddr, port: u16, name: Option<&str>) -> bool {
        let seen = self.seen.read().map(|s| s.clone()).unwrap_or_default();
        if seen.local.contains(&ip) && !ip.is_loopback() {
            return self.policy.opens_host_port(port);
        }
        if !self.policy.allows(ip, port, name) {
            return false;
        }
        // the host's own addresses (a guest's gateway among them) were the policy's to judge
        if self.policy.host_addrs.contains(&ip) {
            return true;
        }
        !seen.guests.iter().any(|n| n.contains(&ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Egress;

    #[test]
    fn guest_links_are_tmpls_own() {
        assert!(is_guest_link("tmplv0a1b2c3d"));
        assert!(is_guest_link("tmplc0a1b2c3d"));
        assert!(is_guest_link("tmplb0a1b2c3d"));
        assert!(!is_guest_link("tmplfi0"));
        assert!(!is_guest_link("tmplx0a1b2c3d"));
        assert!(!is_guest_link("eth0"));
    }

    #[test]
    fn another_guests_network_is_closed_even_when_allowed() {
        let gate = FenceGate {
            policy: Policy {
                egress: Egress::Open,
                allow: Vec::new(),
                host_addrs: vec!["10.138.7.1".parse().unwrap()],
                lan: Vec::new(),
                dns_port: 0,
                services: Vec::new(),
            },
            seen: RwLock::new(Seen {
                local: vec!["10.138.7.1".parse().unwrap()],
                guests: vec![
                    "10.138.9.0/24".parse().unwrap(),
                    "10.138.7.0/24".parse().unwrap(),
                ],
            }),
        };
        assert!(!gate.allows("10.138.9.100".parse().unwrap(), 22, None));
        assert!(
            gate.allows("10.138.7.1".parse().unwrap(), 22, None),
            "its own gateway is the host's"
        );
        assert!(gate.allows("203.0.113.9".parse().unwrap(), 443, None));
    }
}
