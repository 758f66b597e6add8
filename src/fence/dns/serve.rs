//! The resolver's sockets: UDP and TCP on the gateway, a thread per query (at most
//! `IN_FLIGHT`; the guest can only slow its own lookups), plain DNS to the upstream, the
//! fence's sets written through `nft` before a reply leaves, and the checks that end it.

use super::answer::{self, Decision};
use super::config::Config;
use crate::fence::rules;
use anyhow::{Context as _, Result};
use hickory_proto::op::{Message, ResponseCode};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const IN_FLIGHT: usize = 64;
const UPSTREAM_WAIT: Duration = Duration::from_secs(3);
const CHECK_EVERY: Duration = Duration::from_secs(3);

struct Shared {
    config: Config,
    upstream: Vec<SocketAddr>,
    nft: String,
    /// (address, port) → until when the sets hold it, as last written; a write that would
    /// not extend it by much is skipped. Cleared on SIGHUP (the table was written anew).
    open_until: Mutex<HashMap<(IpAddr, Option<u16>), Instant>>,
    forget: Arc<AtomicBool>,
    busy: AtomicUsize,
}

fn bound(addr: SocketAddr, kind: rustix::net::SocketType) -> Result<OwnedFd> {
    use rustix::net::{sockopt, AddressFamily};
    let fd = rustix::net::socket(AddressFamily::INET, kind, None)?;
    sockopt::set_socket_reuseaddr(&fd, true)?;
    // the gateway's address may not exist yet: the bridge comes with the guest's network
    sockopt::set_ip_freebind(&fd, true)?;
    rustix::net::bind(&fd, &addr).with_context(|| format!("cannot listen on {addr}"))?;
    Ok(fd)
}

pub fn serve(config: Config) -> Result<()> {
    let dir = config.state.clone();
    let lock = (0..100).find_map(|_| {
        let l = crate::lock::Lock::try_at(&dir.join("dns.lock"))
            .ok()
            .flatten();
        if l.is_none() {
            std::thread::sleep(Duration::from_millis(20));
        }
        l
    });
    let Some(_only_one) = lock else {
        return Ok(()); // another one serves here
    };
    let addr = SocketAddr::new(config.listen.into(), config.port);
    let udp = UdpSocket::from(bound(addr, rustix::net::SocketType::DGRAM)?);
    let tcp_fd = bound(addr, rustix::net::SocketType::STREAM)?;
    rustix::net::listen(&tcp_fd, 64)?;
    let tcp = TcpListener::from(tcp_fd);
    let here = super::config::netns_inode(std::path::Path::new("/proc/self/ns/net")).unwrap_or(0);
    crate::atomic::write(
        &dir.join("dns.pid"),
        format!("{} {here}\n", std::process::id()).as_bytes(),
        0o644,
    )?;
    let upstream = if config.upstream.is_empty() {
        super::config::nameservers(&std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default())
    } else {
        config.upstream.clone()
    };
    // held open to see the folder go (its link count drops to 0): as `nobody` it cannot look
    // the folder up by name in root's home
    let folder = std::fs::File::open(&dir).context("cannot open its own folder")?;
    let forget = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, forget.clone())?;
    let nft = crate::process::which_sbin("nft")
        .map_or_else(|| "nft".to_owned(), |p| p.display().to_string());
    // what it needs from here on: its sockets, and nft with CAP_NET_ADMIN
    super::privilege::drop_to_nobody()?;
    let shared = Arc::new(Shared {
        config,
        upstream,
        nft,
        open_until: Mutex::new(HashMap::new()),
        forget,
        busy: AtomicUsize::new(0),
    });
    {
        let s = shared.clone();
        std::thread::spawn(move || serve_tcp(&s, tcp));
    }
    {
        let s = shared.clone();
        std::thread::spawn(move || serve_udp(&s, udp));
    }
    watch(&shared, here, &folder);
    Ok(())
}

/// Returns once the fence is gone, the guest's state folder is gone, or the namespace was
/// replaced.
fn watch(s: &Shared, here: u64, folder: &std::fs::File) {
    let mut handle = None;
    loop {
        std::thread::sleep(CHECK_EVERY);
        if rustix::fs::fstat(folder).is_ok_and(|st| st.st_nlink == 0) {
            return;
        }
        if let Some(file) = &s.config.netns_file {
            if super::config::netns_inode(file) != Some(here) {
                return;
            }
        }
        let listed = std::process::Command::new(&s.nft)
            .args(["-a", "list", "table", "inet", &s.config.table])
            .stderr(std::process::Stdio::null())
            .output();
        let out = match listed {
            Ok(o) => o.stdout,
            // the nft it was started with is gone or out of its reach: it cannot open names
            // any more, nor tell whether its fence is there
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
                ) =>
            {
                return
            }
            Err(_) => continue,
        };
        let text = String::from_utf8_lossy(&out);
        let Some(first) = text.lines().next() else {
            return; // the table is gone
        };
        let now = first.rsplit("handle ").next().map(str::to_owned);
        if handle.is_some() && handle != now {
            s.open_until.lock().expect("poisoned").clear();
        }
        handle = now;
    }
}

fn serve_udp(s: &Arc<Shared>, udp: UdpSocket) {
    let udp = Arc::new(udp);
    let mut buf = vec![0u8; 4096];
    loop {
        let Ok((n, from)) = udp.recv_from(&mut buf) else {
            continue;
        };
        if s.busy.load(Ordering::Relaxed) >= IN_FLIGHT {
            continue;
        }
        s.busy.fetch_add(1, Ordering::Relaxed);
        let (s, udp, query) = (s.clone(), udp.clone(), buf[..n].to_vec());
        std::thread::spawn(move || {
            if let Some(reply) = handle(&s, &query, false) {
                let _ = udp.send_to(&reply, from);
            }
            s.busy.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

fn serve_tcp(s: &Arc<Shared>, tcp: TcpListener) {
    for conn in tcp.incoming().flatten() {
        if s.busy.load(Ordering::Relaxed) >= IN_FLIGHT {
            continue;
        }
        s.busy.fetch_add(1, Ordering::Relaxed);
        let s = s.clone();
        std::thread::spawn(move || {
            let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
            let mut conn = conn;
            while let Some(query) = read_framed(&mut conn) {
                let Some(reply) = handle(&s, &query, true) else {
                    break;
                };
                if write_framed(&mut conn, &reply).is_err() {
                    break;
                }
            }
            s.busy.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

fn read_framed(conn: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 2];
    conn.read_exact(&mut len).ok()?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    conn.read_exact(&mut buf).ok()?;
    Some(buf)
}

fn write_framed(conn: &mut TcpStream, msg: &[u8]) -> std::io::Result<()> {
    let len = u16::try_from(msg.len()).unwrap_or(u16::MAX).to_be_bytes();
    conn.write_all(&[&len[..], msg].concat())
}

/// One query's reply (`None`: none is sent).
fn handle(s: &Shared, query: &[u8], tcp: bool) -> Option<Vec<u8>> {
    if s.forget.swap(false, Ordering::Relaxed) {
        s.open_until.lock().expect("poisoned").clear();
    }
    let opens = match answer::decide(&s.config, query)? {
        Decision::Reply(r) => return Some(r),
        Decision::Forward { opens } => opens,
    };
    let q = Message::from_vec(query).ok()?;
    let servfail = || Some(answer::refuse(&q, ResponseCode::ServFail));
    let Some(reply) = ask(s, query, tcp) else {
        return servfail();
    };
    let Ok(parsed) = Message::from_vec(&reply) else {
        return servfail();
    };
    if parsed.metadata.id != q.metadata.id {
        return servfail();
    }
    let opened = answer::opened(q.queries[0].name(), &parsed, &opens);
    if !opened.is_empty() && open(s, &opened).is_err() {
        // the guest must not get an address the fence would not let it reach
        return servfail();
    }
    Some(reply)
}

/// The upstream's reply, from the first upstream that answers.
fn ask(s: &Shared, query: &[u8], tcp: bool) -> Option<Vec<u8>> {
    for up in &s.upstream {
        let reply = if tcp {
            ask_tcp(*up, query)
        } else {
            ask_udp(*up, query)
        };
        if reply.is_some() {
            return reply;
        }
    }
    None
}

fn ask_udp(up: SocketAddr, query: &[u8]) -> Option<Vec<u8>> {
    let local: SocketAddr = if up.is_ipv4() {
        "0.0.0.0:0".parse().ok()?
    } else {
        "[::]:0".parse().ok()?
    };
    let sock = UdpSocket::bind(local).ok()?;
    // connected: only the upstream's own replies are read
    sock.connect(up).ok()?;
    sock.set_read_timeout(Some(UPSTREAM_WAIT)).ok()?;
    sock.send(query).ok()?;
    let mut buf = vec![0u8; 65535];
    let n = sock.recv(&mut buf).ok()?;
    buf.truncate(n);
    Some(buf)
}

fn ask_tcp(up: SocketAddr, query: &[u8]) -> Option<Vec<u8>> {
    let mut conn = TcpStream::connect_timeout(&up, UPSTREAM_WAIT).ok()?;
    conn.set_read_timeout(Some(UPSTREAM_WAIT)).ok()?;
    write_framed(&mut conn, query).ok()?;
    read_framed(&mut conn)
}

/// Writes the addresses into the fence's sets, skipping those already open for nearly as
/// long as asked.
fn open(s: &Shared, opened: &rules::Opened) -> Result<()> {
    let now = Instant::now();
    let mut until = s.open_until.lock().expect("poisoned");
    let due: rules::Opened = opened
        .iter()
        .filter(|(ip, port, secs)| {
            let slack = Duration::from_secs((secs / 4).min(30));
            let want = now + Duration::from_secs(*secs);
            until
                .get(&(*ip, *port))
                .map_or(true, |have| *have + slack < want)
        })
        .cloned()
        .collect();
    if due.is_empty() {
        return Ok(());
    }
    let families: Vec<&str> = s.config.families.iter().map(String::as_str).collect();
    let script = rules::open_elements(&s.config.table, &families, &due);
    let mut child = std::process::Command::new(&s.nft)
        .args(["-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    child
        .stdin
        .take()
        .context("nft's stdin")?
        .write_all(script.as_bytes())?;
    if !child.wait()?.success() {
        anyhow::bail!("nft refused the elements");
    }
    for (ip, port, secs) in due {
        until.insert((ip, port), now + Duration::from_secs(secs));
    }
    Ok(())
}
