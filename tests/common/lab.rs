//! Stand-ins for the networks a guest must or must not reach, all on this machine: network
//! namespaces the test makes, each joined to the host by a veth and given no default route,
//! with a plain TCP listener that resolves no names (Python's `http.server` would look its
//! own address up). The internet is a documentation range (203.0.113.0/24), the LAN a
//! 172.16/12 address, the tailnet a 100.64/10 one. Everything is removed on drop, and whatever
//! a failed run left is removed first.

use super::{host, host_ok};
use std::process::{Child, Command, Stdio};

pub const INTERNET: &str = "203.0.113.2";
/// The host's own address on the internet stand-in: still the host, so closed.
pub const HOST_PUBLIC: &str = "203.0.113.1";
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
    ("tmplf-inet", "tmplfi0", "203.0.113.1/24", "203.0.113.2/24"),
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
    let _ = host("ip", &["link", "del", veth]);
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
        lab.listeners.push(python(None, "0.0.0.0", HOST_PORT));
        // no namespace may route anywhere: only its own link
        for (ns, ..) in SPACES {
            let routes = host_ok("ip", &["-n", ns, "route", "show", "default"]);
            assert!(
                routes.trim().is_empty(),
                "{ns} has a default route: {routes}"
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
        lab
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
        for ns in &self.spaces {
            clean(&ns.name, &ns.veth);
        }
    }
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
