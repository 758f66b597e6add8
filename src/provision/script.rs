//! Any other `PROVISION_SCRIPT`: copied into the guest and run there as root.
//!
//! One SSH session does it all: the script arrives on stdin, a small `sh` wrapper (through
//! `sudo -n` when the login user is not root) stores it as `/var/lib/tmpl/provision/script`
//! and executes it, so its shebang picks the interpreter (`/bin/sh` when it has none). It
//! runs with stdin at `/dev/null`, so nothing waits for input, and it stays in the guest for
//! inspection.
//!
//! The failing line: a bash script (its shebang names `bash`) runs with `BASH_ENV` pointing
//! at a file that turns on `set -x` with the trace written to a file of its own
//! (`BASH_XTRACEFD`), each line prefixed with the script's line number. The output the user
//! sees is unchanged; on failure the last traced command of the script itself is the line
//! that failed (with `set -e`) or the `exit` that ended it. Other interpreters have no such
//! hook, so their failures show the exit code and the last lines of output.

use super::{detail_lines, left_running, Target};
use crate::config::Provision;
use crate::error::{ExitStatus, Failure};
use anyhow::{Context as _, Result};

/// Where the script and its trace live in the guest (root only).
pub const GUEST_DIR: &str = "/var/lib/tmpl/provision";
/// Lines of output a failure shows.
const TAIL: usize = 12;

/// The interpreter named by a `#!` line, looking through `/usr/bin/env [-S] [VAR=x]`.
pub fn interpreter(script: &[u8]) -> Option<String> {
    let first = script.split(|b| *b == b'\n').next()?;
    let line = String::from_utf8_lossy(first.strip_prefix(b"#!")?).into_owned();
    let mut words = line.split_whitespace();
    let base = |w: &str| w.rsplit('/').next().unwrap_or(w).to_owned();
    let first = base(words.next()?);
    if first != "env" {
        return Some(first);
    }
    words
        .find(|w| !w.starts_with('-') && !w.contains('='))
        .map(base)
}

/// What runs as root in the guest around the script (see the file's own comment).
pub const WRAPPER: &str = include_str!("wrapper.sh");

/// The `sh -c` command line run as root in the guest; it reads the script from stdin.
pub fn wrapper_argv(t: &Target, has_shebang: bool, trace: bool) -> Vec<String> {
    let yes = |b: bool| if b { "yes" } else { "no" }.to_owned();
    vec![
        "sh".into(),
        "-c".into(),
        WRAPPER.into(),
        "tmpl".into(),
        t.loaded.id.name.clone(),
        t.loaded.config.infra_type.to_string(),
        yes(has_shebang),
        yes(trace),
    ]
}

/// `["sudo", "-n", ...]` when the login user is not root.
fn as_root(t: &Target, argv: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    if t.endpoint.user != "root" {
        v.extend(["sudo", "-n", "--"].map(String::from));
    }
    v.extend(argv.iter().map(|s| s.to_string()));
    v
}

pub fn run(t: &Target, p: &Provision, approved: &crate::trust::Copied) -> Result<()> {
    // the approved copy, read once: its bytes are what the guest gets
    let path = &approved.script;
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let interp = interpreter(&bytes);
    let trace = interp.as_deref() == Some("bash");
    let wrapped = wrapper_argv(t, interp.is_some(), trace);
    let argv = as_root(t, &wrapped.iter().map(String::as_str).collect::<Vec<_>>());
    let mut tail = crate::process::Tail::new(TAIL);
    let status = t
        .access
        .command(&argv, false)?
        .stdin_file(path)
        .stream_with(|line| {
            tail.push(line);
        })?;
    if status == Some(0) {
        return Ok(());
    }
    let at = if trace { failing_line(t) } else { None };
    Err(explain(p, &bytes, status, at, trace, tail.lines()).into())
}

/// The last line of the script itself in the guest's trace: (line number, traced command).
fn failing_line(t: &Target) -> Option<(usize, String)> {
    let trace = format!("{GUEST_DIR}/trace");
    let argv = as_root(t, &["tail", "-n", "200", &trace]);
    let out = t.access.command(&argv, false).ok()?.output().ok()?;
    last_traced(&out.stdout, &format!("{GUEST_DIR}/script"))
}

/// Parses `+[tmpl <file>:<line>] <command>` trace lines (one `+` per nesting level).
pub fn last_traced(trace: &str, file: &str) -> Option<(usize, String)> {
    let prefix = format!("[tmpl {file}:");
    trace.lines().rev().find_map(|l| {
        let rest = l.trim_start_matches('+').strip_prefix(&prefix)?;
        let (n, cmd) = rest.split_once("] ")?;
        Some((n.parse().ok()?, cmd.to_owned()))
    })
}

pub fn explain(
    p: &Provision,
    script: &[u8],
    exit: Option<i32>,
    at: Option<(usize, String)>,
    traced: bool,
    tail: Vec<String>,
) -> Failure {
    let rel = p.relative.display().to_string();
    let how = exit.map_or("killed by a signal".into(), |c| format!("exit {c}"));
    let mut f = match &at {
        Some((n, _)) => Failure::new(
            ExitStatus::ProvisionFailed,
            format!("provisioning script `{rel}` failed at line {n} ({how})"),
        ),
        None => Failure::new(
            ExitStatus::ProvisionFailed,
            format!("provisioning script `{rel}` failed ({how})"),
        ),
    };
    match &at {
        Some((n, cmd)) => {
            let text = String::from_utf8_lossy(script);
            let source = text.lines().nth(n - 1).unwrap_or("").trim();
            f = f.detail(format!("--> {rel}:{n}  {source}"));
            if cmd.trim() != source {
                f = f.detail(format!("    ran: {cmd}"));
            }
        }
        None if traced => f = f.detail(format!("--> {rel} (no line of the script was traced)")),
        None => {
            f = f.detail(format!(
                "--> {rel} (line numbers are reported for bash scripts only)"
            ))
        }
    }
    for l in detail_lines(tail.iter().filter(|l| !l.trim().is_empty())) {
        f = f.detail(format!("| {l}"));
    }
    left_running(f)
}

#[cfg(test)]
#[path = "script_tests.rs"]
mod tests;
