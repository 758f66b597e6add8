//! Nothing the guest writes runs on the host (issue 27), for each backend, as root and as a
//! person, with the default settings (`SYNC=rw`): one guest per test, every vector of each
//! family planted at once (see `common::escape`), then what a person does next on the host:
//! git in the folder and below it, `tmpl provision` with a playbook that writes into the
//! folder from the host, and deleting what the guest made. The canaries say whether anything
//! the guest wrote ran; the victim files whether a host-side write was led out of the folder.

mod common;
use common::attack::{attack, setup};
use common::*;
use std::path::Path;

fn container_env() -> String {
    format!(
        "INFRA_TYPE=container\nMEMORY=256\nCPUS=1\nDISK=2\nIMAGE={CONTAINER_IMAGE}\nPROVISION_SCRIPT=provision/site.yml\n"
    )
}

#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn a_containers_root_cannot_make_the_host_run_its_code() {
    let p = Project::new("escape", &container_env());
    setup(&p);
    attack(&p, "", 0);
}

#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn a_persons_container_cannot_make_the_host_run_its_code() {
    let user = user::TestUser::new("tmpl-e2e-escape", 2351);
    user.load_image(CONTAINER_IMAGE);
    let p = Project::new_as(&user, "escape", &container_env());
    setup(&p);
    attack(&p, "", user.uid);
}

#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn a_vms_root_cannot_make_the_host_run_its_code_nor_lift_protect_or_ro() {
    let p = Project::new(
        "escape",
        &format!(
            "INFRA_TYPE=vm\nMEMORY=768\nCPUS=1\nDISK=5\nIMAGE={TEST_BOX}\nPROVISION_SCRIPT=provision/site.yml\nPROTECT=.git/hooks,.git/config,kept\n"
        ),
    );
    p.write("kept/file", "the person's\n");
    setup(&p);
    attack(&p, "sudo", 0);

    // PROTECT holds against root in the VM, mount options and all
    let tried = p.sh(&format!(
        "cd '{0}' && sudo mount -o remount,rw '{0}' 2>/dev/null; \
         sudo sh -c 'echo guest > kept/file; echo guest > kept/new' 2>/dev/null; cat kept/file",
        p.dir.display()
    ));
    assert_eq!(tried, "the person's");
    assert!(!p.dir.join("kept/new").exists());

    // so does SYNC=ro, once `up` applies it
    p.write(
        ".env",
        &format!("INFRA_TYPE=vm\nMEMORY=768\nCPUS=1\nDISK=5\nIMAGE={TEST_BOX}\nSYNC=ro\n"),
    );
    p.ok(&["up"]);
    let _ = p.run(&[
        "ssh",
        "--",
        "sh",
        "-c",
        &format!(
            "sudo mount -o remount,rw '{0}'; sudo sh -c 'echo guest > {0}/README; echo x > {0}/new'",
            p.dir.display()
        ),
    ]);
    assert_eq!(
        std::fs::read_to_string(p.dir.join("README")).unwrap(),
        "the person's project\n"
    );
    assert!(!Path::new(&p.dir.join("new")).exists());
}
