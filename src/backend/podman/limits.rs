//! What a container's processes see of `MEMORY` and `CPUS`, and whether the host lets Podman
//! enforce them at all.
//!
//! `CPUS` is a CFS quota (the share) and also a cpuset (what `nproc` and build tools see):
//! with the quota alone, a 4-CPU guest on a 32-core host reports 32 cores and runs 32 jobs. The
//! cores are picked from the slug's hash, so projects spread over the host; the trade-off is
//! that two busy projects hashed onto the same core share it while another core idles. lxcfs
//! would make `free` show `MEMORY` too, but it is one more FUSE daemon on the host for every
//! container's `/proc`, and a crash of it breaks them all: not used; `free` shows the host.
//!
//! Rootless Podman can set limits only on cgroup v2 with the memory and cpu controllers
//! delegated to the person; on cgroup v1 it ignores them, and `up` says so in one line.

use sha2::{Digest, Sha256};

/// The cores of `allowed` a guest with `cpus` CPUs is pinned to, or `None` for all of them.
pub fn cpuset(allowed: &[usize], cpus: u32, slug: &str) -> Option<String> {
    let n = allowed.len();
    let want = cpus as usize;
    if n == 0 || want >= n {
        return None;
    }
    let h = Sha256::digest(slug.as_bytes());
    let start = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize % n;
    let mut picked: Vec<usize> = (0..want).map(|i| allowed[(start + i) % n]).collect();
    picked.sort_unstable();
    Some(
        picked
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(","),
    )
}

/// A kernel CPU list (`0-3,6,8-9`) as core numbers.
pub fn parse_cpu_list(text: &str) -> Vec<usize> {
    let mut out = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<usize>(), b.parse::<usize>()) {
                    out.extend(a..=b);
                }
            }
            None => out.extend(part.parse::<usize>().ok()),
        }
    }
    out
}

/// The cores containers may use here: the cpuset cgroup's (v1, then v2), else those online.
pub fn host_cores() -> Vec<usize> {
    [
        "/sys/fs/cgroup/cpuset/cpuset.effective_cpus",
        "/sys/fs/cgroup/cpuset.cpus.effective",
        "/sys/devices/system/cpu/online",
    ]
    .iter()
    .filter_map(|p| std::fs::read_to_string(p).ok())
    .map(|t| parse_cpu_list(&t))
    .find(|c| !c.is_empty())
    .unwrap_or_default()
}

/// Why Podman cannot enforce limits for this person, if it cannot: `unified` is whether
/// `/sys/fs/cgroup` is cgroup v2, `delegated` the controllers the person's cgroup may use.
pub fn unenforced(root: bool, unified: bool, delegated: &str) -> Option<&'static str> {
    if root {
        return None;
    }
    if !unified {
        return Some("rootless Podman cannot set limits on a cgroup v1 host");
    }
    let has = |c: &str| delegated.split_whitespace().any(|d| d == c);
    if !(has("memory") && has("cpu")) {
        return Some("the memory and cpu cgroup controllers are not delegated to you");
    }
    None
}

/// Is `/sys/fs/cgroup` cgroup v2 (unified), not v1 or hybrid?
pub fn cgroup2() -> bool {
    std::fs::read_to_string("/proc/self/mountinfo").is_ok_and(|m| {
        m.lines()
            .any(|l| l.contains(" /sys/fs/cgroup ") && l.contains(" - cgroup2 "))
    })
}

/// `unenforced` for this host and person.
pub fn host_unenforced() -> Option<&'static str> {
    let root = crate::person::is_root();
    if root {
        return None;
    }
    let unified = cgroup2();
    let uid = crate::person::uid();
    let delegated = std::fs::read_to_string(format!(
        "/sys/fs/cgroup/user.slice/user-{uid}.slice/user@{uid}.service/cgroup.controllers"
    ))
    .unwrap_or_default();
    unenforced(root, unified, &delegated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nproc_is_cpus_and_projects_spread_over_the_cores() {
        let cores: Vec<usize> = (0..8).collect();
        let one = cpuset(&cores, 2, "app-12345678").unwrap();
        assert_eq!(one.split(',').count(), 2);
        assert_eq!(cpuset(&cores, 2, "app-12345678").unwrap(), one, "stable");
        let starts: std::collections::BTreeSet<String> = (0..40)
            .map(|i| cpuset(&cores, 1, &format!("p{i}")).unwrap())
            .collect();
        assert!(starts.len() > 4, "spread: {starts:?}");
        assert_eq!(cpuset(&cores, 8, "x"), None, "all cores: no pin");
        assert_eq!(cpuset(&cores, 12, "x"), None);
        // offline or excluded cores are never picked
        let some = [1, 3, 5];
        for i in 0..20 {
            let s = cpuset(&some, 2, &format!("q{i}")).unwrap();
            assert!(s.split(',').all(|c| ["1", "3", "5"].contains(&c)), "{s}");
        }
    }

    #[test]
    fn cpu_lists_read_as_the_kernel_writes_them() {
        assert_eq!(parse_cpu_list("0-3,6,8-9\n"), vec![0, 1, 2, 3, 6, 8, 9]);
        assert_eq!(parse_cpu_list("0\n"), vec![0]);
        assert!(parse_cpu_list("").is_empty());
    }

    #[test]
    fn a_person_on_cgroup_v1_or_without_delegation_is_told() {
        assert_eq!(unenforced(true, false, ""), None);
        assert!(unenforced(false, false, "").unwrap().contains("cgroup v1"));
        assert!(unenforced(false, true, "cpuset io")
            .unwrap()
            .contains("not delegated"));
        assert_eq!(unenforced(false, true, "cpuset cpu io memory pids"), None);
    }
}
