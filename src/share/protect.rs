//! PROTECT paths, matched by name from the top of the project.
//!
//! By name, not by inode: the host may re-create a protected folder (a checkout, an editor
//! that writes a new file and renames it over the old one) and it stays protected. Each
//! folder on the way down carries the rest of the paths below it (`Pin`s); a folder that
//! carries any is an ancestor of a protected path, and may not be renamed or removed, or the
//! guest could move the path away and put a folder of its own in its place.

/// The rest of a PROTECT path below a folder, as names: `kept/dir` → `[kept, dir]`. Never
/// empty once below the top.
pub type Pin = Vec<Vec<u8>>;

/// A PROTECT path as written in the config (`kept/dir`, `./kept/dir/`), as names. The empty
/// pin is the whole project.
pub fn parse(path: &str) -> Result<Pin, String> {
    if path.starts_with('/') {
        return Err(format!(
            "`{path}` is absolute: PROTECT paths are relative to the project"
        ));
    }
    let mut pin = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(format!("`{path}` leads out of the project with `..`")),
            name => pin.push(name.as_bytes().to_vec()),
        }
    }
    Ok(pin)
}

/// What the entry `name` of a folder carrying `pins` is.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Followed {
    /// The entry is a PROTECT path itself: read-only with everything below it.
    pub leaf: bool,
    /// The paths below the entry, if it is a folder on the way to some.
    pub below: Vec<Pin>,
}

impl Followed {
    /// A PROTECT path or a folder on the way to one: it may not be renamed, removed or
    /// replaced.
    pub fn pinned(&self) -> bool {
        self.leaf || !self.below.is_empty()
    }
}

pub fn follow(pins: &[Pin], name: &[u8]) -> Followed {
    let mut out = Followed::default();
    for pin in pins {
        match pin.split_first() {
            Some((first, rest)) if first.as_slice() == name => {
                if rest.is_empty() {
                    out.leaf = true;
                } else {
                    out.below.push(rest.to_vec());
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pins(paths: &[&str]) -> Vec<Pin> {
        paths.iter().map(|p| parse(p).unwrap()).collect()
    }

    fn names(pin: &Pin) -> String {
        pin.iter()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect::<Vec<_>>()
            .join("/")
    }

    #[test]
    fn paths_are_read_as_names_from_the_top() {
        assert_eq!(names(&parse("kept/dir").unwrap()), "kept/dir");
        assert_eq!(names(&parse("./kept//dir/").unwrap()), "kept/dir");
        assert_eq!(parse(".").unwrap(), Pin::new());
        assert!(parse("/etc").unwrap_err().contains("absolute"));
        assert!(parse("kept/../../x").unwrap_err().contains(".."));
    }

    #[test]
    fn an_entry_is_a_leaf_an_ancestor_or_free() {
        let top = pins(&["kept/dir", "kept/deep/er", "secret", ".git/hooks"]);
        let kept = follow(&top, b"kept");
        assert!(!kept.leaf && kept.pinned());
        assert_eq!(
            kept.below.iter().map(names).collect::<Vec<_>>(),
            ["dir", "deep/er"]
        );
        assert!(follow(&kept.below, b"dir").leaf);
        assert!(!follow(&kept.below, b"other").pinned());
        assert!(follow(&top, b"secret").leaf);
        assert_eq!(
            follow(&top, b".git")
                .below
                .iter()
                .map(names)
                .collect::<Vec<_>>(),
            ["hooks"]
        );
        assert!(!follow(&top, b"Kept").pinned(), "names match exactly");
        assert!(!follow(&top, b"src").pinned());
    }

    #[test]
    fn a_path_and_its_ancestor_both_listed() {
        let top = pins(&["a", "a/b"]);
        let a = follow(&top, b"a");
        assert!(a.leaf);
        assert!(follow(&a.below, b"b").leaf);
    }
}
