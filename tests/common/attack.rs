//! The whole attack of issue 27 on a guest brought up and approved by its owner, shared by
//! `e2e_escape` (a container as root and as a person, root's VM) and `e2e_user_vm` (a
//! person's VM, which keeps its one guest): every family planted at once (`escape`), then
//! what the person does next on the host: git in the folder and below it, `tmpl provision`
//! with a playbook that writes into the folder from the host, deleting what the guest made;
//! and last, the agent's own work with git, fetched by the person.
#![allow(dead_code)]

use super::escape::*;
use super::{host_ok, Project};

/// A playbook that, like the README's kubeconfig example, brings files from the guest into
/// the project folder: `fetch`, and a shell redirect on the host.
pub const FETCHING: &str = r#"- hosts: all
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
pub fn attack(p: &Project, as_root: &str, owner_uid: u32) {
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
    // and the person can delete all of it (the links too, or the playbook keeps failing)
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
        "out",
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
    the_agents_work_comes_back(p, as_root);
}

/// What the guest is there for, after all that: work committed in the guest, to its own
/// repository, which the person takes with `tmpl fetch` and finds as `tmpl/main`.
fn the_agents_work_comes_back(p: &Project, as_root: &str) {
    p.sh(&format!(
        "cd '{}' && {as_root} sh -c 'echo done > work.txt && git add work.txt && \
         git -c user.name=Agent -c user.email=agent@example.invalid commit -q -m agent-work'",
        p.dir.display()
    ));
    p.ok(&["fetch"]);
    let git = |args: &[&str]| {
        let mut c = match &p.user {
            Some(u) => u.command("git"),
            None => std::process::Command::new("git"),
        };
        let out = c.args(args).current_dir(&p.dir).output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(
        git(&["log", "-1", "--format=%s", "tmpl/main"]),
        "agent-work"
    );
    assert_eq!(git(&["show", "tmpl/main:work.txt"]), "done");
    // the person's own branch is where they left it
    assert_ne!(git(&["log", "-1", "--format=%s", "main"]), "agent-work");
}

/// The project every attack starts from: a playbook that writes into the folder, a file
/// of the person's, a git repository; then `up`.
pub fn setup(p: &Project) {
    p.write("provision/site.yml", FETCHING);
    p.write("README", "the person's project\n");
    make_repo(p);
    p.ok(&["up"]);
}
