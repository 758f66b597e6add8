//! What `tmpl doctor` checks when an ordinary person runs it: what they, not the host, may
//! lack for their own guests. libvirt's socket through its group (VMs); subordinate ids, the
//! setuid id mappers and a private runtime folder (rootless Podman); and the lowest port they
//! may bind (`PORTS`). Root needs none of these. Each check looks; none changes anything.

use crate::backend::Check;
use crate::config::InfraType;
use std::path::Path;

type Found = Result<String, (String, String)>;

/// How many subordinate ids rootless Podman wants: a whole 16-bit range, as images assume.
const SUB_IDS: u64 = 65536;
const LIBVIRT_SOCKETS: &[&str] = &["/run/libvirt/libvirt-sock", "/var/run/libvirt/libvirt-sock"];
const PORT_SYSCTL: &str = "net.ipv4.ip_unprivileged_port_start";

pub fn checks(types: &[InfraType], lowest_port: Option<u16>) -> Vec<Check> {
    if crate::person::is_root() {
        return Vec::new();
    }
    let name = user_name();
    let mut out = Vec::new();
    if types.contains(&InfraType::Vm) {
        out.push(Check::of("libvirt group", true, libvirt_group(&name)));
        out.push(Check::of("libvirt socket", true, libvirt_socket(&name)));
    }
    if types.contains(&InfraType::Container) {
        for file in ["/etc/subuid", "/etc/subgid"] {
            let text = std::fs::read_to_string(file).unwrap_or_default();
            let label = if file.ends_with("uid") {
                "subuids"
            } else {
                "subgids"
            };
            out.push(Check::of(
                label,
                true,
                sub_ids(file, &text, &name, crate::person::uid()),
            ));
        }
        for program in ["newuidmap", "newgidmap"] {
            out.push(Check::of(program, true, id_mapper(program)));
        }
        out.push(Check::of("runtime folder", true, runtime_folder()));
    }
    if let Some(port) = lowest_port {
        let start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(1024);
        out.push(Check::of("low ports", true, low_port(port, start)));
    }
    out
}

fn user_name() -> String {
    // SAFETY: getpwuid returns a pointer into static storage or null; read at once
    unsafe {
        let pw = libc::getpwuid(crate::person::uid());
        if pw.is_null() {
            return crate::person::uid().to_string();
        }
        std::ffi::CStr::from_ptr((*pw).pw_name)
            .to_string_lossy()
            .into_owned()
    }
}

/// The groups this process has: a member added since the login has not got them yet.
fn process_groups() -> Vec<u32> {
    // SAFETY: getgroups with 0 asks for the count; then fills a buffer that large
    unsafe {
        let n = libc::getgroups(0, std::ptr::null_mut());
        let mut v = vec![0 as libc::gid_t; n.max(0) as usize];
        let got = libc::getgroups(n, v.as_mut_ptr());
        v.truncate(got.max(0) as usize);
        v
    }
}

/// `group`'s gid and members, from /etc/group's text.
pub fn group_entry(text: &str, group: &str) -> Option<(u32, Vec<String>)> {
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 4 && f[0] == group).then(|| {
            let members = f[3].split(',').filter(|m| !m.is_empty()).map(str::to_owned);
            (f[2].parse().unwrap_or(u32::MAX), members.collect())
        })
    })
}

fn libvirt_group(name: &str) -> Found {
    let add = format!("sudo usermod -aG libvirt {name}, then log in again");
    let text = std::fs::read_to_string("/etc/group").unwrap_or_default();
    let Some((gid, members)) = group_entry(&text, "libvirt") else {
        return Err((
            "there is no `libvirt` group on this host".into(),
            format!(
                "{} (it makes the group), then {add}",
                crate::host::install("libvirt-daemon-system")
            ),
        ));
    };
    if process_groups().contains(&gid) || crate::person::gid() == gid {
        Ok(format!("{name} is in `libvirt` (gid {gid})"))
    } else if members.iter().any(|m| m == name) {
        Err((
            format!("{name} was added to `libvirt`, but this login is from before"),
            "log in again (or `newgrp libvirt` in this shell)".into(),
        ))
    } else {
        Err((format!("{name} is not in the `libvirt` group"), add))
    }
}

/// Opening libvirt's read-write socket is the proof that its mode and group let the person in.
fn libvirt_socket(name: &str) -> Found {
    let Some(sock) = LIBVIRT_SOCKETS.iter().find(|s| Path::new(s).exists()) else {
        return Err((
            "libvirt has no socket: libvirtd is not running".into(),
            "start it: `sudo systemctl enable --now libvirtd`, or `sudo libvirtd -d` without systemd".into(),
        ));
    };
    match std::os::unix::net::UnixStream::connect(sock) {
        Ok(_) => Ok(format!("{sock} opens for {name}")),
        Err(e) => Err((
            format!("{sock} does not open for {name}: {e}"),
            "in /etc/libvirt/libvirtd.conf set unix_sock_group = \"libvirt\" and unix_sock_rw_perms = \"0770\" (and auth_unix_rw = \"none\" where polkit or dbus is not running), restart libvirtd, and be in the libvirt group".into(),
        )),
    }
}

/// The subordinate ranges `/etc/subuid`-style `text` gives the person, by name or uid.
pub fn ranges(text: &str, name: &str, uid: u32) -> Vec<(u64, u64)> {
    let uid = uid.to_string();
    text.lines()
        .filter_map(|l| {
            let mut f = l.trim().split(':');
            let (who, start, count) = (f.next()?, f.next()?, f.next()?);
            (who == name || who == uid).then_some(())?;
            Some((start.parse().ok()?, count.parse().ok()?))
        })
        .collect()
}

/// Where a new range can start: past every range in `text`, and no lower than 100000.
pub fn free_start(text: &str) -> u64 {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.trim().split(':').collect();
            Some(f.get(1)?.parse::<u64>().ok()? + f.get(2)?.parse::<u64>().ok()?)
        })
        .fold(100_000, u64::max)
}

pub fn sub_ids(file: &str, text: &str, name: &str, uid: u32) -> Found {
    let total: u64 = ranges(text, name, uid).iter().map(|r| r.1).sum();
    if total >= SUB_IDS {
        return Ok(format!("{total} ids for {name} in {file}"));
    }
    let start = free_start(text);
    let range = format!("{start}-{}", start + SUB_IDS - 1);
    let flag = if file.ends_with("uid") {
        "--add-subuids"
    } else {
        "--add-subgids"
    };
    Err((
        if total == 0 {
            format!("{file} has no ids for {name}: rootless Podman cannot map a container's users")
        } else {
            format!("{file} has only {total} ids for {name}; images expect {SUB_IDS}")
        },
        format!("sudo usermod {flag} {range} {name} (a range no one else in {file} has)"),
    ))
}

/// newuidmap/newgidmap must be setuid root (or hold the capability) to map subordinate ids.
fn id_mapper(program: &str) -> Found {
    use std::os::unix::fs::MetadataExt;
    let fix = crate::host::install(crate::host::package_of(program));
    let Some(path) = crate::process::which(program) else {
        return Err((format!("`{program}` not found on PATH"), fix));
    };
    let m = std::fs::metadata(&path).map_err(|e| (e.to_string(), fix.clone()))?;
    let setuid = m.uid() == 0 && m.mode() & 0o4000 != 0;
    if setuid || has_file_caps(&path) {
        Ok(format!(
            "{} ({})",
            path.display(),
            if setuid {
                "setuid root"
            } else {
                "file capabilities"
            }
        ))
    } else {
        Err((
            format!(
                "{} is neither setuid root nor has file capabilities",
                path.display()
            ),
            format!("sudo chmod u+s {} (or reinstall: {fix})", path.display()),
        ))
    }
}

fn has_file_caps(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(p) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: both strings are NUL-terminated; a null buffer asks only for the size
    unsafe {
        libc::getxattr(
            p.as_ptr(),
            c"security.capability".as_ptr(),
            std::ptr::null_mut(),
            0,
        ) > 0
    }
}

fn runtime_folder() -> Found {
    let dir = crate::person::runtime_dir();
    if !dir.exists() {
        return Ok(format!(
            "{} (made, private, on the first `up`)",
            dir.display()
        ));
    }
    crate::person::owned_private_dir(&dir)
        .map(|()| format!("{} is yours alone", dir.display()))
        .map_err(|why| {
            (
                why,
                format!(
                    "remove it if it is yours (`rm -r {}`), or set XDG_RUNTIME_DIR to a folder of yours with mode 0700",
                    dir.display()
                ),
            )
        })
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

    const SUBUID: &str = "ann:100000:65536\n2311:165536:1000\nbob:166536:65536\n";

    #[test]
    fn subordinate_ids_are_found_by_name_or_uid_and_a_free_range_is_offered() {
        assert_eq!(ranges(SUBUID, "ann", 2310), vec![(100000, 65536)]);
        assert_eq!(ranges(SUBUID, "cy", 2311), vec![(165536, 1000)]);
        assert_eq!(free_start(SUBUID), 232072);
        assert_eq!(free_start(""), 100000);
        assert!(sub_ids("/etc/subuid", SUBUID, "ann", 2310).is_ok());
        let (what, fix) = sub_ids("/etc/subuid", SUBUID, "cy", 2311).unwrap_err();
        assert!(what.contains("only 1000"), "{what}");
        assert_eq!(
            fix,
            "sudo usermod --add-subuids 232072-297607 cy (a range no one else in /etc/subuid has)"
        );
        let (what, fix) = sub_ids("/etc/subgid", "junk\n:::\n", "dan", 2312).unwrap_err();
        assert!(what.contains("no ids for dan"), "{what}");
        assert!(
            fix.starts_with("sudo usermod --add-subgids 100000-165535 dan"),
            "{fix}"
        );
    }

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

    #[test]
    fn the_libvirt_group_and_its_members_are_read() {
        let text = "root:x:0:\nlibvirt:x:113:ann,bob\nkvm:x:104:\n";
        assert_eq!(
            group_entry(text, "libvirt"),
            Some((113, vec!["ann".into(), "bob".into()]))
        );
        assert_eq!(group_entry(text, "kvm"), Some((104, vec![])));
        assert_eq!(group_entry(text, "docker"), None);
    }
}
