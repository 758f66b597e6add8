use super::*;
use crate::config::validate::parse_allow;

fn net() -> GuestNet {
    GuestNet {
        bridge: "tmplc0a1b2c3d".into(),
        subnet: "10.138.7.0/24".parse().unwrap(),
        lan_tap: None,
    }
}

#[test]
fn a_bridged_vm_gets_a_stateless_bridge_table_on_its_tap() {
    let mut n = net();
    let plain = script("t", "c", &n, &policy(Egress::Internet, &[]));
    assert!(!plain.contains("table bridge t {\n"));
    assert!(plain.contains("delete table bridge t"));
    n.lan_tap = Some(LanTap {
        name: "tmplb0a1b2c3d".into(),
        mac: "52:54:00:AA:bb:01".into(),
    });
    let s = script("t", "c", &n, &policy(Egress::Internet, &[]));
    let lan = s.split("table bridge t {\n").nth(1).unwrap();
    assert!(lan.contains("iifname \"tmplb0a1b2c3d\" jump from_guest"));
    assert!(lan.contains("10.0.0.0/8"));
    assert!(
        !lan.contains("ct state"),
        "no conntrack in the bridge family here"
    );
}

fn policy(egress: Egress, allow: &[&str]) -> Policy {
    Policy {
        egress,
        allow: allow.iter().map(|a| parse_allow(a).unwrap()).collect(),
        host_addrs: Vec::new(),
        lan: vec![
            "192.0.2.0/24".parse().unwrap(),
            "2001:db8::/32".parse().unwrap(),
        ],
        dns_port: 10053,
        services: Vec::new(),
    }
}

#[test]
fn a_guests_own_service_opens_on_its_gateway_only() {
    let mut p = policy(Egress::None, &[]);
    p.services = vec![3128];
    let s = script("t", "c", &net(), &p);
    let to_host = s.split("chain to_host").nth(1).unwrap();
    assert!(to_host.contains("ip daddr 10.138.7.1 tcp dport { 3128 } accept"));
    let egress = s.split("chain egress").nth(1).unwrap();
    assert!(!egress.contains("3128"), "nothing beyond the host opens");
}

#[test]
fn from_a_namespace_the_host_is_closed_before_anything_is_allowed() {
    let mut p = policy(Egress::Internet, &["203.0.113.0/24", "host:11434"]);
    p.host_addrs = vec![
        "203.0.113.1".parse().unwrap(),
        "2001:db8::7".parse().unwrap(),
    ];
    let s = script("t", "c", &net(), &p);
    let egress = s.split("chain egress").nth(1).unwrap();
    let open = egress
        .find("ip daddr { 203.0.113.1 } meta l4proto { tcp, udp } th dport 11434 accept")
        .unwrap();
    let closed = egress.find("ip daddr { 203.0.113.1 } drop").unwrap();
    let allowed = egress.find("ip daddr 203.0.113.0/24 accept").unwrap();
    assert!(open < closed && closed < allowed, "{egress}");
    assert!(egress.contains("ip6 daddr { 2001:db8::7 } drop"));
    // on the host itself, its addresses are the input hook's: no such rules
    assert!(!script("t", "c", &net(), &policy(Egress::Internet, &[])).contains("203.0.113.1"));
}

#[test]
fn internet_closes_the_private_ranges_and_the_host() {
    let s = script(
        "tmpl-x",
        "tmpl demo",
        &net(),
        &policy(Egress::Internet, &[]),
    );
    assert!(s.contains("iifname \"tmplc0a1b2c3d\" jump egress"));
    assert!(s.contains("10.0.0.0/8, 100.64.0.0/10"));
    assert!(s.contains("169.254.0.0/16"));
    assert!(s.contains("fc00::/7"));
    // the host's LAN, whatever its range, is closed like the private ones
    assert!(s.contains("240.0.0.0/4, 192.0.2.0/24 } drop"));
    assert!(s.contains("ff00::/8, 2001:db8::/32 } drop"));
    // the host answers DHCP and the guest's own resolver on the gateway, then nothing
    assert!(
        s.contains("ip daddr 10.138.7.1 meta l4proto { tcp, udp } th dport 10053 accept\n    drop")
    );
    // and every query to the gateway's port 53 goes to that resolver
    assert!(s.contains(
        "iifname \"tmplc0a1b2c3d\" ip daddr 10.138.7.1 meta l4proto { tcp, udp } th dport 53 redirect to :10053"
    ));
    assert!(s.contains("oifname \"tmplc0a1b2c3d\" ct state new drop"));
    assert!(s.starts_with("table inet tmpl-x {}\ndelete table inet tmpl-x\n"));
}

#[test]
fn none_accepts_only_what_is_allowed() {
    let s = script(
        "t",
        "c",
        &net(),
        &policy(Egress::None, &["192.168.1.10:445", "host:11434"]),
    );
    let egress = s.split("chain egress").nth(1).unwrap();
    assert!(egress.contains("ip daddr 192.168.1.10 meta l4proto { tcp, udp } th dport 445 accept"));
    assert!(!egress.contains("    accept\n"));
    assert!(egress.trim_end().ends_with("drop\n  }\n}".trim_end()));
    let to_host = s.split("chain to_host").nth(1).unwrap();
    assert!(to_host.contains("th dport 11434 accept"));
}

#[test]
fn names_become_timed_set_elements_refreshed_by_add_delete_add() {
    let s = script("t", "c", &net(), &policy(Egress::None, &["example.org"]));
    assert!(s.contains("ip daddr @names4 accept"));
    let opened = vec![
        ("203.0.113.5".parse().unwrap(), None, 120),
        ("2001:db8::1".parse().unwrap(), Some(443), 60),
    ];
    let e = open_elements("t", &["inet"], &opened);
    assert_eq!(
        e,
        "add element inet t names4 { 203.0.113.5 }\n\
         delete element inet t names4 { 203.0.113.5 }\n\
         add element inet t names4 { 203.0.113.5 timeout 120s }\n\
         add element inet t names6p { 2001:db8::1 . 443 }\n\
         delete element inet t names6p { 2001:db8::1 . 443 }\n\
         add element inet t names6p { 2001:db8::1 . 443 timeout 60s }\n"
    );
}

#[test]
fn a_bridged_vms_dns_to_the_lan_is_a_connection_like_any_other() {
    let mut n = net();
    n.lan_tap = Some(LanTap {
        name: "tmplb0".into(),
        mac: "52:54:00:aa:bb:01".into(),
    });
    let s = script("t", "c", &n, &policy(Egress::Internet, &[]));
    let lan = s.split("table bridge t {\n").nth(1).unwrap();
    assert!(!lan.contains("dport 53"), "{lan}");
    assert!(lan.contains("240.0.0.0/4, 192.0.2.0/24 } drop"));
}

#[test]
#[cfg_attr(
    not(feature = "host-tools"),
    ignore = "needs nft and root: `cargo test --features host-tools` as root"
)]
fn the_script_and_its_elements_are_what_nft_accepts() {
    let mut n = net();
    n.lan_tap = Some(LanTap {
        name: "tmplb0".into(),
        mac: "52:54:00:aa:bb:01".into(),
    });
    let mut p = policy(Egress::Internet, &["example.org:443", "host:11434"]);
    p.host_addrs = vec!["192.0.2.2".parse().unwrap()];
    let opened = vec![("203.0.113.5".parse().unwrap(), Some(443), 120)];
    let text = script("tmpl-check0", "c", &n, &p)
        + &open_elements("tmpl-check0", &["inet", "bridge"], &opened);
    let mut child = std::process::Command::new("nft")
        .args(["-c", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn quotes_cannot_break_out() {
    assert_eq!(nft_string("a\"; flush ruleset"), "\"a_; flush ruleset\"");
}
