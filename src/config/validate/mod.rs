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
use std::path::Path;
use validator::Validate;

mod egress;
mod folders;
mod image;
mod network;

pub use egress::parse_allow;
pub use folders::bad_guest_path;
pub use folders::DEFAULT_PROTECT;
use folders::{check_protect, check_provision, check_session, check_sync};
use image::check_image;
pub use network::parse_port;
use network::{check_network, check_ports};

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
    /// A warning about `key`, placed at its line.
    fn warn(&mut self, key: &str, message: impl Into<String>) {
        let line = self.env.get(key).map(|e| e.line);
        self.report.warnings.push(Warning {
            line,
            key: key.to_owned(),
            message: message.into(),
        });
    }

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
                Some(format!("NAME={}", crate::config::names::sanitise(n))),
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
    let egress = egress::check_egress(&mut c, infra, network.as_ref());
    let egress_allow = egress::check_allow(&mut c);
    let ports = check_ports(&mut c);
    let provision = check_provision(&mut c, project_dir);
    let snapshot_before_provision = match c.optional("SNAPSHOT_BEFORE_PROVISION").as_deref() {
        None | Some("no") => false,
        Some("yes") => true,
        Some(_) => {
            c.problem(
                "SNAPSHOT_BEFORE_PROVISION",
                "`yes` or `no`",
                Some("SNAPSHOT_BEFORE_PROVISION=yes".into()),
            );
            false
        }
    };
    let sync = check_sync(&mut c, project_dir, infra);
    let session = check_session(&mut c);
    let protect = check_protect(&mut c);
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
        egress,
        egress_allow,
        ports,
        provision,
        snapshot_before_provision,
        sync,
        session,
        protect,
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

/// Names the required keys, for messages.
pub fn required_list() -> String {
    keys::required_keys()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;
