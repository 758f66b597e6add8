//! Stand-in API servers for the credential broker, all on this machine: HTTPS servers
//! (`tests/support/stand_in_api.py`) in network namespaces the test makes, joined to the host
//! by a veth each and given no default route, with certificates from a CA of the test's that
//! the broker trusts through `SSL_CERT_FILE`. Their names come from lines the test adds to
//! `/etc/hosts` (marked, and removed on drop with whatever a failed run left): the broker
//! resolves on the host, as it would a real name.
//!
//! - "the internet": 172.29.97.2, answering for `API` and `GIT` (secrets' hosts), `OTHER` and
//!   `EVIL`. A private range the fence closes, which the tests open with `ALLOW`: the
//!   documentation ranges are the other suites' (`common::lab`, the fence's router), and
//!   the suites run side by side on a developer's machine;
//! - "the LAN": 172.29.98.2, answering for `LAN_NAME`, which stays closed.

use super::{host, host_ok};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub const API: &str = "api.broker-e2e.example";
pub const GIT: &str = "git.broker-e2e.example";
pub const OTHER: &str = "other.broker-e2e.example";
pub const EVIL: &str = "evil.broker-e2e.example";
pub const LAN_NAME: &str = "lan.broker-e2e.example";
pub const INTERNET_ADDR: &str = "172.29.97.2";
/// The `EGRESS_ALLOW` entry that makes the stand-in internet the guest's internet.
pub const ALLOW: &str = "EGRESS_ALLOW=172.29.97.0/24\n";
pub const LAN_ADDR: &str = "172.29.98.2";
const MARK: &str = "# tmpl-e2e-credentials";

/// (namespace, host-side veth, host address, namespace address)
const SPACES: &[(&str, &str, &str, &str)] = &[
    ("tmplk-inet", "tmplki0", "172.29.97.1/24", "172.29.97.2/24"),
    ("tmplk-lan", "tmplkl0", "172.29.98.1/24", "172.29.98.2/24"),
];

pub struct World {
    pub dir: tempfile::TempDir,
    /// The stand-in CA, readable by everyone (a person's broker reads it too).
    pub ca: PathBuf,
    servers: Vec<Child>,
}

fn clean() {
    for (ns, veth, ..) in SPACES {
        let _ = host("ip", &["netns", "del", ns]);
        let _ = host("ip", &["link", "del", veth]);
    }
    if let Ok(text) = std::fs::read_to_string("/etc/hosts") {
        if text.contains(MARK) {
            let kept: String = text
                .lines()
                .filter(|l| !l.contains(MARK))
                .map(|l| format!("{l}\n"))
                .collect();
            std::fs::write("/etc/hosts", kept).unwrap();
        }
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

impl World {
    /// `token`: the only password the git endpoints take.
    pub fn new(token: &str) -> World {
        clean();
        let dir = tempfile::Builder::new()
            .prefix("tmpl-e2e-api-")
            .tempdir_in("/tmp")
            .unwrap();
        host_ok("chmod", &["755", &dir.path().to_string_lossy()]);
        let key = rcgen::KeyPair::generate().unwrap();
        let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        p.distinguished_name
            .push(rcgen::DnType::CommonName, "tmpl e2e stand-in CA");
        let ca = p.self_signed(&key).unwrap();
        let ca_file = write(dir.path(), "ca.pem", &ca.pem());
        let mut servers = Vec::new();
        let (names_inet, names_lan) = (vec![API, GIT, OTHER, EVIL], vec![LAN_NAME]);
        for ((ns, veth, host_addr, ns_addr), names) in SPACES.iter().zip([names_inet, names_lan]) {
            host_ok("ip", &["netns", "add", ns]);
            host_ok(
                "ip",
                &[
                    "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns,
                ],
            );
            host_ok("ip", &["-n", ns, "addr", "add", ns_addr, "dev", "eth0"]);
            host_ok("ip", &["-n", ns, "link", "set", "lo", "up"]);
            host_ok("ip", &["-n", ns, "link", "set", "eth0", "up"]);
            host_ok("ip", &["addr", "add", host_addr, "dev", veth]);
            host_ok("ip", &["link", "set", veth, "up"]);
            let routes = host_ok("ip", &["-n", ns, "route", "show", "default"]);
            assert!(
                routes.trim().is_empty(),
                "{ns} has a default route: {routes}"
            );
            let k = rcgen::KeyPair::generate().unwrap();
            let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
            let cert = rcgen::CertificateParams::new(names.clone())
                .unwrap()
                .signed_by(&k, &ca, &key)
                .unwrap();
            let cert_file = write(dir.path(), &format!("{ns}.pem"), &cert.pem());
            let key_file = write(dir.path(), &format!("{ns}.key"), &k.serialize_pem());
            let addr = ns_addr.split('/').next().unwrap();
            let log = dir.path().join(format!("{ns}.jsonl"));
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/stand_in_api.py");
            servers.push(
                Command::new("ip")
                    .args(["netns", "exec", ns, "python3", script, addr, "443"])
                    .args([&cert_file, &key_file, &log])
                    .arg(token)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap(),
            );
            let mut hosts = std::fs::read_to_string("/etc/hosts").unwrap();
            if !hosts.ends_with('\n') {
                hosts.push('\n');
            }
            hosts.push_str(&format!("{addr} {} {MARK}\n", names.join(" ")));
            std::fs::write("/etc/hosts", hosts).unwrap();
        }
        // until each server answers: Python takes a while to start on a busy machine
        for (_, _, _, ns_addr) in SPACES {
            let ip = ns_addr.split('/').next().unwrap();
            let addr: std::net::SocketAddr = format!("{ip}:443").parse().unwrap();
            let up = super::eventually(std::time::Duration::from_secs(20), || {
                std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_millis(500))
                    .ok()
            });
            assert!(up.is_some(), "the stand-in at {addr} does not answer");
        }
        World {
            dir,
            ca: ca_file,
            servers,
        }
    }

    /// The headers of every request the stand-ins got, oldest first: (host, path, headers).
    pub fn seen(&self) -> Vec<(String, String, serde_json::Value)> {
        let mut out = Vec::new();
        for (ns, ..) in SPACES {
            let text = std::fs::read_to_string(self.dir.path().join(format!("{ns}.jsonl")))
                .unwrap_or_default();
            for l in text.lines() {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                let headers = v["headers"].clone();
                let h = headers
                    .as_object()
                    .and_then(|m| m.iter().find(|(k, _)| k.eq_ignore_ascii_case("host")))
                    .and_then(|(_, v)| v.as_str())
                    .unwrap_or("")
                    .to_owned();
                out.push((h, v["path"].as_str().unwrap_or("").to_owned(), headers));
            }
        }
        out
    }

    /// The last request a stand-in got for `path`, its headers as one lowercase-keyed map.
    pub fn last(&self, path: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
        self.seen()
            .into_iter()
            .rev()
            .find(|(_, p, _)| p == path)
            .map(|(_, _, h)| {
                h.as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                    .collect()
            })
    }
}

impl Drop for World {
    fn drop(&mut self) {
        for s in &mut self.servers {
            let _ = s.kill();
            let _ = s.wait();
        }
        clean();
    }
}
