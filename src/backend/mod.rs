//! The drivers tmpl ships, one folder each (see `driver` for what a driver is): VMs through
//! Vagrant and libvirt, containers through Podman. A new way to run guests is a folder here
//! and a line in `builtin`.

pub mod podman;
pub mod vagrant;

use crate::driver::Registry;

/// The drivers tmpl ships.
pub fn builtin() -> Registry {
    Registry::new(vec![
        Box::new(vagrant::VagrantDriver),
        Box::new(podman::PodmanDriver),
    ])
}
