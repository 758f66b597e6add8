//! What an ordinary person needs for rootless Podman, for `doctor`: subordinate ids, the
//! setuid id mappers and a private runtime folder. Root needs none of these. Each check
//! looks; none changes anything.

use crate::check::Check;
use std::path::Path;

type Found = Result<String, (String, String)>;

/// How many subordinate ids rootless Podman wants: a whole 16-bit range, as images assume.
const SUB_IDS: u64 = 65536;

pub fn checks() -> Vec<Check> {
    if crate::person::is_root() {
        return Vec::new();
    }
    let name = crate::person::user_name();
    let mut out = Vec::new();
    for file in ["/etc/subuid", "/etc/subgid"] {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let label = if file.ends_with("uid") {
            "subuids"
        } else {
            "subgids"
        };
        out.push(Check::of(
            label,
            true,
            sub_ids(file, &text, &name, crate::person::uid()),
        ));
    }
    for program in ["newuidmap", "newgidmap"] {
        out.push(Check::of(program, true, id_mapper(program)));
    }
    out.push(Check::of("runtime folder", true, runtime_folder()));
    out
}

/// The subordinate ranges `/etc/subuid`-style `text` gives the person, by name or uid.
pub fn ranges(text: &str, name: &str, uid: u32) -> Vec<(u64, u64)> {
    let uid = uid.to_string();
    text.lines()
        .filter_map(|l| {
            let mut f = l.trim().split(':');
            let (who, start, count) = (f.next()?, f.next()?, f.next()?);
            (who == name || who == uid).then_some(())?;
            Some((start.parse().ok()?, count.parse().ok()?))
        })
        .collect()
}

/// Where a new range can start: past every range in `text`, and no lower than 100000.
pub fn free_start(text: &str) -> u64 {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.trim().split(':').collect();
            Some(f.get(1)?.parse::<u64>().ok()? + f.get(2)?.parse::<u64>().ok()?)
        })
        .fold(100_000, u64::max)
}

pub fn sub_ids(file: &str, text: &str, name: &str, uid: u32) -> Found {
    let total: u64 = ranges(text, name, uid).iter().map(|r| r.1).sum();
    if total >= SUB_IDS {
        return Ok(format!("{total} ids for {name} in {file}"));
    }
    let start = free_start(text);
    let range = format!("{start}-{}", start + SUB_IDS - 1);
    let flag = if file.ends_with("uid") {
        "--add-subuids"
    } else {
        "--add-subgids"
    };
    Err((
        if total == 0 {
            format!("{file} has no ids for {name}: rootless Podman cannot map a container's users")
        } else {
            format!("{file} has only {total} ids for {name}; images expect {SUB_IDS}")
        },
        format!("sudo usermod {flag} {range} {name} (a range no one else in {file} has)"),
    ))
}

/// newuidmap/newgidmap must be setuid root (or hold the capability) to map subordinate ids.
fn id_mapper(program: &str) -> Found {
    use std::os::unix::fs::MetadataExt;
    let fix = crate::host::install(crate::host::package_of(program));
    let Some(path) = crate::process::which(program) else {
        return Err((format!("`{program}` not found on PATH"), fix));
    };
    let m = std::fs::metadata(&path).map_err(|e| (e.to_string(), fix.clone()))?;
    let setuid = m.uid() == 0 && m.mode() & 0o4000 != 0;
    if setuid || has_file_caps(&path) {
        Ok(format!(
            "{} ({})",
            path.display(),
            if setuid {
                "setuid root"
            } else {
                "file capabilities"
            }
        ))
    } else {
        Err((
            format!(
                "{} is neither setuid root nor has file capabilities",
                path.display()
            ),
            format!("sudo chmod u+s {} (or reinstall: {fix})", path.display()),
        ))
    }
}

fn has_file_caps(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(p) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: both strings are NUL-terminated; a null buffer asks only for the size
    unsafe {
        libc::getxattr(
            p.as_ptr(),
            c"security.capability".as_ptr(),
            std::ptr::null_mut(),
            0,
        ) > 0
    }
}

fn runtime_folder() -> Found {
    let dir = super::runtime::runtime_dir();
    if !dir.exists() {
        return Ok(format!(
            "{} (made, private, on the first `up`)",
            dir.display()
        ));
    }
    crate::person::owned_private_dir(&dir)
        .map(|()| format!("{} is yours alone", dir.display()))
        .map_err(|why| {
            (
                why,
                format!(
                    "remove it if it is yours (`rm -r {}`), or set XDG_RUNTIME_DIR to a folder of yours with mode 0700",
                    dir.display()
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUBUID: &str = "ann:100000:65536\n2311:165536:1000\nbob:166536:65536\n";

    #[test]
    fn subordinate_ids_are_found_by_name_or_uid_and_a_free_range_is_offered() {
        assert_eq!(ranges(SUBUID, "ann", 2310), vec![(100000, 65536)]);
        assert_eq!(ranges(SUBUID, "cy", 2311), vec![(165536, 1000)]);
        assert_eq!(free_start(SUBUID), 232072);
        assert_eq!(free_start(""), 100000);
        assert!(sub_ids("/etc/subuid", SUBUID, "ann", 2310).is_ok());
        let (what, fix) = sub_ids("/etc/subuid", SUBUID, "cy", 2311).unwrap_err();
        assert!(what.contains("only 1000"), "{what}");
        assert_eq!(
            fix,
            "sudo usermod --add-subuids 232072-297607 cy (a range no one else in /etc/subuid has)"
        );
        let (what, fix) = sub_ids("/etc/subgid", "junk\n:::\n", "dan", 2312).unwrap_err();
        assert!(what.contains("no ids for dan"), "{what}");
        assert!(
            fix.starts_with("sudo usermod --add-subgids 100000-165535 dan"),
            "{fix}"
        );
    }
}
