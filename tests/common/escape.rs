//! The guest as an attacker who wants the host to run its code through the person's own
//! tools, or to leave a privilege behind in the shared folder (issue 27). Shared by the tests
//! of every backend, as root and as a person: the guest writes (`plant_*`, run as root in the
//! guest), then the person does what they do every day on the host (`person_uses_git`), and
//! `Canaries::assert_none` says whether anything the guest wrote ran.
//!
//! The families, not only the rows the issue lists:
//! - git finding a repository the guest made or changed: hooks and config of the project's
//!   own `.git`, a `commondir`, a `.git` moved away and made anew, a `.git` folder or a
//!   `gitdir:` file in a subfolder, a bare repository in a subfolder, `core.hooksPath`,
//!   `core.sshCommand` run by `fetch`, `core.pager`, `alias`;
//! - a file that carries a privilege: setuid and setgid bits, file capabilities, device
//!   nodes, an owner the person cannot undo.
#![allow(dead_code)]

use super::Project;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A folder of the host the guest cannot see, where payloads try to leave a mark.
pub struct Canaries {
    dir: tempfile::TempDir,
}

impl Canaries {
    pub fn new() -> Canaries {
        let dir = tempfile::Builder::new()
            .prefix("tmpl-canary-")
            .tempdir_in("/tmp")
            .unwrap();
        // any user's payload may try to write here: a person's git runs as them
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
        Canaries { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn found(&self) -> Vec<String> {
        let mut found: Vec<String> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        found.sort();
        found
    }

    pub fn assert_none(&self) {
        let found = self.found();
        assert!(
            found.is_empty(),
            "guest-written code ran on the host: {found:?}"
        );
    }
}

/// A shell command that leaves the mark `name` in the canaries' folder when it runs.
fn mark(c: &Canaries, name: &str) -> String {
    format!("touch {}/{name}", c.path().display())
}

/// The script that plants every git vector at once, run as root in the guest in the project
/// folder. Each line may be refused (`|| true`): which ones get through differs by design.
pub fn git_vectors(c: &Canaries) -> String {
    let m = |n: &str| mark(c, n);
    let repo = |dir: &str, config: &str| {
        format!(
            "mkdir -p {dir}/refs/heads {dir}/objects {dir}/hooks 2>/dev/null; \
             echo 'ref: refs/heads/main' > {dir}/HEAD 2>/dev/null; \
             printf '%b\\n' {config} > {dir}/config 2>/dev/null"
        )
    };
    let hook = |dir: &str, name: &str| {
        format!(
            "printf '#!/bin/sh\\n{}\\n' > {dir}/hooks/{name} 2>/dev/null; chmod +x {dir}/hooks/{name} 2>/dev/null",
            m(&format!("{}-{name}", dir.replace('/', "_")))
        )
    };
    let hostile = |tag: &str| {
        format!(
            "'[core]' '\\trepositoryformatversion = 0' '\\tfsmonitor = \"{fs}\"' \
             '\\thooksPath = hooks' '\\tsshCommand = \"{ssh}; false\"' '\\tpager = \"{pager}; cat\"' \
             '[alias]' '\\tst = !{alias}' \
             '[remote \"origin\"]' '\\turl = ssh://tmpl-test.invalid/x' \
             '\\tfetch = +refs/heads/*:refs/remotes/origin/*'",
            fs = m(&format!("{tag}-fsmonitor")),
            ssh = m(&format!("{tag}-sshcommand")),
            pager = m(&format!("{tag}-pager")),
            alias = m(&format!("{tag}-alias")),
        )
    };
    [
        // the project's own repository: its hooks and config
        hook(".git", "pre-commit"),
        hook(".git", "post-checkout"),
        format!(
            "printf '[core]\\n\\tfsmonitor = \"{}\"\\n' >> .git/config 2>/dev/null",
            m("config-fsmonitor")
        ),
        // a common dir of the guest's (row 1)
        repo(".gitc", &hostile("commondir")),
        "echo ../.gitc > .git/commondir 2>/dev/null".into(),
        // the project's `.git` moved away and made anew (row 2)
        format!(
            "mv .git .git-moved 2>/dev/null && {{ {}; {}; }}",
            repo(".git", &hostile("remade")),
            hook(".git", "pre-commit")
        ),
        // a repository in a subfolder: a folder, a `gitdir:` file, a bare one
        repo("sub/.git", &hostile("subfolder")),
        hook("sub/.git", "pre-commit"),
        repo(".elsewhere", &hostile("gitfile")),
        "mkdir -p linked && echo 'gitdir: ../.elsewhere' > linked/.git 2>/dev/null".into(),
        repo("bare", &hostile("bare")),
        // a hooks folder of the guest's, named by a config it could write
        "mkdir -p .guest-hooks && cp -r .git/hooks/. .guest-hooks/ 2>/dev/null".into(),
        "true".into(),
    ]
    .join("\n")
}

/// What a person runs on the host in a project folder and the folders below it, every day.
/// Returns nothing: what matters is the canaries.
pub fn person_uses_git(dir: &Path, run: &dyn Fn(&Path, &[&str])) {
    for sub in [".", "sub", "linked", "bare", ".git-moved"] {
        let d = dir.join(sub);
        if !d.is_dir() {
            continue;
        }
        run(&d, &["status"]);
        run(&d, &["log", "-1"]);
        run(&d, &["__tty", "log", "-1"]);
        run(&d, &["diff"]);
        run(&d, &["st"]);
        run(&d, &["commit", "--allow-empty", "-m", "after the agent"]);
        run(&d, &["checkout", "-q", "-b", "review"]);
        run(&d, &["fetch", "origin"]);
        run(&d, &["pull", "origin", "main"]);
    }
}

/// git as `as_user` (None: root), with an identity but none of the host's own config.
pub fn git_runner<'a>(as_user: Option<&'a super::user::RunAs>) -> impl Fn(&Path, &[&str]) + 'a {
    move |dir: &Path, args: &[&str]| {
        // a pager runs only at a terminal: `script` gives git one
        let (program, args): (&str, Vec<String>) = match args.split_first() {
            Some((&"__tty", rest)) => (
                "script",
                vec![
                    "-qec".into(),
                    format!("git {}", rest.join(" ")),
                    "/dev/null".into(),
                ],
            ),
            _ => ("git", args.iter().map(|a| a.to_string()).collect()),
        };
        let mut c = match as_user {
            Some(u) => u.command(program),
            None => Command::new(program),
        };
        if program == "git" {
            c.args([
                "-c",
                "user.name=Person",
                "-c",
                "user.email=person@example.invalid",
            ]);
        }
        let out = c
            .args(&args)
            .current_dir(dir)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("PAGER", "cat")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        eprintln!(
            "$ (in {}) git {} -> {:?}\n{}",
            dir.display(),
            args.join(" "),
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Makes the project folder a git repository of its owner's, with one commit, before `up`.
pub fn make_repo(p: &Project) {
    let run = |args: &[&str]| {
        let mut c = match &p.user {
            Some(u) => u.command("git"),
            None => Command::new("git"),
        };
        let out = c
            .args([
                "-c",
                "user.name=Person",
                "-c",
                "user.email=person@example.invalid",
            ])
            .args(args)
            .current_dir(&p.dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
    };
    run(&["init", "-q", "-b", "main"]);
    run(&["add", "-A"]);
    run(&["commit", "-q", "-m", "before the agent"]);
}

/// Files that carry a privilege, made as root in the guest.
pub const PRIVILEGE_VECTORS: &str = "\
cp /bin/sh suid-sh 2>/dev/null; chmod 4755 suid-sh 2>/dev/null
cp /bin/sh sgid-sh 2>/dev/null; chmod 2755 sgid-sh 2>/dev/null
install -m 6755 /bin/sh made-suid 2>/dev/null
cp /bin/sh caps-sh 2>/dev/null; setcap cap_setuid+ep caps-sh 2>/dev/null || \
  python3 -c 'import os; os.setxattr(\"caps-sh\", \"security.capability\", bytes.fromhex(\"0100000280000000000000000000000000000000\"))' 2>/dev/null
mknod disk b 8 0 2>/dev/null; mknod mem c 1 1 2>/dev/null
mkdir -p stuck/deeper && echo x > stuck/deeper/file && chown -R 1234:1234 stuck 2>/dev/null
mkdir -p sticky && chmod 1777 sticky 2>/dev/null && echo x > sticky/f && chown 1234 sticky/f 2>/dev/null
true";

/// What is left on the host of `PRIVILEGE_VECTORS`: each file whose mode, type or owner
/// carries what the guest meant, with why. `owner` is whom the guest's files must belong to.
pub fn privileges_left(dir: &Path, owner: u32) -> Vec<String> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let mut out = Vec::new();
    for entry in walkdir(dir) {
        let Ok(m) = std::fs::symlink_metadata(&entry) else {
            continue;
        };
        let rel = entry
            .strip_prefix(dir)
            .unwrap_or(&entry)
            .display()
            .to_string();
        let ft = m.file_type();
        if ft.is_block_device() || ft.is_char_device() {
            out.push(format!("{rel}: a device node"));
        }
        if m.is_file() && m.mode() & 0o6000 != 0 {
            out.push(format!("{rel}: mode {:o}", m.mode() & 0o7777));
        }
        if m.uid() != owner {
            out.push(format!("{rel}: owned by uid {} (not {owner})", m.uid()));
        }
        if xattr_present(&entry, "security.capability") {
            out.push(format!("{rel}: file capabilities"));
        }
    }
    out
}

fn walkdir(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if e.file_name() == ".git" {
                continue;
            }
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(p.clone());
            }
            out.push(p);
        }
    }
    out
}

fn xattr_present(p: &Path, name: &str) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let (Ok(path), Ok(name)) = (
        std::ffi::CString::new(p.as_os_str().as_bytes()),
        std::ffi::CString::new(name),
    ) else {
        return false;
    };
    // SAFETY: NUL-terminated strings; a null buffer asks only for the size
    unsafe { libc::lgetxattr(path.as_ptr(), name.as_ptr(), std::ptr::null_mut(), 0) >= 0 }
}
