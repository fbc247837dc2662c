//! The data layer shared by every Neutron resource, and networks: visibility, lookups by
//! actor, ownership of a body's project, quotas, and network create/update/delete with the
//! in-use rules that make deletes fail with 409.

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

impl NetworkData {
    // ---- visibility -------------------------------------------------------------------

    pub fn network_visible(&self, net: &Network, actor: &Actor) -> bool {
        actor.admin
            || net.meta.project_id == actor.project_id
            || net.shared
            || net.external
            || self.rbac_visible(net, &actor.project_id)
    }

    pub fn subnet_visible(&self, subnet: &Subnet, actor: &Actor) -> bool {
        actor.admin
            || subnet.meta.project_id == actor.project_id
            || self
                .networks
                .get(&subnet.network_id)
                .is_some_and(|n| n.shared || n.external || self.rbac_visible(n, &actor.project_id))
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
            "network" => self.networks.ids_of_project(project_id).len(),
            "subnet" => self.subnets.ids_of_project(project_id).len(),
            "port" => self.ports.ids_of_project(project_id).len(),
            "router" => self.routers.ids_of_project(project_id).len(),
            "security_group" => self.security_groups.ids_of_project(project_id).len(),
            "security_group_rule" => self.rules.ids_of_project(project_id).len(),
            "floatingip" => self.floating_ips.ids_of_project(project_id).len(),
            "rbac_policy" => self.rbac_policies.ids_of_project(project_id).len(),
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
        if shared {
            // Neutron's `shared` is the wildcard access_as_shared policy.
            self.set_network_shared(&id, true);
        }
        if external {
            // ... and `router:external` the wildcard access_as_external one.
            self.set_network_external(&id, true);
        }
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
                            // Real Neutron names the network by its name here.
                            format!(
                                "Unable to reconfigure sharing settings for network {}. \
                                 Multiple projects are using it.",
                                net.meta.name
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
        let shared_changed = updated.shared != net.shared;
        let external_changed = updated.external != net.external;
        let (shared, external) = (updated.shared, updated.external);
        self.networks.insert(id.to_string(), updated);
        if shared_changed {
            self.set_network_shared(id, shared);
        }
        if external_changed {
            self.set_network_external(id, external);
        }
        Ok(())
    }

    pub(super) fn foreign_ports_on(&self, net: &Network) -> bool {
        // A project an RBAC policy of its own targets keeps the network without `shared`.
        let targeted = |project: &str| {
            self.rbac_policies
                .children_of(&net.meta.id)
                .any(|p| p.action == super::rbac::ACCESS_AS_SHARED && p.target_tenant == project)
        };
        self.ports.children_of(&net.meta.id).any(|p| {
            !p.meta.project_id.is_empty()
                && p.meta.project_id != net.meta.project_id
                && !targeted(&p.meta.project_id)
        })
    }

    pub(super) fn has_gateway_ports(&self, network_id: &str) -> bool {
        self.ports
            .values()
            .any(|p| p.network_id == network_id && p.device_owner == OWNER_ROUTER_GATEWAY)
    }

    pub fn delete_network(&mut self, actor: &Actor, id: &str) -> NResult<()> {
        let net = self.network(actor, id)?;
        ensure_owner(actor, &net.meta.project_id, "delete_network")?;
        // Real Neutron holds each floating IP in a port of its external network.
        let in_use = self
            .ports
            .values()
            .any(|p| p.network_id == id && p.device_owner != OWNER_DHCP)
            || !self.floating_ips.ids_under(id).is_empty();
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
        self.forget_rbac_policies_of(id);
        Ok(())
    }
}

pub(super) fn validate_mtu(mtu: i64, max: i64) -> NResult<i64> {
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
