//! VMs as one way to run guests: their settings' rules, host checks, state by slug,
//! leftovers and the tool underneath (see `driver::Driver`).

use super::source::{self, Source};
use super::vm::Vagrant;
use super::{checks, virsh};
use crate::config::{Config, Protocol, Rule};
use crate::driver::{Check, Connect, Driver, Guest, Leftover, State, Tool, Wants};
use crate::gone::gone;
use crate::project::{Dirs, Loaded};
use anyhow::Result;
use std::path::{Path, PathBuf};

pub struct VagrantDriver;

const DOMAIN: &str = "VM";
const VOLUME: &str = "disk volume";
const SEED: &str = "seed ISO";
const NETWORK: &str = "network";

fn slug_of(name: &str) -> Option<&str> {
    let rest = name.strip_prefix("tmpl-")?;
    let end = rest.find(['.', '_']).unwrap_or(rest.len());
    Some(rest[..end].trim_end_matches("-seed"))
}

/// The Vagrantfile a domain was made from, from vagrant-libvirt's description.
fn domain_source(name: &str) -> Option<PathBuf> {
    let out = virsh::virsh().args(["desc", name]).read().ok()?;
    out.lines()
        .find_map(|l| l.trim().strip_prefix("Source: ").map(PathBuf::from))
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

/// Rules of the VM's own about the folder's path in the guest: vagrant-libvirt puts it
/// unquoted into `mkdir -p PATH` in the guest's shell.
fn guest_path_rule(config: &Config) -> Option<Rule> {
    let sync = config.sync.as_ref()?;
    let path = &sync.guest_path;
    if path
        .chars()
        .all(|ch| ch.is_ascii_alphanumeric() || "/._-+@,=:~".contains(ch))
    {
        return None;
    }
    let why = "for a VM, a path of letters, digits and `/._-+@,=:~` only (Vagrant passes it to the guest's shell unquoted)";
    let default = Path::new(path) == sync.host_path;
    Some(Rule {
        key: "SYNC_PATH",
        expected: if default {
            format!("`SYNC_PATH` set, because the default (the project folder `{path}`) cannot be used: {why}; or `SYNC=none`")
        } else {
            why.to_owned()
        },
        example: Some("SYNC_PATH=/work/app".into()),
    })
}

impl Driver for VagrantDriver {
    fn name(&self) -> &'static str {
        "vm"
    }

    fn noun(&self) -> &'static str {
        "VM"
    }

    fn also_called(&self) -> &'static [&'static str] {
        &[
            "vagrant",
            "libvirt",
            "qemu",
            "kvm",
            "virtual-machine",
            "vms",
        ]
    }

    fn validate(&self, config: &Config) -> Vec<Rule> {
        let mut rules = Vec::new();
        if let Some(p) = config.ports.iter().find(|p| p.protocol == Protocol::Udp) {
            rules.push(Rule {
                key: "PORTS",
                expected: format!("TCP ports only for a VM (vagrant-libvirt forwards TCP over SSH), but `{p}` is UDP"),
                example: Some("PORTS=8080:80".into()),
            });
        }
        if let Err(e) = source::parse(config.image.as_deref()) {
            rules.push(Rule {
                key: "IMAGE",
                expected: e.expected.into(),
                example: Some(e.example.into()),
            });
        }
        rules.extend(guest_path_rule(config));
        rules
    }

    fn exposure(&self, loaded: &Loaded, home: Option<&Path>) -> Vec<String> {
        match source::parse(loaded.config.image.as_deref()) {
            Ok(Source::BoxFile(p) | Source::CloudImageFile(p)) => {
                let abs = loaded.host_path(&p, home);
                let real = abs.canonicalize().unwrap_or(abs);
                vec![format!(
                    "IMAGE: the VM is made from the host file {}",
                    real.display()
                )]
            }
            _ => Vec::new(),
        }
    }

    fn host_checks(&self, dirs: &Dirs, wants: Wants) -> Vec<Check> {
        let mut out = checks::checks(&dirs.cache, wants.sync);
        if wants.sync {
            out.push(crate::share::daemon::root_may_read());
        }
        out.extend(super::person::checks());
        out
    }

    /// Root's VMs are fenced by root's tmpl on the host; a person's by root's libvirt hook,
    /// from the policy their network carries (see `keeper`).
    fn fence_holder(&self) -> crate::fence::Holder {
        if crate::person::is_root() {
            crate::fence::HOST
        } else {
            crate::fence::Holder(&super::keeper::LIBVIRT_HOOK)
        }
    }

    fn fence_hook(&self, args: &[String]) -> Option<Result<()>> {
        Some(super::hook::run(args))
    }

    fn state_of(&self, slug: &str) -> Option<State> {
        virsh::domain(&format!("tmpl-{slug}"))
            .ok()
            .map(|d| d.map_or(State::NotCreated, |d| d.state))
    }

    fn leftovers(&self, dirs: &Dirs) -> Vec<Leftover> {
        let mut out = Vec::new();
        let Ok(domains) = virsh::domains_with_prefix("tmpl-") else {
            return out;
        };
        for d in &domains {
            let Some(src) = domain_source(d) else {
                continue;
            };
            if src.starts_with(&dirs.cache) && gone(&src) {
                out.push(Leftover {
                    kind: DOMAIN.into(),
                    name: d.clone(),
                    why: format!("its Vagrantfile {} is gone", src.display()),
                });
            }
        }
        for net in virsh::networks_with_prefix("tmpl-").unwrap_or_default() {
            let Some(slug) = net.strip_prefix("tmpl-") else {
                continue;
            };
            let used = domains.iter().any(|d| d == &net);
            let recorded = crate::fence::net::recorded(&dirs.state.join(slug)).is_some();
            // no project of this user's records it; only root may judge one whose state is
            // nowhere here (another user's, or gone), as only root can remove it anyway
            let root = crate::person::is_root();
            if used || recorded || !(dirs.has_files_for(slug) || root) {
                continue;
            }
            out.push(Leftover {
                kind: NETWORK.into(),
                name: net,
                why: "no VM of its project exists".into(),
            });
        }
        for vol in virsh::vol_names().unwrap_or_default() {
            // a box's base image is shared by every VM of that box, not a project's
            if !vol.starts_with("tmpl-") || vol.contains("_vagrant_box_image_") {
                continue;
            }
            let Some(slug) = slug_of(&vol) else { continue };
            let used = domains.iter().any(|d| slug_of(d) == Some(slug));
            if used || !(dirs.has_files_for(slug) || probe_left(slug)) {
                continue;
            }
            out.push(Leftover {
                kind: if vol.ends_with("-seed.iso") {
                    SEED
                } else {
                    VOLUME
                }
                .into(),
                name: vol,
                why: "no domain uses it".into(),
            });
        }
        out
    }

    fn remove_leftover(&self, l: &Leftover) -> Result<()> {
        if l.kind == NETWORK {
            virsh::remove_network(&l.name)?;
        } else if l.kind == DOMAIN {
            let _ = virsh::virsh().args(["destroy", &l.name]).output();
            virsh::virsh()
                .args([
                    "undefine",
                    &l.name,
                    "--remove-all-storage",
                    "--nvram",
                    "--snapshots-metadata",
                ])
                .read()?;
        } else {
            virsh::vol_delete(&l.name)?;
        }
        Ok(())
    }

    fn preview(&self, loaded: &Loaded, dirs: &Dirs) -> Result<String> {
        Vagrant::new(loaded.clone(), dirs.clone()).vagrantfile()
    }

    fn open(&self, loaded: &Loaded, dirs: &Dirs, _how: Connect) -> Result<Box<dyn Guest>> {
        Ok(Box::new(Vagrant::new(loaded.clone(), dirs.clone())))
    }

    /// `tmpl vagrant -- ARGS`: any Vagrant command against the project's VM (reload,
    /// port, ...), with the project's Vagrantfile and machine data, so nothing Vagrant can
    /// do is lost by going through tmpl.
    fn tool(&self, loaded: &Loaded, dirs: &Dirs) -> Option<Box<dyn Tool>> {
        Some(Box::new(Vagrant::new(loaded.clone(), dirs.clone())))
    }
}

impl Tool for Vagrant {
    fn command(&self) -> &'static str {
        "vagrant"
    }

    fn run(&self, args: &[String]) -> Result<i32> {
        self.render()?;
        self.vagrant(args).interactive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{validate, EnvFile};

    fn config(extra: &str) -> Result<Config, Vec<String>> {
        let text = format!("INFRA_TYPE=vm\nMEMORY=2048\nCPUS=2\nDISK=20\n{extra}");
        validate(
            &EnvFile::parse(Path::new(".env"), &text),
            Path::new("/p"),
            false,
            &crate::backend::builtin(),
        )
        .map(|(c, _)| c)
        .map_err(|r| r.problems.into_iter().map(|p| p.key).collect())
    }

    #[test]
    fn a_vm_forwards_tcp_only() {
        assert_eq!(config("PORTS=53:53/udp\n").unwrap_err(), vec!["PORTS"]);
        let c = config("PORTS=8080:80\n").unwrap();
        assert!(VagrantDriver.validate(&c).is_empty());
    }

    #[test]
    fn an_image_of_the_wrong_form_is_named() {
        assert_eq!(
            config("IMAGE=https://example.org/page\n").unwrap_err(),
            vec!["IMAGE"]
        );
    }
}
