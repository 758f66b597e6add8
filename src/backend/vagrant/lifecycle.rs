//! A VM's lifecycle through Vagrant: adopt, start or create it; stop it; remove it. Only these
//! start Vagrant; the live state comes from libvirt.

use super::plan::{self, BoxSource};
use super::vm::{Vagrant, NET};
use super::{kvm, login, snapshot, virsh, virtiofs};
use crate::driver::{Guest, Lifecycle, Live, Needs, Reach, State, StopOutcome, UpOutcome};
use crate::ssh::{Access, Endpoint};
use crate::timing::Phases;
use anyhow::Result;
use std::path::PathBuf;
use std::time::{Duration, Instant};

impl Lifecycle for Vagrant {
    fn live(&self) -> Result<Live> {
        Ok(match virsh::domain(&self.plan.domain)? {
            None => Live::absent(),
            Some(d) => Live {
                state: d.state,
                address: self
                    .loaded
                    .config
                    .fixed_ip
                    .map(|ip| ip.to_string())
                    .or_else(|| d.ip.clone()),
                ssh: d.ip.map(|ip| self.endpoint(ip)),
            },
        })
    }

    fn up(&self, phases: &mut Phases) -> Result<(UpOutcome, Endpoint)> {
        if self.plan.context.sync.is_some() {
            // before Vagrant: without virtiofsd it would fail half way, with a libvirt error
            virtiofs::ensure_available()?;
        }
        let domain = virsh::domain(&self.plan.domain)?;
        if domain.is_some() {
            self.refuse_unfenced()?;
        }
        let outcome = match domain {
            Some(virsh::Domain {
                state: State::Running,
                ip: Some(ip),
            }) if self.known_to_vagrant() => {
                return Ok((UpOutcome::AlreadyRunning, self.endpoint(ip)));
            }
            Some(_) if self.known_to_vagrant() => {
                self.ensure_network()?;
                self.render()?;
                let up = self.logged(&["up", "--provider=libvirt", "--no-provision"]);
                phases.run(
                    "start",
                    &format!("starting VM {}", self.plan.domain),
                    || up.stream().map_err(|e| self.explain(e)),
                )?;
                UpOutcome::Started
            }
            _ => {
                phases.run("prepare", "preparing image and Vagrantfile", || {
                    self.prepare_create()
                })?;
                let up = self.logged(&["up", "--provider=libvirt", "--no-provision"]);
                phases.run(
                    "create",
                    &format!("creating VM {}", self.plan.domain),
                    || up.stream().map_err(|e| self.explain(e)),
                )?;
                crate::atomic::write(
                    &self.driver_record(),
                    serde_json::to_string(self.driver())?.as_bytes(),
                    0o600,
                )?;
                UpOutcome::Created
            }
        };
        Ok((outcome, self.running_endpoint()?))
    }

    fn stop(&self, timeout: Duration, phases: &mut Phases) -> Result<StopOutcome> {
        match virsh::domain(&self.plan.domain)? {
            None => Ok(StopOutcome::NotCreated),
            Some(d) if d.state != State::Running => Ok(StopOutcome::AlreadyStopped),
            Some(_) if self.last_approved_vagrantfile()?.is_none() => {
                // no Vagrantfile to trust: libvirt shuts the domain down itself
                let name = &self.plan.domain;
                let forced = phases.run("stop", &format!("stopping VM {name}"), || {
                    virsh::shut_down(name, timeout)
                })?;
                Ok(StopOutcome::Stopped { forced })
            }
            Some(_) => {
                let start = Instant::now();
                let halt = self
                    .logged(&["halt"])
                    .env("TMPL_HALT_TIMEOUT", timeout.as_secs().to_string());
                phases.run("stop", &format!("stopping VM {}", self.plan.domain), || {
                    halt.stream()
                })?;
                // vagrant-libvirt forces the domain off once the graceful timeout has passed
                Ok(StopOutcome::Stopped {
                    forced: start.elapsed() >= timeout,
                })
            }
        }
    }

    fn remove(&self, phases: &mut Phases) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        // libvirt does not undefine a domain that has snapshots, and Vagrant would fail half
        // way: they go first (tmpl's and any `tmpl vagrant -- snapshot` took)
        let domain = virsh::domain(&self.plan.domain)?;
        if domain.is_some() {
            let n = snapshot::delete_all(&self.plan.domain)?;
            if n > 0 {
                removed.push(format!("{n} snapshot(s) of VM {}", self.plan.domain));
            }
        }
        let nets = [
            self.plan.network_name.clone(),
            format!("{}-lan", self.plan.network_name),
        ];
        let remove_nets = || -> Result<Vec<String>> {
            let mut gone = Vec::new();
            for net in &nets {
                if virsh::remove_network(net)? {
                    gone.push(format!("network {net}"));
                }
            }
            Ok(gone)
        };
        let by_vagrant = self.known_to_vagrant() && self.last_approved_vagrantfile()?.is_some();
        if by_vagrant {
            // Powered off first, as Vagrant's destroy would do it, so that libvirt tears the
            // VM's own network down (0.4 s here) while Vagrant is still starting: the VM on
            // it is off, and nothing of it needs the network any more.
            if domain.is_some_and(|d| d.state == State::Running) {
                virsh::power_off(&self.plan.domain)?;
            }
            let destroy = self.logged(&["destroy", "-f"]);
            let (destroyed, nets_gone) = std::thread::scope(|s| {
                let nets = s.spawn(remove_nets);
                let destroyed = phases.run(
                    "remove",
                    &format!("removing VM {}", self.plan.domain),
                    || destroy.stream(),
                );
                (
                    destroyed,
                    nets.join().expect("the network removal panicked"),
                )
            });
            destroyed?;
            removed.push(format!("VM {} and its disks", self.plan.domain));
            removed.extend(nets_gone?);
        }
        if self.remove_orphan_domain()? {
            removed.push(format!("VM {} (left behind)", self.plan.domain));
        }
        if !by_vagrant {
            removed.extend(remove_nets()?);
        }
        if let Some(vol) = &self.plan.seed_volume {
            if virsh::vol_delete(vol)? {
                removed.push(format!("seed volume {vol}"));
            }
            // a seed written as a plain file by an earlier tmpl
            let legacy = std::path::Path::new(plan::LIBVIRT_IMAGES).join(vol);
            if legacy.is_file() && std::fs::remove_file(&legacy).is_ok() {
                removed.push(format!("seed {}", legacy.display()));
            }
        }
        Ok(removed)
    }

    fn needs(&self) -> Needs {
        let image_file = match &self.plan.box_source {
            BoxSource::BoxFile(p) | BoxSource::CloudFile(p) => Some(p.clone()),
            _ => None,
        };
        Needs {
            disk_dir: Some(PathBuf::from(plan::LIBVIRT_IMAGES)),
            image_file,
            disk_grows: true,
        }
    }

    fn details(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        m.insert("domain".into(), self.plan.domain.clone().into());
        m.insert("box".into(), self.plan.context.r#box.clone().into());
        // only the choice already made: `status` never runs the KVM probe
        let driver = match std::env::var("TMPL_LIBVIRT_DRIVER") {
            Ok(d) if !d.trim().is_empty() => d,
            _ => std::fs::read_to_string(self.driver_record())
                .ok()
                .and_then(|t| serde_json::from_str::<kvm::Driver>(&t).ok())
                .map_or_else(|| "not chosen yet".into(), |d| d.name),
        };
        m.insert("driver".into(), driver.into());
        m.insert(
            "vagrant_cwd".into(),
            self.plan.vagrantfile_dir.display().to_string().into(),
        );
        m.insert(
            "vagrant_dotfile_path".into(),
            self.plan.dotfile_dir.display().to_string().into(),
        );
        m
    }
}

impl Reach for Vagrant {
    /// A cloud image's host key comes from tmpl, through its seed (see `image::user_data`).
    fn host_key(&self) -> Option<String> {
        self.plan.seed_volume.as_ref()?;
        self.access.ensure_host_key().ok().map(|(_, public)| public)
    }

    /// What a VM still needs once it answers, each done once and recorded, so that an `up`
    /// interrupted before finishes it on the next: a box's first boot (`first-boot.sh`), and
    /// an ordinary person's ids for the login user (see `login`).
    fn settle(&self, access: &Access, phases: &mut Phases) -> Result<()> {
        let state = &self.loaded.id.state_dir;
        let from_box = self.made_from_box();
        if from_box {
            self.finish_first_boot(access, phases)?;
        }
        match self.plan.login_ids {
            Some(ids) if !login::settled(state, ids) => login::settle(
                access,
                state,
                &self.plan.context.ssh.username,
                ids,
                from_box,
                phases,
            ),
            _ => Ok(()),
        }
    }
}

impl crate::driver::Network for Vagrant {
    fn network(&self) -> Result<Option<crate::fence::net::GuestNet>> {
        let id = &self.loaded.id;
        crate::fence::net::allocate(
            &self.dirs.state,
            &id.state_dir,
            &id.slug,
            NET,
            self.loaded.config.fixed_ip,
        )
        .map(|mut net| {
            net.lan_tap = self
                .plan
                .context
                .bridge
                .as_ref()
                .map(|b| crate::fence::net::LanTap {
                    name: b.tap.clone(),
                    mac: b.mac.clone(),
                });
            Some(net)
        })
    }
}

impl Guest for Vagrant {
    fn network(&self) -> Option<&dyn crate::driver::Network> {
        Some(self)
    }
    fn snapshots(&self) -> Option<&dyn crate::driver::Snapshots> {
        Some(self)
    }
}
