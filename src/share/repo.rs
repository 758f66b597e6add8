//! The guest's own git repository. The guest never sees the person's `.git`: at
//! `<project>/.git` it finds a repository of its own, kept by tmpl in the project's state
//! (`<state>/git`) and served by the file server, where it can commit, branch, diff and log.
//! Its config and hooks are tmpl's (the server keeps them read-only for the guest), so the
//! one thing on the host that ever reads it, tmpl's own `git fetch`, runs nothing the guest
//! wrote.
//!
//! - `seed`: the first time, a clone of the person's repository (all branches, as the
//!   guest's own `refs/heads/*`), or an empty repository when the folder has none; the index
//!   is made from HEAD's tree alone, never from the folder's files, which the guest may
//!   already have written.
//! - `refresh`: at every `up`, the person's branches as `refs/remotes/host/*`, so the agent
//!   sees what the person did meanwhile.
//! - `fetch` (`tmpl fetch`): the guest's branches into the person's repository as
//!   `refs/remotes/tmpl/*`, objects checked as from any remote, for the person to review
//!   (`git log main..tmpl/main`, `git diff main tmpl/main`) and merge.
//!
//! git runs here with no system or global config of the person's (`GIT_CONFIG_NOSYSTEM`,
//! `GIT_CONFIG_GLOBAL=/dev/null`), hooks off and automatic maintenance off: tmpl's steps do
//! exactly what they say.

use crate::error::{ExitStatus, Failure};
use crate::process::Cmd;
use anyhow::Result;
use std::path::Path;

/// Where the guest's repository of a project is kept: in its state, never in the folder.
pub fn gitdir(state_dir: &Path) -> std::path::PathBuf {
    state_dir.join("git")
}

/// git, cut off from every config and hook that is not the repository's own.
fn git() -> Cmd {
    Cmd::new("git")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .args(["-c", "core.hooksPath=/dev/null"])
        .args(["-c", "gc.auto=0", "-c", "maintenance.auto=false"])
        .args(["-c", "core.fsmonitor=false"])
}

/// Is `dir` a git repository of the person's (its own top, not one above it)?
pub fn is_repo(dir: &Path) -> bool {
    std::fs::symlink_metadata(dir.join(".git")).is_ok_and(|m| m.is_dir())
}

/// The person's name and email from their own git config, for the guest's commits.
fn identity(project: &Path) -> Vec<(String, String)> {
    ["user.name", "user.email"]
        .into_iter()
        .filter_map(|k| {
            let v = Cmd::new("git")
                .arg("-C")
                .arg(project)
                .args(["config", "--get", k])
                .read()
                .ok()?;
            let v = v.trim();
            (!v.is_empty()).then(|| (k.to_owned(), v.to_owned()))
        })
        .collect()
}

/// Makes the guest's repository at `gitdir` if it is not there: a clone of `project`'s, or
/// an empty one. Returns whether it made one.
pub fn seed(project: &Path, gitdir: &Path) -> Result<bool> {
    if gitdir.join("HEAD").is_file() {
        return Ok(false);
    }
    let _ = std::fs::remove_dir_all(gitdir);
    if is_repo(project) {
        // over the pack protocol (`--no-local`): objects are copied, never hard-linked to the
        // person's, which the guest could then change in place
        git()
            .args(["clone", "--quiet", "--bare", "--no-local", "--no-hardlinks"])
            .arg(project)
            .arg(gitdir)
            .read()
            .map_err(|e| failed("cannot copy the project's repository for the guest", e))?;
        git()
            .arg("--git-dir")
            .arg(gitdir)
            .args(["remote", "remove", "origin"])
            .read()?;
    } else {
        git()
            .args(["init", "--quiet", "--bare", "--initial-branch=main"])
            .arg(gitdir)
            .read()
            .map_err(|e| failed("cannot make a repository for the guest", e))?;
    }
    let cfg = |k: &str, v: &str| {
        git()
            .arg("--git-dir")
            .arg(gitdir)
            .args(["config", k, v])
            .read()
    };
    // the guest's working tree is the shared folder its `.git` sits in
    cfg("core.bare", "false")?;
    cfg("core.logAllRefUpdates", "true")?;
    for (k, v) in identity(project) {
        cfg(&k, &v)?;
    }
    // hooks and exclude files git writes at init are tmpl's, and empty
    let _ = std::fs::remove_dir_all(gitdir.join("hooks"));
    std::fs::create_dir_all(gitdir.join("hooks"))?;
    if gitdir
        .join("refs/heads")
        .read_dir()
        .is_ok_and(|mut d| d.next().is_some())
    {
        git()
            .arg("--git-dir")
            .arg(gitdir)
            .args(["read-tree", "HEAD"])
            .read()?;
    }
    Ok(true)
}

/// The person's branches, now, as the guest's `refs/remotes/host/*`.
pub fn refresh(project: &Path, gitdir: &Path) -> Result<()> {
    if !is_repo(project) || !gitdir.join("HEAD").is_file() {
        return Ok(());
    }
    git()
        .arg("--git-dir")
        .arg(gitdir)
        .args([
            "fetch",
            "--quiet",
            "--no-tags",
            "--prune",
            "--no-write-fetch-head",
        ])
        .arg(project)
        .arg("+refs/heads/*:refs/remotes/host/*")
        .read()
        .map_err(|e| failed("cannot bring the project's branches to the guest", e))?;
    Ok(())
}

/// The guest's branches into the person's repository as `refs/remotes/tmpl/*`; returns what
/// git said.
pub fn fetch(project: &Path, gitdir: &Path) -> Result<String> {
    if !is_repo(project) {
        return Err(Failure::new(
            ExitStatus::Failure,
            format!("{} is not a git repository", project.display()),
        )
        .hint("`git init` it first; the guest's commits then come here with `tmpl fetch`")
        .into());
    }
    if !gitdir.join("HEAD").is_file() {
        return Err(
            Failure::new(ExitStatus::Failure, "the guest has no repository yet")
                .hint("`tmpl up` makes it")
                .into(),
        );
    }
    // the person's own git, in the person's own repository: only the objects coming in are
    // the guest's, and they are checked as from any remote
    Cmd::new("git")
        .arg("-C")
        .arg(project)
        .args([
            "-c",
            "transfer.fsckObjects=true",
            "-c",
            "protocol.file.allow=always",
        ])
        .args(["fetch", "--no-tags", "--prune", "--no-write-fetch-head"])
        .arg(gitdir)
        .arg("+refs/heads/*:refs/remotes/tmpl/*")
        .output()
        .and_then(|o| {
            if o.success() {
                Ok(o.stderr)
            } else {
                Err(failed(
                    "cannot fetch the guest's commits",
                    anyhow::anyhow!("{}", o.stderr.trim()),
                ))
            }
        })
}

fn failed(what: &str, e: anyhow::Error) -> anyhow::Error {
    Failure::new(ExitStatus::Failure, what.to_owned())
        .detail(format!("| {e:#}"))
        .into()
}
