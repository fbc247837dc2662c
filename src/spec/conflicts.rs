//! Conflicts between resources that each read fine alone but that the cloud refuses together,
//! or makes ambiguous: overlapping networks, and two resources sharing one OpenStack name.
//!
//! Found here, before any call, because the cloud finds them only at the second create: after
//! the first one was written. Generic over the registry: CIDRs are the attributes typed
//! [`AttrType::Cidr`], their scope is the kind's `parent` (a network holds subnets) or a
//! [`AttrType::ReferenceSet`] that names several of them (a router attaches subnets).

use std::collections::BTreeMap;

use ipnet::IpNet;

use super::DesiredResource;
use super::checks::Tenants;
use crate::addr::{Address, Kind};
use crate::diag::{Diagnostic, Diagnostics};
use crate::fast_hash::FastHashMap;
use crate::resources::schema::{AttrType, KindSchema};

type Resources = BTreeMap<Address, DesiredResource>;

pub(super) fn check(resources: &Resources, tenants: &Tenants<'_>, diags: &mut Diagnostics) {
    overlapping_in_parent(resources, diags);
    overlapping_in_sets(resources, diags);
    same_names(resources, tenants, diags);
}

/// The attribute of `kind` typed as a CIDR, if any.
fn cidr_attr(schema: &KindSchema) -> Option<&'static str> {
    schema
        .attrs
        .iter()
        .find(|a| matches!(a.ty, AttrType::Cidr { .. }))
        .map(|a| a.name)
}

/// A resource's network, when its kind has one and the spec wrote a valid one.
fn network_of(resource: &DesiredResource) -> Option<(&'static str, IpNet)> {
    let attr = cidr_attr(resource.addr.kind.schema())?;
    let net = resource.attrs.get(attr)?.as_str()?.parse().ok()?;
    Some((attr, net))
}

fn overlap(a: IpNet, b: IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// Neutron refuses a subnet whose CIDR overlaps another subnet of its network (400
/// "Invalid input for operation: Requested subnet with cidr ... overlaps with another subnet").
fn overlapping_in_parent(resources: &Resources, diags: &mut Diagnostics) {
    let mut by_parent: BTreeMap<(Kind, &str), Vec<&DesiredResource>> = BTreeMap::new();
    for resource in resources.values() {
        let schema = resource.addr.kind.schema();
        let Some(parent) = schema.parent else {
            continue;
        };
        if cidr_attr(schema).is_none() {
            continue;
        }
        if let Some(name) = resource.attrs.get(parent).and_then(|v| v.as_str()) {
            by_parent
                .entry((resource.addr.kind, name))
                .or_default()
                .push(resource);
        }
    }
    for ((kind, parent_name), members) in by_parent {
        let Some(parent_attr) = kind.schema().parent else {
            continue;
        };
        let parent_kind = kind
            .schema()
            .attribute(parent_attr)
            .and_then(|a| a.reference())
            .map(|r| r.kind);
        let parent = match parent_kind {
            Some(k) => Address::new(k, parent_name).to_string(),
            None => parent_name.to_string(),
        };
        for_each_overlap(&members, diags, |a, b, net_a, net_b| {
            format!("{a} and {b} overlap on {parent}: {net_a} and {net_b}")
        });
    }
}

/// Neutron refuses to attach a router to a subnet whose CIDR overlaps one already attached
/// (400 "Bad router request: Cidr ... overlaps with cidr ... of subnet ..."), after the first
/// interfaces were added.
fn overlapping_in_sets(resources: &Resources, diags: &mut Diagnostics) {
    for resource in resources.values() {
        for attr in resource.addr.kind.schema().attrs {
            let AttrType::ReferenceSet { to, .. } = attr.ty else {
                continue;
            };
            if cidr_attr(to.kind.schema()).is_none() {
                continue;
            }
            let members: Vec<&DesiredResource> = resource
                .refs
                .iter()
                .filter(|r| r.field == attr.name)
                .filter_map(|r| resources.get(&r.target))
                .collect();
            let holder = &resource.addr;
            for_each_overlap(&members, diags, |a, b, net_a, net_b| {
                format!("{holder} cannot attach both {a} and {b}: {net_a} and {net_b} overlap")
            });
        }
    }
}

/// One error per overlapping pair, at the second resource's CIDR, noting the first's.
fn for_each_overlap(
    members: &[&DesiredResource],
    diags: &mut Diagnostics,
    message: impl Fn(&Address, &Address, IpNet, IpNet) -> String,
) {
    let nets: Vec<(&DesiredResource, &'static str, IpNet)> = members
        .iter()
        .filter_map(|r| network_of(r).map(|(attr, net)| (*r, attr, net)))
        .collect();
    for (i, (second, attr, net)) in nets.iter().enumerate() {
        for (first, first_attr, first_net) in &nets[..i] {
            if !overlap(*first_net, *net) {
                continue;
            }
            diags.push(
                Diagnostic::error(message(&first.addr, &second.addr, *first_net, *net))
                    .at(second.span_of(attr))
                    .note(
                        format!("{} has {first_net} here", first.addr),
                        first.span_of(first_attr),
                    )
                    .help(format!(
                        "give {} a range outside {first_net}, or remove one of them",
                        second.addr
                    )),
            );
        }
    }
}

/// The attribute holding a kind's OpenStack name.
fn name_attr(schema: &KindSchema) -> Option<&'static str> {
    schema
        .attrs
        .iter()
        .find(|a| matches!(a.ty, AttrType::Name { .. }))
        .map(|a| a.name)
}

/// Two resources of one kind with one OpenStack name in one tenant. Keystone refuses a second
/// project of the same name in a domain (409 Conflict), so for the tenant kind it is an error;
/// Neutron and Nova accept it, but anyone finding the resource by name (the dashboard, the
/// CLI, scripts) gets two answers, so it is a warning.
fn same_names(resources: &Resources, tenants: &Tenants<'_>, diags: &mut Diagnostics) {
    let mut seen: FastHashMap<(Kind, Option<&str>, &str), &DesiredResource> =
        FastHashMap::default();
    for resource in resources.values() {
        let schema = resource.addr.kind.schema();
        let Some(attr) = name_attr(schema) else {
            continue;
        };
        let Some(name) = resource.attrs.get(attr).and_then(|v| v.as_str()) else {
            continue;
        };
        let tenant = if schema.parent.is_some() {
            match tenants.get(&resource.addr) {
                Some((_, tenant)) => Some(tenant),
                None => continue,
            }
        } else {
            None
        };
        let Some(first) = seen.get(&(resource.addr.kind, tenant, name)) else {
            seen.insert((resource.addr.kind, tenant, name), resource);
            continue;
        };
        let kind = resource.addr.kind;
        // The note points at whichever is written first in the folder.
        let place = |r: &DesiredResource| {
            let span = r.span_of(attr);
            (span.file, span.range.start)
        };
        let (first, second) = if place(first) <= place(resource) {
            (*first, resource)
        } else {
            (resource, *first)
        };
        let service = schema.api.service.as_str();
        let (d, why) = match tenant {
            None => (
                Diagnostic::error(format!(
                    "{} and {} have the same name `{name}`: {service} refuses a second one",
                    first.addr, second.addr
                )),
                format!("{service} names are unique"),
            ),
            Some(tenant) => (
                Diagnostic::warning(format!(
                    "{} and {} have the same name `{name}` in tenant.{tenant}",
                    first.addr, second.addr
                )),
                format!("finding a {kind} by name would be ambiguous"),
            ),
        };
        diags.push(
            d.at(second.span_of(attr))
                .note(
                    format!("{} is named `{name}` here", first.addr),
                    first.span_of(attr),
                )
                .help(format!(
                    "give one of them another name with `{attr} = \"...\"`: {why}"
                )),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::load::load_str_checked;
    use crate::diag::Severity;

    /// Errors, or the warnings of a spec that loads (less the missing `[provider]`'s).
    fn problems(text: &str) -> Vec<(Severity, String)> {
        let diags = match load_str_checked(text) {
            Ok((_, warnings)) => warnings,
            Err(diags) => diags,
        };
        diags
            .iter()
            .filter(|d| !d.message.starts_with("no [provider]"))
            .map(|d| {
                let at = d.span.as_ref().map(|s| s.to_string()).unwrap_or_default();
                (d.severity, format!("{at}: {}", d.message))
            })
            .collect()
    }

    const NET: &str = "[tenant.t]\n[network.n]\ntenant = \"t\"\n";

    #[test]
    fn overlapping_subnets_of_one_network_are_errors() {
        let text = format!(
            "{NET}[subnet.a]\nnetwork = \"n\"\ncidr = \"10.0.0.0/16\"\n[subnet.b]\nnetwork = \"n\"\ncidr = \"10.0.3.0/24\"\n"
        );
        assert_eq!(
            problems(&text),
            [(
                Severity::Error,
                "spec.toml:9:8: subnet.a and subnet.b overlap on network.n: 10.0.0.0/16 and 10.0.3.0/24".to_string()
            )]
        );
    }

    #[test]
    fn the_same_range_on_two_networks_is_fine_unless_one_router_attaches_both() {
        let two = format!(
            "{NET}[network.m]\ntenant = \"t\"\n[subnet.a]\nnetwork = \"n\"\ncidr = \"10.0.0.0/24\"\n[subnet.b]\nnetwork = \"m\"\ncidr = \"10.0.0.0/24\"\n"
        );
        assert_eq!(problems(&two), []);
        let routed = format!("{two}[router.r]\ntenant = \"t\"\nsubnets = [\"a\", \"b\"]\n");
        assert_eq!(
            problems(&routed),
            [(
                Severity::Error,
                "spec.toml:11:8: router.r cannot attach both subnet.a and subnet.b: 10.0.0.0/24 and 10.0.0.0/24 overlap".to_string()
            )]
        );
    }

    #[test]
    fn ipv4_and_ipv6_never_overlap() {
        let text = format!(
            "{NET}[subnet.a]\nnetwork = \"n\"\ncidr = \"10.0.0.0/8\"\n[subnet.b]\nnetwork = \"n\"\ncidr = \"2001:db8::/64\"\n"
        );
        assert_eq!(problems(&text), []);
    }

    #[test]
    fn tenant_names_are_unique_and_other_duplicates_warn() {
        let tenants = "[tenant.a]\nname = \"x\"\n[tenant.b]\nname = \"x\"\n";
        assert_eq!(
            problems(tenants),
            [(
                Severity::Error,
                "spec.toml:4:8: tenant.a and tenant.b have the same name `x`: Keystone refuses a second one".to_string()
            )]
        );
        // Neutron takes two networks of one name: a warning, and the spec loads.
        let networks = format!("{NET}[network.m]\ntenant = \"t\"\nname = \"n\"\n");
        assert_eq!(
            problems(&networks),
            [(
                Severity::Warning,
                "spec.toml:6:8: network.n and network.m have the same name `n` in tenant.t"
                    .to_string()
            )]
        );
    }
}
