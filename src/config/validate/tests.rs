use super::*;
use crate::config::EnvFile;

/// The drivers tmpl ships: their rules are part of what `tmpl validate` reports.
fn drivers() -> crate::driver::Registry {
    crate::backend::builtin()
}
use std::path::Path;

const GOOD: &str = "INFRA_TYPE=vm\nMEMORY=2048\nCPUS=2\nDISK=20\n";

fn check(text: &str) -> Result<(Config, Report), Report> {
    let env = EnvFile::parse(Path::new(".env"), text);
    validate(&env, Path::new("/nonexistent-project"), false, &drivers())
}

fn problems(text: &str) -> Vec<(Option<usize>, String)> {
    check(text)
        .unwrap_err()
        .problems
        .into_iter()
        .map(|p| (p.line, p.key))
        .collect()
}

#[test]
fn a_minimal_vm_is_valid_with_defaults() {
    let (c, report) = check(GOOD).unwrap();
    assert_eq!(c.infra_type, "vm");
    assert_eq!((c.memory_mib, c.cpus, c.disk_gib), (2048, 2, 20));
    assert_eq!(c.network, Network::Default);
    assert_eq!(c.image, None);
    assert!(report.warnings.is_empty());
}

#[test]
fn every_missing_required_key_is_listed() {
    let keys: Vec<String> = problems("IMAGE=x\n").into_iter().map(|p| p.1).collect();
    assert_eq!(keys, vec!["INFRA_TYPE", "MEMORY", "CPUS", "DISK"]);
}

#[test]
fn all_problems_come_at_once_with_lines() {
    let p = problems("INFRA_TYPE=docker\nMEMORY=4g\nCPUS=0\nDISK=-1\n");
    assert_eq!(
        p,
        vec![
            (Some(1), "INFRA_TYPE".into()),
            (Some(2), "MEMORY".into()),
            (Some(3), "CPUS".into()),
            (Some(4), "DISK".into())
        ]
    );
}

#[test]
fn memory_with_a_unit_suggests_mib() {
    let r = check("INFRA_TYPE=vm\nMEMORY=4g\nCPUS=2\nDISK=20\n").unwrap_err();
    assert_eq!(r.problems[0].example.as_deref(), Some("MEMORY=4096"));
}

#[test]
fn memory_below_minimum_is_rejected() {
    assert_eq!(
        problems("INFRA_TYPE=vm\nMEMORY=64\nCPUS=2\nDISK=20\n"),
        vec![(Some(2), "MEMORY".into())]
    );
}

#[test]
fn ports_parse_with_defaults_and_protocols() {
    let (c, _) = check("INFRA_TYPE=container\nMEMORY=512\nCPUS=1\nDISK=5\nPORTS=\"8080:80, 0.0.0.0:5353:53/udp\"\n").unwrap();
    assert_eq!(c.ports[0].to_string(), "127.0.0.1:8080:80/tcp");
    assert_eq!(c.ports[1].to_string(), "0.0.0.0:5353:53/udp");
}

#[test]
fn bad_ports_are_named() {
    for bad in [
        "80",
        "0:80",
        "70000:80",
        "8080:80/sctp",
        "1.2.3:8080:80",
        "a:b",
    ] {
        let r = check(&format!("{GOOD}PORTS={bad}\n")).unwrap_err();
        assert_eq!(r.problems[0].key, "PORTS", "{bad}");
        assert!(
            r.problems[0].expected.contains(bad),
            "{bad}: {}",
            r.problems[0].expected
        );
    }
}

#[test]
fn a_host_port_twice_is_rejected() {
    let r = check(&format!("{GOOD}PORTS=8080:80,8080:81\n")).unwrap_err();
    assert!(r.problems[0].expected.contains("8080/tcp appears twice"));
    assert!(
        check("INFRA_TYPE=container\nMEMORY=512\nCPUS=1\nDISK=5\nPORTS=53:53/tcp,53:53/udp\n")
            .is_ok()
    );
}

#[test]
fn bridge_needs_an_interface() {
    assert_eq!(
        problems(&format!("{GOOD}NETWORK_TYPE=bridge\n")),
        vec![(Some(5), "BRIDGE".into())]
    );
    let (c, _) = check(&format!(
        "{GOOD}NETWORK_TYPE=bridge\nBRIDGE=br0\nEGRESS=open\n"
    ))
    .unwrap();
    assert_eq!(
        c.network,
        Network::Bridge {
            interface: "br0".into()
        }
    );
    let (_, r) = check(&format!("{GOOD}BRIDGE=br0\n")).unwrap();
    assert_eq!(r.warnings[0].key, "BRIDGE");
}

#[test]
fn fixed_ip_must_be_ipv4_unicast() {
    assert!(check(&format!("{GOOD}FIXED_IP=192.168.56.10\n")).is_ok());
    for bad in [
        "192.168.56",
        "::1",
        "255.255.255.255",
        "127.0.0.1",
        "0.0.0.0",
    ] {
        assert_eq!(
            problems(&format!("{GOOD}FIXED_IP={bad}\n"))[0].1,
            "FIXED_IP",
            "{bad}"
        );
    }
}

#[test]
fn name_must_be_a_slug() {
    assert!(check(&format!("{GOOD}NAME=web-1\n")).is_ok());
    for bad in ["Web", "1web", "web_1", &"a".repeat(42)] {
        assert_eq!(
            problems(&format!("{GOOD}NAME={bad}\n"))[0].1,
            "NAME",
            "{bad}"
        );
    }
}

#[test]
fn misspelt_keys_warn_or_fail_under_strict() {
    let text = format!("{GOOD}MEMROY=4096\nDATABASE_URL=x\n");
    let (_, r) = check(&text).unwrap();
    assert_eq!(r.warnings.len(), 1);
    assert!(r.warnings[0].message.contains("did you mean `MEMORY`?"));
    let env = EnvFile::parse(Path::new(".env"), &text);
    let r = validate(&env, Path::new("/x"), true, &drivers()).unwrap_err();
    assert_eq!(r.problems[0].line, Some(5));
}

#[test]
fn unparsable_lines_are_problems_with_their_line() {
    assert_eq!(
        problems(&format!("{GOOD}not an assignment\n")),
        vec![(Some(5), String::new())]
    );
}

#[test]
fn provision_script_must_exist_inside_the_project() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("ansible")).unwrap();
    std::fs::write(dir.path().join("ansible/site.yml"), "- hosts: all\n").unwrap();
    std::fs::write(dir.path().join("setup.sh"), "#!/bin/sh\n").unwrap();
    let run = |v: &str| {
        let env = EnvFile::parse(Path::new(".env"), &format!("{GOOD}PROVISION_SCRIPT={v}\n"));
        validate(&env, dir.path(), false, &drivers())
    };
    let (c, _) = run("ansible/site.yml").unwrap();
    assert_eq!(c.provision.unwrap().kind, ProvisionKind::Ansible);
    assert_eq!(
        run("setup.sh").unwrap().0.provision.unwrap().kind,
        ProvisionKind::Script
    );
    for bad in ["missing.yml", "../site.yml", "/etc/passwd", "ansible"] {
        assert_eq!(
            run(bad).unwrap_err().problems[0].key,
            "PROVISION_SCRIPT",
            "{bad}"
        );
    }
    // a link inside the project to a file outside it: the path is checked after resolving
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("id_rsa"), "secret").unwrap();
    std::os::unix::fs::symlink(outside.path().join("id_rsa"), dir.path().join("link.sh")).unwrap();
    let r = run("link.sh").unwrap_err();
    assert!(
        r.problems[0].expected.contains("outside it"),
        "{:?}",
        r.problems
    );
    std::os::unix::fs::symlink("setup.sh", dir.path().join("inner.sh")).unwrap();
    assert!(run("inner.sh").is_ok(), "a link that stays inside is fine");
}

#[test]
fn vm_images_are_checked_by_form() {
    let image = |v: &str| check(&format!("{GOOD}IMAGE={v}\n")).map(|(c, _)| c.image);
    assert_eq!(
        image("tmpl-test/debian12").unwrap(),
        Some("tmpl-test/debian12".into())
    );
    assert!(image("./x.box").is_ok());
    assert!(image("https://h/a.img").is_ok());
    assert!(image("https://h/a.iso").is_err());
    assert!(image("\"a b\"").is_err());
}

#[test]
fn containers_take_any_reference() {
    let (c, _) =
        check("INFRA_TYPE=container\nMEMORY=512\nCPUS=1\nDISK=5\nIMAGE=localhost/x:1\n").unwrap();
    assert_eq!(c.image.as_deref(), Some("localhost/x:1"));
}

#[test]
fn sha256_must_be_hex() {
    assert!(check(&format!("{GOOD}IMAGE_SHA256={}\n", "a".repeat(64))).is_ok());
    assert_eq!(
        problems(&format!("{GOOD}IMAGE_SHA256=abc\n"))[0].1,
        "IMAGE_SHA256"
    );
}

fn check_in(text: &str, dir: &str) -> Result<(Config, Report), Report> {
    let env = EnvFile::parse(Path::new(".env"), text);
    validate(&env, Path::new(dir), false, &drivers())
}

#[test]
fn sync_defaults_to_rw_at_the_same_path() {
    let (c, _) = check_in(GOOD, "/home/me/app").unwrap();
    let s = c.sync.unwrap();
    assert_eq!(s.mode, SyncMode::Rw);
    assert_eq!(s.host_path, Path::new("/home/me/app"));
    assert_eq!(s.guest_path, "/home/me/app");
    assert_eq!(c.session, None);
}

#[test]
fn sync_ro_none_and_a_path_of_its_own() {
    let (c, _) = check_in(&format!("{GOOD}SYNC=ro\nSYNC_PATH=/work/app/\n"), "/h/app").unwrap();
    let s = c.sync.unwrap();
    assert_eq!((s.mode, s.guest_path.as_str()), (SyncMode::Ro, "/work/app"));
    let (c, r) = check_in(&format!("{GOOD}SYNC=none\nSYNC_PATH=/x\n"), "/h/app").unwrap();
    assert_eq!(c.sync, None);
    assert_eq!(
        r.warnings[0].key, "SYNC_PATH",
        "an ignored SYNC_PATH is pointed out"
    );
    assert_eq!(
        problems(&format!("{GOOD}SYNC=yes\n")),
        vec![(Some(5), "SYNC".into())]
    );
}

#[test]
fn sync_path_must_be_a_guest_folder_of_its_own() {
    for bad in [
        "work/app",
        "/",
        "/etc",
        "/usr/local/app",
        "/home",
        "/root/",
        "/tmp",
        "/a/../b",
        "/a//b",
    ] {
        let p = problems(&format!("{GOOD}SYNC_PATH={bad}\n"));
        assert_eq!(p, vec![(Some(5), "SYNC_PATH".into())], "{bad}");
    }
    for good in [
        "/work/app",
        "/home/me/app",
        "/root/src/app",
        "/var/www/app",
        "/tmp/x/app",
    ] {
        assert!(
            check(&format!("{GOOD}SYNC_PATH={good}\n")).is_ok(),
            "{good}"
        );
    }
}

#[test]
fn a_vm_guest_path_has_no_shell_characters_but_a_container_may() {
    let spaced = "INFRA_TYPE=container\nMEMORY=512\nCPUS=1\nDISK=5\n";
    assert!(check_in(spaced, "/home/me/my app").is_ok());
    let r = check_in(GOOD, "/home/me/my app").unwrap_err();
    assert_eq!(r.problems[0].key, "SYNC_PATH");
    assert!(
        r.problems[0].expected.contains("`/home/me/my app`"),
        "names the default"
    );
    assert!(
        r.problems[0].expected.contains("SYNC=none"),
        "offers a way out"
    );
    assert!(check_in(
        &format!("{GOOD}SYNC_PATH=/work/my-app\n"),
        "/home/me/my app"
    )
    .is_ok());
    assert!(check_in(&format!("{GOOD}SYNC=none\n"), "/home/me/my app").is_ok());
    assert_eq!(
        problems(&format!("{GOOD}SYNC_PATH='/w/$(id)'\n")),
        vec![(Some(5), "SYNC_PATH".into())]
    );
}

#[test]
fn a_guest_path_has_no_percent_for_printf() {
    for text in [GOOD, "INFRA_TYPE=container\nMEMORY=512\nCPUS=1\nDISK=5\n"] {
        assert_eq!(
            problems(&format!("{text}SYNC_PATH=/%setc\n")),
            vec![(Some(5), "SYNC_PATH".into())]
        );
    }
}

#[test]
fn protect_is_nothing_by_default_and_paths_inside_the_project() {
    let (c, _) = check(GOOD).unwrap();
    assert!(
        c.protect.is_empty(),
        "git is out of reach by design, not by a list"
    );
    let (c, _) = check(&format!("{GOOD}PROTECT=\".git, secrets/\"\n")).unwrap();
    assert_eq!(c.protect, [Path::new(".git"), Path::new("secrets")]);
    assert!(check(&format!("{GOOD}PROTECT=none\n"))
        .unwrap()
        .0
        .protect
        .is_empty());
    for bad in ["/etc", "../x", "a/../b", "a:b"] {
        assert_eq!(
            problems(&format!("{GOOD}PROTECT={bad}\n")),
            vec![(Some(5), "PROTECT".into())],
            "{bad}"
        );
    }
}

#[test]
fn session_is_tmux_or_zellij() {
    let (c, _) = check(&format!("{GOOD}SESSION=zellij\n")).unwrap();
    assert_eq!(c.session, Some(Session::Zellij));
    let (c, _) = check(&format!("{GOOD}SESSION=tmux\n")).unwrap();
    assert_eq!(c.session, Some(Session::Tmux));
    assert_eq!(
        problems(&format!("{GOOD}SESSION=screen\n")),
        vec![(Some(5), "SESSION".into())]
    );
}

#[test]
fn egress_defaults_to_internet_and_a_macvlan_container_needs_open() {
    let (c, _) = check(GOOD).unwrap();
    assert_eq!(c.egress, Egress::Internet);
    assert!(c.egress_allow.is_empty());
    assert_eq!(
        problems(&format!("{GOOD}EGRESS=lan\n")),
        vec![(Some(5), "EGRESS".into())]
    );
    assert_eq!(
        problems(&format!("{GOOD}EGRESS_ALLOW=github.com,300.1.1.1\n")),
        vec![(Some(5), "EGRESS_ALLOW".into())]
    );
    let ct = "INFRA_TYPE=container\nMEMORY=512\nCPUS=1\nDISK=5\n";
    // the problem is where the person chose bridging
    assert_eq!(
        problems(&format!("{ct}NETWORK_TYPE=bridge\nBRIDGE=br0\n")),
        vec![(Some(5), "NETWORK_TYPE".into())]
    );
    assert!(check(&format!(
        "{ct}NETWORK_TYPE=bridge\nBRIDGE=br0\nEGRESS=open\n"
    ))
    .is_ok());
    // a bridged VM is held at its tap
    assert!(check(&format!("{GOOD}NETWORK_TYPE=bridge\nBRIDGE=br0\n")).is_ok());
    let (c, _) = check(&format!(
        "{GOOD}EGRESS=none\nEGRESS_ALLOW=host:11434,192.168.1.10:445\n"
    ))
    .unwrap();
    assert_eq!(c.egress, Egress::None);
    assert_eq!(c.egress_allow.len(), 2);
}

#[test]
fn secrets_name_hosts_and_every_bad_entry_is_reported() {
    let (c, _) = check(&format!(
        "{GOOD}SECRETS=ANTHROPIC_API_KEY@api.anthropic.com,GITHUB_TOKEN@github.com\n"
    ))
    .unwrap();
    let shown: Vec<String> = c.secrets.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        shown,
        [
            "ANTHROPIC_API_KEY@api.anthropic.com",
            "GITHUB_TOKEN@github.com"
        ]
    );
    let report = check(&format!(
        "{GOOD}SECRETS=OK@a.com,no-at,BAD-NAME@a.com,KEY@10.1.2.3,HTTPS_PROXY@a.com\n"
    ))
    .unwrap_err();
    let bad: Vec<(Option<usize>, &str)> = report
        .problems
        .iter()
        .map(|p| (p.line, p.expected.as_str()))
        .collect();
    assert_eq!(bad.len(), 4, "{bad:?}");
    assert!(bad.iter().all(|(line, _)| *line == Some(5)));
    for entry in [
        "no-at",
        "BAD-NAME@a.com",
        "KEY@10.1.2.3",
        "HTTPS_PROXY@a.com",
    ] {
        assert!(
            bad.iter().any(|(_, e)| e.contains(&format!("`{entry}`"))),
            "{entry}: {bad:?}"
        );
    }
}
