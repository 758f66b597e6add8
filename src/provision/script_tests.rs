use super::*;
use crate::config::ProvisionKind;
use crate::provision::testing::Fixture;

#[test]
fn the_shebang_picks_the_interpreter() {
    assert_eq!(interpreter(b"#!/bin/bash\necho"), Some("bash".into()));
    assert_eq!(interpreter(b"#!/bin/bash -eu\n"), Some("bash".into()));
    assert_eq!(interpreter(b"#! /bin/sh\n"), Some("sh".into()));
    assert_eq!(interpreter(b"#!/usr/bin/env bash\n"), Some("bash".into()));
    assert_eq!(
        interpreter(b"#!/usr/bin/env -S LANG=C python3 -u\n"),
        Some("python3".into())
    );
    assert_eq!(interpreter(b"echo no shebang\n"), None);
    assert_eq!(interpreter(b""), None);
}

#[test]
fn values_reach_the_wrapper_as_arguments_never_as_code() {
    let fx = Fixture::new(
        "INFRA_TYPE=container\nMEMORY=512\nCPUS=1\nDISK=2\nSECRET=\"hunter2\"\n",
        "root",
    );
    let t = fx.target();
    let argv = wrapper_argv(&t, true, true);
    assert_eq!(argv[..3], ["sh", "-c", WRAPPER]);
    assert_eq!(
        argv[4..],
        [fx.loaded.id.name.as_str(), "container", "yes", "yes"]
    );
    assert!(
        !argv.concat().contains("hunter2"),
        ".env values never go on a command line"
    );
    assert_eq!(as_root(&t, &["true"]), vec!["true"]);
    let fx = Fixture::new("INFRA_TYPE=vm\nMEMORY=512\nCPUS=1\nDISK=2\n", "tmpl");
    assert_eq!(
        as_root(&fx.target(), &["true"]),
        vec!["sudo", "-n", "--", "true"]
    );
}

/// The wrapper that ships, run for real by the host's sh with a bash script on stdin.
#[test]
fn a_bash_scripts_failing_line_is_traced_without_touching_its_output() {
    let dir = tempfile::tempdir().unwrap();
    let script = "#!/bin/bash\nset -e\nf() { echo in-f; false; }\necho before\nx=$(echo sub)\nf\necho never\n";
    let run = |shebang: &str, trace: &str| {
        let mut child = std::process::Command::new("sh")
            .args(["-c", WRAPPER, "tmpl", "my app", "container", shebang, trace])
            .env("TMPL_PROVISION_DIR", dir.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let out = run("yes", "yes");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "before\nin-f\n");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "",
        "the trace is not on stderr"
    );
    let trace = std::fs::read_to_string(dir.path().join("trace")).unwrap();
    let stored = dir.path().join("script");
    assert_eq!(
        last_traced(&trace, &stored.display().to_string()),
        Some((3, "false".into()))
    );
    // without the trace, nothing is traced; and the project's name is just a value
    let out = run("yes", "no");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "before\nin-f\n");
    assert!(!dir.path().join("trace").exists());
}

#[test]
fn last_traced_ignores_other_files_and_nesting() {
    let trace = "+[tmpl /s:2] set -e\n++[tmpl /s:4] echo sub\n+[tmpl /etc/os-release:1] NAME=x\n";
    assert_eq!(last_traced(trace, "/s"), Some((4, "echo sub".into())));
    assert_eq!(last_traced("", "/s"), None);
}

#[test]
fn a_failure_shows_the_line_as_written() {
    let p = Provision {
        relative: "setup.sh".into(),
        path: "/p/setup.sh".into(),
        kind: ProvisionKind::Script,
    };
    let src = b"#!/bin/bash\nset -e\ncp /nope /tmp/x\n";
    let f = explain(
        &p,
        src,
        Some(1),
        Some((3, "cp /nope /tmp/x".into())),
        true,
        vec!["cp: cannot stat '/nope'".into()],
    );
    assert_eq!(f.code, ExitStatus::ProvisionFailed);
    assert_eq!(
        f.message,
        "provisioning script `setup.sh` failed at line 3 (exit 1)"
    );
    assert_eq!(
        f.details,
        vec![
            "--> setup.sh:3  cp /nope /tmp/x",
            "| cp: cannot stat '/nope'"
        ]
    );
    let f = explain(&p, b"#!/bin/sh\nexit 4\n", Some(4), None, false, vec![]);
    assert_eq!(f.message, "provisioning script `setup.sh` failed (exit 4)");
    assert!(f.details[0].contains("bash scripts only"));
}
