//! The fence's meaning for one destination, as a question a program on the host can ask:
//! may the guest open a connection to this address and port? The credential broker asks it
//! for every address it connects to on a guest's behalf, after resolving the name, so the
//! broker is no way round the fence (a name that resolves to a LAN address stays closed).
//!
//! Pure, and kept in step with `rules` (the nftables text) by the tests below: the same
//! closed ranges, the host's own addresses open only at `host:PORT`, `EGRESS_ALLOW` entries
//! opening their address (or name) and port on top of `EGRESS`.

use super::rules::{Policy, CLOSED_V4, CLOSED_V6};
use crate::config::{AllowTarget, Egress};
use ipnet::IpNet;
use std::net::IpAddr;
use std::sync::OnceLock;

fn closed() -> &'static [IpNet] {
    static CLOSED: OnceLock<Vec<IpNet>> = OnceLock::new();
    CLOSED.get_or_init(|| {
        CLOSED_V4
            .iter()
            .chain(CLOSED_V6)
            .map(|n| n.parse().expect("the fence's own ranges parse"))
            .collect()
    })
}

/// An IPv4 address written as IPv6 (`::ffff:10.0.0.1`) is that IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

fn port_ok(want: Option<u16>, port: u16) -> bool {
    want.map_or(true, |p| p == port)
}

/// `name` as the fence compares it: lowercase, without a final dot.
fn plain(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl Policy {
    /// Whether the guest may connect to `port` on the host itself (any of its addresses).
    pub fn opens_host_port(&self, port: u16) -> bool {
        self.egress == Egress::Open
            || self
                .allow
                .iter()
                .any(|a| a.target == AllowTarget::Host && port_ok(a.port, port))
    }

    /// Whether the guest may connect to `ip:port`, reached by the host name `name` when it
    /// was asked for by one. `host_addrs` must hold every address of the host (the broker's
    /// own view); the guest's own loopback is never the host's, so loopback is closed.
    pub fn allows(&self, ip: IpAddr, port: u16, name: Option<&str>) -> bool {
        let ip = canonical(ip);
        if ip.is_loopback() || ip.is_unspecified() {
            return false;
        }
        let wanted = name.map(plain);
        let entry_opens = |to_host: bool| {
            self.allow.iter().any(|a| {
                port_ok(a.port, port)
                    && match &a.target {
                        AllowTarget::Host => to_host,
                        AllowTarget::Net(n) if !to_host => n
                            .parse::<IpNet>()
                            .map(|net| net.contains(&ip))
                            .or_else(|_| n.parse::<IpAddr>().map(|a| canonical(a) == ip))
                            .unwrap_or(false),
                        AllowTarget::Name(n) if !to_host => wanted.as_deref() == Some(n),
                        _ => false,
                    }
            })
        };
        // the host itself: only at `host:PORT`, whatever else is allowed
        if self.host_addrs.iter().any(|h| canonical(*h) == ip) {
            return self.opens_host_port(port);
        }
        match self.egress {
            Egress::Open => true,
            _ if entry_opens(false) => true,
            // the fixed ranges, and the host's own networks whatever their range
            Egress::Internet => !closed().iter().chain(&self.lan).any(|n| n.contains(&ip)),
            Egress::None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::validate::parse_allow;

    fn policy(egress: Egress, allow: &[&str]) -> Policy {
        Policy {
            egress,
            allow: allow.iter().map(|a| parse_allow(a).unwrap()).collect(),
            host_addrs: vec![
                "203.0.113.1".parse().unwrap(),
                "10.138.7.1".parse().unwrap(),
            ],
            lan: vec!["192.0.2.0/24".parse().unwrap()],
            dns_port: 10053,
            services: Vec::new(),
        }
    }

    #[test]
    fn the_hosts_own_network_is_closed_whatever_its_range() {
        let p = policy(Egress::Internet, &[]);
        assert!(
            !p.allows(ip("192.0.2.7"), 443, None),
            "the LAN the host is on"
        );
        assert!(
            p.allows(ip("198.51.100.9"), 443, None),
            "an address past a gateway"
        );
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn internet_is_public_addresses_only() {
        let p = policy(Egress::Internet, &[]);
        assert!(p.allows(ip("203.0.113.2"), 443, Some("api.example.com")));
        assert!(p.allows(ip("2001:db8::5"), 443, None));
        for closed in [
            "192.168.1.10",
            "10.0.0.1",
            "172.16.5.5",
            "100.100.1.1",
            "169.254.169.254",
            "127.0.0.1",
            "::1",
            "fd00::1",
            "::ffff:192.168.1.10",
            "0.0.0.0",
        ] {
            assert!(
                !p.allows(ip(closed), 443, Some("looks.public.example")),
                "{closed}"
            );
        }
        // every address of the host, whatever range it is in
        assert!(!p.allows(ip("203.0.113.1"), 443, None));
    }

    #[test]
    fn none_opens_only_what_is_allowed_by_address_or_name() {
        let p = policy(
            Egress::None,
            &["api.example.com:443", "192.168.1.10:445", "host:11434"],
        );
        assert!(!p.allows(ip("203.0.113.2"), 443, None));
        assert!(p.allows(ip("203.0.113.2"), 443, Some("API.example.com.")));
        assert!(!p.allows(ip("203.0.113.2"), 80, Some("api.example.com")));
        assert!(!p.allows(ip("203.0.113.2"), 443, Some("other.example.com")));
        assert!(p.allows(ip("192.168.1.10"), 445, None));
        assert!(!p.allows(ip("192.168.1.10"), 22, None));
        assert!(p.allows(ip("10.138.7.1"), 11434, None), "host:PORT");
        assert!(!p.allows(ip("10.138.7.1"), 22, None));
        // still never loopback, even through a name
        assert!(!p.allows(ip("127.0.0.1"), 443, Some("api.example.com")));
    }

    #[test]
    fn open_is_everything_but_the_hosts_loopback() {
        let p = policy(Egress::Open, &[]);
        assert!(p.allows(ip("192.168.1.10"), 22, None));
        assert!(p.allows(ip("10.138.7.1"), 22, None));
        assert!(!p.allows(ip("127.0.0.1"), 22, None));
    }

    /// The ranges mean what the nftables rules close: each one is in the script, and its
    /// first address is closed here.
    #[test]
    fn closes_what_the_rules_close() {
        let net = super::super::net::GuestNet {
            bridge: "b".into(),
            subnet: "10.138.7.0/24".parse().unwrap(),
            lan_tap: None,
        };
        let p = policy(Egress::Internet, &[]);
        let script = super::super::rules::script("t", "c", &net, &p);
        for n in CLOSED_V4.iter().chain(CLOSED_V6) {
            assert!(script.contains(n), "{n}");
            let first: IpNet = n.parse().unwrap();
            assert!(!p.allows(first.network(), 443, None), "{n}");
        }
    }
}
