use super::*;
use crate::context::Ctx;
use crate::project::Dirs;

struct Folder {
    root: tempfile::TempDir,
}

impl Folder {
    fn new(env: &str) -> Folder {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("app/provision")).unwrap();
        let f = Folder { root };
        f.write(".env", env);
        f.write("provision/site.yml", "- hosts: all\n  tasks: []\n");
        f
    }
    fn dir(&self) -> PathBuf {
        self.root.path().join("app").canonicalize().unwrap()
    }
    fn write(&self, rel: &str, text: &str) {
        let p = self.root.path().join("app").join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    fn state(&self) -> PathBuf {
        self.root.path().join("state")
    }
    fn loaded(&self) -> Loaded {
        self.ctx().load().unwrap()
    }
    /// Loaded as `tmpl trust` loads it: every `$VAR` taken, to be shown and granted.
    fn asking(&self) -> Loaded {
        self.ctx().load_asking().unwrap()
    }
    fn ctx(&self) -> Ctx {
        Ctx::at(
            self.dir(),
            Dirs {
                home: None,
                cache: self.root.path().join("cache"),
                state: self.state(),
                config: self.root.path().join("config"),
            },
            crate::backend::builtin(),
        )
    }
    fn ensure(&self) -> Result<Approved> {
        ensure(&self.state(), &self.loaded(), "up", true, &[])
    }
}

const ENV: &str =
    "INFRA_TYPE=container\nMEMORY=256\nCPUS=1\nDISK=2\nPROVISION_SCRIPT=provision/site.yml\n";

fn refusal(r: Result<Approved>) -> Failure {
    let e = r.expect_err("ran without approval");
    let f = e.downcast::<Failure>().unwrap();
    assert_eq!(f.code, ExitStatus::Untrusted, "{}", f.message);
    f
}

#[test]
fn a_new_folder_is_refused_and_says_what_it_would_run() {
    let f = Folder::new(ENV);
    let no = refusal(f.ensure());
    assert!(
        no.message.contains("has not been approved"),
        "{}",
        no.message
    );
    let details = no.details.join("\n");
    assert!(
        details.contains("runs on this host: `ansible-playbook provision/site.yml`"),
        "{details}"
    );
    assert!(details.contains("SYNC=rw"), "{details}");
    assert!(no.hint.unwrap().contains("tmpl trust"));
}

#[test]
fn the_approved_copy_runs_not_the_project() {
    let f = Folder::new(ENV);
    approve(&f.state(), &f.loaded(), &[]).unwrap();
    let ok = f.ensure().unwrap().script.unwrap();
    assert!(ok.script.starts_with(f.state()), "{}", ok.script.display());
    assert_eq!(
        std::fs::read_to_string(&ok.script).unwrap(),
        "- hosts: all\n  tasks: []\n"
    );
    assert_eq!(ok.root, Path::new("provision"));

    // the guest edits the playbook: refused, and the approved copy is untouched
    f.write("provision/site.yml", "- hosts: localhost\n  tasks: []\n");
    let no = refusal(f.ensure());
    assert!(
        no.details
            .iter()
            .any(|d| d.contains("provision/site.yml (changed)")),
        "{:?}",
        no.details
    );
    assert_eq!(
        std::fs::read_to_string(&ok.script).unwrap(),
        "- hosts: all\n  tasks: []\n"
    );
}

#[test]
fn files_next_to_the_playbook_are_part_of_it() {
    let f = Folder::new(ENV);
    approve(&f.state(), &f.loaded(), &[]).unwrap();
    for (file, text) in [
        (
            "provision/group_vars/all.yml",
            "ansible_connection: local\n",
        ),
        (
            "provision/ansible.cfg",
            "[defaults]\nvault_password_file = pw.sh\n",
        ),
        ("provision/vars_plugins/evil.py", "import os\n"),
        ("provision/roles/r/tasks/main.yml", "- command: id\n"),
    ] {
        f.write(file, text);
        let no = refusal(f.ensure());
        assert!(
            no.details
                .iter()
                .any(|d| d.contains(&format!("{file} (new)"))),
            "{file}: {:?}",
            no.details
        );
        approve(&f.state(), &f.loaded(), &[]).unwrap();
    }
}

#[test]
fn renaming_the_project_is_a_change() {
    let f = Folder::new(ENV);
    approve(&f.state(), &f.loaded(), &[]).unwrap();
    f.write(".env", &format!("{ENV}NAME=other\n"));
    let no = refusal(f.ensure());
    assert!(
        no.details.iter().any(|d| d.contains("NAME=other (new)")),
        "{:?}",
        no.details
    );
}

#[test]
fn a_nested_project_is_a_new_folder() {
    let f = Folder::new(ENV);
    approve(&f.state(), &f.loaded(), &[]).unwrap();
    f.write("sub/.env", ENV);
    f.write("sub/provision/site.yml", "- hosts: localhost\n");
    let ctx = Ctx::at(
        f.dir().join("sub"),
        Dirs {
            home: None,
            cache: f.root.path().join("cache"),
            state: f.state(),
            config: f.root.path().join("config"),
        },
        crate::backend::builtin(),
    );
    let loaded = ctx.load().unwrap();
    assert_eq!(loaded.project.dir, f.dir().join("sub"));
    refusal(ensure(&f.state(), &loaded, "up", true, &[]));
}

#[test]
fn settings_only_approval_keeps_the_approved_playbook() {
    let f = Folder::new(ENV);
    approve(&f.state(), &f.loaded(), &[]).unwrap();
    f.write(".env", &format!("{ENV}PORTS=8080:80\n"));
    f.write("provision/site.yml", "- hosts: localhost\n");
    // an `up` that will not provision approves the settings alone (on a terminal); here
    // nothing asks, so approve what `ensure` would with_provision=false
    refusal(ensure(&f.state(), &f.loaded(), "up", false, &[]));
    let rec = load(&f.state(), &f.dir()).unwrap();
    assert!(rec.provision.unwrap().manifest.len() == 1);
}

#[test]
fn a_value_from_the_environment_is_named() {
    let f = Folder::new(&format!("{ENV}NAME=${{USER_FOR_TMPL_TEST}}x\n"));
    std::env::set_var("USER_FOR_TMPL_TEST", "ab");
    let a = approve(&f.state(), &f.loaded(), &[]).unwrap();
    assert!(
        a.notes
            .iter()
            .any(|n| n.contains("NAME (.env:6) takes $USER_FOR_TMPL_TEST from tmpl's environment")),
        "{:?}",
        a.notes
    );
}

/// The guest can write `.env`: binding a secret to a host of its own is a change that waits
/// for the person, and says where the value would go.
#[test]
fn rebinding_a_secret_needs_approval_and_names_the_host() {
    let f = Folder::new(&format!("{ENV}SECRETS=GITHUB_TOKEN@github.com\n"));
    approve(&f.state(), &f.loaded(), &[]).unwrap();
    f.ensure().unwrap();
    f.write(
        ".env",
        &format!("{ENV}SECRETS=GITHUB_TOKEN@github.com,GITHUB_TOKEN@evil.example\n"),
    );
    let no = refusal(f.ensure());
    let details = no.details.join("\n");
    assert!(
        details.contains("SECRETS: `GITHUB_TOKEN` may be sent to `evil.example`"),
        "{details}"
    );
    assert!(
        details.contains("SECRETS: GITHUB_TOKEN@github.com -> "),
        "{details}"
    );
}

/// The guest as attacker against the approval (issue 27).
#[path = "attack_tests.rs"]
mod attacks;
