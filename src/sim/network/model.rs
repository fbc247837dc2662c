//! Neutron's records as the embedded cloud stores them, and the request-body readers that
//! reproduce Neutron's attribute validation messages (errors: `error`).

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

pub use super::error::{NResult, NeutronError};

/// Who acts, as the data layer needs it.
#[derive(Clone, Debug)]
pub struct Actor {
    pub project_id: String,
    pub admin: bool,
}

/// The resource kinds with a REST collection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Network,
    Subnet,
    Port,
    Router,
    SecurityGroup,
    SecurityGroupRule,
    FloatingIp,
    RbacPolicy,
}

impl Kind {
    /// The body key of one resource.
    pub fn singular(self) -> &'static str {
        match self {
            Kind::Network => "network",
            Kind::Subnet => "subnet",
            Kind::Port => "port",
            Kind::Router => "router",
            Kind::SecurityGroup => "security_group",
            Kind::SecurityGroupRule => "security_group_rule",
            Kind::FloatingIp => "floatingip",
            Kind::RbacPolicy => "rbac_policy",
        }
    }
    /// The body key of a list.
    pub fn collection(self) -> &'static str {
        match self {
            Kind::Network => "networks",
            Kind::Subnet => "subnets",
            Kind::Port => "ports",
            Kind::Router => "routers",
            Kind::SecurityGroup => "security_groups",
            Kind::SecurityGroupRule => "security_group_rules",
            Kind::FloatingIp => "floatingips",
            Kind::RbacPolicy => "rbac_policies",
        }
    }
    /// The URL segment under /v2.0.
    pub fn path(self) -> &'static str {
        match self {
            Kind::Network => "networks",
            Kind::Subnet => "subnets",
            Kind::Port => "ports",
            Kind::Router => "routers",
            Kind::SecurityGroup => "security-groups",
            Kind::SecurityGroupRule => "security-group-rules",
            Kind::FloatingIp => "floatingips",
            Kind::RbacPolicy => "rbac-policies",
        }
    }
    pub fn not_found(self, id: &str) -> NeutronError {
        match self {
            Kind::Network => NeutronError::not_found(
                "NetworkNotFound",
                format!("Network {id} could not be found."),
            ),
            Kind::Subnet => NeutronError::not_found(
                "SubnetNotFound",
                format!("Subnet {id} could not be found."),
            ),
            Kind::Port => {
                NeutronError::not_found("PortNotFound", format!("Port {id} could not be found."))
            }
            Kind::Router => NeutronError::not_found(
                "RouterNotFound",
                format!("Router {id} could not be found."),
            ),
            Kind::SecurityGroup => NeutronError::not_found(
                "SecurityGroupNotFound",
                format!("Security group {id} does not exist"),
            ),
            Kind::SecurityGroupRule => NeutronError::not_found(
                "SecurityGroupRuleNotFound",
                format!("Security group rule {id} does not exist"),
            ),
            // Real Neutron's message has no final period.
            Kind::FloatingIp => NeutronError::not_found(
                "FloatingIPNotFound",
                format!("Floating IP {id} could not be found"),
            ),
            // Real Neutron's words: the type is unknown to it when the id matches nothing.
            Kind::RbacPolicy => NeutronError::not_found(
                "RbacPolicyNotFound",
                format!("RBAC policy of type unknown with ID {id} not found"),
            ),
        }
    }
    /// Attributes accepted in POST, accepted in PUT, and known but read-only.
    ///
    /// Real Neutron (2026.2, ML2) advertises `tag-creation` yet refuses `tags` in the POST of
    /// networks, subnets, routers, security groups and floating IPs ("Attribute 'tags' not
    /// allowed in POST"), and drops them from a port's: they are read-only here too.
    pub fn attributes(self) -> AttrTable {
        const COMMON_RO: &[&str] = &[
            "id",
            "created_at",
            "updated_at",
            "revision_number",
            "status",
        ];
        match self {
            Kind::Network => AttrTable {
                post: &[
                    "name",
                    "description",
                    "admin_state_up",
                    "shared",
                    "router:external",
                    "mtu",
                    "port_security_enabled",
                    "provider:network_type",
                    "provider:physical_network",
                    "provider:segmentation_id",
                    "availability_zone_hints",
                    "is_default",
                    "project_id",
                    "tenant_id",
                ],
                put: &[
                    "name",
                    "description",
                    "admin_state_up",
                    "shared",
                    "router:external",
                    "mtu",
                    "port_security_enabled",
                    "is_default",
                ],
                read_only: &[
                    "subnets",
                    "availability_zones",
                    "ipv4_address_scope",
                    "ipv6_address_scope",
                    "l2_adjacency",
                    "tags",
                ],
                common_read_only: COMMON_RO,
            },
            Kind::Subnet => AttrTable {
                post: &[
                    "name",
                    "description",
                    "network_id",
                    "ip_version",
                    "cidr",
                    "gateway_ip",
                    "allocation_pools",
                    "enable_dhcp",
                    "dns_nameservers",
                    "host_routes",
                    "ipv6_address_mode",
                    "ipv6_ra_mode",
                    "project_id",
                    "tenant_id",
                ],
                put: &[
                    "name",
                    "description",
                    "gateway_ip",
                    "allocation_pools",
                    "enable_dhcp",
                    "dns_nameservers",
                    "host_routes",
                ],
                read_only: &[
                    "service_types",
                    "subnetpool_id",
                    "segment_id",
                    "router:external",
                    "dns_publish_fixed_ip",
                    "tags",
                ],
                common_read_only: COMMON_RO,
            },
            Kind::Port => AttrTable {
                post: &[
                    "name",
                    "description",
                    "network_id",
                    "admin_state_up",
                    "mac_address",
                    "fixed_ips",
                    "device_id",
                    "device_owner",
                    "security_groups",
                    "port_security_enabled",
                    "allowed_address_pairs",
                    "binding:host_id",
                    "binding:vnic_type",
                    "binding:profile",
                    "tags",
                    "project_id",
                    "tenant_id",
                ],
                put: &[
                    "name",
                    "description",
                    "admin_state_up",
                    "fixed_ips",
                    "device_id",
                    "device_owner",
                    "security_groups",
                    "port_security_enabled",
                    "allowed_address_pairs",
                    "binding:host_id",
                    "binding:vnic_type",
                    "binding:profile",
                ],
                read_only: &[
                    "binding:vif_type",
                    "binding:vif_details",
                    "ip_allocation",
                    "propagate_uplink_status",
                ],
                common_read_only: COMMON_RO,
            },
            Kind::Router => AttrTable {
                post: &[
                    "name",
                    "description",
                    "admin_state_up",
                    "external_gateway_info",
                    "availability_zone_hints",
                    "project_id",
                    "tenant_id",
                ],
                put: &[
                    "name",
                    "description",
                    "admin_state_up",
                    "external_gateway_info",
                    "routes",
                ],
                read_only: &["availability_zones", "flavor_id", "tags"],
                common_read_only: COMMON_RO,
            },
            Kind::SecurityGroup => AttrTable {
                post: &["name", "description", "stateful", "project_id", "tenant_id"],
                put: &["name", "description", "stateful"],
                read_only: &["security_group_rules", "shared", "tags"],
                common_read_only: COMMON_RO,
            },
            Kind::SecurityGroupRule => AttrTable {
                post: &[
                    "security_group_id",
                    "direction",
                    "ethertype",
                    "protocol",
                    "port_range_min",
                    "port_range_max",
                    "remote_ip_prefix",
                    "remote_group_id",
                    "description",
                    "project_id",
                    "tenant_id",
                ],
                put: &[],
                read_only: &["remote_address_group_id", "belongs_to_default_sg"],
                common_read_only: COMMON_RO,
            },
            // Real Neutron (2026.2) refuses `tags` in a floating IP's POST ("Attribute 'tags'
            // not allowed in POST") although it advertises tag-creation: tags come after.
            Kind::FloatingIp => AttrTable {
                post: &[
                    "floating_network_id",
                    "floating_ip_address",
                    "subnet_id",
                    "port_id",
                    "fixed_ip_address",
                    "description",
                    "project_id",
                    "tenant_id",
                ],
                put: &["port_id", "fixed_ip_address", "description"],
                read_only: &["router_id", "port_details", "tags"],
                common_read_only: COMMON_RO,
            },
            // No standard attributes: no name, description, tags or timestamps.
            Kind::RbacPolicy => AttrTable {
                post: &[
                    "object_type",
                    "object_id",
                    "action",
                    "target_tenant",
                    "project_id",
                    "tenant_id",
                ],
                put: &["target_tenant"],
                read_only: &[],
                common_read_only: &["id"],
            },
        }
    }
}

pub struct AttrTable {
    pub post: &'static [&'static str],
    pub put: &'static [&'static str],
    pub read_only: &'static [&'static str],
    pub common_read_only: &'static [&'static str],
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Post,
    Put,
}

/// Unwraps `{"<singular>": {...}}` and checks its attribute names the way Neutron's
/// `prepare_request_body` does.
pub fn resource_body(raw: &[u8], kind: Kind, method: Method) -> NResult<Map<String, Value>> {
    let value: Value = serde_json::from_slice(raw)
        .map_err(|_| NeutronError::bad_request("Malformed request body"))?;
    let key = kind.singular();
    let Some(inner) = value.as_object().and_then(|o| o.get(key)) else {
        return Err(NeutronError::bad_request(format!(
            "Unable to find '{key}' in request body"
        )));
    };
    let Some(map) = inner.as_object() else {
        return Err(NeutronError::bad_request(format!(
            "Unable to find '{key}' in request body"
        )));
    };
    check_attributes(map, kind, method)?;
    Ok(map.clone())
}

pub fn check_attributes(map: &Map<String, Value>, kind: Kind, method: Method) -> NResult<()> {
    let table = kind.attributes();
    let known = |k: &str| {
        table.post.contains(&k)
            || table.put.contains(&k)
            || table.read_only.contains(&k)
            || table.common_read_only.contains(&k)
            || k == "project_id"
            || k == "tenant_id"
    };
    let unknown: Vec<&str> = map
        .keys()
        .map(String::as_str)
        .filter(|k| !known(k))
        .collect();
    if !unknown.is_empty() {
        return Err(NeutronError::bad_request(format!(
            "Unrecognized attribute(s) '{}'",
            unknown.join(", ")
        )));
    }
    for key in map.keys() {
        match method {
            Method::Post if !table.post.contains(&key.as_str()) => {
                return Err(NeutronError::bad_request(format!(
                    "Attribute '{key}' not allowed in POST"
                )));
            }
            Method::Put if !table.put.contains(&key.as_str()) => {
                return Err(NeutronError::bad_request(format!(
                    "Cannot update read-only attribute {key}"
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Python's rendering of a JSON value inside Neutron messages ('text', 5, True, None).
pub fn py(value: &Value) -> String {
    match value {
        Value::String(s) => format!("'{s}'"),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Null => "None".into(),
        other => other.to_string(),
    }
}

pub fn required<'a>(map: &'a Map<String, Value>, key: &str) -> NResult<&'a Value> {
    map.get(key).ok_or_else(|| {
        NeutronError::bad_request(format!(
            "Failed to parse request. Required attribute '{key}' not specified"
        ))
    })
}

pub fn get_str(map: &Map<String, Value>, key: &str, max_len: usize) -> NResult<Option<String>> {
    match map.get(key) {
        None => Ok(None),
        // neutron-lib's validate_string refuses a NUL (real Neutron 2026.2: 400 "'…' is not a
        // valid string"), before any length check.
        Some(Value::String(s)) if s.contains('\0') => Err(NeutronError::invalid_attr(
            key,
            format!("'{s}' is not a valid string"),
        )),
        Some(Value::String(s)) if s.chars().count() <= max_len => Ok(Some(s.clone())),
        Some(Value::String(s)) => Err(NeutronError::invalid_attr(
            key,
            format!("'{s}' exceeds maximum length of {max_len}"),
        )),
        Some(other) => Err(NeutronError::invalid_attr(
            key,
            format!("{} is not a valid string", py(other)),
        )),
    }
}

/// A string or null (`gateway_ip: null`): outer None = absent.
pub fn get_nullable_str(map: &Map<String, Value>, key: &str) -> NResult<Option<Option<String>>> {
    match map.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
        Some(other) => Err(NeutronError::invalid_attr(
            key,
            format!("{} is not a valid string", py(other)),
        )),
    }
}

/// Neutron's convert_to_boolean: true/false, "true"/"false" in any case, 1/0.
pub fn get_bool(map: &Map<String, Value>, key: &str) -> NResult<Option<bool>> {
    let Some(value) = map.get(key) else {
        return Ok(None);
    };
    let parsed = match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        },
        Value::Number(n) => match n.as_i64() {
            Some(1) => Some(true),
            Some(0) => Some(false),
            _ => None,
        },
        _ => None,
    };
    parsed.map(Some).ok_or_else(|| {
        NeutronError::invalid_attr(key, format!("{} cannot be converted to boolean", py(value)))
    })
}

/// Neutron's convert_to_int: integers, or strings holding one. Outer None = absent.
pub fn get_int(map: &Map<String, Value>, key: &str) -> NResult<Option<Option<i64>>> {
    let Some(value) = map.get(key) else {
        return Ok(None);
    };
    let parsed = match value {
        Value::Null => return Ok(Some(None)),
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    parsed
        .map(|n| Some(Some(n)))
        .ok_or_else(|| NeutronError::invalid_attr(key, format!("{} is not an integer", py(value))))
}

pub fn get_str_list(map: &Map<String, Value>, key: &str) -> NResult<Option<Vec<String>>> {
    let Some(value) = map.get(key) else {
        return Ok(None);
    };
    let not_list = || NeutronError::invalid_attr(key, format!("{} is not a list", py(value)));
    let items = value.as_array().ok_or_else(not_list)?;
    items
        .iter()
        .map(|item| {
            item.as_str().map(str::to_string).ok_or_else(|| {
                NeutronError::invalid_attr(key, format!("{} is not a valid string", py(item)))
            })
        })
        .collect::<NResult<Vec<String>>>()
        .map(Some)
}

/// Neutron's tagging extension limit (`MAX_TAG_LEN`).
pub const MAX_TAG_LEN: usize = 60;

/// Neutron's `validate_list_of_unique_strings(tags, MAX_TAG_LEN)`: the reason on failure.
/// Valid tags come back sorted, as Neutron's tag table (a set) returns them.
pub fn check_tag_list(tags: &[String]) -> Result<Vec<String>, String> {
    for tag in tags {
        if tag.chars().count() > MAX_TAG_LEN {
            return Err(format!("'{tag}' exceeds maximum length of {MAX_TAG_LEN}"));
        }
    }
    let mut duplicates: Vec<&str> = tags
        .iter()
        .enumerate()
        .filter(|(i, t)| tags[..*i].contains(t))
        .map(|(_, t)| t.as_str())
        .collect();
    duplicates.dedup();
    if !duplicates.is_empty() {
        return Err(format!(
            "Duplicate items in the list: '{}'",
            duplicates.join(", ")
        ));
    }
    let mut out = tags.to_vec();
    out.sort();
    Ok(out)
}

/// `tags` in a POST body, checked by the attribute layer.
pub fn validate_tags(tags: &[String]) -> NResult<Vec<String>> {
    check_tag_list(tags).map_err(|reason| NeutronError::invalid_attr("tags", reason))
}

/// Attributes every Neutron resource with standard attributes has.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Meta {
    pub id: String,
    pub project_id: String,
    pub name: String,
    pub description: String,
    pub tags: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
    pub revision_number: u64,
}

impl Meta {
    pub fn new(project_id: &str, name: String, description: String, tags: Vec<String>) -> Self {
        let now = now();
        Meta {
            id: uuid::Uuid::new_v4().to_string(),
            project_id: project_id.to_string(),
            name,
            description,
            tags,
            created_at: now.clone(),
            updated_at: now,
            revision_number: 1,
        }
    }
    /// Neutron bumps revision_number and updated_at on every change of the resource.
    pub fn touch(&mut self) {
        self.revision_number += 1;
        self.updated_at = now();
    }
    pub fn put_common(&self, out: &mut Map<String, Value>, with_name: bool) {
        out.insert("id".into(), json!(self.id));
        if with_name {
            out.insert("name".into(), json!(self.name));
        }
        out.insert("tenant_id".into(), json!(self.project_id));
        out.insert("project_id".into(), json!(self.project_id));
        out.insert("description".into(), json!(self.description));
        out.insert("created_at".into(), json!(self.created_at));
        out.insert("updated_at".into(), json!(self.updated_at));
        out.insert("revision_number".into(), json!(self.revision_number));
    }
}

/// ISO 8601 in UTC to the second, as Neutron's standard attributes print it.
pub fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Network {
    pub meta: Meta,
    pub admin_state_up: bool,
    pub shared: bool,
    pub external: bool,
    pub mtu: i64,
    pub port_security_enabled: bool,
    pub network_type: String,
    pub physical_network: Option<String>,
    pub segmentation_id: Option<i64>,
    pub is_default: bool,
    pub availability_zone_hints: Vec<String>,
    /// Subnet ids in creation order.
    pub subnets: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Pool {
    pub start: IpAddr,
    pub end: IpAddr,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct HostRoute {
    pub destination: String,
    pub nexthop: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Subnet {
    pub meta: Meta,
    pub network_id: String,
    pub ip_version: u8,
    pub cidr: IpNet,
    pub gateway_ip: Option<IpAddr>,
    pub allocation_pools: Vec<Pool>,
    pub enable_dhcp: bool,
    pub dns_nameservers: Vec<String>,
    pub host_routes: Vec<HostRoute>,
    pub ipv6_address_mode: Option<String>,
    pub ipv6_ra_mode: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct FixedIp {
    pub subnet_id: String,
    pub ip_address: IpAddr,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Port {
    pub meta: Meta,
    pub network_id: String,
    pub mac_address: String,
    pub fixed_ips: Vec<FixedIp>,
    pub device_id: String,
    pub device_owner: String,
    pub security_groups: Vec<String>,
    pub admin_state_up: bool,
    pub port_security_enabled: bool,
    pub binding_host_id: String,
    pub binding_vnic_type: String,
    pub binding_profile: Value,
    /// Nova created this port for a server (deleted, not unbound, when the server goes).
    pub created_by_nova: bool,
    /// Kept as requested: a pair without a MAC shows the port's own.
    #[serde(default)]
    pub allowed_address_pairs: Vec<AddressPair>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressPair {
    pub ip_address: String,
    pub mac_address: Option<String>,
}

impl Port {
    /// Neutron's `status`: a bound port that is administratively up is ACTIVE (the embedded
    /// cloud's agents bind at once), anything else DOWN.
    pub fn status(&self) -> &'static str {
        if !self.device_id.is_empty() && self.admin_state_up {
            "ACTIVE"
        } else {
            "DOWN"
        }
    }
}

pub const OWNER_ROUTER_INTERFACE: &str = "network:router_interface";
pub const OWNER_ROUTER_GATEWAY: &str = "network:router_gateway";
pub const OWNER_DHCP: &str = "network:dhcp";
pub const OWNER_COMPUTE: &str = "compute:nova";
/// The host Nova-bound ports report in binding:host_id.
pub const SIM_HOST: &str = "stackform-sim";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Gateway {
    pub network_id: String,
    pub enable_snat: bool,
    pub port_id: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Router {
    pub meta: Meta,
    pub admin_state_up: bool,
    pub gateway: Option<Gateway>,
    pub availability_zone_hints: Vec<String>,
    /// Static routes (the extraroute extension); absent in worlds written before them.
    #[serde(default)]
    pub routes: Vec<HostRoute>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SecurityGroup {
    pub meta: Meta,
    pub stateful: bool,
    /// The project's automatic "default" group.
    pub is_default: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SecurityGroupRule {
    pub meta: Meta,
    pub security_group_id: String,
    pub direction: String,
    pub ethertype: String,
    pub protocol: Option<String>,
    pub port_range_min: Option<i64>,
    pub port_range_max: Option<i64>,
    pub remote_ip_prefix: Option<String>,
    pub remote_group_id: Option<String>,
    /// Made by Neutron itself with a new group: such rules show a null description.
    #[serde(default)]
    pub automatic: bool,
}

/// A floating IP: an address of an external network's subnet, associated (or not) with one
/// fixed IP of a port that a router connects to that network.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FloatingIp {
    pub meta: Meta,
    pub floating_network_id: String,
    pub floating_ip_address: IpAddr,
    /// The external subnet the address comes from.
    pub floating_subnet_id: String,
    pub port_id: Option<String>,
    pub fixed_ip_address: Option<IpAddr>,
    pub router_id: Option<String>,
}

/// An RBAC policy (`object_type` network only). `meta` keeps its id and project; its name,
/// description and tags stay empty (Neutron gives policies no standard attributes).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RbacPolicy {
    pub meta: Meta,
    pub object_type: String,
    pub object_id: String,
    pub action: String,
    pub target_tenant: String,
}
