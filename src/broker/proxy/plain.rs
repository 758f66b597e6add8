//! Plain HTTP through the broker (`http_proxy`): what package managers fetch. Sent on as it
//! is, to where the guest may connect; a placeholder in it stays a placeholder (a secret
//! never travels in clear text) and the attempt is logged.

use super::super::record::{Action, Entry};
use super::super::rewrite::{normal_host, rewrite};
use super::{answer, Body, Broker};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::sync::Arc;

impl Broker {
    pub(super) async fn plain(self: Arc<Self>, mut req: Request<Incoming>) -> Response<Body> {
        let uri = req.uri().clone();
        if uri.scheme_str() != Some("http") {
            return answer(
                StatusCode::BAD_REQUEST,
                "tmpl: only http:// is sent on as it is; https goes through CONNECT",
            );
        }
        let Some(authority) = uri.authority() else {
            return answer(StatusCode::BAD_REQUEST, "tmpl: no host in the request");
        };
        let host = normal_host(authority.host());
        let port = authority.port_u16().unwrap_or(80);
        let method = req.method().as_str().to_owned();
        let (tcp, _) = match self.upstream.connect(&host, port).await {
            Ok(c) => c,
            Err(why) => return self.refused(&host, port, &method, uri.path(), why),
        };
        let outcome = rewrite(req.headers_mut(), None, &self.secrets);
        if !outcome.withheld.is_empty() {
            let mut e = Entry::new(
                outcome.withheld,
                &host,
                &method,
                uri.path(),
                Action::Withheld,
            );
            e.status = None;
            self.record(e);
        }
        // what was for the proxy stays here; the server gets an ordinary request
        let headers = req.headers_mut();
        headers.remove("proxy-connection");
        headers.remove(http::header::PROXY_AUTHORIZATION);
        if !headers.contains_key(http::header::HOST) {
            if let Ok(v) = authority.as_str().parse() {
                headers.insert(http::header::HOST, v);
            }
        }
        *req.uri_mut() = uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
            .parse()
            .unwrap_or_default();
        let (mut sender, conn) =
            match hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await {
                Ok(c) => c,
                Err(e) => return answer(StatusCode::BAD_GATEWAY, &format!("tmpl: {host}: {e}")),
            };
        tokio::spawn(conn);
        match sender.send_request(req).await {
            Ok(r) => r.map(|b| b.boxed()),
            Err(e) => answer(StatusCode::BAD_GATEWAY, &format!("tmpl: {host}: {e}")),
        }
    }
}
