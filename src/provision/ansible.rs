//! A `.yml`/`.yaml` `PROVISION_SCRIPT`: `ansible-playbook` on the host, against the guest.
//!
//! tmpl writes an inventory (the guest under its `tmpl-<slug>` alias, with the same address,
//! user, key, pinned `known_hosts` and control socket as `tmpl ssh`) and a vars file (the
//! project's values as `!unsafe` data, see `yaml`), both mode 0600 in the project's state dir,
//! and runs the playbook from the project folder so a project `ansible.cfg` applies. The
//! output streams live; it is also watched for the last `TASK [...]` before a `fatal:` line,
//! which is what a failure names.

use super::yaml::{unsafe_str, Map};
use super::{detail_lines, left_running, Target};
use crate::config::Provision;
use crate::error::{code, Failure};
use crate::process::{shell_quote, Cmd};
use crate::ssh::write_private;
use anyhow::Result;
use std::collections::VecDeque;
use std::io::IsTerminal;
use std::path::Path;

/// Lines of output kept for a failure that names no task.
const TAIL: usize = 15;

/// The inventory: one host, reached exactly the way `tmpl ssh` reaches it.
pub fn inventory(t: &Target) -> String {
    let e = t.endpoint;
    let q = |p: &std::path::Path| shell_quote(&p.display().to_string());
    let ssh_args = format!(
        "-o IdentitiesOnly=yes -o HostKeyAlias={alias} -o UserKnownHostsFile={kh} -o StrictHostKeyChecking=accept-new -o ControlPath={cp} -o LogLevel=ERROR",
        alias = t.access.alias,
        kh = q(&t.access.known_hosts()),
        cp = q(&t.access.control_path()),
    );
    let mut m = Map::default();
    m.open(0, "all").open(1, "hosts").open(2, &t.access.alias);
    m.entry(3, "ansible_host", &unsafe_str(&e.host))
        .entry(3, "ansible_port", &e.port.to_string())
        .entry(3, "ansible_user", &unsafe_str(&e.user))
        .entry(
            3,
            "ansible_ssh_private_key_file",
            &unsafe_str(&e.identity.display().to_string()),
        )
        .entry(3, "ansible_ssh_common_args", &unsafe_str(&ssh_args))
        .entry(
            3,
            "ansible_python_interpreter",
            &unsafe_str("/usr/bin/python3"),
        );
    m.finish("# Written by tmpl before each provisioning run: the project's guest, reached like `tmpl ssh`.\n")
}

/// The vars file for `-e @file`: facts about the project and every `.env` entry, all as text
/// Ansible never templates.
pub fn vars(t: &Target) -> String {
    let l = t.loaded;
    let mut env: Vec<(&str, &str)> = Vec::new();
    for e in &l.project.env.entries {
        // dotenv semantics: the last assignment wins, at the place of the first
        match env.iter_mut().find(|(k, _)| *k == e.key) {
            Some(slot) => slot.1 = &e.value,
            None => env.push((&e.key, &e.value)),
        }
    }
    let mut m = Map::default();
    m.entry(0, "tmpl_project", &unsafe_str(&l.id.name))
        .entry(0, "tmpl_slug", &unsafe_str(&l.id.slug))
        .entry(
            0,
            "tmpl_infra_type",
            &unsafe_str(&l.config.infra_type.to_string()),
        )
        .entry(
            0,
            "tmpl_project_dir",
            &unsafe_str(&l.project.dir.display().to_string()),
        )
        .entry(0, "tmpl_ssh_alias", &unsafe_str(&t.access.alias));
    if env.is_empty() {
        m.entry(0, "tmpl_env", "{}");
    } else {
        m.open(0, "tmpl_env");
        for (k, v) in env {
            m.entry(1, k, &unsafe_str(v));
        }
    }
    m.finish("# Written by tmpl for `ansible-playbook -e @vars.yml`: the project's values as data.\n# Every string is !unsafe, so Ansible never evaluates a {{ }} inside a value.\n")
}

/// Runs the playbook; a failure is exit 10, naming the task.
pub fn run(t: &Target, playbook: &Provision) -> Result<()> {
    let dir = t.work_dir()?;
    let inv = dir.join("inventory.yml");
    let vars_file = dir.join("vars.yml");
    write_private(&inv, inventory(t).as_bytes())?;
    write_private(&vars_file, vars(t).as_bytes())?;
    let mut cmd = Cmd::new("ansible-playbook")
        .arg("-i")
        .arg(&inv)
        .arg("-e")
        .arg(format!("@{}", vars_file.display()))
        .arg(&playbook.path)
        .dir(&t.loaded.project.dir)
        // tmpl pins each guest's host key in its own known_hosts (accept-new); a user's
        // `host_key_checking = False` would turn that into "accept anything".
        .env("ANSIBLE_HOST_KEY_CHECKING", "True")
        .env("ANSIBLE_RETRY_FILES_ENABLED", "False")
        // `task path: FILE:LINE` before a failure, which the error then names
        .env("ANSIBLE_SHOW_TASK_PATH_ON_FAILURE", "True")
        .env("PYTHONUNBUFFERED", "1");
    // Pipelining saves a round trip per task; a user who set it either way keeps theirs.
    if std::env::var_os("ANSIBLE_PIPELINING").is_none() {
        cmd = cmd.env("ANSIBLE_PIPELINING", "True");
    }
    // Ansible sees a pipe, not the terminal; keep its colours when the user would see them.
    let colour = std::io::stderr().is_terminal()
        && !matches!(std::env::var_os("NO_COLOR"), Some(v) if !v.is_empty());
    if colour {
        cmd = cmd.env("ANSIBLE_FORCE_COLOR", "1");
    }
    for (k, v) in t.host_env() {
        cmd = cmd.env(k, v);
    }
    crate::ssh::private_dir(&crate::ssh::control_dir())?;
    let mut watch = Watch::default();
    let status = cmd.stream_with(|line| watch.line(line))?;
    if status == Some(0) {
        return Ok(());
    }
    let text = std::fs::read_to_string(&playbook.path).unwrap_or_default();
    Err(watch
        .explain(status, playbook, &text, &t.loaded.project.dir)
        .into())
}

/// A `fatal:`/`failed:` line and the task it belongs to.
#[derive(Debug, Clone, Default)]
struct Failed {
    task: String,
    /// `FILE:LINE`, from Ansible's `task path:` line.
    path: Option<String>,
    line: String,
}

/// What the streamed output said, kept for the error.
#[derive(Debug, Default)]
pub struct Watch {
    current: Failed,
    /// The last failure not ignored, and the one before it (for `...ignoring`).
    failure: Option<Failed>,
    before: Option<Failed>,
    /// From the first `ERROR!` on: Ansible refused the playbook before running it.
    error: Vec<String>,
    tail: VecDeque<String>,
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
            if self.tail.len() == TAIL {
                self.tail.pop_front();
            }
            self.tail.push_back(line.trim_end().to_owned());
        }
    }

    /// The error for a run that ended with `exit`; `text` is the playbook's, `project` the
    /// folder that task paths are shown relative to.
    pub fn explain(
        &self,
        exit: Option<i32>,
        playbook: &Provision,
        text: &str,
        project: &Path,
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
                    .strip_prefix(project)
                    .map_or_else(|_| p.clone(), |r| r.display().to_string()),
                None => task_line(text, task).map_or_else(|| rel.clone(), |n| format!("{rel}:{n}")),
            };
            let mut f = Failure::new(code::PROVISION_FAILED, format!("{what} at task `{task}`"))
                .detail(format!("--> {place} (ansible-playbook {how})"));
            for d in fatal_details(&failed.line) {
                f = f.detail(format!("| {d}"));
            }
            f
        } else if !self.error.is_empty() {
            let mut f = Failure::new(
                code::PROVISION_FAILED,
                format!("ansible-playbook refused `{rel}` before running any task ({how})"),
            );
            for d in &self.error {
                f = f.detail(format!("| {d}"));
            }
            f
        } else {
            let mut f = Failure::new(
                code::PROVISION_FAILED,
                format!("provisioning with `{rel}` failed (ansible-playbook {how})"),
            );
            for d in &self.tail {
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
#[path = "ansible_tests.rs"]
mod tests;
