//! The fence as nftables text: pure, from the guest's network and its policy to one script
//! that `nft -f` applies atomically (the old table goes in the same transaction as the new one
//! arrives, so there is no moment without a fence).
//!
//! Everything is keyed on the guest's host-side bridge, never on the guest's addresses: root
//! in the guest can change its address, its MAC and its routes, but every packet it sends
//! still enters the host through that one interface. The bridge is the guest's alone (see
//! `net`), so the other guests are never on it.
//!
//! The table is `inet` and its chains hook `forward` (to anywhere beyond the host) and `input`
//! (to the host itself, every address of it) ahead of libvirt's and Podman's own rules. A drop
//! in any base chain is final, whatever the others accept, and libvirt and Podman never touch
//! a table they did not make: a restart of either leaves this one in force.

use super::net::{GuestNet, LanTap};
use crate::config::{Allow, AllowTarget, Egress};
use ipnet::IpNet;
use std::fmt::Write as _;
use std::net::IpAddr;

/// Where nothing but the guest's own link may go under `internet`: private, shared (CGNAT
/// and tailnets), link-local and metadata, loopback, multicast and reserved ranges. What the
/// host's own routes add (its LAN, whatever the range, and the documentation ranges) comes
/// in as `Policy::lan` (see `lan`).
pub const CLOSED_V4: &[&str] = &[
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "224.0.0.0/4",
    "240.0.0.0/4",
];
pub const CLOSED_V6: &[&str] = &[
    "::/127",
    "::ffff:0:0/96",
    "64:ff9b:1::/48",
    "fc00::/7",
    "fe80::/10",
    "ff00::/8",
];

/// What the fence lets through, beyond replies to connections the host opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub egress: Egress,
    pub allow: Vec<Allow>,
    /// The host's own addresses, when the fence is not on the host itself but in the
    /// namespace a person's rootless Podman routes through: from there the host is just
    /// another destination (its `input` hook is not this namespace's), so `egress` closes it.
    pub host_addrs: Vec<IpAddr>,
    /// Closed under `internet` on top of the fixed ranges: the host's connected networks and
    /// the documentation ranges it does not route through a gateway (see `lan::closed`).
    pub lan: Vec<IpNet>,
    /// Where the guest's own resolver listens on its gateway (see `dns`): every DNS query
    /// to the gateway goes there, and nowhere else on the host answers DNS.
    pub dns_port: u16,
    /// TCP ports of the guest's own services on its gateway (the credential broker), open
    /// to this guest alone whatever `egress` says, as its DNS is.
    pub services: Vec<u16>,
}

/// An address an `EGRESS_ALLOW` name answered with, the entry's port, and for how many
/// seconds it stays open.
pub type Opened = Vec<(IpAddr, Option<u16>, u64)>;

fn family(a: &str) -> &'static str {
    if a.contains(':') {
        "ip6"
    } else {
        "ip"
    }
}

fn port_match(port: Option<u16>) -> String {
    match port {
        Some(p) => format!(" meta l4proto {{ tcp, udp }} th dport {p}"),
        None => String::new(),
    }
}

/// The accept rules of `EGRESS_ALLOW`, for one chain (`to_host` gets the `host` entries).
fn allow_rules(out: &mut String, policy: &Policy, to_host: bool) {
    for a in &policy.allow {
        match (&a.target, to_host) {
            (AllowTarget::Net(n), _) => {
                let _ = writeln!(
                    out,
                    "    {} daddr {n}{} accept",
                    family(n),
                    port_match(a.port)
                );
            }
            (AllowTarget::Host, true) => {
                let _ = writeln!(out, "   {} accept", port_match(a.port));
            }
            _ => {}
        }
    }
    let has_names = policy
        .allow
        .iter()
        .any(|a| matches!(a.target, AllowTarget::Name(_)));
    if has_names {
        for f in ["4", "6"] {
            let fam = if f == "4" { "ip" } else { "ip6" };
            let _ = writeln!(out, "    {fam} daddr @names{f} accept");
            let _ = writeln!(
                out,
                "    meta l4proto {{ tcp, udp }} {fam} daddr . th dport @names{f}p accept"
            );
        }
    }
}

/// Where the host is a destination beyond the fence (rootless Podman): `host:PORT` entries
/// open those ports on it, then the rest of it is closed, whatever else is allowed.
fn host_rules(out: &mut String, policy: &Policy) {
    for (fam, v4) in [("ip", true), ("ip6", false)] {
        let addrs: Vec<String> = policy
            .host_addrs
            .iter()
            .filter(|a| a.is_ipv4() == v4)
            .map(|a| a.to_string())
            .collect();
        if addrs.is_empty() {
            continue;
        }
        let set = addrs.join(", ");
        for a in &policy.allow {
            if a.target == AllowTarget::Host {
                let _ = writeln!(
                    out,
                    "    {fam} daddr {{ {set} }}{} accept",
                    port_match(a.port)
                );
            }
        }
        let _ = writeln!(out, "    {fam} daddr {{ {set} }} drop");
    }
}

/// The families the fence has tables in: `inet` always, `bridge` for a bridged VM's tap.
pub fn families(net: &GuestNet) -> &'static [&'static str] {
    if net.lan_tap.is_some() {
        &["inet", "bridge"]
    } else {
        &["inet"]
    }
}

/// Opens each address for its seconds from now. An element already in a set keeps its old
/// expiry when added again (kernel 6.18, nft 1.0.6: a re-add with the same timeout changes
/// nothing), so each is added, deleted and added again in one transaction: the add makes the
/// delete valid whether or not it was there, and the last add sets the new expiry.
pub fn open_elements(table: &str, families: &[&str], opened: &Opened) -> String {
    let mut out = String::new();
    for family in families {
        for (ip, port, secs) in opened {
            let f = if ip.is_ipv4() { "4" } else { "6" };
            let (set, elem) = match port {
                Some(p) => (format!("names{f}p"), format!("{ip} . {p}")),
                None => (format!("names{f}"), ip.to_string()),
            };
            let at = format!("element {family} {table} {set} {{ {elem}");
            let _ = writeln!(
                out,
                "add {at} }}\ndelete {at} }}\nadd {at} timeout {secs}s }}"
            );
        }
    }
    out
}

/// The closed ranges of one family under `internet`: the fixed ones and the host's LAN.
fn closed(fixed: &[&str], lan: &[IpNet], v4: bool) -> String {
    let mut all: Vec<String> = fixed.iter().map(|s| s.to_string()).collect();
    all.extend(
        lan.iter()
            .filter(|n| n.addr().is_ipv4() == v4)
            .map(|n| n.to_string()),
    );
    all.join(", ")
}

/// The whole script: replace table `table` with the fence for the guest behind `net`.
/// `comment` says whose it is (`doctor` and `gc` read it back).
pub fn script(table: &str, comment: &str, net: &GuestNet, policy: &Policy) -> String {
    let br = &net.bridge;
    let gw = net.gateway();
    let mut s = String::new();
    // create-then-delete makes the delete valid whether or not the table existed; a bridge
    // table left from when the VM was bridged goes too
    for family in ["inet", "bridge"] {
        let _ = writeln!(
            s,
            "table {family} {table} {{}}\ndelete table {family} {table}"
        );
    }
    let _ = writeln!(s, "table inet {table} {{");
    head(&mut s, comment);
    // DNS to the gateway goes to the guest's own resolver, whatever else listens there
    // (libvirt's dnsmasq, Podman's aardvark-dns, which forward every name to the host's
    // resolver): before any other NAT chain, keyed on the bridge like the rest
    s.push_str(
        "  chain dns {\n    type nat hook prerouting priority dstnat - 10; policy accept;\n",
    );
    let _ = writeln!(
        s,
        "    iifname {} ip daddr {gw} meta l4proto {{ tcp, udp }} th dport 53 redirect to :{}",
        nft_string(br),
        policy.dns_port
    );
    s.push_str("  }\n");
    // to anywhere beyond the host
    s.push_str(
        "  chain forward {\n    type filter hook forward priority filter - 10; policy accept;\n",
    );
    let _ = writeln!(s, "    iifname {} jump egress", nft_string(br));
    // into the guest: replies, and ports the host publishes (DNAT); nothing new from another
    // guest or from the LAN
    let _ = writeln!(
        s,
        "    oifname {} ct state new ct status dnat accept",
        nft_string(br)
    );
    let _ = writeln!(s, "    oifname {} ct state new drop", nft_string(br));
    s.push_str("  }\n");
    // to the host itself
    s.push_str(
        "  chain input {\n    type filter hook input priority filter - 10; policy accept;\n",
    );
    let _ = writeln!(s, "    iifname {} jump to_host", nft_string(br));
    s.push_str("  }\n");
    s.push_str("  chain to_host {\n    ct state established,related accept\n");
    // DHCP, and the guest's own resolver (its queries to the gateway's port 53, redirected)
    s.push_str("    udp dport 67 accept\n");
    let _ = writeln!(
        s,
        "    ip daddr {gw} meta l4proto {{ tcp, udp }} th dport {} accept",
        policy.dns_port
    );
    if !policy.services.is_empty() {
        let ports: Vec<String> = policy.services.iter().map(u16::to_string).collect();
        let _ = writeln!(
            s,
            "    ip daddr {gw} tcp dport {{ {} }} accept",
            ports.join(", ")
        );
    }
    if policy.egress == Egress::Open {
        s.push_str("    accept\n");
    }
    allow_rules(&mut s, policy, true);
    s.push_str("    drop\n  }\n");
    s.push_str("  chain egress {\n    ct state established,related accept\n");
    host_rules(&mut s, policy);
    allow_rules(&mut s, policy, false);
    match policy.egress {
        Egress::Open => s.push_str("    accept\n"),
        Egress::Internet => {
            let v4 = closed(CLOSED_V4, &policy.lan, true);
            let _ = writeln!(s, "    ip daddr {{ {v4} }} drop");
            let v6 = closed(CLOSED_V6, &policy.lan, false);
            let _ = writeln!(s, "    ip6 daddr {{ {v6} }} drop");
            s.push_str("    accept\n");
        }
        Egress::None => {}
    }
    s.push_str("    drop\n  }\n}\n");
    if let Some(tap) = &net.lan_tap {
        lan_table(&mut s, table, comment, tap, policy);
    }
    s
}

/// The comment and the name sets every table of the fence starts with.
fn head(s: &mut String, comment: &str) {
    let _ = writeln!(s, "  comment {}", nft_string(comment));
    for f in ["4", "6"] {
        let t = if f == "4" { "ipv4_addr" } else { "ipv6_addr" };
        let _ = writeln!(s, "  set names{f} {{ type {t}; flags timeout; }}");
        let _ = writeln!(
            s,
            "  set names{f}p {{ type {t} . inet_service; flags timeout; }}"
        );
    }
}

/// A bridged VM's tap on the LAN bridge. Frames there are bridged, not routed: only the
/// `bridge` family sees them, and it has no connection tracking on this kind of host, so
/// these rules are stateless. What that means:
/// - the guest opens no TCP connection to the LAN: a packet with SYN and without ACK to a
///   closed address is dropped, while the rest of TCP passes, so LAN machines can still
///   connect to the guest (the reason to bridge it);
/// - UDP and everything else to closed addresses is dropped, but for DHCP, which the guest's
///   LAN address needs; DNS to the LAN's resolvers is a connection like any other (the
///   guest's resolver is its own network's);
/// - ARP passes, as does IPv6 neighbour discovery;
/// - to the host's own addresses on that bridge, only TCP that is not a new connection.
fn lan_table(s: &mut String, table: &str, comment: &str, lan: &LanTap, policy: &Policy) {
    let tap = nft_string(&lan.name);
    // the MAC libvirt gave the NIC, and no other: the guest cannot pose as another machine
    // on the LAN (a MAC is hex digits and colons; anything else makes no rule)
    let mac = lan.mac.to_ascii_lowercase();
    let pin = if mac.chars().all(|c| c.is_ascii_hexdigit() || c == ':') {
        format!("    ether saddr != {mac} drop\n")
    } else {
        "    drop\n".to_owned()
    };
    let _ = writeln!(s, "table bridge {table} {{");
    head(s, comment);
    s.push_str("  chain forward {\n    type filter hook forward priority -10; policy accept;\n");
    let _ = writeln!(s, "    iifname {tap} jump from_guest");
    s.push_str("  }\n  chain input {\n    type filter hook input priority -10; policy accept;\n");
    let _ = writeln!(s, "    iifname {tap} jump to_host");
    s.push_str("  }\n");
    // a host that is the LAN's DHCP server (as a test's bridge is) hands the tap its address
    s.push_str(
        "  chain to_host {\n    ether type arp accept\n    udp sport 68 udp dport 67 accept\n",
    );
    if policy.egress == Egress::Open {
        s.push_str("    accept\n");
    }
    allow_rules(s, policy, true);
    s.push_str("    tcp flags & (syn | ack) != syn accept\n    drop\n  }\n");
    s.push_str("  chain from_guest {\n");
    s.push_str(&pin);
    s.push_str("    ether type arp accept\n");
    s.push_str(
        "    icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert } accept\n",
    );
    s.push_str("    udp sport 68 udp dport 67 accept\n");
    allow_rules(s, policy, false);
    match policy.egress {
        Egress::Open => s.push_str("    accept\n"),
        Egress::Internet => {
            let v4 = closed(CLOSED_V4, &policy.lan, true);
            let _ = writeln!(
                s,
                "    ip daddr {{ {v4} }} tcp flags & (syn | ack) != syn accept"
            );
            let _ = writeln!(s, "    ip daddr {{ {v4} }} drop");
            let v6 = closed(CLOSED_V6, &policy.lan, false);
            let _ = writeln!(s, "    ip6 daddr {{ {v6} }} drop");
            s.push_str("    ether type { ip, ip6 } accept\n");
        }
        Egress::None => s.push_str("    tcp flags & (syn | ack) != syn accept\n"),
    }
    s.push_str("    drop\n  }\n}\n");
}

/// A quoted nft string; the values are tmpl's own names, but a quote must never end it.
fn nft_string(s: &str) -> String {
    format!("\"{}\"", s.replace(['"', '\\', '\n'], "_"))
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
