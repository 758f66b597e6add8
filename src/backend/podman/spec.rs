//! The pure half of the container backend: the create request Podman receives for a project.
//! `tmpl render` prints exactly this.

use crate::config::{Network, SyncMode};
use crate::project::Loaded;
use bollard::models::{ContainerCreateBody, HostConfig, PortBinding};
use std::collections::HashMap;
use std::net::Ipv4Addr;

pub const LABEL_PROJECT: &str = "tmpl.project";
pub const LABEL_DIR: &str = "tmpl.dir";
/// The project's state folder: whose container it is (`gc` removes only its user's).
pub const LABEL_STATE: &str = "tmpl.state";

/// sshd as the container's main process, with the project's key for root.
///
/// An image without sshd gets it from its own package manager on first start; one without a
/// known package manager stops with a message saying so, which `up` shows from the logs.
pub const ENTRYPOINT_SCRIPT: &str = include_str!("entrypoint.sh");

/// What sshd (privilege separation, chroot, logins) and a package manager need; everything
/// else is dropped.
pub const CAPABILITIES: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SYS_CHROOT",
    "NET_BIND_SERVICE",
    "AUDIT_WRITE",
];

pub fn container_name(slug: &str) -> String {
    format!("tmpl-{slug}")
}

/// The network tmpl makes for a project: its own bridge (see `fence::net`), or with
/// `NETWORK_TYPE=bridge` a macvlan on the host interface.
pub fn network_name(slug: &str) -> String {
    format!("tmpl-{slug}")
}

/// Whether the container lives on a bridge network of its own, which the fence holds: every
/// container but a macvlan one.
pub fn own_network(loaded: &Loaded) -> bool {
    loaded.config.network == Network::Default
}

/// With `NETWORK_TYPE=bridge`, a macvlan network beside Podman's default one.
///
/// The container stays on the default network too, where its SSH port is published on
/// 127.0.0.1: a macvlan guest cannot be reached from its own host, and Podman ignores port
/// bindings on macvlan networks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraNetwork {
    pub name: String,
    /// `bridge`, or `macvlan` on `parent`.
    pub driver: &'static str,
    pub parent: Option<String>,
    /// The /24 holding `FIXED_IP`; for macvlan without one, the host interface's subnet.
    pub subnet: Option<String>,
    pub ip: Option<Ipv4Addr>,
}

pub fn extra_network(loaded: &Loaded) -> Option<ExtraNetwork> {
    let c = &loaded.config;
    let name = network_name(&loaded.id.slug);
    let subnet_of = |ip: Ipv4Addr| {
        let o = ip.octets();
        format!("{}.{}.{}.0/24", o[0], o[1], o[2])
    };
    match &c.network {
        Network::Bridge { interface } => Some(ExtraNetwork {
            name,
            driver: "macvlan",
            parent: Some(interface.clone()),
            subnet: c.fixed_ip.map(subnet_of),
            ip: c.fixed_ip,
        }),
        Network::Default => None,
    }
}

/// `SYNC`: the project folder at `SYNC_PATH`, as tmpl's file server serves it (see
/// `share`): never the folder itself, so `PROTECT`, `SYNC=ro` and what the guest may create
/// hold in the server, whatever root in the container does. `nosuid,nodev` as well: nothing
/// in the folder is a setuid file or a device node to the container either.
///
/// Written as `SRC:DST:OPTIONS` binds, the only form Podman's Docker API takes options in
/// (validation refuses a `:` in the paths). No SELinux relabelling (`:z`): it would rewrite
/// the labels of the user's own folder, and Debian and Ubuntu hosts do not need it.
pub fn project_binds(loaded: &Loaded, served_at: &std::path::Path) -> Vec<String> {
    let Some(sync) = loaded.config.sync.as_ref() else {
        return Vec::new();
    };
    let mode = if sync.mode == SyncMode::Ro {
        "ro"
    } else {
        "rw"
    };
    vec![format!(
        "{}:{}:{mode},nosuid,nodev",
        served_at.display(),
        sync.guest_path
    )]
}

/// The image used when `.env` has no `IMAGE`.
pub const DEFAULT_IMAGE: &str = "docker.io/library/debian:bookworm";

/// The container's image: `IMAGE`, or the default.
pub fn image_of(loaded: &Loaded) -> String {
    loaded
        .config
        .image
        .clone()
        .unwrap_or_else(|| DEFAULT_IMAGE.to_owned())
}

pub fn container_spec(
    loaded: &Loaded,
    public_key: &str,
    disk_limit: bool,
    binds: Vec<String>,
) -> ContainerCreateBody {
    let c = &loaded.config;
    let id = &loaded.id;
    let image = image_of(loaded);
    let mut ports: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    ports.insert(
        "22/tcp".into(),
        Some(vec![PortBinding {
            host_ip: Some("127.0.0.1".into()),
            host_port: Some(String::new()),
        }]),
    );
    for p in &c.ports {
        let key = format!("{}/{}", p.guest_port, p.protocol);
        ports
            .entry(key)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: Some(p.host_ip.to_string()),
                host_port: Some(p.host_port.to_string()),
            });
    }
    // the project's own network, with `FIXED_IP` as the container's address on it
    let networking_config = own_network(loaded).then(|| bollard::models::NetworkingConfig {
        endpoints_config: Some(HashMap::from([(
            network_name(&id.slug),
            bollard::models::EndpointSettings {
                ipam_config: c.fixed_ip.map(|ip| bollard::models::EndpointIpamConfig {
                    ipv4_address: Some(ip.to_string()),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )])),
    });
    let mut exposed: Vec<String> = ports.keys().cloned().collect();
    exposed.sort();
    ContainerCreateBody {
        hostname: Some(id.name.clone()),
        image: Some(image),
        cmd: Some(vec![
            "/bin/sh".into(),
            "-c".into(),
            ENTRYPOINT_SCRIPT.into(),
        ]),
        env: Some(vec![format!("TMPL_AUTHORIZED_KEY={public_key}")]),
        labels: Some(HashMap::from([
            (LABEL_PROJECT.to_owned(), id.slug.clone()),
            (
                LABEL_DIR.to_owned(),
                loaded.project.dir.display().to_string(),
            ),
            (
                LABEL_STATE.to_owned(),
                loaded.id.state_dir.display().to_string(),
            ),
        ])),
        exposed_ports: Some(exposed),
        networking_config,
        stop_timeout: Some(10),
        host_config: Some(HostConfig {
            memory: Some(i64::from(c.memory_mib) * 1024 * 1024),
            nano_cpus: Some(i64::from(c.cpus) * 1_000_000_000),
            port_bindings: Some(ports),
            security_opt: Some(vec!["no-new-privileges".into()]),
            cap_drop: Some(vec!["ALL".into()]),
            cap_add: Some(CAPABILITIES.iter().map(|s| s.to_string()).collect()),
            privileged: Some(false),
            binds: (!binds.is_empty()).then_some(binds),
            network_mode: own_network(loaded).then(|| network_name(&id.slug)),
            storage_opt: disk_limit
                .then(|| HashMap::from([("size".to_owned(), format!("{}G", c.disk_gib))])),
            ..Default::default()
        }),
        ..Default::default()
    }
}
