//! A test guest's SSH server: a process of its own (the test binary in its `sshd` role, see
//! `serve`), listening on loopback, letting in the project's key alone, and running each
//! command with `sh -c` in the guest's folder. Just enough of SSH for tmpl's `ssh`, `exec`,
//! provisioning and its shared connection: sessions, `exec` and `shell` requests, stdin,
//! stdout, stderr and the exit status.

use russh::keys::{PrivateKey, PublicKey};
use russh::server::{Auth, Handle, Msg, Server as _, Session};
use russh::{Channel, ChannelId, CryptoVec};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::ChildStdin;
use tokio::sync::Mutex;

/// Where the guest's server listens and who it is, as `up` reads it back.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Listening {
    pub pid: u32,
    pub port: u16,
}

#[derive(Clone)]
struct Server {
    /// The folder the guest's commands run in (its "root").
    home: PathBuf,
    allowed: PublicKey,
    stdins: Arc<Mutex<HashMap<ChannelId, ChildStdin>>>,
}

impl russh::server::Server for Server {
    type Handler = Server;
    fn new_client(&mut self, _: Option<std::net::SocketAddr>) -> Server {
        self.clone()
    }
}

impl Server {
    /// Starts `command` (a shell reading stdin without one) for `channel` at once, so that
    /// input arriving right after the request finds its stdin, and relays it in the
    /// background.
    async fn start(&self, channel: ChannelId, command: Option<String>, handle: Handle) {
        let mut cmd = tokio::process::Command::new("sh");
        match &command {
            Some(c) => cmd.arg("-c").arg(c),
            None => cmd.arg("-s"),
        };
        cmd.current_dir(&self.home)
            .env("HOME", &self.home)
            // where tmpl's provisioning wrapper keeps the script, in the guest's own disk
            .env("TMPL_PROVISION_DIR", self.home.join(".provision"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let Ok(mut child) = cmd.spawn() else {
            let _ = handle.exit_status_request(channel, 127).await;
            let _ = handle.close(channel).await;
            return;
        };
        if let Some(stdin) = child.stdin.take() {
            self.stdins.lock().await.insert(channel, stdin);
        }
        let stdins = self.stdins.clone();
        tokio::spawn(async move {
            let mut out = child.stdout.take().unwrap();
            let mut err = child.stderr.take().unwrap();
            let (h1, h2) = (handle.clone(), handle.clone());
            let outs = tokio::spawn(async move {
                let mut buf = [0u8; 8192];
                while let Ok(n) = out.read(&mut buf).await {
                    if n == 0
                        || h1
                            .data(channel, CryptoVec::from_slice(&buf[..n]))
                            .await
                            .is_err()
                    {
                        break;
                    }
                }
            });
            let errs = tokio::spawn(async move {
                let mut buf = [0u8; 8192];
                while let Ok(n) = err.read(&mut buf).await {
                    if n == 0
                        || h2
                            .extended_data(channel, 1, CryptoVec::from_slice(&buf[..n]))
                            .await
                            .is_err()
                    {
                        break;
                    }
                }
            });
            let status = child
                .wait()
                .await
                .ok()
                .and_then(|s| s.code())
                .unwrap_or(255);
            let _ = outs.await;
            let _ = errs.await;
            stdins.lock().await.remove(&channel);
            let _ = handle.exit_status_request(channel, status as u32).await;
            let _ = handle.eof(channel).await;
            let _ = handle.close(channel).await;
        });
    }
}

impl russh::server::Handler for Server {
    type Error = russh::Error;

    async fn auth_publickey(&mut self, _user: &str, key: &PublicKey) -> Result<Auth, Self::Error> {
        Ok(if key.key_data() == self.allowed.key_data() {
            Auth::Accept
        } else {
            Auth::reject()
        })
    }

    async fn channel_open_session(
        &mut self,
        _channel: Channel<Msg>,
        _session: &mut Session,
    ) -> Result<bool, Self::Error> {
        Ok(true)
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)?;
        let command = String::from_utf8_lossy(data).into_owned();
        self.start(channel, Some(command), session.handle()).await;
        Ok(())
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)?;
        self.start(channel, None, session.handle()).await;
        Ok(())
    }

    async fn data(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        if let Some(stdin) = self.stdins.lock().await.get_mut(&channel) {
            let _ = stdin.write_all(data).await;
        }
        Ok(())
    }

    async fn channel_eof(
        &mut self,
        channel: ChannelId,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        // closing the child's stdin tells it the input ended
        self.stdins.lock().await.remove(&channel);
        Ok(())
    }
}

/// Serves the guest in `home` until killed: host key `host_key`, the one key let in
/// `allowed`; writes where it listens to `listening` once it does.
pub fn serve(home: &Path, host_key: &Path, allowed: &Path, listening: &Path) {
    let key: PrivateKey = russh::keys::load_secret_key(host_key, None).expect("host key");
    let allowed = russh::keys::parse_public_key_base64(
        std::fs::read_to_string(allowed)
            .expect("authorized key")
            .split_whitespace()
            .nth(1)
            .expect("a public key line"),
    )
    .expect("a public key");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let socket = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap();
        let port = socket.local_addr().unwrap().port();
        let info = Listening {
            pid: std::process::id(),
            port,
        };
        std::fs::write(listening, serde_json::to_vec(&info).unwrap()).unwrap();
        let config = Arc::new(russh::server::Config {
            keys: vec![key],
            auth_rejection_time: std::time::Duration::from_millis(10),
            auth_rejection_time_initial: Some(std::time::Duration::ZERO),
            ..Default::default()
        });
        let mut server = Server {
            home: home.to_owned(),
            allowed,
            stdins: Arc::default(),
        };
        let _ = server.run_on_socket(config, &socket).await;
    });
}
