//! The resolver reads what the guest sends, so it keeps no more than it needs: started by
//! root on the host (root's guests, the libvirt hook), it becomes `nobody` with one
//! capability, CAP_NET_ADMIN, which its `nft` children inherit (as an ambient capability) to
//! write the fence's sets. In a person's rootless Podman namespace it is already the person,
//! and stays so.

use anyhow::{Context as _, Result};
use rustix::thread::{self as t, CapabilitySet, CapabilitySets};

/// `nobody`/`nogroup` on Debian and most others.
const NOBODY: u32 = 65534;

/// Whether this is root of the host's own user namespace (the identity map).
fn host_root() -> bool {
    crate::person::is_root()
        && std::fs::read_to_string("/proc/self/uid_map").is_ok_and(|m| {
            let f: Vec<&str> = m.split_whitespace().collect();
            f == ["0", "0", "4294967295"]
        })
}

/// Drops to `nobody` with CAP_NET_ADMIN alone, when started as the host's root. Called
/// before any thread starts: these calls change the calling thread only.
pub fn drop_to_nobody() -> Result<()> {
    if !host_root() {
        return Ok(());
    }
    let keep = CapabilitySet::NET_ADMIN;
    t::set_keep_capabilities(true).context("PR_SET_KEEPCAPS")?;
    t::set_thread_groups(&[]).context("setgroups")?;
    let gid = rustix::process::Gid::from_raw(NOBODY);
    let uid = rustix::process::Uid::from_raw(NOBODY);
    t::set_thread_res_gid(gid, gid, gid).context("setresgid")?;
    t::set_thread_res_uid(uid, uid, uid).context("setresuid")?;
    t::set_capabilities(
        None,
        CapabilitySets {
            effective: keep,
            permitted: keep,
            inheritable: keep,
        },
    )
    .context("capset")?;
    t::configure_capability_in_ambient_set(CapabilitySet::NET_ADMIN, true)
        .context("PR_CAP_AMBIENT")?;
    Ok(())
}
