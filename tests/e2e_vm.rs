//! VMs end to end on real libvirt (software emulation here: TMPL_LIBVIRT_DRIVER=qemu) with
//! the fixtures: the `tmpl-test/debian12` box and the cloud image. Few tests, each doing a
//! lot, because a VM boot costs about a minute.

mod common;
use common::*;
use std::time::{Duration, Instant};

/// Two VMs in folders with the same name, up at the same time: one from the box (with
/// forwarded port, fixed IP and a bridge with its own DHCP), one from the cloud image.
#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn box_and_cloud_image_lifecycles_side_by_side() {
    let bridge = TestBridge::new("tmplbr-vm", "10.77.0", true);
    let a = Project::new(
        "twin",
        &format!(
            "INFRA_TYPE=vm\nMEMORY=1024\nCPUS=2\nDISK=6\nIMAGE={TEST_BOX}\nPORTS=18501:8000\nFIXED_IP=192.168.57.10\nNETWORK_TYPE=bridge\nBRIDGE={}\n",
            bridge.name
        ),
    );
    let b = Project::new(
        "twin",
        &format!(
            "INFRA_TYPE=vm\nMEMORY=768\nCPUS=1\nDISK=5\nIMAGE={}\n",
            cloud_image().display()
        ),
    );
    assert_eq!(a.code(&["status"]), 4);
    let package_keys = vagrants_own_key_modes();

    let t = Instant::now();
    a.ok(&["up"]);
    eprintln!("box up from nothing: {:.1}s", t.elapsed().as_secs_f64());
    // Vagrant chmods every key file it is given to 0600, and tmpl offers the insecure key:
    // from a copy of its own, or a person could no longer read the package's file
    assert_eq!(vagrants_own_key_modes(), package_keys);
    let sa = a.status();
    let domain_a = sa["domain"].as_str().unwrap().to_owned();
    assert!(domain_a.starts_with("tmpl-twin-"));
    assert!(sa["vagrant_cwd"]
        .as_str()
        .unwrap()
        .contains(sa["slug"].as_str().unwrap()));

    // resources as asked: memory and vCPUs of the domain, nproc and disk inside
    let info = host_ok("virsh", &["-c", "qemu:///system", "dominfo", &domain_a]);
    assert!(
        info.lines()
            .any(|l| l.starts_with("Max memory:") && l.contains("1048576 KiB")),
        "{info}"
    );
    assert!(
        info.lines()
            .any(|l| l.starts_with("CPU(s):") && l.trim().ends_with('2')),
        "{info}"
    );
    assert_eq!(a.sh("nproc"), "2");
    let mem_kib: u64 = a
        .sh("awk '/MemTotal/ {print $2}' /proc/meminfo")
        .parse()
        .unwrap();
    assert!(
        mem_kib > 900 * 1024 && mem_kib <= 1024 * 1024,
        "MemTotal {mem_kib} KiB"
    );
    let root_bytes: u64 = a
        .sh("df -B1 --output=size / | tail -n1")
        .trim()
        .parse()
        .unwrap();
    assert!(
        root_bytes > 5 * (1 << 30),
        "root filesystem grown to DISK=6: {root_bytes}"
    );

    // networks: fixed IP, the test bridge's DHCP, a forwarded port on 127.0.0.1
    let addrs = a.sh("ip -4 -o addr");
    assert!(addrs.contains("192.168.57.10/24"), "{addrs}");
    assert!(
        addrs.contains("10.77.0."),
        "bridge address from the test's DHCP: {addrs}"
    );
    a.ok(&["ssh", "--", "sh", "-c", "cd /tmp && echo vm-says-hi > index.html && (setsid python3 -m http.server 8000 >/dev/null 2>&1 &)"]);
    let body =
        eventually(Duration::from_secs(20), || http_get(18501)).expect("forwarded port answers");
    assert!(body.contains("vm-says-hi"));
    assert_eq!(a.code(&["ssh", "--", "sh", "-c", "exit 7"]), 7);
    assert_eq!(a.sh("echo $((6*7))"), "42");

    // a box's first boot is tmpl's (no `insert_key`, no Vagrant hostname): named, with the
    // name resolvable, logging in with the project's key, Vagrant's insecure key gone
    assert_eq!(a.sh("hostname"), "twin");
    assert_eq!(a.sh("sudo true 2>&1"), "", "sudo resolves the name");
    let keys_a = a.sh("cat ~/.ssh/authorized_keys");
    assert!(keys_a.contains(&format!("tmpl-{}", a.slug())), "{keys_a}");
    assert!(!keys_a.contains("vagrant insecure"), "{keys_a}");
    assert_eq!(keys_a.lines().count(), 1, "{keys_a}");

    // already running: answered from libvirt, no Vagrant
    let t = Instant::now();
    a.ok(&["up"]);
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "up on a running VM took {:?}",
        t.elapsed()
    );

    // an `up` cut off before the first-boot step leaves the box's insecure key in and no
    // record of it: the next `up` finishes it, though the VM runs
    let insecure = vagrants_insecure_public_key();
    a.ok(&[
        "ssh",
        "--",
        "sh",
        "-c",
        &format!("printf '%s\\n' '{insecure}' > ~/.ssh/authorized_keys"),
    ]);
    let state_a = a.xdg().join("state/tmpl").join(a.slug());
    std::fs::remove_file(state_a.join("first-boot")).unwrap();
    a.ok(&["up"]);
    assert!(state_a.join("first-boot").is_file());
    let keys_a = a.sh("cat ~/.ssh/authorized_keys");
    assert!(keys_a.contains(&format!("tmpl-{}", a.slug())), "{keys_a}");
    assert!(
        !keys_a.contains(insecure.split_whitespace().nth(1).unwrap()),
        "{keys_a}"
    );

    // the cloud image, at the same time, in a folder with the same name, on a pool that has
    // never seen it: Vagrant adds the box and uploads its base volume, which refreshes the
    // pool while the seed exists (what a fresh machine does)
    forget_box(b.status()["box"].as_str().unwrap());
    let t = Instant::now();
    b.ok(&["up"]);
    eprintln!(
        "cloud image up from nothing: {:.1}s",
        t.elapsed().as_secs_f64()
    );
    assert_ne!(a.slug(), b.slug());
    // libvirt re-reads its pool now and then (Vagrant's first box upload does): whatever
    // tmpl keeps there must stay in step with libvirt's list through that
    host_ok(
        "virsh",
        &["-c", "qemu:///system", "pool-refresh", "default"],
    );
    assert_eq!(b.sh("id -un"), "tmpl");
    assert_eq!(b.sh("hostname"), "twin");
    let key_comment = format!("tmpl-{}", b.slug());
    assert!(
        b.sh("cat ~/.ssh/authorized_keys").contains(&key_comment),
        "logs in with the project's own key"
    );
    assert!(!b
        .sh("cat ~/.ssh/authorized_keys")
        .contains("vagrant insecure"));
    // the host key came from tmpl through the seed: the guest has that one alone, and the
    // pin was exact before the first contact, not an `accept-new` of whatever answered
    let ssh_b = b.xdg().join("state/tmpl").join(b.slug()).join("ssh");
    let made = std::fs::read_to_string(ssh_b.join("host_ed25519.pub")).expect("tmpl made it");
    let blob = made.split_whitespace().nth(1).unwrap();
    assert_eq!(
        std::fs::read_to_string(ssh_b.join("known_hosts")).unwrap(),
        format!("tmpl-{} ssh-ed25519 {blob}\n", b.slug())
    );
    assert_eq!(
        b.sh("ls /etc/ssh | grep '^ssh_host_.*_key$'"),
        "ssh_host_ed25519_key"
    );
    assert!(b
        .sh("sudo cat /etc/ssh/ssh_host_ed25519_key.pub")
        .contains(blob));
    let root_b: u64 = b
        .sh("df -B1 --output=size / | tail -n1")
        .trim()
        .parse()
        .unwrap();
    assert!(
        root_b > 4 * (1 << 30),
        "cloud-init grew the root filesystem: {root_b}"
    );
    assert_eq!(a.code(&["status"]), 0, "A still running");

    // stop keeps data; up starts it again
    a.sh("echo kept > ~/marker && sync");
    let t = Instant::now();
    a.ok(&["stop"]);
    eprintln!("box stop: {:.1}s", t.elapsed().as_secs_f64());
    assert_eq!(a.code(&["status"]), 3);
    let t = Instant::now();
    a.ok(&["up"]);
    eprintln!("box up from stopped: {:.1}s", t.elapsed().as_secs_f64());
    assert_eq!(a.sh("cat ~/marker"), "kept");

    // rm: nothing of A left, B untouched
    let slug_a = a.slug();
    let t = Instant::now();
    a.ok(&["rm", "-f"]);
    eprintln!("box rm: {:.1}s", t.elapsed().as_secs_f64());
    assert!(
        libvirt_leftovers(&slug_a).is_empty(),
        "{:?}",
        libvirt_leftovers(&slug_a)
    );
    assert_eq!(b.code(&["status"]), 0, "B still running after A is removed");
    let slug_b = b.slug();
    b.ok(&["rm", "-f"]);
    assert!(
        libvirt_leftovers(&slug_b).is_empty(),
        "{:?}",
        libvirt_leftovers(&slug_b)
    );
    assert!(
        !std::path::Path::new(&format!("/var/lib/libvirt/images/tmpl-{slug_b}-seed.iso")).exists()
    );
    drop(bridge);
}

/// The modes of the Vagrant package's key files (Debian's layout), to see that nothing
/// changed them.
fn vagrants_own_key_modes() -> Vec<(std::path::PathBuf, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let gems = std::path::Path::new("/usr/share/rubygems-integration/all/gems");
    let mut modes: Vec<_> = std::fs::read_dir(gems)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("vagrant-2"))
        .flat_map(|e| {
            std::fs::read_dir(e.path().join("keys"))
                .into_iter()
                .flatten()
                .flatten()
        })
        .map(|k| (k.path(), k.metadata().unwrap().permissions().mode() & 0o777))
        .collect();
    modes.sort();
    modes
}

/// The public half of the insecure key of the Vagrant installed here (Debian's layout).
fn vagrants_insecure_public_key() -> String {
    vagrants_own_key_modes()
        .into_iter()
        .find(|(p, _)| p.file_name().is_some_and(|n| n == "vagrant.pub"))
        .map(|(p, _)| std::fs::read_to_string(p).unwrap().trim().to_owned())
        .expect("Vagrant's keys/vagrant.pub")
}

/// Ctrl+C at a terminal while Vagrant creates the domain: Vagrant gets one SIGINT, cleans up,
/// and the next `up` converges. tmpl is run as a person runs it, without TMPL_LIBVIRT_DRIVER:
/// on a host whose KVM does not work it must notice and fall back by itself.
#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn ctrl_c_while_creating_lets_vagrant_clean_up_and_up_converges() {
    let mut p = Project::new(
        "hasty",
        &format!("INFRA_TYPE=vm\nMEMORY=512\nCPUS=1\nDISK=4\nIMAGE={TEST_BOX}\nSYNC=none\n"),
    );
    p.auto_driver = true;
    let doctor = p.run(&["doctor"]);
    let doctor = String::from_utf8_lossy(&doctor.stdout).into_owned();
    let line = doctor
        .lines()
        .find(|l| l.contains("libvirt driver"))
        .expect("doctor says which driver VMs get")
        .to_owned();
    assert!(line.contains("new VMs use"), "{line}");
    let emulated = line.contains("use qemu");

    let (code, out) = signal_at(
        &p,
        &["up"],
        "Creating domain with the following settings",
        libc::SIGINT,
    );
    assert_eq!(code, Some(130), "{out}");
    assert!(
        !out.contains("without cleanup") && !out.contains("Exiting immediately"),
        "Vagrant was interrupted twice:\n{out}"
    );
    assert_eq!(last_outcome(&p), "interrupted in create");
    if emulated {
        let warnings: Vec<&str> = out
            .lines()
            .filter(|l| l.starts_with("warning:") && l.contains("KVM"))
            .collect();
        assert_eq!(warnings.len(), 1, "one line says why it emulates:\n{out}");
    }

    let out = p.run(&["up"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        !err.contains("from /usr/share/rubygems"),
        "no Ruby backtrace:\n{err}"
    );
    assert_eq!(p.code(&["status"]), 0);
    assert_eq!(p.sh("echo up"), "up");
    let driver = p.status()["driver"].as_str().unwrap().to_owned();
    assert_eq!(
        driver == "qemu",
        emulated,
        "status names the driver doctor announced"
    );
    let slug = p.slug();
    p.ok(&["rm", "-f"]);
    assert!(
        libvirt_leftovers(&slug).is_empty(),
        "{:?}",
        libvirt_leftovers(&slug)
    );
}

/// A Vagrant failure shows its cause in a few lines and names the log with the rest, never a
/// Ruby backtrace. On this machine KVM fails as the guest starts; elsewhere an unknown
/// domain type fails the same way.
#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn a_vagrant_failure_is_a_few_lines_and_a_log() {
    let mut p = Project::new(
        "crashy",
        &format!("INFRA_TYPE=vm\nMEMORY=512\nCPUS=1\nDISK=4\nIMAGE={TEST_BOX}\nSYNC=none\n"),
    );
    p.auto_driver = true;
    // where KVM fails at once (`failed to set MSR`), forcing it is the real failure to show;
    // where a KVM guest hangs instead, Vagrant would wait minutes for an address, so an
    // unknown domain type stands in
    let broken_kvm = String::from_utf8_lossy(&p.run(&["doctor"]).stdout).contains("MSR");
    let driver = if broken_kvm {
        "kvm"
    } else {
        "tmpl-no-such-type"
    };
    let out = p
        .cmd(&["up"])
        .env("TMPL_LIBVIRT_DRIVER", driver)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    eprintln!("{err}");
    assert_eq!(out.status.code(), Some(1));
    let tail: Vec<&str> = err
        .lines()
        .skip_while(|l| !l.starts_with("error:"))
        .collect();
    assert!(
        tail.len() <= 8,
        "the error is a few lines:\n{}",
        tail.join("\n")
    );
    assert!(
        !err.contains("\tfrom /") && !err.contains("from /usr/share/rubygems"),
        "{err}"
    );
    let log = tail
        .iter()
        .find_map(|l| l.trim().strip_prefix("--> the whole output: "))
        .expect("the error names the log");
    let whole = std::fs::read_to_string(log).unwrap();
    assert!(err.contains("hint:"), "{err}");
    if broken_kvm {
        assert!(whole.contains("from /usr/"), "the log keeps the backtrace");
        assert!(
            err.contains("MSR") && err.contains("KVM does not work"),
            "{err}"
        );
    }
    let slug = p.slug();
    p.ok(&["rm", "-f"]);
    assert!(
        libvirt_leftovers(&slug).is_empty(),
        "{:?}",
        libvirt_leftovers(&slug)
    );
}

#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn invalid_env_creates_no_vm() {
    let p = Project::new(
        "badvm",
        &format!("INFRA_TYPE=vm\nMEMORY=1024\nCPUS=two\nDISK=5\nIMAGE={TEST_BOX}\n"),
    );
    assert_eq!(p.code(&["up"]), 78);
    assert!(libvirt_leftovers("tmpl-badvm-").is_empty());
    assert!(!p.xdg().join("state/tmpl").exists());
}

#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn a_missing_image_is_a_clear_error_before_anything_is_made() {
    let p = Project::new(
        "noimage",
        "INFRA_TYPE=vm\nMEMORY=512\nCPUS=1\nDISK=5\nIMAGE=./nope.qcow2\n",
    );
    let out = p.run(&["up"]);
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
    assert!(libvirt_leftovers("tmpl-noimage-").is_empty());
}
