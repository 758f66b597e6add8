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
fn the_wrapper_traces_bash_only_and_quotes_the_name() {
    let fx = Fixture::new(
        "INFRA_TYPE=container\nMEMORY=512\nCPUS=1\nDISK=2\nSECRET=\"hunter2\"\n",
        "root",
    );
    let t = fx.target();
    let bash = wrapper(&t, true, true);
    assert!(bash.contains("BASH_XTRACEFD=9"));
    assert!(bash.contains("exec \"$d/script\" </dev/null"));
    assert!(
        !bash.contains("hunter2"),
        ".env values never go on a command line"
    );
    assert!(bash.contains(&format!(
        "TMPL_PROJECT={}\n",
        shell_quote(&fx.loaded.id.name)
    )));
    let sh = wrapper(&t, false, false);
    assert!(!sh.contains("BASH_ENV"));
    assert!(sh.contains("exec /bin/sh \"$d/script\" </dev/null"));
    assert_eq!(as_root(&t, &["true"]), vec!["true"]);
    let fx = Fixture::new("INFRA_TYPE=vm\nMEMORY=512\nCPUS=1\nDISK=2\n", "vagrant");
    assert_eq!(
        as_root(&fx.target(), &["true"]),
        vec!["sudo", "-n", "--", "true"]
    );
}

/// The trace hook, run for real by the host's bash.
#[test]
fn a_bash_scripts_failing_line_is_traced_without_touching_its_output() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    std::fs::write(dir.path().join("hook"), bash_hook(&format!("{d}/trace"))).unwrap();
    let script = dir.path().join("script");
    std::fs::write(
        &script,
        "#!/bin/bash\nset -e\nf() { echo in-f; false; }\necho before\nx=$(echo sub)\nf\necho never\n",
    )
    .unwrap();
    let out = std::process::Command::new("bash")
        .arg(&script)
        .env("BASH_ENV", dir.path().join("hook"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "before\nin-f\n");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "",
        "the trace is not on stderr"
    );
    let trace = std::fs::read_to_string(dir.path().join("trace")).unwrap();
    assert_eq!(
        last_traced(&trace, &script.display().to_string()),
        Some((3, "false".into()))
    );
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
    assert_eq!(f.code, code::PROVISION_FAILED);
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
