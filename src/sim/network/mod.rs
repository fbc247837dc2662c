//! Neutron v2.0 of the embedded cloud: networks, subnets (with IPAM), ports, routers
//! (gateways and interfaces), security groups and rules, quotas, tags, and Neutron's list
//! queries (filters, fields, sorting, paging links), with Neutron's exact error bodies.
//!
//! Besides its HTTP routes, it offers Nova the port plumbing a server needs
//! ([`NetworkData::attach_server_port`] and friends): Nova never touches ports directly.
//!
//! Layout: `model` (records, NeutronError, body readers), `ops` (visibility, ownership,
//! quotas, networks), `subnets` (subnets and their address rules), `ports` (ports and IPAM),
//! `l3` (routers), `secgroups`, `nova` (the server seam), `render` (JSON views, dispatch,
//! tags, quota views), `query` (list queries), `api` (axum routes), and `tests` of the data
//! layer (split by resource under `tests/`).

mod api;
mod error;
mod floating_ips;
mod l3;
mod model;
mod nova;
mod ops;
mod ports;
mod query;
mod rbac;
mod render;
mod secgroups;
mod subnets;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::sim::core::{JournalTable, Journaled, Record, Table};

use model::{Meta, Subnet};

pub use api::routes;

/// Neutron's whole database; records are keyed by id, so lists come out in id order, and
/// indexed by project (and subnets and ports by network, rules by group).
#[derive(Default, Serialize, Deserialize)]
pub struct NetworkData {
    networks: Table<model::Network>,
    subnets: Table<Subnet>,
    ports: Table<model::Port>,
    routers: Table<model::Router>,
    security_groups: Table<model::SecurityGroup>,
    rules: Table<model::SecurityGroupRule>,
    #[serde(default)]
    floating_ips: Table<model::FloatingIp>,
    /// Network RBAC policies, under their network.
    #[serde(default)]
    rbac_policies: Table<model::RbacPolicy>,
    /// Per-project overrides of the default quotas.
    quotas: BTreeMap<String, BTreeMap<String, i64>>,
    /// Last VXLAN VNI handed out.
    next_segmentation_id: i64,
}

macro_rules! neutron_record {
    ($type:ty $(, parent: $parent:ident)?) => {
        impl Record for $type {
            fn id(&self) -> &str {
                &self.meta.id
            }
            fn project_id(&self) -> &str {
                &self.meta.project_id
            }
            fn tags(&self) -> &[String] {
                &self.meta.tags
            }
            $(fn parent_id(&self) -> Option<&str> {
                Some(&self.$parent)
            })?
        }
    };
}

neutron_record!(model::Network);
neutron_record!(Subnet, parent: network_id);
neutron_record!(model::Port, parent: network_id);
neutron_record!(model::Router);
neutron_record!(model::SecurityGroup);
neutron_record!(model::SecurityGroupRule, parent: security_group_id);
neutron_record!(model::FloatingIp, parent: floating_network_id);
neutron_record!(model::RbacPolicy, parent: object_id);

impl Journaled for NetworkData {
    fn tables(&mut self) -> Vec<(&'static str, &mut dyn JournalTable)> {
        vec![
            ("networks", &mut self.networks),
            ("subnets", &mut self.subnets),
            ("ports", &mut self.ports),
            ("routers", &mut self.routers),
            ("security_groups", &mut self.security_groups),
            ("rules", &mut self.rules),
            ("floating_ips", &mut self.floating_ips),
            ("rbac_policies", &mut self.rbac_policies),
        ]
    }
    fn rest(&self) -> serde_json::Result<Vec<(&'static str, Vec<u8>)>> {
        Ok(vec![
            ("quotas", serde_json::to_vec(&self.quotas)?),
            (
                "next_segmentation_id",
                serde_json::to_vec(&self.next_segmentation_id)?,
            ),
        ])
    }
    fn replay_rest(&mut self, field: &str, value: serde_json::Value) -> serde_json::Result<()> {
        match field {
            "quotas" => self.quotas = serde_json::from_value(value)?,
            "next_segmentation_id" => self.next_segmentation_id = serde_json::from_value(value)?,
            _ => return Err(serde::de::Error::custom(format!("no field {field}"))),
        }
        Ok(())
    }
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
        self.set_network_external(&network_id, true);
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
            allocation_pools: subnets::default_pools(&cidr, Some(gateway)),
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
}
