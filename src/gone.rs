//! What "gone" means, for everything that cleans up after projects (`doctor`, `gc`, `ls`,
//! the fence's and approvals' leftovers): only "not found" proves a path is gone.
//! "Permission denied" (another user's home, say) proves nothing, and what cannot be proven
//! gone is never removed.

use std::path::Path;

/// Is `path` provably gone?
pub fn gone(path: &Path) -> bool {
    gone_by(std::fs::symlink_metadata(path))
}

fn gone_by(stat: std::io::Result<std::fs::Metadata>) -> bool {
    matches!(stat, Err(e) if e.kind() == std::io::ErrorKind::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_not_found_is_gone() {
        use std::io::{Error, ErrorKind};
        assert!(gone_by(Err(Error::from(ErrorKind::NotFound))));
        assert!(!gone_by(Err(Error::from(ErrorKind::PermissionDenied))));
        assert!(!gone(Path::new("/")));
        assert!(gone(Path::new("/tmpl-surely-not-here/x")));
    }
}
