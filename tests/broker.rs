//! The credential broker against a stand-in API server on this machine, no root needed: an
//! HTTPS server with a certificate from a test CA (which the broker trusts through
//! `SSL_CERT_FILE`, as the end-to-end tests do), recording the headers it receives. The
//! guest's side is played by this test: it speaks to the broker as curl would through
//! `HTTPS_PROXY`, trusting the guest's CA.
//!
//! The broker runs in this process with a resolver that sends every name to the stand-in and
//! a gate that allows loopback (the real gate never does: `fence::allows` is tested on its
//! own, and the end-to-end tests use the real one); then once as its own process, as `up`
//! starts it, to see it outlive its starter and keep its values to itself.

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use tmpl::broker::ca::Leaf;
use tmpl::broker::gate::Gate;
use tmpl::broker::proxy::upstream::{self, Upstream};
use tmpl::broker::proxy::Broker;
use tmpl::broker::rewrite::Secret;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const KEY: &str = "sk-ant-REAL-VALUE-0123";
const TOKEN: &str = "ghp_REAL_TOKEN_4567";
const KEY_PH: &str = "tmpl-placeholder-anthropic_api_key-00112233445566778899aabbccddeeff";
const TOKEN_PH: &str = "tmpl-placeholder-github_token-ffeeddccbbaa99887766554433221100";

/// Headers each stand-in saw, by the host the request named.
type Seen = Arc<Mutex<Vec<(String, BTreeMap<String, String>)>>>;

fn crypto() -> Arc<rustls::crypto::CryptoProvider> {
    tmpl::broker::proxy::upstream::crypto()
}

/// A CA of the test's and a server certificate for each name, signed by it.
struct TestCa {
    pem: String,
    leaves: Vec<Leaf>,
}

fn test_ca(hosts: &[&str]) -> TestCa {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    p.distinguished_name
        .push(rcgen::DnType::CommonName, "stand-in CA");
    let ca = p.self_signed(&key).unwrap();
    let leaves = hosts
        .iter()
        .map(|h| {
            let k = rcgen::KeyPair::generate().unwrap();
            let c = rcgen::CertificateParams::new(vec![h.to_string()])
                .unwrap()
                .signed_by(&k, &ca, &key)
                .unwrap();
            Leaf {
                host: h.to_string(),
                chain_pem: c.pem(),
                key_pem: k.serialize_pem(),
            }
        })
        .collect();
    TestCa {
        pem: ca.pem(),
        leaves,
    }
}

fn server_tls(leaves: &[Leaf]) -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    // one certificate per name, chosen by SNI
    let mut resolver = rustls::server::ResolvesServerCertUsingSni::new();
    for l in leaves {
        let chain: Vec<_> =
            rustls::pki_types::CertificateDer::pem_slice_iter(l.chain_pem.as_bytes())
                .map(|c| c.unwrap())
                .collect();
        let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(l.key_pem.as_bytes()).unwrap();
        let signing = crypto().key_provider.load_private_key(key).unwrap();
        resolver
            .add(&l.host, rustls::sign::CertifiedKey::new(chain, signing))
            .unwrap();
    }
    let c = rustls::ServerConfig::builder_with_provider(crypto())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    Arc::new(c)
}

/// The stand-in API server: HTTPS on loopback, answers 200 and notes the headers.
async fn stand_in(leaves: Vec<Leaf>, seen: Seen) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let tls = tokio_rustls::TlsAcceptor::from(server_tls(&leaves));
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let (tls, seen) = (tls.clone(), seen.clone());
            tokio::spawn(async move {
                let Ok(s) = tls.accept(tcp).await else { return };
                let svc = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let seen = seen.clone();
                        async move {
                            let host = req
                                .headers()
                                .get("host")
                                .map(|h| h.to_str().unwrap().to_owned())
                                .unwrap_or_default();
                            let headers = req
                                .headers()
                                .iter()
                                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
                                .collect();
                            seen.lock().unwrap().push((host, headers));
                            Ok::<_, hyper::Error>(hyper::Response::new(http_body_util::Full::new(
                                Bytes::from_static(b"ok\n"),
                            )))
                        }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(s), svc)
                    .await;
            });
        }
    });
    addr
}

/// Loopback allowed, but never port 9 nor the name `blocked.test`.
struct TestGate;
impl Gate for TestGate {
    fn allows(&self, _ip: IpAddr, port: u16, name: Option<&str>) -> bool {
        port != 9 && name != Some("blocked.test")
    }
}

fn secrets() -> Vec<Secret> {
    vec![
        Secret {
            name: "ANTHROPIC_API_KEY".into(),
            hosts: vec!["api.anthropic.test".into()],
            placeholder: KEY_PH.into(),
            value: KEY.into(),
        },
        Secret {
            name: "GITHUB_TOKEN".into(),
            hosts: vec!["github.test".into()],
            placeholder: TOKEN_PH.into(),
            value: TOKEN.into(),
        },
    ]
}

/// `CONNECT host:443` through the broker, as a client behind `HTTPS_PROXY` does; the
/// broker's status line.
async fn connect(proxy: SocketAddr, host: &str) -> (TcpStream, String) {
    let mut s = TcpStream::connect(proxy).await.unwrap();
    s.write_all(format!("CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if s.read(&mut b).await.unwrap() == 0 {
            break;
        }
        head.push(b[0]);
    }
    let status = String::from_utf8_lossy(&head)
        .lines()
        .next()
        .unwrap_or("")
        .to_owned();
    (s, status)
}

/// A GET through the tunnel, TLS trusting `ca_pem`, with `headers`; the status.
async fn get(
    tcp: TcpStream,
    host: &str,
    named: &str,
    ca_pem: &str,
    headers: &[(&str, String)],
) -> Result<u16, String> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let cfg = rustls::ClientConfig::builder_with_provider(crypto())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(host.to_owned()).unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let mut req = hyper::Request::get("/v1/messages?key=x").header("host", named);
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let resp = sender
        .send_request(req.body(Empty::<Bytes>::new()).unwrap())
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let _ = resp.into_body().collect().await;
    Ok(status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_go_to_their_hosts_only_and_everything_else_is_tunnelled() {
    let dir = tempfile::tempdir().unwrap();
    // the real servers: certificates from a CA the broker trusts through SSL_CERT_FILE
    let real = test_ca(&["api.anthropic.test", "github.test", "other.test"]);
    let ca_file = dir.path().join("stand-in-ca.pem");
    std::fs::write(&ca_file, &real.pem).unwrap();
    std::env::set_var("SSL_CERT_FILE", &ca_file);
    let seen: Seen = Arc::default();
    let server = stand_in(real.leaves.clone(), seen.clone()).await;
    // a server the broker cannot verify: a CA nobody trusts
    let rogue = test_ca(&["api.anthropic.test"]);
    let rogue_seen: Seen = Arc::default();
    let rogue_server = stand_in(rogue.leaves.clone(), rogue_seen.clone()).await;

    // the guest's CA, and the broker
    let hosts = vec!["api.anthropic.test".to_owned(), "github.test".to_owned()];
    let (guest_ca, guest_key) = tmpl::broker::ca::ensure(dir.path(), "test", &hosts).unwrap();
    let leaves = tmpl::broker::ca::leaves("test", &hosts, &guest_ca, &guest_key).unwrap();
    let rogue_mode = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let rm = rogue_mode.clone();
    let resolve: upstream::Resolve = Arc::new(move |_host, _port| {
        let to = if rm.load(std::sync::atomic::Ordering::SeqCst) {
            rogue_server
        } else {
            server
        };
        Box::pin(async move { Ok(vec![to]) })
    });
    let up = Upstream {
        gate: Arc::new(TestGate),
        resolve,
        tls: Arc::new(upstream::client_config().unwrap()),
    };
    let mut broker = Broker::new(secrets(), &leaves, up).unwrap();
    let log = dir.path().join("log.jsonl");
    broker.log = Some(log.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = listener.local_addr().unwrap();
    tokio::spawn(Arc::new(broker).serve(listener));

    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{TOKEN_PH}"));
    // 1. the secret's host: Bearer, x-api-key and any other header get the value
    let (tcp, status) = connect(proxy, "api.anthropic.test").await;
    assert!(status.contains(" 200"), "{status}");
    let headers = [
        ("authorization", format!("Bearer {KEY_PH}")),
        ("x-api-key", KEY_PH.to_owned()),
        ("x-token-too", TOKEN_PH.to_owned()),
    ];
    assert_eq!(
        get(
            tcp,
            "api.anthropic.test",
            "api.anthropic.test",
            &guest_ca,
            &headers
        )
        .await,
        Ok(200)
    );
    // 2. git's Basic credentials at its host
    let (tcp, _) = connect(proxy, "github.test").await;
    assert_eq!(
        get(
            tcp,
            "github.test",
            "github.test",
            &guest_ca,
            &[("authorization", format!("Basic {basic}"))]
        )
        .await,
        Ok(200)
    );
    // 3. another host: a plain tunnel (the guest sees the real server's certificate)
    let (tcp, _) = connect(proxy, "other.test").await;
    assert_eq!(
        get(
            tcp,
            "other.test",
            "other.test",
            &real.pem,
            &[("authorization", format!("Bearer {KEY_PH}"))]
        )
        .await,
        Ok(200)
    );
    // 4. the secret's host reached under another name: the value stays home
    let (tcp, _) = connect(proxy, "api.anthropic.test").await;
    assert_eq!(
        get(
            tcp,
            "api.anthropic.test",
            "other.test",
            &guest_ca,
            &[("x-api-key", KEY_PH.to_owned())]
        )
        .await,
        Ok(200)
    );

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert_eq!(seen[0].1["authorization"], format!("Bearer {KEY}"));
    assert_eq!(seen[0].1["x-api-key"], KEY);
    assert_eq!(
        seen[0].1["x-token-too"], TOKEN_PH,
        "a token for another host stays a placeholder"
    );
    let sent = seen[1].1["authorization"]
        .strip_prefix("Basic ")
        .unwrap()
        .to_owned();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(sent)
        .unwrap();
    assert_eq!(decoded, format!("x-access-token:{TOKEN}").as_bytes());
    assert_eq!(
        seen[2].1["authorization"],
        format!("Bearer {KEY_PH}"),
        "tunnelled untouched"
    );
    assert_eq!(seen[3].1["x-api-key"], KEY_PH);

    // 5. where the guest may not go: refused, and nothing reaches a server
    let (_, status) = connect(proxy, "blocked.test").await;
    assert!(status.contains(" 403"), "{status}");
    // 6. a server the broker cannot verify gets nothing
    rogue_mode.store(true, std::sync::atomic::Ordering::SeqCst);
    let (tcp, _) = connect(proxy, "api.anthropic.test").await;
    assert_eq!(
        get(
            tcp,
            "api.anthropic.test",
            "api.anthropic.test",
            &guest_ca,
            &[("x-api-key", KEY_PH.to_owned())]
        )
        .await,
        Ok(502)
    );
    assert!(rogue_seen.lock().unwrap().is_empty());

    // the log: names, hosts, paths without their query, never a value
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains(KEY) && !text.contains(TOKEN), "{text}");
    assert!(!text.contains("key=x"), "{text}");
    let entries = tmpl::broker::record::read(dir.path());
    let actions: Vec<String> = entries
        .iter()
        .map(|e| format!("{:?} {} {}", e.action, e.names.join(","), e.host))
        .collect();
    assert_eq!(
        actions,
        [
            "Sent ANTHROPIC_API_KEY api.anthropic.test",
            "Withheld GITHUB_TOKEN api.anthropic.test",
            "Sent GITHUB_TOKEN github.test",
            "Sent  api.anthropic.test",
            "Withheld ANTHROPIC_API_KEY api.anthropic.test",
            "Refused  blocked.test",
            "Failed ANTHROPIC_API_KEY api.anthropic.test",
        ],
        "{text}"
    );
    assert_eq!(entries[6].status, Some(502));
    assert_eq!(entries[0].path, "/v1/messages");
}

/// The broker as `up` starts it: its own process, still there once its starter has gone,
/// the values in its memory only, and the real gate (the fence's meaning: never loopback).
#[test]
fn the_daemon_outlives_its_starter_and_keeps_values_to_itself() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let bdir = dir.path().join("broker");
    std::fs::create_dir_all(&bdir).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let hosts = vec!["api.anthropic.test".to_owned()];
    let (ca, key) = tmpl::broker::ca::ensure(&bdir, "test", &hosts).unwrap();
    let spec = tmpl::broker::spec::Spec {
        dir: bdir.clone(),
        listen: SocketAddr::from(([127, 0, 0, 1], port)),
        clients: "127.0.0.0/8".parse().unwrap(),
        fence: tmpl::broker::spec::Fence {
            egress: "internet".into(),
            allow: Vec::new(),
            host_addrs: Vec::new(),
            lan: Vec::new(),
        },
        secrets: secrets(),
        leaves: tmpl::broker::ca::leaves("test", &hosts, &ca, &key).unwrap(),
    };
    let mut start = std::process::Command::new(env!("CARGO_BIN_EXE_tmpl"))
        .args(["__broker", "start"])
        .env("ANTHROPIC_API_KEY", KEY)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    start
        .stdin
        .take()
        .unwrap()
        .write_all(&serde_json::to_vec(&spec).unwrap())
        .unwrap();
    let out = start.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{said}");
    let pid: u32 = said.trim().strip_prefix("ready ").unwrap().parse().unwrap();
    assert!(
        tmpl::broker::daemon::is_broker_of(pid, &bdir),
        "it runs after its starter ended"
    );
    assert!(tmpl::broker::daemon::alive(&bdir));
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    for v in [KEY, TOKEN] {
        assert!(!String::from_utf8_lossy(&cmdline).contains(v));
        assert!(
            !String::from_utf8_lossy(&environ).contains(v),
            "its environment has no value"
        );
    }
    // the fence's meaning: loopback is never the guest's to reach
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = rt.block_on(async {
        let (_, status) = connect(spec.listen, "127.0.0.1").await;
        status
    });
    assert!(status.contains(" 403"), "{status}");
    tmpl::broker::daemon::end(pid, &bdir);
    assert!(!tmpl::broker::daemon::is_broker_of(pid, &bdir));
    assert!(!tmpl::broker::daemon::alive(&bdir));
}
