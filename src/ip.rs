//! The host's addresses and routes, from iproute2's JSON (`ip -j`) read into typed values,
//! not from its text, whose columns move between versions. A leaf: it runs `ip` and knows
//! nothing of guests, backends or commands.

use ipnet::{IpNet, Ipv4Net};
use serde::Deserialize;
use std::net::{IpAddr, Ipv4Addr};

/// An interface and its addresses (`ip -j address`).
#[derive(Debug, Deserialize)]
pub struct Link {
    pub ifname: String,
    #[serde(default)]
    pub addr_info: Vec<Addr>,
}

#[derive(Debug, Deserialize)]
pub struct Addr {
    /// Absent in the odd entry iproute2 prints for an address going away.
    pub local: Option<IpAddr>,
    #[serde(default)]
    pub prefixlen: u8,
}

impl Addr {
    /// The IPv4 network the address is on (`192.168.1.7/24` is on `192.168.1.0/24`).
    pub fn v4_network(&self) -> Option<Ipv4Net> {
        match self.local? {
            IpAddr::V4(a) => Ipv4Net::new(a, self.prefixlen).ok().map(|n| n.trunc()),
            IpAddr::V6(_) => None,
        }
    }
}

/// A route (`ip -j route`): its destination is `default`, a network, or a lone address.
#[derive(Debug, Deserialize)]
struct Route {
    dst: String,
}

/// A route of any table as `ip -j route show table all` prints it, with what says how the
/// host reaches its destination: straight on a link, or through a gateway.
#[derive(Debug, Deserialize)]
struct AnyRoute {
    dst: String,
    /// `unicast` when absent; `local`, `broadcast`, `unreachable`, `blackhole`, ...
    #[serde(rename = "type")]
    kind: Option<String>,
    gateway: Option<IpAddr>,
    /// A multipath route's hops, each through a gateway of its own.
    #[serde(default)]
    nexthops: Vec<serde_json::Value>,
    #[serde(default)]
    dev: String,
}

/// A destination the host sends to, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRoute {
    pub dst: IpNet,
    /// Through a gateway (`via`), rather than on a link of the host's own.
    pub via_gateway: bool,
    pub dev: String,
}

/// The host's unicast routes in every table, both families, leaving out default routes.
pub fn host_routes() -> Vec<HostRoute> {
    let mut out = Vec::new();
    for family in ["-4", "-6"] {
        let routes: Vec<AnyRoute> =
            ip_json(&[family, "route", "show", "table", "all"]).unwrap_or_default();
        out.extend(unicast(&routes));
    }
    out
}

fn unicast(routes: &[AnyRoute]) -> Vec<HostRoute> {
    routes
        .iter()
        .filter(|r| r.kind.as_deref().map_or(true, |k| k == "unicast"))
        .filter_map(|r| {
            let dst = r.dst.parse::<IpNet>().ok().or_else(|| {
                let a: IpAddr = r.dst.parse().ok()?;
                Some(IpNet::from(a))
            })?;
            Some(HostRoute {
                dst,
                via_gateway: r.gateway.is_some() || !r.nexthops.is_empty(),
                dev: r.dev.clone(),
            })
        })
        .collect()
}

/// Runs `ip -j ARGS`; nothing when `ip` is missing or fails.
fn ip_json<T: serde::de::DeserializeOwned>(args: &[&str]) -> Option<T> {
    let text = crate::process::Cmd::new("ip")
        .arg("-j")
        .args(args)
        .read()
        .ok()?;
    serde_json::from_str(&text).ok()
}

/// Every interface with its addresses, or one interface's.
pub fn links(dev: Option<&str>) -> Vec<Link> {
    let mut args = vec!["address", "show"];
    args.extend(dev.map(|d| ["dev", d]).into_iter().flatten());
    ip_json(&args).unwrap_or_default()
}

/// The host's IPv4 routes as networks, leaving out the default route.
pub fn v4_routes() -> Vec<Ipv4Net> {
    let routes: Vec<Route> = ip_json(&["-4", "route", "show"]).unwrap_or_default();
    destinations(&routes)
}

fn destinations(routes: &[Route]) -> Vec<Ipv4Net> {
    routes
        .iter()
        .filter(|r| r.dst != "default")
        .filter_map(|r| {
            r.dst.parse::<Ipv4Net>().ok().or_else(|| {
                let a: Ipv4Addr = r.dst.parse().ok()?;
                Some(Ipv4Net::from(a))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_their_networks_are_read() {
        let text = r#"[{"ifindex":1,"ifname":"lo","addr_info":[
            {"family":"inet","local":"127.0.0.1","prefixlen":8,"scope":"host"},
            {"family":"inet6","local":"::1","prefixlen":128}]},
          {"ifindex":2,"ifname":"eth0","addr_info":[
            {"family":"inet","local":"192.168.1.7","prefixlen":24},{}]},
          {"ifindex":3,"ifname":"ifb0","addr_info":[]}, {"ifindex":4,"ifname":"x"}]"#;
        let links: Vec<Link> = serde_json::from_str(text).unwrap();
        let locals: Vec<String> = links
            .iter()
            .flat_map(|l| &l.addr_info)
            .filter_map(|a| a.local)
            .map(|a| a.to_string())
            .collect();
        assert_eq!(locals, ["127.0.0.1", "::1", "192.168.1.7"]);
        let eth0 = &links[1];
        assert_eq!(eth0.ifname, "eth0");
        assert_eq!(
            eth0.addr_info[0].v4_network().unwrap().to_string(),
            "192.168.1.0/24"
        );
        assert_eq!(links[0].addr_info[1].v4_network(), None, "IPv6");
    }

    #[test]
    #[cfg_attr(
        not(feature = "host-tools"),
        ignore = "needs the tools `make setup` installs: `cargo test --features host-tools`"
    )]
    fn the_hosts_own_ip_is_read() {
        let lo = links(Some("lo"));
        assert_eq!(lo.len(), 1, "{lo:?}");
        assert!(lo[0]
            .addr_info
            .iter()
            .any(|a| a.v4_network() == Some("127.0.0.0/8".parse().unwrap())));
    }

    #[test]
    fn connected_and_gateway_routes_are_told_apart() {
        let text = r#"[{"dst":"default","gateway":"192.0.2.1","dev":"eth0"},
            {"dst":"192.0.2.0/24","dev":"eth0","protocol":"kernel","scope":"link"},
            {"dst":"203.0.113.0/24","gateway":"198.51.100.2","dev":"v0"},
            {"dst":"198.18.0.0/15","nexthops":[{"gateway":"10.0.0.1","dev":"a"}]},
            {"type":"local","dst":"192.0.2.2","dev":"eth0","table":"local"},
            {"type":"unreachable","dst":"10.9.0.0/16","dev":"lo"},
            {"dst":"2001:db8:5::/64","dev":"eth1"}]"#;
        let routes: Vec<AnyRoute> = serde_json::from_str(text).unwrap();
        let got: Vec<(String, bool)> = unicast(&routes)
            .iter()
            .map(|r| (r.dst.to_string(), r.via_gateway))
            .collect();
        assert_eq!(
            got,
            [
                ("192.0.2.0/24".into(), false),
                ("203.0.113.0/24".into(), true),
                ("198.18.0.0/15".into(), true),
                ("2001:db8:5::/64".into(), false),
            ]
        );
    }

    #[test]
    fn routes_are_networks_and_lone_addresses() {
        let text = r#"[{"dst":"default","gateway":"192.0.2.1","dev":"eth0"},
            {"dst":"192.0.2.0/24","dev":"eth0","prefsrc":"192.0.2.2"},
            {"dst":"100.64.0.9","dev":"tailscale0"}]"#;
        let routes: Vec<Route> = serde_json::from_str(text).unwrap();
        let nets: Vec<String> = destinations(&routes)
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(nets, ["192.0.2.0/24", "100.64.0.9/32"]);
    }
}
