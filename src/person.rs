//! Who runs tmpl: root, who keeps the host's system services, or an ordinary person, whose
//! guests run under their own uid (rootless Podman, their own Vagrant home) and whose names
//! on shared services (libvirt's domains, volumes, networks) carry their uid.

pub fn uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail
    unsafe { libc::geteuid() }
}

pub fn gid() -> u32 {
    // SAFETY: getegid has no preconditions and cannot fail
    unsafe { libc::getegid() }
}

pub fn is_root() -> bool {
    uid() == 0
}

/// Is `dir` a real folder (not a symlink) of this person's that nobody else may write? A
/// runtime folder someone else made first could hand them the person's Podman socket.
pub fn owned_private_dir(dir: &std::path::Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !m.is_dir() {
        return Err(format!("{} is not a folder", dir.display()));
    }
    if m.uid() != uid() {
        return Err(format!(
            "{} belongs to uid {}, not to you (uid {})",
            dir.display(),
            m.uid(),
            uid()
        ));
    }
    if m.mode() & 0o022 != 0 {
        return Err(format!(
            "{} can be written by others (mode {:o})",
            dir.display(),
            m.mode() & 0o777
        ));
    }
    Ok(())
}

/// The person's login name, or their uid when the account has none.
pub fn user_name() -> String {
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
pub fn process_groups() -> Vec<u32> {
    // SAFETY: getgroups with 0 asks for the count; then fills a buffer that large
    unsafe {
        let n = libc::getgroups(0, std::ptr::null_mut());
        let mut v = vec![0 as libc::gid_t; n.max(0) as usize];
        let got = libc::getgroups(n, v.as_mut_ptr());
        v.truncate(got.max(0) as usize);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_runtime_folder_open_to_all_or_behind_a_link_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let mine = t.path().join("rt");
        {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(&mine)
                .unwrap();
        }
        assert!(owned_private_dir(&mine).is_ok());
        let open = t.path().join("open");
        std::fs::create_dir(&open).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(owned_private_dir(&open)
            .unwrap_err()
            .contains("written by others"));
        let link = t.path().join("link");
        std::os::unix::fs::symlink(&mine, &link).unwrap();
        assert!(owned_private_dir(&link)
            .unwrap_err()
            .contains("not a folder"));
    }

    #[test]
    fn a_runtime_folder_of_someone_else_is_refused() {
        // only root can give a folder away; anyone else finds one of root's
        let t = tempfile::tempdir().unwrap();
        let (theirs, owner) = if is_root() {
            let theirs = t.path().join("theirs");
            std::fs::create_dir(&theirs).unwrap();
            std::os::unix::fs::chown(&theirs, Some(12345), None).unwrap();
            (theirs, 12345)
        } else {
            (std::path::PathBuf::from("/"), 0)
        };
        let err = owned_private_dir(&theirs).unwrap_err();
        assert!(err.contains(&format!("belongs to uid {owner},")), "{err}");
    }
}
