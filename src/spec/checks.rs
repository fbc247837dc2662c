//! Checks across resources, once every table is read: references name defined resources, and
//! what a resource attaches or uses belongs to its own tenant (where its kind's schema says
//! so). Cycles are `graph`'s business.

use std::collections::BTreeMap;

use super::DesiredResource;
use super::suggest::did_you_mean;
use crate::addr::{Address, Kind};
use crate::diag::{Diagnostic, Diagnostics, Span};
use crate::fast_hash::FastHashMap;
use crate::resources::schema::{made_from, tenant_holder};

type Resources = BTreeMap<Address, DesiredResource>;

/// How many existing names a "not defined" help lists before it stops.
const LISTED_NAMES: usize = 5;

/// The tenant of each resource of the spec: the resource that names it (itself, or a parent up
/// the chain) and its name. Found once per load, since the checks ask for it per reference.
pub(super) struct Tenants<'a>(FastHashMap<&'a Address, (Address, &'a str)>);

impl<'a> Tenants<'a> {
    pub(super) fn of(resources: &'a Resources) -> Tenants<'a> {
        // Hashed: a parent is looked up for each resource, and each lookup in the B-tree of a
        // big spec was a dozen string comparisons.
        let by_addr: FastHashMap<&Address, &super::Attrs> =
            resources.iter().map(|(a, r)| (a, &r.attrs)).collect();
        let attrs_of = |a: &Address| by_addr.get(a).copied();
        let found = resources
            .keys()
            .filter_map(|addr| Some((addr, tenant_holder(addr, &attrs_of)?)))
            .collect();
        Tenants(found)
    }

    pub(super) fn get(&self, addr: &Address) -> Option<(&Address, &'a str)> {
        self.0.get(addr).map(|(holder, tenant)| (holder, *tenant))
    }
}

/// `defined` holds every address written in the folder, including those whose table had
/// errors and is missing from `resources`.
pub(super) fn check(
    resources: &Resources,
    tenants: &Tenants<'_>,
    defined: &BTreeMap<Address, Span>,
    diags: &mut Diagnostics,
) {
    for resource in resources.values() {
        for reference in &resource.refs {
            // What a resource is copied from matters only while it is to be made, which the
            // plan knows (`plan::check`): a backup stays when its volume leaves the spec.
            if made_from(resource.addr.kind, &reference.field) {
                if let Some(warning) = misspelled_source(defined, resource, reference) {
                    diags.push(warning);
                }
                continue;
            }
            if !defined.contains_key(&reference.target) {
                diags.push(dangling(defined, &reference.target, reference.span.clone()));
            }
        }
    }
    for resource in resources.values() {
        same_tenant(resources, tenants, resource, diags);
    }
    for resource in resources.values() {
        if let Some(kind_check) = resource.addr.kind.schema().spec_check {
            kind_check(resource, resources, diags);
        }
    }
}

/// A source that is not defined is fine for a copy that exists (a backup kept after its volume
/// left the spec), but one a letter or two away from a defined name is most likely a typo that
/// would stop the plan only once the copy is to be made: warned here, where `validate` sees it.
fn misspelled_source(
    defined: &BTreeMap<Address, Span>,
    resource: &DesiredResource,
    reference: &super::Reference,
) -> Option<Diagnostic> {
    let target = &reference.target;
    if defined.contains_key(target) {
        return None;
    }
    let names = defined
        .keys()
        .filter(|a| a.kind == target.kind)
        .map(|a| a.name.as_str());
    let close = did_you_mean(&target.name, names)?;
    Some(
        Diagnostic::warning(format!(
            "{target} is not defined: {} can be kept, not made, without it",
            resource.addr
        ))
        .at(reference.span.clone())
        .help(format!(
            "did you mean `{close}` ({}.{close})? If {target} left the spec on purpose, this is \
             fine once {} exists",
            target.kind, resource.addr
        )),
    )
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

/// Points at where a resource's tenant is written, when it is.
fn tenant_note(resource: &DesiredResource, tenant: &str) -> Option<(String, Span)> {
    let parent = resource.addr.kind.schema().parent?;
    let span = resource.attr_spans.get(parent)?.clone();
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

/// What a resource attaches or uses through a reference the schema marks [`SameTenant`] must
/// be in the resource's own tenant (found for each side through the kinds' `parent`).
fn same_tenant(
    resources: &Resources,
    tenants: &Tenants<'_>,
    resource: &DesiredResource,
    diags: &mut Diagnostics,
) {
    let Some((_, tenant)) = tenants.get(&resource.addr) else {
        return;
    };
    let schema = resource.addr.kind.schema();
    for reference in &resource.refs {
        let Some(reference_rule) = schema
            .attribute(&reference.field)
            .and_then(|a| a.reference())
        else {
            continue;
        };
        let Some(rule) = reference_rule.same_tenant else {
            continue;
        };
        let Some((holder, owner)) = tenants.get(&reference.target) else {
            continue;
        };
        if owner == tenant {
            continue;
        }
        let Some(holder) = resources.get(holder) else {
            continue;
        };
        let grant_help = if reference_rule.unless_granted {
            match granted(resources, &reference.target, tenant) {
                Granted::Yes => continue,
                Granted::No(help) => help,
            }
        } else {
            None
        };
        let whose = if holder.addr == reference.target {
            "it".to_string()
        } else {
            format!("its {} {}", holder.addr.kind, holder.addr)
        };
        let d = Diagnostic::error(format!(
            "{} (tenant.{tenant}) cannot {} {}: {whose} is in tenant.{owner}",
            resource.addr, rule.verb, reference.target
        ))
        .at(reference.span.clone())
        .help(grant_help.unwrap_or_else(|| {
            format!(
                "{} tenant.{tenant}, or move {} to tenant.{tenant}",
                rule.help, holder.addr
            )
        }));
        diags.push(with_note(d, tenant_note(holder, owner)));
    }
}

enum Granted {
    Yes,
    /// No grant: the help that says which one is missing (None when no kind grants).
    No(Option<String>),
}

/// Whether a grant of the spec (a kind's `Grant`: a network RBAC policy) lets `tenant` use
/// `target` or one of the resources it sits in (a subnet's network).
fn granted(resources: &Resources, target: &Address, tenant: &str) -> Granted {
    let attrs_of = |a: &Address| resources.get(a).map(|r| &r.attrs);
    let mut chain = vec![target.clone()];
    while let Some(last) = chain.last() {
        let Some(parent) = last.kind.schema().parent else {
            break;
        };
        let Some(next) = crate::resources::schema::attribute(last.kind, parent)
            .and_then(|a| a.reference())
            .and_then(|r| {
                let name = attrs_of(last)?.get(parent)?.as_str()?;
                Some(Address::new(r.kind, name))
            })
        else {
            break;
        };
        if next.kind.schema().parent.is_none() || chain.len() > Kind::ALL.len() {
            break;
        }
        chain.push(next);
    }
    let mut missing = None;
    for kind in Kind::ALL {
        let Some(grant) = kind.schema().grant else {
            continue;
        };
        let lets_use = resources
            .values()
            .filter(|r| r.addr.kind == kind)
            .filter_map(|r| (grant.grants)(&r.addr, &r.attrs))
            .any(|(resource, to)| chain.contains(&resource) && (to == tenant || to == "*"));
        if lets_use {
            return Granted::Yes;
        }
        if let (Some(top), None) = (chain.last(), &missing) {
            missing = Some((grant.missing)(top, tenant));
        }
    }
    Granted::No(missing)
}

#[cfg(test)]
mod tests {
    use super::super::load::load_str_checked;

    fn warnings(text: &str) -> Vec<String> {
        let (_, diags) = load_str_checked(text).expect("the spec loads");
        diags
            .iter()
            .filter(|d| !d.message.starts_with("no [provider]"))
            .map(|d| {
                let at = d.span.as_ref().map(|s| s.to_string()).unwrap_or_default();
                format!("{at}: {}", d.message)
            })
            .collect()
    }

    const VOLUME: &str = "[tenant.t]\n[volume.data]\ntenant = \"t\"\nsize = 1\n";

    #[test]
    fn a_backup_source_that_looks_misspelled_is_a_warning_and_a_missing_one_is_fine() {
        let typo = format!("{VOLUME}[backup.b]\nvolume = \"dta\"\n");
        assert_eq!(
            warnings(&typo),
            [
                "spec.toml:6:10: volume.dta is not defined: backup.b can be kept, not made, without it"
            ]
        );
        let gone = format!("{VOLUME}[backup.b]\nvolume = \"archive-2024\"\n");
        assert_eq!(warnings(&gone), Vec::<String>::new());
    }
}
