use super::*;
use crate::config::ProvisionKind;

fn playbook() -> Provision {
    Provision {
        relative: "provision.yml".into(),
        path: "/p/provision.yml".into(),
        kind: ProvisionKind::Ansible,
    }
}

/// The approved copy at `dir`, of the project folder `provision/`.
fn copied(dir: &str) -> crate::trust::Copied {
    crate::trust::Copied {
        script: Path::new(dir).join("provision.yml"),
        dir: dir.into(),
        root: "provision".into(),
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
    let f = watch(FAILED_RUN).explain(Some(2), &playbook(), PLAYBOOK, &copied("/p"));
    assert_eq!(f.code, ExitStatus::ProvisionFailed);
    assert_eq!(f.message, "provisioning failed at task `Fail when asked`");
    assert_eq!(
        f.details,
        vec![
            "--> provision/roles/x/tasks/main.yml:12 (ansible-playbook exit 2)",
            "| msg: non-zero return code",
            "| rc: 3",
            "| stdout: about to fail",
            "| stderr: err",
        ]
    );
    assert!(f.hint.unwrap().contains("`tmpl provision`"));

    // without Ansible's task path, the task is looked up in the playbook itself
    let no_path = FAILED_RUN.replace("task path: /p/roles/x/tasks/main.yml:12\n", "");
    let f = watch(&no_path).explain(Some(2), &playbook(), PLAYBOOK, &copied("/p"));
    assert_eq!(
        f.details[0],
        "--> provision.yml:5 (ansible-playbook exit 2)"
    );
    // a path outside the approved copy stays absolute
    let f = watch(FAILED_RUN).explain(Some(2), &playbook(), PLAYBOOK, &copied("/q"));
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
    let f = watch(handler).explain(Some(2), &playbook(), PLAYBOOK, &copied("/p"));
    assert_eq!(
        f.message,
        "provisioning failed at task `web : restart nginx`"
    );
    assert_eq!(f.details[1], "| msg: no nginx");

    let loop_item = "TASK [Install] ***\nfailed: [h] (item=a) => {\"ansible_loop_var\": \"item\", \"item\": \"a\", \"msg\": \"bad a\"}\nok: [h] => (item=b)\n";
    let f = watch(loop_item).explain(Some(2), &playbook(), PLAYBOOK, &copied("/p"));
    assert_eq!(f.message, "provisioning failed at task `Install`");
    assert_eq!(f.details[1], "| msg: bad a");

    let unreachable = "TASK [Gathering Facts] ***\nfatal: [h]: UNREACHABLE! => {\"changed\": false, \"msg\": \"Failed to connect to the host via ssh: timeout\", \"unreachable\": true}\n";
    let f = watch(unreachable).explain(Some(4), &playbook(), PLAYBOOK, &copied("/p"));
    assert_eq!(
        f.message,
        "provisioning could not reach the guest over SSH at task `Gathering Facts`"
    );
}

#[test]
fn a_refused_playbook_shows_ansibles_error() {
    let out = "ERROR! couldn't resolve module/action 'nosuch.module'. This often indicates a misspelling.\n\nThe error appears to be in '/p/provision.yml': line 3, column 7, but may\nbe elsewhere in the file depending on the exact syntax problem.\n";
    let f = watch(out).explain(Some(4), &playbook(), PLAYBOOK, &copied("/p"));
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
