//! VMs through Vagrant and vagrant-libvirt.
//!
//! The master template is rendered into the project's cache dir and Vagrant runs there with
//! `VAGRANT_CWD` and `VAGRANT_DOTFILE_PATH` (in the state dir) set for the project. Only
//! operations that change the VM start Vagrant; the live state comes from libvirt.

pub mod checks;
mod cloud_config;
pub mod driver;
mod first_boot;
mod hook;
mod hook_xml;
pub mod image;
mod keeper;
pub mod keys;
pub mod kvm;
mod lifecycle;
pub mod login;
mod person;
pub mod plan;
mod prepare;
pub mod render;
mod snapshot;
pub mod source;
pub mod virsh;
pub mod virtiofs;
mod vm;
mod xml;

pub use driver::VagrantDriver;
pub use vm::{Vagrant, NET};
