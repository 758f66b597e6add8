//! The driver surface is complete: a third driver that exists only in the tests (`driver/`),
//! registered beside the two tmpl ships, runs every command that uses a driver through
//! tmpl's own code: `validate`, `render`, `up` (with provisioning), `status`, `ls`, `ssh`,
//! `exec`, `provision`, `snapshot`, `ssh-config`, `stop`, `rm`, `doctor` and `gc`, and the
//! refusal of `vagrant`.
//!
//! This binary has three roles (no test harness, see `Cargo.toml`): the test itself; tmpl
//! with the test driver registered (`TMPL_TEST_GUESTS` set), which the test runs as a
//! child for each command, as a person runs tmpl; and a test guest's SSH server
//! (`driver::SSHD_ENV` set), which outlives the tmpl that started it.

mod driver;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const GUESTS_ENV: &str = "TMPL_TEST_GUESTS";

fn main() {
    if driver::serve_if_asked() {
        return;
    }
    if let Some(root) = std::env::var_os(GUESTS_ENV) {
        // the registry line: the two drivers tmpl ships, and this one
        let registry = tmpl::backend::builtin().with(Box::new(driver::TestDriver {
            root: PathBuf::from(root),
        }));
        let args = std::iter::once("tmpl".into()).chain(std::env::args_os().skip(1));
        std::process::exit(i32::from(tmpl::run_with(registry, args)));
    }
    if std::env::args().any(|a| a == "--list") {
        println!("every_command_runs_against_a_third_driver: test");
        return;
    }
    every_command_runs_against_a_third_driver();
    println!("test every_command_runs_against_a_third_driver ... ok");
}

struct Lab {
    root: tempfile::TempDir,
}

impl Lab {
    fn guests(&self) -> PathBuf {
        self.root.path().join("guests")
    }

    fn project(&self, name: &str, env: &str) -> PathBuf {
        let dir = self.root.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(".env"), env).unwrap();
        dir.canonicalize().unwrap()
    }

    /// tmpl, with the test driver, run in `dir` as a person would run it.
    fn tmpl(&self, dir: &Path, args: &[&str]) -> Output {
        let xdg = self.root.path().join("xdg");
        let out = Command::new(std::env::current_exe().unwrap())
            .args(args)
            .current_dir(dir)
            .env(GUESTS_ENV, self.guests())
            .env("HOME", self.root.path())
            .env("XDG_STATE_HOME", xdg.join("state"))
            .env("XDG_CACHE_HOME", xdg.join("cache"))
            .env("XDG_CONFIG_HOME", xdg.join("config"))
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        eprintln!(
            "$ tmpl {}\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn code(&self, dir: &Path, args: &[&str]) -> i32 {
        self.tmpl(dir, args).status.code().unwrap_or(-1)
    }

    fn stdout(&self, dir: &Path, args: &[&str]) -> String {
        let out = self.tmpl(dir, args);
        assert!(out.status.success(), "tmpl {args:?} failed");
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, dir: &Path, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.stdout(dir, args)).unwrap()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // every guest's server goes, whatever the test did
        for e in std::fs::read_dir(self.guests())
            .into_iter()
            .flatten()
            .flatten()
        {
            if let Ok(b) = std::fs::read(e.path().join("listening.json")) {
                if let Ok(l) = serde_json::from_slice::<driver::sshd::Listening>(&b) {
                    let _ = Command::new("kill").arg(l.pid.to_string()).status();
                }
            }
        }
    }
}

const ENV: &str =
    "INFRA_TYPE=test\nMEMORY=256\nCPUS=1\nDISK=1\nEGRESS=open\nPROVISION_SCRIPT=setup.sh\n";

fn every_command_runs_against_a_third_driver() {
    let lab = Lab {
        root: tempfile::tempdir().unwrap(),
    };
    let p = lab.project("surfaced", ENV);
    std::fs::write(
        p.join("setup.sh"),
        "#!/bin/sh\nset -e\necho provisioned >> \"$HOME/marker\"\n",
    )
    .unwrap();

    // its name is an INFRA_TYPE, its rules are validation's, and mistyped it is suggested
    assert_eq!(lab.code(&p, &["validate"]), 0);
    let big = lab.project("big", &ENV.replace("MEMORY=256", "MEMORY=8192"));
    let out = lab.tmpl(&big, &["validate"]);
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at most 4096 MiB for a test guest"));
    let typo = lab.project("typo", &ENV.replace("=test", "=testing"));
    let out = lab.tmpl(&typo, &["validate"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("e.g. `INFRA_TYPE=test`"));

    assert_eq!(lab.code(&p, &["status"]), 4, "not created");
    let render = lab.stdout(&p, &["render"]);
    assert!(render.starts_with("a test guest for surfaced-"), "{render}");

    // nothing runs before the folder is approved
    assert_eq!(lab.code(&p, &["up"]), 77);
    assert_eq!(lab.code(&p, &["trust"]), 0);
    assert_eq!(lab.code(&p, &["up"]), 0);
    let status = lab.json(&p, &["status", "--json"]);
    assert_eq!(status["state"], "running");
    assert_eq!(status["type"], "test");
    let home = PathBuf::from(status["test_guest"].as_str().unwrap()).join("home");
    assert_eq!(
        std::fs::read_to_string(home.join("marker")).unwrap(),
        "provisioned\n",
        "provisioned over its SSH at the first up"
    );

    // logging in: a command, its code, the project folder as the working folder
    assert_eq!(
        lab.stdout(&p, &["ssh", "--", "echo", "hello there"]),
        "hello there\n"
    );
    assert_eq!(lab.code(&p, &["ssh", "--", "sh", "-c", "exit 3"]), 3);
    assert_eq!(
        lab.stdout(&p, &["exec", "pwd"]).trim(),
        p.display().to_string()
    );
    let config = lab.stdout(&p, &["ssh-config"]);
    assert!(config.contains("HostName 127.0.0.1"), "{config}");

    assert_eq!(lab.code(&p, &["provision"]), 0);
    assert_eq!(
        std::fs::read_to_string(home.join("marker")).unwrap(),
        "provisioned\nprovisioned\n"
    );

    // snapshots of the guest's own disk
    assert_eq!(lab.code(&p, &["snapshot", "save", "s1"]), 0);
    std::fs::write(home.join("later"), "x").unwrap();
    let list = lab.json(&p, &["snapshot", "list", "--json"]);
    assert_eq!(list[0]["name"], "s1");
    assert_eq!(lab.code(&p, &["snapshot", "restore", "s1"]), 0);
    assert!(!home.join("later").exists(), "restored");
    assert_eq!(lab.code(&p, &["snapshot", "delete", "s1"]), 0);
    assert_eq!(
        lab.json(&p, &["snapshot", "list", "--json"]),
        serde_json::json!([])
    );

    let ls = lab.stdout(&p, &["ls"]);
    assert!(ls.contains("surfaced-") && ls.contains("running"), "{ls}");
    let doctor = lab.tmpl(&p, &["doctor"]);
    assert!(String::from_utf8_lossy(&doctor.stdout).contains("test guests"));
    let vagrant = lab.tmpl(&p, &["vagrant", "--", "status"]);
    assert_eq!(vagrant.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&vagrant.stderr).contains("is a test guest"));

    assert_eq!(lab.code(&p, &["stop"]), 0);
    assert_eq!(lab.code(&p, &["status"]), 3, "stopped");
    assert_eq!(lab.code(&p, &["up"]), 0);
    let marker = lab.stdout(&p, &["ssh", "--", "sh", "-c", "cat \"$HOME/marker\""]);
    assert_eq!(marker.lines().count(), 2, "the guest kept its disk");
    assert_eq!(lab.code(&p, &["rm", "-f"]), 0);
    assert_eq!(lab.code(&p, &["status"]), 4);
    assert!(!home.exists(), "removed");

    // a guest whose project folder went away is the driver's leftover, and gc removes it
    let gone = lab.project("gone", ENV);
    std::fs::write(gone.join("setup.sh"), "#!/bin/sh\ntrue\n").unwrap();
    assert_eq!(lab.code(&gone, &["trust"]), 0);
    assert_eq!(lab.code(&gone, &["up"]), 0);
    std::fs::remove_dir_all(&gone).unwrap();
    let state = lab.root.path().join("xdg/state/tmpl");
    let servers = || tmpl::share::daemon::all(&state);
    assert_eq!(
        servers().len(),
        1,
        "the gone project's folder is still served"
    );
    let gc = lab.tmpl(&p, &["gc", "--yes"]);
    assert!(gc.status.success());
    let said = String::from_utf8_lossy(&gc.stdout);
    assert!(said.contains("test guest"), "{said}");
    assert!(said.contains("file server"), "{said}");
    assert_eq!(
        std::fs::read_dir(lab.guests()).unwrap().count(),
        0,
        "gc removed it"
    );
    assert!(servers().is_empty(), "gc stopped its file server");
}
