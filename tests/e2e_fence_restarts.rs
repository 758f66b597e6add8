//! The network fence outlives a restart of the service that made the guest's network: the
//! rules are tmpl's own, so Podman or libvirtd making theirs anew leaves them in force. These
//! stop the host's Podman service and libvirtd, so they run only with `e2e-daemons`.

mod common;
use common::lab::*;
use common::*;

#[test]
#[cfg_attr(
    not(feature = "e2e-daemons"),
    ignore = "needs --features e2e-daemons: stops and restarts the host's Podman service (make test)"
)]
fn a_containers_fence_outlives_a_podman_restart() {
    let lab = Lab::new();
    let _ = &lab;
    let mut probes = Probes::default();
    let p = Project::new(
        "agent",
        &format!("INFRA_TYPE=container\nMEMORY=256\nCPUS=1\nDISK=2\nIMAGE={CONTAINER_IMAGE}\nSYNC=none\n"),
    );
    p.ok(&["up"]);
    // the Podman service restarts: the rules name the bridge, not Podman's state
    stop_pid("/run/tmpl-podman-service.pid");
    stop_pid("/run/podman/podman.tmpl-pid");
    setup_from_a_doomed_folder();
    probes.expect(
        "after Podman restarts: LAN host",
        false,
        reach(&p, LAN, PORT),
    );
    probes.expect(
        "after Podman restarts: internet",
        true,
        reach(&p, INTERNET, PORT),
    );
    p.ok(&["rm", "-f"]);
    probes.assert_all_right();
}

#[test]
#[cfg_attr(
    not(feature = "e2e-daemons"),
    ignore = "needs --features e2e-daemons: stops and restarts the host's libvirtd (make test)"
)]
fn a_vms_fence_outlives_a_libvirtd_restart() {
    let lab = Lab::new();
    let _ = &lab;
    let mut probes = Probes::default();
    let p = Project::new(
        "agent",
        &format!("INFRA_TYPE=vm\nMEMORY=768\nCPUS=1\nDISK=5\nIMAGE={TEST_BOX}\nSYNC=none\n"),
    );
    p.ok(&["up"]);
    // libvirtd restarts and re-makes its own rules: the fence is not among them
    stop_pid("/run/libvirtd.pid");
    setup_from_a_doomed_folder();
    probes.expect(
        "after libvirtd restarts: LAN host",
        false,
        reach(&p, LAN, PORT),
    );
    probes.expect(
        "after libvirtd restarts: internet",
        true,
        reach(&p, INTERNET, PORT),
    );
    p.ok(&["rm", "-f"]);
    probes.assert_all_right();
}
