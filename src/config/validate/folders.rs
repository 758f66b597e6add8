//! Paths: `PROVISION_SCRIPT` inside the project, `SYNC`/`SYNC_PATH` in the guest, `SESSION`.

use super::checker::Checker;
use super::report::Problem;
use crate::config::types::*;
use std::path::{Component, Path, PathBuf};

pub(super) fn check_provision(c: &mut Checker, project_dir: &Path) -> Option<Provision> {
    let v = c.optional("PROVISION_SCRIPT")?;
    let relative = PathBuf::from(&v);
    let escapes = relative.is_absolute()
        || relative
            .components()
            .any(|x| matches!(x, Component::ParentDir));
    if escapes {
        c.problem(
            "PROVISION_SCRIPT",
            "a path inside the project, relative to its folder",
            Some("PROVISION_SCRIPT=provision/site.yml".into()),
        );
        return None;
    }
    let path = project_dir.join(&relative);
    if !path.is_file() {
        c.problem(
            "PROVISION_SCRIPT",
            format!("an existing file; `{}` does not exist", path.display()),
            Some("PROVISION_SCRIPT=provision/site.yml".into()),
        );
        return None;
    }
    // after symlinks: a link to a host file would hand that file to the guest or to Ansible
    let inside = match (path.canonicalize(), project_dir.canonicalize()) {
        (Ok(real), Ok(top)) => real.starts_with(&top).then_some(real),
        _ => None,
    };
    if inside.is_none() {
        c.problem(
            "PROVISION_SCRIPT",
            format!(
                "a file inside the project; `{}` is a link to {} outside it",
                relative.display(),
                path.canonicalize()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|_| "somewhere unreadable".into())
            ),
            Some("PROVISION_SCRIPT=provision/site.yml".into()),
        );
        return None;
    }
    let kind = match relative.extension().and_then(|e| e.to_str()) {
        Some("yml" | "yaml") => ProvisionKind::Ansible,
        _ => ProvisionKind::Script,
    };
    Some(Provision {
        relative,
        path,
        kind,
    })
}

/// Guest folders the project must not be mounted onto or into: the guest would lose its
/// system, its users' homes (and with them the SSH keys tmpl logs in with) or its /tmp.
const RESERVED_GUEST_DIRS: &[&str] = &[
    "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/libx32", "/proc",
    "/root", "/run", "/sbin", "/sys", "/tmp", "/usr", "/var",
];
/// Of those, the ones whose every subfolder belongs to the system too.
const SYSTEM_TREES: &[&str] = &[
    "/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/run",
    "/sbin", "/sys", "/usr",
];

/// Why `path` cannot be where the project appears in the guest, if it cannot.
pub fn bad_guest_path(path: &str) -> Option<String> {
    if !path.starts_with('/') {
        return Some("an absolute path in the guest".into());
    }
    if path.chars().any(char::is_control) {
        return Some("a path without control characters".into());
    }
    // Vagrant hands the guest path to `printf`: `/%setc` would become `/etc`
    if path.contains('%') {
        return Some("a path without `%`".into());
    }
    let p = Path::new(path);
    if p.components()
        .any(|x| matches!(x, Component::ParentDir | Component::CurDir))
        || path.contains("//")
    {
        return Some("a plain absolute path, without `.`, `..` or `//`".into());
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty()
        || RESERVED_GUEST_DIRS.contains(&trimmed)
        || SYSTEM_TREES
            .iter()
            .any(|t| trimmed.starts_with(&format!("{t}/")))
    {
        return Some(format!(
            "a folder of its own in the guest; `{trimmed}` would hide the guest's own files"
        ));
    }
    None
}

pub(super) fn check_sync(c: &mut Checker, project_dir: &Path) -> Option<SyncFolder> {
    let path = c.optional("SYNC_PATH");
    let mode = match c.optional("SYNC").as_deref() {
        None | Some("rw") => SyncMode::Rw,
        Some("ro") => SyncMode::Ro,
        Some("none") => {
            if path.is_some() {
                c.warn("SYNC_PATH", "`SYNC_PATH` is ignored with `SYNC=none`");
            }
            return None;
        }
        Some(_) => {
            c.problem("SYNC", "`rw`, `ro` or `none`", Some("SYNC=rw".into()));
            return None;
        }
    };
    let (guest_path, from_env) = match path {
        Some(p) => (p, true),
        None => (project_dir.to_string_lossy().into_owned(), false),
    };
    if let Some(expected) = bad_guest_path(&guest_path) {
        if from_env {
            c.problem("SYNC_PATH", expected, Some("SYNC_PATH=/work/app".into()));
        } else {
            // nothing on a line to point at: the default came from the folder's own path
            c.report.problems.push(Problem {
                line: c.env.get("SYNC").map(|e| e.line),
                key: "SYNC_PATH".into(),
                value: Some(guest_path.clone()),
                expected: format!(
                    "`SYNC_PATH` set, because the default (the project folder `{guest_path}`) cannot be used: {expected}; or `SYNC=none`"
                ),
                example: Some("SYNC_PATH=/work/app".into()),
            });
        }
        return None;
    }
    let guest_path = match guest_path.trim_end_matches('/') {
        "" => guest_path,
        t => t.to_owned(),
    };
    Some(SyncFolder {
        mode,
        host_path: project_dir.to_owned(),
        guest_path,
    })
}

/// What the guest may not change in the project folder.
/// Nothing by default: git on the host is out of the guest's reach by design (the guest's
/// `.git` is a repository of its own, see `share::repo`), not by a list of paths.
pub const DEFAULT_PROTECT: &[&str] = &[];

/// `PROTECT`: project paths that are read-only in the guest. An agent that writes a git hook
/// or `core.fsmonitor` would run code the next time the person uses git on the host.
pub(super) fn check_protect(c: &mut Checker) -> Vec<PathBuf> {
    let Some(v) = c.value("PROTECT").map(str::to_owned) else {
        return DEFAULT_PROTECT.iter().map(PathBuf::from).collect();
    };
    if v == "none" || v.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for item in v.split([',', ' ']).map(str::trim).filter(|s| !s.is_empty()) {
        let p = PathBuf::from(item.trim_end_matches('/'));
        let bad = p.is_absolute()
            || item.chars().any(|ch| ch.is_control() || ch == ':')
            || p.components().any(|x| !matches!(x, Component::Normal(_)));
        if bad {
            c.problem(
                "PROTECT",
                format!("paths inside the project, relative to it, without `..` or `:`; `{item}` is not one"),
                Some("PROTECT=deploy secrets".into()),
            );
            return Vec::new();
        }
        out.push(p);
    }
    out
}

pub(super) fn check_session(c: &mut Checker) -> Option<Session> {
    match c.optional("SESSION").as_deref() {
        None => None,
        Some("tmux") => Some(Session::Tmux),
        Some("zellij") => Some(Session::Zellij),
        Some(_) => {
            c.problem("SESSION", "`tmux` or `zellij`", Some("SESSION=tmux".into()));
            None
        }
    }
}
