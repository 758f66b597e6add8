//! What of the guest's own repository the guest may write: what git needs to commit, branch,
//! merge, rebase, stash, fetch and gc, and nothing else.
//!
//! The host runs git on this repository too (a `git fetch` of the guest's commits), and git
//! runs what the repository's `config` and `hooks/` say, follows `commondir`, `gitdir`,
//! `objects/info/alternates` and `worktrees/` to other repositories, and rewrites history after
//! `info/grafts` and `shallow`. Those stay as tmpl wrote them. What the guest writes is data
//! git reads as data: refs, reflogs, objects, the index, and the state files of an operation
//! in progress.
//!
//! An entry's `Area` follows from its folder's area and its name alone, so a rename is judged
//! by where the entry comes from and where it goes.

use super::names;

/// Where an inode of the repository is, for the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    /// The repository's own folder: only the entries `Area::child` allows may change.
    Root,
    /// `objects/`: loose object folders and `pack/` are the guest's, `info/` partly.
    Objects,
    /// `objects/info/`: the files git regenerates (`packs`, `commit-graph`), never
    /// `alternates` or `http-alternates`.
    ObjectsInfo,
    /// `info/`: only `refs`, the list of refs for dumb HTTP that every repack rewrites;
    /// never `exclude`, `attributes`, `grafts` or `sparse-checkout`.
    Info,
    /// Everything here and below may change.
    Writable,
    /// Nothing here or below may change.
    ReadOnly,
}

/// Files of the repository's folder git writes while it works, with or without `.lock`.
const ROOT_FILES: &[&str] = &[
    "HEAD",
    "ORIG_HEAD",
    "FETCH_HEAD",
    "CHERRY_PICK_HEAD",
    "REVERT_HEAD",
    "REBASE_HEAD",
    "AUTO_MERGE",
    "COMMIT_EDITMSG",
    "SQUASH_MSG",
    "TAG_EDITMSG",
    "index",
    "packed-refs",
    // pack-refs writes the new file beside the lock, and renames it
    "packed-refs.new",
    "gitk.cache",
    // `git gc` takes its lock in gc.pid and leaves a failed auto-gc's output in gc.log
    "gc.pid",
    "gc.log",
];

/// Families of such files: `MERGE_HEAD`, `MERGE_MSG`, `MERGE_MODE`, `MERGE_AUTOSTASH`;
/// `BISECT_LOG`, `BISECT_START`...; the temporary index of `git commit PATH`
/// (`next-index-PID.lock`) and of `git stash` (`index.stash.PID`).
const ROOT_PREFIXES: &[&str] = &["MERGE_", "BISECT_", "next-index-", "index.stash."];

/// Folders that are data through and through: refs, reflogs, and the state of a rebase,
/// `am` or cherry-pick in progress (made at its start, removed at its end).
const ROOT_DIRS: &[&str] = &["refs", "logs", "rebase-merge", "rebase-apply", "sequencer"];

fn lock_stripped(name: &[u8]) -> &[u8] {
    name.strip_suffix(b".lock").unwrap_or(name)
}

/// `packs_Ab12Cd` for `packs_`: the temporary file git renames over the real one.
fn is_temp_of(name: &[u8], prefix: &[u8]) -> bool {
    name.starts_with(prefix) && name.len() > prefix.len()
}

fn is_hex_pair(name: &[u8]) -> bool {
    name.len() == 2
        && name
            .iter()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
}

impl Area {
    /// The area of the entry `name` in a folder of this area.
    pub fn child(self, name: &[u8]) -> Area {
        // `git fetch DIR` enters DIR/.git before DIR: a `.git` anywhere in the repository
        // would be a repository of the guest's making.
        if names::is_dot_git(name) {
            return Area::ReadOnly;
        }
        match self {
            Area::Root => {
                if ROOT_DIRS.iter().any(|d| d.as_bytes() == name) {
                    return Area::Writable;
                }
                match name {
                    b"objects" => return Area::Objects,
                    b"info" => return Area::Info,
                    _ => {}
                }
                let file = lock_stripped(name);
                let listed = ROOT_FILES.iter().any(|f| f.as_bytes() == file)
                    || ROOT_PREFIXES
                        .iter()
                        .any(|p| file.starts_with(p.as_bytes()) && file.len() > p.len());
                if listed {
                    Area::Writable
                } else {
                    Area::ReadOnly
                }
            }
            Area::Objects => match name {
                b"pack" => Area::Writable,
                b"info" => Area::ObjectsInfo,
                _ if is_hex_pair(name) => Area::Writable,
                _ => Area::ReadOnly,
            },
            Area::ObjectsInfo => {
                // `packs` is rewritten through `packs_XXXXXX` (update-server-info, run by
                // repack); the split commit-graph lives in `commit-graphs/`.
                let file = lock_stripped(name);
                if file == b"packs"
                    || file == b"commit-graph"
                    || name == b"commit-graphs"
                    || is_temp_of(name, b"packs_")
                {
                    Area::Writable
                } else {
                    Area::ReadOnly
                }
            }
            // rewritten through `refs_XXXXXX` (update-server-info)
            Area::Info if name == b"refs" || is_temp_of(name, b"refs_") => Area::Writable,
            Area::Info => Area::ReadOnly,
            Area::Writable => Area::Writable,
            Area::ReadOnly => Area::ReadOnly,
        }
    }

    pub fn writable(self) -> bool {
        self == Area::Writable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The area of a path from the repository's folder.
    fn area(path: &str) -> Area {
        path.split('/')
            .fold(Area::Root, |a, name| a.child(name.as_bytes()))
    }

    #[test]
    fn what_git_writes_while_it_works_is_writable() {
        for p in [
            "HEAD",
            "HEAD.lock",
            "ORIG_HEAD",
            "FETCH_HEAD",
            "MERGE_HEAD",
            "MERGE_MSG",
            "MERGE_MODE",
            "MERGE_AUTOSTASH",
            "CHERRY_PICK_HEAD",
            "REVERT_HEAD",
            "REBASE_HEAD",
            "AUTO_MERGE",
            "BISECT_LOG",
            "COMMIT_EDITMSG",
            "SQUASH_MSG",
            "TAG_EDITMSG",
            "index",
            "index.lock",
            "next-index-1234.lock",
            "index.stash.99",
            "index.stash.99.lock",
            "packed-refs",
            "packed-refs.lock",
            "packed-refs.new",
            "gitk.cache",
            "gc.pid",
            "gc.pid.lock",
            "refs",
            "refs/heads/main",
            "refs/heads/feature/x.lock",
            "refs/remotes/origin/HEAD",
            "refs/stash",
            "logs",
            "logs/HEAD",
            "logs/refs/heads/main",
            "objects/ab",
            "objects/ab/cdef0123",
            "objects/ab/tmp_obj_XyZ123",
            "objects/pack",
            "objects/pack/pack-1.pack",
            "objects/pack/tmp_pack_abc",
            "objects/pack/multi-pack-index",
            "objects/info/packs",
            "objects/info/packs_Ab12Cd",
            "objects/info/commit-graph",
            "objects/info/commit-graph.lock",
            "objects/info/commit-graphs/graph-1.graph",
            "info/refs",
            "info/refs_Xy12Ab",
            "rebase-merge",
            "rebase-merge/done",
            "rebase-apply/0001",
            "sequencer/todo",
        ] {
            assert_eq!(area(p), Area::Writable, "{p}");
        }
    }

    #[test]
    fn what_git_runs_or_follows_is_read_only() {
        for p in [
            "config",
            "config.lock",
            "config.worktree",
            "hooks",
            "hooks/pre-commit",
            "hooks/post-update.sample",
            "info",
            "info/exclude",
            "info/sparse-checkout",
            "info/attributes",
            "info/grafts",
            "commondir",
            "gitdir",
            "shallow",
            "shallow.lock",
            "description",
            "modules/sub/config",
            "worktrees/w/HEAD",
            "objects/info",
            "objects/info/alternates",
            "objects/info/http-alternates",
            "objects/info/grafts",
            "objects/AB",
            "objects/abc",
            "objects/xy",
            "objects/pack2",
            "branches",
            "remotes/origin",
            "MERGE_",
            "index.stash.",
            "evil",
            "index2",
            "HEAD2",
        ] {
            assert_ne!(area(p), Area::Writable, "{p}");
        }
        assert_eq!(area("objects"), Area::Objects);
        assert_eq!(area("objects/info"), Area::ObjectsInfo);
        assert_eq!(area("info"), Area::Info);
    }

    #[test]
    fn no_dot_git_anywhere_in_the_repository() {
        for p in [
            ".git",
            ".GIT",
            "refs/.git",
            "refs/heads/.Git",
            "objects/ab/.git",
        ] {
            assert_eq!(area(p), Area::ReadOnly, "{p}");
        }
    }

    #[test]
    fn below_read_only_stays_read_only() {
        assert_eq!(area("hooks/refs/heads/main"), Area::ReadOnly);
        assert_eq!(area("modules/x/objects/ab/cd"), Area::ReadOnly);
    }
}
