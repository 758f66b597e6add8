//! Provisioning end to end: real `ansible-playbook`, real Podman, real libvirt. The playbook is
//! the shipped `ansible/test-fixture.yml` (no internet needed), imported from each project's
//! own `provision.yml`, the way a project uses the shipped playbooks.

mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

const FAILING_TASK: &str = "provisioning failed at task `Fail when the project asks for it`";

fn fixture() -> String {
    format!("{}/ansible/test-fixture.yml", env!("CARGO_MANIFEST_DIR"))
}

fn playbook() -> String {
    format!("- ansible.builtin.import_playbook: {}\n", fixture())
}

/// A path on the host that a `.env` value asks Ansible to create, if it ever evaluated it.
fn canary() -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    PathBuf::from(format!("/tmp/tmpl-pwned-{}-{nanos}", std::process::id()))
}

fn lookup_value(canary: &Path) -> String {
    format!("{{{{ lookup('pipe', 'touch {}') }}}}", canary.display())
}

fn container_env(extra: &str) -> String {
    format!("INFRA_TYPE=container\nMEMORY=384\nCPUS=1\nDISK=2\nIMAGE={CONTAINER_IMAGE}\n{extra}")
}

fn stderr_of(p: &Project, args: &[&str]) -> (i32, String) {
    let out = p.run(args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// How many times the fixture ran in this guest (it counts with COUNT_RUNS=yes).
fn runs(p: &Project) -> usize {
    p.sh("cat /var/lib/tmpl-test/runs 2>/dev/null || true")
        .lines()
        .count()
}

fn state_file(p: &Project, name: &str) -> PathBuf {
    p.xdg()
        .join("state/tmpl")
        .join(p.slug())
        .join("provision")
        .join(name)
}

#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn a_playbook_runs_on_the_first_up_with_values_as_data() {
    let canary = canary();
    let p = Project::new(
        "pb",
        &container_env(&format!(
            "PROVISION_SCRIPT=provision.yml\nCOUNT_RUNS=yes\nGREETING=\"{}\"\n",
            lookup_value(&canary)
        )),
    );
    p.write("provision.yml", &playbook());
    let (code, err) = stderr_of(&p, &["up"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("TASK [Write what tmpl passed in]"),
        "output streams"
    );

    // facts and values arrive, the {{ }} in GREETING literally, and nothing ran on the host
    let dir = p.dir.canonicalize().unwrap();
    let written = p.sh("cat /etc/tmpl-provisioned");
    assert_eq!(
        written,
        format!(
            "project=pb\nslug={}\ninfra_type=container\nproject_dir={}\ngreeting={}",
            p.slug(),
            dir.display(),
            lookup_value(&canary)
        )
    );
    assert!(!canary.exists(), "a .env value was evaluated on the host");
    assert!(p
        .sh("cat /etc/motd")
        .starts_with("pb: a tmpl container for"));

    // host-side steps: a file fetched into the project, the guest reached with TMPL_SSH_*
    assert_eq!(
        std::fs::read_to_string(p.dir.join(".provisioned/hostname"))
            .unwrap()
            .trim(),
        p.sh("cat /etc/hostname")
    );
    assert_eq!(
        std::fs::read_to_string(p.dir.join(".provisioned/from-host"))
            .unwrap()
            .trim(),
        written
    );

    // the generated files are private, and the value is in them as !unsafe data
    for f in ["vars.yml", "inventory.yml"] {
        let mode = std::fs::metadata(state_file(&p, f))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{f}");
    }
    let vars = std::fs::read_to_string(state_file(&p, "vars.yml")).unwrap();
    assert!(vars.contains(&format!(
        "\"GREETING\": !unsafe \"{}\"",
        lookup_value(&canary)
    )));

    // once provisioned, `up` leaves it alone; the flags and `tmpl provision` decide
    assert_eq!(runs(&p), 1);
    let (_, err) = stderr_of(&p, &["up"]);
    assert!(!err.contains("provisioning with"), "{err}");
    p.ok(&["up", "--no-provision"]);
    assert_eq!(runs(&p), 1);
    p.ok(&["up", "--provision"]);
    assert_eq!(runs(&p), 2);
    p.ok(&["provision"]);
    assert_eq!(runs(&p), 3);
    p.ok(&["stop"]);
    p.ok(&["up"]);
    assert_eq!(runs(&p), 3, "a restarted guest is not provisioned again");

    // a new guest is provisioned even though the old one's record says "done"
    let slug = p.slug();
    host_ok("podman", &["rm", "-f", &format!("tmpl-{slug}")]);
    let (code, err) = stderr_of(&p, &["up"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("created"), "{err}");
    assert_eq!(runs(&p), 1, "the new container was provisioned once");
    assert!(!canary.exists());
}

#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn a_failing_playbook_exits_10_leaves_the_guest_running_and_up_retries() {
    let p = Project::new(
        "pbfail",
        &container_env("PROVISION_SCRIPT=provision.yml\nCOUNT_RUNS=yes\nFAIL_PROVISION=yes\n"),
    );
    p.write("provision.yml", &playbook());
    let (code, err) = stderr_of(&p, &["up"]);
    assert_eq!(code, 10, "{err}");
    assert!(err.contains(FAILING_TASK), "{err}");
    assert!(
        err.contains(&format!("--> {}:", fixture())),
        "the task's file:line: {err}"
    );
    assert!(
        err.contains("| stderr: failing on purpose"),
        "the end of its output: {err}"
    );
    assert!(err.contains("`tmpl provision`"), "how to rerun: {err}");
    assert_eq!(p.code(&["status"]), 0, "the guest is left running");
    assert_eq!(runs(&p), 1);

    // still broken: the next `up` tries again, and fails again
    let (code, err) = stderr_of(&p, &["up"]);
    assert_eq!(code, 10, "{err}");
    assert!(err.contains("(the last run failed)"), "{err}");
    assert_eq!(runs(&p), 2);
    // `--no-provision` skips even a failed one
    p.ok(&["up", "--no-provision"]);
    assert_eq!(runs(&p), 2);

    // fixed: `up` provisions, then stops doing so
    p.write(
        ".env",
        &container_env("PROVISION_SCRIPT=provision.yml\nCOUNT_RUNS=yes\n"),
    );
    p.ok(&["trust"]);
    let (code, err) = stderr_of(&p, &["up"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(runs(&p), 3);
    p.ok(&["up"]);
    assert_eq!(runs(&p), 3);
}

const SETUP_SH: &str = "#!/bin/bash\nset -euo pipefail\necho \"setting up $TMPL_PROJECT as $(id -un)\"\nid -u > /root/script-uid\nif [ -e /root/fail-now ]; then\n  cp /root/missing /tmp/\nfi\necho done\n";

#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn scripts_run_in_the_guest_as_root_and_name_the_failing_line() {
    let p = Project::new("script", &container_env("PROVISION_SCRIPT=setup.sh\n"));
    p.write("setup.sh", SETUP_SH);
    let (code, err) = stderr_of(&p, &["up", "--no-provision"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("not provisioned (`--no-provision`)"), "{err}");
    assert_eq!(
        p.sh("cat /root/script-uid 2>/dev/null || echo none"),
        "none"
    );

    let (code, err) = stderr_of(&p, &["provision"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("    setting up script as root"),
        "output streams: {err}"
    );
    assert_eq!(p.sh("cat /root/script-uid"), "0");

    // a failing bash script: exit 10, the line as written, its output, the guest running
    p.sh("touch /root/fail-now");
    let (code, err) = stderr_of(&p, &["provision"]);
    assert_eq!(code, 10, "{err}");
    assert!(
        err.contains("provisioning script `setup.sh` failed at line 6 (exit 1)"),
        "{err}"
    );
    assert!(
        err.contains("--> setup.sh:6  cp /root/missing /tmp/"),
        "{err}"
    );
    assert!(err.contains("| cp: cannot stat '/root/missing'"), "{err}");
    assert_eq!(p.code(&["status"]), 0);
    p.sh("rm /root/fail-now");
    let (code, err) = stderr_of(&p, &["up"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("(the last run failed)"), "up retries: {err}");

    // the shebang picks the interpreter; no shebang means /bin/sh
    // (each change of .env is approved with `tmpl trust`, as a user would)
    p.write(
        "setup.py",
        "#!/usr/bin/python3\nimport os\nopen('/root/py-ran', 'w').write(str(os.getuid()))\n",
    );
    p.write(".env", &container_env("PROVISION_SCRIPT=setup.py\n"));
    p.ok(&["trust"]);
    p.ok(&["provision"]);
    assert_eq!(p.sh("cat /root/py-ran"), "0");
    p.write("setup", "echo \"$0\" > /root/sh-ran\nexit 4\n");
    p.write(".env", &container_env("PROVISION_SCRIPT=setup\n"));
    p.ok(&["trust"]);
    let (code, err) = stderr_of(&p, &["provision"]);
    assert_eq!(code, 10, "{err}");
    assert!(
        err.contains("provisioning script `setup` failed (exit 4)"),
        "{err}"
    );
    assert_eq!(p.sh("cat /root/sh-ran"), "/var/lib/tmpl/provision/script");
}

#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn provision_needs_a_running_guest() {
    let p = Project::new("idle", &container_env("PROVISION_SCRIPT=setup.sh\n"));
    p.write("setup.sh", "#!/bin/sh\ntrue\n");
    let (code, err) = stderr_of(&p, &["provision"]);
    assert_eq!(code, 1);
    assert!(err.contains("idle has no guest to provision"), "{err}");
    assert!(err.contains("`tmpl up`"), "{err}");
    p.ok(&["up", "--no-provision"]);
    p.ok(&["stop"]);
    let (code, err) = stderr_of(&p, &["provision"]);
    assert_eq!(code, 1);
    assert!(err.contains("idle is stopped"), "{err}");
}

/// The Python that runs Ansible: the one in `ansible-playbook`'s shebang (a `python3` on PATH
/// may be another one, without Ansible).
fn ansible_python() -> String {
    let path = host_ok("sh", &["-c", "command -v ansible-playbook"]);
    let text = std::fs::read_to_string(path.trim()).unwrap();
    let shebang = text.lines().next().unwrap().trim_start_matches("#!").trim();
    let mut words = shebang.split_whitespace();
    let first = words.next().unwrap().to_owned();
    if first.ends_with("/env") {
        words.next().unwrap().to_owned()
    } else {
        first
    }
}

/// The vars file's quoting, read back by Ansible's own YAML loader: every string comes back
/// unchanged and marked unsafe (the mark is what keeps Ansible from templating it).
#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn ansibles_loader_reads_every_value_back_as_unsafe_text() {
    use tmpl::provision::yaml::{quote, unsafe_str};
    let values = [
        "{{ lookup('pipe', 'id') }}",
        "{% for x in y %}{{ x }}{% endfor %}",
        "it's \"quoted\" \\ back",
        "line\nbreak\ttab\r",
        "x\n\"evil\": !!python/object/apply:os.system ['id']",
        "café ☕ 😀 \u{7f}\u{85}\u{a0}\u{2028}\u{feff}",
        "",
        " leading and trailing ",
        "- [a, b]: {c}",
        "#not a comment",
    ];
    let mut yaml = String::new();
    for (i, v) in values.iter().enumerate() {
        yaml.push_str(&format!("{}: {}\n", quote(&format!("k{i}")), unsafe_str(v)));
    }
    let script = "import sys, json\nfrom ansible.parsing.yaml.loader import AnsibleLoader\nd = AnsibleLoader(sys.stdin.read()).get_single_data()\nprint(json.dumps({k: [v, type(v).__name__] for k, v in d.items()}))\n";
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("vars.yml");
    std::fs::write(&input, &yaml).unwrap();
    // run from the temporary folder: from the repository, `import ansible` would find the
    // playbook folder `ansible/` first
    let out = std::process::Command::new(ansible_python())
        .args(["-c", script])
        .current_dir(dir.path())
        .stdin(std::fs::File::open(&input).unwrap())
        .output()
        .expect("python3 with Ansible (make setup)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let back: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for (i, v) in values.iter().enumerate() {
        assert_eq!(back[format!("k{i}")][0], *v, "value {i}");
        assert_eq!(back[format!("k{i}")][1], "AnsibleUnsafeText", "value {i}");
    }
}

/// One VM, booted once, through the same cases in sequence (a boot costs about a minute under
/// software emulation): a failing playbook, the retry, values as data, `tmpl provision`, then a
/// script run through sudo, failing and naming its line.
#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn a_vm_is_provisioned_through_sudo_like_a_container() {
    let canary = canary();
    let env = |extra: &str| {
        format!(
            "INFRA_TYPE=vm\nMEMORY=1024\nCPUS=1\nDISK=4\nIMAGE={TEST_BOX}\nGREETING=\"{}\"\nCOUNT_RUNS=yes\n{extra}",
            lookup_value(&canary)
        )
    };
    let p = Project::new(
        "vmprov",
        &env("PROVISION_SCRIPT=provision.yml\nFAIL_PROVISION=yes\n"),
    );
    p.write("provision.yml", &playbook());
    p.write("setup.sh", SETUP_SH);
    let sudo_sh = |script: &str| p.sh(&format!("sudo sh -c '{script}'"));

    let (code, err) = stderr_of(&p, &["up"]);
    assert_eq!(code, 10, "{err}");
    assert!(err.contains(FAILING_TASK), "{err}");
    assert_eq!(p.code(&["status"]), 0, "the VM is left running");
    assert_eq!(p.sh("id -un"), "vagrant");

    p.write(".env", &env("PROVISION_SCRIPT=provision.yml\n"));
    p.ok(&["trust"]);
    let (code, err) = stderr_of(&p, &["up"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("(the last run failed)"), "{err}");
    let written = p.sh("cat /etc/tmpl-provisioned");
    assert!(written.contains("\ninfra_type=vm\n"), "{written}");
    assert!(
        written.ends_with(&format!("greeting={}", lookup_value(&canary))),
        "{written}"
    );
    assert!(!canary.exists(), "a .env value was evaluated on the host");
    assert_eq!(
        p.sh("stat -c %U /etc/tmpl-provisioned"),
        "root",
        "become: true"
    );
    assert_eq!(
        std::fs::read_to_string(p.dir.join(".provisioned/from-host"))
            .unwrap()
            .trim(),
        written
    );
    assert_eq!(sudo_sh("wc -l < /var/lib/tmpl-test/runs"), "2");
    p.ok(&["provision"]);
    assert_eq!(sudo_sh("wc -l < /var/lib/tmpl-test/runs"), "3");

    p.write(".env", &env("PROVISION_SCRIPT=setup.sh\n"));
    p.ok(&["trust"]);
    p.ok(&["provision"]);
    assert_eq!(
        sudo_sh("cat /root/script-uid"),
        "0",
        "run as root through sudo"
    );
    sudo_sh("touch /root/fail-now");
    let (code, err) = stderr_of(&p, &["provision"]);
    assert_eq!(code, 10, "{err}");
    assert!(
        err.contains("--> setup.sh:6  cp /root/missing /tmp/"),
        "{err}"
    );
    assert_eq!(p.code(&["status"]), 0);
}
