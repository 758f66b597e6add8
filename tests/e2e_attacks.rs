//! The guest as attacker. An agent in the guest is root there and can write the shared
//! project folder; nothing it writes may make the host run code, and no host file may reach
//! it unless the person allowed it.
//!
//! Each case sets a project up as its owner would (approved once, brought up), then writes
//! from inside the guest as root (`tmpl exec`), then runs on the host what a person runs next
//! (`up`, `provision`, `ssh`, `vagrant --`, `ssh-config --write`, `init`, git). A payload that
//! ran on the host would create a canary file in a folder of the host outside the project;
//! the assertions are that no canary appears and no host secret shows up in the guest. The
//! person never approves blindly here: `auto_trust` is off after the first `up`.

mod common;
use common::*;
use std::path::{Path, PathBuf};

fn env(extra: &str) -> String {
    format!("INFRA_TYPE=container\nMEMORY=256\nCPUS=1\nDISK=2\nIMAGE={CONTAINER_IMAGE}\n{extra}")
}

/// A folder of the host that the guest cannot reach, where payloads try to leave a mark.
struct Canaries {
    dir: tempfile::TempDir,
}

impl Canaries {
    fn new() -> Canaries {
        Canaries {
            dir: tempfile::Builder::new()
                .prefix("tmpl-canary-")
                .tempdir_in("/tmp")
                .unwrap(),
        }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn assert_none(&self) {
        let found: Vec<String> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            found.is_empty(),
            "guest-written code ran on the host: {found:?}"
        );
    }
}

/// A play that marks the host when it runs there.
fn host_play(mark: &Path) -> String {
    format!(
        "- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n    - ansible.builtin.file:\n        path: {}\n        state: touch\n",
        mark.display()
    )
}

/// An approved, harmless playbook in `provision/`, with a task that marks `mark` wherever it
/// runs (in the guest that path does not exist, so nothing happens there).
fn approved_project(name: &str, mark: &Path) -> Project {
    let p = Project::new(name, &env("PROVISION_SCRIPT=provision/site.yml\n"));
    p.write(
        "provision/site.yml",
        &format!(
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.shell: \"touch {} 2>/dev/null || true\"\n    - ansible.builtin.import_tasks: tasks.yml\n",
            mark.display()
        ),
    );
    p.write(
        "provision/tasks.yml",
        "- ansible.builtin.command: \"true\"\n",
    );
    p
}

/// `tmpl ARGS` must refuse to run anything unapproved (exit 77).
fn refused(p: &Project, args: &[&str]) -> String {
    let out = p.run(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(77), "tmpl {args:?} ran: {err}");
    err
}

/// As root in the guest: writes `text` to `rel` in the project folder.
fn guest_writes(p: &Project, rel: &str, text: &str) {
    let path = p.dir.join(rel);
    let script = format!(
        "mkdir -p \"$(dirname '{0}')\" && cat > '{0}' <<'TMPL_EOF'\n{text}\nTMPL_EOF",
        path.display()
    );
    p.sh(&script);
}

#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn files_ansible_loads_next_to_the_playbook() {
    let c = Canaries::new();
    let mut p = approved_project("loader", &c.path("approved-ran-on-host"));
    p.ok(&["up"]);
    p.auto_trust = false;
    let vectors: Vec<(&str, String)> = vec![
        ("provision/group_vars/all.yml", "ansible_connection: local\n".into()),
        ("provision/ansible.cfg", "[defaults]\nvault_password_file = ./pw.sh\n".into()),
        ("provision/pw.sh", format!("#!/bin/sh\ntouch {}\necho x\n", c.path("vault").display())),
        (
            "provision/vars_plugins/evil.py",
            format!("open('{}', 'w')\nfrom ansible.plugins.vars import BaseVarsPlugin\nclass VarsModule(BaseVarsPlugin):\n    def get_vars(self, loader, path, entities, cache=True):\n        return {{}}\n", c.path("vars_plugin").display()),
        ),
        (
            "provision/callback_plugins/evil.py",
            format!("open('{}', 'w')\nfrom ansible.plugins.callback import CallbackBase\nclass CallbackModule(CallbackBase):\n    CALLBACK_VERSION = 2.0\n    CALLBACK_TYPE = 'aggregate'\n    CALLBACK_NAME = 'evil'\n", c.path("callback").display()),
        ),
        (
            "provision/tasks.yml",
            format!("- ansible.builtin.file:\n    path: {}\n    state: touch\n  delegate_to: localhost\n", c.path("imported").display()),
        ),
        (
            "provision/roles/evil/tasks/main.yml",
            format!("- ansible.builtin.file:\n    path: {}\n    state: touch\n  delegate_to: localhost\n", c.path("role").display()),
        ),
    ];
    let mut tried = 0;
    for (rel, text) in &vectors {
        guest_writes(&p, rel, text);
        if rel.ends_with(".sh") {
            p.sh(&format!("chmod +x '{}'", p.dir.join(rel).display()));
        }
        let err = refused(&p, &["provision"]);
        assert!(
            err.contains(&format!("{rel} ")),
            "the change is named: {err}"
        );
        refused(&p, &["up", "--provision"]);
        tried += 1;
    }
    c.assert_none();
    eprintln!("vectors tried: {tried}, ran: 0");
}

#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn renaming_the_project_or_nesting_one_is_a_new_folder() {
    let c = Canaries::new();
    let mut p = approved_project("renamed", &c.path("approved"));
    p.ok(&["up"]);
    p.auto_trust = false;
    // NAME moves the per-project state: the approval must not move with it
    // a project of the guest's own inside this one
    guest_writes(
        &p,
        "sub/.env",
        &env("PROVISION_SCRIPT=provision/site.yml\n"),
    );
    guest_writes(&p, "sub/provision/site.yml", &host_play(&c.path("nested")));
    guest_writes(&p, "provision/site.yml", &host_play(&c.path("renamed")));
    let original = std::fs::read_to_string(p.dir.join(".env")).unwrap();
    let text = format!("{original}NAME=other\n");
    guest_writes(&p, ".env", &text);
    refused(&p, &["up"]);
    refused(&p, &["provision"]);

    let out = p
        .bare(&["up"])
        .current_dir(p.dir.join("sub"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(77),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = p
        .bare(&["rm", "-f"])
        .current_dir(p.dir.join("sub"))
        .output();
    // the guest under its first name is the one to remove (the `Drop` would aim at `other`)
    std::fs::write(p.dir.join(".env"), &original).unwrap();
    p.ok(&["rm", "-f"]);
    assert!(podman_labelled(&p.slug()).is_empty());
    c.assert_none();
}

#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn what_ran_is_what_was_approved_even_when_swapped_or_failed() {
    let c = Canaries::new();
    let mut p = Project::new("swapped", &env("PROVISION_SCRIPT=provision/site.yml\n"));
    p.auto_trust = false;
    // the approved playbook itself makes the guest swap it for a host-attacking one while it
    // runs, then fails: neither the swap nor the failure may lead to the new one running
    let evil = host_play(&c.path("swapped"));
    let site = p.dir.join("provision/site.yml");
    p.write(
        "provision/site.yml",
        &format!(
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.copy:\n        dest: {}\n        content: {:?}\n    - ansible.builtin.fail:\n        msg: failing on purpose\n",
            site.display(),
            evil
        ),
    );
    // a new folder runs nothing before its owner approves it: no trust on first use
    refused(&p, &["up"]);
    p.ok(&["trust"]);
    let out = p.run(&["up"]);
    assert_eq!(out.status.code(), Some(10), "the first provisioning fails");
    assert_eq!(
        std::fs::read_to_string(&site).unwrap(),
        evil,
        "the guest swapped it"
    );
    refused(&p, &["up"]);
    refused(&p, &["provision"]);
    c.assert_none();
}

#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn a_link_never_hands_a_host_file_to_the_guest() {
    let secret_dir = tempfile::tempdir_in("/tmp").unwrap();
    let secret = secret_dir.path().join("id_host");
    std::fs::write(&secret, "host-secret-5f1c\n").unwrap();
    let p = Project::new("linked", &env("PROVISION_SCRIPT=setup.sh\n"));
    p.write("setup.sh", "#!/bin/sh\ntrue\n");
    p.ok(&["up"]);
    let container = format!("tmpl-{}", p.slug());
    // the guest replaces the script with a link to the host's file
    p.sh(&format!(
        "rm '{0}' && ln -s '{1}' '{0}'",
        p.dir.join("setup.sh").display(),
        secret.display()
    ));
    // even the person approving it cannot make it run: validation refuses the link
    let out = p.run(&["trust"]);
    assert_eq!(
        out.status.code(),
        Some(78),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("outside it"));
    assert_eq!(p.code(&["provision"]), 78);
    // the settings no longer validate, so the guest is looked at through Podman itself
    let seen = host_ok(
        "podman",
        &["exec", &container, "cat", "/var/lib/tmpl/provision/script"],
    );
    assert!(
        !seen.contains("host-secret"),
        "the host file reached the guest"
    );
    std::fs::remove_file(p.dir.join("setup.sh")).unwrap();
    p.write("setup.sh", "#!/bin/sh\ntrue\n");

    // a link inside a playbook's folder, to a host file, for a play that copies files/
    let q = Project::new("linkedbook", &env("PROVISION_SCRIPT=provision/site.yml\n"));
    q.write(
        "provision/site.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.copy:\n        src: files/\n        dest: /root/got/\n",
    );
    q.write("provision/files/readme", "fine\n");
    q.ok(&["up"]);
    q.sh(&format!(
        "ln -s '{}' '{}'",
        secret.display(),
        q.dir.join("provision/files/key").display()
    ));
    let out = q.run(&["trust"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("points outside it"));
    assert_ne!(q.code(&["provision"]), 0);
    assert!(!q
        .sh("cat /root/got/key 2>/dev/null; true")
        .contains("host-secret"));
}

#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn the_persons_ssh_config_and_agent_stay_on_the_host() {
    // ssh reads the person's config from their passwd home and the system's; a drop-in of
    // the system's, removed when the test ends, stands in for both
    struct DropIn(PathBuf);
    impl Drop for DropIn {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    let dropin = DropIn(PathBuf::from(
        "/etc/ssh/ssh_config.d/zz-tmpl-test-forward-agent.conf",
    ));
    std::fs::write(&dropin.0, "Host *\n  ForwardAgent yes\n").unwrap();
    let home = tempfile::tempdir().unwrap();
    let agent = std::process::Command::new("ssh-agent")
        .args(["-a", &home.path().join("agent.sock").display().to_string()])
        .output()
        .unwrap();
    assert!(agent.status.success());
    let agent_pid = String::from_utf8_lossy(&agent.stdout)
        .split("SSH_AGENT_PID=")
        .nth(1)
        .and_then(|r| r.split(';').next())
        .and_then(|p| p.parse::<i32>().ok())
        .unwrap();
    let p = Project::new("agent", &env("PROVISION_SCRIPT=provision/site.yml\n"));
    p.write(
        "provision/site.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.shell: \"env > /root/provision-env\"\n",
    );
    let out = p
        .cmd(&["up"])
        .env("SSH_AUTH_SOCK", home.path().join("agent.sock"))
        .output()
        .unwrap();
    // SAFETY: the agent this test started
    unsafe {
        libc::kill(agent_pid, libc::SIGTERM);
    }
    drop(dropin);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen = p.sh("cat /root/provision-env");
    assert!(seen.contains("HOME="), "the playbook ran: {seen}");
    assert!(
        !seen.contains("SSH_AUTH_SOCK"),
        "the person's agent was forwarded:\n{seen}"
    );
}

#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn setuid_files_and_git_hooks_from_the_guest_do_nothing() {
    let c = Canaries::new();
    let p = Project::new("gitrepo", &env(""));
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(&p.dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", c.dir.path())
            .output()
            .unwrap()
    };
    assert!(git(&["init", "-q"]).status.success());
    p.ok(&["up"]);
    let dir = p.dir.display().to_string();
    let mounts = p.sh(&format!("findmnt -no OPTIONS --target '{dir}'"));
    assert!(
        mounts.contains("nosuid") && mounts.contains("nodev"),
        "{mounts}"
    );
    // root plants a setuid shell; a user in the guest runs it
    let euid = p.sh(&format!(
        "cp /bin/sh '{dir}/sh' && chmod 4755 '{dir}/sh' && su -s /bin/sh nobody -c \"'{dir}/sh' -p -c 'id -u'\""
    ));
    assert_eq!(
        euid, "65534",
        "a setuid file in the project folder gave root"
    );
    // root rewrites git's hooks and config so the person's next `git status` runs its code
    let hook = format!("#!/bin/sh\ntouch {}\n", c.path("hook").display());
    let tried = p.run(&[
        "exec",
        "sh",
        "-c",
        &format!(
            "printf '%s' '{hook}' > '{dir}/.git/hooks/pre-commit'; chmod +x '{dir}/.git/hooks/pre-commit'; printf '[core]\\n\\tfsmonitor = touch {}\\n' >> '{dir}/.git/config'",
            c.path("fsmonitor").display()
        ),
    ]);
    assert_ne!(tried.status.code(), Some(0), "PROTECT paths are read-only");
    assert!(!p.dir.join(".git/hooks/pre-commit").exists());
    git(&["status"]);
    std::fs::write(p.dir.join("f"), "x").unwrap();
    git(&["add", "f"]);
    git(&[
        "-c",
        "user.email=a@b",
        "-c",
        "user.name=a",
        "commit",
        "-qm",
        "x",
    ]);
    c.assert_none();

    // not a repository yet: the guest cannot make one for the person's first git command
    let q = Project::new("norepo", &env(""));
    q.ok(&["up"]);
    let qdir = q.dir.display().to_string();
    let made = q.run(&["exec", "sh", "-c", &format!("mkdir -p '{qdir}/.git' && printf '[core]\\n\\tfsmonitor = touch {}\\n' > '{qdir}/.git/config'", c.path("fresh").display())]);
    assert_ne!(made.status.code(), Some(0));
    assert!(!q.dir.join(".git/config").exists());
    c.assert_none();
}

#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn a_folder_name_cannot_write_ssh_config_lines() {
    let c = Canaries::new();
    let home = tempfile::tempdir().unwrap();
    let name = format!(
        "evil\nMatch exec \"touch {}\"\nHost x",
        c.path("ssh-config").display()
    );
    let p = Project::new(&name, &env("SYNC=none\n"));
    p.ok(&["up"]);
    let out = p
        .cmd(&["ssh-config", "--write"])
        .env("HOME", home.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // ssh resolves `~/.ssh/config`'s relative Include from the real home, not $HOME: read
    // the written file itself, as that Include would
    let alias = format!("tmpl-{}", p.slug());
    let written = home.path().join(".ssh/config.d/tmpl").join(&alias);
    let g = std::process::Command::new("ssh")
        .args(["-F", &written.display().to_string(), "-G", &alias])
        .output()
        .unwrap();
    assert!(g.status.success(), "{}", String::from_utf8_lossy(&g.stderr));
    c.assert_none();
}

#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn init_never_writes_through_a_link_the_guest_planted() {
    let outside = tempfile::tempdir().unwrap();
    let profile = outside.path().join(".profile");
    std::fs::write(&profile, "# the person's profile\n").unwrap();
    let p = Project::new("initlink", &env(""));
    p.ok(&["up"]);
    p.sh(&format!(
        "rm '{0}/.env' && ln -s '{1}' '{0}/.env'",
        p.dir.display(),
        profile.display()
    ));
    for args in [&["init"][..], &["init", "--force"]] {
        let out = p.run(args);
        assert_ne!(out.status.code(), Some(0));
        assert!(String::from_utf8_lossy(&out.stderr).contains("symbolic link"));
    }
    assert_eq!(
        std::fs::read_to_string(&profile).unwrap(),
        "# the person's profile\n"
    );
    std::fs::remove_file(p.dir.join(".env")).unwrap();
    std::fs::write(p.dir.join(".env"), env("")).unwrap();
}

#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn the_guests_output_cannot_drive_the_terminal() {
    let p = Project::new("noisy", &env("PROVISION_SCRIPT=setup.sh\n"));
    p.write(
        "setup.sh",
        "#!/bin/sh\nprintf 'a\\033]0;owned title\\007b\\n'\nprintf '\\033]52;c;ZXZpbA==\\033\\\\c\\n'\nprintf '\\033[2J\\033[1;1Hd\\033[31mred\\033[0m\\n'\n",
    );
    let out = p.run(&["up"]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ab") && err.contains("c") && err.contains("d\u{1b}[31mred\u{1b}[0m"),
        "{err}"
    );
    for bad in ["\u{1b}]", "\u{7}", "\u{1b}[2J", "\u{1b}[1;1H"] {
        assert!(!err.contains(bad), "{bad:?} reached the terminal");
    }
}

#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn a_foreign_control_folder_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let p = Project::new("hijack", &env("SYNC=none\n"));
    p.ok(&["up"]);
    // another user made tmpl's socket folder first, in a /tmp they share
    let dir = tmp.path().join("tmpl-0");
    std::fs::create_dir(&dir).unwrap();
    std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let out = p
        .cmd(&["ssh", "--", "true"])
        .env("TMPDIR", tmp.path())
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("refusing the ssh control folder"), "{err}");
    assert!(
        std::fs::read_dir(&dir).unwrap().next().is_none(),
        "nothing was put there"
    );
}

/// A VM's guest edits `.env` through the shared folder to open itself to the network.
/// `tmpl vagrant --` refuses until approved; `stop` and `rm` act on the Vagrantfile of the
/// last approved `up` and never apply the new settings.
#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn a_vms_guest_cannot_widen_its_own_reach() {
    let mut p = Project::new(
        "vmreach",
        &format!("INFRA_TYPE=vm\nMEMORY=512\nCPUS=1\nDISK=4\nIMAGE={TEST_BOX}\n"),
    );
    p.ok(&["up"]);
    p.auto_trust = false;
    let env_file = p.dir.join(".env");
    p.sh(&format!(
        "echo 'PORTS=0.0.0.0:18555:22' | sudo tee -a '{}' >/dev/null",
        env_file.display()
    ));
    assert!(std::fs::read_to_string(&env_file)
        .unwrap()
        .contains("0.0.0.0:18555"));
    let vagrantfile = Path::new(p.status()["vagrant_cwd"].as_str().unwrap()).join("Vagrantfile");
    let err = refused(&p, &["vagrant", "--", "reload"]);
    assert!(err.contains("PORTS=0.0.0.0:18555:22 (new)"), "{err}");
    refused(&p, &["up"]);
    p.ok(&["stop"]);
    let text = std::fs::read_to_string(&vagrantfile).unwrap();
    assert!(
        !text.contains("0.0.0.0"),
        "stop applied unapproved settings:\n{text}"
    );
    assert!(std::net::TcpStream::connect("127.0.0.1:18555").is_err());
    let slug = p.slug();
    p.ok(&["rm", "-f"]);
    assert!(
        libvirt_leftovers(&slug).is_empty(),
        "{:?}",
        libvirt_leftovers(&slug)
    );
}
