//! Containers end to end on real Podman, with the `localhost/tmpl-test/debian12` fixture.

mod common;
use common::*;
use std::time::Duration;

fn env(extra: &str) -> String {
    format!("INFRA_TYPE=container\nMEMORY=384\nCPUS=1\nDISK=2\nIMAGE={CONTAINER_IMAGE}\n{extra}")
}

#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn lifecycle_limits_ports_and_exit_codes() {
    let p = Project::new("web", &env("PORTS=18431:8000\n"));
    assert_eq!(p.code(&["status"]), 4, "not created yet");
    p.ok(&["up"]);
    let slug = p.slug();
    assert_eq!(podman_labelled(&slug), vec![format!("tmpl-{slug}")]);

    // limits, as podman itself reports them
    let inspect: serde_json::Value =
        serde_json::from_str(&host_ok("podman", &["inspect", &format!("tmpl-{slug}")])).unwrap();
    let hc = &inspect[0]["HostConfig"];
    assert_eq!(hc["Memory"], 384 * 1024 * 1024);
    assert_eq!(hc["NanoCpus"], 1_000_000_000);
    assert_eq!(
        inspect[0]["Config"]["Labels"]["tmpl.dir"],
        p.dir.canonicalize().unwrap().display().to_string()
    );
    assert_eq!(p.sh("cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes"), (384 * 1024 * 1024).to_string());
    // the host key is tmpl's, pinned before the first contact: the one line of known_hosts
    // is the key the guest's sshd serves
    let kh = std::fs::read_to_string(
        p.xdg()
            .join("state/tmpl")
            .join(&slug)
            .join("ssh/known_hosts"),
    )
    .unwrap();
    assert_eq!(kh.lines().count(), 1, "{kh}");
    let pinned: Vec<&str> = kh.split_whitespace().skip(1).take(2).collect();
    let served = p.sh("ssh-keygen -y -f /etc/ssh/ssh_host_ed25519_key");
    let served: Vec<&str> = served.split_whitespace().take(2).collect();
    assert_eq!(pinned, served);
    assert_eq!(
        p.sh("ls /etc/ssh/ | grep -c '_key$'"),
        "1",
        "no keys generated"
    );

    // what build tools size their parallelism from: CPUS, not the host's cores
    let host_cores = std::thread::available_parallelism().unwrap().get();
    assert_eq!(p.sh("nproc"), 1.min(host_cores).to_string());
    if host_cores > 1 {
        assert_eq!(hc["CpusetCpus"].as_str().unwrap().split(',').count(), 1);
    }

    // arguments arrive exactly as given; exit codes pass through
    assert_eq!(p.sh("echo $((6*7))"), "42");
    assert_eq!(
        p.ok(&["ssh", "--", "printf", "%s|", "a b", "it's", "$HOME"]),
        "a b|it's|$HOME|"
    );
    assert_eq!(p.code(&["ssh", "--", "sh", "-c", "exit 7"]), 7);
    assert_eq!(p.code(&["ssh", "--", "false"]), 1);

    // a published port reaches a server in the container, on 127.0.0.1
    p.ok(&["ssh", "--", "sh", "-c", "cd /tmp && echo hello-from-guest > index.html && (setsid python3 -m http.server 8000 >/dev/null 2>&1 &)"]);
    let body = eventually(Duration::from_secs(10), || http_get(18431)).expect("port 18431 answers");
    assert!(body.contains("hello-from-guest"));

    // up again duplicates nothing
    p.ok(&["up"]);
    assert_eq!(podman_labelled(&slug).len(), 1);

    // data survives stop/up
    p.sh("echo kept > /root/marker");
    p.ok(&["stop"]);
    assert_eq!(p.code(&["status"]), 3);
    assert_eq!(p.status()["state"], "stopped");
    p.ok(&["up"]);
    assert_eq!(p.sh("cat /root/marker"), "kept");

    p.ok(&["rm", "-f"]);
    assert!(
        podman_labelled(&slug).is_empty(),
        "nothing labelled for the project is left"
    );
    assert_eq!(p.code(&["status"]), 4);
    let again = p.run(&["rm", "-f"]);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("nothing to remove"));
}

#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn ssh_config_works_with_plain_ssh() {
    let p = Project::new("plain", &env(""));
    p.ok(&["up"]);
    let block = p.ok(&["ssh-config"]);
    let cfg = p.dir.join("ssh_config");
    std::fs::write(&cfg, &block).unwrap();
    let alias = block
        .lines()
        .next()
        .unwrap()
        .strip_prefix("Host ")
        .unwrap()
        .to_owned();
    let out = host_ok(
        "ssh",
        &[
            "-F",
            cfg.to_str().unwrap(),
            "-o",
            "BatchMode=yes",
            &alias,
            "hostname",
        ],
    );
    assert_eq!(out.trim(), "plain");
}

#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn fixed_ip_is_the_containers_address() {
    let p = Project::new("fixed", &env("FIXED_IP=10.213.7.42\n"));
    p.ok(&["up"]);
    assert!(p.sh("ip -4 -o addr").contains("10.213.7.42/24"));
    assert_eq!(p.status()["address"], "10.213.7.42");
    let slug = p.slug();
    p.ok(&["rm", "-f"]);
    let nets = host_ok("podman", &["network", "ls", "--format", "{{.Name}}"]);
    assert!(
        !nets.lines().any(|n| n == format!("tmpl-{slug}")),
        "the project's network is removed"
    );
}

#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn invalid_env_creates_nothing() {
    let p = Project::new(
        "broken",
        "INFRA_TYPE=container\nMEMORY=lots\nCPUS=1\nDISK=2\n",
    );
    assert_eq!(p.code(&["up"]), 78);
    let all = host_ok("podman", &["ps", "-a", "--format", "{{.Names}}"]);
    assert!(!all.lines().any(|n| n.starts_with("tmpl-broken-")));
    assert!(!p.xdg().join("state/tmpl").exists(), "no state written");
}

#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn same_folder_name_in_two_places_coexist() {
    let a = Project::new("twin", &env(""));
    let b = Project::new("twin", &env(""));
    a.ok(&["up"]);
    b.ok(&["up"]);
    assert_ne!(a.slug(), b.slug());
    a.sh("echo a > /root/who");
    b.sh("echo b > /root/who");
    a.ok(&["rm", "-f"]);
    assert_eq!(
        b.code(&["status"]),
        0,
        "removing one leaves the other running"
    );
    assert_eq!(b.sh("cat /root/who"), "b");
}

#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn changed_settings_are_refused_until_trusted() {
    let mut p = Project::new("trusty", &env("SECRET_TOKEN=abc\n"));
    p.auto_trust = false;
    let out = p.run(&["up"]);
    assert_eq!(
        out.status.code(),
        Some(77),
        "a new folder runs nothing unasked"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("has not been approved"));
    assert!(podman_labelled(&p.slug()).is_empty(), "nothing was created");
    p.ok(&["trust"]);
    p.ok(&["up"]);
    // an agent in the guest (or anyone) widens the guest's reach and edits a secret
    std::fs::write(
        p.dir.join(".env"),
        env("SECRET_TOKEN=xyz\nPORTS=0.0.0.0:18432:22\n"),
    )
    .unwrap();
    let out = p.run(&["up"]);
    assert_eq!(out.status.code(), Some(77), "refused without a terminal");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("PORTS=0.0.0.0:18432:22 (new)"), "{err}");
    assert!(
        err.contains("SECRET_TOKEN (.env:6): its value changed (not shown") && !err.contains("xyz"),
        "secrets are not shown: {err}"
    );
    assert!(err.contains("tmpl trust"));
    p.ok(&["trust"]);
    p.ok(&["up"]);
    assert_eq!(p.code(&["status"]), 0);
}

/// `NETWORK_TYPE=bridge`: the container joins a bridge the test makes (never the machine's
/// real interface) through macvlan, and stays reachable over SSH on its published port.
#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn bridge_mode_puts_the_container_on_the_bridge() {
    let bridge = TestBridge::new("tmplbr-ct", "10.78.0", false);
    let p = Project::new(
        "bridged",
        &env(&format!(
            "NETWORK_TYPE=bridge\nBRIDGE={}\nFIXED_IP=10.78.0.50\nEGRESS=open\n",
            bridge.name
        )),
    );
    p.ok(&["up"]);
    let addrs = p.sh("ip -4 -o addr");
    assert!(addrs.contains("10.78.0.50/24"), "on the bridge: {addrs}");
    assert!(
        addrs.contains("10.88."),
        "and on Podman's default network for SSH: {addrs}"
    );
    let slug = p.slug();
    let net: serde_json::Value = serde_json::from_str(&host_ok(
        "podman",
        &["network", "inspect", &format!("tmpl-{slug}")],
    ))
    .unwrap();
    assert_eq!(net[0]["driver"], "macvlan");
    assert_eq!(net[0]["network_interface"], "tmplbr-ct");

    // without FIXED_IP, the address comes from the bridge's own subnet
    let q = Project::new(
        "bridged2",
        &env(&format!(
            "NETWORK_TYPE=bridge\nBRIDGE={}\nEGRESS=open\n",
            bridge.name
        )),
    );
    q.ok(&["up"]);
    assert!(q.sh("ip -4 -o addr").contains("10.78.0."));

    p.ok(&["rm", "-f"]);
    q.ok(&["rm", "-f"]);
    let nets = host_ok("podman", &["network", "ls", "--format", "{{.Name}}"]);
    assert!(!nets.contains(&format!("tmpl-{slug}")));
    drop(bridge);
}
