//! Where the values of secrets come from: the person's side, never the project folder (the
//! guest writes it). In order:
//!
//! 1. the environment of the `tmpl up` that starts the broker (`GITHUB_TOKEN=… tmpl up`, or
//!    `GITHUB_TOKEN="$(pass show github/token)" tmpl up` for a password manager);
//! 2. `$XDG_CONFIG_HOME/tmpl/secrets.env` (`~/.config/tmpl/`), `NAME=value` lines, which
//!    must be the person's own file and readable by nobody else (mode 0600): tmpl refuses
//!    it otherwise, before reading a byte of it.
//!
//! Values go to the broker through a pipe and live in its memory only.

use crate::config::EnvFile;
use crate::error::{ExitStatus, Failure};
use anyhow::Result;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const FILE: &str = "secrets.env";

pub fn file(config_dir: &Path) -> PathBuf {
    config_dir.join(FILE)
}

/// The file's entries, if it is there and private to this person.
fn from_file(path: &Path) -> Result<Option<EnvFile>> {
    use std::os::unix::fs::MetadataExt;
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Failure::new(
                ExitStatus::Config,
                format!("cannot read {}: {e}", path.display()),
            )
            .into())
        }
    };
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me || meta.mode() & 0o077 != 0 {
        let why = if meta.uid() != me {
            format!("it belongs to uid {}, not to you", meta.uid())
        } else {
            format!(
                "its mode is {:04o}: others can read it",
                meta.mode() & 0o7777
            )
        };
        return Err(Failure::new(
            ExitStatus::Config,
            format!("not reading secrets from {}: {why}", path.display()),
        )
        .hint(format!(
            "it must be yours alone: `chmod 600 {}`",
            path.display()
        ))
        .into());
    }
    Ok(Some(EnvFile::read(path)?))
}

/// The value of every name, from the environment, then the file; an error names every
/// name without one and where tmpl looked.
pub fn read(names: &[&str], config_dir: &Path) -> Result<BTreeMap<String, String>> {
    read_with(names, config_dir, |n| std::env::var(n).ok())
}

fn read_with(
    names: &[&str],
    config_dir: &Path,
    env: impl Fn(&str) -> Option<String>,
) -> Result<BTreeMap<String, String>> {
    let path = file(config_dir);
    let mut file: Option<Option<EnvFile>> = None;
    let mut out = BTreeMap::new();
    let mut missing = Vec::new();
    for &name in names {
        let value = match env(name).filter(|v| !v.is_empty()) {
            Some(v) => Some(v),
            None => {
                let f = match &file {
                    Some(f) => f,
                    None => file.insert(from_file(&path)?),
                };
                f.as_ref()
                    .and_then(|f| f.get(name))
                    .map(|e| e.value.clone())
                    .filter(|v| !v.is_empty())
            }
        };
        match value {
            Some(v) if v.chars().any(char::is_control) => {
                return Err(Failure::new(
                    ExitStatus::Config,
                    format!("the value of `{name}` has a line break or another control character"),
                )
                .hint("a request header cannot carry it; check how it was set")
                .into())
            }
            Some(v) => {
                out.insert(name.to_owned(), v);
            }
            None => missing.push(name),
        }
    }
    if missing.is_empty() {
        return Ok(out);
    }
    let names: Vec<String> = missing.iter().map(|n| format!("`{n}`")).collect();
    let in_file = match &file {
        Some(Some(_)) => format!("{} (it has no such line)", path.display()),
        _ => format!("{} (not there)", path.display()),
    };
    Err(Failure::new(
        ExitStatus::Config,
        format!("SECRETS names {} without a value", names.join(", ")),
    )
    .detail("looked in: the environment of this `tmpl up`")
    .detail(format!("looked in: {in_file}"))
    .hint(format!(
        "`export {0}=...` before `tmpl up`, or a line `{0}=...` in {1} (mode 0600); never in the project's .env, which the guest can read",
        missing[0],
        path.display()
    ))
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_environment_then_a_private_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = file(dir.path());
        std::fs::write(&f, "B=from-file\nC=\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        let env = |n: &str| (n == "A").then(|| "from-env".to_owned());
        let v = read_with(&["A", "B"], dir.path(), env).unwrap();
        assert_eq!(
            (v["A"].as_str(), v["B"].as_str()),
            ("from-env", "from-file")
        );

        let err = read_with(&["A", "C", "D"], dir.path(), env).unwrap_err();
        let f2 = err.downcast_ref::<Failure>().unwrap();
        assert!(
            f2.message.contains("`C`, `D` without a value"),
            "{}",
            f2.message
        );
        assert!(f2.details.iter().any(|d| d.contains("it has no such line")));

        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = read_with(&["B"], dir.path(), env).unwrap_err();
        let f3 = err.downcast_ref::<Failure>().unwrap();
        assert!(f3.message.contains("others can read it"), "{}", f3.message);
        assert!(f3.hint.as_deref().unwrap().contains("chmod 600"));
    }

    #[test]
    fn a_missing_file_is_named_and_a_line_break_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_with(&["A"], dir.path(), |_| None).unwrap_err();
        let f = err.downcast_ref::<Failure>().unwrap();
        assert!(
            f.details
                .iter()
                .any(|d| d.contains("secrets.env (not there)")),
            "{:?}",
            f.details
        );
        let err = read_with(&["A"], dir.path(), |_| Some("a\r\nX-Evil: 1".into())).unwrap_err();
        assert!(err.to_string().contains("line break"));
    }
}
