//! Checks across resources, once every table is read: references name defined resources, and
//! what a router or an instance uses belongs to its own tenant. Cycles are `graph`'s business.

use std::collections::BTreeMap;

use super::DesiredResource;
use super::suggest::did_you_mean;
use crate::addr::{Address, Kind};
use crate::diag::{Diagnostic, Diagnostics, Span};

type Resources = BTreeMap<Address, DesiredResource>;

/// How many existing names a "not defined" help lists before it stops.
const LISTED_NAMES: usize = 5;

/// `defined` holds every address written in the folder, including those whose table had
/// errors and is missing from `resources`.
pub(super) fn check(
    resources: &Resources,
    defined: &BTreeMap<Address, Span>,
    diags: &mut Diagnostics,
) {
    for resource in resources.values() {
        for reference in &resource.refs {
            if !defined.contains_key(&reference.target) {
                diags.push(dangling(defined, &reference.target, reference.span.clone()));
            }
        }
    }
    for resource in resources.values() {
        match resource.addr.kind {
            Kind::Router => router_tenants(resources, resource, diags),
            Kind::Instance => instance_tenants(resources, resource, diags),
            _ => {}
        }
    }
}

fn dangling(defined: &BTreeMap<Address, Span>, target: &Address, at: Span) -> Diagnostic {
    let kind = target.kind;
    let existing: Vec<&str> = defined
        .keys()
        .filter(|a| a.kind == kind)
        .map(|a| a.name.as_str())
        .collect();
    let help = if let Some(close) = did_you_mean(&target.name, existing.iter().copied()) {
        format!("did you mean `{close}` ({kind}.{close})?")
    } else if existing.is_empty() {
        format!("define it with a [{target}] table; no {kind} is defined yet")
    } else {
        let mut listed = existing
            .iter()
            .take(LISTED_NAMES)
            .copied()
            .collect::<Vec<_>>()
            .join(", ");
        if existing.len() > LISTED_NAMES {
            listed.push_str(", …");
        }
        format!("define it with a [{target}] table, or use a defined {kind}: {listed}")
    };
    Diagnostic::error(format!("{target} is not defined"))
        .at(at)
        .help(help)
}

/// The tenant a resource names in its `tenant` attribute.
fn tenant_of(resource: &DesiredResource) -> Option<&str> {
    resource.attrs.get("tenant")?.as_str()
}

/// The network a subnet is on, and that network's tenant, when both are defined.
fn subnet_owner<'r>(
    resources: &'r Resources,
    subnet: &str,
) -> Option<(&'r DesiredResource, &'r str)> {
    let subnet = resources.get(&Address::new(Kind::Subnet, subnet))?;
    let network_name = subnet.attrs.get("network")?.as_str()?;
    let network = resources.get(&Address::new(Kind::Network, network_name))?;
    Some((network, tenant_of(network)?))
}

/// Points at where a resource's tenant is written, when it is.
fn tenant_note(resource: &DesiredResource, tenant: &str) -> Option<(String, Span)> {
    let span = resource.attr_spans.get("tenant")?.clone();
    Some((
        format!("{} is in tenant.{tenant} here", resource.addr),
        span,
    ))
}

fn with_note(d: Diagnostic, note: Option<(String, Span)>) -> Diagnostic {
    match note {
        Some((message, span)) => d.note(message, span),
        None => d,
    }
}

fn router_tenants(resources: &Resources, router: &DesiredResource, diags: &mut Diagnostics) {
    let Some(tenant) = tenant_of(router) else {
        return;
    };
    for reference in router.refs.iter().filter(|r| r.field == "subnets") {
        let Some((network, owner)) = subnet_owner(resources, &reference.target.name) else {
            continue;
        };
        if owner != tenant {
            let d = Diagnostic::error(format!(
                "{} (tenant.{tenant}) cannot attach {}: its network {} is in tenant.{owner}",
                router.addr, reference.target, network.addr
            ))
            .at(reference.span.clone())
            .help(format!(
                "a router attaches subnets of its own tenant only: attach a subnet of tenant.{tenant}, or move {} to tenant.{tenant}",
                network.addr
            ));
            diags.push(with_note(d, tenant_note(network, owner)));
        }
    }
}

fn instance_tenants(resources: &Resources, instance: &DesiredResource, diags: &mut Diagnostics) {
    let Some(tenant) = tenant_of(instance) else {
        return;
    };
    for reference in &instance.refs {
        match reference.field.as_str() {
            "subnet" => {
                let Some((network, owner)) = subnet_owner(resources, &reference.target.name) else {
                    continue;
                };
                if owner != tenant {
                    let d = Diagnostic::error(format!(
                        "{} (tenant.{tenant}) cannot use {}: its network {} is in tenant.{owner}",
                        instance.addr, reference.target, network.addr
                    ))
                    .at(reference.span.clone())
                    .help(format!(
                        "an instance uses subnets of its own tenant only: pick a subnet of tenant.{tenant}, or move {} to tenant.{tenant}",
                        network.addr
                    ));
                    diags.push(with_note(d, tenant_note(network, owner)));
                }
            }
            "security_groups" => {
                let Some(group) = resources.get(&reference.target) else {
                    continue;
                };
                let Some(owner) = tenant_of(group) else {
                    continue;
                };
                if owner != tenant {
                    let d = Diagnostic::error(format!(
                        "{} (tenant.{tenant}) cannot use {}: it is in tenant.{owner}",
                        instance.addr, reference.target
                    ))
                    .at(reference.span.clone())
                    .help(format!(
                        "an instance uses security groups of its own tenant only: pick one of tenant.{tenant}, or move {} to tenant.{tenant}",
                        reference.target
                    ));
                    diags.push(with_note(d, tenant_note(group, owner)));
                }
            }
            _ => {}
        }
    }
}
