//! The data layer for networks, subnets and ports: visibility, ownership, quotas, IP address
//! management (pools, allocation), and the in-use rules that make deletes fail with 409.

use std::collections::BTreeSet;
use std::net::IpAddr;

use axum::http::StatusCode;
use ipnet::IpNet;
use serde_json::{Map, Value};

use super::NetworkData;
use super::model::*;

/// Neutron's defaults from neutron.conf [quotas] as this cloud sets them.
pub const QUOTA_DEFAULTS: [(&str, i64); 10] = [
    ("floatingip", 50),
    ("network", 100),
    ("port", 500),
    ("rbac_policy", 10),
    ("router", 10),
    ("router_route", 30),
    ("security_group", 10),
    ("security_group_rule", 100),
    ("subnet", 100),
    ("subnetpool", -1),
];

/// MTU of tenant (VXLAN) networks under ML2/OVS with a 1500 physical MTU.
pub const TENANT_MTU: i64 = 1450;
/// MTU of flat provider networks.
pub const PHYSICAL_MTU: i64 = 1500;

/// One entry of a port's requested `fixed_ips`.
#[derive(Clone, Debug, Default)]
pub struct IpRequest {
    pub subnet_id: Option<String>,
    pub ip_address: Option<IpAddr>,
}

/// Everything needed to create a port, from the API, Nova, or the L3 code.
#[derive(Clone, Debug)]
pub struct NewPort {
    pub project_id: String,
    pub network_id: String,
    pub name: String,
    pub description: String,
    pub admin_state_up: bool,
    pub mac_address: Option<String>,
    /// None: allocate one address per IP version; Some(empty): no address.
    pub fixed_ips: Option<Vec<IpRequest>>,
    pub device_id: String,
    pub device_owner: String,
    /// Resolved group ids; None = the project's default group (for non-network:* owners).
    pub security_groups: Option<Vec<String>>,
    pub port_security_enabled: Option<bool>,
    pub binding_host_id: String,
    pub binding_vnic_type: String,
    pub binding_profile: Value,
    pub tags: Vec<String>,
    pub created_by_nova: bool,
}

impl NewPort {
    pub fn new(project_id: &str, network_id: &str) -> Self {
        NewPort {
            project_id: project_id.to_string(),
            network_id: network_id.to_string(),
            name: String::new(),
            description: String::new(),
            admin_state_up: true,
            mac_address: None,
            fixed_ips: None,
            device_id: String::new(),
            device_owner: String::new(),
            security_groups: None,
            port_security_enabled: None,
            binding_host_id: String::new(),
            binding_vnic_type: "normal".into(),
            binding_profile: Value::Object(Map::new()),
            tags: Vec::new(),
            created_by_nova: false,
        }
    }
}

pub fn ip_to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

pub fn u128_to_ip(value: u128, v4: bool) -> IpAddr {
    if v4 {
        // Values of IPv4 subnets never exceed u32::MAX.
        IpAddr::V4(std::net::Ipv4Addr::from(value as u32))
    } else {
        IpAddr::V6(std::net::Ipv6Addr::from(value))
    }
}

/// Neutron's `ipam.utils.generate_pools`: every host of the CIDR (no network address, no
/// IPv4 broadcast) minus the gateway.
pub fn default_pools(cidr: &IpNet, gateway: Option<IpAddr>) -> Vec<Pool> {
    let v4 = matches!(cidr, IpNet::V4(_));
    let first = ip_to_u128(cidr.network());
    let last = ip_to_u128(cidr.broadcast());
    if first == last {
        let only = u128_to_ip(first, v4);
        return vec![Pool {
            start: only,
            end: only,
        }];
    }
    let first_host = first + 1;
    let last_host = if v4 { last - 1 } else { last };
    if first_host >= last_host {
        return Vec::new();
    }
    let mut ranges = vec![(first_host, last_host)];
    if let Some(gw) = gateway {
        let gw = ip_to_u128(gw);
        ranges = ranges
            .into_iter()
            .flat_map(|(start, end)| {
                if gw < start || gw > end {
                    vec![(start, end)]
                } else {
                    let mut parts = Vec::new();
                    if gw > start {
                        parts.push((start, gw - 1));
                    }
                    if gw < end {
                        parts.push((gw + 1, end));
                    }
                    parts
                }
            })
            .collect();
    }
    ranges
        .into_iter()
        .map(|(s, e)| Pool {
            start: u128_to_ip(s, v4),
            end: u128_to_ip(e, v4),
        })
        .collect()
}

/// Parses a CIDR as Neutron's `validate_subnet` does, then normalizes it.
///
/// Neutron accepts host bits (`10.0.0.5/24` passes its validator, as netaddr prints it back
/// unchanged) and its IPAM stores the network address, so we store `10.0.0.0/24` too.
/// A value without a prefix length is refused with Neutron's "is recommended" message.
pub fn parse_cidr(attr: &str, text: &str) -> NResult<IpNet> {
    if text.trim() != text || text.is_empty() {
        return Err(NeutronError::invalid_attr(
            attr,
            format!("'{text}' is not a valid IP subnet"),
        ));
    }
    if !text.contains('/') {
        return match text.parse::<IpAddr>() {
            Ok(ip) => {
                let bits = if ip.is_ipv4() { 32 } else { 128 };
                Err(NeutronError::invalid_attr(
                    attr,
                    format!(
                        "'{text}' isn't a recognized IP subnet cidr, '{ip}/{bits}' is recommended"
                    ),
                ))
            }
            Err(_) => Err(NeutronError::invalid_attr(
                attr,
                format!("'{text}' is not a valid IP subnet"),
            )),
        };
    }
    text.parse::<IpNet>().map(|net| net.trunc()).map_err(|_| {
        if attr == "cidr" {
            // A subnet's cidr with a slash gets past the API validator and is refused by the
            // plugin's netaddr parse.
            NeutronError::invalid_input(format!("{text} is not in a CIDR format"))
        } else {
            NeutronError::invalid_attr(attr, format!("'{text}' is not a valid IP subnet"))
        }
    })
}

pub fn parse_ip(attr: &str, text: &str) -> NResult<IpAddr> {
    text.parse::<IpAddr>().map_err(|_| {
        NeutronError::invalid_attr(attr, format!("'{text}' is not a valid IP address"))
    })
}

fn ip_family(ip: &IpAddr) -> u8 {
    if ip.is_ipv4() { 4 } else { 6 }
}

fn net_version(net: &IpNet) -> u8 {
    if matches!(net, IpNet::V4(_)) { 4 } else { 6 }
}

/// Generates a MAC with OpenStack's base `fa:16:3e`.
fn random_mac() -> String {
    let bytes = uuid::Uuid::new_v4();
    let b = bytes.as_bytes();
    format!("fa:16:3e:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2])
}

fn valid_mac(text: &str) -> bool {
    let parts: Vec<&str> = text.split(':').collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// The project a created resource belongs to: the caller's, or another one for admins.
pub fn owner(actor: &Actor, body: &Map<String, Value>) -> NResult<String> {
    let project = get_str(body, "project_id", 255)?;
    let tenant = get_str(body, "tenant_id", 255)?;
    let requested = match (project, tenant) {
        (Some(p), Some(t)) if p != t => {
            return Err(NeutronError::bad_request(
                "'project_id' and 'tenant_id' do not match",
            ));
        }
        (Some(p), _) | (None, Some(p)) => Some(p),
        (None, None) => None,
    };
    match requested {
        Some(p) if p != actor.project_id && !actor.admin => Err(NeutronError::bad_request(
            "Specifying 'project_id' or 'tenant_id' other than the authenticated project in \
             request requires admin privileges",
        )),
        Some(p) => Ok(p),
        None => Ok(actor.project_id.clone()),
    }
}

/// Non-admins may only change what their project owns; a visible foreign resource (a shared
/// network) is refused by policy.
pub fn ensure_owner(actor: &Actor, project_id: &str, rule: &str) -> NResult<()> {
    if actor.admin || actor.project_id == project_id {
        Ok(())
    } else {
        Err(NeutronError::policy(rule))
    }
}

fn read_fixed_ips(body: &Map<String, Value>) -> NResult<Option<Vec<IpRequest>>> {
    let Some(value) = body.get("fixed_ips") else {
        return Ok(None);
    };
    let invalid = |reason: String| NeutronError::invalid_attr("fixed_ips", reason);
    let items = value
        .as_array()
        .ok_or_else(|| invalid(format!("{} is not a list", py(value))))?;
    let mut out = Vec::new();
    for item in items {
        let entry = item
            .as_object()
            .ok_or_else(|| invalid(format!("{} is not a dictionary", py(item))))?;
        let extra: Vec<&str> = entry
            .keys()
            .map(String::as_str)
            .filter(|k| *k != "subnet_id" && *k != "ip_address")
            .collect();
        if !extra.is_empty() {
            return Err(invalid(format!(
                "Unrecognized attribute(s) '{}'",
                extra.join(", ")
            )));
        }
        let subnet_id = get_str(entry, "subnet_id", 255)?;
        let ip_address = match get_str(entry, "ip_address", 255)? {
            Some(text) => Some(parse_ip("fixed_ips", &text)?),
            None => None,
        };
        out.push(IpRequest {
            subnet_id,
            ip_address,
        });
    }
    Ok(Some(out))
}

impl NetworkData {
    // ---- visibility -------------------------------------------------------------------

    pub fn network_visible(&self, net: &Network, actor: &Actor) -> bool {
        actor.admin || net.meta.project_id == actor.project_id || net.shared || net.external
    }

    pub fn subnet_visible(&self, subnet: &Subnet, actor: &Actor) -> bool {
        actor.admin
            || subnet.meta.project_id == actor.project_id
            || self
                .networks
                .get(&subnet.network_id)
                .is_some_and(|n| n.shared || n.external)
    }

    pub fn port_visible(&self, port: &Port, actor: &Actor) -> bool {
        actor.admin
            || port.meta.project_id == actor.project_id
            || self
                .networks
                .get(&port.network_id)
                .is_some_and(|n| n.meta.project_id == actor.project_id)
    }

    pub fn network(&self, actor: &Actor, id: &str) -> NResult<&Network> {
        self.networks
            .get(id)
            .filter(|n| self.network_visible(n, actor))
            .ok_or_else(|| Kind::Network.not_found(id))
    }

    pub fn subnet(&self, actor: &Actor, id: &str) -> NResult<&Subnet> {
        self.subnets
            .get(id)
            .filter(|s| self.subnet_visible(s, actor))
            .ok_or_else(|| Kind::Subnet.not_found(id))
    }

    pub fn port(&self, actor: &Actor, id: &str) -> NResult<&Port> {
        self.ports
            .get(id)
            .filter(|p| self.port_visible(p, actor))
            .ok_or_else(|| Kind::Port.not_found(id))
    }

    // ---- quotas -----------------------------------------------------------------------

    pub fn quota_limit(&self, project_id: &str, resource: &str) -> i64 {
        self.quotas
            .get(project_id)
            .and_then(|q| q.get(resource))
            .copied()
            .or_else(|| {
                QUOTA_DEFAULTS
                    .iter()
                    .find(|(name, _)| *name == resource)
                    .map(|(_, limit)| *limit)
            })
            .unwrap_or(-1)
    }

    pub fn quota_used(&self, project_id: &str, resource: &str) -> i64 {
        let count = match resource {
            "network" => self
                .networks
                .values()
                .filter(|n| n.meta.project_id == project_id)
                .count(),
            "subnet" => self
                .subnets
                .values()
                .filter(|s| s.meta.project_id == project_id)
                .count(),
            "port" => self
                .ports
                .values()
                .filter(|p| p.meta.project_id == project_id)
                .count(),
            "router" => self
                .routers
                .values()
                .filter(|r| r.meta.project_id == project_id)
                .count(),
            "security_group" => self
                .security_groups
                .values()
                .filter(|g| g.meta.project_id == project_id)
                .count(),
            "security_group_rule" => self
                .rules
                .values()
                .filter(|r| r.meta.project_id == project_id)
                .count(),
            _ => 0,
        };
        i64::try_from(count).unwrap_or(i64::MAX)
    }

    /// Refuses one more `resource` for the project when it would exceed its limit
    /// (-1 = unlimited), with Neutron's OverQuota (409).
    pub fn check_quota(&self, project_id: &str, resource: &str, adding: i64) -> NResult<()> {
        let limit = self.quota_limit(project_id, resource);
        if limit >= 0 && self.quota_used(project_id, resource) + adding > limit {
            return Err(NeutronError::conflict(
                "OverQuota",
                format!("Quota exceeded for resources: ['{resource}']."),
            ));
        }
        Ok(())
    }

    // ---- networks ---------------------------------------------------------------------

    pub fn create_network(&mut self, actor: &Actor, body: &Map<String, Value>) -> NResult<String> {
        let project = owner(actor, body)?;
        let name = get_str(body, "name", 255)?.unwrap_or_default();
        let description = get_str(body, "description", 255)?.unwrap_or_default();
        let admin_state_up = get_bool(body, "admin_state_up")?.unwrap_or(true);
        let shared = get_bool(body, "shared")?.unwrap_or(false);
        let external = get_bool(body, "router:external")?.unwrap_or(false);
        let is_default = get_bool(body, "is_default")?.unwrap_or(false);
        let port_security_enabled = get_bool(body, "port_security_enabled")?.unwrap_or(true);
        let hints = get_str_list(body, "availability_zone_hints")?.unwrap_or_default();
        let tags = validate_tags(&get_str_list(body, "tags")?.unwrap_or_default())?;
        if !actor.admin {
            for (attr, set) in [
                ("shared", shared),
                ("router:external", external),
                ("is_default", is_default),
                (
                    "provider:network_type",
                    body.contains_key("provider:network_type"),
                ),
                (
                    "provider:physical_network",
                    body.contains_key("provider:physical_network"),
                ),
                (
                    "provider:segmentation_id",
                    body.contains_key("provider:segmentation_id"),
                ),
            ] {
                if set {
                    return Err(NeutronError::policy(&format!("create_network:{attr}")));
                }
            }
        }
        let network_type =
            get_str(body, "provider:network_type", 255)?.unwrap_or_else(|| "vxlan".into());
        let physical_network = get_nullable_str(body, "provider:physical_network")?.flatten();
        let max_mtu = match network_type.as_str() {
            "vxlan" => TENANT_MTU,
            "flat" | "vlan" => PHYSICAL_MTU,
            "geneve" => 1442,
            "local" => 9000,
            other => {
                return Err(NeutronError::invalid_input(format!(
                    "network_type value '{other}' not supported"
                )));
            }
        };
        if network_type != "vxlan"
            && network_type != "geneve"
            && physical_network.is_none()
            && network_type != "local"
        {
            return Err(NeutronError::invalid_input(format!(
                "physical_network required for {network_type} provider network"
            )));
        }
        let segmentation_id = match get_int(body, "provider:segmentation_id")?.flatten() {
            Some(id) => Some(id),
            None if network_type == "vxlan" || network_type == "geneve" => {
                self.next_segmentation_id += 1;
                Some(self.next_segmentation_id)
            }
            None => None,
        };
        let mtu = match get_int(body, "mtu")?.flatten() {
            Some(mtu) => validate_mtu(mtu, max_mtu)?,
            None => max_mtu,
        };
        self.check_quota(&project, "network", 1)?;
        let network = Network {
            meta: Meta::new(&project, name, description, tags),
            admin_state_up,
            shared,
            external,
            mtu,
            port_security_enabled,
            network_type,
            physical_network,
            segmentation_id,
            is_default,
            availability_zone_hints: hints,
            subnets: Vec::new(),
        };
        let id = network.meta.id.clone();
        self.networks.insert(id.clone(), network);
        Ok(id)
    }

    pub fn update_network(
        &mut self,
        actor: &Actor,
        id: &str,
        body: &Map<String, Value>,
    ) -> NResult<()> {
        let net = self.network(actor, id)?.clone();
        ensure_owner(actor, &net.meta.project_id, "update_network")?;
        let mut updated = net.clone();
        if let Some(name) = get_str(body, "name", 255)? {
            updated.meta.name = name;
        }
        if let Some(description) = get_str(body, "description", 255)? {
            updated.meta.description = description;
        }
        if let Some(up) = get_bool(body, "admin_state_up")? {
            updated.admin_state_up = up;
        }
        if let Some(pse) = get_bool(body, "port_security_enabled")? {
            updated.port_security_enabled = pse;
        }
        for (attr, value) in [
            ("shared", get_bool(body, "shared")?),
            ("router:external", get_bool(body, "router:external")?),
            ("is_default", get_bool(body, "is_default")?),
        ] {
            let Some(value) = value else { continue };
            if !actor.admin {
                return Err(NeutronError::policy(&format!("update_network:{attr}")));
            }
            match attr {
                "shared" => {
                    if net.shared && !value && self.foreign_ports_on(&net) {
                        return Err(NeutronError::conflict(
                            "InvalidSharedSetting",
                            format!(
                                "Unable to reconfigure sharing settings for network {id}. \
                                 Multiple tenants are using it."
                            ),
                        ));
                    }
                    updated.shared = value;
                }
                "router:external" => {
                    if net.external && !value && self.has_gateway_ports(id) {
                        return Err(NeutronError::conflict(
                            "ExternalNetworkInUse",
                            format!(
                                "External network {id} cannot be updated to be made \
                                 non-external, since it has existing gateway ports."
                            ),
                        ));
                    }
                    updated.external = value;
                }
                _ => updated.is_default = value,
            }
        }
        if let Some(mtu) = get_int(body, "mtu")?.flatten() {
            let max = if net.network_type == "vxlan" {
                TENANT_MTU
            } else {
                PHYSICAL_MTU
            };
            updated.mtu = validate_mtu(mtu, max)?;
        }
        updated.meta.touch();
        self.networks.insert(id.to_string(), updated);
        Ok(())
    }

    fn foreign_ports_on(&self, net: &Network) -> bool {
        self.ports.values().any(|p| {
            p.network_id == net.meta.id
                && !p.meta.project_id.is_empty()
                && p.meta.project_id != net.meta.project_id
        })
    }

    fn has_gateway_ports(&self, network_id: &str) -> bool {
        self.ports
            .values()
            .any(|p| p.network_id == network_id && p.device_owner == OWNER_ROUTER_GATEWAY)
    }

    pub fn delete_network(&mut self, actor: &Actor, id: &str) -> NResult<()> {
        let net = self.network(actor, id)?;
        ensure_owner(actor, &net.meta.project_id, "delete_network")?;
        let in_use = self
            .ports
            .values()
            .any(|p| p.network_id == id && p.device_owner != OWNER_DHCP);
        if in_use {
            return Err(NeutronError::conflict(
                "NetworkInUse",
                format!(
                    "Unable to complete operation on network {id}. There are one or more \
                     ports still in use on the network."
                ),
            ));
        }
        self.ports.retain(|_, p| p.network_id != id);
        self.subnets.retain(|_, s| s.network_id != id);
        self.networks.remove(id);
        Ok(())
    }

    // ---- subnets ----------------------------------------------------------------------

    pub fn create_subnet(&mut self, actor: &Actor, body: &Map<String, Value>) -> NResult<String> {
        let network_id = match required(body, "network_id")? {
            Value::String(s) => s.clone(),
            other => {
                return Err(NeutronError::invalid_attr(
                    "network_id",
                    format!("{} is not a valid UUID", py(other)),
                ));
            }
        };
        let ip_version = match required(body, "ip_version")? {
            Value::Number(n) if n.as_i64() == Some(4) => 4u8,
            Value::Number(n) if n.as_i64() == Some(6) => 6u8,
            Value::String(s) if s == "4" => 4,
            Value::String(s) if s == "6" => 6,
            other => {
                return Err(NeutronError::invalid_attr(
                    "ip_version",
                    format!("{} is not in [4, 6]", py(other)),
                ));
            }
        };
        let cidr_text = match required(body, "cidr")? {
            Value::String(s) => s.clone(),
            other => {
                return Err(NeutronError::invalid_attr(
                    "cidr",
                    format!("{} is not a valid IP subnet", py(other)),
                ));
            }
        };
        let cidr = parse_cidr("cidr", &cidr_text)?;
        let project = owner(actor, body)?;
        let name = get_str(body, "name", 255)?.unwrap_or_default();
        let description = get_str(body, "description", 255)?.unwrap_or_default();
        let enable_dhcp = get_bool(body, "enable_dhcp")?.unwrap_or(true);
        let tags = validate_tags(&get_str_list(body, "tags")?.unwrap_or_default())?;
        let network = self.network(actor, &network_id)?;
        if !actor.admin && network.meta.project_id != project {
            return Err(NeutronError::policy("create_subnet"));
        }
        if net_version(&cidr) != ip_version {
            return Err(NeutronError::invalid_input(format!(
                "cidr '{cidr_text}' does not match the ip_version '{ip_version}'"
            )));
        }
        if cidr.prefix_len() == 0 {
            return Err(NeutronError::invalid_input(
                "0 is not allowed as CIDR prefix length",
            ));
        }
        for other in network.subnets.iter().filter_map(|s| self.subnets.get(s)) {
            if other.cidr.contains(&cidr.network()) || cidr.contains(&other.cidr.network()) {
                return Err(NeutronError::invalid_input(format!(
                    "Requested subnet with cidr: {cidr} for network: {network_id} overlaps \
                     with another subnet"
                )));
            }
        }
        let gateway_ip = match get_nullable_str(body, "gateway_ip")? {
            None => default_pools(&cidr, None).first().map(|p| p.start),
            Some(None) => None,
            Some(Some(text)) => Some(validate_gateway(&cidr, &text, ip_version)?),
        };
        let allocation_pools = match body.get("allocation_pools") {
            None => default_pools(&cidr, gateway_ip),
            Some(value) => read_pools(value, &cidr, gateway_ip)?,
        };
        let dns_nameservers = read_nameservers(body)?.unwrap_or_default();
        let host_routes = read_host_routes(body)?.unwrap_or_default();
        let ipv6_address_mode = read_ipv6_mode(body, "ipv6_address_mode", ip_version)?;
        let ipv6_ra_mode = read_ipv6_mode(body, "ipv6_ra_mode", ip_version)?;
        self.check_quota(&project, "subnet", 1)?;
        let subnet = Subnet {
            meta: Meta::new(&project, name, description, tags),
            network_id: network_id.clone(),
            ip_version,
            cidr,
            gateway_ip,
            allocation_pools,
            enable_dhcp,
            dns_nameservers,
            host_routes,
            ipv6_address_mode,
            ipv6_ra_mode,
        };
        let id = subnet.meta.id.clone();
        self.subnets.insert(id.clone(), subnet);
        if let Some(net) = self.networks.get_mut(&network_id) {
            // A subnet is part of its network's revision, as in Neutron.
            net.subnets.push(id.clone());
            net.meta.touch();
        }
        Ok(id)
    }

    pub fn update_subnet(
        &mut self,
        actor: &Actor,
        id: &str,
        body: &Map<String, Value>,
    ) -> NResult<()> {
        let mut subnet = self.subnet(actor, id)?.clone();
        ensure_owner(actor, &subnet.meta.project_id, "update_subnet")?;
        if let Some(name) = get_str(body, "name", 255)? {
            subnet.meta.name = name;
        }
        if let Some(description) = get_str(body, "description", 255)? {
            subnet.meta.description = description;
        }
        if let Some(dhcp) = get_bool(body, "enable_dhcp")? {
            subnet.enable_dhcp = dhcp;
        }
        if let Some(dns) = read_nameservers(body)? {
            subnet.dns_nameservers = dns;
        }
        if let Some(routes) = read_host_routes(body)? {
            subnet.host_routes = routes;
        }
        let gateway = match get_nullable_str(body, "gateway_ip")? {
            None => subnet.gateway_ip,
            Some(None) => None,
            Some(Some(text)) => Some(validate_gateway(&subnet.cidr, &text, subnet.ip_version)?),
        };
        if gateway != subnet.gateway_ip
            && let Some(old) = subnet.gateway_ip
            && let Some(port) = self.ports.values().find(|p| {
                p.device_owner == OWNER_ROUTER_INTERFACE
                    && p.fixed_ips
                        .iter()
                        .any(|ip| ip.subnet_id == id && ip.ip_address == old)
            })
        {
            // Neutron's GatewayIpInUse: a router interface holds the current gateway.
            return Err(NeutronError::conflict(
                "GatewayIpInUse",
                format!(
                    "Current gateway ip {old} already in use by port {}. Unable to update.",
                    port.meta.id
                ),
            ));
        }
        if let Some(value) = body.get("allocation_pools") {
            subnet.allocation_pools = read_pools(value, &subnet.cidr, gateway)?;
        } else if let Some(gw) = gateway.filter(|_| gateway != subnet.gateway_ip) {
            // Neutron keeps the pools on a gateway change and refuses a gateway inside them.
            if let Some(pool) = subnet.allocation_pools.iter().find(|p| {
                ip_to_u128(p.start) <= ip_to_u128(gw) && ip_to_u128(gw) <= ip_to_u128(p.end)
            }) {
                return Err(NeutronError::conflict(
                    "GatewayConflictWithAllocationPools",
                    format!(
                        "Gateway ip {gw} conflicts with allocation pool {}-{}",
                        pool.start, pool.end
                    ),
                ));
            }
        }
        subnet.gateway_ip = gateway;
        subnet.meta.touch();
        self.subnets.insert(id.to_string(), subnet);
        Ok(())
    }

    pub fn delete_subnet(&mut self, actor: &Actor, id: &str) -> NResult<()> {
        let subnet = self.subnet(actor, id)?;
        ensure_owner(actor, &subnet.meta.project_id, "delete_subnet")?;
        let in_use = self.ports.values().any(|p| {
            p.device_owner != OWNER_DHCP && p.fixed_ips.iter().any(|ip| ip.subnet_id == id)
        });
        if in_use {
            return Err(NeutronError::conflict(
                "SubnetInUse",
                format!(
                    "Unable to complete operation on subnet {id}: One or more ports have an IP \
                     allocation from this subnet."
                ),
            ));
        }
        let network_id = subnet.network_id.clone();
        for port in self.ports.values_mut() {
            port.fixed_ips.retain(|ip| ip.subnet_id != id);
        }
        self.subnets.remove(id);
        if let Some(net) = self.networks.get_mut(&network_id) {
            net.subnets.retain(|s| s != id);
            net.meta.touch();
        }
        Ok(())
    }

    // ---- IP address management --------------------------------------------------------

    fn used_ips(&self, subnet_id: &str, exclude_port: Option<&str>) -> BTreeSet<u128> {
        self.ports
            .values()
            .filter(|p| Some(p.meta.id.as_str()) != exclude_port)
            .flat_map(|p| p.fixed_ips.iter())
            .filter(|ip| ip.subnet_id == subnet_id)
            .map(|ip| ip_to_u128(ip.ip_address))
            .collect()
    }

    /// The lowest free address of the subnet's pools. Neutron's IPAM picks among the first
    /// free ones at random; lowest-first keeps the embedded cloud deterministic.
    fn next_free(subnet: &Subnet, used: &BTreeSet<u128>) -> Option<IpAddr> {
        let v4 = subnet.ip_version == 4;
        subnet.allocation_pools.iter().find_map(|pool| {
            let mut candidate = ip_to_u128(pool.start);
            let end = ip_to_u128(pool.end);
            loop {
                if !used.contains(&candidate) {
                    return Some(u128_to_ip(candidate, v4));
                }
                if candidate >= end {
                    return None;
                }
                candidate += 1;
            }
        })
    }

    /// Allocates addresses for a port on `network_id` as Neutron's IPAM does: explicit
    /// addresses must lie in their subnet and be free; a subnet alone takes its next free
    /// address (or keeps the one in `keep`, on update); no request takes one IPv4 and one
    /// IPv6 address.
    pub fn allocate_ips(
        &self,
        network_id: &str,
        requests: Option<&[IpRequest]>,
        exclude_port: Option<&str>,
        keep: &[FixedIp],
    ) -> NResult<Vec<FixedIp>> {
        let net_subnets: Vec<&Subnet> = self
            .networks
            .get(network_id)
            .map(|n| {
                n.subnets
                    .iter()
                    .filter_map(|s| self.subnets.get(s))
                    .collect()
            })
            .unwrap_or_default();
        let mut chosen: Vec<FixedIp> = Vec::new();
        let used_with_chosen = |subnet_id: &str, chosen: &[FixedIp]| {
            let mut used = self.used_ips(subnet_id, exclude_port);
            used.extend(
                chosen
                    .iter()
                    .filter(|c| c.subnet_id == subnet_id)
                    .map(|c| ip_to_u128(c.ip_address)),
            );
            used
        };
        let Some(requests) = requests else {
            for version in [4u8, 6u8] {
                let candidates: Vec<&&Subnet> = net_subnets
                    .iter()
                    .filter(|s| s.ip_version == version)
                    .collect();
                if candidates.is_empty() {
                    continue;
                }
                let found = candidates.iter().find_map(|s| {
                    Self::next_free(s, &used_with_chosen(&s.meta.id, &chosen)).map(|ip| FixedIp {
                        subnet_id: s.meta.id.clone(),
                        ip_address: ip,
                    })
                });
                match found {
                    Some(ip) => chosen.push(ip),
                    None => {
                        return Err(NeutronError::conflict(
                            "IpAddressGenerationFailure",
                            format!("No more IP addresses available on network {network_id}."),
                        ));
                    }
                }
            }
            return Ok(chosen);
        };
        for request in requests {
            let subnet = match (&request.subnet_id, request.ip_address) {
                (Some(subnet_id), _) => net_subnets
                    .iter()
                    .find(|s| &s.meta.id == subnet_id)
                    .copied()
                    .ok_or_else(|| {
                        NeutronError::invalid_input(format!(
                            "Failed to create port on network {network_id}, because fixed_ips \
                             included invalid subnet {subnet_id}"
                        ))
                    })?,
                (None, Some(ip)) => net_subnets
                    .iter()
                    .find(|s| s.cidr.contains(&ip))
                    .copied()
                    .ok_or_else(|| {
                        NeutronError::new(
                            StatusCode::BAD_REQUEST,
                            "InvalidIpForNetwork",
                            format!(
                                "IP address {ip} is not a valid IP for any of the subnets on \
                                 the specified network."
                            ),
                        )
                    })?,
                (None, None) => {
                    return Err(NeutronError::invalid_attr(
                        "fixed_ips",
                        "Exactly one of 'subnet_id' or 'ip_address' is required",
                    ));
                }
            };
            let used = used_with_chosen(&subnet.meta.id, &chosen);
            let ip = match request.ip_address {
                Some(ip) => {
                    let is_host = subnet.cidr.contains(&ip)
                        && (subnet.cidr.prefix_len() >= subnet.cidr.max_prefix_len() - 1
                            || (ip != subnet.cidr.network()
                                && (subnet.ip_version == 6 || ip != subnet.cidr.broadcast())));
                    if !is_host {
                        return Err(NeutronError::new(
                            StatusCode::BAD_REQUEST,
                            "InvalidIpForSubnet",
                            format!("IP address {ip} is not a valid IP for the specified subnet."),
                        ));
                    }
                    if used.contains(&ip_to_u128(ip)) {
                        return Err(NeutronError::conflict(
                            "IpAddressAlreadyAllocated",
                            format!(
                                "IP address {ip} already allocated in subnet {}",
                                subnet.meta.id
                            ),
                        ));
                    }
                    ip
                }
                None => match keep.iter().find(|k| {
                    k.subnet_id == subnet.meta.id
                        && !chosen.iter().any(|c| c.ip_address == k.ip_address)
                }) {
                    Some(kept) => kept.ip_address,
                    None => Self::next_free(subnet, &used).ok_or_else(|| {
                        NeutronError::conflict(
                            "IpAddressGenerationFailure",
                            format!(
                                "No more IP addresses available for subnet {}.",
                                subnet.meta.id
                            ),
                        )
                    })?,
                },
            };
            chosen.push(FixedIp {
                subnet_id: subnet.meta.id.clone(),
                ip_address: ip,
            });
        }
        Ok(chosen)
    }

    // ---- ports ------------------------------------------------------------------------

    /// Creates a port without API-level checks (quota, policy): the common path of the API,
    /// Nova and the L3 code.
    pub fn insert_port(&mut self, spec: NewPort) -> NResult<String> {
        let network = self
            .networks
            .get(&spec.network_id)
            .ok_or_else(|| Kind::Network.not_found(&spec.network_id))?;
        let port_security = spec
            .port_security_enabled
            .unwrap_or(network.port_security_enabled);
        let mac = match spec.mac_address {
            Some(mac) => {
                if !valid_mac(&mac) {
                    return Err(NeutronError::invalid_attr(
                        "mac_address",
                        format!("'{mac}' is not a valid MAC address"),
                    ));
                }
                let mac = mac.to_ascii_lowercase();
                if self
                    .ports
                    .values()
                    .any(|p| p.network_id == spec.network_id && p.mac_address == mac)
                {
                    return Err(NeutronError::conflict(
                        "MacAddressInUse",
                        format!(
                            "Unable to complete operation for network {}. The mac address {mac} \
                             is in use.",
                            spec.network_id
                        ),
                    ));
                }
                mac
            }
            None => loop {
                let mac = random_mac();
                if !self.ports.values().any(|p| p.mac_address == mac) {
                    break mac;
                }
            },
        };
        let is_service_port = spec.device_owner.starts_with("network:");
        let security_groups = match spec.security_groups {
            Some(groups) => {
                if !groups.is_empty() && !port_security {
                    return Err(port_security_conflict());
                }
                groups
            }
            None if port_security && !is_service_port && !spec.project_id.is_empty() => {
                vec![self.ensure_default_security_group(&spec.project_id)]
            }
            None => Vec::new(),
        };
        let fixed_ips =
            self.allocate_ips(&spec.network_id, spec.fixed_ips.as_deref(), None, &[])?;
        let port = Port {
            meta: Meta::new(&spec.project_id, spec.name, spec.description, spec.tags),
            network_id: spec.network_id,
            mac_address: mac,
            fixed_ips,
            device_id: spec.device_id,
            device_owner: spec.device_owner,
            security_groups,
            admin_state_up: spec.admin_state_up,
            port_security_enabled: port_security,
            binding_host_id: spec.binding_host_id,
            binding_vnic_type: spec.binding_vnic_type,
            binding_profile: spec.binding_profile,
            created_by_nova: spec.created_by_nova,
        };
        let id = port.meta.id.clone();
        self.ports.insert(id.clone(), port);
        Ok(id)
    }

    /// Resolves requested security groups (ids) for a port of `project_id`.
    fn resolve_port_groups(
        &self,
        actor: &Actor,
        project_id: &str,
        ids: &[String],
    ) -> NResult<Vec<String>> {
        let mut out = Vec::new();
        for id in ids {
            let group = self
                .security_groups
                .get(id)
                .filter(|g| actor.admin || g.meta.project_id == project_id)
                .ok_or_else(|| Kind::SecurityGroup.not_found(id))?;
            if !out.contains(&group.meta.id) {
                out.push(group.meta.id.clone());
            }
        }
        Ok(out)
    }

    pub fn create_port(&mut self, actor: &Actor, body: &Map<String, Value>) -> NResult<String> {
        let network_id = match required(body, "network_id")? {
            Value::String(s) => s.clone(),
            other => {
                return Err(NeutronError::invalid_attr(
                    "network_id",
                    format!("{} is not a valid UUID", py(other)),
                ));
            }
        };
        let project = owner(actor, body)?;
        let network = self.network(actor, &network_id)?;
        if !actor.admin && network.meta.project_id != project && !network.shared {
            return Err(NeutronError::new(
                StatusCode::FORBIDDEN,
                "HTTPForbidden",
                format!("Tenant {project} not allowed to create port on this network"),
            ));
        }
        let mut spec = NewPort::new(&project, &network_id);
        spec.name = get_str(body, "name", 255)?.unwrap_or_default();
        spec.description = get_str(body, "description", 255)?.unwrap_or_default();
        spec.admin_state_up = get_bool(body, "admin_state_up")?.unwrap_or(true);
        spec.mac_address = get_str(body, "mac_address", 255)?;
        spec.fixed_ips = read_fixed_ips(body)?;
        spec.device_id = get_str(body, "device_id", 255)?.unwrap_or_default();
        spec.device_owner = get_str(body, "device_owner", 255)?.unwrap_or_default();
        spec.port_security_enabled = get_bool(body, "port_security_enabled")?;
        spec.tags = validate_tags(&get_str_list(body, "tags")?.unwrap_or_default())?;
        read_binding(
            actor,
            body,
            &mut spec.binding_host_id,
            &mut spec.binding_vnic_type,
            &mut spec.binding_profile,
            "create_port",
        )?;
        if spec
            .fixed_ips
            .as_ref()
            .is_some_and(|f| f.iter().any(|r| r.ip_address.is_some()))
            && !actor.admin
            && network.meta.project_id != project
        {
            return Err(NeutronError::policy("create_port:fixed_ips:ip_address"));
        }
        spec.security_groups = match get_str_list(body, "security_groups")? {
            Some(ids) => Some(self.resolve_port_groups(actor, &project, &ids)?),
            None => None,
        };
        self.check_quota(&project, "port", 1)?;
        self.insert_port(spec)
    }

    pub fn update_port(
        &mut self,
        actor: &Actor,
        id: &str,
        body: &Map<String, Value>,
    ) -> NResult<()> {
        let mut port = self.port(actor, id)?.clone();
        ensure_owner(actor, &port.meta.project_id, "update_port")?;
        if let Some(name) = get_str(body, "name", 255)? {
            port.meta.name = name;
        }
        if let Some(description) = get_str(body, "description", 255)? {
            port.meta.description = description;
        }
        if let Some(up) = get_bool(body, "admin_state_up")? {
            port.admin_state_up = up;
        }
        if let Some(device_id) = get_str(body, "device_id", 255)? {
            port.device_id = device_id;
        }
        if let Some(device_owner) = get_str(body, "device_owner", 255)? {
            port.device_owner = device_owner;
        }
        read_binding(
            actor,
            body,
            &mut port.binding_host_id,
            &mut port.binding_vnic_type,
            &mut port.binding_profile,
            "update_port",
        )?;
        if let Some(pse) = get_bool(body, "port_security_enabled")? {
            port.port_security_enabled = pse;
        }
        match get_str_list(body, "security_groups")? {
            Some(ids) => {
                let groups = self.resolve_port_groups(actor, &port.meta.project_id, &ids)?;
                if !groups.is_empty() && !port.port_security_enabled {
                    return Err(port_security_conflict());
                }
                port.security_groups = groups;
            }
            None => {
                if !port.port_security_enabled && !port.security_groups.is_empty() {
                    return Err(port_security_conflict());
                }
            }
        }
        if let Some(requests) = read_fixed_ips(body)? {
            port.fixed_ips =
                self.allocate_ips(&port.network_id, Some(&requests), Some(id), &port.fixed_ips)?;
        }
        port.meta.touch();
        self.ports.insert(id.to_string(), port);
        Ok(())
    }

    pub fn delete_port(&mut self, actor: &Actor, id: &str) -> NResult<()> {
        let port = self.port(actor, id)?;
        ensure_owner(actor, &port.meta.project_id, "delete_port")?;
        if (port.device_owner == OWNER_ROUTER_INTERFACE
            || port.device_owner == OWNER_ROUTER_GATEWAY)
            && self.routers.contains_key(&port.device_id)
        {
            return Err(NeutronError::conflict(
                "ServicePortInUse",
                format!(
                    "Port {id} cannot be deleted directly via the port API: has device owner {}.",
                    port.device_owner
                ),
            ));
        }
        self.ports.remove(id);
        Ok(())
    }
}

fn port_security_conflict() -> NeutronError {
    NeutronError::bad_request(
        "Port security must be enabled and port must have an IP address in order to use \
         security groups.",
    )
    .with_kind("PortSecurityAndIPRequiredForSecurityGroups")
}

impl NeutronError {
    fn with_kind(mut self, kind: &'static str) -> Self {
        self.kind = kind;
        self
    }
}

fn read_binding(
    actor: &Actor,
    body: &Map<String, Value>,
    host: &mut String,
    vnic: &mut String,
    profile: &mut Value,
    action: &str,
) -> NResult<()> {
    if let Some(h) = get_str(body, "binding:host_id", 255)? {
        if !actor.admin {
            return Err(NeutronError::policy(&format!("{action}:binding:host_id")));
        }
        *host = h;
    }
    if let Some(p) = body.get("binding:profile") {
        if !actor.admin {
            return Err(NeutronError::policy(&format!("{action}:binding:profile")));
        }
        if !p.is_object() {
            return Err(NeutronError::invalid_attr(
                "binding:profile",
                format!("{} is not a dictionary", py(p)),
            ));
        }
        *profile = p.clone();
    }
    if let Some(v) = get_str(body, "binding:vnic_type", 255)? {
        const TYPES: [&str; 5] = [
            "normal",
            "direct",
            "macvtap",
            "baremetal",
            "direct-physical",
        ];
        if !TYPES.contains(&v.as_str()) {
            return Err(NeutronError::invalid_attr(
                "binding:vnic_type",
                format!("'{v}' is not in {TYPES:?}"),
            ));
        }
        *vnic = v;
    }
    Ok(())
}

fn validate_mtu(mtu: i64, max: i64) -> NResult<i64> {
    if mtu < 68 {
        return Err(NeutronError::invalid_attr(
            "mtu",
            format!("'{mtu}' is too small - must be at least '68'"),
        ));
    }
    if mtu > max {
        return Err(NeutronError::invalid_input(format!(
            "Requested MTU is too big, maximum is {max}"
        )));
    }
    Ok(mtu)
}

fn validate_gateway(cidr: &IpNet, text: &str, ip_version: u8) -> NResult<IpAddr> {
    let gw = parse_ip("gateway_ip", text)?;
    if ip_family(&gw) != ip_version {
        return Err(NeutronError::invalid_input(format!(
            "gateway_ip '{text}' does not match the ip_version '{ip_version}'"
        )));
    }
    // Neutron allows a gateway outside the CIDR (reached by an on-link route) but not the
    // network address, nor the IPv4 broadcast address.
    let not_host = gw == cidr.network() || (ip_version == 4 && gw == cidr.broadcast());
    if not_host && cidr.prefix_len() < cidr.max_prefix_len() - 1 {
        return Err(NeutronError::invalid_input(
            "Gateway is not valid on subnet",
        ));
    }
    Ok(gw)
}

fn read_pools(value: &Value, cidr: &IpNet, gateway: Option<IpAddr>) -> NResult<Vec<Pool>> {
    let invalid = |reason: String| NeutronError::invalid_attr("allocation_pools", reason);
    let items = value
        .as_array()
        .ok_or_else(|| invalid(format!("{} is not a list", py(value))))?;
    let mut pools: Vec<Pool> = Vec::new();
    for item in items {
        let entry = item
            .as_object()
            .ok_or_else(|| invalid(format!("{} is not a dictionary", py(item))))?;
        let start =
            get_str(entry, "start", 64)?.ok_or_else(|| invalid("Missing key 'start'".into()))?;
        let end = get_str(entry, "end", 64)?.ok_or_else(|| invalid("Missing key 'end'".into()))?;
        let start = parse_ip("allocation_pools", &start)?;
        let end = parse_ip("allocation_pools", &end)?;
        if ip_family(&start) != ip_family(&end) || ip_to_u128(start) > ip_to_u128(end) {
            return Err(NeutronError::new(
                StatusCode::BAD_REQUEST,
                "InvalidAllocationPool",
                format!("The allocation pool {start}-{end} is not valid."),
            ));
        }
        if !cidr.contains(&start) || !cidr.contains(&end) {
            return Err(NeutronError::new(
                StatusCode::BAD_REQUEST,
                "OutOfBoundsAllocationPool",
                format!("The allocation pool {start}-{end} spans beyond the subnet cidr {cidr}."),
            ));
        }
        if let Some(other) = pools.iter().find(|p| {
            ip_to_u128(p.start) <= ip_to_u128(end) && ip_to_u128(start) <= ip_to_u128(p.end)
        }) {
            return Err(NeutronError::new(
                StatusCode::BAD_REQUEST,
                "OverlappingAllocationPools",
                format!(
                    "Found overlapping allocation pools: {}-{} and {start}-{end} for subnet {cidr}.",
                    other.start, other.end
                ),
            ));
        }
        if let Some(gw) = gateway
            && ip_to_u128(start) <= ip_to_u128(gw)
            && ip_to_u128(gw) <= ip_to_u128(end)
        {
            return Err(NeutronError::conflict(
                "GatewayConflictWithAllocationPools",
                format!("Gateway ip {gw} conflicts with allocation pool {start}-{end}"),
            ));
        }
        pools.push(Pool { start, end });
    }
    Ok(pools)
}

fn read_nameservers(body: &Map<String, Value>) -> NResult<Option<Vec<String>>> {
    let Some(list) = get_str_list(body, "dns_nameservers")? else {
        return Ok(None);
    };
    for (index, server) in list.iter().enumerate() {
        if server.parse::<IpAddr>().is_err() {
            return Err(NeutronError::invalid_attr(
                "dns_nameservers",
                format!(
                    "'{server}' is not a valid nameserver. '{server}' is not a valid IP address"
                ),
            ));
        }
        if list[..index].contains(server) {
            return Err(NeutronError::invalid_attr(
                "dns_nameservers",
                format!("Duplicate nameserver '{server}'"),
            ));
        }
    }
    Ok(Some(list))
}

fn read_host_routes(body: &Map<String, Value>) -> NResult<Option<Vec<HostRoute>>> {
    let Some(value) = body.get("host_routes") else {
        return Ok(None);
    };
    let invalid = |reason: String| NeutronError::invalid_attr("host_routes", reason);
    let items = value
        .as_array()
        .ok_or_else(|| invalid(format!("{} is not a list", py(value))))?;
    let mut routes = Vec::new();
    for item in items {
        let entry = item
            .as_object()
            .ok_or_else(|| invalid(format!("{} is not a dictionary", py(item))))?;
        let destination = get_str(entry, "destination", 64)?
            .ok_or_else(|| invalid("Missing key 'destination'".into()))?;
        let nexthop = get_str(entry, "nexthop", 64)?
            .ok_or_else(|| invalid("Missing key 'nexthop'".into()))?;
        let destination = parse_cidr("host_routes", &destination)?.to_string();
        parse_ip("host_routes", &nexthop)?;
        routes.push(HostRoute {
            destination,
            nexthop,
        });
    }
    Ok(Some(routes))
}

fn read_ipv6_mode(body: &Map<String, Value>, key: &str, ip_version: u8) -> NResult<Option<String>> {
    let Some(mode) = get_nullable_str(body, key)?.flatten() else {
        return Ok(None);
    };
    const MODES: [&str; 3] = ["dhcpv6-stateful", "dhcpv6-stateless", "slaac"];
    if !MODES.contains(&mode.as_str()) {
        return Err(NeutronError::invalid_attr(
            key,
            format!("'{mode}' is not in {MODES:?}"),
        ));
    }
    if ip_version != 6 {
        return Err(NeutronError::invalid_input(
            "ipv6_ra_mode or ipv6_address_mode cannot be set when ip_version is 4",
        ));
    }
    Ok(Some(mode))
}
