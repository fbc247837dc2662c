//! Static knowledge about each kind's attributes: which ones exist, which can change in
//! place, which force a replacement, and which name other resources.
//!
//! This is the contract between `spec` (normalization), `plan` (what an attribute change
//! means) and the per-kind modules (which implement the changes). Pure data.

use crate::addr::Kind;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Update {
    /// The API can change it on the existing resource.
    InPlace,
    /// The API cannot: the resource is deleted and created again.
    ForcesReplacement,
}

#[derive(Clone, Copy, Debug)]
pub struct AttrSchema {
    pub name: &'static str,
    pub update: Update,
    /// The kind this attribute names (a string, or a list of strings, of address names).
    pub reference: Option<Kind>,
}

const fn in_place(name: &'static str) -> AttrSchema {
    AttrSchema {
        name,
        update: Update::InPlace,
        reference: None,
    }
}

const fn forces(name: &'static str) -> AttrSchema {
    AttrSchema {
        name,
        update: Update::ForcesReplacement,
        reference: None,
    }
}

const fn reference(name: &'static str, kind: Kind, update: Update) -> AttrSchema {
    AttrSchema {
        name,
        update,
        reference: Some(kind),
    }
}

use Update::{ForcesReplacement, InPlace};

/// Tenant (Keystone project). `quotas` is an object of quota name → integer, set on Nova and
/// Neutron; absent means "not managed".
pub const TENANT: &[AttrSchema] = &[
    in_place("name"),
    in_place("description"),
    in_place("enabled"),
    in_place("quotas"),
];

pub const NETWORK: &[AttrSchema] = &[
    in_place("name"),
    in_place("description"),
    reference("tenant", Kind::Tenant, ForcesReplacement),
    in_place("mtu"),
    in_place("admin_state_up"),
];

/// A subnet belongs to its network's tenant; it has no `tenant` attribute of its own.
pub const SUBNET: &[AttrSchema] = &[
    in_place("name"),
    in_place("description"),
    reference("network", Kind::Network, ForcesReplacement),
    forces("cidr"),
    forces("ip_version"),
    in_place("gateway_ip"),
    in_place("enable_dhcp"),
    in_place("dns_nameservers"),
];

/// `subnets` are the router's interfaces: added and removed in place.
pub const ROUTER: &[AttrSchema] = &[
    in_place("name"),
    in_place("description"),
    reference("tenant", Kind::Tenant, ForcesReplacement),
    in_place("admin_state_up"),
    in_place("external_gateway"),
    reference("subnets", Kind::Subnet, InPlace),
];

/// `rules` is a sorted list of rule objects (see [`RULE_FIELDS`]); rules are added and removed
/// one by one, never touching the unchanged ones.
pub const SECURITY_GROUP: &[AttrSchema] = &[
    in_place("name"),
    in_place("description"),
    reference("tenant", Kind::Tenant, ForcesReplacement),
    in_place("rules"),
];

/// The fields of one normalized security group rule, all present (null where unset).
pub const RULE_FIELDS: &[&str] = &[
    "direction",
    "ethertype",
    "protocol",
    "port_range_min",
    "port_range_max",
    "remote_ip_prefix",
];

/// An instance sits on one subnet through a port stackform creates for it; its security groups
/// are that port's, so changing them is in place.
pub const INSTANCE: &[AttrSchema] = &[
    in_place("name"),
    reference("tenant", Kind::Tenant, ForcesReplacement),
    forces("flavor"),
    forces("image"),
    reference("subnet", Kind::Subnet, ForcesReplacement),
    reference("security_groups", Kind::SecurityGroup, InPlace),
    in_place("power_state"),
];

pub fn attributes(kind: Kind) -> &'static [AttrSchema] {
    match kind {
        Kind::Tenant => TENANT,
        Kind::Network => NETWORK,
        Kind::Subnet => SUBNET,
        Kind::Router => ROUTER,
        Kind::SecurityGroup => SECURITY_GROUP,
        Kind::Instance => INSTANCE,
    }
}

pub fn attribute(kind: Kind, name: &str) -> Option<&'static AttrSchema> {
    attributes(kind).iter().find(|a| a.name == name)
}

/// The addresses an attribute map refers to, from the schema's reference attributes.
/// Works for desired and observed attributes alike, so deletes can be ordered too.
pub fn references(kind: Kind, attrs: &crate::spec::Attrs) -> Vec<crate::addr::Address> {
    let mut out = Vec::new();
    for a in attributes(kind) {
        let Some(target) = a.reference else { continue };
        match attrs.get(a.name) {
            Some(serde_json::Value::String(s)) => out.push(crate::addr::Address::new(target, s)),
            Some(serde_json::Value::Array(items)) => out.extend(
                items
                    .iter()
                    .filter_map(|v| v.as_str())
                    .map(|s| crate::addr::Address::new(target, s)),
            ),
            _ => {}
        }
    }
    out
}
