//! Subnets and their addresses: CIDR and gateway rules, allocation pools, DNS servers, host
//! routes, IPv6 modes, and subnet create/update/delete.

use std::net::IpAddr;

use axum::http::StatusCode;
use ipnet::IpNet;
use serde_json::{Map, Value};

use super::NetworkData;
use super::model::*;
use super::ops::*;

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

pub(super) fn ip_family(ip: &IpAddr) -> u8 {
    if ip.is_ipv4() { 4 } else { 6 }
}

pub(super) fn net_version(net: &IpNet) -> u8 {
    if matches!(net, IpNet::V4(_)) { 4 } else { 6 }
}

impl NetworkData {
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
        // Only the ports holding one of its addresses are borrowed mutably: each one borrowed
        // is journaled.
        let holders: Vec<String> = self
            .ports
            .values()
            .filter(|p| p.fixed_ips.iter().any(|ip| ip.subnet_id == id))
            .map(|p| p.meta.id.clone())
            .collect();
        for port_id in &holders {
            if let Some(port) = self.ports.get_mut(port_id) {
                port.fixed_ips.retain(|ip| ip.subnet_id != id);
            }
        }
        self.subnets.remove(id);
        if let Some(net) = self.networks.get_mut(&network_id) {
            net.subnets.retain(|s| s != id);
            net.meta.touch();
        }
        Ok(())
    }
}

pub(super) fn validate_gateway(cidr: &IpNet, text: &str, ip_version: u8) -> NResult<IpAddr> {
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

pub(super) fn read_pools(
    value: &Value,
    cidr: &IpNet,
    gateway: Option<IpAddr>,
) -> NResult<Vec<Pool>> {
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

pub(super) fn read_nameservers(body: &Map<String, Value>) -> NResult<Option<Vec<String>>> {
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

pub(super) fn read_host_routes(body: &Map<String, Value>) -> NResult<Option<Vec<HostRoute>>> {
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

pub(super) fn read_ipv6_mode(
    body: &Map<String, Value>,
    key: &str,
    ip_version: u8,
) -> NResult<Option<String>> {
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
