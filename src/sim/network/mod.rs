//! Neutron v2.0 of the embedded cloud: networks, subnets (with IPAM), ports, routers
//! (gateways and interfaces), security groups and rules, quotas, tags, and Neutron's list
//! queries (filters, fields, sorting, paging links), with Neutron's exact error bodies.
//!
//! Besides its HTTP routes, it offers Nova the port plumbing a server needs
//! ([`NetworkData::attach_server_port`] and friends): Nova never touches ports directly.
//!
//! Layout: `model` (records, NeutronError, body readers), `ops` (networks, subnets, ports,
//! IPAM, quotas), `l3` (routers), `secgroups`, `render` (JSON views, dispatch, tags, quota
//! views), `query` (list queries), `api` (axum routes).

mod api;
mod l3;
mod model;
mod ops;
mod query;
mod render;
mod secgroups;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use model::{Actor, Meta, NeutronError, OWNER_COMPUTE, SIM_HOST, Subnet};
use ops::{IpRequest, NewPort};

pub use api::routes;

/// Neutron's whole database; records are keyed by id, so lists come out in id order.
#[derive(Default, Serialize, Deserialize)]
pub struct NetworkData {
    networks: BTreeMap<String, model::Network>,
    subnets: BTreeMap<String, Subnet>,
    ports: BTreeMap<String, model::Port>,
    routers: BTreeMap<String, model::Router>,
    security_groups: BTreeMap<String, model::SecurityGroup>,
    rules: BTreeMap<String, model::SecurityGroupRule>,
    /// Per-project overrides of the default quotas.
    quotas: BTreeMap<String, BTreeMap<String, i64>>,
    /// Last VXLAN VNI handed out.
    next_segmentation_id: i64,
}

/// How a server asks for its network (`networks` in POST /servers).
#[derive(Clone, Debug)]
pub enum ServerNic {
    /// `{"port": id}`: bind an existing, unbound port.
    Port(String),
    /// `{"uuid": network_id, "fixed_ip": ...}`: Nova creates a port on that network.
    Network {
        network_id: String,
        fixed_ip: Option<String>,
    },
}

/// Why a NIC could not be set up; Nova turns these into its own faults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NicError {
    PortNotFound(String),
    PortInUse(String),
    NetworkNotFound(String),
    NetworkRequiresSubnet(String),
    SecurityGroupNotFound(String),
    NoMoreFixedIps(String),
    FixedIpInvalid(String),
    OverQuota(String),
}

pub const PUBLIC_NETWORK: &str = "public";
pub const PUBLIC_SUBNET: &str = "public-subnet";

impl NetworkData {
    /// Pre-creates devstack's external network `public` (flat, MTU 1500, owned by the admin
    /// project) with `public-subnet` 172.24.4.0/24 (gateway .1, no DHCP, as devstack makes
    /// it). Does nothing when it exists.
    pub fn seed(&mut self, admin_project_id: &str) {
        if self
            .networks
            .values()
            .any(|n| n.external && n.meta.name == PUBLIC_NETWORK)
        {
            return;
        }
        let network = model::Network {
            meta: Meta::new(
                admin_project_id,
                PUBLIC_NETWORK.into(),
                String::new(),
                Vec::new(),
            ),
            admin_state_up: true,
            shared: false,
            external: true,
            mtu: ops::PHYSICAL_MTU,
            port_security_enabled: true,
            network_type: "flat".into(),
            physical_network: Some("public".into()),
            segmentation_id: None,
            is_default: true,
            availability_zone_hints: Vec::new(),
            subnets: Vec::new(),
        };
        let network_id = network.meta.id.clone();
        self.networks.insert(network_id.clone(), network);
        let cidr: ipnet::IpNet = ipnet::IpNet::V4(
            ipnet::Ipv4Net::new(std::net::Ipv4Addr::new(172, 24, 4, 0), 24).unwrap_or_default(),
        );
        let gateway = std::net::IpAddr::V4(std::net::Ipv4Addr::new(172, 24, 4, 1));
        let subnet = Subnet {
            meta: Meta::new(
                admin_project_id,
                PUBLIC_SUBNET.into(),
                String::new(),
                Vec::new(),
            ),
            network_id: network_id.clone(),
            ip_version: 4,
            cidr,
            gateway_ip: Some(gateway),
            allocation_pools: ops::default_pools(&cidr, Some(gateway)),
            enable_dhcp: false,
            dns_nameservers: Vec::new(),
            host_routes: Vec::new(),
            ipv6_address_mode: None,
            ipv6_ra_mode: None,
        };
        let subnet_id = subnet.meta.id.clone();
        self.subnets.insert(subnet_id.clone(), subnet);
        if let Some(net) = self.networks.get_mut(&network_id) {
            net.subnets.push(subnet_id);
        }
    }

    /// Creates (or binds) the port for `server_id` in `project_id`, with device_owner
    /// "compute:nova" and the given security groups (names or ids; empty = the project's
    /// "default" group, created on first use as Neutron does). Returns the port id.
    pub fn attach_server_port(
        &mut self,
        project_id: &str,
        nic: &ServerNic,
        server_id: &str,
        security_groups: &[String],
    ) -> Result<String, NicError> {
        let actor = Actor {
            project_id: project_id.to_string(),
            admin: false,
        };
        match nic {
            ServerNic::Port(port_id) => {
                let port = self
                    .port(&actor, port_id)
                    .map_err(|_| NicError::PortNotFound(port_id.clone()))?;
                if !port.device_id.is_empty() {
                    return Err(NicError::PortInUse(port_id.clone()));
                }
                if let Some(port) = self.ports.get_mut(port_id) {
                    port.device_id = server_id.to_string();
                    port.device_owner = OWNER_COMPUTE.to_string();
                    port.binding_host_id = SIM_HOST.to_string();
                    port.meta.touch();
                }
                Ok(port_id.clone())
            }
            ServerNic::Network {
                network_id,
                fixed_ip,
            } => {
                let network = self
                    .network(&actor, network_id)
                    .map_err(|_| NicError::NetworkNotFound(network_id.clone()))?;
                if network.meta.project_id != project_id && !network.shared {
                    return Err(NicError::NetworkNotFound(network_id.clone()));
                }
                if network.subnets.is_empty() {
                    return Err(NicError::NetworkRequiresSubnet(network_id.clone()));
                }
                let groups = if security_groups.is_empty() {
                    vec![self.ensure_default_security_group(project_id)]
                } else {
                    self.ensure_default_security_group(project_id);
                    security_groups
                        .iter()
                        .map(|wanted| self.resolve_group_ref(project_id, wanted))
                        .collect::<Result<Vec<String>, NicError>>()?
                };
                let fixed_ips = match fixed_ip {
                    None => None,
                    Some(text) => {
                        let ip = text
                            .parse()
                            .map_err(|_| NicError::FixedIpInvalid(text.clone()))?;
                        Some(vec![IpRequest {
                            subnet_id: None,
                            ip_address: Some(ip),
                        }])
                    }
                };
                self.check_quota(project_id, "port", 1)
                    .map_err(|e| NicError::OverQuota(e.message))?;
                let mut spec = NewPort::new(project_id, network_id);
                spec.device_id = server_id.to_string();
                spec.device_owner = OWNER_COMPUTE.to_string();
                spec.binding_host_id = SIM_HOST.to_string();
                spec.security_groups = Some(groups);
                spec.fixed_ips = fixed_ips;
                spec.created_by_nova = true;
                self.insert_port(spec)
                    .map_err(|e| nic_error(e, network_id, fixed_ip))
            }
        }
    }

    /// A group named by id, or by unique name within the project (as Nova resolves them).
    fn resolve_group_ref(&self, project_id: &str, wanted: &str) -> Result<String, NicError> {
        let own = || {
            self.security_groups
                .values()
                .filter(|g| g.meta.project_id == project_id)
        };
        if let Some(group) = own().find(|g| g.meta.id == wanted) {
            return Ok(group.meta.id.clone());
        }
        let named: Vec<&model::SecurityGroup> = own().filter(|g| g.meta.name == wanted).collect();
        match named.as_slice() {
            [only] => Ok(only.meta.id.clone()),
            _ => Err(NicError::SecurityGroupNotFound(wanted.to_string())),
        }
    }

    /// On server delete: deletes the ports Nova created, unbinds pre-created ones
    /// (device_id and device_owner cleared), as Nova does.
    pub fn detach_server_ports(&mut self, server_id: &str) {
        self.ports
            .retain(|_, p| !(p.device_id == server_id && p.created_by_nova));
        for port in self.ports.values_mut() {
            if port.device_id == server_id && port.device_owner == OWNER_COMPUTE {
                port.device_id.clear();
                port.device_owner.clear();
                port.binding_host_id.clear();
                port.meta.touch();
            }
        }
    }

    fn server_ports(&self, server_id: &str) -> Vec<&model::Port> {
        let mut ports: Vec<&model::Port> = self
            .ports
            .values()
            .filter(|p| p.device_id == server_id && p.device_owner == OWNER_COMPUTE)
            .collect();
        ports.sort_by(|a, b| {
            (&a.meta.created_at, &a.meta.id).cmp(&(&b.meta.created_at, &b.meta.id))
        });
        ports
    }

    /// Nova's `addresses` object for a server:
    /// {"<network name>": [{"version": 4, "addr": "...", "OS-EXT-IPS:type": "fixed",
    ///   "OS-EXT-IPS-MAC:mac_addr": "..."}]}
    pub fn server_addresses(&self, server_id: &str) -> Value {
        let mut out: Map<String, Value> = Map::new();
        for port in self.server_ports(server_id) {
            let Some(network) = self.networks.get(&port.network_id) else {
                continue;
            };
            let entry = out
                .entry(network.meta.name.clone())
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(list) = entry {
                for ip in &port.fixed_ips {
                    list.push(json!({
                        "version": if ip.ip_address.is_ipv4() { 4 } else { 6 },
                        "addr": ip.ip_address.to_string(),
                        "OS-EXT-IPS:type": "fixed",
                        "OS-EXT-IPS-MAC:mac_addr": port.mac_address,
                    }));
                }
            }
        }
        Value::Object(out)
    }

    /// Names of the security groups on the server's ports (Nova's `security_groups`).
    pub fn server_security_groups(&self, server_id: &str) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for port in self.server_ports(server_id) {
            for group_id in &port.security_groups {
                if let Some(group) = self.security_groups.get(group_id)
                    && !names.contains(&group.meta.name)
                {
                    names.push(group.meta.name.clone());
                }
            }
        }
        names
    }

    /// The networks a project may boot on when it does not name one (`networks: "auto"`):
    /// its own, and shared ones, not external.
    pub fn bootable_networks(&self, project_id: &str) -> Vec<String> {
        self.networks
            .values()
            .filter(|n| !n.external && (n.meta.project_id == project_id || n.shared))
            .map(|n| n.meta.id.clone())
            .collect()
    }
}

/// Maps an IPAM failure of a Nova-requested port onto Nova's vocabulary.
fn nic_error(error: NeutronError, network_id: &str, fixed_ip: &Option<String>) -> NicError {
    match error.kind {
        "IpAddressGenerationFailure" => NicError::NoMoreFixedIps(network_id.to_string()),
        "NetworkNotFound" => NicError::NetworkNotFound(network_id.to_string()),
        "OverQuota" => NicError::OverQuota(error.message),
        _ => NicError::FixedIpInvalid(fixed_ip.clone().unwrap_or(error.message)),
    }
}
