//! VMs through Vagrant and vagrant-libvirt.
//!
//! The master template is rendered into the project's cache dir and Vagrant runs there with
//! `VAGRANT_CWD` and `VAGRANT_DOTFILE_PATH` (in the state dir) set for the project. Only
//! operations that change the VM start Vagrant; the live state comes from libvirt.

pub mod checks;
mod cloud_config;
pub mod driver;
mod first_boot;
pub mod image;
pub mod keys;
pub mod kvm;
mod lifecycle;
pub mod login;
pub mod plan;
mod prepare;
pub mod render;
mod snapshot;
pub mod virsh;
pub mod virtiofs;
mod xml;

pub use driver::VagrantDriver;

use super::{Backend, Live, Needs, State, StopOutcome, UpOutcome};
use crate::config::InfraType;
use crate::context::Loaded;
use crate::error::{ExitStatus, Failure};
use crate::fence;
use crate::process::Cmd;
use crate::project::Dirs;
use crate::ssh::{Access, Endpoint};
use crate::timing::Phases;
use crate::ui;
use anyhow::Result;
use plan::{BoxSource, VmPlan};
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub struct Vagrant {
    loaded: Loaded,
    dirs: Dirs,
    plan: VmPlan,
    access: Access,
    /// Decided when first needed (see `driver`): never on the read-only paths.
    driver: std::cell::OnceCell<kvm::Driver>,
}

impl Vagrant {
    pub fn new(loaded: Loaded, dirs: Dirs) -> Vagrant {
        let plan = plan::plan(&loaded, dirs.home.as_deref());
        let access = Access::new(&loaded.id.slug, &loaded.id.state_dir);
        Vagrant {
            loaded,
            dirs,
            plan,
            access,
            driver: std::cell::OnceCell::new(),
        }
    }

    /// Where the domain type chosen at creation is kept: a VM keeps it for its whole life.
    fn driver_record(&self) -> PathBuf {
        self.loaded.id.state_dir.join("libvirt-driver.json")
    }

    /// The domain type for this VM: `TMPL_LIBVIRT_DRIVER`, else the one it was created with,
    /// else whether KVM works here (see `kvm`).
    pub fn driver(&self) -> &kvm::Driver {
        self.driver.get_or_init(|| {
            let env = std::env::var("TMPL_LIBVIRT_DRIVER").ok();
            if env.as_deref().is_some_and(|e| !e.trim().is_empty()) {
                return kvm::choose(env.as_deref(), || Ok(()));
            }
            if let Some(d) = std::fs::read_to_string(self.driver_record())
                .ok()
                .and_then(|t| serde_json::from_str::<kvm::Driver>(&t).ok())
            {
                return kvm::Driver {
                    why: format!("chosen when the VM was created ({})", d.why),
                    fallback: false,
                    ..d
                };
            }
            kvm::choose(None, || kvm::works(&self.dirs.cache))
        })
    }

    /// The template's context, complete: the driver and the seed's path are known by now.
    fn context(&self) -> Result<render::VmContext> {
        let mut c = self.plan.context.clone();
        let net = self.guest_net();
        c.network = Some(render::OwnNetwork {
            name: self.plan.network_name.clone(),
            address: net.subnet.to_string(),
            mac: self
                .loaded
                .config
                .fixed_ip
                .map(|_| plan::mac_of(&self.loaded.id.slug)),
        });
        c.driver = self.driver().name.clone();
        if let Some(keys::Login::Project { insecure }) = self.box_login() {
            c.ssh.private_key_paths = std::iter::once(&self.plan.key_path)
                .chain(&insecure)
                .map(|p| p.display().to_string())
                .collect();
            c.ssh.insert_key = false;
        }
        if let Some(vol) = &self.plan.seed_volume {
            // before the seed exists (or for `tmpl render` without libvirt): where the default
            // pool keeps it
            let path = virsh::vol_path(vol)
                .ok()
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| format!("{}/{vol}", plan::LIBVIRT_IMAGES));
            c.seed_iso = Some(path);
        }
        Ok(c)
    }

    /// The VM's own network: as recorded by `up`, or (for `tmpl render` before any `up`)
    /// where it would most likely go.
    fn guest_net(&self) -> fence::net::GuestNet {
        let id = &self.loaded.id;
        fence::net::recorded(&id.state_dir).unwrap_or_else(|| {
            let subnet = match self.loaded.config.fixed_ip {
                Some(ip) => ipnet::Ipv4Net::new(ip, 24).expect("24 is a prefix").trunc(),
                None => fence::net::pick(fence::net::Kind::Vm, &id.slug, &[]),
            };
            fence::net::GuestNet {
                bridge: fence::net::bridge_name(fence::net::Kind::Vm, &id.slug),
                subnet,
                lan_tap: None,
            }
        })
    }

    /// A VM made before the fence is on vagrant-libvirt's shared network, out of its reach.
    fn refuse_unfenced(&self) -> Result<()> {
        let nets = virsh::domain_networks(&self.plan.domain)?;
        if nets.is_empty() || nets.contains(&self.plan.network_name) {
            return Ok(());
        }
        Err(Failure::new(
            ExitStatus::Failure,
            format!(
                "VM `{}` is on {} rather than its own network, so the network fence cannot hold it",
                self.plan.domain,
                nets.join(", ")
            ),
        )
        .hint("it was made by an older tmpl: `tmpl rm` then `tmpl up` makes it anew, fenced")
        .into())
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

    /// A Vagrant command whose whole output goes to `<state>/logs/vagrant-<verb>.log`, for the
    /// streamed operations: the terminal shows the progress, a failure its cause and the log.
    fn logged(&self, args: &[&str]) -> Cmd {
        let verb = args.first().copied().unwrap_or("run");
        let log = self
            .loaded
            .id
            .state_dir
            .join("logs")
            .join(format!("vagrant-{verb}.log"));
        self.vagrant(args).log_to(log)
    }

    /// Writes the Vagrantfile when its text changed (Vagrant reads it on every call).
    pub fn render(&self) -> Result<()> {
        if let Some(keys::Login::Project { .. }) = self.box_login() {
            // the copies the Vagrantfile names (see `keys`)
            crate::ssh::private_dir(&self.access.dir)?;
            keys::stage(&keys::insecure_keys(), &self.access.dir)?;
        }
        let text = self.vagrantfile()?;
        let path = self.plan.vagrantfile_dir.join("Vagrantfile");
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            crate::atomic::write(&path, text.as_bytes(), 0o600)?;
        }
        std::fs::create_dir_all(&self.plan.dotfile_dir)?;
        Ok(())
    }

    /// For `stop` and `rm`, which never apply settings: the Vagrantfile the last approved
    /// `up` wrote. Rendered again only when it is missing (tmpl's cache was cleared) and the
    /// settings as they are now were approved; `None` when it cannot be had.
    fn last_approved_vagrantfile(&self) -> Result<Option<()>> {
        let path = self.plan.vagrantfile_dir.join("Vagrantfile");
        if path.is_file() {
            std::fs::create_dir_all(&self.plan.dotfile_dir)?;
            return Ok(Some(()));
        }
        let approved = crate::trust::load(&self.dirs.state, &self.loaded.project.dir)
            .is_some_and(|a| a.settings == crate::trust::settings(&self.loaded));
        if approved {
            self.render()?;
            return Ok(Some(()));
        }
        Ok(None)
    }

    /// The Vagrantfile's text, as `render` writes it and `tmpl render` prints it.
    pub fn vagrantfile(&self) -> Result<String> {
        let (template, _) = render::template_source(&self.dirs.config)?;
        render::vagrantfile(&template, &self.context()?)
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
        // a box VM whose key Vagrant inserted keeps it (see `keys`); every other VM logs in
        // with the project's key
        let inserted = self.machine_dir().join("private_key");
        let identity = if self.made_from_box() && inserted.is_file() {
            inserted
        } else {
            self.plan.key_path.clone()
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
                ExitStatus::Failure,
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
    /// a state dir deleted by hand) would block creation: remove it. `rm` also removes one
    /// that Vagrant knows when there is no approved Vagrantfile to do it with.
    fn remove_orphan_domain(&self) -> Result<bool> {
        if virsh::domain(&self.plan.domain)?.is_none() {
            return Ok(false);
        }
        let why = if self.known_to_vagrant() {
            "without Vagrant: its Vagrantfile is gone and the settings changed since they were approved"
        } else {
            "left behind by an earlier interrupted run"
        };
        ui::warn(format!("removing VM `{}`, {why}", self.plan.domain));
        let _ = virsh::virsh().args(["destroy", &self.plan.domain]).output();
        virsh::virsh()
            .args([
                "undefine",
                &self.plan.domain,
                "--remove-all-storage",
                "--nvram",
                "--snapshots-metadata",
            ])
            .read()?;
        Ok(true)
    }

    /// A hint for the failures whose cause tmpl knows.
    fn explain(&self, e: anyhow::Error) -> anyhow::Error {
        let details = e
            .chain()
            .find_map(|c| c.downcast_ref::<Failure>())
            .map(|f| f.details.join("\n"))
            .unwrap_or_default();
        let kvm_broken = (details.contains("failed to set MSR") || details.contains("/dev/kvm"))
            && self.driver().name == "kvm";
        let hint = if kvm_broken {
            "KVM does not work on this host: unset TMPL_LIBVIRT_DRIVER so that tmpl checks and falls back to emulation, or set TMPL_LIBVIRT_DRIVER=qemu".to_owned()
        } else {
            "the log holds everything Vagrant printed; `tmpl doctor` checks the host".to_owned()
        };
        match e.downcast::<Failure>() {
            Ok(f) => f.hint(hint).into(),
            Err(e) => e,
        }
    }
}
