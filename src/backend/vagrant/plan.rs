//! The pure half of the VM backend: from a loaded project and the host's facts to the names,
//! paths and template context of its VM. Nothing here runs a process.

use super::login::CLOUD_USER;
use super::render::{BridgeContext, SshContext, SyncContext, VmContext};
use super::source::{self, Source};
use crate::config::{Network, SyncMode};
use crate::project::Loaded;
use sha2::{Digest, Sha256};
use std::path::PathBuf;

/// Where libvirt's qemu user can read a seed ISO (HOST-NOTES: the cache dir under /root is not).
pub const LIBVIRT_IMAGES: &str = "/var/lib/libvirt/images";

#[derive(Debug, Clone)]
pub struct VmPlan {
    pub context: VmContext,
    pub domain: String,
    /// libvirt's name for the VM's own network.
    pub network_name: String,
    /// What `up` must do to make `context.box` exist.
    pub box_source: BoxSource,
    pub vagrantfile_dir: PathBuf,
    pub dotfile_dir: PathBuf,
    /// tmpl's own key for the project (cloud images), in the state dir.
    pub key_path: PathBuf,
    /// The cloud-init seed, a volume of libvirt's pool (see `virsh::vol_upload`).
    pub seed_volume: Option<String>,
    /// The uid and gid the login user gets (see `login`): an ordinary person's, or None.
    pub login_ids: Option<(u32, u32)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoxSource {
    /// Already added to Vagrant.
    Named,
    /// `vagrant box add` this file under `context.box`.
    BoxFile(PathBuf),
    /// Wrap this cloud image as a box under `context.box`.
    CloudFile(PathBuf),
    /// Download, then wrap.
    CloudUrl(String),
}

/// The VM's MAC on its own network, from its slug: stable, so a `FIXED_IP` reservation
/// keeps matching it. 52:54:00 is the prefix libvirt and QEMU use for their guests.
pub fn mac_of(slug: &str) -> String {
    let h = crate::fence::net::hash8(slug);
    format!("52:54:00:{}:{}:{}", &h[0..2], &h[2..4], &h[4..6])
}

/// The MAC of a bridged VM's NIC on the LAN: the same prefix, other bytes of the hash.
pub fn lan_mac_of(slug: &str) -> String {
    let h = crate::fence::net::hash8(slug);
    format!("52:54:00:{}:{}:{}", &h[2..4], &h[4..6], &h[6..8])
}

fn short_hash(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn stem(s: &str) -> String {
    let base = s.rsplit('/').next().unwrap_or(s);
    let base = base.split(['?', '#']).next().unwrap_or(base);
    let base = base.rsplit_once('.').map(|x| x.0).unwrap_or(base);
    crate::config::names::sanitise(base)
}

pub fn plan(loaded: &Loaded, home: Option<&std::path::Path>) -> VmPlan {
    let c = &loaded.config;
    let id = &loaded.id;
    let key_path = id.state_dir.join("ssh").join("id_ed25519");
    // validation refused any other form; a box of that name would not exist either
    let image = source::parse(c.image.as_deref())
        .unwrap_or_else(|_| Source::BoxName(c.image.clone().unwrap_or_default()));
    let (r#box, box_source, cloud) = match &image {
        Source::BoxName(n) => (n.clone(), BoxSource::Named, false),
        Source::BoxFile(p) => {
            let abs = loaded.host_path(p, home);
            let name = format!(
                "tmpl-box/{}-{}",
                stem(&abs.to_string_lossy()),
                short_hash(&abs.to_string_lossy())
            );
            (name, BoxSource::BoxFile(abs), false)
        }
        Source::CloudImageFile(p) => {
            let abs = loaded.host_path(p, home);
            let name = format!(
                "tmpl-cloud/{}-{}",
                stem(&abs.to_string_lossy()),
                short_hash(&abs.to_string_lossy())
            );
            (name, BoxSource::CloudFile(abs), true)
        }
        Source::CloudImageUrl(u) => {
            let name = format!("tmpl-cloud/{}-{}", stem(u), short_hash(u));
            (name, BoxSource::CloudUrl(u.clone()), true)
        }
    };
    let seed_volume = cloud.then(|| format!("tmpl-{}-seed.iso", id.slug));
    let ssh = if cloud {
        SshContext {
            username: CLOUD_USER.into(),
            private_key_paths: vec![key_path.display().to_string()],
            insert_key: false,
        }
    } else {
        // Vagrant replaces the box's shared insecure key with one of its own on first boot.
        SshContext {
            username: "vagrant".into(),
            private_key_paths: vec![],
            insert_key: true,
        }
    };
    let bridge = match &c.network {
        Network::Bridge { interface } => Some(BridgeContext {
            interface: interface.clone(),
            network: format!("tmpl-{}-lan", id.slug),
            tap: crate::fence::net::tap_name(&id.slug),
            mac: lan_mac_of(&id.slug),
        }),
        Network::Default => None,
    };
    let context = VmContext {
        project_dir: loaded.project.dir.display().to_string(),
        machine_name: id.slug.clone(),
        domain_prefix: "tmpl-".into(),
        hostname: id.name.clone(),
        r#box,
        memory_mib: c.memory_mib,
        cpus: c.cpus,
        disk_gib: c.disk_gib,
        // both filled in when the Vagrantfile is rendered: the driver is decided lazily (it
        // may take a probe) and the seed's path is the pool volume's
        driver: String::new(),
        ssh,
        ports: c.ports.clone(),
        // filled in when rendered: picked on the first `up` (see `fence::net`)
        network: None,
        bridge,
        seed_iso: None,
        // the folder as tmpl's file server serves it (see `share`), never the folder itself:
        // libvirt's virtiofsd then passes on what the server allows, and nothing else
        sync: c.sync.as_ref().map(|s| SyncContext {
            host_path: crate::share::daemon::Share::new(&id.state_dir)
                .mountpoint()
                .display()
                .to_string(),
            guest_path: s.guest_path.clone(),
            readonly: s.mode == SyncMode::Ro,
        }),
    };
    VmPlan {
        network_name: format!("tmpl-{}", id.slug),
        domain: format!("tmpl-{}", id.slug),
        context,
        box_source,
        vagrantfile_dir: id.cache_dir.join("vagrant"),
        dotfile_dir: id.state_dir.join("vagrant"),
        key_path,
        seed_volume,
        login_ids: super::login::wanted(c.sync.is_some()),
    }
}
