//! Nova's seam into Neutron: the ports a server boots with (created or bound, security
//! groups resolved as Nova resolves them), their removal with the server, and the views Nova
//! builds from them (`addresses`, `security_groups`, os-security-groups, os-interface).
//! Nova never touches ports directly; this file is all it may ask of Neutron.

use serde_json::{Map, Value, json};

use super::model::{self, Actor, NeutronError, OWNER_COMPUTE, SIM_HOST};
use super::ports::{IpRequest, NewPort};
use super::{NetworkData, NicError, ServerNic};

impl NetworkData {
    /// Creates (or binds) the port for `server_id` in `project_id`, with device_owner
    /// "compute:nova" and the given security groups (names or ids; empty = the project's
    /// "default" group, created on first use as Neutron does). Returns the port id.
    ///
    /// `admin` is whether the booting user holds the admin role: Nova looks the requested
    /// networks up with the user's own Neutron view, so an admin may boot on any project's
    /// network (the port then belongs to the server's project, as real Nova makes it).
    pub fn attach_server_port(
        &mut self,
        project_id: &str,
        admin: bool,
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
                let network = self.network(&actor, network_id).or_else(|_| {
                    match self.networks.get(network_id) {
                        Some(network) if admin => Ok(network),
                        _ => Err(NicError::NetworkNotFound(network_id.clone())),
                    }
                })?;
                if network.meta.project_id != project_id && !network.shared && !admin {
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
        let deleted: Vec<String> = self
            .ports
            .values()
            .filter(|p| p.device_id == server_id && p.created_by_nova)
            .map(|p| p.meta.id.clone())
            .collect();
        for id in &deleted {
            self.ports.remove(id);
            self.disassociate_port(id);
        }
        // Only the server's ports are borrowed mutably: each one borrowed is journaled.
        let bound: Vec<String> = self
            .ports
            .values()
            .filter(|p| p.device_id == server_id && p.device_owner == OWNER_COMPUTE)
            .map(|p| p.meta.id.clone())
            .collect();
        for id in &bound {
            let Some(port) = self.ports.get_mut(id) else {
                continue;
            };
            port.device_id.clear();
            port.device_owner.clear();
            port.binding_host_id.clear();
            port.meta.touch();
        }
    }

    /// Detaches one port from a server (os-interface DELETE): deleted if Nova made it,
    /// unbound and kept otherwise. The error is Nova's 404 message for a port it cannot show.
    pub fn detach_server_port(&mut self, server_id: &str, port_id: &str) -> Result<(), String> {
        self.server_interface(server_id, port_id, false)?;
        if self.ports.get(port_id).is_some_and(|p| p.created_by_nova) {
            self.ports.remove(port_id);
            return Ok(());
        }
        if let Some(port) = self.ports.get_mut(port_id) {
            port.device_id.clear();
            port.device_owner.clear();
            port.binding_host_id.clear();
            port.meta.touch();
        }
        Ok(())
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
                    for floating in self.floating_addresses_of(&port.meta.id, ip.ip_address) {
                        list.push(json!({
                            "version": 4,
                            "addr": floating.to_string(),
                            "OS-EXT-IPS:type": "floating",
                            "OS-EXT-IPS-MAC:mac_addr": port.mac_address,
                        }));
                    }
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

    /// The groups on the server's ports as Nova's os-security-groups shows them
    /// (nova/network/security_group_api.py then api/openstack/compute/security_groups.py):
    /// one entry per port and group (a group on two ports is listed twice, as Nova does),
    /// ingress rules only, ports defaulted by protocol, a remote group shown by name, sorted
    /// by (tenant_id, name).
    pub fn server_security_group_views(&self, server_id: &str) -> Vec<Value> {
        let mut views: Vec<Value> = self
            .ports
            .values()
            .filter(|p| p.device_id == server_id)
            .flat_map(|port| port.security_groups.iter())
            .filter_map(|id| self.security_groups.get(id))
            .map(|group| {
                let rules: Vec<Value> = self
                    .rules
                    .values()
                    .filter(|r| r.security_group_id == group.meta.id && r.direction == "ingress")
                    .filter_map(|rule| self.nova_rule_view(rule))
                    .collect();
                json!({
                    "id": group.meta.id,
                    "description": group.meta.description,
                    "name": group.meta.name,
                    "tenant_id": group.meta.project_id,
                    "rules": rules,
                })
            })
            .collect();
        // Python's sort is stable, and so is this one.
        views.sort_by(|a, b| {
            let key = |v: &Value| (v["tenant_id"].to_string(), v["name"].to_string());
            key(a).cmp(&key(b))
        });
        views
    }

    /// One rule in Nova's proxy shape; None when its remote group is gone (Nova skips it).
    fn nova_rule_view(&self, rule: &model::SecurityGroupRule) -> Option<Value> {
        let (from_port, to_port) = match (&rule.protocol, rule.port_range_min, rule.port_range_max)
        {
            (Some(protocol), None, None) => {
                if matches!(protocol.to_ascii_uppercase().as_str(), "TCP" | "UDP") {
                    (json!(1), json!(65535))
                } else {
                    (json!(-1), json!(-1))
                }
            }
            (_, min, max) => (json!(min), json!(max)),
        };
        let (group, ip_range) = match &rule.remote_group_id {
            Some(remote) => {
                let source = self.security_groups.get(remote)?;
                (
                    json!({"name": source.meta.name, "tenant_id": source.meta.project_id}),
                    json!({}),
                )
            }
            // Nova's parse_cidr: no prefix means 0.0.0.0/0, even on an IPv6 rule.
            None => (
                json!({}),
                json!({"cidr": rule.remote_ip_prefix.as_deref().unwrap_or("0.0.0.0/0")}),
            ),
        };
        Some(json!({
            "id": rule.meta.id,
            "parent_group_id": rule.security_group_id,
            "ip_protocol": rule.protocol,
            "from_port": from_port,
            "to_port": to_port,
            "group": group,
            "ip_range": ip_range,
        }))
    }

    /// The server's ports as Nova's os-interface lists them (`interfaceAttachments`: Neutron's
    /// ports whose device_id is the server, in Neutron's list order); `tag` from microversion
    /// 2.70, always null since the embedded cloud takes no device tags.
    pub fn server_interfaces(&self, server_id: &str, with_tag: bool) -> Vec<Value> {
        self.ports
            .values()
            .filter(|p| p.device_id == server_id)
            .map(|port| self.interface_view(port, with_tag))
            .collect()
    }

    /// One port in os-interface's shape, or Nova's 404 message: the port is unknown, or it is
    /// not the server's.
    pub fn server_interface(
        &self,
        server_id: &str,
        port_id: &str,
        with_tag: bool,
    ) -> Result<Value, String> {
        let port = self
            .ports
            .get(port_id)
            .ok_or_else(|| format!("Port id {port_id} could not be found."))?;
        if port.device_id != server_id {
            return Err(format!(
                "Instance {server_id} does not have a port with id {port_id}"
            ));
        }
        Ok(self.interface_view(port, with_tag))
    }

    fn interface_view(&self, port: &model::Port, with_tag: bool) -> Value {
        let fixed_ips: Vec<Value> = port
            .fixed_ips
            .iter()
            .map(|ip| json!({"subnet_id": ip.subnet_id, "ip_address": ip.ip_address.to_string()}))
            .collect();
        let mut view = json!({
            "port_state": port.status(),
            "fixed_ips": fixed_ips,
            "port_id": port.meta.id,
            "net_id": port.network_id,
            "mac_addr": port.mac_address,
        });
        if with_tag {
            view["tag"] = Value::Null;
        }
        view
    }

    /// The networks a project may boot on when it does not name one (`networks: "auto"`):
    /// its own, and shared ones, not external.
    pub fn bootable_networks(&self, project_id: &str) -> Vec<String> {
        self.networks
            .values()
            .filter(|n| !n.external && self.shared_with(n, project_id))
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
