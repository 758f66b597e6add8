//! Shared by the end-to-end tests: a project folder with its own `.env`, tmpl run against it
//! with private XDG dirs, and a `Drop` that removes whatever the test made (`tmpl rm -f`),
//! so a failing test leaves nothing running.
//!
//! These tests need the real stack (`make setup fixtures`); they are ignored without the
//! `e2e` feature.
//!
//! A person approves a new project folder once (`tmpl trust`) before its first `up`. The
//! harness does it for them before every `up`, `provision` and `vagrant`, unless a test turns
//! `auto_trust` off to test approval itself.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub const CONTAINER_IMAGE: &str = "localhost/tmpl-test/debian12";
pub const TEST_BOX: &str = "tmpl-test/debian12";

pub fn cloud_image() -> PathBuf {
    PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/tmpl-test/debian12-cloud.qcow2")
}

pub struct Project {
    root: tempfile::TempDir,
    pub dir: PathBuf,
    pub keep: bool,
    /// Leave `TMPL_LIBVIRT_DRIVER` unset, as a person would: tmpl then decides itself.
    pub auto_driver: bool,
    /// Approve the folder as it is before each `up`, `provision` and `vagrant`.
    pub auto_trust: bool,
    /// XDG dirs shared with other projects (one user's many projects), instead of its own.
    pub shared_xdg: Option<PathBuf>,
    /// tmpl runs as this ordinary user, in a folder they own; root otherwise.
    pub user: Option<user::RunAs>,
}

impl Project {
    /// A project in a folder called `folder`, inside a fresh temporary directory.
    pub fn new(folder: &str, env: &str) -> Project {
        let root = tempfile::Builder::new()
            .prefix("tmpl-e2e-")
            .tempdir_in("/tmp")
            .unwrap();
        let dir = root.path().join(folder);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(".env"), env).unwrap();
        Project {
            root,
            dir,
            keep: false,
            auto_driver: false,
            auto_trust: true,
            shared_xdg: None,
            user: None,
        }
    }

    /// A project of an ordinary user's, in a folder of theirs: tmpl runs as them.
    pub fn new_as(u: &user::TestUser, folder: &str, env: &str) -> Project {
        let mut p = Project::new(folder, env);
        u.own(p.root.path());
        p.user = Some(u.run_as());
        p
    }

    pub fn write(&self, rel: &str, text: &str) {
        let p = self.dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
        if let Some(u) = &self.user {
            host_ok(
                "chown",
                &[
                    "-R",
                    &format!("{}:{}", u.uid, u.gid),
                    &self.dir.to_string_lossy(),
                ],
            );
        }
    }

    pub fn xdg(&self) -> PathBuf {
        self.shared_xdg
            .clone()
            .unwrap_or_else(|| self.root.path().join("xdg"))
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let verb = args.iter().find(|a| !a.starts_with('-')).copied();
        if self.auto_trust && matches!(verb, Some("up" | "provision" | "vagrant")) {
            // a folder that cannot be approved (invalid settings) fails in the command itself
            let _ = self.bare(&["trust"]).output().unwrap();
        }
        self.bare(args)
    }

    /// `tmpl ARGS` in the project, with its private dirs, and nothing done first.
    pub fn bare(&self, args: &[&str]) -> Command {
        // another build of tmpl, to watch an attack succeed on code from before its fix
        let bin =
            std::env::var("TMPL_TEST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_tmpl").into());
        let mut c = match &self.user {
            Some(u) => u.command("tmpl"),
            None => Command::new(bin),
        };
        c.args(args)
            .current_dir(&self.dir)
            .env("NO_COLOR", "1")
            .env("XDG_CACHE_HOME", self.xdg().join("cache"))
            .env("XDG_STATE_HOME", self.xdg().join("state"))
            .env("XDG_CONFIG_HOME", self.xdg().join("config"))
            .stdin(std::process::Stdio::null());
        if self.auto_driver {
            c.env_remove("TMPL_LIBVIRT_DRIVER");
        } else {
            c.env(
                "TMPL_LIBVIRT_DRIVER",
                std::env::var("TMPL_LIBVIRT_DRIVER").unwrap_or_else(|_| "qemu".into()),
            );
        }
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        let out = self.cmd(args).output().unwrap();
        eprintln!(
            "$ tmpl {} -> {:?}\n{}{}",
            args.join(" "),
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Runs tmpl, asserts success, returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "tmpl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn code(&self, args: &[&str]) -> i32 {
        self.run(args).status.code().unwrap_or(-1)
    }

    /// `tmpl ssh -- CMD...` stdout, asserting success.
    pub fn sh(&self, script: &str) -> String {
        self.ok(&["ssh", "--", "sh", "-c", script])
            .trim()
            .to_owned()
    }

    pub fn status(&self) -> serde_json::Value {
        let out = self.run(&["status", "--json"]);
        serde_json::from_slice(&out.stdout).unwrap()
    }

    pub fn slug(&self) -> String {
        self.status()["slug"].as_str().unwrap().to_owned()
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        if !self.keep {
            let _ = self.cmd(&["rm", "-f"]).output();
        }
    }
}

pub fn host(cmd: &str, args: &[&str]) -> Output {
    Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"))
}

pub fn host_ok(cmd: &str, args: &[&str]) -> String {
    let out = host(cmd, args);
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Polls `f` until it returns Some, for up to `timeout`.
pub fn eventually<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if let Some(v) = f() {
            return Some(v);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    None
}

/// Fetches `http://127.0.0.1:PORT/` with a bare TCP request (loopback only).
pub fn http_get(port: u16) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(
        &([127, 0, 0, 1], port).into(),
        Duration::from_secs(2),
    )
    .ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    body.contains("200").then_some(body)
}

/// Every container labelled for `slug`.
pub fn podman_labelled(slug: &str) -> Vec<String> {
    let out = host_ok(
        "podman",
        &[
            "ps",
            "-a",
            "--filter",
            &format!("label=tmpl.project={slug}"),
            "--format",
            "{{.Names}}",
        ],
    );
    out.lines().map(str::to_owned).collect()
}

pub fn exists(p: &Path) -> bool {
    p.exists()
}

/// A Linux bridge made for a test, with its own DHCP server (dnsmasq), never the machine's
/// real interface. Removed on drop. Its DHCP announces no router, as a LAN whose router is
/// another machine: a guest's default route stays its own network's.
pub struct TestBridge {
    pub name: String,
    pub gateway: String,
    dnsmasq: Option<std::process::Child>,
}

impl TestBridge {
    /// `name` at most 15 chars; `net` like "10.77.0" (a /24 that nothing on this host uses).
    pub fn new(name: &str, net: &str, dhcp: bool) -> TestBridge {
        let _ = host("ip", &["link", "del", name]);
        host_ok("ip", &["link", "add", name, "type", "bridge"]);
        host_ok("ip", &["addr", "add", &format!("{net}.1/24"), "dev", name]);
        host_ok("ip", &["link", "set", name, "up"]);
        let dnsmasq = dhcp.then(|| {
            Command::new("dnsmasq")
                .args([
                    "--keep-in-foreground",
                    "--conf-file=/dev/null",
                    "--port=0",
                    "--bind-interfaces",
                    &format!("--interface={name}"),
                    "--except-interface=lo",
                    &format!("--dhcp-range={net}.100,{net}.150,255.255.255.0,1h"),
                    "--dhcp-option=option:router",
                    &format!("--dhcp-leasefile=/tmp/tmpl-e2e-{name}.leases"),
                ])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("dnsmasq (from dnsmasq-base, installed with libvirt)")
        });
        TestBridge {
            name: name.into(),
            gateway: format!("{net}.1"),
            dnsmasq,
        }
    }
}

impl Drop for TestBridge {
    fn drop(&mut self) {
        if let Some(mut d) = self.dnsmasq.take() {
            let _ = d.kill();
            let _ = d.wait();
        }
        let _ = host("ip", &["link", "del", &self.name]);
        let _ = std::fs::remove_file(format!("/tmp/tmpl-e2e-{}.leases", self.name));
    }
}

/// libvirt domains and volumes whose name contains `needle`, as libvirt lists them (a file
/// removed behind libvirt's back after a pool refresh stays in this list: that is the point).
pub fn libvirt_leftovers(needle: &str) -> Vec<String> {
    let doms = host_ok(
        "virsh",
        &["-c", "qemu:///system", "list", "--all", "--name"],
    );
    let vols = host_ok("virsh", &["-c", "qemu:///system", "vol-list", "default"]);
    doms.lines()
        .chain(vols.lines())
        .filter(|l| l.contains(needle))
        .map(|l| l.trim().to_owned())
        .collect()
}

/// Runs `tmpl ARGS` in a process group of its own, as a terminal runs a foreground job, and
/// sends `signal` to the whole group (as Ctrl+C does) once a line containing `when` appears
/// on its stderr. Returns the exit code (None: killed) and everything it printed. Panics if
/// the line never appears: the moment the test is about was not reached.
pub fn signal_at(p: &Project, args: &[&str], when: &str, signal: i32) -> (Option<i32>, String) {
    use std::io::BufRead;
    use std::os::unix::process::CommandExt;
    let mut child = p
        .cmd(args)
        .process_group(0)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pgid = child.id() as i32;
    let mut text = String::new();
    let mut sent = false;
    for line in std::io::BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap_or_default();
        text.push_str(&line);
        text.push('\n');
        if !sent && line.contains(when) {
            // SAFETY: signalling the process group this test created
            unsafe {
                libc::kill(-pgid, signal);
            }
            sent = true;
        }
    }
    let code = child.wait().unwrap().code();
    eprintln!(
        "$ tmpl {} (signal {signal} at {when:?}) -> {code:?}\n{text}",
        args.join(" ")
    );
    assert!(
        sent,
        "`{when}` never appeared in the output of tmpl {args:?}"
    );
    (code, text)
}

/// The outcome `tmpl` recorded for the last operation (`timings.jsonl`).
pub fn last_outcome(p: &Project) -> String {
    let text =
        std::fs::read_to_string(p.xdg().join("state/tmpl/timings.jsonl")).unwrap_or_default();
    let last = text.lines().last().unwrap_or("{}");
    let v: serde_json::Value = serde_json::from_str(last).unwrap();
    v["outcome"].as_str().unwrap_or("").to_owned()
}

/// Makes this host look fresh for `box_name`: Vagrant does not have the box and libvirt's pool
/// holds no base volume of it, so the next `up` adds and uploads it (and refreshes the pool),
/// as on a machine that never ran a VM of it.
pub fn forget_box(box_name: &str) {
    let _ = host("vagrant", &["box", "remove", "--force", "--all", box_name]);
    let prefix = format!(
        "{}_vagrant_box_image_",
        box_name.replace('/', "-VAGRANTSLASH-")
    );
    let vols = host_ok(
        "virsh",
        &["-c", "qemu:///system", "-q", "vol-list", "default"],
    );
    for v in vols.lines().filter_map(|l| l.split_whitespace().next()) {
        if v.starts_with(&prefix) {
            host_ok(
                "virsh",
                &["-c", "qemu:///system", "vol-delete", "--pool", "default", v],
            );
        }
    }
}

/// The host's daemons, for the cases that restart them (`e2e-daemons`).
pub fn systemd() -> bool {
    std::fs::read_to_string("/proc/1/comm")
        .map(|c| c.trim() == "systemd")
        .unwrap_or(false)
}

/// The pid in a pid file, if that process is alive.
pub fn pid_in(file: &str) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(file).ok()?.trim().parse().ok()?;
    // SAFETY: signal 0 only asks whether the process exists
    (unsafe { libc::kill(pid, 0) } == 0).then_some(pid)
}

/// Stops exactly the process `file` names, and waits for it to go.
pub fn stop_pid(file: &str) {
    let Some(pid) = pid_in(file) else { return };
    // SAFETY: a daemon the host set-up (or tmpl) started and noted in `file`
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    // the process, not its pid file: libvirtd removes the file before it has let go of its
    // sockets, and a new one started meanwhile would not answer
    let alive = || unsafe { libc::kill(pid, 0) } == 0;
    let gone = eventually(Duration::from_secs(20), || (!alive()).then_some(()));
    assert!(gone.is_some(), "pid {pid} from {file} did not stop");
}

pub fn cwd_of(pid: i32) -> PathBuf {
    std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap()
}

/// Runs the host set-up from a folder of its own that is deleted afterwards, as CI's clone is.
pub fn setup_from_a_doomed_folder() {
    let doomed = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/setup.sh");
    let out = Command::new("bash")
        .arg(script)
        .current_dir(doomed.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub mod api;
pub mod attack;
pub mod escape;
pub mod lab;
pub mod share;
pub mod user;
