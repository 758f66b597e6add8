//! Stand-ins for the networks a guest must or must not reach, all on this machine: network
//! namespaces the test makes, each joined to the host by a veth and given no default route,
//! with a plain TCP listener that resolves no names (Python's `http.server` would look its
//! own address up). The LAN is a 172.16/12 address, the tailnet a 100.64/10 one, and a LAN on
//! a documentation range (198.51.100.0/24, a network the host is on) stands in for a LAN on a
//! public range. The internet (203.0.113.0/24) is behind a router on that LAN, reached
//! through a gateway, so that it is not a network of the host's own. The router also runs the
//! stand-in resolver (dnsmasq, answering a few names from its own list and nothing else).
//! Everything is removed on drop, and whatever a failed run left is removed first.

use super::{host, host_ok};
use std::process::{Child, Command, Stdio};

pub const INTERNET: &str = "203.0.113.2";
/// The host's own address on the LAN of a documentation range: still the host, so closed.
pub const HOST_PUBLIC: &str = "198.51.100.1";
/// A machine on that LAN (the router): closed, though its range is no private one.
pub const PUBLIC_LAN: &str = "198.51.100.2";
/// The stand-in resolver (on the router), and the names it knows.
pub const RESOLVER: &str = "198.51.100.2:53";
pub const NAME_INTERNET: &str = "internet.tmpl.test";
pub const NAME_LAN: &str = "lan.tmpl.test";
pub const LAN: &str = "172.30.99.2";
pub const TAILNET: &str = "100.100.99.2";
/// The port every stand-in listens on, and a second one on the LAN host.
pub const PORT: u16 = 8000;
pub const OTHER_PORT: u16 = 8001;
/// The listener on the host itself (all its addresses).
pub const HOST_PORT: u16 = 18777;

/// A listener that answers `hello` to every connection on `addr:port`.
pub fn listener_script(addr: &str, port: u16) -> String {
    format!(
        "import socket\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n\
         s.bind(('{addr}',{port}))\ns.listen(64)\nwhile True:\n  c,_=s.accept()\n  \
         c.sendall(b'hello\\n')\n  c.close()\n"
    )
}

struct Ns {
    name: String,
    veth: String,
}

pub struct Lab {
    spaces: Vec<Ns>,
    listeners: Vec<Child>,
}

/// (namespace, host-side veth, host address, namespace address) of each stand-in.
const SPACES: &[(&str, &str, &str, &str)] = &[
    ("tmplf-rtr", "tmplfr0", "198.51.100.1/24", "198.51.100.2/24"),
    ("tmplf-lan", "tmplfl0", "172.30.99.1/24", "172.30.99.2/24"),
    (
        "tmplf-tail",
        "tmplft0",
        "100.100.99.1/24",
        "100.100.99.2/24",
    ),
];

fn clean(ns: &str, veth: &str) {
    let _ = host("ip", &["netns", "del", ns]);
    if !veth.is_empty() {
        let _ = host("ip", &["link", "del", veth]);
    }
}

fn python(ns: Option<&str>, addr: &str, port: u16) -> Child {
    let script = listener_script(addr, port);
    let mut c = match ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, "python3", "-c", &script]);
            c
        }
        None => {
            let mut c = Command::new("python3");
            c.args(["-c", &script]);
            c
        }
    };
    c.stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

impl Lab {
    pub fn new() -> Lab {
        let mut lab = Lab {
            spaces: Vec::new(),
            listeners: Vec::new(),
        };
        for (ns, veth, host_addr, ns_addr) in SPACES {
            lab.space(ns, veth, ns_addr);
            host_ok("ip", &["addr", "add", host_addr, "dev", veth]);
            host_ok("ip", &["link", "set", veth, "up"]);
            let addr = ns_addr.split('/').next().unwrap();
            lab.listeners.push(python(Some(ns), addr, PORT));
            lab.listeners.push(python(Some(ns), addr, OTHER_PORT));
        }
        lab.internet_behind_router();
        lab.listeners.push(python(None, "0.0.0.0", HOST_PORT));
        // the guests' resolvers ask the stand-in, never the host's own resolver
        std::env::set_var("TMPL_DNS_UPSTREAM", RESOLVER);
        // no namespace may route anywhere: only its own link
        for ns in SPACES.iter().map(|s| s.0).chain(["tmplf-inet"]) {
            let routes = host_ok("ip", &["-n", ns, "route", "show", "default"]);
            assert!(
                routes.trim().is_empty(),
                "{ns} has a default route: {routes}"
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
        lab
    }

    /// The internet: namespace `tmplf-inet` behind the router `tmplf-rtr` (203.0.113.1 on its
    /// side), which the host reaches through 198.51.100.2. Neither has a default route: the
    /// internet knows its way back to the LAN only, where the guests' NAT puts their traffic.
    fn internet_behind_router(&mut self) {
        let (ns, rtr) = ("tmplf-inet", "tmplf-rtr");
        let _ = host("ip", &["netns", "del", ns]);
        host_ok("ip", &["netns", "add", ns]);
        self.spaces.push(Ns {
            name: ns.into(),
            veth: String::new(),
        });
        let link = [
            "-n", rtr, "link", "add", "tmplfx0", "type", "veth", "peer", "name", "eth0", "netns",
            ns,
        ];
        host_ok("ip", &link);
        host_ok(
            "ip",
            &["-n", rtr, "addr", "add", "203.0.113.1/24", "dev", "tmplfx0"],
        );
        host_ok("ip", &["-n", rtr, "link", "set", "tmplfx0", "up"]);
        host_ok(
            "ip",
            &["-n", ns, "addr", "add", "203.0.113.2/24", "dev", "eth0"],
        );
        host_ok("ip", &["-n", ns, "link", "set", "lo", "up"]);
        host_ok("ip", &["-n", ns, "link", "set", "eth0", "up"]);
        host_ok(
            "ip",
            &[
                "-n",
                ns,
                "route",
                "add",
                "198.51.100.0/24",
                "via",
                "203.0.113.1",
            ],
        );
        let forward = [
            "netns",
            "exec",
            rtr,
            "sysctl",
            "-qw",
            "net.ipv4.ip_forward=1",
        ];
        host_ok("ip", &forward);
        host_ok(
            "ip",
            &["route", "replace", "203.0.113.0/24", "via", PUBLIC_LAN],
        );
        self.listeners.push(python(Some(ns), INTERNET, PORT));
        // the stand-in resolver: its own names, nothing forwarded, nothing looked up
        let dnsmasq = Command::new("ip")
            .args([
                "netns",
                "exec",
                rtr,
                "dnsmasq",
                "--keep-in-foreground",
                "--no-resolv",
            ])
            .args([
                "--no-hosts",
                "--bind-interfaces",
                "--listen-address",
                PUBLIC_LAN,
            ])
            .args(["--user=root", "--pid-file=", "--conf-file=/dev/null"])
            .arg(format!("--host-record={NAME_INTERNET},{INTERNET},30"))
            .arg(format!("--host-record={NAME_LAN},{LAN},30"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.listeners.push(dnsmasq);
    }

    /// Namespace `ns` with `eth0` at `ns_addr`, joined to the host by the veth `veth`
    /// (whatever a failed run left of either is removed first).
    fn space(&mut self, ns: &str, veth: &str, ns_addr: &str) {
        clean(ns, veth);
        host_ok("ip", &["netns", "add", ns]);
        self.spaces.push(Ns {
            name: ns.into(),
            veth: veth.into(),
        });
        let peer = [
            "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns,
        ];
        host_ok("ip", &peer);
        host_ok("ip", &["-n", ns, "addr", "add", ns_addr, "dev", "eth0"]);
        host_ok("ip", &["-n", ns, "link", "set", "lo", "up"]);
        host_ok("ip", &["-n", ns, "link", "set", "eth0", "up"]);
    }

    /// A host on a test bridge (the LAN of a bridged VM): namespace `ns` joined to `bridge`
    /// by a veth, at `addr` (a /24), listening on `PORT`.
    pub fn host_on_bridge(&mut self, ns: &str, veth: &str, bridge: &str, addr: &str) {
        self.space(ns, veth, &format!("{addr}/24"));
        host_ok("ip", &["link", "set", veth, "master", bridge]);
        host_ok("ip", &["link", "set", veth, "up"]);
        self.listeners.push(python(Some(ns), addr, PORT));
        std::thread::sleep(std::time::Duration::from_millis(300));
    }

    /// Whether a TCP connection from namespace `ns` to `addr:port` gets an answer.
    pub fn reach_from(&self, ns: &str, addr: &str, port: u16) -> bool {
        let code = format!(
            "import socket\ns=socket.create_connection(('{addr}',{port}),timeout=3)\nprint('open')"
        );
        let out = host("ip", &["netns", "exec", ns, "python3", "-c", &code]);
        String::from_utf8_lossy(&out.stdout).contains("open")
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for l in &mut self.listeners {
            let _ = l.kill();
            let _ = l.wait();
        }
        let _ = host("ip", &["route", "del", "203.0.113.0/24"]);
        for ns in self.spaces.iter().rev() {
            clean(&ns.name, &ns.veth);
        }
    }
}

/// A table of the test's own that counts and drops every DNS query leaving the host for
/// anywhere but loopback and the stand-in resolver (whose queries it counts apart), after
/// the fence has had its say: what it counts would have left. Removed on drop.
pub struct DnsGuard;

const GUARD: &str = "tmplf-dnsguard";

impl DnsGuard {
    pub fn new() -> DnsGuard {
        let (addr, _) = RESOLVER.split_once(':').unwrap();
        let script = format!(
            "table inet {GUARD} {{}}\ndelete table inet {GUARD}\ntable inet {GUARD} {{\n\
             counter left {{ }}\ncounter asked {{ }}\n\
             chain sent {{ type filter hook output priority filter + 50; policy accept;\n\
               oifname \"lo\" accept\n\
               ip daddr {addr} meta l4proto {{ tcp, udp }} th dport 53 counter name asked accept\n\
               meta l4proto {{ tcp, udp }} th dport 53 counter name left drop\n }}\n\
             chain forwarded {{ type filter hook forward priority filter + 50; policy accept;\n\
               ip daddr {addr} meta l4proto {{ tcp, udp }} th dport 53 counter name asked accept\n\
               meta l4proto {{ tcp, udp }} th dport 53 counter name left drop\n }}\n}}\n"
        );
        let file = std::env::temp_dir().join(format!("{GUARD}-{}.nft", std::process::id()));
        std::fs::write(&file, script).unwrap();
        host_ok("nft", &["-f", file.to_str().unwrap()]);
        let _ = std::fs::remove_file(file);
        DnsGuard
    }

    fn counter(name: &str) -> u64 {
        let text = host_ok("nft", &["list", "counter", "inet", GUARD, name]);
        text.split("packets ")
            .nth(1)
            .and_then(|t| t.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }

    /// DNS packets that would have left for anywhere else so far.
    pub fn left(&self) -> u64 {
        Self::counter("left")
    }

    /// DNS packets to the stand-in resolver so far.
    pub fn asked(&self) -> u64 {
        Self::counter("asked")
    }
}

impl Drop for DnsGuard {
    fn drop(&mut self) {
        let _ = host("nft", &["delete", "table", "inet", GUARD]);
    }
}

/// What root in the guest of `p` gets for `name` from its resolver: its IPv4 address, or
/// the error (`NXDOMAIN`, `REFUSED`, `timeout`...), with Python's resolver (glibc's).
pub fn lookup(p: &super::Project, name: &str) -> String {
    let code = format!(
        "import socket\ntry: print(socket.gethostbyname('{name}'))\nexcept Exception as e: print('error', e)"
    );
    p.sh(&format!("python3 -c \"{code}\""))
}

/// The answers of one guest's probes, and which were wrong; printed and asserted at the end,
/// so one run shows every wrong answer at once.
#[derive(Default)]
pub struct Probes {
    pub rows: Vec<(String, bool, bool)>,
}

impl Probes {
    pub fn expect(&mut self, what: &str, want: bool, got: bool) {
        eprintln!(
            "probe {what}: {} (want {})",
            if got { "answers" } else { "closed" },
            if want { "answers" } else { "closed" }
        );
        self.rows.push((what.to_owned(), want, got));
    }

    pub fn wrong(&self) -> Vec<&str> {
        self.rows
            .iter()
            .filter(|(_, w, g)| w != g)
            .map(|(n, ..)| n.as_str())
            .collect()
    }

    pub fn assert_all_right(&self) {
        eprintln!("probes: {}, wrong: {}", self.rows.len(), self.wrong().len());
        assert!(self.wrong().is_empty(), "wrong answers: {:?}", self.wrong());
    }
}

/// Whether root in the guest of `p` gets an answer from `addr:port`, over plain TCP (bash's
/// /dev/tcp: no name is looked up).
pub fn reach(p: &super::Project, addr: &str, port: u16) -> bool {
    let script = format!(
        "s='timeout 4 bash -c \"exec 3<>/dev/tcp/{addr}/{port} && head -c5 <&3\"'; \
         if [ \"$(id -u)\" = 0 ]; then bash -c \"$s\"; else sudo -n bash -c \"$s\"; fi 2>/dev/null; true"
    );
    let out = p
        .cmd(&["ssh", "--", "bash", "-c", &script])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).contains("hello")
}
