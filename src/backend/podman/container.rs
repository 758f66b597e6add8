//! One project's container: its lifecycle, how it is reached, its network.

use super::client::{self, Client};
use super::{limits, network, spec};
use crate::driver::{Guest, Lifecycle, Live, Needs, Reach, State, StopOutcome, UpOutcome};
use crate::error::{ExitStatus, Failure};
use crate::project::Loaded;
use crate::ssh::{Access, Endpoint};
use crate::timing::Phases;
use crate::ui;
use anyhow::{Context as _, Result};
use bollard::models::ContainerInspectResponse;
use std::time::Duration;

/// Containers' own networks: bridges `tmplc<hash>`, /24s from 10.138.0.0/16.
pub const NET: crate::fence::net::Kind = crate::fence::net::Kind {
    bridge_prefix: "tmplc",
    second_octet: 138,
};

pub struct Podman {
    pub(super) loaded: Loaded,
    /// The user's state root, where subnets are handed out (see `fence::net`).
    pub(super) state_root: std::path::PathBuf,
    pub(super) client: Client,
    pub(super) name: String,
    pub(super) access: Access,
}

/// The create request `up` would send, as JSON with sorted keys (stable for `tmpl render`).
pub fn preview(loaded: &Loaded) -> Result<String> {
    let spec = spec::container_spec(loaded, "<public key generated at up>", false, binds(loaded));
    Ok(format!(
        "{}\n",
        serde_json::to_string_pretty(&serde_json::to_value(&spec)?)?
    ))
}

/// The project folder's bind (see `spec::project_binds`): where the file server serves it.
pub fn binds(loaded: &Loaded) -> Vec<String> {
    let served_at = crate::share::daemon::Share::new(&loaded.id.state_dir).mountpoint();
    spec::project_binds(loaded, &served_at)
}

impl Podman {
    /// `start`: start a transient API service when none answers (commands that act on the
    /// guest); checks never do.
    pub fn connect(loaded: Loaded, start: bool, state_root: &std::path::Path) -> Result<Podman> {
        // (the state and cache folders are the project's own, in `loaded.id`)
        let client = if start {
            client::connect_or_start()?
        } else {
            client::connect()?
        };
        let name = spec::container_name(&loaded.id.slug);
        let access = Access::new(&loaded.id.slug, &loaded.id.state_dir);
        Ok(Podman {
            loaded,
            state_root: state_root.to_owned(),
            client,
            name,
            access,
        })
    }

    pub(super) fn image_ref(&self) -> String {
        spec::image_of(&self.loaded)
    }

    /// The project's container, if there is one; refuses a same-named stranger.
    pub(super) fn inspect(&self) -> Result<Option<ContainerInspectResponse>> {
        let Some(c) = self.client.inspect_container(&self.name)? else {
            return Ok(None);
        };
        let label = c
            .config
            .as_ref()
            .and_then(|c| c.labels.as_ref())
            .and_then(|l| l.get(spec::LABEL_PROJECT));
        if label != Some(&self.loaded.id.slug) {
            return Err(Failure::new(ExitStatus::Failure, format!("a container named `{}` exists but was not made by tmpl for this project", self.name))
                .hint(format!("rename or remove it (`podman rm {}`); tmpl never touches containers it did not make", self.name))
                .into());
        }
        Ok(Some(c))
    }

    pub(super) fn state_of(c: &ContainerInspectResponse) -> State {
        if c.state.as_ref().and_then(|s| s.running).unwrap_or(false) {
            State::Running
        } else {
            State::Stopped
        }
    }

    pub(super) fn endpoint(&self, c: &ContainerInspectResponse) -> Option<Endpoint> {
        let ports = c.network_settings.as_ref()?.ports.as_ref()?;
        let binding = ports.get("22/tcp")?.as_ref()?.first()?;
        let port: u16 = binding.host_port.as_ref()?.parse().ok()?;
        Some(Endpoint {
            host: "127.0.0.1".into(),
            port,
            user: "root".into(),
            identity: self.access.key(),
        })
    }

    pub(super) fn address(c: &ContainerInspectResponse) -> Option<String> {
        let nets = c.network_settings.as_ref()?.networks.as_ref()?;
        let mut names: Vec<&String> = nets.keys().collect();
        names.sort_by_key(|n| !n.starts_with("tmpl-"));
        names
            .into_iter()
            .find_map(|n| nets[n].ip_address.clone().filter(|a| !a.is_empty()))
    }

    pub(super) fn ensure_image(&self) -> Result<()> {
        let image = self.image_ref();
        if self.client.inspect_image(&image)?.is_some() {
            return Ok(());
        }
        ui::info(format!("pulling {image}"));
        let pulled = self.client.pull(&image, |line| {
            ui::info(format!("    {}", crate::text::terminal_safe(line)))
        });
        pulled.map_err(|e| {
            Failure::new(ExitStatus::Failure, format!("image `{image}` is not on this host and cannot be pulled"))
                .detail(format!("| {e}"))
                .hint("check IMAGE in .env; `podman images` lists local images; build or load it, or check the registry is reachable")
                .into()
        })
    }

    pub(super) fn create(&self) -> Result<()> {
        self.ensure_image()?;
        self.create_from(None)
    }

    fn create_or_restore(&self, snapshot: Option<&str>) -> Result<()> {
        match snapshot {
            Some(s) => self.create_from(Some(s)),
            None => self.create(),
        }
    }

    /// Creates the project's container from its image, or from `image` (a snapshot's).
    pub(super) fn create_from(&self, image: Option<&str>) -> Result<()> {
        let public = self.access.ensure_key()?;
        let (host_key, _) = self.access.ensure_host_key()?;
        let own = crate::driver::Network::network(self)?;
        if let Some(net) = &own {
            let name = spec::network_name(&self.loaded.id.slug);
            network::ensure_own(&self.client, &name, net, &self.loaded.id.slug)?;
        }
        let extra = spec::extra_network(&self.loaded);
        if let Some(net) = &extra {
            network::ensure(&self.client, net, &self.loaded.id.slug)?;
        }
        let binds = binds(&self.loaded);
        let unenforced = limits::host_unenforced();
        if let Some(why) = unenforced {
            ui::warn(format!(
                "MEMORY={} and CPUS={} are not enforced on this host: {why} (root's Podman, or cgroup v2 with the controllers delegated, enforces them)",
                self.loaded.config.memory_mib, self.loaded.config.cpus
            ));
        }
        let cpuset = limits::cpuset(
            &limits::host_cores(),
            self.loaded.config.cpus,
            &self.loaded.id.slug,
        );
        let spec_of = |disk: bool, binds: Vec<String>| {
            let mut spec = spec::container_spec(&self.loaded, &public, disk, binds);
            if let Some(i) = image {
                spec.image = Some(i.to_owned());
            }
            // The container's env is the owner's to read (`podman inspect`: root, or the
            // person), and root in the guest has its own host key anyway: it only says who
            // the guest is.
            spec.env
                .get_or_insert_with(Vec::new)
                .push(format!("TMPL_HOST_KEY={host_key}"));
            if let Some(hc) = spec.host_config.as_mut() {
                // the guest's own resolver on its gateway, and no other: Podman would add the
                // host's servers, which the fence closes, and every refused name would wait
                // for them to time out
                if let Some(net) = &own {
                    hc.dns = Some(vec![net.gateway().to_string()]);
                }
                if unenforced.is_some() {
                    // Podman would ignore them; a cpuset it could even refuse
                    hc.memory = None;
                    hc.nano_cpus = None;
                } else {
                    hc.cpuset_cpus = cpuset.clone();
                }
            }
            spec
        };
        let with_disk = spec_of(true, binds.clone());
        match self.client.create_container(&self.name, with_disk) {
            Ok(()) => {}
            Err(e)
                if e.to_string().to_lowercase().contains("storage")
                    || e.to_string().contains("quota") =>
            {
                ui::warn(format!(
                    "DISK={} is not enforced on this host: Podman's storage cannot limit a container's size here",
                    self.loaded.config.disk_gib
                ));
                let spec = spec_of(false, binds);
                self.client
                    .create_container(&self.name, spec)
                    .context("cannot create the container")?;
            }
            Err(e) => return Err(anyhow::Error::new(e).context("cannot create the container")),
        }
        if let Some(net) = &extra {
            if let Err(e) = network::connect(&self.client, net, &self.name) {
                let _ = self.remove_container();
                return Err(e);
            }
        }
        Ok(())
    }

    /// A container made before the fence sits on Podman's shared network, out of its reach.
    pub(super) fn refuse_unfenced(&self, c: &ContainerInspectResponse) -> Result<()> {
        if !spec::own_network(&self.loaded) {
            return Ok(());
        }
        let own = spec::network_name(&self.loaded.id.slug);
        let on_own = c
            .network_settings
            .as_ref()
            .and_then(|n| n.networks.as_ref())
            .is_some_and(|n| n.contains_key(&own));
        if on_own || Self::never_started(c) {
            return Ok(());
        }
        Err(Failure::new(
            ExitStatus::Failure,
            format!(
                "container `{}` is not on its own network, so the network fence cannot hold it",
                self.name
            ),
        )
        .hint("it was made by an older tmpl: `tmpl rm` then `tmpl up` makes it anew, fenced")
        .into())
    }

    pub(super) fn never_started(c: &ContainerInspectResponse) -> bool {
        use bollard::models::ContainerStateStatusEnum;
        c.state.as_ref().and_then(|s| s.status) == Some(ContainerStateStatusEnum::CREATED)
    }

    /// Starts a container that has never run. Podman picks the SSH port's host side at
    /// create time; if something took that port before the start (an outgoing connection's
    /// ephemeral port, another guest), a fresh container gets a fresh port. Only safe because
    /// nothing has run in it yet. `snapshot`: what it was made from, if not `IMAGE`.
    pub(super) fn start_new(&self, snapshot: Option<&str>) -> Result<()> {
        let mut tries = 0;
        loop {
            match self.start() {
                Err(e) if tries < 3 && e.to_string().contains("address already in use") => {
                    tries += 1;
                    ui::info(format!(
                        "the SSH port Podman chose was taken meanwhile; recreating {}",
                        self.name
                    ));
                    self.remove_container()?;
                    self.create_or_restore(snapshot)?;
                }
                other => return other,
            }
        }
    }

    pub(super) fn start(&self) -> Result<()> {
        self.client.start_container(&self.name).map_err(|e| {
            Failure::new(
                ExitStatus::Failure,
                format!("cannot start container `{}`: {e}", self.name),
            )
            .into()
        })
    }

    pub(super) fn remove_container(&self) -> Result<()> {
        self.client.remove_container(&self.name).map(|_| ())
    }

    pub(super) fn running_endpoint(&self) -> Result<Endpoint> {
        let c = self
            .inspect()?
            .context("the container vanished while starting")?;
        if Self::state_of(&c) != State::Running {
            let mut f = Failure::new(
                ExitStatus::Failure,
                format!("container `{}` stopped right after starting", self.name),
            );
            for l in self.client.logs_tail(&self.name, 12) {
                f = f.detail(format!("| {l}"));
            }
            return Err(f
                .hint(format!(
                    "`podman logs {}` shows its whole output",
                    self.name
                ))
                .into());
        }
        self.endpoint(&c)
            .context("the container has no SSH port published")
    }
}

impl Reach for Podman {
    fn host_key(&self) -> Option<String> {
        self.access.ensure_host_key().ok().map(|(_, public)| public)
    }
}

impl Lifecycle for Podman {
    fn live(&self) -> Result<Live> {
        Ok(match self.inspect()? {
            None => Live::absent(),
            Some(c) => {
                let state = Self::state_of(&c);
                Live {
                    state,
                    address: Self::address(&c),
                    ssh: (state == State::Running)
                        .then(|| self.endpoint(&c))
                        .flatten(),
                }
            }
        })
    }

    fn up(&self, phases: &mut Phases) -> Result<(UpOutcome, Endpoint)> {
        let existing = self.inspect()?;
        if let Some(c) = &existing {
            self.refuse_unfenced(c)?;
        }
        let outcome = match existing {
            Some(c) if Self::state_of(&c) == State::Running => UpOutcome::AlreadyRunning,
            Some(c) if !Self::never_started(&c) => {
                phases.run(
                    "start",
                    &format!("starting container {}", self.name),
                    || self.start(),
                )?;
                UpOutcome::Started
            }
            // absent, or made but never started (an interrupted or failed `up`, or a restore
            // cut short): nothing in it but its image to keep, so (re)create it from that
            existing => {
                let restored = match &existing {
                    Some(c) => self.restored_from(c)?,
                    None => None,
                };
                phases.run(
                    "create",
                    &format!("creating container {}", self.name),
                    || {
                        if existing.is_some() {
                            self.remove_container()?;
                        }
                        self.create_or_restore(restored.as_deref())
                    },
                )?;
                phases.run(
                    "start",
                    &format!("starting container {}", self.name),
                    || self.start_new(restored.as_deref()),
                )?;
                UpOutcome::Created
            }
        };
        Ok((outcome, self.running_endpoint()?))
    }

    fn stop(&self, timeout: Duration, phases: &mut Phases) -> Result<StopOutcome> {
        match self.inspect()? {
            None => Ok(StopOutcome::NotCreated),
            Some(c) if Self::state_of(&c) != State::Running => Ok(StopOutcome::AlreadyStopped),
            Some(_) => {
                let secs = i32::try_from(timeout.as_secs()).unwrap_or(i32::MAX);
                phases.run("stop", &format!("stopping container {}", self.name), || {
                    self.client.stop_container(&self.name, secs)
                })?;
                let exit = self
                    .inspect()?
                    .and_then(|c| c.state)
                    .and_then(|s| s.exit_code);
                // 137 = 128 + SIGKILL: Podman killed it when the timeout ran out
                Ok(StopOutcome::Stopped {
                    forced: exit == Some(137),
                })
            }
        }
    }

    fn remove(&self, phases: &mut Phases) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        if self.inspect()?.is_some() {
            phases.run(
                "remove",
                &format!("removing container {}", self.name),
                || self.remove_container(),
            )?;
            removed.push(format!("container {}", self.name));
        }
        removed.extend(self.remove_snapshots()?);
        if let Some(n) =
            network::remove_if_unused(&self.client, &spec::network_name(&self.loaded.id.slug))?
        {
            removed.push(n);
        }
        Ok(removed)
    }

    fn needs(&self) -> Needs {
        Needs {
            disk_dir: Some("/var/lib/containers".into()),
            image_file: None,
            disk_grows: false,
        }
    }

    fn details(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        m.insert("container".into(), self.name.clone().into());
        m.insert("image".into(), self.image_ref().into());
        m.insert(
            "podman_socket".into(),
            self.client.socket.display().to_string().into(),
        );
        m
    }
}

impl crate::driver::Network for Podman {
    fn network(&self) -> Result<Option<crate::fence::net::GuestNet>> {
        if !spec::own_network(&self.loaded) {
            return Ok(None);
        }
        let id = &self.loaded.id;
        crate::fence::net::allocate(
            &self.state_root,
            &id.state_dir,
            &id.slug,
            NET,
            self.loaded.config.fixed_ip,
        )
        .map(Some)
    }
}

impl Guest for Podman {
    fn network(&self) -> Option<&dyn crate::driver::Network> {
        Some(self)
    }
    fn snapshots(&self) -> Option<&dyn crate::driver::Snapshots> {
        Some(self)
    }
}
