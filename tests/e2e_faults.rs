//! Faults on real Podman and libvirt: interrupts and `kill -9` at every phase of `up`, two
//! `up`s at once, an unreachable daemon, a taken port, a corrupt state file, a missing or
//! unreadable `.env`. After each: nothing orphaned, and the next `up` converges.
//!
//! The cases that stop the host's shared daemons (Podman's API service, libvirtd) run only
//! with the `e2e-daemons` feature, which `make test` turns on: tests run one at a time
//! there, so no other test is using them meanwhile.

mod common;
use common::*;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn env(extra: &str) -> String {
    format!("INFRA_TYPE=container\nMEMORY=256\nCPUS=1\nDISK=2\nIMAGE={CONTAINER_IMAGE}\n{extra}")
}

/// Per-project state dirs (keys, machine data); the lock files of `locks/` and the folder's
/// approval in `trust/` (made before `up`, as a person does) do not count.
fn project_state_dirs(p: &Project) -> Vec<String> {
    std::fs::read_dir(p.xdg().join("state/tmpl"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_dir() && e.file_name() != "locks" && e.file_name() != "trust")
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
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn interrupts_and_kills_at_every_phase_of_a_container_up() {
    let mut faults = 0;
    for phase in ["create", "start", "ssh"] {
        let label = match phase {
            "create" => "==> creating container",
            "start" => "==> starting container",
            _ => "==> waiting for SSH",
        };
        for (signal, name) in [(libc::SIGINT, "SIGINT"), (libc::SIGKILL, "SIGKILL")] {
            let p = Project::new("faulty", &env(""));
            let (code, _) = signal_at(&p, &["up"], label, signal);
            eprintln!("{name} in {phase}: tmpl exited {code:?}");
            if signal == libc::SIGINT {
                assert_eq!(code, Some(130), "Ctrl+C in {phase}");
                assert_eq!(last_outcome(&p), format!("interrupted in {phase}"));
            } else {
                assert_eq!(code, None, "kill -9 in {phase}");
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
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
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
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
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
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
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
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
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
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
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

const SETUP_PODMAN_PID: &str = "/run/tmpl-podman-service.pid";
const TMPL_PODMAN_PID: &str = "/run/podman/podman.tmpl-pid";

#[test]
#[cfg_attr(
    not(feature = "e2e-daemons"),
    ignore = "stops and restarts the host's libvirtd and Podman service: `cargo test --features e2e-daemons` (make test)"
)]
fn podman_service_down_checks_start_nothing_and_up_starts_one_in_root() {
    if systemd() {
        host("systemctl", &["stop", "podman.socket", "podman.service"]);
    } else {
        stop_pid(SETUP_PODMAN_PID);
    }
    let p = Project::new("phoenix", &env(""));

    // checks report what they find: no service, and they start none; doctor does not call
    // that a failure, since `up` starts one
    let doctor = p.run(&["doctor"]);
    assert_eq!(doctor.status.code(), Some(0));
    // the columns' width follows the longest check's name, so only the words are compared
    let said = String::from_utf8_lossy(&doctor.stdout);
    let said = said.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        said.contains("podman api none running; `tmpl up` starts one on /run/podman/podman.sock"),
        "{said}"
    );
    p.run(&["ls"]);
    p.run(&["gc", "--yes"]);
    assert_eq!(p.code(&["status"]), 69, "status cannot tell without Podman");
    assert!(
        std::os::unix::net::UnixStream::connect("/run/podman/podman.sock").is_err(),
        "a check started a Podman service"
    );

    // up needs the guest: it starts a transient service, in `/`, not in the project folder
    let out = p.run(&["up"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("starting a Podman API service"));
    let service = pid_in(TMPL_PODMAN_PID).expect("tmpl noted the service it started");
    assert_eq!(cwd_of(service), Path::new("/"));
    p.ok(&["rm", "-f"]);
    // the folder tmpl was started in goes away, as project folders and CI's clones do:
    // containers must still start
    let dir = p.dir.clone();
    drop(p);
    std::fs::remove_dir_all(dir.parent().unwrap()).ok();
    let q = Project::new("afterwards", &env(""));
    converges(&q);
    q.ok(&["rm", "-f"]);

    // leave the host as `make setup` made it, its service started from a folder that goes
    stop_pid(TMPL_PODMAN_PID);
    setup_from_a_doomed_folder();
    if !systemd() {
        let setup_service = pid_in(SETUP_PODMAN_PID).expect("setup.sh started the service again");
        assert_eq!(cwd_of(setup_service), Path::new("/"));
    }
    let r = Project::new("restored", &env(""));
    converges(&r);
}

#[test]
#[cfg_attr(
    not(feature = "e2e-daemons"),
    ignore = "stops and restarts the host's libvirtd and Podman service: `cargo test --features e2e-daemons` (make test)"
)]
fn libvirtd_down_fails_fast_and_creates_nothing() {
    if systemd() {
        let units = [
            "libvirtd.service",
            "libvirtd.socket",
            "libvirtd-ro.socket",
            "libvirtd-admin.socket",
        ];
        host("systemctl", &[&["stop"][..], &units[..]].concat());
    } else {
        stop_pid("/run/libvirtd.pid");
    }
    let p = Project::new(
        "novirt",
        &format!("INFRA_TYPE=vm\nMEMORY=512\nCPUS=1\nDISK=4\nIMAGE={TEST_BOX}\n"),
    );
    let t = Instant::now();
    let out = p.run(&["up"]);
    let took = t.elapsed();
    setup_from_a_doomed_folder();
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
