//! `PROTECT` for containers: project paths the guest sees read-only, however root it is.
//!
//! Each path becomes a read-only bind mount over the project's own, made by Podman on the
//! host side: nothing in the container can lift it. A path that does not exist yet must not
//! be creatable in the guest either (an agent would write `.git/config` with a
//! `core.fsmonitor` before the person's first `git init`), so:
//! - when its nearest existing ancestor is a folder below the project's top, that folder is
//!   protected instead (`.git` without `hooks`: all of `.git`);
//! - when nothing of it exists below the top, an empty read-only folder takes its first
//!   missing part's place (an empty `.git`, which tmpl creates on the host as the mount
//!   point; git on the host treats an empty `.git` as no repository, and `git init` fills it).
//!
//! A symlink on the way is refused: the guest could write its target through another path.

use crate::error::{ExitStatus, Failure};
use anyhow::Result;
use std::path::{Component, Path, PathBuf};

/// One read-only mount: `source` on the host over `target` (relative to the project).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protected {
    pub source: Option<PathBuf>,
    pub target: PathBuf,
}

impl Protected {
    /// `None` source: the empty placeholder folder.
    pub fn placeholder(&self) -> bool {
        self.source.is_none()
    }
}

fn refuse(entry: &Path, why: String) -> anyhow::Error {
    Failure::new(
        ExitStatus::Config,
        format!("PROTECT: cannot protect `{}`: {why}", entry.display()),
    )
    .hint("make it a plain file or folder in the project, or leave it out of PROTECT in .env")
    .into()
}

/// What `entries` protect in `project`, parents before what they hold, without repeats.
pub fn resolve(project: &Path, entries: &[PathBuf]) -> Result<Vec<Protected>> {
    let mut out: Vec<Protected> = Vec::new();
    for entry in entries {
        let mut cur = project.to_path_buf();
        let mut rel = PathBuf::new();
        let mut found = None;
        for comp in entry.components() {
            let Component::Normal(name) = comp else {
                return Err(refuse(entry, "it leaves the project".into()));
            };
            let next = cur.join(name);
            let next_rel = rel.join(name);
            match std::fs::symlink_metadata(&next) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    found = Some(if rel.as_os_str().is_empty() {
                        Protected {
                            source: None,
                            target: next_rel,
                        }
                    } else {
                        Protected {
                            source: Some(cur.clone()),
                            target: rel.clone(),
                        }
                    });
                    break;
                }
                Err(e) => return Err(refuse(entry, e.to_string())),
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(refuse(
                        entry,
                        format!("`{}` is a symlink", next_rel.display()),
                    ))
                }
                Ok(m) if m.is_file() => {
                    found = Some(Protected {
                        source: Some(next.clone()),
                        target: next_rel,
                    });
                    break;
                }
                Ok(_) => {
                    cur = next;
                    rel = next_rel;
                }
            }
        }
        let p = found.unwrap_or(Protected {
            source: Some(cur),
            target: rel,
        });
        if !out.iter().any(|o| p.target.starts_with(&o.target)) {
            out.retain(|o| !o.target.starts_with(&p.target));
            out.push(p);
        }
    }
    out.sort_by(|a, b| a.target.cmp(&b.target));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &[&str]) -> Vec<PathBuf> {
        s.iter().map(PathBuf::from).collect()
    }

    #[test]
    fn existing_paths_missing_ones_and_links() {
        let d = tempfile::tempdir().unwrap();
        let top = d.path();
        // not a repository: an empty read-only `.git` takes its place
        let r = resolve(top, &p(&[".git/hooks", ".git/config"])).unwrap();
        assert_eq!(
            r,
            vec![Protected {
                source: None,
                target: ".git".into()
            }]
        );

        std::fs::create_dir_all(top.join(".git/hooks")).unwrap();
        std::fs::write(top.join(".git/config"), "").unwrap();
        let r = resolve(top, &p(&[".git/hooks", ".git/config"])).unwrap();
        assert_eq!(
            r,
            vec![
                Protected {
                    source: Some(top.join(".git/config")),
                    target: ".git/config".into()
                },
                Protected {
                    source: Some(top.join(".git/hooks")),
                    target: ".git/hooks".into()
                },
            ]
        );

        // a repository without hooks: all of `.git`
        std::fs::remove_dir(top.join(".git/hooks")).unwrap();
        let r = resolve(top, &p(&[".git/hooks", ".git/config"])).unwrap();
        assert_eq!(
            r,
            vec![Protected {
                source: Some(top.join(".git")),
                target: ".git".into()
            }]
        );

        // a worktree's `.git` file
        std::fs::remove_dir_all(top.join(".git")).unwrap();
        std::fs::write(top.join(".git"), "gitdir: /elsewhere\n").unwrap();
        let r = resolve(top, &p(&[".git/hooks"])).unwrap();
        assert_eq!(
            r,
            vec![Protected {
                source: Some(top.join(".git")),
                target: ".git".into()
            }]
        );

        std::fs::remove_file(top.join(".git")).unwrap();
        std::fs::create_dir_all(top.join("real")).unwrap();
        std::os::unix::fs::symlink("real", top.join(".git")).unwrap();
        let err = resolve(top, &p(&[".git/hooks"])).unwrap_err();
        assert!(err.to_string().contains("is a symlink"), "{err}");
    }
}
