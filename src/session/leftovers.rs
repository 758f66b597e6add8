//! Things tmpl made that no project owns any more. Each driver finds its own (domains,
//! volumes, containers, networks: see `driver::Driver::leftovers`); this module adds tmpl's
//! own files: records of projects and approvals whose folder is gone, stale locks and dead
//! ssh control sockets. `tmpl doctor` lists them; `tmpl gc` removes them.
//!
//! Only what is provably this user's and provably gone counts:
//! - a guest is this user's when its files are in this user's own cache or state, so one
//!   user's `gc` never touches another's guests;
//! - a folder is gone when looking it up says "not found": "permission denied" proves
//!   nothing. A stopped guest of a living project is never touched.

use crate::driver::{Leftover, Registry};
use crate::gone::gone;
use crate::project::Dirs;
use anyhow::Result;
use serde::Serialize;

/// A leftover and who removes it.
#[derive(Debug, Clone, Serialize)]
pub struct Found {
    #[serde(flatten)]
    pub leftover: Leftover,
    #[serde(skip)]
    pub owner: Owner,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Owner {
    /// The driver of that name.
    Driver(&'static str),
    Local(Local),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Local {
    ProjectRecord,
    Approval,
    Lock,
    ControlSocket,
    FenceTable(crate::fence::Holder),
    /// A credential broker, by pid.
    Broker(u32),
    /// A file server of a project folder, by pid.
    Share(u32),
}

impl Local {
    fn label(self) -> &'static str {
        match self {
            Local::ProjectRecord => "project record",
            Local::Approval => "approval",
            Local::Lock => "lock file",
            Local::ControlSocket => "ssh control socket",
            Local::FenceTable(_) => "network fence",
            Local::Broker(_) => "credential broker",
            Local::Share(_) => "file server",
        }
    }
}

fn local(kind: Local, name: String, why: String) -> Found {
    Found {
        leftover: Leftover {
            kind: kind.label().into(),
            name,
            why,
        },
        owner: Owner::Local(kind),
    }
}

fn local_leftovers(registry: &Registry, dirs: &Dirs, out: &mut Vec<Found>) {
    let state_root = &dirs.state;
    if let Ok(reg) = crate::project::list::load(state_root) {
        for (slug, e) in reg {
            if gone(&e.dir) {
                let why = format!("folder {} is gone", e.dir.display());
                out.push(local(Local::ProjectRecord, slug, why));
            }
        }
    }
    for (path, folder) in crate::trust::stale(state_root) {
        let why = format!("folder {} is gone", folder.display());
        out.push(local(Local::Approval, path.display().to_string(), why));
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
            let why = "no project uses it".to_owned();
            out.push(local(Local::Lock, e.path().display().to_string(), why));
        }
    }
    let mut holders: Vec<crate::fence::Holder> = Vec::new();
    for h in registry.all().map(|d| d.fence_holder()) {
        if !holders.contains(&h) {
            holders.push(h);
        }
    }
    for h in holders {
        for (table, why) in crate::fence::leftovers(h) {
            // only what this user's state names
            if why.contains(&*state_root.to_string_lossy()) {
                out.push(local(Local::FenceTable(h), table, why));
            }
        }
    }
    for b in crate::broker::all(state_root) {
        let state = b.dir.parent().unwrap_or(&b.dir);
        let guest_gone = b
            .infra
            .as_deref()
            .and_then(|i| registry.get(i))
            .and_then(|d| d.state_of(&b.slug))
            == Some(crate::driver::State::NotCreated);
        let why = if gone(state) {
            format!("project state {} is gone", state.display())
        } else if guest_gone {
            format!("the guest of {} is gone", b.slug)
        } else {
            continue;
        };
        out.push(local(
            Local::Broker(b.pid),
            format!("pid {} ({})", b.pid, b.slug),
            why,
        ));
    }
    let projects = crate::project::list::load(state_root).unwrap_or_default();
    for r in crate::share::daemon::all(state_root) {
        let guest_gone = projects
            .get(&r.slug)
            .and_then(|e| registry.get(&e.infra_type))
            .and_then(|d| d.state_of(&r.slug))
            == Some(crate::driver::State::NotCreated);
        let why = match &r.source {
            Some(folder) if gone(folder) => format!("folder {} is gone", folder.display()),
            None => format!("project state {} is gone", r.state_dir.display()),
            _ if guest_gone => format!("the guest of {} is gone", r.slug),
            _ => continue,
        };
        out.push(local(
            Local::Share(r.pid),
            format!("pid {} ({})", r.pid, r.slug),
            why,
        ));
    }
    if !crate::ssh::control_dir().exists() {
        return;
    }
    let Ok(control) = crate::ssh::ensure_control_dir() else {
        return;
    };
    for e in std::fs::read_dir(control).into_iter().flatten().flatten() {
        if std::os::unix::net::UnixStream::connect(e.path()).is_err() {
            let why = "its ssh master is gone".to_owned();
            out.push(local(
                Local::ControlSocket,
                e.path().display().to_string(),
                why,
            ));
        }
    }
}

pub fn find(registry: &Registry, dirs: &Dirs) -> Vec<Found> {
    let mut out = Vec::new();
    for d in registry.all() {
        let owner = Owner::Driver(d.name());
        out.extend(
            d.leftovers(dirs)
                .into_iter()
                .map(|leftover| Found { leftover, owner }),
        );
    }
    local_leftovers(registry, dirs, &mut out);
    out
}

pub fn remove(f: &Found, registry: &Registry, dirs: &Dirs) -> Result<()> {
    let name = &f.leftover.name;
    match f.owner {
        Owner::Driver(name) => {
            if let Some(d) = registry.get(name) {
                d.remove_leftover(&f.leftover)?
            }
        }
        Owner::Local(Local::ProjectRecord) => crate::project::list::forget(&dirs.state, name)?,
        Owner::Local(Local::Approval) => std::fs::remove_dir_all(name)?,
        Owner::Local(Local::Lock | Local::ControlSocket) => std::fs::remove_file(name)?,
        Owner::Local(Local::FenceTable(holder)) => crate::fence::remove_table(name, holder)?,
        Owner::Local(Local::Broker(pid)) => {
            if let Some(b) = crate::broker::all(&dirs.state)
                .into_iter()
                .find(|b| b.pid == pid)
            {
                crate::broker::end_found(&b)?;
            }
        }
        Owner::Local(Local::Share(pid)) => {
            if let Some(r) = crate::share::daemon::all(&dirs.state)
                .into_iter()
                .find(|r| r.pid == pid)
            {
                crate::share::daemon::end_running(&r)?;
            }
        }
    }
    Ok(())
}
