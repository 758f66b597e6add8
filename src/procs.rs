//! tmpl's own daemons, found in /proc by what they were started as (`tmpl __broker serve DIR`,
//! `tmpl __share CONFIG`): `doctor` and `gc` look for the ones whose project is gone, and
//! the daemons keep no pid file that could outlive them or name another process.

use std::path::PathBuf;

/// A process of this user's started as `<tmpl> SUB ARGS...`, with those ARGS.
pub struct Daemon {
    pub pid: u32,
    pub args: Vec<PathBuf>,
}

/// This user's processes whose first argument is `sub`. The real uid is read from `status`:
/// a daemon that is not dumpable has /proc files owned by root.
pub fn mine(sub: &str) -> Vec<Daemon> {
    let me = rustix::process::getuid().as_raw();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in procs.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        if args.get(1) != Some(&sub.as_bytes()) {
            continue;
        }
        let uid = std::fs::read_to_string(e.path().join("status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("Uid:"))
                    .and_then(|l| l.split_whitespace().next()?.parse::<u32>().ok())
            });
        if uid != Some(me) {
            continue;
        }
        use std::os::unix::ffi::OsStrExt;
        let args = args[2..]
            .iter()
            .filter(|a| !a.is_empty())
            .map(|a| PathBuf::from(std::ffi::OsStr::from_bytes(a)))
            .collect();
        out.push(Daemon { pid, args });
    }
    out
}
