//! Faults on real Podman and libvirt: interrupts and `kill -9` at every phase of `up`, two
//! `up`s at once, an unreachable daemon, a taken port, a corrupt state file, a missing or
//! unreadable `.env`. After each: nothing orphaned, and the next `up` converges.
//!
//! The cases that stop the host's shared daemons (Podman's API service, libvirtd) run only
//! with TMPL_FAULT_DAEMONS=1, which `make test` sets: CI runs tests one at a time, so no other
//! test is using them meanwhile.

mod common;
use common::*;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn env(extra: &str) -> String {
    format!("INFRA_TYPE=container\nMEMORY=256\nCPUS=1\nDISK=2\nIMAGE={CONTAINER_IMAGE}\n{extra}")
}

/// Starts `tmpl up`, sends `signal` after `delay`, returns tmpl's exit code (None: killed).
fn up_and_signal(p: &Project, delay: Duration, signal: i32) -> Option<i32> {
    let mut child = p
        .cmd(&["up"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(delay);
    unsafe {
        libc::kill(child.id() as i32, signal);
    }
    child.wait().unwrap().code()
}

/// Per-project state dirs (keys, machine data); the lock files of `locks/` do not count.
fn project_state_dirs(p: &Project) -> Vec<String> {
    std::fs::read_dir(p.xdg().join("state/tmpl"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_dir() && e.file_name() != "locks")
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

fn converges(p: &Project) {
    p.ok(&["up"]);
    assert_eq!(p.code(&["status"]), 0);
    assert_eq!(p.sh("echo ok"), "ok");
    assert_eq!(podman_labelled(&p.slug()).len(), 1, "exactly one container");
}

#[test]
fn interrupts_and_kills_at_every_phase_of_a_container_up() {
    let mut faults = 0;
    for (signal, name) in [(libc::SIGINT, "SIGINT"), (libc::SIGKILL, "SIGKILL")] {
        for ms in [0u64, 40, 120, 250, 450, 800] {
            let p = Project::new("faulty", &env(""));
            let code = up_and_signal(&p, Duration::from_millis(ms), signal);
            eprintln!("{name} after {ms} ms: tmpl exited {code:?}");
            match signal {
                // None: the signal came before tmpl installed its handler (nothing begun yet)
                libc::SIGINT => assert!(matches!(code, None | Some(0) | Some(130)), "{code:?}"),
                _ => assert!(matches!(code, None | Some(0)), "{code:?}"),
            }
            converges(&p);
            let slug = p.slug();
            p.ok(&["rm", "-f"]);
            assert!(podman_labelled(&slug).is_empty());
            faults += 1;
        }
    }
    eprintln!("faults injected: {faults}");
}

#[test]
fn two_ups_at_once_make_one_container() {
    let p = Project::new("racer", &env(""));
    let a = p
        .cmd(&["up"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let b = p
        .cmd(&["--wait", "up"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let (ea, eb) = (
        String::from_utf8_lossy(&a.stderr),
        String::from_utf8_lossy(&b.stderr),
    );
    assert!(b.status.success(), "--wait waits and succeeds: {eb}");
    match a.status.code() {
        Some(0) => {}
        Some(75) => assert!(ea.contains("is locked by pid"), "{ea}"),
        other => panic!("unexpected {other:?}: {ea}"),
    }
    assert_eq!(podman_labelled(&p.slug()).len(), 1);
}

#[test]
fn an_explicit_unreachable_socket_fails_fast_and_creates_nothing() {
    let p = Project::new("nosock", &env(""));
    let t = Instant::now();
    let out = p
        .cmd(&["up"])
        .env("CONTAINER_HOST", "unix:///tmp/tmpl-no-such-podman.sock")
        .output()
        .unwrap();
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "took {:?}",
        t.elapsed()
    );
    assert_eq!(out.status.code(), Some(69));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/tmp/tmpl-no-such-podman.sock") && err.contains("hint:"),
        "{err}"
    );
    assert!(
        project_state_dirs(&p).is_empty(),
        "{:?}",
        project_state_dirs(&p)
    );
}

#[test]
fn a_port_in_use_is_named_and_nothing_is_created() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let p = Project::new("porty", &env(&format!("PORTS={port}:80\n")));
    let out = p.run(&["up"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains(&format!("127.0.0.1:{port}/tcp is already in use")));
    let all = host_ok("podman", &["ps", "-a", "--format", "{{.Names}}"]);
    assert!(!all.lines().any(|n| n.starts_with("tmpl-porty-")));
    drop(l);
    converges(&p);
}

#[test]
fn a_corrupt_registry_is_reported_then_recovered() {
    let p = Project::new("corrupt", &env(""));
    let reg = p.xdg().join("state/tmpl/registry.json");
    std::fs::create_dir_all(reg.parent().unwrap()).unwrap();
    std::fs::write(&reg, "{ this is not json").unwrap();
    let out = p.run(&["ls"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is corrupt") && err.contains("hint:"), "{err}");
    let out = p.run(&["up"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("moved it to"));
    assert!(p.ok(&["ls"]).contains("corrupt-"));
}

#[test]
fn a_missing_or_unreadable_env_creates_nothing() {
    let p = Project::new("noenv", "");
    std::fs::remove_file(p.dir.join(".env")).unwrap();
    assert_eq!(p.code(&["up"]), 78);
    std::fs::create_dir(p.dir.join(".env")).unwrap();
    let out = p.run(&["--env-file", ".env", "up"]);
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
    assert!(!p.xdg().join("state/tmpl").exists());
}

fn daemons_allowed() -> bool {
    std::env::var("TMPL_FAULT_DAEMONS").as_deref() == Ok("1")
}

fn systemd() -> bool {
    std::fs::read_to_string("/proc/1/comm")
        .map(|c| c.trim() == "systemd")
        .unwrap_or(false)
}

#[test]
fn podman_service_down_is_started_again() {
    if !daemons_allowed() {
        eprintln!(
            "skipped: set TMPL_FAULT_DAEMONS=1 (make test does) to stop the host's Podman service"
        );
        return;
    }
    if systemd() {
        host("systemctl", &["stop", "podman.socket", "podman.service"]);
    } else {
        host("pkill", &["-f", "podman system service"]);
    }
    let p = Project::new("phoenix", &env(""));
    let out = p.run(&["up"]);
    assert!(
        out.status.success(),
        "tmpl starts a transient API service and goes on"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("starting a Podman API service"));
    p.ok(&["rm", "-f"]);
    // Leave the host as `make setup` made it. The transient service tmpl started inherited
    // this test's XDG dirs, which are deleted with the test: stop it, or setup.sh would find
    // it answering and keep it.
    host("pkill", &["-f", "podman system service"]);
    eventually(Duration::from_secs(10), || {
        (!host("pgrep", &["-f", "podman system service"])
            .status
            .success())
        .then_some(())
    });
    host_ok("bash", &["scripts/setup.sh"]);
}

#[test]
fn libvirtd_down_fails_fast_and_creates_nothing() {
    if !daemons_allowed() {
        eprintln!("skipped: set TMPL_FAULT_DAEMONS=1 (make test does) to stop the host's libvirtd");
        return;
    }
    if systemd() {
        host(
            "systemctl",
            &[
                "stop",
                "libvirtd.service",
                "libvirtd.socket",
                "libvirtd-ro.socket",
                "libvirtd-admin.socket",
            ],
        );
    } else {
        host("pkill", &["-x", "libvirtd"]);
        eventually(Duration::from_secs(10), || {
            (!host("pgrep", &["-x", "libvirtd"]).status.success()).then_some(())
        });
    }
    let p = Project::new(
        "novirt",
        &format!("INFRA_TYPE=vm\nMEMORY=512\nCPUS=1\nDISK=4\nIMAGE={TEST_BOX}\n"),
    );
    let t = Instant::now();
    let out = p.run(&["up"]);
    let took = t.elapsed();
    host_ok("bash", &["scripts/setup.sh"]);
    assert_eq!(out.status.code(), Some(69));
    assert!(took < Duration::from_secs(2), "took {took:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("libvirt does not answer") && err.contains("hint:"),
        "{err}"
    );
    assert!(
        project_state_dirs(&p).is_empty(),
        "{:?}",
        project_state_dirs(&p)
    );
}
