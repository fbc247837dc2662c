//! Neutron v2.0: networks, subnets, ports, routers (interfaces, gateway), security groups and
//! rules, quotas, tags. Lists follow `<collection>_links` pages.

use std::collections::BTreeMap;

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::collection::Wrapped;
use super::{ApiError, ServiceType, Session};

const NETWORK: ServiceType = ServiceType::Network;

/// A Neutron collection: its URL path, list key and object key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Collection {
    pub path: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
}

pub const NETWORKS: Collection = Collection {
    path: "networks",
    plural: "networks",
    singular: "network",
};
pub const SUBNETS: Collection = Collection {
    path: "subnets",
    plural: "subnets",
    singular: "subnet",
};
pub const PORTS: Collection = Collection {
    path: "ports",
    plural: "ports",
    singular: "port",
};
pub const ROUTERS: Collection = Collection {
    path: "routers",
    plural: "routers",
    singular: "router",
};
pub const SECURITY_GROUPS: Collection = Collection {
    path: "security-groups",
    plural: "security_groups",
    singular: "security_group",
};
pub const SECURITY_GROUP_RULES: Collection = Collection {
    path: "security-group-rules",
    plural: "security_group_rules",
    singular: "security_group_rule",
};
pub const RBAC_POLICIES: Collection = Collection {
    path: "rbac-policies",
    plural: "rbac_policies",
    singular: "rbac_policy",
};

pub const FLOATINGIPS: Collection = Collection {
    path: "floatingips",
    plural: "floatingips",
    singular: "floatingip",
};

/// A floating IP: an address of an external network, associated with a port's fixed IP or not.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct FloatingIp {
    pub id: String,
    pub project_id: String,
    pub floating_ip_address: String,
    pub floating_network_id: String,
    /// null when not associated.
    pub port_id: Option<String>,
    pub fixed_ip_address: Option<String>,
    pub router_id: Option<String>,
    pub status: String,
    pub description: Option<String>,
    /// fip-port-details: the associated port's device, where the cloud has the extension.
    pub port_details: Option<FloatingIpPortDetails>,
    pub tags: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct FloatingIpPortDetails {
    pub device_id: String,
    pub device_owner: String,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Network {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub project_id: String,
    pub admin_state_up: Option<bool>,
    pub mtu: Option<i64>,
    pub status: String,
    pub tags: Vec<String>,
    #[serde(rename = "router:external")]
    pub external: Option<bool>,
    /// As the caller sees it: real Neutron says true to a project an `access_as_shared`
    /// policy targets, and to everyone once one targets `*`.
    pub shared: Option<bool>,
    pub port_security_enabled: Option<bool>,
    /// Only on clouds with the `dns-integration` extension.
    pub dns_domain: Option<String>,
}

/// An RBAC policy: `object_id` (a network) made usable by `target_tenant` (a project id or
/// `*`). Real Neutron gives these no standard attributes: no tags, no name, no timestamps.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct RbacPolicy {
    pub id: String,
    pub project_id: String,
    pub object_type: String,
    pub object_id: String,
    pub action: String,
    pub target_tenant: String,
    /// Always empty: present so that policies go through the generic Neutron lists.
    pub tags: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Subnet {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub project_id: String,
    pub network_id: String,
    pub cidr: String,
    pub ip_version: i64,
    pub gateway_ip: Option<String>,
    pub enable_dhcp: Option<bool>,
    pub dns_nameservers: Vec<String>,
    pub allocation_pools: Vec<AllocationPool>,
    pub tags: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default)]
pub struct AllocationPool {
    pub start: String,
    pub end: String,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct FixedIp {
    pub subnet_id: String,
    pub ip_address: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Port {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub project_id: String,
    pub network_id: String,
    pub admin_state_up: Option<bool>,
    pub device_id: String,
    pub device_owner: String,
    pub fixed_ips: Vec<FixedIp>,
    pub security_groups: Vec<String>,
    pub status: String,
    pub tags: Vec<String>,
    pub mac_address: String,
    /// Absent where the port-security extension is not loaded.
    pub port_security_enabled: Option<bool>,
    pub allowed_address_pairs: Vec<AddressPair>,
}

/// One allowed address pair; Neutron fills in the port's own MAC when none is given.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct AddressPair {
    pub ip_address: String,
    pub mac_address: Option<String>,
}

impl Port {
    /// A router's interface port, whatever the router flavour (legacy, DVR, HA).
    pub fn is_router_interface(&self) -> bool {
        matches!(
            self.device_owner.as_str(),
            "network:router_interface"
                | "network:router_interface_distributed"
                | "network:ha_router_replicated_interface"
        )
    }
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Router {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub project_id: String,
    pub admin_state_up: Option<bool>,
    /// null when the router has no gateway.
    pub external_gateway_info: Option<Value>,
    pub status: String,
    pub tags: Vec<String>,
    /// Static routes (extraroute).
    pub routes: Vec<Route>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Route {
    pub destination: String,
    pub nexthop: String,
}

impl Router {
    pub fn has_gateway(&self) -> bool {
        self.external_gateway_info
            .as_ref()
            .is_some_and(|info| info.get("network_id").is_some_and(|n| !n.is_null()))
    }

    /// Whether the gateway translates addresses (None without a gateway, or when the cloud
    /// does not show it to this user).
    pub fn enable_snat(&self) -> Option<bool> {
        self.external_gateway_info
            .as_ref()
            .filter(|_| self.has_gateway())
            .and_then(|info| info.get("enable_snat"))
            .and_then(Value::as_bool)
    }

    /// The gateway's addresses on the external network, in the cloud's order.
    pub fn external_ips(&self) -> Vec<String> {
        self.external_gateway_info
            .as_ref()
            .and_then(|info| info.get("external_fixed_ips"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|ip| ip.get("ip_address").and_then(Value::as_str))
            .map(str::to_string)
            .collect()
    }
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct SecurityGroup {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub project_id: String,
    pub security_group_rules: Vec<SecurityGroupRule>,
    pub tags: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct SecurityGroupRule {
    pub id: String,
    pub security_group_id: String,
    pub direction: String,
    pub ethertype: String,
    /// A name ("tcp"), a number as a string ("6"), or null for any protocol.
    pub protocol: Option<Value>,
    pub port_range_min: Option<i64>,
    pub port_range_max: Option<i64>,
    pub remote_ip_prefix: Option<String>,
    pub remote_group_id: Option<String>,
}

#[derive(Clone, Copy)]
pub struct Neutron<'a>(pub &'a Session);

impl Session {
    pub fn network(&self) -> Neutron<'_> {
        Neutron(self)
    }
}

impl<'a> Neutron<'a> {
    fn collection(self, c: Collection) -> Wrapped<'a> {
        Wrapped {
            session: self.0,
            service: NETWORK,
            path: c.path,
            list_path: c.path,
            plural: c.plural,
            singular: c.singular,
        }
    }
}

impl Neutron<'_> {
    pub async fn list<T: DeserializeOwned>(
        self,
        c: Collection,
        query: &[(String, String)],
    ) -> Result<Vec<T>, ApiError> {
        self.collection(c).list(query).await
    }

    pub async fn get<T: DeserializeOwned>(self, c: Collection, id: &str) -> Result<T, ApiError> {
        self.collection(c).get(id).await
    }

    /// POST the inner object (`{"network": body}` is added here). Never retried.
    pub async fn create<T: DeserializeOwned>(
        self,
        c: Collection,
        body: Value,
    ) -> Result<T, ApiError> {
        self.collection(c).create(body).await
    }

    /// POSTs many objects of one collection at once (`{"networks": [body, ...]}`), Neutron's
    /// bulk create: it makes all of them or none, and answers them in the order sent.
    /// Never retried.
    pub async fn create_many<T: DeserializeOwned>(
        self,
        c: Collection,
        bodies: Vec<Value>,
    ) -> Result<Vec<T>, ApiError> {
        self.0
            .send_json(
                NETWORK,
                Method::POST,
                &format!("/{}", c.path),
                &json!({ c.plural: bodies }),
                Some(c.plural),
            )
            .await
    }

    pub async fn update<T: DeserializeOwned>(
        self,
        c: Collection,
        id: &str,
        changes: Value,
    ) -> Result<T, ApiError> {
        self.collection(c).update(id, changes).await
    }

    pub async fn delete(self, c: Collection, id: &str) -> Result<(), ApiError> {
        self.collection(c).delete(id).await
    }

    /// Replaces all tags of one resource (`PUT /{collection}/{id}/tags`).
    pub async fn set_tags(self, c: Collection, id: &str, tags: &[String]) -> Result<(), ApiError> {
        self.0
            .send_no_content(
                NETWORK,
                Method::PUT,
                &format!("/{}/{id}/tags", c.path),
                Some(&json!({ "tags": tags })),
            )
            .await
    }

    pub async fn add_router_interface(self, router: &str, subnet: &str) -> Result<(), ApiError> {
        self.router_interface(
            router,
            json!({ "subnet_id": subnet }),
            "add_router_interface",
        )
        .await
    }

    pub async fn remove_router_interface(self, router: &str, subnet: &str) -> Result<(), ApiError> {
        self.router_interface(
            router,
            json!({ "subnet_id": subnet }),
            "remove_router_interface",
        )
        .await
    }

    /// Makes an existing port (with a fixed IP, bound to nothing) an interface of the router.
    pub async fn add_router_interface_port(self, router: &str, port: &str) -> Result<(), ApiError> {
        self.router_interface(router, json!({ "port_id": port }), "add_router_interface")
            .await
    }

    /// Removes the interface that is `port`: Neutron deletes the port with it.
    pub async fn remove_router_interface_port(
        self,
        router: &str,
        port: &str,
    ) -> Result<(), ApiError> {
        self.router_interface(
            router,
            json!({ "port_id": port }),
            "remove_router_interface",
        )
        .await
    }

    /// The answer is the interface info itself (not wrapped); we do not need it.
    async fn router_interface(
        self,
        router: &str,
        body: Value,
        action: &str,
    ) -> Result<(), ApiError> {
        self.0
            .send_no_content(
                NETWORK,
                Method::PUT,
                &format!("/routers/{router}/{action}"),
                Some(&body),
            )
            .await
    }

    /// Sets (`Some(network id)`) or clears the router's external gateway.
    pub async fn set_router_gateway(
        self,
        router: &str,
        network: Option<&str>,
    ) -> Result<Router, ApiError> {
        let info = match network {
            Some(id) => json!({ "network_id": id }),
            None => json!({}),
        };
        self.update(ROUTERS, router, json!({ "external_gateway_info": info }))
            .await
    }

    /// The aliases of the API extensions the cloud's Neutron has (`dns-integration`, ...).
    pub async fn extension_aliases(self) -> Result<Vec<String>, ApiError> {
        #[derive(Deserialize)]
        struct Extension {
            alias: String,
        }
        let extensions: Vec<Extension> = self.0.get(NETWORK, "/extensions", "extensions").await?;
        Ok(extensions.into_iter().map(|e| e.alias).collect())
    }

    pub async fn get_quotas(self, project_id: &str) -> Result<BTreeMap<String, i64>, ApiError> {
        let set: BTreeMap<String, Value> = self
            .0
            .get(NETWORK, &format!("/quotas/{project_id}"), "quota")
            .await?;
        Ok(set
            .into_iter()
            .filter_map(|(k, v)| v.as_i64().map(|v| (k, v)))
            .collect())
    }

    /// A project's quotas with what it uses (the `quota_details` extension).
    pub async fn quota_details(
        self,
        project_id: &str,
    ) -> Result<BTreeMap<String, super::block_storage::QuotaUse>, ApiError> {
        let set: BTreeMap<String, Value> = self
            .0
            .get(NETWORK, &format!("/quotas/{project_id}/details"), "quota")
            .await?;
        Ok(super::block_storage::quota_uses(set))
    }

    pub async fn update_quotas(
        self,
        project_id: &str,
        quotas: &BTreeMap<String, i64>,
    ) -> Result<(), ApiError> {
        self.0
            .send_no_content(
                NETWORK,
                Method::PUT,
                &format!("/quotas/{project_id}"),
                Some(&json!({ "quota": quotas })),
            )
            .await
    }
}

/// `key=value` query pairs from string slices.
pub fn query(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn router_gateway_presence() {
        let mut router = Router::default();
        assert!(!router.has_gateway());
        router.external_gateway_info = Some(json!({"network_id": "ext", "enable_snat": true}));
        assert!(router.has_gateway());
        router.external_gateway_info = Some(json!({}));
        assert!(!router.has_gateway());
    }

    #[test]
    fn decodes_rules_with_numeric_or_null_protocols() {
        let rules: Vec<SecurityGroupRule> = serde_json::from_value(json!([
            {"id": "r1", "direction": "egress", "ethertype": "IPv4", "protocol": null,
             "port_range_min": null, "port_range_max": null, "remote_ip_prefix": null,
             "unknown_field": 1},
            {"id": "r2", "direction": "ingress", "ethertype": "IPv4", "protocol": "6",
             "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "0.0.0.0/0"}
        ]))
        .unwrap();
        assert_eq!(rules[0].protocol, None);
        assert_eq!(rules[1].protocol, Some(json!("6")));
        assert_eq!(rules[1].port_range_min, Some(22));
    }
}
