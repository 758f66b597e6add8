//! The person's runtime folder, where their rootless Podman keeps its socket and its
//! network namespace.

use std::path::PathBuf;

/// The person's runtime folder, where their rootless Podman keeps its socket: the one Podman
/// itself picks, so `podman` in the person's shell and tmpl see the same containers.
/// `$XDG_RUNTIME_DIR`; without it (no logind, as on hosts without systemd) `/run/user/UID`
/// when that is theirs; else `$TMPDIR/podman-run-UID`, Podman's own fallback.
pub fn runtime_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let uid = crate::person::uid();
    let run_user = PathBuf::from(format!("/run/user/{uid}"));
    if crate::person::owned_private_dir(&run_user).is_ok() {
        return run_user;
    }
    std::env::temp_dir().join(format!("podman-run-{uid}"))
}

/// Makes the runtime folder, private, if it does not exist; refuses one that is not safe.
pub fn ensure_runtime_dir(dir: &std::path::Path) -> Result<(), String> {
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            crate::person::owned_private_dir(dir)
        }
        Err(e) => Err(format!("cannot create {}: {e}", dir.display())),
    }
}
