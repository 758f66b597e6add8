//! tmpl as the person who uses it: ordinary users that the tests make (uids other than 1000),
//! their containers in their own rootless Podman, side by side on one host.

mod common;
use common::user::TestUser;
use common::*;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

fn env(extra: &str) -> String {
    format!("INFRA_TYPE=container\nMEMORY=256\nCPUS=1\nDISK=2\nIMAGE={CONTAINER_IMAGE}\n{extra}")
}

fn owner(p: &Path) -> (u32, u32) {
    let m = std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    (m.uid(), m.gid())
}

/// The names of the containers in this person's own Podman.
fn their_containers(u: &TestUser) -> Vec<String> {
    u.ok("podman", &["ps", "-a", "--format", "{{.Names}}"])
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn a_persons_container_lifecycle_with_provisioning_and_their_own_files() {
    let u = TestUser::new("tmpl-e2e-ct", 2341);
    u.load_image(CONTAINER_IMAGE);
    let p = Project::new_as(
        &u,
        "web",
        &env("PORTS=18491:8000\nPROVISION_SCRIPT=provision.yml\nFIXED_IP=10.138.201.7\n"),
    );
    let made = p.dir.join("made-by-ansible");
    p.write(
        "provision.yml",
        &format!(
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.copy:\n        dest: {}\n        content: \"provisioned\\n\"\n",
            made.display()
        ),
    );
    let up = p.run(&["up"]);
    assert!(up.status.success());
    let cgroup2 = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.contains(" /sys/fs/cgroup ") && l.contains(" - cgroup2 "));
    let warned = String::from_utf8_lossy(&up.stderr)
        .contains("MEMORY=256 and CPUS=1 are not enforced on this host: rootless Podman cannot set limits on a cgroup v1 host");
    assert_eq!(warned, !cgroup2, "one line, where the host cannot");
    let slug = p.slug();
    // the person's own Podman, never root's
    assert_eq!(their_containers(&u), vec![format!("tmpl-{slug}")]);
    assert!(
        podman_labelled(&slug).is_empty(),
        "root's Podman has none of it"
    );
    assert!(
        p.status()["podman_socket"]
            .as_str()
            .unwrap()
            .starts_with(&format!("/tmp/podman-run-{}/", u.uid)),
        "no XDG_RUNTIME_DIR here: Podman's own fallback folder"
    );

    // files the guest and the playbook write in the project belong to the person
    assert_eq!(p.sh("id -u"), "0", "root in the container");
    p.sh(&format!("echo hi > {}/from-guest", p.dir.display()));
    assert_eq!(owner(&p.dir.join("from-guest")), (u.uid, u.gid));
    assert_eq!(std::fs::read_to_string(&made).unwrap(), "provisioned\n");
    assert_eq!(owner(&made), (u.uid, u.gid));

    // a forwarded port, as the person
    p.sh("(setsid python3 -m http.server --bind 0.0.0.0 8000 >/dev/null 2>&1 &)");
    let served = eventually(std::time::Duration::from_secs(10), || http_get(18491));
    assert!(served.is_some(), "the forwarded port answers");

    assert_eq!(p.status()["address"], "10.138.201.7", "FIXED_IP");

    // snapshots, in the person's own image store
    p.ok(&["snapshot", "save", "clean"]);
    p.sh("touch /root/after-the-snapshot");
    p.ok(&["snapshot", "restore", "clean"]);
    assert_eq!(
        p.sh("ls /root/after-the-snapshot 2>/dev/null || echo gone"),
        "gone"
    );

    p.ok(&["stop"]);
    assert_eq!(p.status()["state"], "stopped");
    p.ok(&["up"]);
    assert_eq!(p.sh("echo ok"), "ok");
    p.ok(&["rm", "-f"]);
    assert!(their_containers(&u).is_empty(), "rm leaves nothing");
    let images = u.ok("podman", &["images", "--format", "{{.Repository}}"]);
    assert!(
        !images.contains("tmpl-snapshot"),
        "rm removes the snapshots: {images}"
    );
    let nets = u.ok("podman", &["network", "ls", "--format", "{{.Name}}"]);
    assert!(!nets.contains(&slug), "{nets}");
}

#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn a_port_only_root_may_open_is_named_with_its_sysctl() {
    let u = TestUser::new("tmpl-e2e-port", 2342);
    let p = Project::new_as(&u, "web", &env("PORTS=80:8000\nEGRESS=open\n"));
    let out = p.run(&["up"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("host port 80 is below net.ipv4.ip_unprivileged_port_start (1024)"),
        "{err}"
    );
    assert!(err.contains("sysctl -w net.ipv4.ip_unprivileged_port_start=80"));
    assert!(their_containers(&u).is_empty(), "nothing was created");
}

#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn two_people_with_same_named_folders_never_see_each_other() {
    let a = TestUser::new("tmpl-e2e-a", 2343);
    let b = TestUser::new("tmpl-e2e-b", 2344);
    a.load_image(CONTAINER_IMAGE);
    b.load_image(CONTAINER_IMAGE);
    // each person's tmpl state in their home, where it lives by default
    let mut pa = Project::new_as(&a, "app", &env(""));
    pa.shared_xdg = Some(a.home.join("xdg"));
    let mut pb = Project::new_as(&b, "app", &env(""));
    pb.shared_xdg = Some(b.home.join("xdg"));
    // homes that others may look into, as on many hosts: tmpl's own folders stay private
    for u in [&a, &b] {
        host_ok("chmod", &["755", &u.home.to_string_lossy()]);
    }
    pa.ok(&["up"]);
    pb.ok(&["up"]);
    assert_eq!(pa.sh("echo a"), "a");
    assert_eq!(pb.sh("echo b"), "b");

    let listed = |p: &Project| -> Vec<String> {
        let v: serde_json::Value = serde_json::from_str(&p.ok(&["ls", "--json"])).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r["project_dir"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(listed(&pa), vec![pa.dir.display().to_string()]);
    assert_eq!(listed(&pb), vec![pb.dir.display().to_string()]);

    // b's state is not a's to read
    let b_state = b.home.join("xdg/state/tmpl");
    let peek = a.command("ls").arg(&b_state).output().unwrap();
    assert!(!peek.status.success(), "a reads b's state");
    assert_eq!(owner(&b_state), (b.uid, b.gid));
    assert_eq!(std::fs::metadata(&b_state).unwrap().mode() & 0o777, 0o700);

    // a's gc, with a's own project gone, touches only a's
    let a_dir = pa.dir.clone();
    pa.ok(&["stop"]);
    std::fs::remove_dir_all(&a_dir).unwrap();
    let gc = a
        .command("tmpl")
        .args(["gc", "--yes"])
        .env("XDG_STATE_HOME", a.home.join("xdg/state"))
        .env("XDG_CACHE_HOME", a.home.join("xdg/cache"))
        .env("XDG_CONFIG_HOME", a.home.join("xdg/config"))
        .output()
        .unwrap();
    assert!(
        gc.status.success(),
        "{}",
        String::from_utf8_lossy(&gc.stderr)
    );
    assert!(
        their_containers(&a).is_empty(),
        "a's gone project is collected"
    );
    assert_eq!(their_containers(&b).len(), 1, "b's guest is untouched");
    assert_eq!(pb.sh("echo still"), "still");
    pa.keep = true; // its folder is gone: nothing left to remove
}
