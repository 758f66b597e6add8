//! A `.yml`/`.yaml` `PROVISION_SCRIPT`: `ansible-playbook` on the host, against the guest.
//!
//! tmpl writes an inventory (the guest under its `tmpl-<slug>` alias, with the same address,
//! user, key, pinned `known_hosts` and control socket as `tmpl ssh`) and a vars file (the
//! project's values as `!unsafe` data, see `yaml`), both mode 0600 in the project's state dir.
//!
//! The playbook runs from its approved copy (see `trust`), in that copy's folder, so what
//! Ansible finds next to it (`ansible.cfg`, `group_vars`, roles, plugins) is the approved
//! bytes and never the project's files, which the guest can write. Its ssh reads tmpl's ssh
//! config (`-F`) instead of the person's own, so nothing there (`ForwardAgent yes`) reaches
//! the guest. The output streams live; `watch` reads it for what a failure names.

use super::watch::Watch;
use super::yaml::{unsafe_str, Map};
use super::Target;
use crate::config::Provision;
use crate::process::{shell_quote, Cmd};
use crate::ssh::write_private;
use anyhow::Result;
use std::io::IsTerminal;

/// The inventory: one host, reached exactly the way `tmpl ssh` reaches it.
pub fn inventory(t: &Target) -> String {
    let e = t.endpoint;
    let q = |p: &std::path::Path| shell_quote(&p.display().to_string());
    let ssh_args = format!(
        "-F {cfg} -o ForwardAgent=no -o ForwardX11=no -o IdentitiesOnly=yes -o HostKeyAlias={alias} -o UserKnownHostsFile={kh} -o StrictHostKeyChecking=accept-new -o ControlPath={cp} -o LogLevel=ERROR",
        cfg = q(&t.access.config()),
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
        .entry(0, "tmpl_ssh_alias", &unsafe_str(&t.access.alias))
        .entry(
            0,
            "tmpl_playbooks",
            &unsafe_str(
                &t.loaded
                    .id
                    .state_dir
                    .join("provision/playbooks")
                    .display()
                    .to_string(),
            ),
        );
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

/// The playbooks that ship with tmpl, for `import_playbook: "{{ tmpl_playbooks }}/NAME"`.
pub const SHIPPED: &[(&str, &str)] =
    &[("dev-base.yml", include_str!("../../ansible/dev-base.yml"))];

/// Writes the shipped playbooks into `dir` (tmpl's own bytes, never the project's).
fn write_shipped(dir: &std::path::Path) -> Result<()> {
    crate::ssh::private_dir(dir)?;
    for (name, text) in SHIPPED {
        write_private(&dir.join(name), text.as_bytes())?;
    }
    Ok(())
}

/// Runs the playbook; a failure is exit 10, naming the task.
pub fn run(t: &Target, playbook: &Provision, approved: &crate::trust::Copied) -> Result<()> {
    let dir = t.work_dir()?;
    let inv = dir.join("inventory.yml");
    let vars_file = dir.join("vars.yml");
    write_shipped(&dir.join("playbooks"))?;
    write_private(&inv, inventory(t).as_bytes())?;
    write_private(&vars_file, vars(t).as_bytes())?;
    let mut cmd = Cmd::new("ansible-playbook")
        .arg("-i")
        .arg(&inv)
        .arg("-e")
        .arg(format!("@{}", vars_file.display()))
        .arg(&approved.script)
        .dir(&approved.dir)
        // host-side steps (`fetch`, `template` to localhost, a shell redirect) write into the
        // project folder or fail: never through a link the guest planted there
        .without_symlinks_in(&t.loaded.project.dir)
        // tmpl pins each guest's host key in its own known_hosts (accept-new); a user's
        // `host_key_checking = False` would turn that into "accept anything".
        .env("ANSIBLE_HOST_KEY_CHECKING", "True")
        .env("ANSIBLE_RETRY_FILES_ENABLED", "False")
        // `task path: FILE:LINE` before a failure, which the error then names
        .env("ANSIBLE_SHOW_TASK_PATH_ON_FAILURE", "True")
        .env("PYTHONUNBUFFERED", "1");
    // Ansible reads `./ansible.cfg` from the folder it runs in: the approved copy's own
    let cfg = approved.dir.join("ansible.cfg");
    if cfg.is_file() {
        cmd = cmd.env("ANSIBLE_CONFIG", &cfg);
    }
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
    crate::ssh::ensure_control_dir()?;
    let mut watch = Watch::default();
    let status = cmd.stream_with(|line| watch.line(line))?;
    if status == Some(0) {
        return Ok(());
    }
    let text = std::fs::read_to_string(&approved.script).unwrap_or_default();
    Err(watch.explain(status, playbook, &text, approved).into())
}

#[cfg(test)]
#[path = "ansible_tests.rs"]
mod tests;
