//! From `.env` entries to a typed `Config`, reporting every problem at once.
//!
//! Pure: no process, socket or network. The only file-system look-ups are the ones a
//! pre-commit hook can answer from the repository itself (does `PROVISION_SCRIPT` exist inside
//! the project). Checks that depend on the host (is the port free, is the image there) belong
//! to `up`.

use super::dotenv::EnvFile;
use super::keys;
use super::types::*;
use serde::Serialize;
use std::net::Ipv4Addr;
use std::path::{Component, Path, PathBuf};
use validator::Validate;

/// One thing wrong with the file, located and explained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub line: Option<usize>,
    pub key: String,
    pub value: Option<String>,
    pub expected: String,
    pub example: Option<String>,
}

/// Something legal but probably not meant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub line: Option<usize>,
    pub key: String,
    pub message: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub problems: Vec<Problem>,
    pub warnings: Vec<Warning>,
}

/// Bounds that `validator` checks once the numbers are parsed. The upper bounds only catch
/// typos (a value in bytes, an extra zero); whether the host has that much is `up`'s check.
#[derive(Validate)]
struct Resources {
    #[validate(range(min = 128, max = 4_194_304))]
    memory: u64,
    #[validate(range(min = 1, max = 1024))]
    cpus: u64,
    #[validate(range(min = 1, max = 65_536))]
    disk: u64,
}

struct Checker<'a> {
    env: &'a EnvFile,
    report: Report,
}

impl Checker<'_> {
    fn problem(&mut self, key: &str, expected: impl Into<String>, example: Option<String>) {
        let e = self.env.get(key);
        self.report.problems.push(Problem {
            line: e.map(|e| e.line),
            key: key.to_owned(),
            value: e.map(|e| e.value.clone()),
            expected: expected.into(),
            example,
        });
    }

    fn value(&self, key: &str) -> Option<&str> {
        self.env.get(key).map(|e| e.value.trim())
    }

    fn required(&mut self, key: &str, example: &str) -> Option<String> {
        match self.value(key) {
            Some(v) if !v.is_empty() => Some(v.to_owned()),
            Some(_) => {
                self.problem(key, "a value, not an empty one", Some(example.to_owned()));
                None
            }
            None => {
                self.problem(key, "this required key to be set", Some(example.to_owned()));
                None
            }
        }
    }

    fn optional(&self, key: &str) -> Option<String> {
        self.value(key).filter(|v| !v.is_empty()).map(str::to_owned)
    }

    fn whole_number(&mut self, key: &str, unit: &str, example: &str) -> Option<u64> {
        let v = self.required(key, example)?;
        match v.parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => {
                let example = unit_hint(key, &v).unwrap_or_else(|| example.to_owned());
                self.problem(key, format!("a whole number of {unit}"), Some(example));
                None
            }
        }
    }
}

/// `MEMORY=4g` most likely meant `MEMORY=4096`: suggest the converted number.
fn unit_hint(key: &str, v: &str) -> Option<String> {
    let lower = v.to_ascii_lowercase();
    let digits: String = lower.chars().take_while(|c| c.is_ascii_digit()).collect();
    let n: u64 = digits.parse().ok()?;
    let suffix = lower[digits.len()..]
        .trim()
        .trim_end_matches("ib")
        .trim_end_matches('b');
    let converted = match (key, suffix) {
        ("MEMORY", "g") => n * 1024,
        ("MEMORY", "m") => n,
        ("DISK", "g") => n,
        ("DISK", "t") => n * 1024,
        ("DISK", "m") if n >= 1024 => n / 1024,
        _ => return None,
    };
    Some(format!("{key}={converted}"))
}

/// Validates `env` for the project in `project_dir`. `strict` turns warnings about
/// misspelt keys into problems.
pub fn validate(
    env: &EnvFile,
    project_dir: &Path,
    strict: bool,
) -> Result<(Config, Report), Report> {
    let mut c = Checker {
        env,
        report: Report::default(),
    };

    for bad in &env.bad_lines {
        c.report.problems.push(Problem {
            line: Some(bad.line),
            key: String::new(),
            value: Some(bad.text.clone()),
            expected: "a `KEY=value` line, a comment or a blank line".into(),
            example: Some("MEMORY=2048".into()),
        });
    }
    check_keys(&mut c, strict);

    let infra = match c.required("INFRA_TYPE", "INFRA_TYPE=vm").as_deref() {
        Some("vm") => Some(InfraType::Vm),
        Some("container") => Some(InfraType::Container),
        Some(other) => {
            let example = match other.to_ascii_lowercase().as_str() {
                "docker" | "podman" | "ct" | "containers" => "INFRA_TYPE=container",
                _ => "INFRA_TYPE=vm",
            };
            c.problem("INFRA_TYPE", "`vm` or `container`", Some(example.into()));
            None
        }
        None => None,
    };
    let memory = c.whole_number("MEMORY", "MiB", "MEMORY=2048");
    let cpus = c.whole_number("CPUS", "CPUs", "CPUS=2");
    let disk = c.whole_number("DISK", "GiB", "DISK=20");
    check_ranges(&mut c, memory, cpus, disk);

    let name = c.optional("NAME");
    if let Some(n) = &name {
        if !valid_name(n) {
            c.problem(
                "NAME",
                "a lowercase letter, then up to 40 lowercase letters, digits or `-`",
                Some(format!("NAME={}", crate::project::sanitise(n))),
            );
        }
    }

    let network = check_network(&mut c);
    let fixed_ip = c
        .optional("FIXED_IP")
        .and_then(|v| match v.parse::<Ipv4Addr>() {
            Ok(ip)
                if ip.is_unspecified()
                    || ip.is_broadcast()
                    || ip.is_multicast()
                    || ip.is_loopback() =>
            {
                c.problem(
                    "FIXED_IP",
                    "a unicast IPv4 address for the guest",
                    Some("FIXED_IP=192.168.56.10".into()),
                );
                None
            }
            Ok(ip) => Some(ip),
            Err(_) => {
                c.problem(
                    "FIXED_IP",
                    "an IPv4 address",
                    Some("FIXED_IP=192.168.56.10".into()),
                );
                None
            }
        });
    let ports = check_ports(&mut c);
    let provision = check_provision(&mut c, project_dir);
    let sync = check_sync(&mut c, project_dir, infra);
    let session = check_session(&mut c);
    let image_sha256 = c.optional("IMAGE_SHA256").and_then(|v| {
        let v = v.to_ascii_lowercase();
        if v.len() == 64 && v.chars().all(|ch| ch.is_ascii_hexdigit()) {
            Some(v)
        } else {
            c.problem(
                "IMAGE_SHA256",
                "64 hexadecimal digits (`sha256sum FILE`)",
                None,
            );
            None
        }
    });
    let image = infra.and_then(|t| check_image(&mut c, t));
    if infra == Some(InfraType::Vm) {
        if let Some(p) = ports.iter().find(|p| p.protocol == Protocol::Udp) {
            c.problem(
                "PORTS",
                format!("TCP ports only for a VM (vagrant-libvirt forwards TCP over SSH), but `{p}` is UDP"),
                Some("PORTS=8080:80".into()),
            );
        }
    }

    if !c.report.problems.is_empty() {
        c.report
            .problems
            .sort_by_key(|p| p.line.unwrap_or(usize::MAX));
        return Err(c.report);
    }
    let (Some(infra_type), Some(memory), Some(cpus), Some(disk), Some(image)) =
        (infra, memory, cpus, disk, image)
    else {
        unreachable!("every missing value adds a problem");
    };
    let config = Config {
        infra_type,
        memory_mib: memory as u32,
        cpus: cpus as u32,
        disk_gib: disk as u32,
        image,
        image_sha256,
        name,
        network: network.unwrap_or(Network::Default),
        fixed_ip,
        ports,
        provision,
        sync,
        session,
    };
    Ok((config, c.report))
}

pub fn valid_name(n: &str) -> bool {
    let mut chars = n.chars();
    matches!(chars.next(), Some('a'..='z'))
        && n.len() <= 41
        && chars.all(|ch| matches!(ch, 'a'..='z' | '0'..='9' | '-'))
}

fn check_keys(c: &mut Checker, strict: bool) {
    let mut seen: Vec<(&str, usize)> = Vec::new();
    for e in &c.env.entries {
        if keys::is_tmpl_key(&e.key) {
            if let Some((_, first)) = seen.iter().find(|(k, _)| *k == e.key) {
                c.report.warnings.push(Warning {
                    line: Some(e.line),
                    key: e.key.clone(),
                    message: format!("`{}` is also set on line {first}; the last one wins", e.key),
                });
            }
            seen.push((&e.key, e.line));
        } else if let Some(k) = keys::suggest(&e.key) {
            let message = format!("`{}` is not a tmpl setting; did you mean `{k}`?", e.key);
            if strict {
                c.report.problems.push(Problem {
                    line: Some(e.line),
                    key: e.key.clone(),
                    value: Some(e.value.clone()),
                    expected: format!("a tmpl key (did you mean `{k}`?)"),
                    example: Some(format!("{k}={}", e.value)),
                });
            } else {
                c.report.warnings.push(Warning {
                    line: Some(e.line),
                    key: e.key.clone(),
                    message,
                });
            }
        }
    }
}

fn check_ranges(c: &mut Checker, memory: Option<u64>, cpus: Option<u64>, disk: Option<u64>) {
    let r = Resources {
        memory: memory.unwrap_or(128),
        cpus: cpus.unwrap_or(1),
        disk: disk.unwrap_or(1),
    };
    let Err(errors) = r.validate() else { return };
    for (field, _) in errors.field_errors() {
        let (key, expected, example) = match field.as_ref() {
            "memory" => (
                "MEMORY",
                "at least 128 MiB (and at most 4194304)",
                "MEMORY=2048",
            ),
            "cpus" => ("CPUS", "at least 1 CPU (and at most 1024)", "CPUS=2"),
            _ => ("DISK", "at least 1 GiB (and at most 65536)", "DISK=20"),
        };
        c.problem(key, expected, Some(example.into()));
    }
}

fn check_network(c: &mut Checker) -> Option<Network> {
    let bridge = c.optional("BRIDGE");
    match c.optional("NETWORK_TYPE").as_deref() {
        None | Some("default") => {
            if bridge.is_some() {
                let line = c.env.get("BRIDGE").map(|e| e.line);
                c.report.warnings.push(Warning {
                    line,
                    key: "BRIDGE".into(),
                    message: "`BRIDGE` is ignored unless `NETWORK_TYPE=bridge`".into(),
                });
            }
            Some(Network::Default)
        }
        Some("bridge") => match bridge {
            Some(b) if valid_interface(&b) => Some(Network::Bridge { interface: b }),
            Some(_) => {
                c.problem(
                    "BRIDGE",
                    "a host interface name (letters, digits, `-`, `_`, `.`; at most 15)",
                    Some("BRIDGE=br0".into()),
                );
                None
            }
            None => {
                c.report.problems.push(Problem {
                    line: c.env.get("NETWORK_TYPE").map(|e| e.line),
                    key: "BRIDGE".into(),
                    value: None,
                    expected: "`BRIDGE` set to a host interface, because `NETWORK_TYPE=bridge`"
                        .into(),
                    example: Some("BRIDGE=br0".into()),
                });
                None
            }
        },
        Some(_) => {
            c.problem(
                "NETWORK_TYPE",
                "`default` or `bridge`",
                Some("NETWORK_TYPE=default".into()),
            );
            None
        }
    }
}

fn valid_interface(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 15
        && s.chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
}

/// Parses one `[HOST_IP:]HOST_PORT:GUEST_PORT[/tcp|/udp]` entry.
pub fn parse_port(spec: &str) -> Result<PortForward, String> {
    let (addr, protocol) = match spec.rsplit_once('/') {
        Some((a, "tcp")) => (a, Protocol::Tcp),
        Some((a, "udp")) => (a, Protocol::Udp),
        Some((_, p)) => return Err(format!("protocol `{p}` is neither `tcp` nor `udp`")),
        None => (spec, Protocol::Tcp),
    };
    let parts: Vec<&str> = addr.split(':').collect();
    let (ip, host, guest) = match parts.as_slice() {
        [h, g] => ("127.0.0.1", *h, *g),
        [ip, h, g] => (*ip, *h, *g),
        _ => return Err("expected `HOST_PORT:GUEST_PORT`".into()),
    };
    let host_ip = ip
        .parse::<Ipv4Addr>()
        .map_err(|_| format!("`{ip}` is not an IPv4 address"))?;
    let port = |s: &str| match s.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!("`{s}` is not a port (1-65535)")),
    };
    Ok(PortForward {
        host_ip,
        host_port: port(host)?,
        guest_port: port(guest)?,
        protocol,
    })
}

fn check_ports(c: &mut Checker) -> Vec<PortForward> {
    let Some(v) = c.optional("PORTS") else {
        return Vec::new();
    };
    let mut out: Vec<PortForward> = Vec::new();
    for spec in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match parse_port(spec) {
            Ok(p) => {
                if out
                    .iter()
                    .any(|q| q.host_port == p.host_port && q.protocol == p.protocol)
                {
                    c.problem(
                        "PORTS",
                        format!(
                            "each host port once; {}/{} appears twice",
                            p.host_port, p.protocol
                        ),
                        None,
                    );
                } else {
                    out.push(p);
                }
            }
            Err(why) => c.problem(
                "PORTS",
                format!("`[HOST_IP:]HOST_PORT:GUEST_PORT[/tcp|/udp]`, but in `{spec}` {why}"),
                Some("PORTS=8080:80,127.0.0.1:5432:5432/tcp".into()),
            ),
        }
    }
    out
}

fn check_provision(c: &mut Checker, project_dir: &Path) -> Option<Provision> {
    let v = c.optional("PROVISION_SCRIPT")?;
    let relative = PathBuf::from(&v);
    let escapes = relative.is_absolute()
        || relative
            .components()
            .any(|x| matches!(x, Component::ParentDir));
    if escapes {
        c.problem(
            "PROVISION_SCRIPT",
            "a path inside the project, relative to its folder",
            Some("PROVISION_SCRIPT=provision/site.yml".into()),
        );
        return None;
    }
    let path = project_dir.join(&relative);
    if !path.is_file() {
        c.problem(
            "PROVISION_SCRIPT",
            format!("an existing file; `{}` does not exist", path.display()),
            Some("PROVISION_SCRIPT=provision/site.yml".into()),
        );
        return None;
    }
    let kind = match relative.extension().and_then(|e| e.to_str()) {
        Some("yml" | "yaml") => ProvisionKind::Ansible,
        _ => ProvisionKind::Script,
    };
    Some(Provision {
        relative,
        path,
        kind,
    })
}

/// Guest folders the project must not be mounted onto or into: the guest would lose its
/// system, its users' homes (and with them the SSH keys tmpl logs in with) or its /tmp.
const RESERVED_GUEST_DIRS: &[&str] = &[
    "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/libx32", "/proc",
    "/root", "/run", "/sbin", "/sys", "/tmp", "/usr", "/var",
];
/// Of those, the ones whose every subfolder belongs to the system too.
const SYSTEM_TREES: &[&str] = &[
    "/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/run",
    "/sbin", "/sys", "/usr",
];

/// Why `path` cannot be where the project appears in the guest, if it cannot.
pub fn bad_guest_path(path: &str, infra: Option<InfraType>) -> Option<String> {
    if !path.starts_with('/') {
        return Some("an absolute path in the guest".into());
    }
    if path.chars().any(char::is_control) {
        return Some("a path without control characters".into());
    }
    let p = Path::new(path);
    if p.components()
        .any(|x| matches!(x, Component::ParentDir | Component::CurDir))
        || path.contains("//")
    {
        return Some("a plain absolute path, without `.`, `..` or `//`".into());
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty()
        || RESERVED_GUEST_DIRS.contains(&trimmed)
        || SYSTEM_TREES
            .iter()
            .any(|t| trimmed.starts_with(&format!("{t}/")))
    {
        return Some(format!(
            "a folder of its own in the guest; `{trimmed}` would hide the guest's own files"
        ));
    }
    // vagrant-libvirt puts the guest path unquoted into `mkdir -p PATH` in the guest's shell
    if infra == Some(InfraType::Vm)
        && !path
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "/._-+@%,=:~".contains(ch))
    {
        return Some("for a VM, a path of letters, digits and `/._-+@%,=:~` only (Vagrant passes it to the guest's shell unquoted)".into());
    }
    None
}

fn check_sync(c: &mut Checker, project_dir: &Path, infra: Option<InfraType>) -> Option<SyncFolder> {
    let path = c.optional("SYNC_PATH");
    let mode = match c.optional("SYNC").as_deref() {
        None | Some("rw") => SyncMode::Rw,
        Some("ro") => SyncMode::Ro,
        Some("none") => {
            if path.is_some() {
                let line = c.env.get("SYNC_PATH").map(|e| e.line);
                c.report.warnings.push(Warning {
                    line,
                    key: "SYNC_PATH".into(),
                    message: "`SYNC_PATH` is ignored with `SYNC=none`".into(),
                });
            }
            return None;
        }
        Some(_) => {
            c.problem("SYNC", "`rw`, `ro` or `none`", Some("SYNC=rw".into()));
            return None;
        }
    };
    let (guest_path, from_env) = match path {
        Some(p) => (p, true),
        None => (project_dir.to_string_lossy().into_owned(), false),
    };
    if let Some(expected) = bad_guest_path(&guest_path, infra) {
        if from_env {
            c.problem("SYNC_PATH", expected, Some("SYNC_PATH=/work/app".into()));
        } else {
            // nothing on a line to point at: the default came from the folder's own path
            c.report.problems.push(Problem {
                line: c.env.get("SYNC").map(|e| e.line),
                key: "SYNC_PATH".into(),
                value: Some(guest_path.clone()),
                expected: format!(
                    "`SYNC_PATH` set, because the default (the project folder `{guest_path}`) cannot be used: {expected}; or `SYNC=none`"
                ),
                example: Some("SYNC_PATH=/work/app".into()),
            });
        }
        return None;
    }
    let guest_path = match guest_path.trim_end_matches('/') {
        "" => guest_path,
        t => t.to_owned(),
    };
    Some(SyncFolder {
        mode,
        host_path: project_dir.to_owned(),
        guest_path,
    })
}

fn check_session(c: &mut Checker) -> Option<Session> {
    match c.optional("SESSION").as_deref() {
        None => None,
        Some("tmux") => Some(Session::Tmux),
        Some("zellij") => Some(Session::Zellij),
        Some(_) => {
            c.problem("SESSION", "`tmux` or `zellij`", Some("SESSION=tmux".into()));
            None
        }
    }
}

fn check_image(c: &mut Checker, infra: InfraType) -> Option<Image> {
    let v = c.optional("IMAGE");
    let bad_chars = |s: &str| s.chars().any(|ch| ch.is_control() || ch.is_whitespace());
    if let Some(s) = &v {
        if bad_chars(s) {
            c.problem(
                "IMAGE",
                "an image without spaces or control characters",
                None,
            );
            return None;
        }
    }
    match infra {
        InfraType::Container => {
            let s = v.unwrap_or_else(|| DEFAULT_CONTAINER_IMAGE.to_owned());
            Some(Image::Container(s))
        }
        InfraType::Vm => {
            let s = v.unwrap_or_else(|| DEFAULT_VM_IMAGE.to_owned());
            let lower = s.to_ascii_lowercase();
            let url = lower.starts_with("http://") || lower.starts_with("https://");
            let cloud = lower.ends_with(".qcow2") || lower.ends_with(".img");
            if url && cloud {
                return Some(Image::CloudImageUrl(s));
            }
            if url {
                c.problem(
                    "IMAGE",
                    "a URL of a cloud image ending in `.qcow2` or `.img`",
                    Some("IMAGE=https://example.org/debian-12-genericcloud-amd64.qcow2".into()),
                );
                return None;
            }
            if cloud {
                return Some(Image::CloudImageFile(PathBuf::from(s)));
            }
            if lower.ends_with(".box") {
                return Some(Image::BoxFile(PathBuf::from(s)));
            }
            if s.chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "-_./".contains(ch))
                && !s.starts_with('/')
            {
                return Some(Image::BoxName(s));
            }
            c.problem(
                "IMAGE",
                "a box name (`org/name`), a `.box` file, or a `.qcow2`/`.img` cloud image",
                Some("IMAGE=debian-12-genericcloud-amd64.qcow2".into()),
            );
            None
        }
    }
}

/// Names the required keys, for messages.
pub fn required_list() -> String {
    keys::required_keys()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
