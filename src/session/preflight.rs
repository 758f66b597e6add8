//! Checks before anything is created or started: the host ports are free, the host has the
//! memory and CPUs asked for, there is disk space, the image exists. Each failure is a clear
//! error and nothing has been made yet.

use crate::config::{Config, Protocol};
use crate::driver::Needs;
use crate::error::{ExitStatus, Failure};
use anyhow::Result;
use std::net::{SocketAddrV4, TcpListener, UdpSocket};
use std::path::Path;

/// Who listens on a TCP port (`nginx (pid 812)`): the listening sockets' inodes from the
/// kernel's tables, then the process holding one. What `ss -ltnp` shows, read straight from
/// /proc rather than from its text; a person sees only their own processes, as with ss.
fn holder(port: u16) -> Option<String> {
    use procfs::net::TcpState;
    use procfs::process::FDTarget;
    let inodes: Vec<u64> = [procfs::net::tcp(), procfs::net::tcp6()]
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.state == TcpState::Listen && e.local_address.port() == port)
        .map(|e| e.inode)
        .collect();
    if inodes.is_empty() {
        return None;
    }
    procfs::process::all_processes()
        .ok()?
        .flatten()
        .find(|p| {
            p.fd().is_ok_and(|mut fds| {
                fds.any(|fd| {
                    matches!(fd.map(|f| f.target), Ok(FDTarget::Socket(i)) if inodes.contains(&i))
                })
            })
        })
        .map(|p| {
            let name = p.stat().map(|s| s.comm).unwrap_or_else(|_| "?".into());
            format!("{name} (pid {})", p.pid)
        })
}

pub fn ports_free(config: &Config) -> Vec<String> {
    config
        .ports
        .iter()
        .filter_map(|p| {
            let addr = SocketAddrV4::new(p.host_ip, p.host_port);
            let bound = match p.protocol {
                Protocol::Tcp => TcpListener::bind(addr).map(drop),
                Protocol::Udp => UdpSocket::bind(addr).map(drop),
            };
            if let Err(e) = &bound {
                if e.kind() == std::io::ErrorKind::PermissionDenied {
                    return Some(privileged_port(p.host_port));
                }
            }
            bound.is_err().then(|| {
                let by = if p.protocol == Protocol::Tcp {
                    holder(p.host_port)
                } else {
                    None
                };
                format!(
                    "host port {}:{}/{} is already in use{}",
                    p.host_ip,
                    p.host_port,
                    p.protocol,
                    by.map(|b| format!(" by {b}")).unwrap_or_default()
                )
            })
        })
        .collect()
}

/// A port below `net.ipv4.ip_unprivileged_port_start` (1024 unless the host lowered it):
/// only root may listen there, and a person's guests forward ports as the person.
fn privileged_port(port: u16) -> String {
    let start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()
        .and_then(|s| s.trim().parse::<u16>().ok())
        .unwrap_or(1024);
    format!(
        "host port {port} is below net.ipv4.ip_unprivileged_port_start ({start}): only root may listen there; pick a port of {start} or more in PORTS, or let everyone use it (`sudo sysctl -w net.ipv4.ip_unprivileged_port_start={port}`)"
    )
}

/// Total memory (MiB) and CPUs of this host.
pub fn host_capacity() -> (u64, u64) {
    let mem_kib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .unwrap_or(u64::MAX / 1024);
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get() as u64)
        .unwrap_or(u64::MAX);
    (mem_kib / 1024, cpus)
}

pub fn resources_fit(config: &Config, mem_mib: u64, cpus: u64) -> Vec<String> {
    let mut out = Vec::new();
    if u64::from(config.memory_mib) > mem_mib {
        out.push(format!(
            "MEMORY={} is more than this host has ({mem_mib} MiB)",
            config.memory_mib
        ));
    }
    if u64::from(config.cpus) > cpus {
        out.push(format!(
            "CPUS={} is more than this host has ({cpus})",
            config.cpus
        ));
    }
    out
}

/// The space a new guest needs now in `dir`: disks are thin (qcow2 overlays, container
/// layers), so a small margin plus the image when it is still to be imported; a warning says
/// when DISK could not fit.
pub fn disk_space(
    config: &Config,
    dir: &Path,
    image_bytes: Option<u64>,
    disk_grows: bool,
) -> (Vec<String>, Vec<String>) {
    let need = 1 + image_bytes.unwrap_or(0).div_ceil(1 << 30);
    let Some(free) = crate::host::free_gib(dir) else {
        return (vec![], vec![]);
    };
    let dir = dir.display();
    let mut errors = vec![];
    let mut warnings = vec![];
    if free < need {
        errors.push(format!(
            "only {free} GiB free under {dir}; creating the guest needs about {need} GiB"
        ));
    } else if disk_grows && free < u64::from(config.disk_gib) {
        warnings.push(format!(
            "DISK={} GiB but only {free} GiB free under {dir}: the guest's disk can fill the host",
            config.disk_gib
        ));
    }
    (errors, warnings)
}

/// Runs every check for a guest about to be created (`creating`) or started, with what its
/// driver says it needs.
pub fn check(loaded: &crate::project::Loaded, needs: &Needs, creating: bool) -> Result<()> {
    let config = &loaded.config;
    let image = needs.image_file.as_ref().filter(|_| creating);
    if let Some(file) = image {
        if !file.is_file() {
            return Err(Failure::config(format!("IMAGE `{}` does not exist", file.display()))
                .hint("fix IMAGE in .env (paths are relative to the project folder; `~/` is your home)")
                .into());
        }
    }
    let mut problems = ports_free(config);
    let (mem, cpus) = host_capacity();
    problems.extend(resources_fit(config, mem, cpus));
    if let (true, Some(dir)) = (creating, &needs.disk_dir) {
        let size = image
            .and_then(|f| std::fs::metadata(f).ok())
            .map(|m| m.len());
        let (errors, warnings) = disk_space(config, dir, size, needs.disk_grows);
        problems.extend(errors);
        for w in warnings {
            crate::ui::warn(w);
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    let mut f = Failure::new(
        ExitStatus::Failure,
        "this host cannot run the guest as configured; nothing was created",
    );
    for p in problems {
        f = f.detail(format!("- {p}"));
    }
    Err(f
        .hint("free the port or change PORTS, lower MEMORY/CPUS in .env, or free disk space")
        .into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{validate, EnvFile};

    fn config(text: &str) -> Config {
        validate(
            &EnvFile::parse(Path::new(".env"), text),
            Path::new("/x"),
            false,
            &crate::backend::builtin(),
        )
        .unwrap()
        .0
    }

    #[test]
    fn a_taken_port_is_named() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let c = config(&format!(
            "INFRA_TYPE=container\nMEMORY=128\nCPUS=1\nDISK=1\nPORTS={port}:80\n"
        ));
        let p = ports_free(&c);
        assert_eq!(p.len(), 1);
        assert!(
            p[0].contains(&format!("127.0.0.1:{port}/tcp is already in use")),
            "{}",
            p[0]
        );
        assert!(
            p[0].contains(&format!("(pid {})", std::process::id())),
            "names who holds it: {}",
            p[0]
        );
        drop(l);
        assert!(ports_free(&c).is_empty());
    }

    #[test]
    fn free_space_is_read_where_the_folder_would_be() {
        let t = tempfile::tempdir().unwrap();
        let here = crate::host::free_gib(t.path()).unwrap();
        assert_eq!(
            crate::host::free_gib(&t.path().join("not/made/yet")),
            Some(here)
        );
    }

    #[test]
    fn more_than_the_host_has_is_refused() {
        let c = config("INFRA_TYPE=vm\nMEMORY=4096\nCPUS=8\nDISK=10\n");
        assert_eq!(resources_fit(&c, 2048, 2).len(), 2);
        assert!(resources_fit(&c, 8192, 8).is_empty());
    }
}
