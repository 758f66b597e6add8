//! What the host has for guests, for `tmpl doctor`: every driver's own checks (a person's
//! included), whether the fence can be held where each driver's fences go, the programs
//! every project needs, and the lowest port `PORTS` binds. Each check looks; none changes
//! anything.

use crate::check::Check;
use crate::config::{Config, Egress, ProvisionKind};
use crate::driver::{Registry, Wants};
use crate::host;
use crate::project::Dirs;

type Found = Result<String, (String, String)>;

const PORT_SYSCTL: &str = "net.ipv4.ip_unprivileged_port_start";

/// The checks for what a project needs (`config`), or for everything without one.
pub fn host_checks(registry: &Registry, dirs: &Dirs, config: Option<&Config>) -> Vec<Check> {
    let drivers: Vec<_> = match config {
        Some(c) => registry.get(&c.infra_type).into_iter().collect(),
        None => registry.all().collect(),
    };
    // without a project, every optional need counts as wanted
    let wants = Wants {
        sync: config.map_or(true, |c| c.sync.is_some()),
        lowest_port: config.and_then(|c| c.ports.iter().map(|p| p.host_port).min()),
    };
    let mut out: Vec<Check> = Vec::new();
    for d in &drivers {
        out.extend(d.host_checks(dirs, wants));
    }
    if wants.sync {
        out.extend(crate::share::daemon::checks());
    }
    if let Some(port) = wants.lowest_port.filter(|_| !crate::person::is_root()) {
        let start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(1024);
        out.push(Check::of("low ports", true, low_port(port, start)));
    }
    let fenced = config.map_or(true, |c| {
        c.egress != Egress::Open || !c.egress_allow.is_empty()
    });
    // one line per place fences are held (a person's containers in their Podman, VMs on the
    // host), named after the drivers whose fences go there
    let mut holders: Vec<(crate::fence::Holder, Vec<&str>)> = Vec::new();
    for d in &drivers {
        let h = d.fence_holder();
        match holders.iter_mut().find(|(seen, _)| *seen == h) {
            Some((_, nouns)) => nouns.push(d.noun()),
            None => holders.push((h, vec![d.noun()])),
        }
    }
    for (h, nouns) in &holders {
        let name = if holders.len() == 1 {
            "network fence".to_owned()
        } else {
            let nouns: Vec<String> = nouns.iter().map(|n| format!("{n}s")).collect();
            format!("network fence ({})", nouns.join(", "))
        };
        out.push(Check::of(&name, fenced, crate::fence::can_enforce(*h)));
    }
    out.extend(
        host::needed_by("any")
            .iter()
            .map(|r| host::check_program(r, true)),
    );
    let playbook = config.map_or(true, |c| {
        c.provision
            .as_ref()
            .is_some_and(|p| p.kind == ProvisionKind::Ansible)
    });
    out.extend(
        host::needed_by("provision")
            .iter()
            .map(|r| host::check_program(r, playbook)),
    );
    out
}

/// May the person bind `port`, the lowest host port in PORTS, with the kernel's `start`?
pub fn low_port(port: u16, start: u32) -> Found {
    if u32::from(port) >= start {
        return Ok(format!("PORTS starts at {port}; {PORT_SYSCTL} is {start}"));
    }
    Err((
        format!("PORTS binds port {port}, below {PORT_SYSCTL} ({start}): only root may"),
        format!("sudo sysctl -w {PORT_SYSCTL}={port} (and a line in /etc/sysctl.d/ to keep it), or a host port from {start} up in PORTS"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_below_the_sysctl_names_it() {
        assert!(low_port(8080, 1024).is_ok());
        assert!(low_port(80, 80).is_ok());
        let (what, fix) = low_port(80, 1024).unwrap_err();
        assert!(
            what.contains("net.ipv4.ip_unprivileged_port_start (1024)"),
            "{what}"
        );
        assert!(
            fix.contains("sysctl -w net.ipv4.ip_unprivileged_port_start=80"),
            "{fix}"
        );
    }
}
