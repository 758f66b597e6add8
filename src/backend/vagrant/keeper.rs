//! Where a person's VMs are fenced: by root, through libvirt's network hook (see `hook`),
//! from the policy the person's tmpl puts into the VM's network. The person cannot write the
//! host's firewall, and neither the guest nor the person's processes can lift what root
//! wrote; what the hook holds is published where the person can read it.
//!
//! Why a hook: membership of the `libvirt` group already lets a person define networks
//! (and nwfilters, and domains), so a mechanism on libvirt's side grants nothing new, where a
//! setuid helper or a root service taking orders would. Of libvirt's own mechanisms, an
//! nwfilter is keyed on the guest's address and MAC and vagrant-libvirt 0.11 cannot attach
//! one; the hook writes the very table root's tmpl writes, keyed on the bridge, and runs the
//! guest's resolver.

use crate::fence::{Keeper, Place, Published};
use crate::process::Cmd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Where the hook keeps its state and publishes what it holds.
pub const RUN: &str = "/run/tmpl-fence";
/// The hook libvirtd runs, and the root-owned tmpl it runs (`make setup` installs both).
pub const HOOK: &str = "/etc/libvirt/hooks/network.d/tmpl-fence";
pub const BIN: &str = "/usr/local/lib/tmpl/tmpl";
const LIBVIRTD_PID: &str = "/run/libvirtd.pid";

pub fn published_path(slug: &str) -> PathBuf {
    Path::new(RUN).join(format!("tmpl-{slug}.json"))
}

pub struct LibvirtHook;

pub static LIBVIRT_HOOK: LibvirtHook = LibvirtHook;

/// Root's alone: owned by root, written by nobody else.
fn roots(path: &str) -> Result<(), String> {
    match std::fs::metadata(path) {
        Err(_) => Err(format!("{path} is missing")),
        Ok(m) if m.uid() != 0 || m.mode() & 0o022 != 0 => Err(format!(
            "{path} is not root's alone (owner {}, mode {:o})",
            m.uid(),
            m.mode() & 0o7777
        )),
        Ok(_) => Ok(()),
    }
}

impl Place for LibvirtHook {
    fn name(&self) -> &'static str {
        "by the host's libvirt hook"
    }
    fn nft(&self) -> Cmd {
        crate::fence::HOST.nft()
    }
    /// The host's tables are not the person's to list.
    fn present(&self) -> bool {
        false
    }
    fn keeper(&self) -> Option<&dyn Keeper> {
        Some(self)
    }
}

impl Keeper for LibvirtHook {
    fn ready(&self) -> Result<String, (String, String)> {
        let fix = "as root, `make setup` (scripts/setup.sh) installs it and reloads libvirtd";
        for path in [HOOK, BIN] {
            roots(path).map_err(|why| {
                (
                    format!("the libvirt hook that fences a person's VMs is not in place: {why}"),
                    fix.to_owned(),
                )
            })?;
        }
        // libvirtd finds hooks when it starts or reloads: it knows this one if it started
        // after the hook was written, or has run it since
        let libvirtd = std::fs::read_to_string(LIBVIRTD_PID).unwrap_or_default();
        let libvirtd = libvirtd.trim();
        let seen = std::fs::read_to_string(Path::new(RUN).join("hook-seen")).unwrap_or_default();
        let hook_time = std::fs::metadata(HOOK).and_then(|m| m.modified()).ok();
        let started = std::fs::metadata(format!("/proc/{libvirtd}"))
            .and_then(|m| m.modified())
            .ok();
        let loaded =
            seen.trim() == libvirtd || matches!((hook_time, started), (Some(h), Some(s)) if s > h);
        if !libvirtd.is_empty() && !loaded {
            return Err((
                "libvirtd has not loaded the fence's hook since it was installed".into(),
                "as root, `kill -HUP $(cat /run/libvirtd.pid)` (`make setup` does it)".into(),
            ));
        }
        Ok(format!("VMs are fenced by root's libvirt hook ({HOOK})"))
    }

    fn published(&self, slug: &str) -> Option<Published> {
        let p = published_path(slug);
        // the hook's own file, not one someone else put there
        let m = std::fs::metadata(&p).ok()?;
        if m.uid() != 0 {
            return None;
        }
        serde_json::from_slice(&std::fs::read(&p).ok()?).ok()
    }
}
