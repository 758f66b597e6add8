//! The broker's way out: resolve the name, keep only the addresses the gate allows, connect
//! to one of them (so the address checked is the address used: a name that resolves to a
//! LAN address gets nowhere, whatever it resolved to a moment before), and for a host that
//! owns a secret, TLS that verifies the real server against the host's trust store
//! (`SSL_CERT_FILE` and `SSL_CERT_DIR` are honoured, as OpenSSL does).

use super::super::gate::Gate;
use futures_util::future::BoxFuture;
use rustls::pki_types::ServerName;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::BufReader;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// Name to addresses: the system's resolver, or a test's own.
pub type Resolve =
    Arc<dyn Fn(String, u16) -> BoxFuture<'static, io::Result<Vec<SocketAddr>>> + Send + Sync>;

/// The system's resolver (`getaddrinfo`: `/etc/hosts`, then DNS).
pub fn system_resolver() -> Resolve {
    Arc::new(|host: String, port: u16| {
        Box::pin(async move {
            Ok(tokio::net::lookup_host((host.as_str(), port))
                .await?
                .collect())
        })
    })
}

/// Why the broker did not connect.
#[derive(Debug)]
pub enum Refused {
    /// The guest may not reach any address the name has.
    Fence,
    /// It may, but none answered (or the name does not resolve).
    Unreachable(String),
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// TLS reads records of up to 16 KiB, a socket read or two each; from a buffer of its own, a
/// download costs a read in 16 of them (each one a system call, which counts in a sandbox).
const READ_BUF: usize = 256 << 10;

/// The connection to a server, read through a buffer.
pub type Buffered = BufReader<TcpStream>;

pub struct Upstream {
    pub gate: Arc<dyn Gate>,
    pub resolve: Resolve,
    pub tls: Arc<rustls::ClientConfig>,
}

/// ring, not aws-lc-rs: no C build of a second crypto library (the tests' SSH server uses
/// ring too). rustls 0.23.48 marks it deprecated because it has no post-quantum key
/// exchange; the broker's own TLS is to the guest on its gateway, and to the real server
/// with the classical exchange, as most clients still use.
///
/// AES-128-GCM first: a terminated connection is decrypted and encrypted again here, and
/// it has four fewer rounds a block than AES-256 (about a third less work), which is what
/// a download through the broker is made of.
#[allow(deprecated)]
pub fn crypto() -> Arc<rustls::crypto::CryptoProvider> {
    let mut p = rustls::crypto::ring::default_provider();
    p.cipher_suites.sort_by_key(|s| match s.suite() {
        rustls::CipherSuite::TLS13_AES_128_GCM_SHA256 => 0,
        rustls::CipherSuite::TLS13_AES_256_GCM_SHA384 => 1,
        _ => 2,
    });
    Arc::new(p)
}

/// TLS to real servers: the host's trust store, HTTP/1.1.
pub fn client_config() -> io::Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "no trusted certificate found in the host's store (or SSL_CERT_FILE)",
        ));
    }
    let mut c = rustls::ClientConfig::builder_with_provider(crypto())
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    c.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(c)
}

impl Upstream {
    /// A connection to `host:port` at an address the guest may reach.
    pub async fn connect(&self, host: &str, port: u16) -> Result<(TcpStream, SocketAddr), Refused> {
        let (addrs, name) = match host.parse::<IpAddr>() {
            Ok(ip) => (vec![SocketAddr::new(ip, port)], None),
            Err(_) => match (self.resolve)(host.to_owned(), port).await {
                Ok(a) => (a, Some(host)),
                Err(e) => {
                    return Err(Refused::Unreachable(format!(
                        "{host} does not resolve: {e}"
                    )))
                }
            },
        };
        let allowed: Vec<SocketAddr> = addrs
            .into_iter()
            .filter(|a| self.gate.allows(a.ip(), port, name))
            .collect();
        if allowed.is_empty() {
            return Err(Refused::Fence);
        }
        let mut last = String::new();
        for addr in allowed {
            match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
                Ok(Ok(s)) => {
                    let _ = s.set_nodelay(true);
                    return Ok((s, addr));
                }
                Ok(Err(e)) => last = format!("{addr}: {e}"),
                Err(_) => last = format!("{addr}: no answer in {}s", CONNECT_TIMEOUT.as_secs()),
            }
        }
        Err(Refused::Unreachable(last))
    }

    /// TLS over `tcp` to `host`, verified.
    pub async fn tls(&self, host: &str, tcp: TcpStream) -> io::Result<TlsStream<Buffered>> {
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        TlsConnector::from(self.tls.clone())
            .connect(name, BufReader::with_capacity(READ_BUF, tcp))
            .await
    }
}
