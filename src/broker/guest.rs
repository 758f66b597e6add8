//! The guest's side of the broker, set up over SSH once the guest answers, the same for
//! every driver: the CA in the system's trust store, the placeholders and the proxy in every
//! session tmpl gives it (`tmpl ssh`, `exec`, the `SESSION`, provisioning, through sshd's
//! `SetEnv`), in login shells and through sudo, and a git credential helper (`guest.sh`).
//!
//! Recorded in the broker's folder (`guest.json`): an `up` of a running guest whose side is
//! as recorded costs nothing; a guest that was started or made anew is set up again (the
//! script itself returns at once when its own record matches).

use crate::error::{ExitStatus, Failure};
use crate::ssh::Access;
use anyhow::Result;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::time::{Duration, Instant};

const SCRIPT: &str = include_str!("guest.sh");
const RECORD: &str = "guest.json";

/// What the guest is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Side {
    /// `http://GATEWAY:PORT`.
    pub proxy: String,
    pub ca_pem: String,
    /// Each secret's name and its placeholder.
    pub placeholders: Vec<(String, String)>,
    /// Each host that owns a secret and the placeholder git answers with there.
    pub git_hosts: Vec<(String, String)>,
}

impl Side {
    /// `NAME=VALUE` lines; the guest adds its own host name to `NO_PROXY` and the CA's paths.
    pub fn variables(&self) -> String {
        let mut out = String::new();
        for k in ["HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"] {
            out.push_str(&format!("{k}={}\n", self.proxy));
        }
        for k in ["NO_PROXY", "no_proxy"] {
            out.push_str(&format!("{k}=localhost,127.0.0.1,::1\n"));
        }
        // Node's own fetch goes through the proxy only when asked (Node 24 and later)
        out.push_str("NODE_USE_ENV_PROXY=1\n");
        for (name, placeholder) in &self.placeholders {
            out.push_str(&format!("{name}={placeholder}\n"));
        }
        out
    }

    fn git(&self) -> String {
        self.git_hosts
            .iter()
            .map(|(h, p)| format!("{h} {p}\n"))
            .collect()
    }
}

fn as_root(user: &str, argv: Vec<String>) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    if user != "root" {
        v.extend(["sudo", "-n", "--"].map(String::from));
    }
    v.extend(argv);
    v
}

fn script_argv(action: &str, fingerprint: &str, side: Option<&Side>) -> Vec<String> {
    let (ca, vars, git) = side.map_or_else(Default::default, |s| {
        (s.ca_pem.clone(), s.variables(), s.git())
    });
    ["sh", "-c", SCRIPT, "tmpl", action, fingerprint]
        .iter()
        .map(|s| s.to_string())
        .chain([ca, vars, git])
        .collect()
}

fn fingerprint(side: &Side) -> String {
    let text = script_argv("apply", "", Some(side)).join("\0");
    Sha256::digest(text.as_bytes())
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `settle` has anything to do: a guest that had secrets and has none now, a guest
/// whose side changed, or one this `up` started or made (`fresh`).
pub fn needed(dir: &Path, side: Option<&Side>, fresh: bool) -> bool {
    let recorded = std::fs::read_to_string(dir.join(RECORD)).ok();
    match side {
        None => recorded.is_some(),
        Some(side) => fresh || recorded.as_deref() != Some(fingerprint(side).as_str()),
    }
}

/// Brings the guest's side in line with `side` (`None`: the guest has no secrets, and loses
/// what an earlier `up` gave it). `fresh`: the guest was started or made by this `up`, so
/// what it has is not known. `user`: the login user (through `sudo -n` when not root).
pub fn settle(
    access: &Access,
    user: &str,
    dir: &Path,
    side: Option<&Side>,
    fresh: bool,
) -> Result<()> {
    let record = dir.join(RECORD);
    let recorded = std::fs::read_to_string(&record).ok();
    let Some(side) = side else {
        if recorded.is_some() {
            run(access, user, script_argv("remove", "", None))?;
            access.close_master();
            wait_for(access, "")?;
            let _ = std::fs::remove_file(&record);
        }
        return Ok(());
    };
    let fp = fingerprint(side);
    if !fresh && recorded.as_deref() == Some(fp.as_str()) {
        return Ok(());
    }
    // "unchanged": the guest had it all already (a guest started again with its disk)
    if run(access, user, script_argv("apply", &fp, Some(side)))? != "unchanged" {
        // the shared connection was opened before sshd read its new settings: sessions on
        // it would not have them
        access.close_master();
        wait_for(access, &side.proxy)?;
    }
    crate::ssh::private_dir(dir)?;
    crate::atomic::write(&record, fp.as_bytes(), 0o600)
}

/// Runs the script as root; what it printed.
fn run(access: &Access, user: &str, argv: Vec<String>) -> Result<String> {
    let out = access.command(&as_root(user, argv), false)?.output()?;
    if out.success() {
        return Ok(out.stdout.trim().to_owned());
    }
    Err(Failure::new(
        ExitStatus::Failure,
        "cannot give the guest its side of the credential broker",
    )
    .detail(format!(
        "| {}",
        crate::text::terminal_safe(out.stderr.trim())
    ))
    .hint("`tmpl ssh` to look inside; the next `tmpl up` tries again")
    .into())
}

/// Until a new session has `HTTPS_PROXY` set to `proxy` (empty: none): sshd reads its
/// settings again after a moment, seconds in a VM under emulation.
fn wait_for(access: &Access, proxy: &str) -> Result<()> {
    let start = Instant::now();
    let argv = ["sh", "-c", "printf %s \"$HTTPS_PROXY\""].map(String::from);
    let mut last = String::new();
    while start.elapsed() < Duration::from_secs(20) {
        if let Ok(out) = access.command(&argv, false)?.output() {
            if out.success() && out.stdout == proxy {
                return Ok(());
            }
            last = out.stdout;
        }
        access.close_master();
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(Failure::new(
        ExitStatus::Failure,
        "the guest's sessions do not get the credential broker's variables",
    )
    .detail(format!("| HTTPS_PROXY is `{last}`, not `{proxy}`"))
    .hint("the guest's sshd must read /etc/ssh/sshd_config.d/ (OpenSSH 8.7 or later for SetEnv)")
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side() -> Side {
        Side {
            proxy: "http://10.138.7.1:3128".into(),
            ca_pem: "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n".into(),
            placeholders: vec![(
                "GITHUB_TOKEN".into(),
                "tmpl-placeholder-github_token-aa".into(),
            )],
            git_hosts: vec![(
                "github.com".into(),
                "tmpl-placeholder-github_token-aa".into(),
            )],
        }
    }

    #[test]
    fn the_variables_every_session_gets() {
        let v = side().variables();
        for line in [
            "HTTPS_PROXY=http://10.138.7.1:3128",
            "http_proxy=http://10.138.7.1:3128",
            "NO_PROXY=localhost,127.0.0.1,::1",
            "GITHUB_TOKEN=tmpl-placeholder-github_token-aa",
        ] {
            assert!(v.lines().any(|l| l == line), "{line}\n{v}");
        }
        assert_eq!(
            as_root("vagrant", vec!["sh".into()])[..3],
            ["sudo", "-n", "--"]
        );
        assert_eq!(fingerprint(&side()), fingerprint(&side()));
    }

    /// The script, run by the host's `sh` against a folder that stands in for `/`: what it
    /// writes is checked through the paths it would use in a guest.
    #[test]
    fn the_git_helper_answers_for_its_hosts_only() {
        let d = tempfile::tempdir().unwrap();
        let helper = d.path().join("git-credential");
        // the helper as the script writes it, pointed at a hosts file of the test's
        let text = SCRIPT
            .split("<<'HELPER'\n")
            .nth(1)
            .unwrap()
            .split("\nHELPER\n")
            .next()
            .unwrap();
        let hosts = d.path().join("git-hosts");
        std::fs::write(&hosts, side().git()).unwrap();
        std::fs::write(
            &helper,
            text.replace(
                "/etc/tmpl/credentials/git-hosts",
                &hosts.display().to_string(),
            ),
        )
        .unwrap();
        let ask = |input: &str| {
            use std::io::Write;
            let mut c = std::process::Command::new("sh")
                .arg(&helper)
                .arg("get")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            c.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
            String::from_utf8(c.wait_with_output().unwrap().stdout).unwrap()
        };
        assert_eq!(
            ask("protocol=https\nhost=github.com\n\n"),
            "username=x-access-token\npassword=tmpl-placeholder-github_token-aa\n"
        );
        assert_eq!(ask("protocol=https\nhost=gitlab.com\n\n"), "");
        assert_eq!(
            ask("protocol=http\nhost=github.com\n\n"),
            "",
            "never over plain HTTP"
        );
    }
}
