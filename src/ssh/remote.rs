//! What runs in the guest for `tmpl ssh` and `tmpl exec`: a start in the project folder when
//! it is shared (`SYNC`), and with `SESSION` a tmux or zellij session named after the project,
//! attached if it exists and created otherwise, so a detached agent is found again.
//!
//! Pure: it only builds the argument list; `ssh::Access::command` quotes each argument for the
//! remote shell. The work is done by a small POSIX `sh` script with the values as its
//! positional parameters, so no value is ever parsed as shell code and the user's own login
//! shell (bash, zsh, fish) does not matter.

use crate::config::{Config, SyncFolder};
use crate::process::shell_quote;
use std::path::Path;

/// A login: into the project folder if it is there, then the session or a login shell.
const LOGIN: &str = include_str!("login.sh");

/// The folder in the guest that corresponds to `cwd` on the host: the same subfolder of the
/// shared project folder, or its top when `cwd` is outside it.
pub fn guest_dir(sync: &SyncFolder, cwd: &Path) -> String {
    match cwd.strip_prefix(&sync.host_path) {
        Ok(rel) if !rel.as_os_str().is_empty() => {
            format!(
                "{}/{}",
                sync.guest_path.trim_end_matches('/'),
                rel.to_string_lossy()
            )
        }
        _ => sync.guest_path.clone(),
    }
}

/// The line ssh hands to the guest's login shell for `tmpl ssh [-- command]` in `cwd`.
///
/// A command runs as `cd 'DIR' && 'cmd' 'arg'...`, read by the login shell itself (bash,
/// zsh, dash and fish 3 all accept it): no shell of tmpl's own in between, which under
/// software emulation costs ~40 ms a call. When the folder is missing, `cd` fails with the
/// shell's own message and the command does not run anywhere else.
pub fn remote_line(config: &Config, name: &str, cwd: &Path, command: &[String]) -> String {
    let quote = |v: &[String]| {
        v.iter()
            .map(|a| shell_quote(a))
            .collect::<Vec<_>>()
            .join(" ")
    };
    match (command.is_empty(), config.sync.as_ref()) {
        (false, Some(sync)) => format!(
            "cd {} && {}",
            shell_quote(&guest_dir(sync, cwd)),
            quote(command)
        ),
        _ => quote(&remote_argv(config, name, cwd, command)),
    }
}

/// The command line to run in the guest for `tmpl ssh [-- command]` started in `cwd`.
/// Empty means "the user's login shell", as plain `ssh` gives it.
pub fn remote_argv(config: &Config, name: &str, cwd: &Path, command: &[String]) -> Vec<String> {
    let dir = config.sync.as_ref().map(|s| guest_dir(s, cwd));
    let script = |body: &str| {
        vec![
            "sh".to_owned(),
            "-c".to_owned(),
            body.to_owned(),
            "tmpl".to_owned(),
        ]
    };
    match (command.is_empty(), dir) {
        // a command in the project folder is a line of its own: see `remote_line`
        (false, _) => command.to_vec(),
        (true, dir) => {
            let session = config.session.map(|s| s.program());
            if dir.is_none() && session.is_none() {
                return Vec::new();
            }
            let mut argv = script(LOGIN);
            argv.push(dir.unwrap_or_default());
            argv.push(session.unwrap_or_default().to_owned());
            argv.push(name.to_owned());
            argv
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{validate, EnvFile};
    use std::process::Command;

    fn config(extra: &str) -> Config {
        let text = format!("INFRA_TYPE=container\nMEMORY=512\nCPUS=1\nDISK=1\n{extra}");
        validate(
            &EnvFile::parse(Path::new(".env"), &text),
            Path::new("/h/app"),
            false,
            &crate::backend::builtin(),
        )
        .unwrap()
        .0
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn without_sync_or_session_nothing_changes() {
        let c = config("SYNC=none\n");
        assert!(remote_argv(&c, "app", Path::new("/h/app"), &[]).is_empty());
        let cmd = strings(&["ls", "-la"]);
        assert_eq!(remote_argv(&c, "app", Path::new("/h/app"), &cmd), cmd);
    }

    #[test]
    fn commands_run_in_the_matching_guest_folder() {
        let c = config("SYNC_PATH=/work/app\n");
        let line = remote_line(
            &c,
            "app",
            Path::new("/h/app/src/lib"),
            &strings(&["make", "a b"]),
        );
        assert_eq!(line, "cd /work/app/src/lib && make 'a b'");
        let outside = remote_line(&c, "app", Path::new("/elsewhere"), &strings(&["true"]));
        assert_eq!(outside, "cd /work/app && true");
        let none = remote_line(
            &config("SYNC=none\n"),
            "app",
            Path::new("/h/app"),
            &strings(&["ls", "-la"]),
        );
        assert_eq!(none, "ls -la");
    }

    #[test]
    fn a_session_is_only_for_logins() {
        let c = config("SYNC=none\nSESSION=tmux\n");
        let login = remote_argv(&c, "app", Path::new("/h/app"), &[]);
        assert_eq!(login[3..], strings(&["tmpl", "", "tmux", "app"]));
        let cmd = strings(&["tmux", "ls"]);
        assert_eq!(remote_argv(&c, "app", Path::new("/h/app"), &cmd), cmd);
        let z = remote_argv(&config("SESSION=zellij\n"), "app", Path::new("/h/app"), &[]);
        assert_eq!(z[3..], strings(&["tmpl", "/h/app", "zellij", "app"]));
    }

    /// The scripts themselves, run by the host's `sh` with stand-ins for tmux and a shell.
    #[test]
    fn the_scripts_do_what_they_say() {
        let d = tempfile::tempdir().unwrap();
        let bin = d.path().join("bin");
        let project = d.path().join("my project");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(&project).unwrap();
        let fake = |name: &str, body: &str| {
            let p = bin.join(name);
            std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        fake("tmux", r#"echo "tmux $* in $(pwd)""#);
        fake("fakeshell", r#"echo "shell $* in $(pwd)""#);
        let run = |argv: &[String]| {
            let out = Command::new(&argv[0])
                .args(&argv[1..])
                .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
                .env("SHELL", bin.join("fakeshell"))
                .env("HOME", d.path())
                .current_dir(d.path())
                .output()
                .unwrap();
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).trim().to_owned(),
                String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            )
        };
        let p = project.display().to_string();
        let c = |extra: &str| {
            let mut c = config(extra);
            c.sync.as_mut().unwrap().host_path = project.clone();
            c.sync.as_mut().unwrap().guest_path = p.clone();
            c
        };
        // ssh hands the line to the login shell; `sh -c LINE` stands in for it here
        let line = |cwd: &Path, cmd: &[&str]| {
            strings(&["sh", "-c", &remote_line(&c(""), "app", cwd, &strings(cmd))])
        };
        let (code, out, _) = run(&line(&project, &["sh", "-c", "pwd; exit 7"]));
        assert_eq!(
            (code, out.as_str()),
            (Some(7), p.as_str()),
            "runs in the folder, keeps the exit code"
        );

        let (code, _, err) = run(&line(&project.join("gone"), &["touch", "x"]));
        assert_ne!(code, Some(0));
        assert!(
            err.contains("gone"),
            "the shell names the missing folder: {err}"
        );
        assert!(!d.path().join("x").exists(), "nothing ran elsewhere");

        let (_, out, _) = run(&remote_argv(&c("SESSION=tmux\n"), "app", &project, &[]));
        assert_eq!(out, format!("tmux new-session -A -s app in {p}"));
        let (_, out, err) = run(&remote_argv(&c("SESSION=zellij\n"), "app", &project, &[]));
        assert_eq!(out, format!("shell -l in {p}"), "no zellij: a plain shell");
        assert!(err.contains("zellij is not installed"), "{err}");
    }
}
