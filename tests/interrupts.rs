//! Ctrl+C reaches each child exactly once, whatever command tmpl is running.
//!
//! A terminal sends SIGINT to its whole foreground process group. Vagrant reads a second
//! SIGINT as "exit immediately, without cleanup", so tmpl must never add one of its own. These
//! cases run tmpl as a terminal would (a process group of its own) with stand-ins for
//! `vagrant`, `virsh` and `ansible-playbook` that count the signals they receive; the real
//! Vagrant is interrupted the same way in `e2e_vm.rs`.

mod fakes;
use fakes::Setup;
use std::path::Path;
use std::process::Stdio;

fn vm_env() -> String {
    "INFRA_TYPE=vm\nMEMORY=256\nCPUS=1\nDISK=2\nIMAGE=tmpl-test/fake\nSYNC=none\nPROVISION_SCRIPT=provision/site.yml\n".into()
}

fn assert_once(what: &str, (code, err, signals): (Option<i32>, String, Vec<String>), sig: &str) {
    assert_eq!(
        signals,
        vec![sig.to_owned()],
        "{what}: the child got {signals:?}"
    );
    assert_eq!(code, Some(130), "{what}: {err}");
    assert!(err.contains("interrupted"), "{what}: {err}");
}

#[test]
fn ctrl_c_reaches_vagrant_once_during_up() {
    let s = Setup::new(false, &vm_env());
    assert_once("up", s.interrupt(&["up"], libc::SIGINT, true), "INT");
    assert!(
        Path::new(&s.path("started")).exists(),
        "the stand-in vagrant ran"
    );
}

#[test]
fn ctrl_c_reaches_vagrant_once_during_stop() {
    let s = Setup::new(true, &vm_env());
    assert_once("stop", s.interrupt(&["stop"], libc::SIGINT, true), "INT");
}

#[test]
fn ctrl_c_reaches_vagrant_once_during_rm() {
    let s = Setup::new(true, &vm_env());
    // `rm` destroys through Vagrant only a machine Vagrant knows: make it one
    let out = s
        .cmd(&["status", "--json"])
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let slug = status["slug"].as_str().unwrap();
    let machine = s
        .path("xdg/state/tmpl")
        .join(slug)
        .join("vagrant/machines")
        .join(slug)
        .join("libvirt");
    std::fs::create_dir_all(&machine).unwrap();
    std::fs::write(machine.join("id"), "x").unwrap();
    assert_once("rm", s.interrupt(&["rm", "-f"], libc::SIGINT, true), "INT");
}

#[test]
fn ctrl_c_reaches_ansible_once_during_provision() {
    let s = Setup::new(true, &vm_env());
    assert_once(
        "provision",
        s.interrupt(&["provision"], libc::SIGINT, true),
        "INT",
    );
}

#[test]
fn sigterm_to_tmpl_alone_is_passed_on_once() {
    let s = Setup::new(false, &vm_env());
    assert_once("up", s.interrupt(&["up"], libc::SIGTERM, false), "TERM");
}
