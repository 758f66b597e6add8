//! Things tmpl made that no project owns any more: domains, volumes and seed ISOs named
//! `tmpl-`, containers and networks labelled by tmpl whose project folder is gone, registry
//! entries whose folder is gone, stale locks and dead ssh control sockets. `tmpl doctor`
//! lists them; `tmpl gc` removes them.
//!
//! A guest counts as a leftover only when its project folder is gone (containers carry it in
//! the `tmpl.dir` label; VMs in the description vagrant-libvirt writes, the Vagrantfile path in
//! tmpl's cache). A stopped guest of a living project is never touched.

use crate::backend::podman::{client, spec};
use crate::backend::vagrant::virsh;
use crate::process::Cmd;
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
    Lock,
    ControlSocket,
}

#[derive(Debug, Clone, Serialize)]
pub struct Leftover {
    pub kind: Kind,
    pub name: String,
    pub why: String,
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

fn vm_leftovers(out: &mut Vec<Leftover>) {
    let Ok(domains) = virsh::domains_with_prefix("tmpl-") else {
        return;
    };
    let mut live_slugs = Vec::new();
    for d in &domains {
        match domain_source(d) {
            Some(src) if !src.exists() => out.push(Leftover {
                kind: Kind::Domain,
                name: d.clone(),
                why: format!("its Vagrantfile {} is gone", src.display()),
            }),
            _ => live_slugs.extend(slug_of(d).map(str::to_owned)),
        }
    }
    let Ok(vols) = virsh::virsh().args(["vol-list", "default"]).read() else {
        return;
    };
    for line in vols.lines() {
        // a box's base image (`tmpl-test-VAGRANTSLASH-..._vagrant_box_image_...`) is shared
        // by every VM of that box, not a project's
        let Some(vol) = line
            .split_whitespace()
            .next()
            .filter(|v| v.starts_with("tmpl-") && !v.contains("_vagrant_box_image_"))
        else {
            continue;
        };
        let owned = slug_of(vol).is_some_and(|s| {
            domains.iter().any(|d| slug_of(d) == Some(s)) || live_slugs.iter().any(|l| l == s)
        });
        if !owned {
            let kind = if vol.ends_with("-seed.iso") {
                Kind::SeedIso
            } else {
                Kind::Volume
            };
            out.push(Leftover {
                kind,
                name: vol.to_owned(),
                why: "no domain uses it".into(),
            });
        }
    }
    // seed ISOs are plain files too (the pool may not have been refreshed)
    for e in std::fs::read_dir(crate::backend::vagrant::plan::LIBVIRT_IMAGES)
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("tmpl-")
            && name.ends_with("-seed.iso")
            && !out.iter().any(|l| l.name == name)
        {
            let owned =
                slug_of(&name).is_some_and(|s| domains.iter().any(|d| slug_of(d) == Some(s)));
            if !owned {
                out.push(Leftover {
                    kind: Kind::SeedIso,
                    name,
                    why: "no domain uses it".into(),
                });
            }
        }
    }
}

fn container_leftovers(out: &mut Vec<Leftover>) {
    let Ok(c) = client::connect() else { return };
    let label = spec::LABEL_PROJECT.to_string();
    let filters = std::collections::HashMap::from([("label".to_owned(), vec![label])]);
    let opts = bollard::query_parameters::ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    let Ok(list) = c.block_on(c.docker.list_containers(Some(opts))) else {
        return;
    };
    let mut kept_slugs = Vec::new();
    for s in list {
        let labels = s.labels.unwrap_or_default();
        let dir = labels.get(spec::LABEL_DIR).map(PathBuf::from);
        let name = s
            .names
            .and_then(|n| n.first().cloned())
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_owned();
        match dir {
            Some(d) if !d.is_dir() => out.push(Leftover {
                kind: Kind::Container,
                name,
                why: format!("its project folder {} is gone", d.display()),
            }),
            _ => kept_slugs.extend(labels.get(spec::LABEL_PROJECT).cloned()),
        }
    }
    let filters = std::collections::HashMap::from([(
        "label".to_owned(),
        vec![spec::LABEL_PROJECT.to_owned()],
    )]);
    let opts = bollard::query_parameters::ListNetworksOptionsBuilder::default()
        .filters(&filters)
        .build();
    for n in c
        .block_on(c.docker.list_networks(Some(opts)))
        .unwrap_or_default()
    {
        let slug = n
            .labels
            .as_ref()
            .and_then(|l| l.get(spec::LABEL_PROJECT))
            .cloned()
            .unwrap_or_default();
        if !kept_slugs.contains(&slug) {
            out.push(Leftover {
                kind: Kind::Network,
                name: n.name.unwrap_or_default(),
                why: "no container of its project exists".into(),
            });
        }
    }
}

fn local_leftovers(state_root: &Path, out: &mut Vec<Leftover>) {
    if let Ok(reg) = crate::registry::load(state_root) {
        for (slug, e) in reg {
            if !e.dir.is_dir() {
                out.push(Leftover {
                    kind: Kind::RegistryEntry,
                    name: slug,
                    why: format!("folder {} is gone", e.dir.display()),
                });
            }
        }
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
        // a lock nobody holds and whose project has no state left
        let free = crate::lock::Lock::try_now(&e.path());
        if free && !state_root.join(lock).exists() && !lock.starts_with("host-") {
            out.push(Leftover {
                kind: Kind::Lock,
                name: e.path().display().to_string(),
                why: "no project uses it".into(),
            });
        }
    }
    for e in std::fs::read_dir(crate::ssh::control_dir())
        .into_iter()
        .flatten()
        .flatten()
    {
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

pub fn find(state_root: &Path) -> Vec<Leftover> {
    let mut out = Vec::new();
    vm_leftovers(&mut out);
    container_leftovers(&mut out);
    local_leftovers(state_root, &mut out);
    out
}

pub fn remove(l: &Leftover, state_root: &Path) -> Result<()> {
    match l.kind {
        Kind::Domain => {
            let _ = virsh::virsh().args(["destroy", &l.name]).output();
            virsh::virsh()
                .args(["undefine", &l.name, "--remove-all-storage", "--nvram"])
                .read()?;
        }
        Kind::Volume | Kind::SeedIso => {
            let vol = virsh::virsh()
                .args(["vol-delete", "--pool", "default", &l.name])
                .output()?;
            let file = Path::new(crate::backend::vagrant::plan::LIBVIRT_IMAGES).join(&l.name);
            if !vol.success() && file.exists() {
                std::fs::remove_file(file)?;
            }
        }
        Kind::Container => {
            Cmd::new("podman").args(["rm", "-f", &l.name]).read()?;
        }
        Kind::Network => {
            Cmd::new("podman").args(["network", "rm", &l.name]).read()?;
        }
        Kind::RegistryEntry => crate::registry::forget(state_root, &l.name)?,
        Kind::Lock | Kind::ControlSocket => std::fs::remove_file(&l.name)?,
    }
    Ok(())
}
