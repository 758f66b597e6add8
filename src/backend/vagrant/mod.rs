//! VMs through Vagrant and vagrant-libvirt.

pub mod plan;

use std::path::PathBuf;

/// Facts about this host that shape a VM, read once.
#[derive(Debug, Clone)]
pub struct VmHost {
    /// libvirt domain type: `kvm`, or `qemu` for software emulation.
    pub driver: String,
    /// Set when the driver was chosen by falling back, for a one-line warning.
    pub fallback_reason: Option<String>,
    pub home: Option<PathBuf>,
}

impl VmHost {
    pub fn detect() -> VmHost {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let (driver, fallback_reason) = choose_driver(
            std::env::var("TMPL_LIBVIRT_DRIVER").ok().as_deref(),
            kvm_usable(),
        );
        VmHost {
            driver,
            fallback_reason,
            home,
        }
    }
}

/// `TMPL_LIBVIRT_DRIVER` wins; otherwise KVM when `/dev/kvm` can be opened, else TCG.
pub fn choose_driver(env: Option<&str>, kvm: Result<(), String>) -> (String, Option<String>) {
    match env.map(str::trim).filter(|s| !s.is_empty()) {
        Some(d) => (d.to_owned(), None),
        None => match kvm {
            Ok(()) => ("kvm".into(), None),
            Err(why) => (
                "qemu".into(),
                Some(format!("KVM is not usable ({why}); using software emulation (slow). Set TMPL_LIBVIRT_DRIVER=qemu to silence this")),
            ),
        },
    }
}

/// KVM is usable when the device opens read-write (what QEMU needs).
pub fn kvm_usable() -> Result<(), String> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .map(|_| ())
        .map_err(|e| format!("/dev/kvm: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn driver_choice() {
        assert_eq!(choose_driver(Some("qemu"), Ok(())).0, "qemu");
        assert_eq!(choose_driver(None, Ok(())), ("kvm".into(), None));
        let (d, why) = choose_driver(None, Err("missing".into()));
        assert_eq!(d, "qemu");
        assert!(why.unwrap().contains("missing"));
    }
}
