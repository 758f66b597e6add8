//! Nothing the guest writes runs on the host (issue 27), for each backend, as root and as a
//! person, with the default settings (`SYNC=rw`): one guest per test, every vector of each
//! family planted at once (see `common::escape`), then what a person does next on the host:
//! git in the folder and below it, `tmpl provision` with a playbook that writes into the
//! folder from the host, and deleting what the guest made. The canaries say whether anything
//! the guest wrote ran; the victim files whether a host-side write was led out of the folder.

mod common;
use common::escape::*;
use common::*;
use std::path::Path;

/// A playbook that, like the README's kubeconfig example, brings files from the guest into
/// the project folder: `fetch`, and a shell redirect on the host.
const FETCHING: &str = r#"- hosts: all
  gather_facts: false
  tasks:
    - ansible.builtin.fetch:
        src: /etc/hostname
        dest: "{{ tmpl_project_dir }}/out/fetched"
        flat: true
    - ansible.builtin.shell: "echo from-the-host > {{ tmpl_project_dir }}/out/redirected"
      delegate_to: localhost
      become: false
"#;

/// Host files a host-side step must never write: the guest points links at them.
struct Victims {
    dir: tempfile::TempDir,
}

impl Victims {
    fn new(owner: Option<(u32, u32)>) -> Victims {
        let dir = tempfile::Builder::new()
            .prefix("tmpl-victim-")
            .tempdir_in("/tmp")
            .unwrap();
        for f in ["fetched", "redirected"] {
            std::fs::write(dir.path().join(f), "the host's own\n").unwrap();
        }
        if let Some((uid, gid)) = owner {
            host_ok(
                "chown",
                &["-R", &format!("{uid}:{gid}"), &dir.path().to_string_lossy()],
            );
        }
        Victims { dir }
    }

    fn touched(&self) -> Vec<String> {
        ["fetched", "redirected"]
            .into_iter()
            .filter(|f| {
                std::fs::read_to_string(self.dir.path().join(f)).unwrap() != "the host's own\n"
            })
            .map(|f| format!("a host-side step wrote {f} through a link"))
            .collect()
    }
}

/// Links in the folder where the playbook writes: to the victims one by one, and the whole
/// folder swapped for a link to theirs.
fn plant_links(p: &Project, v: &Victims, as_root: &str) {
    let d = v.dir.path().display();
    p.sh(&format!(
        "{as_root} sh -c 'rm -rf out && mkdir out && ln -s {d}/fetched out/fetched && ln -s {d}/redirected out/redirected'"
    ));
}

fn plant_folder_link(p: &Project, v: &Victims, as_root: &str) {
    let d = v.dir.path().display();
    p.sh(&format!("{as_root} sh -c 'rm -rf out && ln -s {d} out'"));
}

/// The whole attack, on a project brought up and approved by its owner: every family is
/// tried, then everything that got through is reported at once.
fn attack(p: &Project, as_root: &str, owner_uid: u32) {
    let canaries = Canaries::new();
    let victims = Victims::new(p.user.as_ref().map(|u| (u.uid, u.gid)));
    let mut wrong = Vec::new();

    // git: the guest plants, the person works
    let script = git_vectors(&canaries);
    p.sh(&format!(
        "cd '{}' && {as_root} sh <<'TMPL_EOF'\n{script}\nTMPL_EOF",
        p.dir.display()
    ));
    person_uses_git(&p.dir, &git_runner(p.user.as_ref()));
    wrong.extend(
        canaries
            .found()
            .into_iter()
            .map(|c| format!("git ran: {c}")),
    );

    // host-side steps: links at the destination, and the destination folder a link
    plant_links(p, &victims, as_root);
    let _ = p.run(&["provision"]);
    plant_folder_link(p, &victims, as_root);
    let _ = p.run(&["provision"]);
    wrong.extend(victims.touched());

    // files that carry a privilege
    p.sh(&format!(
        "cd '{}' && {as_root} sh <<'TMPL_EOF'\n{PRIVILEGE_VECTORS}\nTMPL_EOF",
        p.dir.display()
    ));
    wrong.extend(privileges_left(&p.dir, owner_uid));
    // and the person can delete all of it
    let rm = match &p.user {
        Some(u) => u.command("rm"),
        None => std::process::Command::new("rm"),
    }
    .args([
        "-rf",
        "stuck",
        "sticky",
        "suid-sh",
        "sgid-sh",
        "made-suid",
        "caps-sh",
    ])
    .current_dir(&p.dir)
    .output()
    .unwrap();
    if !rm.status.success() {
        wrong.push(format!(
            "the person cannot delete what the guest made: {}",
            String::from_utf8_lossy(&rm.stderr).trim()
        ));
    }
    assert!(
        wrong.is_empty(),
        "the guest got through:\n  {}",
        wrong.join("\n  ")
    );
}

fn container_env() -> String {
    format!(
        "INFRA_TYPE=container\nMEMORY=256\nCPUS=1\nDISK=2\nIMAGE={CONTAINER_IMAGE}\nPROVISION_SCRIPT=provision/site.yml\n"
    )
}

fn setup(p: &Project) {
    p.write("provision/site.yml", FETCHING);
    p.write("README", "the person's project\n");
    make_repo(p);
    p.ok(&["up"]);
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
            "INFRA_TYPE=vm\nMEMORY=768\nCPUS=1\nDISK=5\nIMAGE={TEST_BOX}\nPROVISION_SCRIPT=provision/site.yml\nPROTECT=.git/hooks .git/config kept\n"
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
