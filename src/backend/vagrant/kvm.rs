//! Which libvirt domain type a new VM gets: `kvm`, or `qemu` (software emulation).
//!
//! An open `/dev/kvm` proves little: on hosts with broken nested virtualisation the device
//! answers, but a KVM guest dies as it starts (`failed to set MSR 0x10a`) or hangs after the
//! BIOS. So tmpl asks libvirt to boot a guest under KVM: a 512-byte disk whose boot sector
//! triple-faults at once, in a transient domain that is destroyed when it resets. Gone within
//! the deadline: KVM runs guest code. A failed start or a domain still there: it does not.
//! The probe takes about two seconds and its answer is kept for the rest of the boot (keyed
//! by the kernel's boot id), so only the first VM created after a reboot pays for it.

use super::virsh;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::{Duration, Instant};

/// The domain type and why it was chosen, for `doctor`, `status` and the fallback warning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Driver {
    pub name: String,
    pub why: String,
    /// Emulation chosen because KVM does not work: worth a warning.
    pub fallback: bool,
}

impl Driver {
    fn new(name: &str, why: impl Into<String>, fallback: bool) -> Driver {
        Driver {
            name: name.to_owned(),
            why: why.into(),
            fallback,
        }
    }
}

/// `TMPL_LIBVIRT_DRIVER` wins; otherwise what the probe found.
pub fn choose(env: Option<&str>, probe: impl FnOnce() -> Result<(), String>) -> Driver {
    if let Some(d) = env.map(str::trim).filter(|s| !s.is_empty()) {
        return Driver::new(d, format!("TMPL_LIBVIRT_DRIVER={d}"), false);
    }
    match probe() {
        Ok(()) => Driver::new("kvm", "a test guest ran under KVM", false),
        Err(why) => Driver::new("qemu", format!("KVM does not work here: {why}"), true),
    }
}

#[derive(Serialize, Deserialize)]
struct Cached {
    boot_id: String,
    result: Result<(), String>,
}

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// Whether a KVM guest runs on this host, from the cache when this boot already answered.
pub fn works(cache_root: &Path) -> Result<(), String> {
    let file = cache_root.join("kvm-probe.json");
    let boot = boot_id();
    if let Some(c) = std::fs::read_to_string(&file)
        .ok()
        .and_then(|t| serde_json::from_str::<Cached>(&t).ok())
        .filter(|c| c.boot_id == boot && !boot.is_empty())
    {
        return c.result;
    }
    let result = probe();
    // a probe that could not even ask libvirt says nothing about KVM: do not keep it
    if !matches!(&result, Err(e) if e.starts_with("libvirt:")) {
        let text = serde_json::to_string(&Cached {
            boot_id: boot,
            result: result.clone(),
        })
        .unwrap_or_default();
        let _ = crate::atomic::write(&file, text.as_bytes(), 0o600);
    }
    result
}

/// A boot sector that triple-faults: `cli; xor ax,ax; mov ds,ax; lidt [0x7c0b]; int3` with
/// an empty IDT at 0x7c0b, so the first exception resets the machine.
fn boot_sector() -> Vec<u8> {
    let code = [
        0xFA, 0x31, 0xC0, 0x8E, 0xD8, 0x0F, 0x01, 0x1E, 0x0B, 0x7C, 0xCC, 0, 0, 0, 0, 0, 0,
    ];
    let mut s = code.to_vec();
    s.resize(510, 0);
    s.extend([0x55, 0xAA]);
    s
}

fn domain_xml(name: &str, volume: &str) -> String {
    use super::xml::*;
    super::xml::write(&ProbeDomain {
        kind: "kvm",
        name,
        memory: Text {
            unit: "MiB",
            value: 16,
        },
        vcpu: 1,
        os: Os {
            kind: OsType {
                arch: "x86_64",
                machine: "pc",
                value: "hvm",
            },
            boot: Dev { dev: "hd" },
        },
        cpu: Mode { mode: "host-model" },
        on_poweroff: "destroy",
        on_reboot: "destroy",
        on_crash: "destroy",
        devices: Devices {
            disk: Disk {
                kind: "volume",
                device: "disk",
                driver: Driver {
                    name: "qemu",
                    kind: "raw",
                },
                source: Source {
                    pool: virsh::POOL,
                    volume,
                },
                target: Target {
                    dev: "hda",
                    bus: "ide",
                },
            },
            video: Video {
                model: TypeAttr { kind: "none" },
            },
            memballoon: Model { model: "none" },
        },
    })
}

/// The first line qemu or libvirt gave as the reason, without libvirt's prefixes.
fn reason(stderr: &str) -> String {
    let line = stderr
        .lines()
        .find(|l| l.contains("qemu-system") && l.contains("error"))
        .or_else(|| stderr.lines().find(|l| !l.trim().is_empty()))
        .unwrap_or("the guest did not start");
    let line = line.rsplit("qemu-system-x86_64: ").next().unwrap_or(line);
    line.trim_start_matches("error: ").trim().to_owned()
}

fn probe() -> Result<(), String> {
    if !Path::new("/dev/kvm").exists() {
        return Err("this host has no /dev/kvm".into());
    }
    let name = format!("tmpl-kvm-probe-{}", std::process::id());
    let volume = format!("{name}.img");
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let disk = dir.path().join("probe.img");
    let xml = dir.path().join("probe.xml");
    std::fs::write(&disk, boot_sector()).map_err(|e| e.to_string())?;
    std::fs::write(&xml, domain_xml(&name, &volume)).map_err(|e| e.to_string())?;
    virsh::vol_upload(&volume, &disk).map_err(|e| format!("libvirt: {e:#}"))?;
    let result = run_guest(&name, &xml);
    let _ = virsh::virsh().args(["destroy", &name]).output();
    let _ = virsh::vol_delete(&volume);
    result
}

fn run_guest(name: &str, xml: &Path) -> Result<(), String> {
    let out = virsh::virsh()
        .arg("create")
        .arg(xml)
        .output()
        .map_err(|e| format!("libvirt: {e:#}"))?;
    if !out.success() {
        return Err(reason(&out.stderr));
    }
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        let state = virsh::virsh().args(["domstate", name]).output();
        if state.is_ok_and(|s| !s.success()) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err("a KVM guest hangs instead of running".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variable_wins_and_a_failed_probe_falls_back_with_its_reason() {
        let d = choose(Some("qemu"), || panic!("no probe when the variable is set"));
        assert_eq!((d.name.as_str(), d.fallback), ("qemu", false));
        assert_eq!(choose(None, || Ok(())).name, "kvm");
        let d = choose(None, || Err("failed to set MSR 0x10a to 0x69".into()));
        assert_eq!(d.name, "qemu");
        assert!(d.fallback && d.why.contains("MSR 0x10a"), "{}", d.why);
    }

    #[test]
    fn the_boot_sector_is_a_boot_sector() {
        let s = boot_sector();
        assert_eq!(s.len(), 512);
        assert_eq!(&s[510..], &[0x55, 0xAA]);
    }

    #[test]
    fn the_reason_is_qemus_own_words() {
        let err = "error: Failed to create domain from /tmp/x.xml\nerror: internal error: qemu unexpectedly closed the monitor: 2026-12-01T20:38:27Z qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69\nqemu-system-x86_64: ../../target/i386/kvm/kvm.c:3183: kvm_buf_set_msrs: Assertion failed.";
        assert_eq!(reason(err), "failed to set MSR 0x10a to 0x69");
    }
}
