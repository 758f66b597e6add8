//! The names the share treats specially, as pure functions of a name's bytes.

/// `.` and `..` are never looked up through the share. The kernel resolves them itself; only
/// an NFS export asks a server for them, and `..` of a folder the host moved out of the project
/// would lead out of it.
pub fn is_dot(name: &[u8]) -> bool {
    name == b"." || name == b".."
}

/// `.git` in any case: git on a case-insensitive file system (a copy of the project on a Mac, a
/// casefolded ext4 folder) takes `.GIT` for `.git`.
pub fn is_dot_git(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b".git")
}

/// A name that makes git see a repository where it looks: `.git` (a repository, or a
/// `gitdir:` file pointing at one) and `HEAD` (what makes a folder a bare repository: git
/// takes one with HEAD, objects/ and refs/ for a repository, and runs its hooks and config).
/// The guest may never add one to the project folder, nor change or move an existing one.
pub fn is_repository_name(name: &[u8]) -> bool {
    is_dot_git(name) || name == b"HEAD"
}

/// Extended attributes the guest may set or remove: `user.*` only. `security.*` carries file
/// capabilities and SELinux labels, `trusted.*` overlayfs' own data, `system.*` ACLs, which
/// would outlive the guest as rights on the host.
pub fn is_guest_xattr(name: &[u8]) -> bool {
    name.starts_with(b"user.") && name.len() > b"user.".len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dots_are_only_the_two_dots() {
        assert!(is_dot(b".") && is_dot(b".."));
        assert!(!is_dot(b"...") && !is_dot(b".git") && !is_dot(b""));
    }

    #[test]
    fn repository_names_are_dot_git_in_any_case_and_head_exactly() {
        for n in [&b".git"[..], b".GIT", b".Git", b"HEAD"] {
            assert!(is_repository_name(n), "{}", String::from_utf8_lossy(n));
        }
        for n in [
            &b"git"[..],
            b".git2",
            b".gitignore",
            b"head",
            b"Head",
            b"HEAD2",
            b"x.git",
        ] {
            assert!(!is_repository_name(n), "{}", String::from_utf8_lossy(n));
        }
    }

    #[test]
    fn only_user_xattrs_are_the_guests() {
        assert!(is_guest_xattr(b"user.mime_type"));
        for n in [
            &b"security.capability"[..],
            b"trusted.overlay.opaque",
            b"system.posix_acl_access",
            b"user.",
            b"user",
        ] {
            assert!(!is_guest_xattr(n), "{}", String::from_utf8_lossy(n));
        }
    }
}
