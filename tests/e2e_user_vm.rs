//! VMs of an ordinary person (not root) end to end: their own Vagrant home, libvirt through
//! the `libvirt` group's socket, the login user under their uid and gid so that what the guest
//! writes into the shared folder is theirs on the host. One VM per test: a boot costs a minute
//! or two under software emulation, so the box's VM also takes issue 27's whole attack (root in a
//! person's VM, `common::attack`).

mod common;
use common::attack;
use common::user::TestUser;
use common::*;
use std::os::unix::fs::MetadataExt;
use std::time::Instant;

const BOX_BASE_PREFIX: &str = "tmpl-test-VAGRANTSLASH-debian12_vagrant_box_image_";

fn pool_volumes() -> Vec<String> {
    host_ok(
        "virsh",
        &["-c", "qemu:///system", "-q", "vol-list", "default"],
    )
    .lines()
    .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
    .collect()
}

/// Everything libvirt holds under the project's slug: domains, volumes, networks.
fn libvirt_of(slug: &str) -> Vec<String> {
    let nets = host_ok(
        "virsh",
        &["-c", "qemu:///system", "net-list", "--all", "--name"],
    );
    let mut all = libvirt_leftovers(slug);
    all.extend(
        nets.lines()
            .filter(|l| l.contains(slug))
            .map(|l| l.trim().to_owned()),
    );
    all
}

/// A base volume that a test's first `up` uploaded into the shared pool goes when the test
/// ends, unless a VM (another test's, another person's) may be using it by then.
struct PoolVolumes {
    before: Vec<String>,
    prefix: &'static str,
}

impl Drop for PoolVolumes {
    fn drop(&mut self) {
        let domains = host_ok(
            "virsh",
            &["-c", "qemu:///system", "list", "--all", "--name"],
        );
        if domains.lines().any(|d| !d.trim().is_empty()) {
            eprintln!("leaving the base volumes: VMs exist that may be using them");
            return;
        }
        for v in pool_volumes() {
            if v.starts_with(self.prefix) && !self.before.contains(&v) {
                let _ = host(
                    "virsh",
                    &[
                        "-c",
                        "qemu:///system",
                        "vol-delete",
                        "--pool",
                        "default",
                        &v,
                    ],
                );
            }
        }
    }
}

#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn a_persons_vm_from_the_box_writes_files_that_are_theirs() {
    let _volumes = PoolVolumes {
        before: pool_volumes(),
        prefix: BOX_BASE_PREFIX,
    };
    let mut user = TestUser::new("tmplvm1", 2310);
    user.regroup(2330);
    user.give_box(TEST_BOX);
    let vm = |egress: &str| {
        format!("INFRA_TYPE=vm\nMEMORY=1024\nCPUS=1\nDISK=6\nIMAGE={TEST_BOX}\n{egress}")
    };

    // a person's fenced VM (root's libvirt hook holds it) is `e2e_fence`'s
    let p = Project::new_as(
        &user,
        "uservm",
        &vm("EGRESS=open\nPROVISION_SCRIPT=provision/site.yml\n"),
    );
    let t = Instant::now();
    attack::setup(&p);
    eprintln!("box up as a person: {:.1}s", t.elapsed().as_secs_f64());
    let slug = p.slug();
    assert_eq!(p.sh("id -u"), user.uid.to_string());
    assert_eq!(p.sh("id -g"), user.gid.to_string());
    // an `up` stopped before the ids were given leaves no record: the next `up` of the
    // running VM gives them (here: finds them given) and records them
    let record = p.xdg().join(format!("state/tmpl/{slug}/login-ids"));
    assert!(record.is_file());
    std::fs::remove_file(&record).unwrap();
    p.ok(&["up"]);
    assert!(record.is_file());
    // through the shared connection too, which `up` made anew after the renumbering: one
    // kept from before would still run commands as uid 1000
    assert!(p.run(&["exec", "true"]).status.success());

    let dir = p.dir.display().to_string();
    p.sh(&format!(
        "cd '{dir}' && echo hello > from-guest.txt && mkdir -p made/here"
    ));
    for f in ["from-guest.txt", "made/here"] {
        let m = std::fs::metadata(p.dir.join(f)).unwrap();
        assert_eq!((m.uid(), m.gid()), (user.uid, user.gid), "{f}");
    }
    assert_eq!(
        std::fs::read_to_string(p.dir.join("from-guest.txt")).unwrap(),
        "hello\n"
    );
    // and the other way: the person's own files are writable in the guest, without sudo
    p.write("from-host.txt", "x\n");
    p.sh(&format!("cd '{dir}' && echo more >> from-host.txt"));

    // root in the person's VM, as an attacker: nothing it writes runs on the host
    attack::attack(&p, "sudo", user.uid);

    p.ok(&["stop"]);
    assert_eq!(p.code(&["status"]), 3);
    p.ok(&["up"]);
    assert_eq!(p.sh("id -u"), user.uid.to_string());
    assert_eq!(
        p.sh(&format!("stat -c %u '{dir}/from-guest.txt'")),
        user.uid.to_string()
    );

    p.ok(&["rm"]);
    assert_eq!(p.code(&["status"]), 4);
    assert_eq!(libvirt_of(&slug), Vec::<String>::new());
}

/// The cloud image's path: cloud-init makes the login user with the person's uid and gid.
#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn a_persons_vm_from_a_cloud_image_has_their_ids_from_cloud_init() {
    let _volumes = PoolVolumes {
        before: pool_volumes(),
        prefix: "tmpl-cloud-VAGRANTSLASH-debian12-cloud-",
    };
    let mut user = TestUser::new("tmplvm2", 2311);
    user.regroup(2331);
    // the fixture is under /root, out of the user's reach; the link goes with their home
    let image = user.link_file(&cloud_image());
    let p = Project::new_as(
        &user,
        "cloudvm",
        &format!(
            "INFRA_TYPE=vm\nMEMORY=768\nCPUS=1\nDISK=5\nIMAGE={}\nEGRESS=open\n",
            image.display()
        ),
    );
    let t = Instant::now();
    p.ok(&["up"]);
    eprintln!(
        "cloud image up as a person: {:.1}s",
        t.elapsed().as_secs_f64()
    );
    let slug = p.slug();
    assert_eq!(p.sh("id -un"), "tmpl");
    assert_eq!(p.sh("id -u"), user.uid.to_string());
    assert_eq!(p.sh("id -g"), user.gid.to_string());
    let dir = p.dir.display().to_string();
    p.sh(&format!("cd '{dir}' && echo hello > from-guest.txt"));
    let m = std::fs::metadata(p.dir.join("from-guest.txt")).unwrap();
    assert_eq!((m.uid(), m.gid()), (user.uid, user.gid));
    p.ok(&["rm"]);
    assert_eq!(libvirt_of(&slug), Vec::<String>::new());
}
