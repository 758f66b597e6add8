//! Where a person's containers are fenced: their rootless Podman's network namespace
//! ("rootless netns", joined to the world by slirp4netns). The person is root there, so
//! the fence's tables are written there; the container's root is in a namespace of its own
//! and cannot reach them. From there the host is not local, so its own addresses are closed
//! as destinations like any other.
//!
//! Podman removes the namespace, fence and all, when the person's last container stops, and
//! makes a new one at the next start: `unshare --rootless-netns` makes the namespace when
//! none is there yet, and the next container of the person's starts in it, fence and all.

use crate::fence::Place;
use crate::process::Cmd;

pub struct RootlessNetns;

pub static ROOTLESS_NETNS: RootlessNetns = RootlessNetns;

impl Place for RootlessNetns {
    fn name(&self) -> &'static str {
        "in your rootless Podman's network namespace"
    }

    fn nft(&self) -> Cmd {
        let nft = crate::process::which_sbin("nft").unwrap_or_else(|| "nft".into());
        self.enter(Cmd::new(nft))
    }

    fn enter(&self, cmd: Cmd) -> Cmd {
        cmd.wrapped_in(&["podman", "unshare", "--rootless-netns"])
            .env("XDG_RUNTIME_DIR", super::runtime::runtime_dir())
    }

    fn present(&self) -> bool {
        self.netns_file().is_some()
    }

    /// Podman's name for the namespace now; a new one (after the person's last container
    /// stopped) is a new file, and the guest's resolver in the old one then exits.
    fn netns_file(&self) -> Option<std::path::PathBuf> {
        std::fs::read_dir(super::runtime::runtime_dir().join("netns"))
            .ok()?
            .flatten()
            .find(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("rootless-netns")
            })
            .map(|e| e.path())
    }

    fn host_is_remote(&self) -> bool {
        true
    }

    fn may_vanish(&self) -> bool {
        true
    }

    fn absent_note(&self) -> &'static str {
        "your rootless Podman makes its network namespace with your first container; its fence is written there"
    }
}
