//! The `.env` keys tmpl owns: one table that drives validation, "did you mean" suggestions,
//! project discovery and the README's reference (a test keeps the README in step with it).

/// A key tmpl reads from `.env`.
pub struct Key {
    pub name: &'static str,
    pub required: bool,
    pub meaning: &'static str,
}

pub const KEYS: &[Key] = &[
    Key { name: "INFRA_TYPE", required: true, meaning: "`vm` or `container`" },
    Key { name: "MEMORY", required: true, meaning: "memory in MiB, a whole number >= 128" },
    Key { name: "CPUS", required: true, meaning: "number of CPUs, a whole number >= 1" },
    Key { name: "DISK", required: true, meaning: "disk size in GiB, a whole number >= 1" },
    Key { name: "IMAGE", required: false, meaning: "VM: a Vagrant box name, a `.box` file, or a cloud image (`.qcow2`/`.img` path or http(s) URL). Container: an image reference" },
    Key { name: "IMAGE_SHA256", required: false, meaning: "SHA-256 of a cloud image or `.box` given by path or URL, checked before use" },
    Key { name: "NAME", required: false, meaning: "overrides the folder name; `^[a-z][a-z0-9-]{0,40}$`" },
    Key { name: "NETWORK_TYPE", required: false, meaning: "`default` (NAT, the default) or `bridge`" },
    Key { name: "BRIDGE", required: false, meaning: "host interface to bridge onto; required with `NETWORK_TYPE=bridge`" },
    Key { name: "FIXED_IP", required: false, meaning: "IPv4 address for the guest" },
    Key { name: "EGRESS", required: false, meaning: "what the guest may connect to: `internet` (the default: public addresses only, no LAN, tailnet, host or other guest), `none`, or `open` (no fence)" },
    Key { name: "EGRESS_ALLOW", required: false, meaning: "comma-separated host names, addresses or CIDRs, each optionally `:PORT`, let through on top of `EGRESS`; `host:PORT` is the host itself" },
    Key { name: "SECRETS", required: false, meaning: "comma-separated `NAME@HOST`: the secret `NAME` may be sent to `HOST`; the guest gets a placeholder, and the value (from your environment or your own config folder, never the project) is put in by a proxy on the host" },
    Key { name: "PORTS", required: false, meaning: "comma-separated `[HOST_IP:]HOST_PORT:GUEST_PORT[/tcp|/udp]`; host IP defaults to 127.0.0.1" },
    Key { name: "SNAPSHOT_BEFORE_PROVISION", required: false, meaning: "`yes`: take the snapshot `pre-provision` before each provisioning run (`no`, the default)" },
    Key { name: "PROVISION_SCRIPT", required: false, meaning: "path relative to the project: `.yml`/`.yaml` is an Ansible playbook, anything else a script run in the guest as root" },
    Key { name: "SYNC", required: false, meaning: "the project folder in the guest: `rw` (the default), `ro` or `none`" },
    Key { name: "SYNC_PATH", required: false, meaning: "where the project folder appears in the guest, an absolute path; default the same path as on the host" },
    Key { name: "SESSION", required: false, meaning: "`tmux` or `zellij`: `tmpl ssh` attaches to a session named after the project, creating it the first time" },
    Key { name: "PROTECT", required: false, meaning: "project paths the guest cannot change, space- or comma-separated; default `.git/hooks .git/config`; `none` for none. Containers only: see [The project folder in the guest](#the-project-folder-in-the-guest)" },
];

pub fn is_tmpl_key(name: &str) -> bool {
    KEYS.iter().any(|k| k.name == name)
}

pub fn required_keys() -> impl Iterator<Item = &'static str> {
    KEYS.iter().filter(|k| k.required).map(|k| k.name)
}

/// The tmpl key `name` was probably meant to be, if it is not one itself.
///
/// Application settings share the file, so only near misses count: a different case, or an
/// edit distance of 1 (2 for longer keys). `DATABASE_URL` never matches; `MEMROY`, `CPU` and
/// `memory` do.
pub fn suggest(name: &str) -> Option<&'static str> {
    if is_tmpl_key(name) {
        return None;
    }
    let upper = name.to_ascii_uppercase();
    KEYS.iter()
        .map(|k| (k.name, strsim::damerau_levenshtein(&upper, k.name)))
        .filter(|&(k, d)| d == 0 || d <= if k.len() >= 6 { 2 } else { 1 })
        .min_by_key(|&(_, d)| d)
        .map(|(k, _)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_misses_only() {
        assert_eq!(suggest("MEMROY"), Some("MEMORY"));
        assert_eq!(suggest("memory"), Some("MEMORY"));
        assert_eq!(suggest("CPU"), Some("CPUS"));
        assert_eq!(suggest("INFRATYPE"), Some("INFRA_TYPE"));
        assert_eq!(suggest("DATABASE_URL"), None);
        assert_eq!(suggest("MEMORY"), None);
        assert_eq!(suggest("PORT_HTTP"), None);
    }
}
