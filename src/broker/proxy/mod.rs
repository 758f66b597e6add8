//! The broker's network part: an HTTP proxy (what `HTTPS_PROXY` and `HTTP_PROXY` name in the
//! guest) on the guest's gateway.
//!
//! - `CONNECT host:port` to a host that owns a secret: the broker connects (see `upstream`),
//!   answers 200, and terminates the guest's TLS with a certificate from the guest's CA, while
//!   it opens its own TLS to the real server. Each request then has its placeholders swapped
//!   (`rewrite`) and goes out on that connection (`mitm`).
//! - `CONNECT` anywhere else: a plain tunnel, bytes copied both ways; no TLS is terminated
//!   where nothing needs replacing.
//! - `GET http://…` (plain HTTP, for package managers and the like): sent on as it is. A
//!   secret never travels in clear text, so no placeholder is swapped there.
//!
//! Every connection goes where the guest itself may connect (the gate), checked on the
//! address it goes to. Only the guest's own network may use the broker.

mod mitm;
mod plain;
pub mod upstream;

use super::ca::Leaf;
use super::record::{self, Action, Entry};
use super::rewrite::{normal_host, Secret};
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use ipnet::IpNet;
use std::collections::HashMap;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};
use upstream::{Refused, Upstream};

pub type Body = BoxBody<Bytes, hyper::Error>;

/// One guest's broker.
pub struct Broker {
    pub secrets: Vec<Secret>,
    /// The TLS the guest sees for each host that owns a secret.
    tls_for: HashMap<String, Arc<rustls::ServerConfig>>,
    pub upstream: Upstream,
    /// Where requests are logged (none: not logged).
    pub log: Option<PathBuf>,
    /// Who may use it: the guest's network (none: anyone who reaches the socket).
    pub clients: Option<IpNet>,
}

fn server_config(leaf: &Leaf) -> io::Result<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |e: rustls::pki_types::pem::Error| {
        io::Error::new(io::ErrorKind::InvalidData, e.to_string())
    };
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(leaf.chain_pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(bad)?;
    let key = PrivateKeyDer::from_pem_slice(leaf.key_pem.as_bytes()).map_err(bad)?;
    let mut c = rustls::ServerConfig::builder_with_provider(upstream::crypto())
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(io::Error::other)?;
    // HTTP/1.1 only: the broker speaks it on both sides
    c.alpn_protocols = vec![b"http/1.1".to_vec()];
    // the cipher suite the broker finds cheapest (see `crypto`), whatever the guest lists first
    c.ignore_client_order = true;
    Ok(c)
}

impl Broker {
    pub fn new(secrets: Vec<Secret>, leaves: &[Leaf], upstream: Upstream) -> io::Result<Broker> {
        let mut tls_for = HashMap::new();
        for leaf in leaves {
            tls_for.insert(leaf.host.clone(), Arc::new(server_config(leaf)?));
        }
        Ok(Broker {
            secrets,
            tls_for,
            upstream,
            log: None,
            clients: None,
        })
    }

    fn record(&self, e: Entry) {
        if let Some(file) = &self.log {
            record::append(file, &e);
        }
    }

    /// Serves the guest on `listener` until the process ends.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) -> io::Result<()> {
        loop {
            let (tcp, peer) = match listener.accept().await {
                Ok(c) => c,
                // out of descriptors, say: the next accept may work
                Err(_) => continue,
            };
            if self.clients.is_some_and(|n| !n.contains(&peer.ip())) {
                continue;
            }
            let _ = tcp.set_nodelay(true);
            let broker = self.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| broker.clone().handle(req));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), svc)
                    .with_upgrades()
                    .await;
            });
        }
    }

    async fn handle(
        self: Arc<Self>,
        req: Request<Incoming>,
    ) -> Result<Response<Body>, hyper::Error> {
        if req.method() == Method::CONNECT {
            return Ok(self.connect(req).await);
        }
        if req.uri().scheme().is_some() {
            return Ok(self.plain(req).await);
        }
        Ok(answer(
            StatusCode::BAD_REQUEST,
            "tmpl's credential broker is a proxy: name the host in the request",
        ))
    }

    async fn connect(self: Arc<Self>, req: Request<Incoming>) -> Response<Body> {
        let Some(authority) = req.uri().authority().cloned() else {
            return answer(StatusCode::BAD_REQUEST, "CONNECT needs host:port");
        };
        let host = normal_host(authority.host());
        let port = authority.port_u16().unwrap_or(443);
        let (tcp, addr) = match self.upstream.connect(&host, port).await {
            Ok(c) => c,
            Err(why) => return self.refused(&host, port, "CONNECT", "", why),
        };
        let tls = self.tls_for.get(&host).cloned();
        tokio::spawn(async move {
            let Ok(upgraded) = hyper::upgrade::on(req).await else {
                return;
            };
            match tls {
                Some(tls) => {
                    self.mitm(TokioIo::new(upgraded), tls, tcp, addr, host, port)
                        .await
                }
                None => tunnel(upgraded, tcp).await,
            }
        });
        Response::new(empty())
    }

    /// The answer when the broker did not connect, logged.
    fn refused(
        &self,
        host: &str,
        port: u16,
        method: &str,
        path: &str,
        why: Refused,
    ) -> Response<Body> {
        let (status, text) = match why {
            Refused::Fence => (
                StatusCode::FORBIDDEN,
                format!("tmpl: this guest may not connect to {host}:{port} (EGRESS, EGRESS_ALLOW)"),
            ),
            Refused::Unreachable(e) => (StatusCode::BAD_GATEWAY, format!("tmpl: {e}")),
        };
        if status == StatusCode::FORBIDDEN {
            let mut e = Entry::new(Vec::new(), host, method, path, Action::Refused);
            e.status = Some(status.as_u16());
            self.record(e);
        }
        answer(status, &text)
    }
}

const TUNNEL_BUF: usize = 256 << 10;

async fn tunnel(guest: hyper::upgrade::Upgraded, mut server: TcpStream) {
    let mut guest = TokioIo::new(guest);
    // tokio's default of 8 KiB costs a downloaded gigabyte 250 000 reads and writes
    // (splice(2) was tried: it saved no CPU here, the second TCP hop's own cost is the kernel's)
    let _ =
        tokio::io::copy_bidirectional_with_sizes(&mut guest, &mut server, TUNNEL_BUF, TUNNEL_BUF)
            .await;
}

pub fn empty() -> Body {
    Full::new(Bytes::new())
        .map_err(|never| match never {})
        .boxed()
}

/// A short answer of the broker's own.
pub fn answer(status: StatusCode, text: &str) -> Response<Body> {
    let mut r = Response::new(
        Full::new(Bytes::from(format!("{text}\n")))
            .map_err(|never| match never {})
            .boxed(),
    );
    *r.status_mut() = status;
    r
}
