//! Routers: external gateways (a network:router_gateway port on a router:external network)
//! and interfaces (network:router_interface ports taking the subnet's gateway address).

use serde_json::{Map, Value, json};

use super::NetworkData;
use super::model::*;
use super::ops::{ensure_owner, owner};
use super::ports::{IpRequest, NewPort};
use super::subnets::parse_ip;

/// A parsed `external_gateway_info`: None clears the gateway.
struct GatewayRequest {
    network_id: String,
    enable_snat: Option<bool>,
    fixed_ips: Option<Vec<IpRequest>>,
}

fn read_gateway(
    actor: &Actor,
    body: &Map<String, Value>,
    action: &str,
) -> NResult<Option<Option<GatewayRequest>>> {
    let Some(value) = body.get("external_gateway_info") else {
        return Ok(None);
    };
    let info = match value {
        Value::Null => return Ok(Some(None)),
        Value::Object(info) if info.is_empty() => return Ok(Some(None)),
        Value::Object(info) => info,
        other => {
            return Err(NeutronError::invalid_attr(
                "external_gateway_info",
                format!("{} is not a dictionary", py(other)),
            ));
        }
    };
    let extra: Vec<&str> = info
        .keys()
        .map(String::as_str)
        .filter(|k| !["network_id", "enable_snat", "external_fixed_ips"].contains(k))
        .collect();
    if !extra.is_empty() {
        return Err(NeutronError::invalid_attr(
            "external_gateway_info",
            format!("Unrecognized attribute(s) '{}'", extra.join(", ")),
        ));
    }
    let network_id = get_str(info, "network_id", 255)?.ok_or_else(|| {
        NeutronError::invalid_attr(
            "external_gateway_info",
            "Validation of dictionary's keys failed. Expected keys: {'network_id'} Provided keys: set()",
        )
    })?;
    let enable_snat = get_bool(info, "enable_snat")?;
    // The default policy keeps these two to admins; enable_snat=true is the default value.
    if !actor.admin && enable_snat == Some(false) {
        return Err(NeutronError::policy(&format!(
            "{action}:external_gateway_info:enable_snat"
        )));
    }
    let fixed_ips = match info.get("external_fixed_ips") {
        None => None,
        Some(value) => {
            if !actor.admin {
                return Err(NeutronError::policy(&format!(
                    "{action}:external_gateway_info:external_fixed_ips"
                )));
            }
            let items = value.as_array().ok_or_else(|| {
                NeutronError::invalid_attr(
                    "external_fixed_ips",
                    format!("{} is not a list", py(value)),
                )
            })?;
            let mut requests = Vec::new();
            for item in items {
                let entry = item.as_object().ok_or_else(|| {
                    NeutronError::invalid_attr(
                        "external_fixed_ips",
                        format!("{} is not a dictionary", py(item)),
                    )
                })?;
                let ip_address = match get_str(entry, "ip_address", 64)? {
                    Some(text) => Some(parse_ip("external_fixed_ips", &text)?),
                    None => None,
                };
                requests.push(IpRequest {
                    subnet_id: get_str(entry, "subnet_id", 255)?,
                    ip_address,
                });
            }
            Some(requests)
        }
    };
    Ok(Some(Some(GatewayRequest {
        network_id,
        enable_snat,
        fixed_ips,
    })))
}

impl NetworkData {
    pub fn router_visible(&self, router: &Router, actor: &Actor) -> bool {
        actor.admin || router.meta.project_id == actor.project_id
    }

    pub fn router(&self, actor: &Actor, id: &str) -> NResult<&Router> {
        self.routers
            .get(id)
            .filter(|r| self.router_visible(r, actor))
            .ok_or_else(|| Kind::Router.not_found(id))
    }

    pub fn create_router(&mut self, actor: &Actor, body: &Map<String, Value>) -> NResult<String> {
        let project = owner(actor, body)?;
        let name = get_str(body, "name", 255)?.unwrap_or_default();
        let description = get_str(body, "description", 255)?.unwrap_or_default();
        let admin_state_up = get_bool(body, "admin_state_up")?.unwrap_or(true);
        let hints = get_str_list(body, "availability_zone_hints")?.unwrap_or_default();
        let tags = validate_tags(&get_str_list(body, "tags")?.unwrap_or_default())?;
        let gateway = read_gateway(actor, body, "create_router")?.flatten();
        self.check_quota(&project, "router", 1)?;
        if let Some(gw) = &gateway {
            self.check_external(actor, &gw.network_id)?;
        }
        let router = Router {
            meta: Meta::new(&project, name, description, tags),
            admin_state_up,
            gateway: None,
            availability_zone_hints: hints,
            routes: Vec::new(),
        };
        let id = router.meta.id.clone();
        self.routers.insert(id.clone(), router);
        if let Some(gw) = gateway
            && let Err(error) = self.set_gateway(&id, gw)
        {
            self.routers.remove(&id);
            return Err(error);
        }
        Ok(id)
    }

    fn check_external(&self, actor: &Actor, network_id: &str) -> NResult<()> {
        let network = self.network(actor, network_id)?;
        if !network.external {
            return Err(NeutronError::bad_router(format!(
                "Network {network_id} is not an external network"
            )));
        }
        Ok(())
    }

    /// Replaces the router's gateway port by one on the requested external network.
    fn set_gateway(&mut self, router_id: &str, request: GatewayRequest) -> NResult<()> {
        let current = self.routers.get(router_id).and_then(|r| r.gateway.clone());
        let same_network = current
            .as_ref()
            .is_some_and(|g| g.network_id == request.network_id);
        let port_id = match (&current, same_network, &request.fixed_ips) {
            (Some(gw), true, None) => gw.port_id.clone(),
            (Some(gw), true, Some(requests)) => {
                let keep = self
                    .ports
                    .get(&gw.port_id)
                    .map(|p| p.fixed_ips.clone())
                    .unwrap_or_default();
                let ips = self.allocate_ips(
                    &request.network_id,
                    Some(requests),
                    Some(&gw.port_id),
                    &keep,
                )?;
                if let Some(port) = self.ports.get_mut(&gw.port_id) {
                    port.fixed_ips = ips;
                    port.meta.touch();
                }
                gw.port_id.clone()
            }
            _ => {
                let mut spec = NewPort::new("", &request.network_id);
                spec.device_id = router_id.to_string();
                spec.device_owner = OWNER_ROUTER_GATEWAY.to_string();
                // The L3 plugin makes its router ports with port security off (a port of the
                // user's made an interface keeps its own setting).
                spec.port_security_enabled = Some(false);
                spec.fixed_ips = request.fixed_ips;
                spec.binding_host_id = SIM_HOST.to_string();
                let new_port = self.insert_port(spec)?;
                if let Some(old) = &current {
                    self.ports.remove(&old.port_id);
                }
                new_port
            }
        };
        let enable_snat = request
            .enable_snat
            .or(current.filter(|_| same_network).map(|g| g.enable_snat))
            .unwrap_or(true);
        if let Some(router) = self.routers.get_mut(router_id) {
            router.gateway = Some(Gateway {
                network_id: request.network_id,
                enable_snat,
                port_id,
            });
        }
        Ok(())
    }

    pub fn update_router(
        &mut self,
        actor: &Actor,
        id: &str,
        body: &Map<String, Value>,
    ) -> NResult<()> {
        let mut router = self.router(actor, id)?.clone();
        ensure_owner(actor, &router.meta.project_id, "update_router")?;
        if let Some(name) = get_str(body, "name", 255)? {
            router.meta.name = name;
        }
        if let Some(description) = get_str(body, "description", 255)? {
            router.meta.description = description;
        }
        if let Some(up) = get_bool(body, "admin_state_up")? {
            router.admin_state_up = up;
        }
        if let Some(routes) = read_routes(body)? {
            self.check_routes(&router, &routes)?;
            router.routes = routes;
        }
        let gateway = read_gateway(actor, body, "update_router")?;
        if let Some(Some(gw)) = &gateway {
            self.check_external(actor, &gw.network_id)?;
        }
        router.meta.touch();
        let before = self.routers.insert(id.to_string(), router);
        match gateway {
            None => {}
            Some(None) => {
                if let Err(error) = self.check_gateway_unused(id) {
                    if let Some(before) = before {
                        self.routers.insert(id.to_string(), before);
                    }
                    return Err(error);
                }
                if let Some(old) = self.routers.get_mut(id).and_then(|r| r.gateway.take()) {
                    self.ports.remove(&old.port_id);
                }
            }
            Some(Some(gw)) => {
                // set_gateway changes no port when it fails; restoring the record makes the
                // whole update fail as one.
                let moves = self
                    .routers
                    .get(id)
                    .and_then(|r| r.gateway.as_ref())
                    .is_some_and(|g| g.network_id != gw.network_id);
                let checked = match moves {
                    true => self.check_gateway_unused(id),
                    false => Ok(()),
                };
                if let Err(error) = checked.and_then(|()| self.set_gateway(id, gw)) {
                    if let Some(before) = before {
                        self.routers.insert(id.to_string(), before);
                    }
                    return Err(error);
                }
            }
        }
        Ok(())
    }

    pub fn delete_router(&mut self, actor: &Actor, id: &str) -> NResult<()> {
        let router = self.router(actor, id)?;
        ensure_owner(actor, &router.meta.project_id, "delete_router")?;
        let interfaces: Vec<&str> = self
            .router_interface_ports(id)
            .map(|p| p.meta.id.as_str())
            .collect();
        if !interfaces.is_empty() {
            return Err(NeutronError::conflict(
                "RouterInUse",
                format!(
                    "Router {id} has ports still attached: {}",
                    interfaces.join(", ")
                ),
            ));
        }
        self.ports
            .retain(|_, p| !(p.device_id == id && p.device_owner == OWNER_ROUTER_GATEWAY));
        self.routers.remove(id);
        Ok(())
    }

    /// Neutron's extraroute rules: each nexthop on a subnet the router has an interface on,
    /// and none of them the router's own address there.
    fn check_routes(&self, router: &Router, routes: &[HostRoute]) -> NResult<()> {
        let interfaces: Vec<&FixedIp> = self
            .router_interface_ports(&router.meta.id)
            .flat_map(|p| p.fixed_ips.iter())
            .collect();
        for route in routes {
            let Ok(nexthop) = route.nexthop.parse::<std::net::IpAddr>() else {
                continue;
            };
            let connected = interfaces.iter().any(|ip| {
                self.subnets
                    .get(&ip.subnet_id)
                    .is_some_and(|s| s.cidr.contains(&nexthop))
            });
            let reason = if !connected {
                "the nexthop is not connected with router"
            } else if interfaces.iter().any(|ip| ip.ip_address == nexthop) {
                "the nexthop is used by router"
            } else {
                continue;
            };
            return Err(NeutronError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "InvalidRoutes",
                format!("Invalid format for routes: {}, {reason}", py_routes(routes)),
            ));
        }
        Ok(())
    }

    fn router_interface_ports(&self, router_id: &str) -> impl Iterator<Item = &Port> {
        self.ports
            .values()
            .filter(move |p| p.device_id == router_id && p.device_owner == OWNER_ROUTER_INTERFACE)
    }

    /// Refuses a second port of the router on a subnet, or overlapping interface subnets.
    fn check_new_interface_subnets(&self, router_id: &str, subnet_ids: &[String]) -> NResult<()> {
        for subnet_id in subnet_ids {
            let Some(new) = self.subnets.get(subnet_id) else {
                continue;
            };
            for port in self.router_interface_ports(router_id) {
                for ip in &port.fixed_ips {
                    if &ip.subnet_id == subnet_id {
                        return Err(NeutronError::bad_router(format!(
                            "Router already has a port on subnet {subnet_id}"
                        )));
                    }
                    if let Some(existing) = self.subnets.get(&ip.subnet_id)
                        && (existing.cidr.contains(&new.cidr.network())
                            || new.cidr.contains(&existing.cidr.network()))
                    {
                        return Err(NeutronError::bad_router(format!(
                            "Cidr {} of subnet {subnet_id} overlaps with cidr {} of subnet {}",
                            new.cidr, existing.cidr, existing.meta.id
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    fn interface_info(&self, router: &Router, port: &Port, subnet_id: &str) -> Value {
        let subnet_ids: Vec<&str> = port
            .fixed_ips
            .iter()
            .map(|ip| ip.subnet_id.as_str())
            .collect();
        json!({
            "id": router.meta.id,
            "network_id": port.network_id,
            "port_id": port.meta.id,
            "subnet_id": subnet_id,
            "subnet_ids": subnet_ids,
            "project_id": router.meta.project_id,
        })
    }

    fn interface_target(body: &Value) -> NResult<(Option<String>, Option<String>)> {
        let map = body
            .as_object()
            .ok_or_else(|| NeutronError::bad_request("Malformed request body"))?;
        let subnet_id = get_str(map, "subnet_id", 255)?;
        let port_id = get_str(map, "port_id", 255)?;
        Ok((subnet_id, port_id))
    }

    pub fn add_router_interface(
        &mut self,
        actor: &Actor,
        router_id: &str,
        body: &Value,
    ) -> NResult<Value> {
        let router = self.router(actor, router_id)?.clone();
        ensure_owner(actor, &router.meta.project_id, "add_router_interface")?;
        let (subnet_id, port_id) = Self::interface_target(body)?;
        match (subnet_id, port_id) {
            (Some(_), Some(_)) => Err(NeutronError::bad_router(
                "Cannot specify both subnet-id and port-id",
            )),
            (None, None) => Err(NeutronError::bad_router(
                "Either subnet_id or port_id must be specified",
            )),
            (Some(subnet_id), None) => {
                let subnet = self.subnet(actor, &subnet_id)?.clone();
                let Some(gateway_ip) = subnet.gateway_ip else {
                    return Err(NeutronError::bad_router(
                        "Subnet for router interface must have a gateway IP",
                    ));
                };
                self.check_new_interface_subnets(router_id, std::slice::from_ref(&subnet_id))?;
                let mut spec = NewPort::new(&subnet.meta.project_id, &subnet.network_id);
                spec.device_id = router_id.to_string();
                spec.device_owner = OWNER_ROUTER_INTERFACE.to_string();
                spec.port_security_enabled = Some(false);
                spec.binding_host_id = SIM_HOST.to_string();
                spec.fixed_ips = Some(vec![IpRequest {
                    subnet_id: Some(subnet_id.clone()),
                    ip_address: Some(gateway_ip),
                }]);
                let port_id = self.insert_port(spec)?;
                self.touch_router(router_id);
                let port = self
                    .ports
                    .get(&port_id)
                    .ok_or_else(|| Kind::Port.not_found(&port_id))?;
                Ok(self.interface_info(&router, port, &subnet_id))
            }
            (None, Some(port_id)) => {
                let port = self.port(actor, &port_id)?.clone();
                if !port.device_id.is_empty() {
                    return Err(NeutronError::conflict(
                        "PortInUse",
                        format!(
                            "Unable to complete operation on port {port_id} for network {}. \
                             Port already has an attached device {}.",
                            port.network_id, port.device_id
                        ),
                    ));
                }
                let Some(first) = port.fixed_ips.first() else {
                    return Err(NeutronError::bad_router(
                        "Router port must have at least one fixed IP",
                    ));
                };
                let subnet_id = first.subnet_id.clone();
                let subnet_ids: Vec<String> = port
                    .fixed_ips
                    .iter()
                    .map(|ip| ip.subnet_id.clone())
                    .collect();
                self.check_new_interface_subnets(router_id, &subnet_ids)?;
                if let Some(p) = self.ports.get_mut(&port_id) {
                    p.device_id = router_id.to_string();
                    // Real Neutron leaves the port's security groups and port security as
                    // they are; the L3 agent binds it as it binds the ports it makes.
                    p.device_owner = OWNER_ROUTER_INTERFACE.to_string();
                    p.binding_host_id = SIM_HOST.to_string();
                    p.meta.touch();
                }
                self.touch_router(router_id);
                let port = self
                    .ports
                    .get(&port_id)
                    .ok_or_else(|| Kind::Port.not_found(&port_id))?;
                Ok(self.interface_info(&router, port, &subnet_id))
            }
        }
    }

    fn touch_router(&mut self, router_id: &str) {
        if let Some(router) = self.routers.get_mut(router_id) {
            router.meta.touch();
        }
    }

    pub fn remove_router_interface(
        &mut self,
        actor: &Actor,
        router_id: &str,
        body: &Value,
    ) -> NResult<Value> {
        let router = self.router(actor, router_id)?.clone();
        ensure_owner(actor, &router.meta.project_id, "remove_router_interface")?;
        let (subnet_id, port_id) = Self::interface_target(body)?;
        let port = match (&subnet_id, &port_id) {
            (None, None) => {
                return Err(NeutronError::bad_router(
                    "Either subnet_id or port_id must be specified",
                ));
            }
            (_, Some(port_id)) => {
                let port = self
                    .router_interface_ports(router_id)
                    .find(|p| &p.meta.id == port_id)
                    .cloned()
                    .ok_or_else(|| {
                        NeutronError::not_found(
                            "RouterInterfaceNotFound",
                            format!(
                                "Router {router_id} does not have an interface with id {port_id}"
                            ),
                        )
                    })?;
                if let Some(subnet_id) = &subnet_id
                    && !port.fixed_ips.iter().any(|ip| &ip.subnet_id == subnet_id)
                {
                    return Err(NeutronError::conflict(
                        "SubnetMismatchForPort",
                        format!(
                            "Subnet on port {port_id} does not match the requested subnet {subnet_id}."
                        ),
                    ));
                }
                port
            }
            (Some(subnet_id), None) => {
                self.subnet(actor, subnet_id)?;
                self.router_interface_ports(router_id)
                    .find(|p| p.fixed_ips.iter().any(|ip| &ip.subnet_id == subnet_id))
                    .cloned()
                    .ok_or_else(|| {
                        NeutronError::not_found(
                            "RouterInterfaceNotFoundForSubnet",
                            format!("Router {router_id} has no interface on subnet {subnet_id}"),
                        )
                    })?
            }
        };
        let reported_subnet = subnet_id
            .clone()
            .or_else(|| port.fixed_ips.first().map(|ip| ip.subnet_id.clone()))
            .unwrap_or_default();
        // A route through the interface keeps it (real Neutron: 409, routes first).
        for ip in &port.fixed_ips {
            self.check_interface_unused(router_id, &ip.subnet_id)?;
            let Some(subnet) = self.subnets.get(&ip.subnet_id) else {
                continue;
            };
            let needed = router.routes.iter().any(|r| {
                r.nexthop
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|hop| subnet.cidr.contains(&hop))
            });
            if needed {
                return Err(NeutronError::conflict(
                    "RouterInterfaceInUseByRoute",
                    format!(
                        "Router interface for subnet {} on router {router_id} cannot be deleted, \
                         as it is required by one or more routes.",
                        ip.subnet_id
                    ),
                ));
            }
        }
        let info = self.interface_info(&router, &port, &reported_subnet);
        self.ports.remove(&port.meta.id);
        self.touch_router(router_id);
        Ok(info)
    }
}

/// `routes` of a router update: a list of {destination, nexthop}, checked as real Neutron
/// checks them (a destination must be a network address, a nexthop an address).
fn read_routes(body: &Map<String, Value>) -> NResult<Option<Vec<HostRoute>>> {
    let Some(value) = body.get("routes") else {
        return Ok(None);
    };
    let invalid = |reason: String| NeutronError::invalid_attr("routes", reason);
    if value.is_null() {
        return Ok(Some(Vec::new()));
    }
    let items = value
        .as_array()
        .ok_or_else(|| invalid(format!("{} is not a list", py(value))))?;
    let mut routes: Vec<HostRoute> = Vec::new();
    for item in items {
        let entry = item
            .as_object()
            .ok_or_else(|| invalid(format!("{} is not a dictionary", py(item))))?;
        let text = |key: &str| {
            entry
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| invalid(format!("Missing key '{key}'")))
        };
        let (destination, nexthop) = (text("destination")?, text("nexthop")?);
        let canonical = destination
            .parse::<ipnet::IpNet>()
            .ok()
            .filter(|net| net.trunc() == *net)
            .ok_or_else(|| invalid(format!("'{destination}' is not a valid CIDR")))?;
        parse_ip("routes", &nexthop)?;
        let route = HostRoute {
            destination: canonical.to_string(),
            nexthop,
        };
        if routes.contains(&route) {
            return Err(invalid(format!(
                "Duplicate hostroute '{}'",
                py_route(&route)
            )));
        }
        routes.push(route);
    }
    Ok(Some(routes))
}

fn py_route(route: &HostRoute) -> String {
    format!(
        "{{'destination': '{}', 'nexthop': '{}'}}",
        route.destination, route.nexthop
    )
}

/// Routes as Python prints the list (Neutron's InvalidRoutes message quotes it).
fn py_routes(routes: &[HostRoute]) -> String {
    let items: Vec<String> = routes.iter().map(py_route).collect();
    format!("[{}]", items.join(", "))
}
