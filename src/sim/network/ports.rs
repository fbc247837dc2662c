//! Ports and IP address management: requested fixed IPs, allocation from the pools, MAC
//! addresses, bindings, security groups of a port, and port create/update/delete.

use std::collections::BTreeSet;
use std::net::IpAddr;

use axum::http::StatusCode;
use serde_json::{Map, Value};

use super::NetworkData;
use super::model::*;
use super::ops::*;
use super::subnets::*;

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
    pub allowed_address_pairs: Vec<AddressPair>,
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
            allowed_address_pairs: Vec::new(),
        }
    }
}

/// Generates a MAC with OpenStack's base `fa:16:3e`.
pub(super) fn random_mac() -> String {
    let bytes = uuid::Uuid::new_v4();
    let b = bytes.as_bytes();
    format!("fa:16:3e:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2])
}

pub(super) fn valid_mac(text: &str) -> bool {
    let parts: Vec<&str> = text.split(':').collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}

pub(super) fn read_fixed_ips(body: &Map<String, Value>) -> NResult<Option<Vec<IpRequest>>> {
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

/// `allowed_address_pairs` as real Neutron validates it (neutron_lib's
/// `_validate_allowed_address_pairs`): a list of dictionaries, each with an IP address or a
/// network, an optional MAC, no other key, no pair twice. Its messages are HTTPBadRequest's
/// own, without the "Invalid input for" prefix of other validators.
pub(super) fn read_address_pairs(body: &Map<String, Value>) -> NResult<Option<Vec<AddressPair>>> {
    let Some(value) = body.get("allowed_address_pairs") else {
        return Ok(None);
    };
    let items = value
        .as_array()
        .ok_or_else(|| NeutronError::bad_request("Allowed address pairs must be a list."))?;
    let mut out: Vec<AddressPair> = Vec::new();
    for item in items {
        let entry = item.as_object().ok_or_else(|| {
            NeutronError::bad_request(format!("{} is not a dictionary", py(item)))
        })?;
        let mac_address = match entry.get("mac_address") {
            None => None,
            Some(Value::String(mac)) if valid_mac(mac) => Some(mac.to_ascii_lowercase()),
            Some(other) => {
                let text = other
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| py(other));
                return Err(NeutronError::bad_request(format!(
                    "'{text}' is not a valid MAC address"
                )));
            }
        };
        let ip_address = match entry.get("ip_address") {
            None => {
                return Err(NeutronError::new(
                    StatusCode::BAD_REQUEST,
                    "AllowedAddressPairsMissingIP",
                    "AllowedAddressPair must contain ip_address",
                ));
            }
            Some(Value::String(ip)) => {
                if ip.contains('/') {
                    if ip.parse::<ipnet::IpNet>().is_err() {
                        return Err(NeutronError::bad_request(format!(
                            "'{ip}' is not a valid IP subnet"
                        )));
                    }
                } else if ip.parse::<IpAddr>().is_err() {
                    return Err(NeutronError::bad_request(format!(
                        "'{ip}' is not a valid IP address"
                    )));
                }
                ip.clone()
            }
            Some(other) => {
                return Err(NeutronError::bad_request(format!(
                    "{} is not a valid IP address",
                    py(other)
                )));
            }
        };
        let extra: Vec<&str> = entry
            .keys()
            .map(String::as_str)
            .filter(|k| *k != "ip_address" && *k != "mac_address")
            .collect();
        if !extra.is_empty() {
            return Err(NeutronError::bad_request(format!(
                "Unrecognized attribute(s) '{}'",
                extra.join(", ")
            )));
        }
        let pair = AddressPair {
            ip_address,
            mac_address,
        };
        if out.contains(&pair) {
            return Err(NeutronError::new(
                StatusCode::BAD_REQUEST,
                "DuplicateAddressPairInRequest",
                format!(
                    "Request contains duplicate address pair: mac_address {} ip_address {}.",
                    pair.mac_address.as_deref().unwrap_or("None"),
                    pair.ip_address
                ),
            ));
        }
        out.push(pair);
    }
    Ok(Some(out))
}

/// Neutron refuses address pairs on a port without port security (409).
fn pairs_need_port_security() -> NeutronError {
    NeutronError::conflict(
        "AddressPairAndPortSecurityRequired",
        "Port Security must be enabled in order to have allowed address pairs on a port.",
    )
}

impl NetworkData {
    // ---- IP address management --------------------------------------------------------

    pub(super) fn used_ips(&self, subnet_id: &str, exclude_port: Option<&str>) -> BTreeSet<u128> {
        self.ports
            .values()
            .filter(|p| Some(p.meta.id.as_str()) != exclude_port)
            .flat_map(|p| p.fixed_ips.iter())
            .filter(|ip| ip.subnet_id == subnet_id)
            .map(|ip| ip_to_u128(ip.ip_address))
            .chain(self.floating_ips_on(subnet_id))
            .collect()
    }

    /// The lowest free address of the subnet's pools. Neutron's IPAM picks among the first
    /// free ones at random; lowest-first keeps the embedded cloud deterministic.
    pub(super) fn next_free(subnet: &Subnet, used: &BTreeSet<u128>) -> Option<IpAddr> {
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
        if !port_security && !spec.allowed_address_pairs.is_empty() {
            return Err(pairs_need_port_security());
        }
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
            allowed_address_pairs: spec.allowed_address_pairs,
        };
        let id = port.meta.id.clone();
        self.ports.insert(id.clone(), port);
        Ok(id)
    }

    /// Resolves requested security groups (ids) for a port of `project_id`.
    pub(super) fn resolve_port_groups(
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
        if !actor.admin && !self.shared_with(network, &project) {
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
        spec.allowed_address_pairs = read_address_pairs(body)?.unwrap_or_default();
        // Real Neutron (2026.2, ML2) takes `tags` in a port's POST and drops them: the reply
        // and the port have none.
        validate_tags(&get_str_list(body, "tags")?.unwrap_or_default())?;
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
        if let Some(pairs) = read_address_pairs(body)? {
            port.allowed_address_pairs = pairs;
        }
        if !port.port_security_enabled && !port.allowed_address_pairs.is_empty() {
            return Err(pairs_need_port_security());
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
        self.disassociate_port(id);
        Ok(())
    }
}

pub(super) fn port_security_conflict() -> NeutronError {
    NeutronError::bad_request(
        "Port security must be enabled and port must have an IP address in order to use \
         security groups.",
    )
    .with_kind("PortSecurityAndIPRequiredForSecurityGroups")
}

impl NeutronError {
    pub(super) fn with_kind(mut self, kind: &'static str) -> Self {
        self.kind = kind;
        self
    }
}

pub(super) fn read_binding(
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
