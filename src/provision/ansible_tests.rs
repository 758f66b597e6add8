use super::*;
use crate::config::ProvisionKind;
use crate::provision::testing::Fixture;

const ENV: &str = "INFRA_TYPE=container\nMEMORY=512\nCPUS=1\nDISK=2\nGREETING=\"{{ lookup('pipe', 'id') }}\"\nA=first\nQUOTE='it\"s \\\\ here'\nA=second\n";

fn playbook() -> Provision {
    Provision {
        relative: "provision.yml".into(),
        path: "/p/provision.yml".into(),
        kind: ProvisionKind::Ansible,
    }
}

#[test]
fn the_inventory_reaches_the_guest_like_tmpl_ssh() {
    let fx = Fixture::new(ENV, "root");
    let inv = inventory(&fx.target());
    let alias = &fx.access.alias;
    assert!(inv.contains(&format!("    \"{alias}\":\n")), "{inv}");
    assert!(inv.contains("\"ansible_host\": !unsafe \"127.0.0.1\""));
    assert!(inv.contains("\"ansible_port\": 2222\n"));
    assert!(inv.contains("\"ansible_user\": !unsafe \"root\""));
    assert!(inv.contains(&format!(
        "\"ansible_ssh_private_key_file\": !unsafe \"{}\"",
        fx.access.key().display()
    )));
    for part in [
        format!("HostKeyAlias={alias}"),
        format!("UserKnownHostsFile={}", fx.access.known_hosts().display()),
        "StrictHostKeyChecking=accept-new".into(),
        format!("ControlPath={}", fx.access.control_path().display()),
    ] {
        assert!(inv.contains(&part), "{part} in {inv}");
    }
}

#[test]
fn vars_carry_every_value_as_unsafe_text() {
    let fx = Fixture::new(ENV, "root");
    let v = vars(&fx.target());
    assert!(v.contains("\"tmpl_infra_type\": !unsafe \"container\""));
    assert!(v.contains(&format!(
        "\"tmpl_project_dir\": !unsafe \"{}\"",
        fx.loaded.project.dir.display()
    )));
    assert!(v.contains("  \"GREETING\": !unsafe \"{{ lookup('pipe', 'id') }}\"\n"));
    assert!(
        v.contains("  \"A\": !unsafe \"second\"\n"),
        "last one wins: {v}"
    );
    assert_eq!(v.matches("\"A\":").count(), 1);
    assert!(v.contains(r#"  "QUOTE": !unsafe "it\"s \\\\ here""#), "{v}");
    // every value line is tagged, except the one nested mapping's key
    for l in v.lines().filter(|l| !l.starts_with('#')) {
        assert!(
            l.contains(": !unsafe \"") || l == "\"tmpl_env\":",
            "untagged: {l}"
        );
    }
}

fn watch(out: &str) -> Watch {
    let mut w = Watch::default();
    for l in out.lines() {
        w.line(l);
    }
    w
}

const FAILED_RUN: &str = r#"
PLAY [all] *********************************************************************

TASK [ok one] ******************************************************************
changed: [tmpl-exp-1]

TASK [ignored] *****************************************************************
fatal: [tmpl-exp-1]: FAILED! => {"changed": true, "msg": "non-zero return code", "rc": 1}
...ignoring

TASK [Fail when asked] *********************************************************
task path: /p/roles/x/tasks/main.yml:12
fatal: [tmpl-exp-1]: FAILED! => {"changed": true, "cmd": "exit 3", "msg": "non-zero return code", "rc": 3, "stderr": "err", "stderr_lines": ["err"], "stdout": "about to fail", "stdout_lines": ["about to fail"]}

PLAY RECAP *********************************************************************
tmpl-exp-1          : ok=2    changed=2    unreachable=0    failed=1    skipped=0
"#;

const PLAYBOOK: &str = "- hosts: all\n  tasks:\n    - name: ok one\n      command: \"true\"\n    - name: \"Fail when asked\"\n      shell: exit 3\n";

#[test]
fn a_failure_names_the_task_its_line_and_its_output() {
    let f = watch(FAILED_RUN).explain(Some(2), &playbook(), PLAYBOOK, Path::new("/p"));
    assert_eq!(f.code, code::PROVISION_FAILED);
    assert_eq!(f.message, "provisioning failed at task `Fail when asked`");
    assert_eq!(
        f.details,
        vec![
            "--> roles/x/tasks/main.yml:12 (ansible-playbook exit 2)",
            "| msg: non-zero return code",
            "| rc: 3",
            "| stdout: about to fail",
            "| stderr: err",
        ]
    );
    assert!(f.hint.unwrap().contains("`tmpl provision`"));

    // without Ansible's task path, the task is looked up in the playbook itself
    let no_path = FAILED_RUN.replace("task path: /p/roles/x/tasks/main.yml:12\n", "");
    let f = watch(&no_path).explain(Some(2), &playbook(), PLAYBOOK, Path::new("/p"));
    assert_eq!(
        f.details[0],
        "--> provision.yml:5 (ansible-playbook exit 2)"
    );
    // a path outside the project stays absolute
    let f = watch(FAILED_RUN).explain(Some(2), &playbook(), PLAYBOOK, Path::new("/q"));
    assert_eq!(
        f.details[0],
        "--> /p/roles/x/tasks/main.yml:12 (ansible-playbook exit 2)"
    );
}

#[test]
fn ignored_failures_handlers_loops_and_colour_are_understood() {
    let only_ignored = "TASK [x] ***\nfatal: [h]: FAILED! => {\"msg\": \"m\"}\n...ignoring\n";
    assert!(watch(only_ignored).failure.is_none());

    let handler = "\u{1b}[0;32mRUNNING HANDLER [web : restart nginx] ***\u{1b}[0m\n\u{1b}[0;31mfatal: [h]: FAILED! => {\"msg\": \"no nginx\"}\u{1b}[0m\n";
    let f = watch(handler).explain(Some(2), &playbook(), PLAYBOOK, Path::new("/p"));
    assert_eq!(
        f.message,
        "provisioning failed at task `web : restart nginx`"
    );
    assert_eq!(f.details[1], "| msg: no nginx");

    let loop_item = "TASK [Install] ***\nfailed: [h] (item=a) => {\"ansible_loop_var\": \"item\", \"item\": \"a\", \"msg\": \"bad a\"}\nok: [h] => (item=b)\n";
    let f = watch(loop_item).explain(Some(2), &playbook(), PLAYBOOK, Path::new("/p"));
    assert_eq!(f.message, "provisioning failed at task `Install`");
    assert_eq!(f.details[1], "| msg: bad a");

    let unreachable = "TASK [Gathering Facts] ***\nfatal: [h]: UNREACHABLE! => {\"changed\": false, \"msg\": \"Failed to connect to the host via ssh: timeout\", \"unreachable\": true}\n";
    let f = watch(unreachable).explain(Some(4), &playbook(), PLAYBOOK, Path::new("/p"));
    assert_eq!(
        f.message,
        "provisioning could not reach the guest over SSH at task `Gathering Facts`"
    );
}

#[test]
fn a_refused_playbook_shows_ansibles_error() {
    let out = "ERROR! couldn't resolve module/action 'nosuch.module'. This often indicates a misspelling.\n\nThe error appears to be in '/p/provision.yml': line 3, column 7, but may\nbe elsewhere in the file depending on the exact syntax problem.\n";
    let f = watch(out).explain(Some(4), &playbook(), PLAYBOOK, Path::new("/p"));
    assert_eq!(
        f.message,
        "ansible-playbook refused `provision.yml` before running any task (exit 4)"
    );
    assert!(f.details[0].starts_with("| ERROR! couldn't resolve module/action"));
    assert!(f.details.iter().any(|d| d.contains("line 3, column 7")));
}

#[test]
fn task_lines_are_found_in_the_playbook() {
    assert_eq!(task_line(PLAYBOOK, "ok one"), Some(3));
    assert_eq!(task_line(PLAYBOOK, "Fail when asked"), Some(5));
    assert_eq!(task_line(PLAYBOOK, "role : Fail when asked"), Some(5));
    assert_eq!(task_line(PLAYBOOK, "Gathering Facts"), None);
    assert_eq!(task_line("- name: 'quoted'\n", "quoted"), Some(1));
}

#[test]
fn colour_sequences_are_removed() {
    assert_eq!(strip_ansi("\u{1b}[1;31mfatal\u{1b}[0m: x"), "fatal: x");
    assert_eq!(strip_ansi("plain [x]"), "plain [x]");
}
