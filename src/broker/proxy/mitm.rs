//! A host that owns a secret: the guest's TLS ends here, with a certificate from its CA, and
//! the broker's own TLS to the real server (opened while the guest's handshake runs) carries
//! each request on, with the placeholders of the secrets that host owns swapped for their
//! values. One connection to the server per connection from the guest, kept while both
//! are open, so a client's keep-alive costs no new handshake upstream.

use super::super::record::{Action, Entry};
use super::super::rewrite::{normal_host, rewrite};
use super::{answer, Body, Broker};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

type Sender = SendRequest<Incoming>;

/// The connection to the server: open, or why it could not be opened (told to the guest in
/// each answer, never worked round).
type Server = Result<Sender, String>;

async fn handshake<S>(io: S) -> Result<Sender, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    Ok(sender)
}

impl Broker {
    pub(super) async fn mitm<G>(
        self: Arc<Self>,
        guest: G,
        tls: Arc<rustls::ServerConfig>,
        tcp: TcpStream,
        addr: SocketAddr,
        host: String,
        port: u16,
    ) where
        G: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let accept = tokio_rustls::TlsAcceptor::from(tls).accept(guest);
        let (guest, server) = tokio::join!(accept, self.upstream.tls(&host, tcp));
        let Ok(guest) = guest else { return };
        let server: Server = match server {
            Ok(s) => handshake(s).await,
            Err(e) => Err(format!("TLS with {host} ({addr}) failed: {e}")),
        };
        let server = Arc::new(Mutex::new(server));
        let svc = hyper::service::service_fn(move |req| {
            let (broker, server, host) = (self.clone(), server.clone(), host.clone());
            async move { Ok::<_, hyper::Error>(broker.forward(req, &host, port, &server).await) }
        });
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(guest), svc)
            .await;
    }

    /// The server's connection, opened again if it was closed between requests.
    async fn ready(&self, server: &mut Server, host: &str, port: u16) -> Result<(), String> {
        if let Ok(s) = server {
            if s.ready().await.is_ok() {
                return Ok(());
            }
        } else {
            // a failed verification is final for this connection: say why, every time
            return server.as_ref().map(|_| ()).map_err(Clone::clone);
        }
        let (tcp, _) = self
            .upstream
            .connect(host, port)
            .await
            .map_err(|e| format!("{e:?}"))?;
        let tls = self
            .upstream
            .tls(host, tcp)
            .await
            .map_err(|e| format!("TLS with {host} failed: {e}"))?;
        *server = Ok(handshake(tls).await?);
        Ok(())
    }

    async fn forward(
        &self,
        mut req: Request<Incoming>,
        host: &str,
        port: u16,
        server: &Mutex<Server>,
    ) -> Response<Body> {
        // the host the request names must be the one it goes to: a server may route by the
        // name (a CDN), and a value must not reach another name behind the same address
        let named = req
            .uri()
            .authority()
            .map(|a| a.host().to_owned())
            .or_else(|| {
                req.headers()
                    .get(http::header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .map(str::to_owned)
            })
            .map(|h| normal_host(&h));
        let owner = (named.as_deref() == Some(host)).then_some(host);
        let outcome = rewrite(req.headers_mut(), owner, &self.secrets);
        let (method, path) = (req.method().as_str(), req.uri().path());
        // one line for what went out (a request with no secret too), one for what was kept
        let mut entries = vec![Entry::new(
            outcome.swapped,
            host,
            method,
            path,
            Action::Sent,
        )];
        if !outcome.withheld.is_empty() {
            entries.push(Entry::new(
                outcome.withheld,
                host,
                method,
                path,
                Action::Withheld,
            ));
        }
        let mut server = server.lock().await;
        let response = match self.ready(&mut server, host, port).await {
            Err(why) => {
                entries[0].action = Action::Failed;
                answer(StatusCode::BAD_GATEWAY, &format!("tmpl: {why}"))
            }
            Ok(()) => match server.as_mut().expect("ready").send_request(req).await {
                Ok(r) => r.map(|b| b.boxed()),
                Err(e) => answer(StatusCode::BAD_GATEWAY, &format!("tmpl: {host}: {e}")),
            },
        };
        for mut e in entries {
            e.status = Some(response.status().as_u16());
            self.record(e);
        }
        response
    }
}
