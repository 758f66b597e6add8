//! The live state of a project's domain, straight from libvirt: one `virsh` process (tens of
//! milliseconds) instead of `vagrant status` (over a second).

use crate::driver::State;
use crate::error::{ExitStatus, Failure};
use crate::fence::net::GuestNet;
use crate::process::Cmd;
use anyhow::Result;

pub const URI: &str = "qemu:///system";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    pub state: State,
    /// DHCP address on the first interface (the management network), when running.
    pub ip: Option<String>,
}

pub fn virsh() -> Cmd {
    Cmd::new("virsh").args(["-c", URI, "-q"])
}

fn unavailable(detail: &str) -> anyhow::Error {
    Failure::new(ExitStatus::Unavailable, format!("libvirt does not answer at {URI}"))
        .detail(format!("| {}", detail.trim()))
        .hint("start libvirtd (`make setup` does it; `systemctl start libvirtd` on systemd hosts); `tmpl doctor` checks it")
        .into()
}

/// Looks the domain up by name; `None` when libvirt has no such domain.
pub fn domain(name: &str) -> Result<Option<Domain>> {
    let out = virsh()
        .arg(format!("domstate {name}; domifaddr {name} --source lease"))
        .output()?;
    let err = out.stderr.to_lowercase();
    if err.contains("failed to connect") || err.contains("no such file") && err.contains("socket") {
        return Err(unavailable(&out.stderr));
    }
    let mut lines = out.stdout.lines().map(str::trim).filter(|l| !l.is_empty());
    let Some(state_line) = lines.next() else {
        if err.contains("failed to get domain") || err.contains("domain not found") {
            return Ok(None);
        }
        return Err(unavailable(&out.stderr));
    };
    let state = match state_line {
        "running" | "paused" | "in shutdown" | "blocked" => State::Running,
        _ => State::Stopped,
    };
    let ip = lines
        .filter(|l| !l.starts_with("Name") && !l.starts_with('-'))
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            let i = cols.iter().position(|c| *c == "ipv4")?;
            cols.get(i + 1)
                .map(|a| a.split('/').next().unwrap_or(a).to_owned())
        })
        .next();
    Ok(Some(Domain {
        state,
        ip: if state == State::Running { ip } else { None },
    }))
}

/// Shuts the domain down through ACPI, forcing it off once `timeout` has passed; returns
/// whether it had to be forced.
pub fn shut_down(name: &str, timeout: std::time::Duration) -> Result<bool> {
    virsh().args(["shutdown", name]).read()?;
    let start = std::time::Instant::now();
    while start.elapsed() < timeout {
        if !matches!(
            domain(name)?,
            Some(Domain {
                state: State::Running,
                ..
            })
        ) {
            return Ok(false);
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    virsh().args(["destroy", name]).read()?;
    Ok(true)
}

/// The names `virsh LIST --all --name` prints that start with `prefix` (for leftovers).
fn names_with_prefix(list: &str, prefix: &str) -> Result<Vec<String>> {
    let out = virsh().args([list, "--all", "--name"]).read()?;
    Ok(out
        .lines()
        .map(str::trim)
        .filter(|n| n.starts_with(prefix))
        .map(str::to_owned)
        .collect())
}

/// Every domain name starting with `prefix`.
pub fn domains_with_prefix(prefix: &str) -> Result<Vec<String>> {
    names_with_prefix("list", prefix)
}

/// The XML of a VM's own network: NAT out through the host, DHCP and DNS from libvirt's
/// dnsmasq on the gateway, on a bridge named for the project so the fence holds it (see
/// `fence::net`). `host.tmpl.internal` names the host for the guest. With `FIXED_IP`, the
/// VM's pinned MAC gets that address from DHCP.
pub fn network_xml(
    name: &str,
    net: &GuestNet,
    fixed: Option<(&str, std::net::Ipv4Addr)>,
    fence: Option<super::hook_xml::Metadata>,
) -> String {
    use super::xml::*;
    let (start, end) = net.dhcp_range();
    let gateway = net.gateway();
    super::xml::write(&Network {
        name,
        metadata: fence,
        forward: Forward { mode: "nat" },
        bridge: Bridge {
            name: &net.bridge,
            stp: Some("off"),
        },
        dns: Some(Dns {
            host: DnsHost {
                ip: gateway,
                hostname: "host.tmpl.internal",
            },
        }),
        ip: Some(Ip {
            address: gateway,
            netmask: std::net::Ipv4Addr::new(255, 255, 255, 0),
            dhcp: Dhcp {
                range: Range { start, end },
                host: fixed.map(|(mac, ip)| DhcpHost { mac, ip }),
            },
        }),
    })
}

/// The XML of a bridged VM's way onto the LAN: a libvirt network in forward mode `bridge` on
/// the host's bridge `interface` (libvirt neither routes nor serves DHCP there).
pub fn lan_network_xml(name: &str, interface: &str) -> String {
    use super::xml::*;
    super::xml::write(&Network {
        name,
        metadata: None,
        forward: Forward { mode: "bridge" },
        bridge: Bridge {
            name: interface,
            stp: None,
        },
        dns: None,
        ip: None,
    })
}

/// Defines (when missing) and starts the VM's own network. Under a host-wide lock: libvirt
/// refuses a network whose subnet another one uses, and two `up`s must not race for it.
///
/// A network whose fence metadata (a person's VM, see `hook_xml`) is not `xml`'s is defined
/// anew and, when it runs, started again, so that the hook writes the new fence: callers
/// only ask while no VM is on it.
pub fn ensure_network(state_root: &std::path::Path, name: &str, xml: &str) -> Result<()> {
    let _host = crate::lock::Lock::acquire(
        state_root,
        "host-libvirt-network",
        "libvirt's network setup",
        true,
    )?;
    let fence_of = |x: &str| super::hook_xml::read(x).and_then(|d| d.fence);
    let wanted = fence_of(xml);
    // a network defined again keeps its uuid: libvirt refuses one of the same name without it
    let define = |uuid: Option<&str>| -> Result<()> {
        let text = match uuid {
            Some(u) => xml.replacen("</name>", &format!("</name>\n  <uuid>{u}</uuid>"), 1),
            None => xml.to_owned(),
        };
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("net.xml");
        std::fs::write(&file, text)?;
        virsh().arg("net-define").arg(&file).read()?;
        Ok(())
    };
    let info = virsh().args(["net-info", name]).output()?;
    if !info.success() {
        define(None)?;
        virsh().args(["net-autostart", name]).read()?;
    } else {
        let current = virsh().args(["net-dumpxml", "--inactive", name]).read()?;
        let bridge = super::xml::bridge_of(xml).unwrap_or_default();
        if super::xml::bridge_of(&current).as_deref() != Some(bridge.as_str()) {
            return Err(Failure::new(
                ExitStatus::Failure,
                format!(
                    "libvirt network `{name}` is not on the bridge the fence holds (`{bridge}`)"
                ),
            )
            .hint(
                "it was made by an older tmpl: `tmpl rm` then `tmpl up` makes the VM anew, fenced",
            )
            .into());
        }
        if fence_of(&current) != wanted {
            let uuid = current
                .split_once("<uuid>")
                .and_then(|(_, r)| r.split_once("</uuid>"))
                .map(|(u, _)| u.trim().to_owned());
            define(uuid.as_deref())?;
        }
    }
    let mut active = info
        .stdout
        .lines()
        .any(|l| l.starts_with("Active:") && l.ends_with("yes"));
    if active && wanted.is_some() {
        let live = virsh().args(["net-dumpxml", name]).read()?;
        if fence_of(&live) != wanted {
            virsh().args(["net-destroy", name]).read()?;
            active = false;
        }
    }
    if !active {
        let started = virsh().args(["net-start", name]).output()?;
        if !started.success() && !started.stderr.contains("already active") {
            return Err(Failure::new(
                ExitStatus::Failure,
                format!("cannot start libvirt network `{name}`"),
            )
            .detail(format!("| {}", started.stderr.trim()))
            .hint("another network may use its subnet (`virsh net-list --all`, `ip route`); for a person's VM, the fence's hook may have refused it: `tmpl doctor`")
            .into());
        }
    }
    Ok(())
}

/// Stops and removes a network; `false` when there was none.
pub fn remove_network(name: &str) -> Result<bool> {
    if !virsh().args(["net-info", name]).output()?.success() {
        return Ok(false);
    }
    let _ = virsh().args(["net-destroy", name]).output();
    virsh().args(["net-undefine", name]).read()?;
    Ok(true)
}

/// Powers a running domain off at once, as pulling the plug does (`virsh destroy`).
pub fn power_off(name: &str) -> Result<()> {
    let out = virsh().args(["destroy", name]).output()?;
    // it may have stopped by itself meanwhile: only a domain still running is an error
    if !out.success() && domain(name)?.is_some_and(|d| d.state == crate::driver::State::Running) {
        anyhow::bail!("cannot power off VM `{name}`: {}", out.stderr.trim());
    }
    Ok(())
}

/// Every network name starting with `prefix`.
pub fn networks_with_prefix(prefix: &str) -> Result<Vec<String>> {
    names_with_prefix("net-list", prefix)
}

/// The networks the domain's interfaces are on.
pub fn domain_networks(domain: &str) -> Result<Vec<String>> {
    let out = virsh().args(["domiflist", domain]).read()?;
    Ok(out
        .lines()
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            (cols.get(1) == Some(&"network")).then(|| cols.get(2).map(|s| s.to_string()))?
        })
        .collect())
}

/// The storage pool tmpl keeps its own volumes in (seed ISOs, the KVM probe's disk): the one
/// vagrant-libvirt uses by default.
pub const POOL: &str = "default";

/// Does the pool hold a volume of this name?
pub fn vol_exists(name: &str) -> Result<bool> {
    let out = virsh().args(["vol-info", "--pool", POOL, name]).output()?;
    Ok(out.success())
}

/// The volume's path on the host, as libvirt reports it.
pub fn vol_path(name: &str) -> Result<String> {
    Ok(virsh()
        .args(["vol-path", "--pool", POOL, name])
        .read()?
        .trim()
        .to_owned())
}

/// Makes `file` a volume of the pool called `name`, replacing one of that name. Through
/// libvirt, not by writing into the pool's folder: libvirt's volume list and the disk then
/// agree (a file written and removed behind libvirt's back stays listed after a pool
/// refresh), and a user who may use libvirt but not write its folder can do it too.
pub fn vol_upload(name: &str, file: &std::path::Path) -> Result<String> {
    if vol_exists(name)? {
        vol_delete(name)?;
    }
    let size = std::fs::metadata(file)?.len().max(1);
    virsh()
        .args([
            "vol-create-as",
            POOL,
            name,
            &size.to_string(),
            "--format",
            "raw",
        ])
        .read()?;
    let uploaded = virsh()
        .args(["vol-upload", "--pool", POOL, name])
        .arg(file)
        .read();
    if let Err(e) = uploaded {
        let _ = vol_delete(name);
        return Err(e);
    }
    vol_path(name)
}

/// Removes the volume; a volume that is not there is not an error.
pub fn vol_delete(name: &str) -> Result<bool> {
    let out = virsh()
        .args(["vol-delete", "--pool", POOL, name])
        .output()?;
    if out.success() {
        return Ok(true);
    }
    let err = out.stderr.to_lowercase();
    if err.contains("storage volume not found") || err.contains("no storage vol") {
        return Ok(false);
    }
    Err(Failure::new(
        ExitStatus::Failure,
        format!("cannot remove volume `{name}` from pool `{POOL}`"),
    )
    .detail(format!("| {}", out.stderr.trim()))
    .into())
}

/// Names of the pool's volumes.
pub fn vol_names() -> Result<Vec<String>> {
    let out = virsh().args(["vol-list", "--pool", POOL]).read()?;
    Ok(out
        .lines()
        .filter(|l| !l.trim_start().starts_with("Name") && !l.starts_with('-'))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect())
}
