//! The `.env` reader and the validator never panic, whatever the file holds: random bytes,
//! and lines built from tmpl's own keys with hostile values (bounded, so CI stays fast).

use proptest::prelude::*;
use std::path::Path;
use tmpl::config::{keys::KEYS, validate, EnvFile};

fn check(text: &str) {
    let env = EnvFile::parse(Path::new(".env"), text);
    for e in &env.entries {
        assert!(e.line >= 1);
    }
    let dir = std::env::temp_dir();
    let drivers = tmpl::backend::builtin();
    match validate(&env, &dir, false, &drivers) {
        Ok((c, _)) => {
            assert!(c.memory_mib >= 128 && c.cpus >= 1 && c.disk_gib >= 1);
        }
        Err(report) => assert!(!report.problems.is_empty()),
    }
    let _ = validate(&env, &dir, true, &drivers);
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(KEYS.iter().map(|k| k.name.to_string()).collect::<Vec<_>>()),
        "[A-Za-z_][A-Za-z0-9_]{0,12}",
        Just("export INFRA_TYPE".to_string()),
    ]
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("vm".to_string()),
        Just("container".to_string()),
        "[0-9]{0,12}",
        "-?[0-9]{1,25}",
        "([0-9]{1,3}\\.){3}[0-9]{1,3}",
        "([0-9.]{0,15}:)?[0-9]{0,6}:[0-9]{0,6}(/tcp|/udp|/x)?(,[0-9:]{0,12})*",
        "\"[^\"]{0,20}\"?",
        "'[^']{0,20}'?",
        "\\$\\{?[A-Z]{0,5}\\}?",
        "\\{\\{ lookup\\('pipe', 'id'\\) \\}\\}",
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(text in any::<String>()) {
        check(&text);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        check(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn structured_files_never_panic(
        lines in proptest::collection::vec((key(), value(), prop_oneof![Just("\n"), Just("\r\n"), Just(" # c\n")]), 0..16),
        bom in any::<bool>(),
    ) {
        let mut text = if bom { "\u{feff}".to_string() } else { String::new() };
        for (k, v, end) in lines {
            text.push_str(&format!("{k}={v}{end}"));
        }
        check(&text);
    }
}
