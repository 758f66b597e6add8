//! Reading `ansible-playbook`'s output as it streams, for the error when it fails: the last
//! `TASK [...]` (or handler) before a `fatal:`/`failed:` line that was not `...ignoring`,
//! Ansible's `task path: FILE:LINE` for it, and the useful fields of its JSON result. A
//! playbook Ansible refuses outright (`ERROR! ...`) is shown from that line on.

use super::{detail_lines, left_running};
use crate::config::Provision;
use crate::error::{ExitStatus, Failure};
use crate::process::Tail;
use std::path::Path;

/// Lines of output kept for a failure that names no task.
const TAIL: usize = 15;

/// A `fatal:`/`failed:` line and the task it belongs to.
#[derive(Debug, Clone, Default)]
struct Failed {
    task: String,
    /// `FILE:LINE`, from Ansible's `task path:` line.
    path: Option<String>,
    line: String,
}

/// What the streamed output said, kept for the error.
#[derive(Debug)]
pub struct Watch {
    current: Failed,
    /// The last failure not ignored, and the one before it (for `...ignoring`).
    failure: Option<Failed>,
    before: Option<Failed>,
    /// From the first `ERROR!` on: Ansible refused the playbook before running it.
    error: Vec<String>,
    tail: Tail,
}

impl Default for Watch {
    fn default() -> Watch {
        Watch {
            current: Failed::default(),
            failure: None,
            before: None,
            error: Vec::new(),
            tail: Tail::new(TAIL),
        }
    }
}

impl Watch {
    pub fn line(&mut self, raw: &str) {
        let line = strip_ansi(raw);
        let l = line.trim();
        if let Some(rest) = l
            .strip_prefix("TASK [")
            .or_else(|| l.strip_prefix("RUNNING HANDLER ["))
        {
            self.current = Failed {
                task: rest
                    .rfind(']')
                    .map(|i| rest[..i].to_owned())
                    .unwrap_or_default(),
                ..Failed::default()
            };
        } else if let Some(path) = l.strip_prefix("task path: ") {
            self.current.path = Some(path.to_owned());
        } else if l.starts_with("fatal: [") || l.starts_with("failed: [") {
            let failed = Failed {
                line: l.to_owned(),
                ..self.current.clone()
            };
            self.before = self.failure.replace(failed);
        } else if l == "...ignoring" {
            self.failure = self.before.take();
        } else if l.starts_with("ERROR!") || (!self.error.is_empty() && self.error.len() < TAIL) {
            self.error.push(line.trim_end().to_owned());
        }
        if !l.is_empty() {
            self.tail.push(line.trim_end());
        }
    }

    /// The error for a run that ended with `exit`; `text` is the playbook's. Task paths in
    /// the approved copy are shown as the project's files they were copied from.
    pub fn explain(
        &self,
        exit: Option<i32>,
        playbook: &Provision,
        text: &str,
        copied: &crate::trust::Copied,
    ) -> Failure {
        let rel = playbook.relative.display().to_string();
        let how = exit.map_or("killed by a signal".into(), |c| format!("exit {c}"));
        let f = if let Some(failed) = &self.failure {
            let what = if failed.line.contains("UNREACHABLE!") {
                "provisioning could not reach the guest over SSH"
            } else {
                "provisioning failed"
            };
            let task = &failed.task;
            let place = match &failed.path {
                Some(p) => Path::new(p)
                    .strip_prefix(&copied.dir)
                    .map_or_else(|_| p.clone(), |r| copied.root.join(r).display().to_string()),
                None => task_line(text, task).map_or_else(|| rel.clone(), |n| format!("{rel}:{n}")),
            };
            let mut f = Failure::new(
                ExitStatus::ProvisionFailed,
                format!("{what} at task `{task}`"),
            )
            .detail(format!("--> {place} (ansible-playbook {how})"));
            for d in fatal_details(&failed.line) {
                f = f.detail(format!("| {d}"));
            }
            f
        } else if !self.error.is_empty() {
            let mut f = Failure::new(
                ExitStatus::ProvisionFailed,
                format!("ansible-playbook refused `{rel}` before running any task ({how})"),
            );
            for d in &self.error {
                f = f.detail(format!("| {d}"));
            }
            f
        } else {
            let mut f = Failure::new(
                ExitStatus::ProvisionFailed,
                format!("provisioning with `{rel}` failed (ansible-playbook {how})"),
            );
            for d in &self.tail.lines() {
                f = f.detail(format!("| {d}"));
            }
            f
        };
        left_running(f)
    }
}

/// The 1-based line of `- name: <task>` in the playbook, when the task is written there (a
/// role's `role : task` is looked up by its task part, and found only if it is in this file).
pub fn task_line(playbook: &str, task: &str) -> Option<usize> {
    let name = task.rsplit(" : ").next().unwrap_or(task).trim();
    playbook
        .lines()
        .position(|l| {
            let l = l.trim_start().trim_start_matches("- ").trim_start();
            l.strip_prefix("name:").is_some_and(|v| {
                let v = v.trim();
                v == name || v.trim_matches('"') == name || v.trim_matches('\'') == name
            })
        })
        .map(|i| i + 1)
}

/// The useful fields of a `fatal: [...]: FAILED! => {json}` line, or the line itself.
fn fatal_details(fatal: &str) -> Vec<String> {
    let json = fatal
        .split_once("=> ")
        .and_then(|(_, j)| serde_json::from_str::<serde_json::Value>(j).ok());
    let Some(v) = json else {
        return detail_lines([fatal]);
    };
    let mut out = Vec::new();
    if let Some(m) = v.get("msg").and_then(|m| m.as_str()) {
        out.push(format!("msg: {m}"));
    }
    if let Some(rc) = v.get("rc") {
        out.push(format!("rc: {rc}"));
    }
    for key in ["stdout_lines", "stderr_lines"] {
        let lines: Vec<&str> = v
            .get(key)
            .and_then(|l| l.as_array())
            .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
            .unwrap_or_default();
        let label = key.trim_end_matches("_lines");
        let skip = lines.len().saturating_sub(8);
        out.extend(lines[skip..].iter().map(|l| format!("{label}: {l}")));
    }
    for key in ["module_stdout", "module_stderr"] {
        if let Some(s) = v.get(key).and_then(|s| s.as_str()) {
            let lines: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
            let skip = lines.len().saturating_sub(8);
            out.extend(lines[skip..].iter().map(|l| format!("{key}: {l}")));
        }
    }
    if out.is_empty() {
        out.push(fatal.to_owned());
    }
    detail_lines(out)
}

/// Removes terminal colour sequences (`ESC [ ... letter`), present when colour is forced.
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
#[path = "watch_tests.rs"]
mod tests;
