//! What a broker is started with, on its stdin (never a command line, never a file: the
//! values are in it), and how it turns into a running `Broker`.

use super::ca::Leaf;
use super::gate::FenceGate;
use super::proxy::upstream::{self, Upstream};
use super::proxy::Broker;
use super::rewrite::Secret;
use crate::config::validate::parse_allow;
use crate::config::Egress;
use crate::fence::rules::Policy;
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

/// The guest's fence, as data (`EGRESS`, `EGRESS_ALLOW` entries, the host's addresses).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fence {
    pub egress: String,
    pub allow: Vec<String>,
    pub host_addrs: Vec<IpAddr>,
    /// The host's own networks and the ranges closed with them (see `fence::lan`).
    #[serde(default)]
    pub lan: Vec<ipnet::IpNet>,
}

impl Fence {
    pub fn from_policy(p: &Policy) -> Fence {
        Fence {
            egress: p.egress.to_string(),
            allow: p.allow.iter().map(|a| a.to_string()).collect(),
            host_addrs: p.host_addrs.clone(),
            lan: p.lan.clone(),
        }
    }

    pub fn policy(&self) -> Result<Policy, String> {
        let egress = match self.egress.as_str() {
            "internet" => Egress::Internet,
            "none" => Egress::None,
            "open" => Egress::Open,
            other => return Err(format!("unknown egress `{other}`")),
        };
        Ok(Policy {
            egress,
            allow: self
                .allow
                .iter()
                .map(|a| parse_allow(a))
                .collect::<Result<_, _>>()?,
            host_addrs: self.host_addrs.clone(),
            lan: self.lan.clone(),
            // the broker asks `allows`, which has no DNS of its own to open
            dns_port: 0,
            services: Vec::new(),
        })
    }
}

#[derive(Clone, Serialize, Deserialize)]
pub struct Spec {
    /// The project's broker folder: the lock, the log.
    pub dir: PathBuf,
    /// The guest's gateway and the broker's port.
    pub listen: SocketAddr,
    /// The guest's network: nobody else may use the broker.
    pub clients: Ipv4Net,
    pub fence: Fence,
    pub secrets: Vec<Secret>,
    pub leaves: Vec<Leaf>,
}

impl Spec {
    /// The broker this spec describes, with the system's resolver and the host's trust store.
    pub fn broker(&self) -> std::io::Result<(Broker, Arc<FenceGate>)> {
        let policy = self
            .fence
            .policy()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        let gate = Arc::new(FenceGate::new(policy));
        let up = Upstream {
            gate: gate.clone(),
            resolve: upstream::system_resolver(),
            tls: Arc::new(upstream::client_config()?),
        };
        let mut b = Broker::new(self.secrets.clone(), &self.leaves, up)?;
        b.log = Some(super::record::path(&self.dir));
        b.clients = Some(self.clients.into());
        Ok((b, gate))
    }
}
