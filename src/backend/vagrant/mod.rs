//! VMs through Vagrant and vagrant-libvirt.
//!
//! The master template is rendered into the project's cache dir and Vagrant runs there with
//! `VAGRANT_CWD` and `VAGRANT_DOTFILE_PATH` (in the state dir) set for the project. Only
//! operations that change the VM start Vagrant; the live state comes from libvirt.

pub mod image;
pub mod plan;
pub mod virsh;
pub mod virtiofs;

use super::{Backend, Live, State, StopOutcome, UpOutcome};
use crate::config::InfraType;
use crate::context::Loaded;
use crate::error::{code, Failure};
use crate::process::Cmd;
use crate::ssh::{Access, Endpoint};
use crate::timing::Phases;
use crate::ui;
use anyhow::Result;
use plan::{BoxSource, VmPlan};
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub struct Vagrant {
    loaded: Loaded,
    host: VmHost,
    plan: VmPlan,
    access: Access,
}

/// Grows the root partition and filesystem to the disk, on guests from boxes (cloud images do
/// it through cloud-init). Harmless when there is nothing to grow.
const GROW_ROOT: &str = r#"set -u
src=$(findmnt -no SOURCE /)
disk=$(lsblk -no PKNAME "$src" | head -n1)
part=$(cat "/sys/class/block/${src##*/}/partition" 2>/dev/null || true)
if [ -n "$disk" ] && [ -n "$part" ] && command -v growpart >/dev/null; then
  growpart "/dev/$disk" "$part" >/dev/null || true
fi
case $(findmnt -no FSTYPE /) in
  ext*) resize2fs "$src" >/dev/null 2>&1 ;;
  xfs) xfs_growfs / >/dev/null ;;
  btrfs) btrfs filesystem resize max / >/dev/null ;;
esac
true
"#;

impl Vagrant {
    pub fn new(loaded: Loaded) -> Vagrant {
        let host = VmHost::detect();
        let plan = plan::plan(&loaded, &host);
        let access = Access::new(&loaded.id.slug, &loaded.id.state_dir);
        Vagrant {
            loaded,
            host,
            plan,
            access,
        }
    }

    pub fn plan(&self) -> &VmPlan {
        &self.plan
    }

    /// The environment every Vagrant child gets.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            (
                "VAGRANT_CWD".into(),
                self.plan.vagrantfile_dir.display().to_string(),
            ),
            (
                "VAGRANT_DOTFILE_PATH".into(),
                self.plan.dotfile_dir.display().to_string(),
            ),
            ("VAGRANT_CHECKPOINT_DISABLE".into(), "1".into()),
            ("VAGRANT_BOX_UPDATE_CHECK_DISABLE".into(), "1".into()),
            ("VAGRANT_DEFAULT_PROVIDER".into(), "libvirt".into()),
            ("VAGRANT_NO_COLOR".into(), "1".into()),
        ]
    }

    pub fn vagrant<I: IntoIterator<Item = S>, S: AsRef<std::ffi::OsStr>>(&self, args: I) -> Cmd {
        self.env()
            .into_iter()
            .fold(Cmd::new("vagrant").args(args), |c, (k, v)| c.env(k, v))
    }

    /// Writes the Vagrantfile when its text changed (Vagrant reads it on every call).
    pub fn render(&self) -> Result<()> {
        let (template, _) = crate::render::template_source(&self.loaded_config_dir())?;
        let text = crate::render::vagrantfile(&template, &self.plan.context)?;
        let path = self.plan.vagrantfile_dir.join("Vagrantfile");
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            crate::state::write_atomic(&path, text.as_bytes(), 0o600)?;
        }
        std::fs::create_dir_all(&self.plan.dotfile_dir)?;
        Ok(())
    }

    fn loaded_config_dir(&self) -> PathBuf {
        crate::project::Dirs::from_env().config
    }

    /// Vagrant's record of the machine: `<dotfile>/machines/<name>/libvirt/`.
    fn machine_dir(&self) -> PathBuf {
        self.plan
            .dotfile_dir
            .join("machines")
            .join(&self.plan.context.machine_name)
            .join("libvirt")
    }

    fn known_to_vagrant(&self) -> bool {
        self.machine_dir().join("id").is_file()
    }

    fn endpoint(&self, ip: String) -> Endpoint {
        let identity = match self.plan.box_source {
            BoxSource::CloudFile(_) | BoxSource::CloudUrl(_) => self.plan.key_path.clone(),
            _ => self.machine_dir().join("private_key"),
        };
        Endpoint {
            host: ip,
            port: 22,
            user: self.plan.context.ssh.username.clone(),
            identity,
        }
    }

    fn running_endpoint(&self) -> Result<Endpoint> {
        match virsh::domain(&self.plan.domain)? {
            Some(virsh::Domain {
                state: State::Running,
                ip: Some(ip),
            }) => Ok(self.endpoint(ip)),
            _ => Err(Failure::new(
                code::FAILURE,
                format!(
                    "VM `{}` is up but has no address on its network",
                    self.plan.domain
                ),
            )
            .hint(format!(
                "`virsh -c {} domifaddr {}` shows what libvirt knows",
                virsh::URI,
                self.plan.domain
            ))
            .into()),
        }
    }

    /// A domain with the project's name that Vagrant does not know (an interrupted `up`, or
    /// a state dir deleted by hand) would block creation: remove it.
    fn remove_orphan_domain(&self) -> Result<bool> {
        if self.known_to_vagrant() || virsh::domain(&self.plan.domain)?.is_none() {
            return Ok(false);
        }
        ui::warn(format!(
            "removing VM `{}`, left behind by an earlier interrupted run",
            self.plan.domain
        ));
        let _ = virsh::virsh().args(["destroy", &self.plan.domain]).output();
        virsh::virsh()
            .args([
                "undefine",
                &self.plan.domain,
                "--remove-all-storage",
                "--nvram",
            ])
            .read()?;
        Ok(true)
    }

    fn prepare_create(&self) -> Result<()> {
        if let Some(why) = &self.host.fallback_reason {
            ui::warn(why);
        }
        self.remove_orphan_domain()?;
        virsh::ensure_management_network(&crate::project::Dirs::from_env().state)?;
        // first: every Vagrant call, `box add` included, needs VAGRANT_CWD to exist
        self.render()?;
        let public = self.access.ensure_key()?;
        let cache_root = crate::project::Dirs::from_env().cache;
        image::ensure_box(
            &self.plan,
            self.loaded.config.image_sha256.as_deref(),
            &cache_root,
            &self.env(),
        )?;
        if let Some(iso) = &self.plan.seed_iso {
            image::write_seed(&self.plan, &public, iso)?;
        }
        Ok(())
    }

    fn grow_root(&self, endpoint: &Endpoint) -> Result<()> {
        self.access.write_config(endpoint)?;
        self.access.wait_ready(Duration::from_secs(120))?;
        let cmd = self.access.command(
            &["sudo".into(), "sh".into(), "-c".into(), GROW_ROOT.into()],
            false,
        );
        cmd.read().map(|_| ())
    }
}

impl Backend for Vagrant {
    fn infra_type(&self) -> InfraType {
        InfraType::Vm
    }

    fn live(&self) -> Result<Live> {
        Ok(match virsh::domain(&self.plan.domain)? {
            None => Live::absent(),
            Some(d) => Live {
                state: d.state,
                address: self
                    .loaded
                    .config
                    .fixed_ip
                    .map(|ip| ip.to_string())
                    .or_else(|| d.ip.clone()),
                ssh: d.ip.map(|ip| self.endpoint(ip)),
            },
        })
    }

    fn up(&self, phases: &mut Phases) -> Result<(UpOutcome, Endpoint)> {
        if self.plan.context.sync.is_some() {
            // before Vagrant: without virtiofsd it would fail half way, with a libvirt error
            virtiofs::ensure_available()?;
        }
        let outcome = match virsh::domain(&self.plan.domain)? {
            Some(virsh::Domain {
                state: State::Running,
                ip: Some(ip),
            }) if self.known_to_vagrant() => {
                return Ok((UpOutcome::AlreadyRunning, self.endpoint(ip)));
            }
            Some(_) if self.known_to_vagrant() => {
                virsh::ensure_management_network(&crate::project::Dirs::from_env().state)?;
                self.render()?;
                let up = self.vagrant(["up", "--provider=libvirt", "--no-provision"]);
                phases.run(
                    "start",
                    &format!("starting VM {}", self.plan.domain),
                    || up.stream(),
                )?;
                UpOutcome::Started
            }
            _ => {
                phases.run("prepare", "preparing image and Vagrantfile", || {
                    self.prepare_create()
                })?;
                let up = self.vagrant(["up", "--provider=libvirt", "--no-provision"]);
                phases.run(
                    "create",
                    &format!("creating VM {}", self.plan.domain),
                    || up.stream(),
                )?;
                UpOutcome::Created
            }
        };
        let endpoint = self.running_endpoint()?;
        if outcome == UpOutcome::Created
            && matches!(
                self.plan.box_source,
                BoxSource::Named | BoxSource::BoxFile(_)
            )
        {
            self.access.forget_host_keys();
            phases.run("grow", "growing the root filesystem to DISK", || {
                self.grow_root(&endpoint)
            })?;
        }
        Ok((outcome, endpoint))
    }

    fn stop(&self, timeout: Duration, phases: &mut Phases) -> Result<StopOutcome> {
        match virsh::domain(&self.plan.domain)? {
            None => Ok(StopOutcome::NotCreated),
            Some(d) if d.state != State::Running => Ok(StopOutcome::AlreadyStopped),
            Some(_) => {
                self.render()?;
                let start = Instant::now();
                let halt = self
                    .vagrant(["halt"])
                    .env("TMPL_HALT_TIMEOUT", timeout.as_secs().to_string());
                phases.run("stop", &format!("stopping VM {}", self.plan.domain), || {
                    halt.stream()
                })?;
                // vagrant-libvirt forces the domain off once the graceful timeout has passed
                Ok(StopOutcome::Stopped {
                    forced: start.elapsed() >= timeout,
                })
            }
        }
    }

    fn remove(&self, phases: &mut Phases) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        if self.known_to_vagrant() {
            self.render()?;
            let destroy = self.vagrant(["destroy", "-f"]);
            phases.run(
                "remove",
                &format!("removing VM {}", self.plan.domain),
                || destroy.stream(),
            )?;
            removed.push(format!("VM {} and its disks", self.plan.domain));
        }
        if self.remove_orphan_domain()? {
            removed.push(format!("VM {} (left behind)", self.plan.domain));
        }
        if let Some(iso) = &self.plan.seed_iso {
            if iso.exists() {
                std::fs::remove_file(iso)?;
                removed.push(format!("seed {}", iso.display()));
            }
        }
        Ok(removed)
    }

    fn details(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        m.insert("domain".into(), self.plan.domain.clone().into());
        m.insert("box".into(), self.plan.context.r#box.clone().into());
        m.insert("driver".into(), self.host.driver.clone().into());
        m.insert(
            "vagrant_cwd".into(),
            self.plan.vagrantfile_dir.display().to_string().into(),
        );
        m.insert(
            "vagrant_dotfile_path".into(),
            self.plan.dotfile_dir.display().to_string().into(),
        );
        m
    }
}

/// Facts about this host that shape a VM, read once.
#[derive(Debug, Clone)]
pub struct VmHost {
    /// libvirt domain type: `kvm`, or `qemu` for software emulation.
    pub driver: String,
    /// Set when the driver was chosen by falling back, for a one-line warning.
    pub fallback_reason: Option<String>,
    pub home: Option<PathBuf>,
}

impl VmHost {
    pub fn detect() -> VmHost {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let (driver, fallback_reason) = choose_driver(
            std::env::var("TMPL_LIBVIRT_DRIVER").ok().as_deref(),
            kvm_usable(),
        );
        VmHost {
            driver,
            fallback_reason,
            home,
        }
    }
}

/// `TMPL_LIBVIRT_DRIVER` wins; otherwise KVM when `/dev/kvm` can be opened, else TCG.
pub fn choose_driver(env: Option<&str>, kvm: Result<(), String>) -> (String, Option<String>) {
    match env.map(str::trim).filter(|s| !s.is_empty()) {
        Some(d) => (d.to_owned(), None),
        None => match kvm {
            Ok(()) => ("kvm".into(), None),
            Err(why) => (
                "qemu".into(),
                Some(format!("KVM is not usable ({why}); using software emulation (slow). Set TMPL_LIBVIRT_DRIVER=qemu to silence this")),
            ),
        },
    }
}

/// KVM is usable when the device opens read-write (what QEMU needs).
pub fn kvm_usable() -> Result<(), String> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .map(|_| ())
        .map_err(|e| format!("/dev/kvm: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn driver_choice() {
        assert_eq!(choose_driver(Some("qemu"), Ok(())).0, "qemu");
        assert_eq!(choose_driver(None, Ok(())), ("kvm".into(), None));
        let (d, why) = choose_driver(None, Err("missing".into()));
        assert_eq!(d, "qemu");
        assert!(why.unwrap().contains("missing"));
    }
}
