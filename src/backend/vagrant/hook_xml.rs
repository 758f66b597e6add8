//! The fence's policy in a libvirt network's own XML, and what the network hook reads back.
//!
//! A person's VM network carries its policy as `<metadata><tmpl:fence egress=… allow=…/>`
//! in tmpl's namespace: libvirt keeps it with the network and hands it, with the rest of the
//! network's XML, to the root-run hook on stdin. To root that is the person's input, so it is
//! read strictly: only what is needed, each value checked by the same rules as `.env`.

use crate::config::validate::parse_allow;
use crate::config::{Allow, Egress};
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;
use serde::Serialize;
use std::net::Ipv4Addr;

/// tmpl's namespace for the metadata it puts into libvirt's XML.
pub const NS: &str = "https://tmpl.invalid/libvirt/fence/1";

/// `<metadata>` with the fence's policy.
#[derive(Serialize)]
#[serde(rename = "metadata")]
pub struct Metadata {
    #[serde(rename = "tmpl:fence")]
    pub fence: FenceMeta,
}

#[derive(Serialize)]
pub struct FenceMeta {
    #[serde(rename = "@xmlns:tmpl")]
    pub ns: &'static str,
    #[serde(rename = "@egress")]
    pub egress: String,
    /// `EGRESS_ALLOW`'s entries, comma-separated as in `.env`.
    #[serde(rename = "@allow")]
    pub allow: String,
    /// The guest's own services on its gateway (the credential broker's port), as `3128`.
    #[serde(rename = "@services", skip_serializing_if = "String::is_empty")]
    pub services: String,
}

impl Metadata {
    pub fn new(egress: Egress, allow: &[Allow], services: &[u16]) -> Metadata {
        let allow: Vec<String> = allow.iter().map(|a| a.to_string()).collect();
        let services: Vec<String> = services.iter().map(u16::to_string).collect();
        Metadata {
            fence: FenceMeta {
                ns: NS,
                egress: egress.to_string(),
                allow: allow.join(","),
                services: services.join(","),
            },
        }
    }
}

/// What the hook is told about a network (and the port being made on it, if any).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct HookData {
    pub name: String,
    pub bridge: String,
    pub forward: String,
    pub address: Option<Ipv4Addr>,
    pub prefix: Option<u8>,
    /// The fence's attributes, unchecked: (egress, allow, services).
    pub fence: Option<(String, String, String)>,
    /// A port's MAC and its domain, at `port-created`.
    pub port_mac: Option<String>,
    pub port_owner: Option<String>,
}

fn attr(e: &BytesStart<'_>, key: &str) -> Option<String> {
    e.try_get_attribute(key).ok().flatten().and_then(|a| {
        a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .ok()
            .map(|v| v.into_owned())
    })
}

fn element(d: &mut HookData, path: &[String], e: &BytesStart<'_>, ours: bool) -> Option<()> {
    let local = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
    let within = path.join("/");
    match (within.trim_start_matches("hookData/"), local.as_str()) {
        ("network", "bridge") => d.bridge = attr(e, "name")?,
        ("network", "forward") => d.forward = attr(e, "mode").unwrap_or_default(),
        ("network", "ip") => {
            d.address = attr(e, "address").and_then(|a| a.parse().ok());
            d.prefix = attr(e, "prefix").and_then(|p| p.parse().ok()).or_else(|| {
                let m: Ipv4Addr = attr(e, "netmask")?.parse().ok()?;
                Some(u32::from(m).count_ones() as u8)
            });
        }
        ("network/metadata", "fence") if ours => {
            d.fence = Some((
                attr(e, "egress")?,
                attr(e, "allow").unwrap_or_default(),
                attr(e, "services").unwrap_or_default(),
            ))
        }
        ("networkport", "mac") => d.port_mac = attr(e, "address"),
        _ => {}
    }
    Some(())
}

/// Reads the hook's XML (`<hookData><network>…</network><networkport>…</hookData>`, or a
/// plain `<network>` as `virsh net-dumpxml` prints it); `None` when it does not read.
pub fn read(xml: &str) -> Option<HookData> {
    let mut r = NsReader::from_str(xml);
    let mut d = HookData::default();
    let mut path: Vec<String> = Vec::new();
    loop {
        let (ns, ev) = r.read_resolved_event().ok()?;
        let ours = matches!(ns, ResolveResult::Bound(n) if n.as_ref() == NS.as_bytes());
        match ev {
            Event::Start(e) => {
                element(&mut d, &path, &e, ours)?;
                path.push(String::from_utf8_lossy(e.local_name().as_ref()).into_owned());
            }
            Event::Empty(e) => element(&mut d, &path, &e, ours)?,
            Event::Text(t) => {
                let text = t.decode().ok()?.trim().to_owned();
                match path.join("/").trim_start_matches("hookData/") {
                    "network/name" => d.name = text,
                    "networkport/owner/name" => d.port_owner = Some(text),
                    _ => {}
                }
            }
            Event::End(_) => {
                path.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Some(d)
}

/// A network's policy, checked: what root's hook writes the fence from.
pub type Checked = (Egress, Vec<Allow>, Vec<u16>);

/// The checked policy: `egress` one of tmpl's, each entry of `allow` as `.env` takes it, a
/// few ports of the guest's own services (never 0).
pub fn policy(egress: &str, allow: &str, services: &str) -> Result<Checked, String> {
    let egress = match egress {
        "internet" => Egress::Internet,
        "none" => Egress::None,
        "open" => Egress::Open,
        other => return Err(format!("egress `{other}` is not tmpl's")),
    };
    let allow = allow
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| parse_allow(s).map_err(|e| format!("allow `{s}` {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let services = services
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| match s.parse::<u16>() {
            Ok(p) if p > 0 => Ok(p),
            _ => Err(format!("service `{s}` is not a port")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    if services.len() > 8 {
        return Err("more services than a guest has".into());
    }
    Ok((egress, allow, services))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_goes_into_the_xml_and_comes_back_checked() {
        let allow = vec![
            parse_allow("github.com").unwrap(),
            parse_allow("10.0.0.0/8:445").unwrap(),
        ];
        let meta =
            crate::backend::vagrant::xml::write(&Metadata::new(Egress::None, &allow, &[3128]));
        // as libvirt hands it to the hook
        let hook = format!(
            "<hookData>\n<network>\n  <name>tmpl-a-0123abcd</name>\n  <uuid>u</uuid>\n  {meta}\
             <forward mode='nat'/>\n  <bridge name='tmplv01234567' stp='off' delay='0'/>\n\
             <ip address='10.137.4.1' netmask='255.255.255.0'><dhcp/></ip>\n</network>\n\
             <networkport><owner><name>tmpl-a-0123abcd</name></owner>\
             <mac address='52:54:00:aa:bb:cc'/></networkport></hookData>"
        );
        let d = read(&hook).unwrap();
        assert_eq!(d.name, "tmpl-a-0123abcd");
        assert_eq!(d.bridge, "tmplv01234567");
        assert_eq!(d.forward, "nat");
        assert_eq!(d.address, Some(Ipv4Addr::new(10, 137, 4, 1)));
        assert_eq!(d.prefix, Some(24));
        assert_eq!(d.port_mac.as_deref(), Some("52:54:00:aa:bb:cc"));
        assert_eq!(d.port_owner.as_deref(), Some("tmpl-a-0123abcd"));
        let (egress, allow, services) = d.fence.unwrap();
        let (e, a, services) = policy(&egress, &allow, &services).unwrap();
        assert_eq!(services, [3128]);
        assert_eq!(e, Egress::None);
        assert_eq!(a.len(), 2);
    }

    #[test]
    fn a_fence_in_another_namespace_or_of_bad_values_is_not_taken() {
        let other = "<network><name>tmpl-x</name><metadata>\
            <f:fence xmlns:f='https://example.org/' egress='open'/></metadata></network>";
        assert_eq!(read(other).unwrap().fence, None);
        assert!(policy("wide", "", "").is_err());
        assert!(policy("none", "", "0").is_err());
        assert!(policy("none", "", "3128;x").is_err());
        assert!(policy("none", "github.com,1.2.3.4/33", "").is_err());
        assert!(policy("none", "a\"; flush ruleset", "").is_err());
    }
}
