//! `tmpl doctor`: does this host have what the project (or, outside a project, any project)
//! needs? One line per check, and for each failure the exact command that fixes it.
//!
//! Optional checks (KVM) are shown but do not fail: without KVM, VMs run under software
//! emulation, slowly but correctly.

use crate::backend::podman::client;
use crate::backend::vagrant::{kvm, virsh};
use crate::cli::JsonArgs;
use crate::config::{InfraType, ProvisionKind};
use crate::context::Ctx;
use crate::error::code;
use crate::process::{which, Cmd};
use anyhow::Result;
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub required: bool,
    pub detail: String,
    pub fix: Option<String>,
}

fn check(name: &str, required: bool, result: Result<String, (String, String)>) -> Check {
    match result {
        Ok(detail) => Check {
            name: name.into(),
            ok: true,
            required,
            detail,
            fix: None,
        },
        Err((detail, fix)) => Check {
            name: name.into(),
            ok: false,
            required,
            detail,
            fix: Some(fix),
        },
    }
}

const APT: &str = "sudo apt-get install -y";

fn program(name: &str, package: &str, version_args: &[&str]) -> Result<String, (String, String)> {
    if which(name).is_none() {
        return Err((
            format!("`{name}` not found on PATH"),
            format!("{APT} {package}"),
        ));
    }
    let out = Cmd::new(name)
        .args(version_args)
        .output()
        .map_err(|e| (e.to_string(), format!("{APT} {package}")))?;
    let text = if out.stdout.trim().is_empty() {
        out.stderr
    } else {
        out.stdout
    };
    Ok(text.lines().next().unwrap_or("").trim().to_owned())
}

fn vagrant_libvirt() -> Result<String, (String, String)> {
    let fix = format!("{APT} vagrant-libvirt");
    let out = Cmd::new("vagrant")
        .args(["plugin", "list"])
        .env("VAGRANT_CHECKPOINT_DISABLE", "1")
        .output();
    match out {
        Ok(o) => o
            .stdout
            .lines()
            .find(|l| l.starts_with("vagrant-libvirt"))
            .map(|l| l.trim().to_owned())
            .ok_or(("the vagrant-libvirt plugin is not installed".into(), fix)),
        Err(e) => Err((e.to_string(), fix)),
    }
}

fn libvirt() -> Result<String, (String, String)> {
    let fix = "start it: `sudo systemctl enable --now libvirtd` (or `sudo libvirtd -d` without systemd; `make setup` does it)".to_string();
    let out = virsh::virsh()
        .arg("version")
        .output()
        .map_err(|e| (e.to_string(), fix.clone()))?;
    if !out.success() {
        return Err((
            format!("no answer at {}: {}", virsh::URI, out.stderr.trim()),
            fix,
        ));
    }
    let hyp = out
        .stdout
        .lines()
        .find(|l| l.contains("hypervisor"))
        .unwrap_or("")
        .trim()
        .to_owned();
    Ok(format!("{} ({hyp})", virsh::URI))
}

fn libvirt_item(kind: &str, name: &str) -> Result<String, (String, String)> {
    let (info, start) = match kind {
        "net" => (
            "net-info",
            format!(
                "sudo virsh -c {} net-start {name} && sudo virsh -c {} net-autostart {name}",
                virsh::URI,
                virsh::URI
            ),
        ),
        _ => (
            "pool-info",
            format!(
                "sudo virsh -c {} pool-start {name} && sudo virsh -c {} pool-autostart {name}",
                virsh::URI,
                virsh::URI
            ),
        ),
    };
    let out = virsh::virsh()
        .args([info, name])
        .output()
        .map_err(|e| (e.to_string(), start.clone()))?;
    // networks say `Active: yes`, pools `State: running`
    let active = out.stdout.lines().any(|l| {
        (l.starts_with("Active:") && l.ends_with("yes"))
            || (l.starts_with("State:") && l.ends_with("running"))
    });
    if active {
        Ok(format!("`{name}` is active"))
    } else if out.success() {
        Err((format!("`{name}` is not active"), start))
    } else {
        Err((
            format!("`{name}` is not defined"),
            "`make setup` defines it".into(),
        ))
    }
}

/// The domain type `up` gives a new VM, and why (see `backend::vagrant::kvm`).
fn driver(cache_root: &std::path::Path) -> Result<String, (String, String)> {
    let env = std::env::var("TMPL_LIBVIRT_DRIVER").ok();
    let d = kvm::choose(env.as_deref(), || kvm::works(cache_root));
    match (d.name.as_str(), d.fallback) {
        ("kvm", _) => Ok(format!("new VMs use kvm: {}", d.why)),
        (name, false) => Ok(format!("new VMs use {name}: {}", d.why)),
        (name, true) => Err((
            format!("new VMs use {name} (software emulation, slow): {}", d.why),
            "enable virtualisation (VT-x/AMD-V) in the firmware, or nested virtualisation on the host of this VM; TMPL_LIBVIRT_DRIVER=qemu chooses emulation without the check".into(),
        )),
    }
}

fn podman() -> Result<String, (String, String)> {
    let fix = "`systemctl --user enable --now podman.socket` (rootless) or `sudo systemctl enable --now podman.socket`; without systemd: `podman system service --time=0 &`".to_string();
    if which("podman").is_none() {
        return Err(("`podman` not found on PATH".into(), format!("{APT} podman")));
    }
    let c = client::connect().map_err(|e| (e.to_string(), fix.clone()))?;
    let v = c
        .block_on(c.docker.version())
        .map_err(|e| (e.to_string(), fix))?;
    Ok(format!(
        "{} (Podman {})",
        c.socket.display(),
        v.version.unwrap_or_default()
    ))
}

fn pool_space() -> Result<String, (String, String)> {
    let dir = crate::backend::vagrant::plan::LIBVIRT_IMAGES;
    let fix = format!("free space under {dir} (`sudo virsh vol-list default` shows what is there)");
    let out = Cmd::new("df")
        .args(["-Pk", dir])
        .read()
        .map_err(|e| (e.to_string(), fix.clone()))?;
    let avail_kib: u64 = out
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let gib = avail_kib / (1024 * 1024);
    if gib >= 10 {
        Ok(format!("{gib} GiB free in {dir}"))
    } else {
        Err((format!("only {gib} GiB free in {dir}"), fix))
    }
}

pub fn checks(
    cache_root: &std::path::Path,
    vm: bool,
    container: bool,
    ansible: bool,
    sync: bool,
) -> Vec<Check> {
    let mut out = Vec::new();
    if vm {
        out.push(check(
            "vagrant",
            true,
            program("vagrant", "vagrant", &["--version"]),
        ));
        out.push(check("vagrant-libvirt", true, vagrant_libvirt()));
        out.push(check("libvirt", true, libvirt()));
        out.push(check(
            "libvirt network",
            true,
            libvirt_item("net", "default"),
        ));
        out.push(check("libvirt pool", true, libvirt_item("pool", "default")));
        out.push(check("libvirt driver", false, driver(cache_root)));
        out.push(check(
            "qemu-img",
            true,
            program("qemu-img", "qemu-utils", &["--version"]),
        ));
        out.push(check(
            "iso tool",
            true,
            program("xorriso", "xorriso", &["-version"]),
        ));
        let virtiofsd = crate::backend::vagrant::virtiofs::find()
            .map(|p| format!("{} (shares the project folder, SYNC)", p.display()))
            .ok_or((
                "no virtiofsd: VMs cannot share the project folder".into(),
                format!("{APT} virtiofsd (Debian 12: qemu-system-common), or SYNC=none in .env"),
            ));
        out.push(check("virtiofsd", sync, virtiofsd));
        out.push(check("image pool space", true, pool_space()));
    }
    if container {
        out.push(check("podman api", true, podman()));
    }
    out.push(check(
        "ssh",
        true,
        program("ssh", "openssh-client", &["-V"]),
    ));
    out.push(check(
        "ansible-playbook",
        ansible,
        program("ansible-playbook", "ansible-core", &["--version"]),
    ));
    out
}

pub fn run(ctx: &Ctx, args: &JsonArgs) -> Result<u8> {
    // In a project: what its INFRA_TYPE needs. Elsewhere (or with invalid settings): all.
    let loaded = ctx
        .project()
        .ok()
        .and_then(|p| crate::config::validate(&p.env, &p.dir, false).ok());
    let (vm, container, ansible, sync) = match &loaded {
        Some((c, _)) => {
            let playbook = c
                .provision
                .as_ref()
                .is_some_and(|p| p.kind == ProvisionKind::Ansible);
            (
                c.infra_type == InfraType::Vm,
                c.infra_type == InfraType::Container,
                playbook,
                c.sync.is_some(),
            )
        }
        None => (true, true, true, true),
    };
    let results = checks(&ctx.dirs.cache, vm, container, ansible, sync);
    let healthy = results.iter().all(|c| c.ok || !c.required);
    let leftovers = crate::leftovers::find(&ctx.dirs);
    if args.json {
        let v = serde_json::json!({ "ok": healthy, "checks": results, "leftovers": leftovers });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        let ui = crate::ui::Ui::stderr();
        for c in &results {
            let mark = match (c.ok, c.required) {
                (true, _) => ui.green("✓"),
                (false, true) => ui.red_bold("✗"),
                (false, false) => ui.yellow_bold("!"),
            };
            println!("{mark} {:<17} {}", c.name, c.detail);
            if let Some(fix) = &c.fix {
                println!("  {:<17} fix: {fix}", "");
            }
        }
        for l in &leftovers {
            println!(
                "{} leftover {} {} ({})",
                ui.yellow_bold("!"),
                l.kind.label(),
                l.name,
                l.why
            );
        }
        if !leftovers.is_empty() {
            println!("  `tmpl gc` removes the {} leftover(s)", leftovers.len());
        }
        if !healthy {
            println!("\nsome required checks failed; on Debian/Ubuntu `make setup` (in tmpl's repository) installs and starts everything");
        }
    }
    Ok(if healthy { code::OK } else { code::UNAVAILABLE })
}
