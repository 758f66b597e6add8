//! The two ways a project's guest exists: a VM (Vagrant + libvirt) or a container (Podman).

pub mod podman;
pub mod vagrant;
