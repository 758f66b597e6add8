//! What a new VM needs on the host before Vagrant creates it: its networks, keys,
//! Vagrantfile, box and a cloud image's seed.

use super::vm::Vagrant;
use super::{image, plan, virsh};
use crate::ui;
use anyhow::Result;
use std::path::Path;

fn ensure_networks(state_root: &Path, nets: &[(String, String)]) -> Result<()> {
    for (name, xml) in nets {
        virsh::ensure_network(state_root, name, xml)?;
    }
    Ok(())
}

impl Vagrant {
    /// Defines and starts the VM's own network before Vagrant needs it.
    pub(super) fn ensure_network(&self) -> Result<()> {
        ensure_networks(&self.dirs.state, &self.networks())
    }

    /// The libvirt networks the VM needs: (name, XML).
    fn networks(&self) -> Vec<(String, String)> {
        let net = self.guest_net();
        let mac = plan::mac_of(&self.loaded.id.slug);
        let fixed = self.loaded.config.fixed_ip.map(|ip| (mac.as_str(), ip));
        // a person's fence is held by root's hook, which reads the policy from the network
        let c = &self.loaded.config;
        let fenced = c.egress != crate::config::Egress::Open || !c.egress_allow.is_empty();
        let fence = (fenced && !crate::person::is_root()).then(|| {
            super::hook_xml::Metadata::new(c.egress, &c.egress_allow, &crate::broker::services(c))
        });
        let mut nets = vec![(
            self.plan.network_name.clone(),
            virsh::network_xml(&self.plan.network_name, &net, fixed, fence),
        )];
        if let Some(b) = &self.plan.context.bridge {
            nets.push((
                b.network.clone(),
                virsh::lan_network_xml(&b.network, &b.interface),
            ));
        }
        nets
    }

    pub(super) fn prepare_create(&self) -> Result<()> {
        // a record left by a create that failed is about no VM: choose afresh
        let _ = std::fs::remove_file(self.driver_record());
        let driver = self.driver();
        if driver.fallback {
            ui::warn(format!(
                "{}; using software emulation (slow). TMPL_LIBVIRT_DRIVER=qemu chooses it without the check",
                driver.why
            ));
        }
        self.remove_orphan_domain()?;
        // libvirt starts the network's dnsmasq (0.1 s) while the keys and the seed are made
        let (nets, state) = (self.networks(), self.dirs.state.clone());
        std::thread::scope(|s| {
            let net = s.spawn(move || ensure_networks(&state, &nets));
            let files = self.prepare_files();
            let net = net.join().expect("the network setup panicked");
            files.and(net)
        })
    }

    /// What a new VM needs on the host besides its network: the keys, the Vagrantfile, the
    /// box and a cloud image's seed.
    fn prepare_files(&self) -> Result<()> {
        // before the Vagrantfile, which names it (Vagrant refuses a key file that is missing)
        let public = self.access.ensure_key()?;
        // first: every Vagrant call, `box add` included, needs VAGRANT_CWD to exist
        self.render()?;
        let cache_root = self.dirs.cache.clone();
        image::ensure_box(
            &self.plan,
            self.loaded.config.image_sha256.as_deref(),
            &cache_root,
            &self.env(),
        )?;
        if let Some(vol) = &self.plan.seed_volume {
            let (private, public_host) = self.access.ensure_host_key()?;
            image::write_seed(&self.plan, &public, (&private, &public_host), vol)?;
            // the seed's path in the Vagrantfile is the volume's, now that it exists
            self.render()?;
        }
        Ok(())
    }
}
