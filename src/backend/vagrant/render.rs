//! Turns a project's settings into the text Vagrant reads: the only place that does.
//!
//! A Vagrantfile is Ruby. A value pasted into `"..."` would run code through `#{...}`, so
//! every value reaches the template as data and leaves it through the `ruby` filter, which
//! writes inert literals: single-quoted strings with `\` and `'` escaped, plain numbers,
//! arrays of those. A test checks that every `{{ }}` in the master template ends in
//! `| ruby`, and another has Ruby load the result and read arbitrary strings back unchanged.

use anyhow::{Context as _, Result};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub const BUILTIN_TEMPLATE: &str = include_str!("../../../vagrant-templates/Vagrantfile.tera");

/// Everything the master template may use. Adding a field here is how a setting reaches it.
#[derive(Debug, Clone, Serialize)]
pub struct VmContext {
    pub project_dir: String,
    pub machine_name: String,
    pub domain_prefix: String,
    pub hostname: String,
    pub r#box: String,
    pub memory_mib: u32,
    pub cpus: u32,
    pub disk_gib: u32,
    /// `kvm` or `qemu` (software emulation).
    pub driver: String,
    pub ssh: SshContext,
    pub ports: Vec<crate::config::PortForward>,
    /// The VM's own network (see `fence::net`), which tmpl defines before Vagrant runs.
    pub network: Option<OwnNetwork>,
    pub bridge: Option<BridgeContext>,
    pub seed_iso: Option<String>,
    /// `SYNC`: the project folder, shared over virtiofs.
    pub sync: Option<SyncContext>,
}

/// The project folder in a VM: a virtiofs share (the guest kernel mounts it; libvirt runs
/// virtiofsd on the host). `readonly` becomes the guest's `ro` mount option.
#[derive(Debug, Clone, Serialize)]
pub struct SyncContext {
    pub host_path: String,
    pub guest_path: String,
    pub readonly: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct SshContext {
    pub username: String,
    pub private_key_paths: Vec<String>,
    pub insert_key: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct OwnNetwork {
    /// libvirt's name for it, `tmpl-<slug>`.
    pub name: String,
    /// Its /24, as vagrant-libvirt wants it (`10.137.5.0/24`).
    pub address: String,
    /// The VM's MAC on it, pinned with `FIXED_IP` (the network's DHCP hands that MAC the
    /// address).
    pub mac: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BridgeContext {
    pub interface: String,
    /// The libvirt network (forward mode `bridge`) tmpl defines on that interface, through
    /// which the NIC is attached: unlike Vagrant's `public_network`, it lets the tap be named.
    pub network: String,
    /// The VM's tap on that bridge, named so the fence can hold it (see `fence::rules`).
    pub tap: String,
    /// The NIC's MAC, pinned: the fence drops frames from the tap with any other.
    pub mac: String,
}

/// A single-quoted Ruby string literal: inside `'...'` only `\\` and `\'` are escapes.
///
/// A control character (a newline in a folder name, say) never reaches the file as itself:
/// the string becomes `('abc' + "\u{a}" + 'def')`, whose double-quoted parts hold nothing
/// but a `\u{..}` escape, so they cannot interpolate either.
pub fn ruby_string(s: &str) -> String {
    let quoted = |part: &str| {
        let mut out = String::with_capacity(part.len() + 2);
        out.push('\'');
        for ch in part.chars() {
            match ch {
                '\\' => out.push_str("\\\\"),
                '\'' => out.push_str("\\'"),
                c => out.push(c),
            }
        }
        out.push('\'');
        out
    };
    if !s.chars().any(char::is_control) {
        return quoted(s);
    }
    let mut parts = Vec::new();
    let mut run = String::new();
    for ch in s.chars() {
        if ch.is_control() {
            if !run.is_empty() {
                parts.push(quoted(&std::mem::take(&mut run)));
            }
            parts.push(format!("\"\\u{{{:x}}}\"", ch as u32));
        } else {
            run.push(ch);
        }
    }
    if !run.is_empty() {
        parts.push(quoted(&run));
    }
    format!("({})", parts.join(" + "))
}

/// Any JSON value as an inert Ruby literal.
pub fn ruby_literal(v: &Value) -> String {
    match v {
        Value::Null => "nil".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => ruby_string(s),
        Value::Array(items) => {
            format!(
                "[{}]",
                items
                    .iter()
                    .map(ruby_literal)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
        Value::Object(map) => {
            let pairs: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{} => {}", ruby_string(k), ruby_literal(v)))
                .collect();
            format!("{{ {} }}", pairs.join(", "))
        }
    }
}

fn ruby_filter(v: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    Ok(Value::String(ruby_literal(v)))
}

/// The template in use: the user's `~/.config/tmpl/Vagrantfile.tera` when present, else the
/// built-in one.
pub fn template_source(config_dir: &Path) -> Result<(String, Option<PathBuf>)> {
    let user = config_dir.join("Vagrantfile.tera");
    match std::fs::read_to_string(&user) {
        Ok(text) => Ok((text, Some(user))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok((BUILTIN_TEMPLATE.to_owned(), None))
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", user.display())),
    }
}

pub fn vagrantfile(template: &str, ctx: &VmContext) -> Result<String> {
    let mut tera = tera::Tera::default();
    tera.autoescape_on(vec![]);
    tera.register_filter("ruby", ruby_filter);
    tera.add_raw_template("Vagrantfile", template)
        .context("the Vagrantfile template does not parse")?;
    let context = tera::Context::from_serialize(ctx)?;
    let text = tera.render("Vagrantfile", &context).map_err(|e| {
        // tera hides the useful part in the source chain
        let mut msg = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            msg.push_str(": ");
            msg.push_str(&s.to_string());
            src = s.source();
        }
        anyhow::anyhow!(msg)
    })?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> VmContext {
        VmContext {
            project_dir: "/p/app".into(),
            machine_name: "app-1234abcd".into(),
            domain_prefix: "tmpl-".into(),
            hostname: "app".into(),
            r#box: "tmpl-test/debian12".into(),
            memory_mib: 1024,
            cpus: 2,
            disk_gib: 10,
            driver: "qemu".into(),
            ssh: SshContext {
                username: "vagrant".into(),
                private_key_paths: vec![],
                insert_key: true,
            },
            ports: vec![crate::config::validate::parse_port("8080:80").unwrap()],
            network: None,
            bridge: None,
            seed_iso: None,
            sync: None,
        }
    }

    #[test]
    fn ruby_strings_escape_only_what_single_quotes_need() {
        assert_eq!(ruby_string("a'b\\c#{x}"), r"'a\'b\\c#{x}'");
        assert_eq!(
            ruby_literal(&serde_json::json!([1, "x", true, null])),
            "[1, 'x', true, nil]"
        );
    }

    #[test]
    fn every_interpolation_in_the_master_template_goes_through_ruby() {
        let mut rest = BUILTIN_TEMPLATE;
        let mut count = 0;
        while let Some(i) = rest.find("{{") {
            let end = rest[i..].find("}}").expect("unclosed {{") + i;
            let expr = rest[i + 2..end].trim();
            assert!(
                expr.ends_with("| ruby"),
                "`{{{{ {expr} }}}}` does not end in `| ruby`"
            );
            let line_start = rest[..i].rfind('\n').map(|n| n + 1).unwrap_or(0);
            assert!(
                !rest[line_start..i].contains('#'),
                "`{expr}` is interpolated inside a Ruby comment"
            );
            count += 1;
            rest = &rest[end + 2..];
        }
        assert!(count > 10);
    }

    #[test]
    fn renders_resources_ports_and_names() {
        let text = vagrantfile(BUILTIN_TEMPLATE, &sample()).unwrap();
        assert!(text.contains("config.vm.define 'app-1234abcd' do |m|"));
        assert!(text.contains("lv.default_prefix = 'tmpl-'"));
        assert!(text.contains("lv.memory = 1024"));
        assert!(text.contains("lv.cpus = 2"));
        assert!(text.contains("lv.machine_virtual_size = 10"));
        assert!(text.contains("lv.driver = 'qemu'"));
        assert!(text.contains("guest: 80, host: 8080, host_ip: '127.0.0.1', protocol: 'tcp'"));
        assert!(text.contains("synced_folder '.', '/vagrant', disabled: true"));
        assert!(!text.contains("management_network_name"));
    }

    #[test]
    fn the_project_folder_is_a_virtiofs_share_on_shared_memory() {
        let plain = vagrantfile(BUILTIN_TEMPLATE, &sample()).unwrap();
        assert!(!plain.contains("virtiofs") && !plain.contains("memorybacking"));
        let mut ctx = sample();
        ctx.sync = Some(SyncContext {
            host_path: "/p/app".into(),
            guest_path: "/work/app".into(),
            readonly: false,
        });
        let text = vagrantfile(BUILTIN_TEMPLATE, &ctx).unwrap();
        assert!(text.contains("m.vm.synced_folder '/p/app', '/work/app', type: 'virtiofs'\n"));
        assert!(text.contains("lv.memorybacking :access, :mode => 'shared'"));
        assert!(text.contains("synced_folder '.', '/vagrant', disabled: true"));
        ctx.sync.as_mut().unwrap().readonly = true;
        let text = vagrantfile(BUILTIN_TEMPLATE, &ctx).unwrap();
        assert!(text.contains("type: 'virtiofs', mount_opts: 'ro'\n"));
    }

    #[test]
    fn control_characters_never_reach_the_file() {
        let lit = ruby_string("a\nMatch\r'b'");
        assert_eq!(lit, r#"('a' + "\u{a}" + 'Match' + "\u{d}" + '\'b\'')"#);
        assert!(!lit.chars().any(char::is_control));
    }

    #[test]
    fn hostile_values_stay_strings() {
        let mut ctx = sample();
        ctx.r#box = "x'; system('touch /tmp/pwned'); '".into();
        let text = vagrantfile(BUILTIN_TEMPLATE, &ctx).unwrap();
        assert!(text.contains(r"m.vm.box = 'x\'; system(\'touch /tmp/pwned\'); \''"));
    }
}
