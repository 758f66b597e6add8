//! VMs as one way to run guests: their settings' rules, host checks, state by slug and
//! leftovers (see `backend::Driver`).

use super::{checks, virsh, Vagrant};
use crate::backend::{Backend, Check, Connect, Driver, Leftover, Rule, State, Wants};
use crate::config::{Config, InfraType, Protocol};
use crate::context::Loaded;
use crate::leftovers::{gone, mine};
use crate::project::Dirs;
use anyhow::Result;
use std::path::PathBuf;

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

impl Driver for VagrantDriver {
    fn infra_type(&self) -> InfraType {
        InfraType::Vm
    }

    fn validate(&self, config: &Config) -> Vec<Rule> {
        match config.ports.iter().find(|p| p.protocol == Protocol::Udp) {
            Some(p) => vec![Rule {
                key: "PORTS",
                expected: format!("TCP ports only for a VM (vagrant-libvirt forwards TCP over SSH), but `{p}` is UDP"),
                example: Some("PORTS=8080:80".into()),
            }],
            None => Vec::new(),
        }
    }

    fn host_checks(&self, dirs: &Dirs, wants: Wants) -> Vec<Check> {
        checks::checks(&dirs.cache, wants.sync)
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
            if used || recorded || !(mine(dirs, slug) || root) {
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
            if used || !(mine(dirs, slug) || probe_left(slug)) {
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

    fn open(&self, loaded: &Loaded, dirs: &Dirs, _how: Connect) -> Result<Box<dyn Backend>> {
        Ok(Box::new(Vagrant::new(loaded.clone(), dirs.clone())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{validate, EnvFile};
    use std::path::Path;

    #[test]
    fn a_vm_forwards_tcp_only() {
        let config = |ports: &str| {
            let text = format!("INFRA_TYPE=vm\nMEMORY=2048\nCPUS=2\nDISK=20\nPORTS={ports}\n");
            validate(
                &EnvFile::parse(Path::new(".env"), &text),
                Path::new("/p"),
                false,
            )
            .unwrap()
            .0
        };
        let rules = VagrantDriver.validate(&config("53:53/udp"));
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].key, "PORTS");
        assert!(rules[0].expected.contains("UDP"));
        assert!(VagrantDriver.validate(&config("8080:80")).is_empty());
    }
}
