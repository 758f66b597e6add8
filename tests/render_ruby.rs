//! The master template never turns a value into Ruby code: arbitrary strings go through the
//! renderer, real Ruby loads the result (with Vagrant stubbed), and each string comes back
//! unchanged. Needs `ruby` (installed with Vagrant by `make setup`).

use proptest::prelude::*;
use std::process::Command;
use tmpl::backend::vagrant::render::{
    self, BridgeContext, OwnNetwork, SshContext, SyncContext, VmContext,
};

fn context(s: &[String; 6]) -> VmContext {
    VmContext {
        project_dir: s[0].clone(),
        machine_name: s[1].clone(),
        domain_prefix: "tmpl-".into(),
        hostname: s[2].clone(),
        r#box: s[3].clone(),
        memory_mib: 1024,
        cpus: 1,
        disk_gib: 10,
        driver: "qemu".into(),
        ssh: SshContext {
            username: s[4].clone(),
            private_key_paths: vec![s[5].clone()],
            insert_key: false,
        },
        ports: vec![],
        network: Some(OwnNetwork {
            name: s[1].clone(),
            address: s[2].clone(),
            mac: Some(s[3].clone()),
        }),
        bridge: Some(BridgeContext {
            interface: s[4].clone(),
            network: s[1].clone(),
            tap: s[5].clone(),
            mac: s[2].clone(),
        }),
        seed_iso: Some(s[5].clone()),
        sync: Some(SyncContext {
            host_path: s[2].clone(),
            guest_path: s[3].clone(),
            readonly: true,
        }),
    }
}

fn recorded(text: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("Vagrantfile");
    std::fs::write(&file, text).unwrap();
    let out = Command::new("ruby")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/vagrantfile_recorder.rb"
        ))
        .arg(&file)
        .output()
        .expect("ruby is needed for this test: run `make setup`");
    assert!(
        out.status.success(),
        "ruby rejected the Vagrantfile:\n{}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Strings that break naive quoting: quotes, backslashes, interpolation, heredocs, newlines.
fn hostile() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("#{system('touch /tmp/tmpl-pwned')}".to_string()),
        Just("'; system('id'); '".to_string()),
        Just("\\'; exit 1; #".to_string()),
        Just("\\".to_string()),
        Just("a\nend\nsystem('id')\n".to_string()),
        Just("%q{x}`id`$(id)".to_string()),
        "[\\PC\n\t'\"\\\\#{}`$%]{0,40}",
        any::<String>().prop_map(|s| s.replace('\0', "")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
#[cfg_attr(not(feature = "host-tools"), ignore = "needs the tools `make setup` installs: `cargo test --features host-tools`")]
    fn every_value_comes_back_unchanged(s in proptest::array::uniform6(hostile())) {
        let text = render::vagrantfile(render::BUILTIN_TEMPLATE, &context(&s)).unwrap();
        let seen = recorded(&text);
        // s[0] is the project folder, which the built-in template does not use
        for value in &s[1..] {
            prop_assert!(seen.contains(value), "{value:?} was not read back; got {seen:?}");
        }
        prop_assert!(!std::path::Path::new("/tmp/tmpl-pwned").exists());
    }
}
