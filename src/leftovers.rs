//! Things tmpl made that no project owns any more: domains, volumes and seed ISOs named
//! `tmpl-`, containers and networks labelled by tmpl whose project folder is gone, records of
//! projects and approvals whose folder is gone, stale locks and dead ssh control sockets.
//! `tmpl doctor` lists them; `tmpl gc` removes them.
//!
//! Only what is provably this user's and provably gone counts:
//! - a guest is this user's when its files are in this user's own cache or state (a VM's
//!   Vagrantfile, which vagrant-libvirt names in the domain's description; a container's
//!   `tmpl.state` label), so one user's `gc` never touches another's guests;
//! - a folder is gone when looking it up says "not found": "permission denied" proves
//!   nothing. A stopped guest of a living project is never touched.

use crate::backend::podman::{client, spec};
use crate::backend::vagrant::virsh;
use crate::process::Cmd;
use crate::project::Dirs;
use anyhow::Result;
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Domain,
    Volume,
    SeedIso,
    Container,
    Network,
    RegistryEntry,
    Approval,
    Lock,
    ControlSocket,
}

impl Kind {
    /// What it is, in words, for `doctor` and `gc`.
    pub fn label(&self) -> &'static str {
        match self {
            Kind::Domain => "VM",
            Kind::Volume => "disk volume",
            Kind::SeedIso => "seed ISO",
            Kind::Container => "container",
            Kind::Network => "network",
            Kind::RegistryEntry => "project record",
            Kind::Approval => "approval",
            Kind::Lock => "lock file",
            Kind::ControlSocket => "ssh control socket",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Leftover {
    pub kind: Kind,
    pub name: String,
    pub why: String,
}

/// Is `path` provably gone? Only "not found" says so: "permission denied" (another user's
/// home, say) proves nothing, and what cannot be proven gone is never removed.
pub fn gone(path: &Path) -> bool {
    gone_by(std::fs::symlink_metadata(path))
}

fn gone_by(stat: std::io::Result<std::fs::Metadata>) -> bool {
    matches!(stat, Err(e) if e.kind() == std::io::ErrorKind::NotFound)
}

fn slug_of(name: &str) -> Option<&str> {
    let rest = name.strip_prefix("tmpl-")?;
    let end = rest.find(['.', '_']).unwrap_or(rest.len());
    let rest = rest[..end].trim_end_matches("-seed");
    Some(rest)
}

/// The Vagrantfile a domain was made from, from vagrant-libvirt's description.
fn domain_source(name: &str) -> Option<PathBuf> {
    let out = virsh::virsh().args(["desc", name]).read().ok()?;
    out.lines()
        .find_map(|l| l.trim().strip_prefix("Source: ").map(PathBuf::from))
}

/// Does this user have files for the project `slug` (an interrupted `up` leaves them)?
fn mine(dirs: &Dirs, slug: &str) -> bool {
    !gone(&dirs.state.join(slug)) || !gone(&dirs.cache.join(slug))
}

fn vm_leftovers(dirs: &Dirs, out: &mut Vec<Leftover>) {
    let Ok(domains) = virsh::domains_with_prefix("tmpl-") else {
        return;
    };
    for d in &domains {
        let Some(src) = domain_source(d) else {
            continue;
        };
        if src.starts_with(&dirs.cache) && gone(&src) {
            out.push(Leftover {
                kind: Kind::Domain,
                name: d.clone(),
                why: format!("its Vagrantfile {} is gone", src.display()),
            });
        }
    }
    let Ok(vols) = virsh::vol_names() else { return };
    for vol in vols {
        // a box's base image (`tmpl-test-VAGRANTSLASH-..._vagrant_box_image_...`) is shared
        // by every VM of that box, not a project's
        if !vol.starts_with("tmpl-") || vol.contains("_vagrant_box_image_") {
            continue;
        }
        let Some(slug) = slug_of(&vol) else { continue };
        let used = domains.iter().any(|d| slug_of(d) == Some(slug));
        if used || !(mine(dirs, slug) || probe_left(slug)) {
            continue;
        }
        out.push(Leftover {
            kind: if vol.ends_with("-seed.iso") {
                Kind::SeedIso
            } else {
                Kind::Volume
            },
            name: vol,
            why: "no domain uses it".into(),
        });
    }
}

/// The KVM probe's disk of a tmpl that died mid-probe (`kvm-probe-<pid>`).
fn probe_left(slug: &str) -> bool {
    let Some(pid) = slug
        .strip_prefix("kvm-probe-")
        .and_then(|p| p.parse::<i32>().ok())
    else {
        return false;
    };
    // SAFETY: signal 0 only asks whether the process exists
    unsafe { libc::kill(pid, 0) != 0 }
}

fn container_leftovers(dirs: &Dirs, out: &mut Vec<Leftover>) {
    let Ok(c) = client::connect() else { return };
    let Ok(list) = c.labelled(spec::LABEL_PROJECT) else {
        return;
    };
    let mut kept_slugs = Vec::new();
    for s in list {
        let labels = s.labels.unwrap_or_default();
        let name = s
            .names
            .and_then(|n| n.first().cloned())
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_owned();
        let state = labels.get(spec::LABEL_STATE).map(PathBuf::from);
        let dir = labels.get(spec::LABEL_DIR).map(PathBuf::from);
        match (state, dir) {
            (Some(st), Some(d)) if st.starts_with(&dirs.state) && gone(&d) => out.push(Leftover {
                kind: Kind::Container,
                name,
                why: format!("its project folder {} is gone", d.display()),
            }),
            _ => kept_slugs.extend(labels.get(spec::LABEL_PROJECT).cloned()),
        }
    }
    for n in c.labelled_networks(spec::LABEL_PROJECT).unwrap_or_default() {
        let slug = n
            .labels
            .as_ref()
            .and_then(|l| l.get(spec::LABEL_PROJECT))
            .cloned()
            .unwrap_or_default();
        if !kept_slugs.contains(&slug) && mine(dirs, &slug) {
            out.push(Leftover {
                kind: Kind::Network,
                name: n.name.unwrap_or_default(),
                why: "no container of its project exists".into(),
            });
        }
    }
}

fn local_leftovers(dirs: &Dirs, out: &mut Vec<Leftover>) {
    let state_root = &dirs.state;
    if let Ok(reg) = crate::registry::load(state_root) {
        for (slug, e) in reg {
            if gone(&e.dir) {
                out.push(Leftover {
                    kind: Kind::RegistryEntry,
                    name: slug,
                    why: format!("folder {} is gone", e.dir.display()),
                });
            }
        }
    }
    for (path, folder) in crate::trust::stale(state_root) {
        out.push(Leftover {
            kind: Kind::Approval,
            name: path.display().to_string(),
            why: format!("folder {} is gone", folder.display()),
        });
    }
    for e in std::fs::read_dir(state_root.join("locks"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(lock) = name.strip_suffix(".lock") else {
            continue;
        };
        // a lock nobody holds and whose project has no state left (`rm` removes its own)
        let free = crate::lock::Lock::try_now(&e.path());
        if free && gone(&state_root.join(lock)) && !lock.starts_with("host-") {
            out.push(Leftover {
                kind: Kind::Lock,
                name: e.path().display().to_string(),
                why: "no project uses it".into(),
            });
        }
    }
    if !crate::ssh::control_dir().exists() {
        return;
    }
    let Ok(control) = crate::ssh::ensure_control_dir() else {
        return;
    };
    for e in std::fs::read_dir(control).into_iter().flatten().flatten() {
        let alive = std::os::unix::net::UnixStream::connect(e.path()).is_ok();
        if !alive {
            out.push(Leftover {
                kind: Kind::ControlSocket,
                name: e.path().display().to_string(),
                why: "its ssh master is gone".into(),
            });
        }
    }
}

pub fn find(dirs: &Dirs) -> Vec<Leftover> {
    let mut out = Vec::new();
    vm_leftovers(dirs, &mut out);
    container_leftovers(dirs, &mut out);
    local_leftovers(dirs, &mut out);
    out
}

pub fn remove(l: &Leftover, dirs: &Dirs) -> Result<()> {
    match l.kind {
        Kind::Domain => {
            let _ = virsh::virsh().args(["destroy", &l.name]).output();
            virsh::virsh()
                .args(["undefine", &l.name, "--remove-all-storage", "--nvram"])
                .read()?;
        }
        Kind::Volume | Kind::SeedIso => {
            virsh::vol_delete(&l.name)?;
        }
        Kind::Container => {
            Cmd::new("podman").args(["rm", "-f", &l.name]).read()?;
        }
        Kind::Network => {
            Cmd::new("podman").args(["network", "rm", &l.name]).read()?;
        }
        Kind::RegistryEntry => crate::registry::forget(&dirs.state, &l.name)?,
        Kind::Approval => std::fs::remove_dir_all(&l.name)?,
        Kind::Lock | Kind::ControlSocket => std::fs::remove_file(&l.name)?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_not_found_is_gone() {
        use std::io::{Error, ErrorKind};
        assert!(gone_by(Err(Error::from(ErrorKind::NotFound))));
        assert!(!gone_by(Err(Error::from(ErrorKind::PermissionDenied))));
        assert!(!gone(Path::new("/")));
        assert!(gone(Path::new("/tmpl-surely-not-here/x")));
    }
}
