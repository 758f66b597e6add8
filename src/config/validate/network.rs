//! `NETWORK_TYPE`, `BRIDGE` and `PORTS`.

use super::checker::Checker;
use super::report::Problem;
use crate::config::types::*;
use std::net::Ipv4Addr;

pub(super) fn check_network(c: &mut Checker) -> Option<Network> {
    let bridge = c.optional("BRIDGE");
    match c.optional("NETWORK_TYPE").as_deref() {
        None | Some("default") => {
            if bridge.is_some() {
                c.warn("BRIDGE", "`BRIDGE` is ignored unless `NETWORK_TYPE=bridge`");
            }
            Some(Network::Default)
        }
        Some("bridge") => match bridge {
            Some(b) if valid_interface(&b) => Some(Network::Bridge { interface: b }),
            Some(_) => {
                c.problem(
                    "BRIDGE",
                    "a host interface name (letters, digits, `-`, `_`, `.`; at most 15)",
                    Some("BRIDGE=br0".into()),
                );
                None
            }
            None => {
                c.report.problems.push(Problem {
                    line: c.env.get("NETWORK_TYPE").map(|e| e.line),
                    key: "BRIDGE".into(),
                    value: None,
                    expected: "`BRIDGE` set to a host interface, because `NETWORK_TYPE=bridge`"
                        .into(),
                    example: Some("BRIDGE=br0".into()),
                });
                None
            }
        },
        Some(_) => {
            c.problem(
                "NETWORK_TYPE",
                "`default` or `bridge`",
                Some("NETWORK_TYPE=default".into()),
            );
            None
        }
    }
}

pub(super) fn valid_interface(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 15
        && s.chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
}

/// Parses one `[HOST_IP:]HOST_PORT:GUEST_PORT[/tcp|/udp]` entry.
pub fn parse_port(spec: &str) -> Result<PortForward, String> {
    let (addr, protocol) = match spec.rsplit_once('/') {
        Some((a, "tcp")) => (a, Protocol::Tcp),
        Some((a, "udp")) => (a, Protocol::Udp),
        Some((_, p)) => return Err(format!("protocol `{p}` is neither `tcp` nor `udp`")),
        None => (spec, Protocol::Tcp),
    };
    let parts: Vec<&str> = addr.split(':').collect();
    let (ip, host, guest) = match parts.as_slice() {
        [h, g] => ("127.0.0.1", *h, *g),
        [ip, h, g] => (*ip, *h, *g),
        _ => return Err("expected `HOST_PORT:GUEST_PORT`".into()),
    };
    let host_ip = ip
        .parse::<Ipv4Addr>()
        .map_err(|_| format!("`{ip}` is not an IPv4 address"))?;
    let port = |s: &str| match s.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!("`{s}` is not a port (1-65535)")),
    };
    Ok(PortForward {
        host_ip,
        host_port: port(host)?,
        guest_port: port(guest)?,
        protocol,
    })
}

pub(super) fn check_ports(c: &mut Checker) -> Vec<PortForward> {
    let Some(v) = c.optional("PORTS") else {
        return Vec::new();
    };
    let mut out: Vec<PortForward> = Vec::new();
    for spec in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match parse_port(spec) {
            Ok(p) => {
                if out
                    .iter()
                    .any(|q| q.host_port == p.host_port && q.protocol == p.protocol)
                {
                    c.problem(
                        "PORTS",
                        format!(
                            "each host port once; {}/{} appears twice",
                            p.host_port, p.protocol
                        ),
                        None,
                    );
                } else {
                    out.push(p);
                }
            }
            Err(why) => c.problem(
                "PORTS",
                format!("`[HOST_IP:]HOST_PORT:GUEST_PORT[/tcp|/udp]`, but in `{spec}` {why}"),
                Some("PORTS=8080:80,127.0.0.1:5432:5432/tcp".into()),
            ),
        }
    }
    out
}
