//! `EGRESS` and `EGRESS_ALLOW`: what the guest may connect to (enforced by `fence`).

use super::checker::Checker;
use crate::config::types::*;

pub(super) fn check_egress(c: &mut Checker) -> Egress {
    match c.optional("EGRESS").as_deref() {
        None | Some("internet") => Egress::Internet,
        Some("none") => Egress::None,
        Some("open") => Egress::Open,
        Some(_) => {
            c.problem(
                "EGRESS",
                "`internet` (public addresses only), `none` or `open`",
                Some("EGRESS=internet".into()),
            );
            Egress::Internet
        }
    }
}

pub(super) fn check_allow(c: &mut Checker) -> Vec<Allow> {
    let Some(v) = c.optional("EGRESS_ALLOW") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for spec in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match parse_allow(spec) {
            Ok(a) => out.push(a),
            Err(why) => c.problem(
                "EGRESS_ALLOW",
                format!(
                    "host names, addresses or CIDRs, each optionally `:PORT`, but `{spec}` {why}"
                ),
                Some("EGRESS_ALLOW=github.com,192.168.1.10:445,host:11434".into()),
            ),
        }
    }
    out
}

/// One entry: `NAME[:PORT]`, `ADDR[/LEN][:PORT]`, `[IPV6]:PORT`, `IPV6[/LEN]`, `host[:PORT]`.
pub fn parse_allow(spec: &str) -> Result<Allow, String> {
    let port = |s: &str| match s.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!("has `{s}`, which is not a port (1-65535)")),
    };
    let (target, port) = if let Some(rest) = spec.strip_prefix('[') {
        let (addr, p) = rest.split_once("]:").ok_or("opens `[` without `]:PORT`")?;
        (addr, Some(port(p)?))
    } else if spec.matches(':').count() > 1 {
        (spec, None) // a bare IPv6 address or network
    } else {
        match spec.split_once(':') {
            Some((t, p)) => (t, Some(port(p)?)),
            None => (spec, None),
        }
    };
    let target = target.to_ascii_lowercase();
    if target == "host" {
        return Ok(Allow {
            target: AllowTarget::Host,
            port,
        });
    }
    if target.parse::<ipnet::IpNet>().is_ok() || target.parse::<std::net::IpAddr>().is_ok() {
        return Ok(Allow {
            target: AllowTarget::Net(target),
            port,
        });
    }
    if target.contains('/') || target.chars().all(|ch| ch.is_ascii_digit() || ch == '.') {
        return Err("is not a valid address or network".into());
    }
    if !valid_host_name(&target) {
        return Err("is neither a host name nor an address".into());
    }
    Ok(Allow {
        target: AllowTarget::Name(target),
        port,
    })
}

/// A DNS host name: labels of letters, digits and `-`, none empty or longer than 63, and at
/// most 253 in all (`EGRESS_ALLOW` names, `SECRETS` hosts).
pub fn valid_host_name(name: &str) -> bool {
    name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str, port: Option<u16>) -> Allow {
        Allow {
            target: AllowTarget::Net(s.into()),
            port,
        }
    }

    #[test]
    fn parses_every_form() {
        assert_eq!(
            parse_allow("192.168.1.10:445"),
            Ok(net("192.168.1.10", Some(445)))
        );
        assert_eq!(parse_allow("10.0.0.0/8"), Ok(net("10.0.0.0/8", None)));
        assert_eq!(parse_allow("fd00::/8"), Ok(net("fd00::/8", None)));
        assert_eq!(parse_allow("[fd00::1]:53"), Ok(net("fd00::1", Some(53))));
        assert_eq!(
            parse_allow("host:11434"),
            Ok(Allow {
                target: AllowTarget::Host,
                port: Some(11434)
            })
        );
        assert_eq!(
            parse_allow("GitHub.com"),
            Ok(Allow {
                target: AllowTarget::Name("github.com".into()),
                port: None
            })
        );
        assert_eq!(
            parse_allow("192.168.1.10:445").unwrap().to_string(),
            "192.168.1.10:445"
        );
        assert_eq!(
            parse_allow("[fd00::1]:53").unwrap().to_string(),
            "[fd00::1]:53"
        );
    }

    #[test]
    fn refuses_what_is_neither() {
        for bad in [
            "300.1.1.1",
            "10.0.0.0/40",
            "a b",
            "x:0",
            "x:99999",
            "[fd00::1]",
            "-a.com",
            "a..b",
        ] {
            assert!(parse_allow(bad).is_err(), "{bad}");
        }
    }
}
