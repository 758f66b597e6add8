//! A project whose tools are stand-ins: `vagrant`, `virsh`, `ansible-playbook` and others are
//! scripts in a folder put first on PATH, so the CLI can be driven through a VM's whole
//! lifecycle without libvirt. For the fast tier only; the real stack is in `e2e_*.rs`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A child that notes every SIGINT and SIGTERM it gets, says when it is running, and exits
/// after a second of "cleanup" once signalled.
pub const COUNTING_CHILD: &str = r#"#!/bin/bash
log="$TMPL_TEST_DIR/signals"
trap 'echo INT >> "$log"; stop=1' INT
trap 'echo TERM >> "$log"; stop=1' TERM
echo "$(basename "$0") $*" >> "$TMPL_TEST_DIR/started"
stop=0
for _ in $(seq 600); do
  [ "$stop" = 1 ] && break
  sleep 0.05
done
for _ in $(seq 20); do sleep 0.05; done
exit 1
"#;

/// libvirt as the Vagrant backend sees it: a running domain with an address, or none.
pub const VIRSH: &str = r#"#!/bin/bash
case "$*" in
  *domstate*)
    if [ -e "$TMPL_TEST_DIR/domain" ]; then
      echo running
      echo " vnet0  52:54:00:00:00:01  ipv4  192.168.121.9/24"
    else
      echo "error: failed to get domain 'x'" >&2
      echo "error: Domain not found" >&2
      exit 1
    fi ;;
  *vol-path*|*vol-info*) exit 1 ;;
  *net-info*) exit 1 ;;
  *) exit 0 ;;
esac
"#;

/// The host's firewall, which the fast tier must never touch: notes each call.
pub const NFT: &str = r#"#!/bin/bash
echo "nft $*" >> "$TMPL_TEST_DIR/nft"
case "$*" in
  "list table "*) exit 1 ;;
  *) exit 0 ;;
esac
"#;

pub struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    pub fn new(domain: bool, env: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        for (name, text) in [
            ("vagrant", COUNTING_CHILD),
            ("ansible-playbook", COUNTING_CHILD),
            ("virsh", VIRSH),
            ("nft", NFT),
        ] {
            let p = bin.join(name);
            std::fs::write(&p, text).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        // a box Vagrant already has, so `up` goes straight to `vagrant up`
        let meta = dir
            .path()
            .join("vagrant.d/boxes/tmpl-test-VAGRANTSLASH-fake/0/libvirt");
        std::fs::create_dir_all(&meta).unwrap();
        std::fs::write(meta.join("metadata.json"), "{}").unwrap();
        std::fs::create_dir_all(dir.path().join("project")).unwrap();
        std::fs::write(dir.path().join("project/.env"), env).unwrap();
        std::fs::create_dir_all(dir.path().join("project/provision")).unwrap();
        std::fs::write(
            dir.path().join("project/provision/site.yml"),
            "- hosts: all\n  tasks: []\n",
        )
        .unwrap();
        if domain {
            std::fs::write(dir.path().join("domain"), "").unwrap();
        }
        let s = Setup { dir };
        // the person approved the folder, as they do once before its first `up`
        let out = s.cmd(&["trust"]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        s
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tmpl"));
        let path = format!(
            "{}:{}",
            self.path("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        c.args(args)
            .current_dir(self.path("project"))
            .env("PATH", path)
            .env("TMPL_TEST_DIR", self.dir.path())
            .env("NO_COLOR", "1")
            .env("TMPL_LIBVIRT_DRIVER", "qemu")
            .env("VAGRANT_HOME", self.path("vagrant.d"))
            .env("HOME", self.dir.path())
            .env("XDG_CACHE_HOME", self.path("xdg/cache"))
            .env("XDG_STATE_HOME", self.path("xdg/state"))
            .env("XDG_CONFIG_HOME", self.path("xdg/config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        c
    }

    /// Runs tmpl in a process group of its own; once the stand-in child runs, sends `signal`
    /// to the whole group (`group`, as a terminal does) or to tmpl alone. Returns tmpl's exit
    /// code, its stderr and the signals the child received.
    pub fn interrupt(
        &self,
        args: &[&str],
        signal: i32,
        group: bool,
    ) -> (Option<i32>, String, Vec<String>) {
        let mut child = self.cmd(args).process_group(0).spawn().unwrap();
        let pid = child.id() as i32;
        let started = self.path("started");
        let t = Instant::now();
        while !started.exists() {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "tmpl {args:?} never started its child"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // SAFETY: signalling the process (group) this test started
        unsafe {
            libc::kill(if group { -pid } else { pid }, signal);
        }
        let mut err = String::new();
        for l in BufReader::new(child.stderr.take().unwrap()).lines() {
            err.push_str(&l.unwrap_or_default());
            err.push('\n');
        }
        let code = child.wait().unwrap().code();
        let signals = std::fs::read_to_string(self.path("signals")).unwrap_or_default();
        let signals = signals.lines().map(str::to_owned).collect();
        eprintln!("tmpl {args:?} -> {code:?}\n{err}");
        (code, err, signals)
    }
}

impl Setup {
    /// Puts a stand-in for `name` first on PATH.
    pub fn fake(&self, name: &str, script: &str) {
        let p = self.path("bin").join(name);
        std::fs::write(&p, script).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}
