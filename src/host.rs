//! What tmpl needs on the host, from the one list `scripts/setup.sh` installs from
//! (`scripts/requirements.txt`, compiled in), and the `doctor` check of each program.
//!
//! The fixes name the package for apt, which Debian and Ubuntu have; elsewhere the package
//! names say what to look for. They never refer to tmpl's repository: the binary is used
//! without it.

use crate::check::Check;
use crate::process::{which, Cmd};

const LIST: &str = include_str!("../scripts/requirements.txt");

/// One program of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub program: &'static str,
    pub package: &'static str,
    pub needed_by: &'static str,
}

/// The programs `needed_by` needs (`vm`, `container`, `provision`, `any`, `fence`, `person`).
pub fn needed_by(what: &str) -> Vec<Requirement> {
    LIST.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some(Requirement {
                program: w.next()?,
                package: w.next()?,
                needed_by: w.next()?,
            })
        })
        .filter(|r| r.needed_by == what && r.program != "-")
        .collect()
}

/// The package that has `program`, for a fix.
pub fn package_of(program: &str) -> &'static str {
    [
        "vm",
        "container",
        "provision",
        "any",
        "fence",
        "person",
        "tool",
        "test",
    ]
    .iter()
    .flat_map(|w| needed_by(w))
    .find(|r| r.program == program)
    .map_or("", |r| r.package)
}

/// `sudo apt-get install -y PACKAGE`, the fix for a missing package.
pub fn install(package: &str) -> String {
    format!("sudo apt-get install -y {package} (Debian/Ubuntu; the package is called `{package}` there)")
}

/// Whether `r.program` is on PATH (or in sbin, for daemons), with its version line.
pub fn check_program(r: &Requirement, required: bool) -> Check {
    let found = which(r.program).or_else(|| {
        ["/usr/sbin", "/sbin"]
            .iter()
            .map(|d| std::path::Path::new(d).join(r.program))
            .find(|p| p.is_file())
    });
    let (ok, detail) = match found {
        None => (false, format!("`{}` not found on PATH", r.program)),
        Some(path) => {
            let version = Cmd::new(&path)
                .arg(version_flag(r.program))
                .output()
                .ok()
                .map(|o| {
                    let text = if o.stdout.trim().is_empty() {
                        o.stderr
                    } else {
                        o.stdout
                    };
                    text.lines().next().unwrap_or("").trim().to_owned()
                })
                .filter(|v| !v.is_empty());
            (true, version.unwrap_or_else(|| path.display().to_string()))
        }
    };
    Check {
        name: r.program.to_owned(),
        ok,
        required,
        detail,
        fix: (!ok).then(|| install(r.package)),
    }
}

fn version_flag(program: &str) -> &'static str {
    match program {
        "ssh" => "-V",
        "xorriso" => "-version",
        "ip" => "-V",
        _ => "--version",
    }
}

/// Free GiB on the file system holding `dir` (its nearest existing ancestor): what an
/// ordinary user may still write there, as df's "Available".
pub fn free_gib(dir: &std::path::Path) -> Option<u64> {
    let existing = dir.ancestors().find(|d| d.exists())?;
    let fs = rustix::fs::statvfs(existing).ok()?;
    Some(fs.f_bavail.saturating_mul(fs.f_frsize) >> 30)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_names_what_each_kind_of_project_needs() {
        for what in ["vm", "container", "any", "provision"] {
            assert!(!needed_by(what).is_empty(), "{what}");
        }
        assert!(needed_by("any").iter().any(|r| r.program == "ssh"));
        assert_eq!(package_of("ansible-playbook"), "ansible-core");
        assert!(!install("x").contains("make setup"));
    }
}
