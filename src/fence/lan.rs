//! The LAN is whatever the host is on: every network the host reaches without a gateway (its
//! connected networks, both families), whatever its range, is closed under `internet`, and so
//! are the documentation ranges unless the host routes them through a gateway. Read from the
//! host's routes at each `up` (and by the libvirt hook at each start), because a host's LAN
//! is not always RFC 1918: a home server on a public /24, a test bench on 192.0.2.0/24.
//!
//! Pure but for `read`: from the host's routes to the networks the fence closes on top of the
//! fixed list in `rules`.

use super::rules::{CLOSED_V4, CLOSED_V6};
use crate::ip::HostRoute;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// The documentation ranges (RFC 5737, RFC 3849): routed nowhere on the internet, so a host
/// that reaches one does so on a network of its own.
pub const DOC: &[&str] = &[
    "192.0.2.0/24",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "2001:db8::/32",
];

/// One network the fence closes beyond the fixed ranges, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Closed {
    pub net: IpNet,
    /// `eth0` (a network on that link of the host's), or `documentation range`.
    pub why: String,
}

impl std::fmt::Display for Closed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.net, self.why)
    }
}

fn fixed() -> Vec<IpNet> {
    CLOSED_V4
        .iter()
        .chain(CLOSED_V6)
        .filter_map(|n| n.parse().ok())
        .collect()
}

fn overlap(a: &IpNet, b: &IpNet) -> bool {
    a.contains(b) || b.contains(a)
}

/// What the host's routes add to the closed ranges: each connected network the fixed list
/// does not already cover, then each documentation range no gateway route leads into.
pub fn closed(routes: &[HostRoute]) -> Vec<Closed> {
    let fixed = fixed();
    let mut out: Vec<Closed> = Vec::new();
    for r in routes.iter().filter(|r| !r.via_gateway) {
        let net = r.dst.trunc();
        let covered = |n: &IpNet| fixed.iter().any(|f| f.contains(n));
        if covered(&net) || out.iter().any(|c| c.net.contains(&net)) {
            continue;
        }
        out.retain(|c| !net.contains(&c.net));
        out.push(Closed {
            net,
            why: if r.dev.is_empty() {
                "a network of the host's".into()
            } else {
                r.dev.clone()
            },
        });
    }
    for doc in DOC.iter().filter_map(|d| d.parse::<IpNet>().ok()) {
        let routed = routes
            .iter()
            .any(|r| r.via_gateway && overlap(&r.dst, &doc));
        if routed || out.iter().any(|c| c.net.contains(&doc)) {
            continue;
        }
        out.push(Closed {
            net: doc,
            why: "documentation range".into(),
        });
    }
    out.sort_by_key(|c| (c.net.addr().is_ipv6(), c.net));
    out
}

/// The host's routes now, and what they close.
pub fn read() -> Vec<Closed> {
    closed(&crate::ip::host_routes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(dst: &str, via: bool, dev: &str) -> HostRoute {
        HostRoute {
            dst: dst.parse().unwrap(),
            via_gateway: via,
            dev: dev.into(),
        }
    }

    fn nets(c: &[Closed]) -> Vec<String> {
        c.iter().map(|c| c.net.to_string()).collect()
    }

    #[test]
    fn a_lan_on_any_range_is_closed_and_the_private_ones_are_not_repeated() {
        let c = closed(&[
            route("192.0.2.0/24", false, "eth0"),
            route("10.137.6.0/24", false, "tmplv1"),
            route("81.2.69.0/26", false, "eth1"),
            route("81.2.69.5/32", false, "eth1"),
            route("2a02:db8:1::/64", false, "eth0"),
            route("fe80::/64", false, "eth0"),
        ]);
        assert_eq!(
            nets(&c),
            [
                "81.2.69.0/26",
                "192.0.2.0/24",
                "198.51.100.0/24",
                "203.0.113.0/24",
                "2001:db8::/32",
                "2a02:db8:1::/64"
            ]
        );
        assert_eq!(c[1].to_string(), "192.0.2.0/24 (eth0)");
        assert_eq!(c[2].why, "documentation range");
    }

    #[test]
    fn a_documentation_range_behind_a_gateway_stays_open_but_not_its_connected_part() {
        let c = closed(&[
            route("198.51.100.0/24", false, "v0"),
            route("203.0.113.0/24", true, "v0"),
            route("192.0.2.128/25", true, "v1"),
            route("192.0.2.0/26", false, "v2"),
        ]);
        assert_eq!(
            nets(&c),
            ["192.0.2.0/26", "198.51.100.0/24", "2001:db8::/32"]
        );
    }
}
