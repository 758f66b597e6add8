//! What a project would make tmpl do right now, for the approval: its settings, the
//! provisioning set, and the lines a person should read before saying yes.

use super::beneath::{self, Files};
use super::copy::{self, Manifest};
use crate::config::{keys, Network, ProvisionKind, SyncMode};
use crate::project::Loaded;
use anyhow::Result;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The provisioning set: the file `PROVISION_SCRIPT` names and what is approved with it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Set {
    /// `PROVISION_SCRIPT`, relative to the project.
    pub script: PathBuf,
    /// What is approved and copied, relative to the project: a playbook's whole folder
    /// (`""` for the project's own), or a script alone.
    pub root: PathBuf,
    pub manifest: Manifest,
}

impl Set {
    /// The script inside a copy of `root` made at `copy_dir`.
    pub fn script_in(&self, copy_dir: &Path) -> PathBuf {
        match self.script.strip_prefix(&self.root) {
            Ok(rel) if !rel.as_os_str().is_empty() => copy_dir.join(rel),
            _ => copy_dir.join(self.script.file_name().unwrap_or_default()),
        }
    }
}

pub struct Survey {
    pub settings: BTreeMap<String, String>,
    /// The variables of tmpl's environment each key takes (granted, so in its value).
    pub environment: BTreeMap<String, BTreeSet<String>>,
    /// Some `$VAR` asked of the environment was not granted: the values read lack it, so
    /// approving them here would approve something else than the file says.
    pub ungranted: bool,
    pub provision: Option<Set>,
    /// The set's files as read, once: what is shown, recorded and copied.
    pub files: Option<Files>,
    /// What it runs and what it opens, one line each, escaped for the terminal.
    pub notes: Vec<String>,
}

/// Each key's variables it took from tmpl's environment, and whether it asked for more.
pub fn environment(loaded: &Loaded) -> (BTreeMap<String, BTreeSet<String>>, bool) {
    let mut taken: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut ungranted = false;
    for e in &loaded.project.env.entries {
        for (var, took) in &e.from_env {
            if *took {
                taken.entry(e.key.clone()).or_default().insert(var.clone());
            } else {
                ungranted = true;
            }
        }
    }
    (taken, ungranted)
}

fn sha16(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// tmpl's keys with their values (they are shown anyway); every other key with a hash of its
/// value, which may be an application's secret.
pub fn settings(loaded: &Loaded) -> BTreeMap<String, String> {
    loaded
        .project
        .env
        .entries
        .iter()
        .map(|e| {
            let v = if keys::is_tmpl_key(&e.key) {
                e.value.clone()
            } else {
                format!("sha256:{}", sha16(&e.value))
            };
            (e.key.clone(), v)
        })
        .collect()
}

/// The folder (or file) approved with `PROVISION_SCRIPT`: Ansible may load anything next to
/// a playbook (group_vars, ansible.cfg, plugins, roles, imported files), and tmpl cannot tell
/// what, so a playbook brings its whole folder; a script is read alone.
pub fn set_root(kind: ProvisionKind, script: &Path) -> PathBuf {
    match kind {
        ProvisionKind::Ansible => script.parent().map(Path::to_path_buf).unwrap_or_default(),
        ProvisionKind::Script => script.to_path_buf(),
    }
}

pub fn survey(loaded: &Loaded, with_provision: bool, exposure: &[String]) -> Result<Survey> {
    let c = &loaded.config;
    let dir = &loaded.project.dir;
    let mut notes = Vec::new();
    let mut files = None;
    let provision = match (&c.provision, with_provision) {
        (Some(p), true) => {
            let root = set_root(p.kind, &p.relative);
            let read = beneath::read_set(dir, &root)?;
            let manifest = copy::manifest(&read);
            files = Some(read);
            let shown = if root.as_os_str().is_empty() {
                "the project folder".to_owned()
            } else {
                format!("`{}/`", root.display())
            };
            notes.push(match p.kind {
                ProvisionKind::Ansible => format!(
                    "runs on this host: `ansible-playbook {}`, which may load any of the {} files in {shown}",
                    p.relative.display(),
                    manifest.len()
                ),
                ProvisionKind::Script => format!(
                    "runs as root in the guest: `{}`",
                    p.relative.display()
                ),
            });
            Some(Set {
                script: p.relative.clone(),
                root,
                manifest,
            })
        }
        _ => None,
    };
    notes.extend(exposure.iter().cloned());
    notes.extend(openings(loaded));
    notes.extend(from_environment(loaded));
    let (environment, ungranted) = environment(loaded);
    Ok(Survey {
        settings: settings(loaded),
        environment,
        ungranted,
        provision,
        files,
        // every note may carry text from the folder (a path, an interface, a host name)
        notes: notes.iter().map(|n| crate::text::visible(n)).collect(),
    })
}

/// Ways the guest is opened to more than this host.
fn openings(loaded: &Loaded) -> Vec<String> {
    let c = &loaded.config;
    let mut out = Vec::new();
    for p in c.ports.iter().filter(|p| !p.host_ip.is_loopback()) {
        out.push(format!(
            "PORTS: {}:{} reaches the guest's port {} from other machines",
            p.host_ip, p.host_port, p.guest_port
        ));
    }
    if let Network::Bridge { interface } = &c.network {
        out.push(format!(
            "NETWORK_TYPE=bridge: the guest joins the network of the host interface {interface}"
        ));
    }
    if c.egress == crate::config::Egress::Open {
        out.push(
            "EGRESS=open: no network fence; the guest reaches the LAN, the host and other guests"
                .to_owned(),
        );
    }
    for a in &c.egress_allow {
        out.push(format!("EGRESS_ALLOW: the guest may connect to {a}"));
    }
    // a secret's value leaves this host for the host named here: a guest that rebinds a
    // name to a host of its own must not get it without the person saying so
    for s in &c.secrets {
        out.push(format!("SECRETS: `{}` may be sent to `{}`", s.name, s.host));
    }
    if let Some(s) = c.sync.as_ref().filter(|s| s.mode == SyncMode::Rw) {
        out.push(format!(
            "SYNC=rw: the guest can change every file in {}",
            s.host_path.display()
        ));
    }
    out
}

/// Each `$VAR` a value takes from the environment tmpl runs in, named: the person may not
/// have it in mind, and its value reaches the guest (Ansible gets every entry). tmpl's own
/// settings are shown with the value they get; other keys' values never are.
fn from_environment(loaded: &Loaded) -> Vec<String> {
    let mut out = Vec::new();
    for e in &loaded.project.env.entries {
        for (var, took) in &e.from_env {
            let mut line = format!(
                "{} (.env:{}) takes ${var} from tmpl's environment",
                e.key, e.line
            );
            if !took {
                line.push_str(" (not approved yet, so empty: `tmpl trust` shows and approves it)");
            } else if keys::is_tmpl_key(&e.key) {
                line.push_str(&format!(
                    ": {}={}",
                    e.key,
                    crate::text::redact_url(&e.value)
                ));
            }
            out.push(line);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_playbook_brings_its_folder_and_a_script_itself() {
        assert_eq!(
            set_root(ProvisionKind::Ansible, Path::new("provision/site.yml")),
            Path::new("provision")
        );
        assert_eq!(
            set_root(ProvisionKind::Ansible, Path::new("site.yml")),
            Path::new("")
        );
        assert_eq!(
            set_root(ProvisionKind::Script, Path::new("bin/setup.sh")),
            Path::new("bin/setup.sh")
        );
        let set = Set {
            script: "provision/site.yml".into(),
            root: "provision".into(),
            manifest: Manifest::new(),
        };
        assert_eq!(set.script_in(Path::new("/c")), Path::new("/c/site.yml"));
        let script = Set {
            script: "bin/setup.sh".into(),
            root: "bin/setup.sh".into(),
            manifest: Manifest::new(),
        };
        assert_eq!(script.script_in(Path::new("/c")), Path::new("/c/setup.sh"));
    }
}
