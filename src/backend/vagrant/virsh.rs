//! The live state of a project's domain, straight from libvirt: one `virsh` process (tens of
//! milliseconds) instead of `vagrant status` (over a second).

use crate::backend::State;
use crate::error::{code, Failure};
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
    Failure::new(code::UNAVAILABLE, format!("libvirt does not answer at {URI}"))
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

/// Every domain name starting with `prefix` (for leftovers).
pub fn domains_with_prefix(prefix: &str) -> Result<Vec<String>> {
    let out = virsh().args(["list", "--all", "--name"]).read()?;
    Ok(out
        .lines()
        .map(str::trim)
        .filter(|n| n.starts_with(prefix))
        .map(str::to_owned)
        .collect())
}

/// vagrant-libvirt's management network (its defaults: `vagrant-libvirt`, 192.168.121.0/24,
/// NAT, DHCP). tmpl defines it before any `vagrant up`, under a host-wide lock: two projects
/// coming up at once would otherwise both try to create it and one would fail.
pub const MANAGEMENT_NETWORK: &str = "vagrant-libvirt";
const MANAGEMENT_XML: &str = "<network>
  <name>vagrant-libvirt</name>
  <forward mode='nat'/>
  <ip address='192.168.121.1' netmask='255.255.255.0'>
    <dhcp><range start='192.168.121.2' end='192.168.121.254'/></dhcp>
  </ip>
</network>
";

pub fn ensure_management_network(state_root: &std::path::Path) -> Result<()> {
    let _host = crate::lock::Lock::acquire(
        state_root,
        "host-libvirt-network",
        "libvirt's network setup",
        true,
    )?;
    let info = virsh().args(["net-info", MANAGEMENT_NETWORK]).output()?;
    if !info.success() {
        let dir = tempfile::tempdir()?;
        let xml = dir.path().join("net.xml");
        std::fs::write(&xml, MANAGEMENT_XML)?;
        virsh().arg("net-define").arg(&xml).read()?;
        virsh().args(["net-autostart", MANAGEMENT_NETWORK]).read()?;
    }
    let active = info
        .stdout
        .lines()
        .any(|l| l.starts_with("Active:") && l.ends_with("yes"));
    if !active {
        virsh().args(["net-start", MANAGEMENT_NETWORK]).read()?;
    }
    Ok(())
}
