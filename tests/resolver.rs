//! A guest's resolver (`tmpl __dns DIR`) is a daemon that outlives tmpl's own process. It
//! must end with its guest: when the fence's table goes, and when the guest's state folder
//! goes (its project removed by hand, a test's folder deleted). Here with a stand-in `nft`
//! that says the table is there, listening on loopback.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The table is there, whatever is asked.
const NFT: &str = "#!/bin/sh\necho 'table inet tmpl-test # handle 7'\n";

fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_resolver_ends_once_its_state_folder_is_gone() {
    // a folder anyone may enter: root's resolver becomes `nobody` and runs `nft` from here
    let top = tempfile::tempdir().unwrap();
    std::fs::set_permissions(top.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = top.path().join("bin");
    let state = top.path().join("state");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(bin.join("nft"), NFT).unwrap();
    std::fs::set_permissions(bin.join("nft"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = serde_json::json!({
        "listen": "127.0.0.1",
        "port": free_port(),
        "all_names": false,
        "names": [],
        "host": null,
        "table": "tmpl-test",
        "families": ["inet"],
        "upstream": [],
        "netns_file": null,
        "state": state,
    });
    std::fs::write(state.join("dns.json"), config.to_string()).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_tmpl"))
        .args(["__dns"])
        .arg(&state)
        .env("PATH", path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !state.join("dns.pid").exists() {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
            panic!("the resolver did not start ({status}): {err}");
        }
        assert!(start.elapsed() < Duration::from_secs(10), "never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    // it serves while its table is there
    std::thread::sleep(Duration::from_secs(4));
    assert!(
        child.try_wait().unwrap().is_none(),
        "it ended with its table there"
    );

    // the guest's state folder goes (the stand-in nft stays, and says the table is there)
    std::fs::remove_dir_all(&state).unwrap();
    let gone = Instant::now();
    let ended = loop {
        if child.try_wait().unwrap().is_some() {
            break true;
        }
        if gone.elapsed() > Duration::from_secs(10) {
            break false;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    if !ended {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert!(ended, "the resolver outlived its state folder");
    drop(top);
}
