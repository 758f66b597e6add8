//! libvirt's XML for what tmpl defines itself: a VM's networks and the tiny domain that
//! probes KVM. Typed and written by quick-xml, so every name is escaped and the shape is the
//! compiler's to check. (The Vagrantfile stays a template: see `render`.) Attributes are the
//! fields renamed `@…`; an element's text is `$text`.

use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

/// `<network>`: a VM's own (NAT, DHCP, DNS) or its way onto a LAN bridge.
#[derive(Serialize)]
#[serde(rename = "network")]
pub struct Network<'a> {
    pub name: &'a str,
    /// The fence's policy, for the hook that holds a person's (see `hook_xml`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<super::hook_xml::Metadata>,
    pub forward: Forward<'a>,
    pub bridge: Bridge<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns: Option<Dns>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<Ip<'a>>,
}

#[derive(Serialize)]
pub struct Forward<'a> {
    #[serde(rename = "@mode")]
    pub mode: &'a str,
}

#[derive(Serialize)]
pub struct Bridge<'a> {
    #[serde(rename = "@name")]
    pub name: &'a str,
    #[serde(rename = "@stp", skip_serializing_if = "Option::is_none")]
    pub stp: Option<&'a str>,
}

#[derive(Serialize)]
pub struct Dns {
    pub host: DnsHost,
}

#[derive(Serialize)]
pub struct DnsHost {
    #[serde(rename = "@ip")]
    pub ip: Ipv4Addr,
    pub hostname: &'static str,
}

#[derive(Serialize)]
pub struct Ip<'a> {
    #[serde(rename = "@address")]
    pub address: Ipv4Addr,
    #[serde(rename = "@netmask")]
    pub netmask: Ipv4Addr,
    pub dhcp: Dhcp<'a>,
}

#[derive(Serialize)]
pub struct Dhcp<'a> {
    pub range: Range,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<DhcpHost<'a>>,
}

#[derive(Serialize)]
pub struct Range {
    #[serde(rename = "@start")]
    pub start: Ipv4Addr,
    #[serde(rename = "@end")]
    pub end: Ipv4Addr,
}

#[derive(Serialize)]
pub struct DhcpHost<'a> {
    #[serde(rename = "@mac")]
    pub mac: &'a str,
    #[serde(rename = "@ip")]
    pub ip: Ipv4Addr,
}

/// The bridge a network's XML names (ours, or `virsh net-dumpxml`'s), if it reads.
pub fn bridge_of(xml: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct OnBridge {
        bridge: Option<Named>,
    }
    #[derive(Deserialize)]
    struct Named {
        #[serde(rename = "@name")]
        name: String,
    }
    let n: OnBridge = quick_xml::de::from_str(xml).ok()?;
    n.bridge.map(|b| b.name)
}

/// `<domain>` for the KVM probe: 16 MiB, one vCPU, a raw boot disk from the pool, no video,
/// destroyed by whatever it does.
#[derive(Serialize)]
#[serde(rename = "domain")]
pub struct ProbeDomain<'a> {
    #[serde(rename = "@type")]
    pub kind: &'a str,
    pub name: &'a str,
    pub memory: Text<'a, u32>,
    pub vcpu: u32,
    pub os: Os,
    pub cpu: Mode,
    pub on_poweroff: &'a str,
    pub on_reboot: &'a str,
    pub on_crash: &'a str,
    pub devices: Devices<'a>,
}

/// An element with one attribute, `unit`, and text: `<memory unit='MiB'>16</memory>`.
#[derive(Serialize)]
pub struct Text<'a, T> {
    #[serde(rename = "@unit")]
    pub unit: &'a str,
    #[serde(rename = "$text")]
    pub value: T,
}

#[derive(Serialize)]
pub struct Os {
    #[serde(rename = "type")]
    pub kind: OsType,
    pub boot: Dev,
}

#[derive(Serialize)]
pub struct OsType {
    #[serde(rename = "@arch")]
    pub arch: &'static str,
    #[serde(rename = "@machine")]
    pub machine: &'static str,
    #[serde(rename = "$text")]
    pub value: &'static str,
}

#[derive(Serialize)]
pub struct Dev {
    #[serde(rename = "@dev")]
    pub dev: &'static str,
}

#[derive(Serialize)]
pub struct Mode {
    #[serde(rename = "@mode")]
    pub mode: &'static str,
}

#[derive(Serialize)]
pub struct Devices<'a> {
    pub disk: Disk<'a>,
    pub video: Video,
    pub memballoon: Model,
}

#[derive(Serialize)]
pub struct Disk<'a> {
    #[serde(rename = "@type")]
    pub kind: &'static str,
    #[serde(rename = "@device")]
    pub device: &'static str,
    pub driver: Driver,
    pub source: Source<'a>,
    pub target: Target,
}

#[derive(Serialize)]
pub struct Driver {
    #[serde(rename = "@name")]
    pub name: &'static str,
    #[serde(rename = "@type")]
    pub kind: &'static str,
}

#[derive(Serialize)]
pub struct Source<'a> {
    #[serde(rename = "@pool")]
    pub pool: &'a str,
    #[serde(rename = "@volume")]
    pub volume: &'a str,
}

#[derive(Serialize)]
pub struct Target {
    #[serde(rename = "@dev")]
    pub dev: &'static str,
    #[serde(rename = "@bus")]
    pub bus: &'static str,
}

#[derive(Serialize)]
pub struct Video {
    pub model: TypeAttr,
}

#[derive(Serialize)]
pub struct TypeAttr {
    #[serde(rename = "@type")]
    pub kind: &'static str,
}

#[derive(Serialize)]
pub struct Model {
    #[serde(rename = "@model")]
    pub model: &'static str,
}

/// The XML text, indented two spaces, ending in a newline.
pub fn write(value: &impl Serialize) -> String {
    let mut out = String::new();
    let mut ser = quick_xml::se::Serializer::new(&mut out);
    ser.indent(' ', 2);
    // only a map key that is no XML name fails, and these structs have none
    value
        .serialize(ser)
        .expect("libvirt XML from fixed structs");
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vms_network_is_written_escaped_and_its_bridge_read_back() {
        let net = Network {
            name: "tmpl-a<b",
            metadata: None,
            forward: Forward { mode: "nat" },
            bridge: Bridge {
                name: "tmpl-br0",
                stp: Some("off"),
            },
            dns: Some(Dns {
                host: DnsHost {
                    ip: Ipv4Addr::new(10, 1, 2, 1),
                    hostname: "host.tmpl.internal",
                },
            }),
            ip: Some(Ip {
                address: Ipv4Addr::new(10, 1, 2, 1),
                netmask: Ipv4Addr::new(255, 255, 255, 0),
                dhcp: Dhcp {
                    range: Range {
                        start: Ipv4Addr::new(10, 1, 2, 100),
                        end: Ipv4Addr::new(10, 1, 2, 254),
                    },
                    host: Some(DhcpHost {
                        mac: "52:54:00:00:00:01",
                        ip: Ipv4Addr::new(10, 1, 2, 7),
                    }),
                },
            }),
        };
        let text = write(&net);
        assert_eq!(
            text,
            r#"<network>
  <name>tmpl-a&lt;b</name>
  <forward mode="nat"/>
  <bridge name="tmpl-br0" stp="off"/>
  <dns>
    <host ip="10.1.2.1">
      <hostname>host.tmpl.internal</hostname>
    </host>
  </dns>
  <ip address="10.1.2.1" netmask="255.255.255.0">
    <dhcp>
      <range start="10.1.2.100" end="10.1.2.254"/>
      <host mac="52:54:00:00:00:01" ip="10.1.2.7"/>
    </dhcp>
  </ip>
</network>
"#
        );
        assert_eq!(bridge_of(&text).as_deref(), Some("tmpl-br0"));
        // as virsh net-dumpxml prints it
        let dumped = "<network>\n  <name>x</name>\n  <uuid>u</uuid>\n  <bridge name='virbr3' stp='on' delay='0'/>\n</network>\n";
        assert_eq!(bridge_of(dumped).as_deref(), Some("virbr3"));
        assert_eq!(bridge_of("<network><name>x</name></network>"), None);
    }
}
