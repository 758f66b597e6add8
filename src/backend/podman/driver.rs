//! Containers as one way to run guests: their settings' rules, host checks, state by slug and
//! leftovers (see `driver::Driver`).

use super::container::Podman;
use super::{client, spec};
use crate::config::{Config, Network, Rule};
use crate::driver::{Check, Connect, Driver, Guest, Leftover, State, Wants};
use crate::gone::gone;
use crate::host;
use crate::project::Dirs;
use crate::project::Loaded;
use anyhow::Result;
use std::path::PathBuf;

pub struct PodmanDriver;

const CONTAINER: &str = "container";
const NETWORK: &str = "network";
const SNAPSHOT: &str = "snapshot image";

fn api() -> Check {
    let found = match client::connect() {
        Ok(c) => c
            .version()
            .map(|v| format!("{} (Podman {v})", c.socket.display()))
            .map_err(|e| (format!("{e:#}"), "restart the Podman service".to_owned())),
        // commands that need a guest start a service themselves: nothing to fix yet, unless
        // the person's runtime folder would make them refuse
        Err(_) if crate::process::which("podman").is_some() && client::explicit().is_none() => {
            let socket = client::candidates()
                .last()
                .map(|(p, _)| p.display().to_string())
                .unwrap_or_default();
            let rt = super::runtime::runtime_dir();
            match (crate::person::is_root(), crate::person::owned_private_dir(&rt)) {
                (false, Err(why)) if rt.exists() => Err((
                    why,
                    format!("remove {} if it is not yours, or set XDG_RUNTIME_DIR to a folder only you can write", rt.display()),
                )),
                _ => Ok(format!(
                    "none running; `tmpl up` starts one on {socket} (it exits after 5 idle minutes)"
                )),
            }
        }
        Err(e) => Err((
            format!("{e:#}"),
            "start it: `systemctl --user enable --now podman.socket` (rootless) or `sudo systemctl enable --now podman.socket`; without systemd, `podman system service --time=0 &`".to_owned(),
        )),
    };
    Check::of("podman api", true, found)
}

impl Driver for PodmanDriver {
    fn name(&self) -> &'static str {
        "container"
    }

    fn noun(&self) -> &'static str {
        "container"
    }

    fn also_called(&self) -> &'static [&'static str] {
        &["docker", "podman", "ct", "containers", "oci"]
    }

    fn validate(&self, config: &Config) -> Vec<Rule> {
        let mut rules = Vec::new();
        // Podman takes a bind mount with options (`nosuid,nodev`) only as `SRC:DST:OPTIONS`
        let colon = config.sync.as_ref().is_some_and(|s| {
            s.host_path.to_string_lossy().contains(':') || s.guest_path.contains(':')
        });
        if colon {
            rules.push(Rule {
                key: "SYNC",
                expected: "a project folder and SYNC_PATH without `:` for a container (Podman's bind mounts with options cannot carry one); or `SYNC=none`".into(),
                example: Some("SYNC=none".into()),
            });
        }
        // A macvlan container sends straight out of the host's interface: no host hop sees
        // its packets, so no host rule can hold them. Claiming a fence there would be a lie.
        let fenced = config.egress != crate::config::Egress::Open;
        if fenced && matches!(config.network, Network::Bridge { .. }) {
            rules.push(Rule {
                key: "NETWORK_TYPE",
                expected: format!(
                    "`EGRESS=open` with `NETWORK_TYPE=bridge` for a container: a macvlan container \
                     is on the LAN itself, past the host, so `EGRESS={}` cannot be enforced",
                    config.egress
                ),
                example: Some("EGRESS=open".into()),
            });
        }
        rules
    }

    fn host_checks(&self, _dirs: &Dirs, _wants: Wants) -> Vec<Check> {
        let mut out: Vec<Check> = host::needed_by("container")
            .iter()
            .map(|r| host::check_program(r, true))
            .collect();
        out.push(api());
        out.extend(super::person::checks());
        out
    }

    /// Root's containers are on host bridges; a person's are inside their rootless Podman's
    /// network namespace, which holds their fence (see `netns`).
    fn fence_holder(&self) -> crate::fence::Holder {
        if crate::person::is_root() {
            crate::fence::HOST
        } else {
            crate::fence::Holder(&super::netns::ROOTLESS_NETNS)
        }
    }

    /// A person's containers take their mounts from their rootless Podman's user and mount
    /// namespace: a mount made on the host after its pause process started is not seen there.
    fn share_enter(&self, cmd: crate::process::Cmd) -> crate::process::Cmd {
        if crate::person::is_root() {
            return cmd;
        }
        cmd.wrapped_in(&["podman", "unshare"])
            .env("XDG_RUNTIME_DIR", super::runtime::runtime_dir())
    }

    fn state_of(&self, slug: &str) -> Option<State> {
        let c = client::connect().ok()?;
        match c.inspect_container(&spec::container_name(slug)).ok()? {
            None => Some(State::NotCreated),
            Some(i) if i.state.as_ref().and_then(|s| s.running).unwrap_or(false) => {
                Some(State::Running)
            }
            Some(_) => Some(State::Stopped),
        }
    }

    fn leftovers(&self, dirs: &Dirs) -> Vec<Leftover> {
        let mut out = Vec::new();
        let Ok(c) = client::connect() else { return out };
        let mut kept_slugs = Vec::new();
        for s in c.labelled(spec::LABEL_PROJECT).unwrap_or_default() {
            let labels = s.labels.unwrap_or_default();
            let name = s
                .names
                .and_then(|n| n.first().cloned())
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_owned();
            let state = labels.get(spec::LABEL_STATE).map(PathBuf::from);
            let dir = labels.get(spec::LABEL_DIR).map(PathBuf::from);
            match (state, dir) {
                (Some(st), Some(d)) if st.starts_with(&dirs.state) && gone(&d) => {
                    out.push(Leftover {
                        kind: CONTAINER.into(),
                        name,
                        why: format!("its project folder {} is gone", d.display()),
                    })
                }
                _ => kept_slugs.extend(labels.get(spec::LABEL_PROJECT).cloned()),
            }
        }
        // snapshot images whose project's state is gone (`rm` removes its own)
        for i in c.labelled_images(spec::LABEL_STATE).unwrap_or_default() {
            let state = i.labels.get(spec::LABEL_STATE).map(PathBuf::from);
            let Some(st) = state.filter(|s| s.starts_with(&dirs.state) && gone(s)) else {
                continue;
            };
            for tag in i
                .repo_tags
                .iter()
                .filter(|t| t.starts_with("localhost/tmpl-snapshot/"))
            {
                out.push(Leftover {
                    kind: SNAPSHOT.into(),
                    name: tag.clone(),
                    why: format!("its project's state {} is gone", st.display()),
                });
            }
        }
        for n in c.labelled_networks(spec::LABEL_PROJECT).unwrap_or_default() {
            let slug = n
                .labels
                .as_ref()
                .and_then(|l| l.get(spec::LABEL_PROJECT))
                .cloned()
                .unwrap_or_default();
            if !kept_slugs.contains(&slug) && dirs.has_files_for(&slug) {
                out.push(Leftover {
                    kind: NETWORK.into(),
                    name: n.name.unwrap_or_default(),
                    why: "no container of its project exists".into(),
                });
            }
        }
        out
    }

    fn remove_leftover(&self, l: &Leftover) -> Result<()> {
        let c = client::connect()?;
        if l.kind == CONTAINER {
            c.remove_container(&l.name)?;
        } else if l.kind == SNAPSHOT {
            c.remove_image(&l.name, true)?;
        } else {
            c.remove_network(&l.name)?;
        }
        Ok(())
    }

    fn preview(&self, loaded: &Loaded, _dirs: &Dirs) -> Result<String> {
        super::container::preview(loaded)
    }

    fn open(&self, loaded: &Loaded, dirs: &Dirs, how: Connect) -> Result<Box<dyn Guest>> {
        Ok(Box::new(Podman::connect(
            loaded.clone(),
            how == Connect::MayStart,
            &dirs.state,
        )?))
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{validate, EnvFile};
    use std::path::Path;

    fn problems(dir: &str, extra: &str) -> Vec<String> {
        let text = format!("INFRA_TYPE=container\nMEMORY=512\nCPUS=1\nDISK=5\n{extra}");
        match validate(
            &EnvFile::parse(Path::new(".env"), &text),
            Path::new(dir),
            false,
            &crate::backend::builtin(),
        ) {
            Ok(_) => Vec::new(),
            Err(r) => r.problems.into_iter().map(|p| p.key).collect(),
        }
    }

    #[test]
    fn a_containers_project_path_has_no_colon() {
        assert_eq!(problems("/home/me/a:b", ""), vec!["SYNC"]);
        assert!(problems("/home/me/a:b", "SYNC=none\n").is_empty());
        assert!(problems("/home/me/ab", "").is_empty());
    }

    #[test]
    fn a_macvlan_container_cannot_be_fenced() {
        assert_eq!(
            problems("/p", "NETWORK_TYPE=bridge\nBRIDGE=br0\n"),
            vec!["NETWORK_TYPE"]
        );
        assert!(problems("/p", "NETWORK_TYPE=bridge\nBRIDGE=br0\nEGRESS=open\n").is_empty());
    }
}
