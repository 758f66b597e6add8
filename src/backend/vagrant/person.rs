//! What an ordinary person needs for VMs, for `doctor`: membership of the `libvirt` group,
//! and libvirt's read-write socket actually opening for them. Root needs neither. Each
//! check looks; none changes anything.

use crate::check::Check;
use std::path::Path;

type Found = Result<String, (String, String)>;

const LIBVIRT_SOCKETS: &[&str] = &["/run/libvirt/libvirt-sock", "/var/run/libvirt/libvirt-sock"];

pub fn checks() -> Vec<Check> {
    if crate::person::is_root() {
        return Vec::new();
    }
    let name = crate::person::user_name();
    vec![
        Check::of("libvirt group", true, libvirt_group(&name)),
        Check::of("libvirt socket", true, libvirt_socket(&name)),
    ]
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
    if crate::person::process_groups().contains(&gid) || crate::person::gid() == gid {
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

#[cfg(test)]
mod tests {
    use super::*;

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
