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
use crate::error::{code, Failure};
use crate::process::shell_quote;
use anyhow::{Context as _, Result};
use std::collections::VecDeque;

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

/// The `sh -c` program run as root in the guest; it reads the script from stdin.
pub fn wrapper(t: &Target, has_shebang: bool, trace: bool) -> String {
    let mut w = format!(
        "set -eu\nd={GUEST_DIR}\nmkdir -p \"$d\"\nchmod 700 \"$d\"\ncat > \"$d/script\"\nchmod 700 \"$d/script\"\nrm -f \"$d/trace\"\nTMPL_PROJECT={}\nTMPL_INFRA_TYPE={}\nexport TMPL_PROJECT TMPL_INFRA_TYPE\n",
        shell_quote(&t.loaded.id.name),
        shell_quote(&t.loaded.config.infra_type.to_string()),
    );
    if trace {
        w.push_str(&format!(
            "cat > \"$d/bash-env\" <<'TMPL_EOF'\n{}TMPL_EOF\nBASH_ENV=\"$d/bash-env\"\nexport BASH_ENV\n",
            bash_hook(&format!("{GUEST_DIR}/trace"))
        ));
    }
    w.push_str(if has_shebang {
        "exec \"$d/script\" </dev/null\n"
    } else {
        "exec /bin/sh \"$d/script\" </dev/null\n"
    });
    w
}

/// What bash reads through `BASH_ENV` before the script: trace every command, with the file
/// and line it comes from, to `trace` instead of stderr. `unset BASH_ENV` first, so bash
/// scripts that the script runs are not traced into the same file.
pub fn bash_hook(trace: &str) -> String {
    format!(
        "unset BASH_ENV\nexec 9>{trace}\nBASH_XTRACEFD=9\nPS4='+[tmpl ${{BASH_SOURCE}}:${{LINENO}}] '\nset -x\n"
    )
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
    let argv = as_root(t, &["sh", "-c", &wrapper(t, interp.is_some(), trace)]);
    let mut tail: VecDeque<String> = VecDeque::new();
    let status = t
        .access
        .command(&argv, false)?
        .stdin_file(path)
        .stream_with(|line| {
            if tail.len() == TAIL {
                tail.pop_front();
            }
            tail.push_back(line.to_owned());
        })?;
    if status == Some(0) {
        return Ok(());
    }
    let at = if trace { failing_line(t) } else { None };
    Err(explain(p, &bytes, status, at, trace, Vec::from(tail)).into())
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
            code::PROVISION_FAILED,
            format!("provisioning script `{rel}` failed at line {n} ({how})"),
        ),
        None => Failure::new(
            code::PROVISION_FAILED,
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
