//! Floating IPs: addresses of an external network's subnet, allocated to a project and
//! associated with one fixed IP of a port, through the router that connects the port's subnet
//! to that external network (Neutron's L3 rules, with its exact errors).

use std::collections::BTreeSet;
use std::net::IpAddr;

use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use super::NetworkData;
use super::model::*;
use super::ops::{ensure_owner, owner};
use super::subnets::{ip_to_u128, parse_ip};

/// `Bad floatingip request: <msg>.` (neutron_lib BadRequest with resource='floatingip').
fn bad_floatingip(message: impl std::fmt::Display) -> NeutronError {
    NeutronError::new(
        StatusCode::BAD_REQUEST,
        "BadRequest",
        format!("Bad floatingip request: {message}."),
    )
}

/// Where an association points, once checked.
struct Association {
    port_id: String,
    fixed_ip: IpAddr,
    router_id: String,
}

impl NetworkData {
    pub fn floating_ip_visible(&self, fip: &FloatingIp, actor: &Actor) -> bool {
        actor.admin || fip.meta.project_id == actor.project_id
    }

    pub fn floating_ip(&self, actor: &Actor, id: &str) -> NResult<&FloatingIp> {
        self.floating_ips
            .get(id)
            .filter(|f| self.floating_ip_visible(f, actor))
            .ok_or_else(|| Kind::FloatingIp.not_found(id))
    }

    /// The floating addresses taken on `subnet_id`: ports do not hold them here (real Neutron
    /// makes a `network:floatingip` port for each), so IPAM counts them beside the ports'.
    pub(super) fn floating_ips_on<'a>(
        &'a self,
        subnet_id: &'a str,
    ) -> impl Iterator<Item = u128> + 'a {
        self.floating_ips
            .values()
            .filter(move |f| f.floating_subnet_id == subnet_id)
            .map(|f| ip_to_u128(f.floating_ip_address))
    }

    pub fn render_floating_ip(&self, fip: &FloatingIp) -> Map<String, Value> {
        let mut out = Map::new();
        fip.meta.put_common(&mut out, false);
        let port = fip.port_id.as_deref().and_then(|id| self.ports.get(id));
        // The L3 agent reports ACTIVE once it wired the association to a bound port; an
        // unassociated address (or one on an unbound port) stays DOWN, as real Neutron shows.
        let status = match port {
            Some(port) if port.status() == "ACTIVE" => "ACTIVE",
            _ => "DOWN",
        };
        // fip-port-details: what the associated port looks like.
        let details = port.map(|p| {
            json!({
                "name": p.meta.name,
                "network_id": p.network_id,
                "mac_address": p.mac_address,
                "admin_state_up": p.admin_state_up,
                "status": p.status(),
                "device_id": p.device_id,
                "device_owner": p.device_owner,
            })
        });
        out.insert(
            "floating_ip_address".into(),
            json!(fip.floating_ip_address.to_string()),
        );
        out.insert("floating_network_id".into(), json!(fip.floating_network_id));
        out.insert("router_id".into(), json!(fip.router_id));
        out.insert("port_id".into(), json!(fip.port_id));
        out.insert(
            "fixed_ip_address".into(),
            json!(fip.fixed_ip_address.map(|ip| ip.to_string())),
        );
        out.insert("status".into(), json!(status));
        out.insert("port_details".into(), details.unwrap_or(Value::Null));
        out.insert("tags".into(), json!(fip.meta.tags));
        out
    }

    pub fn create_floating_ip(
        &mut self,
        actor: &Actor,
        body: &Map<String, Value>,
    ) -> NResult<String> {
        let project = owner(actor, body)?;
        let network_id = get_str(body, "floating_network_id", 255)?.ok_or_else(|| {
            NeutronError::bad_request(
                "Failed to parse request. Required attribute 'floating_network_id' not specified",
            )
        })?;
        let description = get_str(body, "description", 255)?.unwrap_or_default();
        let wanted_address = match get_nullable_str(body, "floating_ip_address")?.flatten() {
            Some(text) => Some(parse_ip("floating_ip_address", &text)?),
            None => None,
        };
        // Neutron's default policy keeps a chosen address to admins.
        if wanted_address.is_some() && !actor.admin {
            return Err(NeutronError::policy(
                "create_floatingip:floating_ip_address",
            ));
        }
        let network = self.network(actor, &network_id)?;
        if !network.external {
            return Err(bad_floatingip(format!(
                "Network {network_id} is not a valid external network"
            )));
        }
        let (subnet_id, address) = self.allocate_floating_address(&network_id, wanted_address)?;
        self.check_quota(&project, "floatingip", 1)?;
        let mut meta = Meta::new(&project, String::new(), description, Vec::new());
        // Real Neutron answers a new floating IP with revision_number 0.
        meta.revision_number = 0;
        let mut fip = FloatingIp {
            meta,
            floating_network_id: network_id,
            floating_ip_address: address,
            floating_subnet_id: subnet_id,
            port_id: None,
            fixed_ip_address: None,
            router_id: None,
        };
        if let Some(port_id) = get_nullable_str(body, "port_id")?.flatten() {
            let fixed = get_nullable_str(body, "fixed_ip_address")?.flatten();
            let association = self.association(actor, &fip, &port_id, fixed.as_deref())?;
            fip.port_id = Some(association.port_id);
            fip.fixed_ip_address = Some(association.fixed_ip);
            fip.router_id = Some(association.router_id);
        }
        let id = fip.meta.id.clone();
        self.floating_ips.insert(id.clone(), fip);
        Ok(id)
    }

    /// An address of the external network: `wanted` if it lies in one of its subnets and is
    /// free, else the lowest free one of its IPv4 subnets' pools.
    fn allocate_floating_address(
        &self,
        network_id: &str,
        wanted: Option<IpAddr>,
    ) -> NResult<(String, IpAddr)> {
        let subnets: Vec<&Subnet> = self
            .networks
            .get(network_id)
            .map(|n| {
                n.subnets
                    .iter()
                    .filter_map(|s| self.subnets.get(s))
                    .filter(|s| s.ip_version == 4)
                    .collect()
            })
            .unwrap_or_default();
        let used = |subnet: &Subnet| -> BTreeSet<u128> { self.used_ips(&subnet.meta.id, None) };
        if let Some(ip) = wanted {
            let subnet = subnets
                .iter()
                .find(|s| s.cidr.contains(&ip))
                .ok_or_else(|| {
                    NeutronError::new(
                        StatusCode::BAD_REQUEST,
                        "InvalidIpForNetwork",
                        format!(
                            "IP address {ip} is not a valid IP for any of the subnets on the \
                         specified network."
                        ),
                    )
                })?;
            if used(subnet).contains(&ip_to_u128(ip)) {
                return Err(NeutronError::conflict(
                    "IpAddressAlreadyAllocated",
                    format!(
                        "IP address {ip} already allocated in subnet {}",
                        subnet.meta.id
                    ),
                ));
            }
            return Ok((subnet.meta.id.clone(), ip));
        }
        subnets
            .iter()
            .find_map(|s| Self::next_free(s, &used(s)).map(|ip| (s.meta.id.clone(), ip)))
            .ok_or_else(|| {
                NeutronError::conflict(
                    "IpAddressGenerationFailure",
                    format!("No more IP addresses available on network {network_id}."),
                )
            })
    }

    /// Checks an association of `fip` with `port_id` as Neutron's L3 plugin does: the port is
    /// the floating IP's project's, has the IPv4 address to use, that address has no other
    /// floating IP of the same external network, and a router with a gateway on that network
    /// has an interface on the address's subnet.
    fn association(
        &self,
        actor: &Actor,
        fip: &FloatingIp,
        port_id: &str,
        fixed_ip: Option<&str>,
    ) -> NResult<Association> {
        let port = self.port(actor, port_id)?;
        if port.meta.project_id != fip.meta.project_id && !actor.admin {
            return Err(bad_floatingip(format!(
                "Cannot create floating IP and bind it to Port {port_id}, since that port is \
                 owned by a different tenant"
            )));
        }
        let v4: Vec<&FixedIp> = port
            .fixed_ips
            .iter()
            .filter(|ip| ip.ip_address.is_ipv4())
            .collect();
        let chosen = match fixed_ip {
            Some(text) => {
                let ip = parse_ip("fixed_ip_address", text)?;
                *v4.iter().find(|f| f.ip_address == ip).ok_or_else(|| {
                    bad_floatingip(format!("Port {port_id} does not have fixed ip {ip}"))
                })?
            }
            None => match v4.as_slice() {
                [one] => *one,
                [] => {
                    return Err(bad_floatingip(format!(
                        "Port {port_id} does not have any IPv4 address"
                    )));
                }
                _ => {
                    return Err(bad_floatingip(format!(
                        "Port {port_id} has multiple fixed IPv4 addresses.  Must provide a \
                         specific IPv4 address when assigning a floating IP"
                    )));
                }
            },
        };
        if self.floating_ips.values().any(|other| {
            other.meta.id != fip.meta.id
                && other.floating_network_id == fip.floating_network_id
                && other.port_id.as_deref() == Some(port_id)
                && other.fixed_ip_address == Some(chosen.ip_address)
        }) {
            return Err(NeutronError::conflict(
                "FloatingIPPortAlreadyAssociated",
                format!(
                    "Cannot associate floating IP {} ({}) with port {port_id} using fixed IP {}, \
                     as that fixed IP already has a floating IP on external network {}.",
                    fip.floating_ip_address,
                    fip.meta.id,
                    chosen.ip_address,
                    fip.floating_network_id
                ),
            ));
        }
        let router_id = self
            .router_for_floating_ip(&chosen.subnet_id, &fip.floating_network_id)
            .ok_or_else(|| {
                NeutronError::not_found(
                    "ExternalGatewayForFloatingIPNotFound",
                    format!(
                        "External network {} is not reachable from subnet {}.  Therefore, \
                         cannot associate Port {port_id} with a Floating IP.",
                        fip.floating_network_id, chosen.subnet_id
                    ),
                )
            })?;
        Ok(Association {
            port_id: port_id.to_string(),
            fixed_ip: chosen.ip_address,
            router_id,
        })
    }

    /// The router with an interface on `subnet_id` and its gateway on `external_network_id`.
    fn router_for_floating_ip(&self, subnet_id: &str, external_network_id: &str) -> Option<String> {
        self.ports
            .values()
            .filter(|p| p.device_owner == OWNER_ROUTER_INTERFACE)
            .filter(|p| p.fixed_ips.iter().any(|ip| ip.subnet_id == subnet_id))
            .find(|p| {
                self.routers.get(&p.device_id).is_some_and(|r| {
                    r.gateway
                        .as_ref()
                        .is_some_and(|g| g.network_id == external_network_id)
                })
            })
            .map(|p| p.device_id.clone())
    }

    pub fn update_floating_ip(
        &mut self,
        actor: &Actor,
        id: &str,
        body: &Map<String, Value>,
    ) -> NResult<()> {
        let mut fip = self.floating_ip(actor, id)?.clone();
        ensure_owner(actor, &fip.meta.project_id, "update_floatingip")?;
        if let Some(description) = get_str(body, "description", 255)? {
            fip.meta.description = description;
        }
        match get_nullable_str(body, "port_id")? {
            None => {}
            Some(None) => {
                fip.port_id = None;
                fip.fixed_ip_address = None;
                fip.router_id = None;
            }
            Some(Some(port_id)) => {
                let fixed = get_nullable_str(body, "fixed_ip_address")?.flatten();
                let association = self.association(actor, &fip, &port_id, fixed.as_deref())?;
                fip.port_id = Some(association.port_id);
                fip.fixed_ip_address = Some(association.fixed_ip);
                fip.router_id = Some(association.router_id);
            }
        }
        fip.meta.touch();
        self.floating_ips.insert(id.to_string(), fip);
        Ok(())
    }

    pub fn delete_floating_ip(&mut self, actor: &Actor, id: &str) -> NResult<()> {
        let fip = self.floating_ip(actor, id)?;
        ensure_owner(actor, &fip.meta.project_id, "delete_floatingip")?;
        self.floating_ips.remove(id);
        Ok(())
    }

    /// A port going away takes its floating IPs' associations with it (Neutron's
    /// `disassociate_floatingips` on port delete): the addresses stay allocated.
    pub(super) fn disassociate_port(&mut self, port_id: &str) {
        let associated: Vec<String> = self
            .floating_ips
            .values()
            .filter(|f| f.port_id.as_deref() == Some(port_id))
            .map(|f| f.meta.id.clone())
            .collect();
        for id in associated {
            if let Some(fip) = self.floating_ips.get_mut(&id) {
                fip.port_id = None;
                fip.fixed_ip_address = None;
                fip.router_id = None;
                fip.meta.touch();
            }
        }
    }

    /// Refuses to remove `router_id`'s interface on `subnet_id` while a floating IP reaches
    /// its port through it.
    pub(super) fn check_interface_unused(&self, router_id: &str, subnet_id: &str) -> NResult<()> {
        let in_use = self.floating_ips.values().any(|f| {
            f.router_id.as_deref() == Some(router_id)
                && f.port_id
                    .as_deref()
                    .and_then(|p| self.ports.get(p))
                    .is_some_and(|p| {
                        p.fixed_ips.iter().any(|ip| {
                            ip.subnet_id == subnet_id && Some(ip.ip_address) == f.fixed_ip_address
                        })
                    })
        });
        if in_use {
            return Err(NeutronError::conflict(
                "RouterInterfaceInUseByFloatingIP",
                format!(
                    "Router interface for subnet {subnet_id} on router {router_id} cannot be \
                     deleted, as it is required by one or more floating IPs."
                ),
            ));
        }
        Ok(())
    }

    /// Real Neutron refuses to clear a gateway that associated floating IPs go through
    /// (checked on devstack: 409 RouterExternalGatewayInUseByFloatingIp).
    pub(super) fn check_gateway_unused(&self, router_id: &str) -> NResult<()> {
        let Some(gateway) = self.routers.get(router_id).and_then(|r| r.gateway.as_ref()) else {
            return Ok(());
        };
        let in_use = self.floating_ips.values().any(|f| {
            f.router_id.as_deref() == Some(router_id)
                && f.port_id.is_some()
                && f.floating_network_id == gateway.network_id
        });
        if in_use {
            return Err(NeutronError::conflict(
                "RouterExternalGatewayInUseByFloatingIp",
                format!(
                    "Gateway cannot be updated for router {router_id}, since a gateway to \
                     external network {} is required by one or more floating IPs.",
                    gateway.network_id
                ),
            ));
        }
        Ok(())
    }

    /// Nova's `addresses` entries for the floating IPs of a port's fixed IP.
    pub(super) fn floating_addresses_of(&self, port_id: &str, fixed: IpAddr) -> Vec<IpAddr> {
        self.floating_ips
            .values()
            .filter(|f| f.port_id.as_deref() == Some(port_id) && f.fixed_ip_address == Some(fixed))
            .map(|f| f.floating_ip_address)
            .collect()
    }
}
