//! What `tmpl doctor` checks for VMs: the programs, the plugin, libvirt and its network and
//! pool, the domain type new VMs get, virtiofsd for a shared folder, and the pool's space.
//! Checks look; they never start or define anything.

use super::{kvm, plan::LIBVIRT_IMAGES, virsh, virtiofs};
use crate::driver::Check;
use crate::host;
use crate::process::Cmd;
use std::path::Path;

type Found = Result<String, (String, String)>;

fn vagrant_libvirt() -> Found {
    let fix = host::install("vagrant-libvirt");
    let out = Cmd::new("vagrant")
        .args(["plugin", "list"])
        .env("VAGRANT_CHECKPOINT_DISABLE", "1")
        .output();
    match out {
        Ok(o) => o
            .stdout
            .lines()
            .find(|l| l.starts_with("vagrant-libvirt"))
            .map(|l| l.trim().to_owned())
            .ok_or(("the vagrant-libvirt plugin is not installed".into(), fix)),
        Err(e) => Err((e.to_string(), fix)),
    }
}

fn libvirt() -> Found {
    let fix = "start it: `sudo systemctl enable --now libvirtd`, or `sudo libvirtd -d` on a host without systemd".to_string();
    let out = virsh::virsh()
        .arg("version")
        .output()
        .map_err(|e| (e.to_string(), fix.clone()))?;
    if !out.success() {
        return Err((
            format!("no answer at {}: {}", virsh::URI, out.stderr.trim()),
            fix,
        ));
    }
    let hyp = out
        .stdout
        .lines()
        .find(|l| l.contains("hypervisor"))
        .unwrap_or("")
        .trim()
        .to_owned();
    Ok(format!("{} ({hyp})", virsh::URI))
}

fn libvirt_item(kind: &str, name: &str) -> Found {
    let v = format!("sudo virsh -c {}", virsh::URI);
    let (info, start, define) = match kind {
        "net" => (
            "net-info",
            format!("{v} net-start {name} && {v} net-autostart {name}"),
            format!("{v} net-define /usr/share/libvirt/networks/{name}.xml, then start it"),
        ),
        _ => (
            "pool-info",
            format!("{v} pool-start {name} && {v} pool-autostart {name}"),
            format!("{v} pool-define-as {name} dir --target {LIBVIRT_IMAGES}, then start it"),
        ),
    };
    let out = virsh::virsh()
        .args([info, name])
        .output()
        .map_err(|e| (e.to_string(), start.clone()))?;
    // networks say `Active: yes`, pools `State: running`
    let active = out.stdout.lines().any(|l| {
        (l.starts_with("Active:") && l.ends_with("yes"))
            || (l.starts_with("State:") && l.ends_with("running"))
    });
    if active {
        Ok(format!("`{name}` is active"))
    } else if out.success() {
        Err((format!("`{name}` is not active"), start))
    } else {
        Err((format!("`{name}` is not defined"), define))
    }
}

/// The domain type `up` gives a new VM, and why (see `kvm`).
fn driver(cache_root: &Path) -> Found {
    let env = std::env::var("TMPL_LIBVIRT_DRIVER").ok();
    let d = kvm::choose(env.as_deref(), || kvm::works(cache_root));
    match (d.name.as_str(), d.fallback) {
        (name, false) => Ok(format!("new VMs use {name}: {}", d.why)),
        (name, true) => Err((
            format!("new VMs use {name} (software emulation, slow): {}", d.why),
            "enable virtualisation (VT-x/AMD-V) in the firmware, or nested virtualisation on the host of this VM; TMPL_LIBVIRT_DRIVER=qemu chooses emulation without the check".into(),
        )),
    }
}

fn pool_space() -> Found {
    let fix = format!(
        "free space under {LIBVIRT_IMAGES} (`sudo virsh vol-list default` shows what is there)"
    );
    let gib = crate::host::free_gib(Path::new(LIBVIRT_IMAGES)).ok_or_else(|| {
        (
            format!("cannot tell the free space of {LIBVIRT_IMAGES}"),
            fix.clone(),
        )
    })?;
    if gib >= 10 {
        Ok(format!("{gib} GiB free in {LIBVIRT_IMAGES}"))
    } else {
        Err((format!("only {gib} GiB free in {LIBVIRT_IMAGES}"), fix))
    }
}

pub fn checks(cache_root: &Path, sync: bool) -> Vec<Check> {
    let mut out: Vec<Check> = host::needed_by("vm")
        .iter()
        .map(|r| host::check_program(r, true))
        .collect();
    out.push(Check::of("vagrant-libvirt", true, vagrant_libvirt()));
    out.push(Check::of("libvirt", true, libvirt()));
    out.push(Check::of(
        "libvirt network",
        true,
        libvirt_item("net", "default"),
    ));
    out.push(Check::of(
        "libvirt pool",
        true,
        libvirt_item("pool", virsh::POOL),
    ));
    out.push(Check::of("libvirt driver", false, driver(cache_root)));
    let virtiofsd = virtiofs::find()
        .map(|p| format!("{} (shares the project folder, SYNC)", p.display()))
        .ok_or((
            "no virtiofsd: VMs cannot share the project folder".into(),
            format!(
                "{} (Debian 12: it comes with qemu-system-common), or SYNC=none in .env",
                host::install("virtiofsd")
            ),
        ));
    out.push(Check::of("virtiofsd", sync, virtiofsd));
    out.push(Check::of("image pool space", true, pool_space()));
    out
}
