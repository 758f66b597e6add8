//! Reaching a guest over plain OpenSSH, the same way for VMs and containers.
//!
//! Each project has its own key, `known_hosts` and an OpenSSH config file in its state dir,
//! written when the guest comes up. `tmpl ssh` runs `ssh -F <that file>` directly (never
//! `vagrant ssh`, which costs seconds), sharing one connection per project through a control
//! socket in a private directory.
//!
//! The shared connection is started on its own, detached from every pipe (`ssh -f -N` with
//! null stdio), and commands then run as clients of it. Letting the first command become the
//! master instead would leave a background process holding the caller's stdout, and
//! `out=$(tmpl ssh -- date)` would hang until it exited.

mod control;
pub mod remote;

pub use control::{control_dir, ensure_control_dir};

use crate::error::{ExitStatus, Failure};
use crate::process::{shell_quote, Cmd};
use anyhow::{Context as _, Result};
use serde::Serialize;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Where and how to log in to a guest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub identity: PathBuf,
}

/// The files of one project's SSH access.
#[derive(Debug, Clone)]
pub struct Access {
    /// `tmpl-<slug>`: the `Host` alias and the host-key alias.
    pub alias: String,
    pub dir: PathBuf,
}

impl Access {
    pub fn new(slug: &str, state_dir: &Path) -> Access {
        Access {
            alias: format!("tmpl-{slug}"),
            dir: state_dir.join("ssh"),
        }
    }
    pub fn key(&self) -> PathBuf {
        self.dir.join("id_ed25519")
    }
    pub fn config(&self) -> PathBuf {
        self.dir.join("config")
    }
    pub fn known_hosts(&self) -> PathBuf {
        self.dir.join("known_hosts")
    }
    pub fn control_path(&self) -> PathBuf {
        control_dir().join(&self.alias)
    }

    /// An ed25519 key pair at `key` (and `key.pub`), made unless it is there.
    fn keygen(&self, key: &Path) -> Result<()> {
        if !key.exists() {
            Cmd::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C"])
                .arg(&self.alias)
                .arg("-f")
                .arg(key)
                .read()?;
        }
        Ok(())
    }

    /// The project's key pair, made on first use. Returns the public key.
    pub fn ensure_key(&self) -> Result<String> {
        private_dir(&self.dir)?;
        let key = self.key();
        self.keygen(&key)?;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))?;
        let public = std::fs::read_to_string(key.with_extension("pub"))
            .with_context(|| format!("cannot read {}.pub", key.display()))?;
        Ok(public.trim().to_owned())
    }

    /// The guest's own host key, made by tmpl on first use, for a guest that takes it at
    /// creation (a container through its spec, a cloud image through its seed): sshd then starts without generating keys, and the pin is exact
    /// from the first contact, so no neighbour answering first could win an `accept-new`.
    /// Returns (private key text, public key line).
    pub fn ensure_host_key(&self) -> Result<(String, String)> {
        private_dir(&self.dir)?;
        let key = self.dir.join("host_ed25519");
        self.keygen(&key)?;
        let private = std::fs::read_to_string(&key)
            .with_context(|| format!("cannot read {}", key.display()))?;
        let public = std::fs::read_to_string(key.with_extension("pub"))
            .with_context(|| format!("cannot read {}.pub", key.display()))?;
        Ok((private, public.trim().to_owned()))
    }

    /// Pins `public` (`ssh-ed25519 AAAA… comment`) as the only key of this guest.
    pub fn pin_host_key(&self, public: &str) -> Result<()> {
        let mut words = public.split_whitespace();
        let (Some(kind), Some(b64)) = (words.next(), words.next()) else {
            anyhow::bail!("not a public key: {public}");
        };
        crate::atomic::write(
            &self.known_hosts(),
            format!("{} {kind} {b64}\n", self.alias).as_bytes(),
            0o600,
        )
    }

    /// The `Host` block for this endpoint.
    pub fn host_block(&self, e: &Endpoint) -> String {
        let q = |p: &Path| format!("\"{}\"", p.display());
        format!(
            "Host {alias}\n  HostName {host}\n  Port {port}\n  User {user}\n  IdentityFile {key}\n  IdentitiesOnly yes\n  HostKeyAlias {alias}\n  UserKnownHostsFile {kh}\n  StrictHostKeyChecking accept-new\n  ControlPath {cp}\n  ControlPersist 600\n  ServerAliveInterval 30\n  LogLevel ERROR\n",
            alias = self.alias,
            host = e.host,
            port = e.port,
            user = e.user,
            key = q(&e.identity),
            kh = q(&self.known_hosts()),
            cp = q(&self.control_path()),
        )
    }

    /// Writes the config when it changed; returns whether it did. A changed endpoint means the
    /// guest moved: the old shared connection is closed so nothing talks to the old address.
    pub fn write_config(&self, e: &Endpoint) -> Result<bool> {
        private_dir(&self.dir)?;
        let text = format!(
            "# Written by tmpl; rewritten whenever the guest's address changes.\n{}",
            self.host_block(e)
        );
        if std::fs::read_to_string(self.config()).ok().as_deref() == Some(text.as_str()) {
            return Ok(false);
        }
        self.close_master();
        crate::atomic::write(&self.config(), text.as_bytes(), 0o600)?;
        Ok(true)
    }

    /// The endpoint the config file points at, if there is one.
    pub fn cached_endpoint(&self) -> Option<Endpoint> {
        let text = std::fs::read_to_string(self.config()).ok()?;
        let field = |name: &str| {
            text.lines()
                .map(str::trim)
                .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(' ')))
                .map(|v| v.trim().trim_matches('"').to_owned())
        };
        Some(Endpoint {
            host: field("HostName")?,
            port: field("Port")?.parse().ok()?,
            user: field("User")?,
            identity: field("IdentityFile")?.into(),
        })
    }

    /// A new guest has new host keys: forget the old ones.
    pub fn forget_host_keys(&self) {
        let _ = std::fs::remove_file(self.known_hosts());
        self.close_master();
    }

    /// `ssh -F <the project's config>`, once the control socket's folder is known to be
    /// private: a socket there is trusted with the session.
    fn base(&self) -> Result<Cmd> {
        ensure_control_dir()?;
        Ok(Cmd::new("ssh").arg("-F").arg(self.config()))
    }

    /// Is a shared connection listening on the control socket (in a private folder)?
    pub fn master_alive(&self) -> bool {
        ensure_control_dir().is_ok()
            && std::os::unix::net::UnixStream::connect(self.control_path()).is_ok()
    }

    pub fn close_master(&self) {
        if !self.control_path().exists() {
            return;
        }
        if let Ok(base) = self.base() {
            let _ = base.args(["-O", "exit"]).arg(&self.alias).output();
            let _ = std::fs::remove_file(self.control_path());
        }
    }

    /// Starts the shared connection if none is there. Failing to connect is not fatal:
    /// commands then connect on their own.
    fn ensure_master(&self) -> Result<()> {
        let base = self.base()?;
        if self.control_path().exists() {
            return Ok(());
        }
        // from `/`: the master outlives tmpl, and must not hold the project folder
        let _ = base
            .dir("/")
            .args([
                "-f",
                "-N",
                "-o",
                "ControlMaster=yes",
                "-o",
                "ConnectTimeout=10",
                "-o",
                "BatchMode=yes",
            ])
            .arg(&self.alias)
            .output();
        Ok(())
    }

    /// The `ssh` command that runs `command` in the guest (a login shell when empty), each
    /// argument quoted for the remote shell so it arrives exactly as given.
    pub fn command(&self, command: &[String], tty: bool) -> Result<Cmd> {
        let remote: Vec<String> = command.iter().map(|a| shell_quote(a)).collect();
        self.command_line(&remote.join(" "), tty)
    }

    /// Like `command`, offering `keys` before the project's, on a connection of its own (the
    /// shared one logs in with the project's key alone): a box's first contact, while only
    /// Vagrant's insecure key is authorized. Without `keys`, `command`.
    pub fn command_offering(&self, command: &[String], keys: &[PathBuf]) -> Result<Cmd> {
        if keys.is_empty() {
            return self.command(command, false);
        }
        let remote: Vec<String> = command.iter().map(|a| shell_quote(a)).collect();
        let mut cmd = self.base()?.args(["-o", "ControlPath=none", "-T"]);
        for k in keys {
            cmd = cmd.arg("-i").arg(k);
        }
        Ok(cmd.arg(&self.alias).arg("--").arg(remote.join(" ")))
    }

    /// The `ssh` command that hands `line` (already quoted; empty: a login shell) to the
    /// guest's login shell.
    pub fn command_line(&self, line: &str, tty: bool) -> Result<Cmd> {
        self.ensure_master()?;
        let cmd = self
            .base()?
            .args(["-o", "ControlMaster=no"])
            .arg(if tty { "-t" } else { "-T" })
            .arg(&self.alias);
        Ok(if line.is_empty() {
            cmd
        } else {
            cmd.arg("--").arg(line)
        })
    }

    /// Waits until sshd greets on the configured endpoint, up to `timeout`: enough for a
    /// guest whose sshd starts only once its keys are in place (a container's entrypoint), and
    /// whose host key tmpl pinned, so the first `tmpl ssh` still checks who answers.
    pub fn wait_greeting(&self, timeout: Duration) -> Result<()> {
        let start = Instant::now();
        if let Some(e) = self.cached_endpoint() {
            while start.elapsed() < timeout {
                crate::interrupt::check("waiting for SSH")?;
                if greets(&e) {
                    return Ok(());
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        // no endpoint, or no greeting in time: a login attempt says why
        self.wait_ready(
            timeout
                .saturating_sub(start.elapsed())
                .max(Duration::from_secs(1)),
        )
    }

    /// Waits until the guest accepts a login, up to `timeout`.
    pub fn wait_ready(&self, timeout: Duration) -> Result<()> {
        let start = Instant::now();
        let mut last = String::new();
        let endpoint = self.cached_endpoint();
        while start.elapsed() < timeout {
            crate::interrupt::check("waiting for SSH")?;
            // sshd's greeting first, polled every 10 ms: a login attempt costs an ssh process
            // (tens of ms), a refused connect a few microseconds
            if let Some(e) = &endpoint {
                if !greets(e) {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
            }
            let out = self
                .base()?
                .args([
                    "-o",
                    "ControlMaster=no",
                    "-o",
                    "ControlPath=none",
                    "-o",
                    "ConnectTimeout=5",
                    "-o",
                    "BatchMode=yes",
                    "-T",
                ])
                .arg(&self.alias)
                .arg("true")
                .output()?;
            if out.success() {
                return Ok(());
            }
            last = out.stderr.trim().to_owned();
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(Failure::new(
            ExitStatus::Failure,
            format!(
                "the guest did not accept SSH logins within {}s",
                timeout.as_secs()
            ),
        )
        .detail(format!("| {last}"))
        .hint(format!(
            "try `ssh -F {} {} -v` to see why",
            self.config().display(),
            self.alias
        ))
        .into())
    }
}

/// Does an SSH server greet on the endpoint? A published port accepts connections before
/// sshd runs (Podman's forwarder does, then closes them), so the greeting is what says it is
/// up. Once a connection is accepted the greeting is awaited patiently: a guest busy booting
/// under emulation takes seconds to start sshd's child, and giving up on the connection to
/// open another only adds to its load (and to sshd's `MaxStartups` count).
fn greets(e: &Endpoint) -> bool {
    use std::io::Read;
    use std::net::ToSocketAddrs;
    let Some(addr) = (e.host.as_str(), e.port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
    else {
        return true; // a name we cannot resolve here: let ssh try and say why
    };
    let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let mut buf = [0u8; 4];
    s.read_exact(&mut buf).is_ok() && &buf == b"SSH-"
}

/// Does the endpoint accept a TCP connection right now? (Well under a millisecond locally.)
pub fn port_open(e: &Endpoint) -> bool {
    use std::net::ToSocketAddrs;
    let Ok(mut addrs) = (e.host.as_str(), e.port).to_socket_addrs() else {
        return false;
    };
    addrs.next().is_some_and(|a| {
        std::net::TcpStream::connect_timeout(&a, Duration::from_millis(500)).is_ok()
    })
}

/// Creates `dir` (mode 0700) or tightens it.
pub fn private_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    Ok(())
}

/// Writes a file only its owner can read (generated keys, inventories, seeds).
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(bytes)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_round_trips_the_endpoint() {
        let dir = tempfile::tempdir().unwrap();
        let a = Access::new("app-12345678", dir.path());
        let e = Endpoint {
            host: "192.168.121.5".into(),
            port: 22,
            user: "tmpl".into(),
            identity: "/k/id".into(),
        };
        assert!(a.write_config(&e).unwrap());
        assert!(
            !a.write_config(&e).unwrap(),
            "unchanged config is not rewritten"
        );
        assert_eq!(a.cached_endpoint().unwrap(), e);
        let mode = std::fs::metadata(a.config()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let block = a.host_block(&e);
        assert!(block.starts_with("Host tmpl-app-12345678\n"));
        assert!(block.contains("HostKeyAlias tmpl-app-12345678"));
    }
}
