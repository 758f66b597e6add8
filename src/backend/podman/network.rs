//! The networks of a container, created on `up` when missing, labelled for the project and
//! removed with it: its own bridge (see `fence::net`), or a macvlan with
//! `NETWORK_TYPE=bridge`.

use super::client::Client;
use super::spec::{ExtraNetwork, LABEL_PROJECT};
use crate::error::{ExitStatus, Failure};
use crate::fence::net::GuestNet;
use anyhow::Result;
use bollard::models::{
    EndpointIpamConfig, EndpointSettings, Ipam, IpamConfig, NetworkConnectRequest,
    NetworkCreateRequest,
};
use std::collections::HashMap;

/// The host interface's IPv4 network (`192.168.1.0/24`), for a macvlan without `FIXED_IP`.
fn interface_subnet(dev: &str) -> Option<String> {
    crate::ip::links(Some(dev))
        .iter()
        .flat_map(|l| &l.addr_info)
        .find_map(|a| a.v4_network())
        .map(|n| n.to_string())
}

pub fn ensure(client: &Client, net: &ExtraNetwork, slug: &str) -> Result<()> {
    if client.inspect_network(&net.name)?.is_some() {
        return Ok(());
    }
    let subnet = match (&net.subnet, &net.parent) {
        (Some(s), _) => Some(s.clone()),
        (None, Some(dev)) => Some(interface_subnet(dev).ok_or_else(|| {
            Failure::new(
                ExitStatus::Failure,
                format!("`BRIDGE={dev}` has no IPv4 address on this host"),
            )
            .hint("name an interface that is up with an address (`ip -4 addr`), or set FIXED_IP")
        })?),
        (None, None) => None,
    };
    let mut options = HashMap::new();
    if let Some(p) = &net.parent {
        options.insert("parent".to_owned(), p.clone());
    }
    let ipam = IpamConfig {
        subnet,
        ..Default::default()
    };
    let labels = [(LABEL_PROJECT, slug.to_owned())];
    let hint = "another network may already use this subnet: `podman network ls`";
    create(client, &net.name, net.driver, options, &labels, ipam, hint)
}

/// Creates a network labelled for its project; a failure names it, with `hint`.
fn create(
    client: &Client,
    name: &str,
    driver: &str,
    options: HashMap<String, String>,
    labels: &[(&str, String)],
    ipam: IpamConfig,
    hint: &str,
) -> Result<()> {
    let req = NetworkCreateRequest {
        name: name.to_owned(),
        driver: Some(driver.to_owned()),
        options: Some(options),
        labels: Some(
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        ),
        ipam: Some(Ipam {
            config: Some(vec![ipam]),
            ..Default::default()
        }),
        ..Default::default()
    };
    client.create_network(req).map_err(|e| {
        Failure::new(
            ExitStatus::Failure,
            format!("cannot create network `{name}`: {e}"),
        )
        .hint(hint)
        .into()
    })
}

/// The project's own bridge network, on the subnet and bridge name `net` says. One that
/// exists on another bridge (made before the fence) is an error: the fence would miss it.
///
/// Podman's Docker API does not report a network's bridge name back, so tmpl labels the
/// network with it (`tmpl.bridge`) when it makes one.
pub fn ensure_own(client: &Client, name: &str, net: &GuestNet, slug: &str) -> Result<()> {
    if let Some(info) = client.inspect_network(name)? {
        let bridge = info
            .labels
            .as_ref()
            .and_then(|l| l.get(LABEL_BRIDGE))
            .cloned()
            .unwrap_or_default();
        if bridge == net.bridge {
            return Ok(());
        }
        return Err(Failure::new(
            ExitStatus::Failure,
            format!(
                "network `{name}` is not on the bridge the fence holds (`{}`)",
                net.bridge
            ),
        )
        .hint("it was made by an older tmpl: `tmpl rm` then `tmpl up` makes the guest anew, fenced")
        .into());
    }
    let options = HashMap::from([(BRIDGE_OPTION.to_owned(), net.bridge.clone())]);
    let labels = [
        (LABEL_PROJECT, slug.to_owned()),
        (LABEL_BRIDGE, net.bridge.clone()),
    ];
    let ipam = IpamConfig {
        subnet: Some(net.subnet.to_string()),
        gateway: Some(net.gateway().to_string()),
        ..Default::default()
    };
    let hint = format!(
        "another network may use {}: `podman network ls`, `ip route`",
        net.subnet
    );
    create(client, name, "bridge", options, &labels, ipam, &hint)
}

/// Podman's name for the bridge's interface in Docker's API (`network_interface` inside).
const BRIDGE_OPTION: &str = "com.docker.network.bridge.name";
/// The bridge tmpl asked for, as a label: Podman's API answers with no options.
const LABEL_BRIDGE: &str = "tmpl.bridge";

pub fn connect(client: &Client, net: &ExtraNetwork, container: &str) -> Result<()> {
    let endpoint = EndpointSettings {
        ipam_config: net.ip.map(|ip| EndpointIpamConfig {
            ipv4_address: Some(ip.to_string()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let req = NetworkConnectRequest {
        container: container.to_owned(),
        endpoint_config: Some(endpoint),
    };
    client.connect_network(&net.name, req)
}

/// Removes the project's network when it exists and no container uses it. Returns its name
/// when removed.
pub fn remove_if_unused(client: &Client, name: &str) -> Result<Option<String>> {
    let Some(info) = client.inspect_network(name)? else {
        return Ok(None);
    };
    if info.containers.as_ref().is_some_and(|c| !c.is_empty()) {
        return Ok(None);
    }
    Ok(client
        .remove_network(name)?
        .then(|| format!("network {name}")))
}
