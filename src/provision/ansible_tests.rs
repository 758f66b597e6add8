use super::*;
use crate::provision::testing::Fixture;

const ENV: &str = "INFRA_TYPE=container\nMEMORY=512\nCPUS=1\nDISK=2\nGREETING=\"{{ lookup('pipe', 'id') }}\"\nA=first\nQUOTE='it\"s \\\\ here'\nA=second\n";

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
