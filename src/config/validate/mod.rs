//! From `.env` entries to a typed `Config`, reporting every problem at once.
//!
//! Pure: no process, socket or network. The only file-system look-ups are the ones a
//! pre-commit hook can answer from the repository itself (does `PROVISION_SCRIPT` exist inside
//! the project). Checks that depend on the host (is the port free, is the image there) belong
//! to `up`.

use super::dotenv::EnvFile;
use super::keys;
use super::types::*;
use std::net::Ipv4Addr;
use std::path::Path;
use validator::Validate;

mod checker;
mod egress;
mod folders;
mod network;
mod report;
mod secrets;

use checker::Checker;
pub use egress::{parse_allow, valid_host_name};
pub use folders::bad_guest_path;
pub use folders::DEFAULT_PROTECT;
use folders::{check_protect, check_provision, check_session, check_sync};
pub use network::parse_port;
use network::{check_network, check_ports};
pub use report::{Drivers, Problem, Report, Rule, Warning};
pub use secrets::{parse_secret, GUEST_VARIABLES};

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

/// Validates `env` for the project in `project_dir`: the general rules, then the rules of
/// the driver it names. `strict` turns warnings about misspelt keys into problems.
pub fn validate(
    env: &EnvFile,
    project_dir: &Path,
    strict: bool,
    drivers: &dyn Drivers,
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

    let infra = c.required("INFRA_TYPE", "INFRA_TYPE=vm").and_then(|v| {
        let names = drivers.names();
        if names.contains(&v.as_str()) {
            return Some(v);
        }
        let expected = match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => {
                let rest: Vec<String> = rest.iter().map(|n| format!("`{n}`")).collect();
                format!("{} or `{last}`", rest.join(", "))
            }
            _ => names.iter().map(|n| format!("`{n}`")).collect(),
        };
        let example = drivers
            .suggest(&v)
            .or(names.first().copied())
            .map(|n| format!("INFRA_TYPE={n}"));
        c.problem("INFRA_TYPE", expected, example);
        None
    });
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
    let egress = egress::check_egress(&mut c);
    let egress_allow = egress::check_allow(&mut c);
    let secrets = secrets::check_secrets(&mut c);
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
    let sync = check_sync(&mut c, project_dir);
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
    let image = c.optional("IMAGE");
    if image
        .as_ref()
        .is_some_and(|s| s.chars().any(|ch| ch.is_control() || ch.is_whitespace()))
    {
        c.problem(
            "IMAGE",
            "an image without spaces or control characters",
            None,
        );
    }
    // The driver's rules run even when general ones failed, on the values that did parse
    // (a failed number counts as its minimum), so every problem comes at once; a key that
    // already has a problem gets no second one from the driver.
    let general_ok = c.report.problems.is_empty();
    if let Some(infra_type) = infra {
        let config = Config {
            infra_type,
            memory_mib: memory.unwrap_or(128) as u32,
            cpus: cpus.unwrap_or(1) as u32,
            disk_gib: disk.unwrap_or(1) as u32,
            image,
            image_sha256,
            name,
            network: network.unwrap_or(Network::Default),
            fixed_ip,
            egress,
            egress_allow,
            secrets,
            ports,
            provision,
            snapshot_before_provision,
            sync,
            session,
            protect,
        };
        for r in drivers.rules(&config) {
            if !general_ok && c.report.problems.iter().any(|p| p.key == r.key) {
                continue;
            }
            let e = env.get(r.key);
            c.report.problems.push(Problem {
                line: e.map(|e| e.line),
                key: r.key.into(),
                value: e.map(|e| e.value.clone()),
                expected: r.expected,
                example: r.example,
            });
        }
        if c.report.problems.is_empty() {
            return Ok((config, c.report));
        }
    }
    c.report
        .problems
        .sort_by_key(|p| p.line.unwrap_or(usize::MAX));
    Err(c.report)
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
