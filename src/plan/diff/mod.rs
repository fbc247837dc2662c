//! The diff itself: desired vs observed, per resource, then replacements propagated along the
//! graph, then the actions put in display order.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Action, ActionKind, Adoption, AttrChange, Deferred, Plan, Reason};
use crate::addr::Address;
use crate::graph::Graph;
use crate::resources::schema::{self, AttrType, Update};
use crate::resources::{Observed, ObservedResource};
use crate::spec::{Attrs, Desired, DesiredResource, port_fields};

pub fn diff(desired: &Desired, observed: &Observed, graph: &Graph) -> Plan {
    let mut actions: BTreeMap<Address, Action> = BTreeMap::new();
    for (addr, wanted) in &desired.resources {
        let action = match observed.resources.get(addr) {
            None => Some(create(wanted)),
            Some(seen) => compare(wanted, seen),
        };
        if let Some(action) = action {
            actions.insert(addr.clone(), action);
        }
    }
    for (addr, seen) in &observed.resources {
        if !desired.resources.contains_key(addr) {
            actions.insert(addr.clone(), delete(seen));
        }
    }

    let creation_order = creation_order(graph, desired, observed);
    // A replacement can make a link go (a replaced router drops its interface ports) and a
    // link that goes can replace what it named: repeated until nothing more changes.
    loop {
        let detached = replace_deleted_with_links(desired, observed, &mut actions);
        propagate_replacements(&creation_order, desired, observed, graph, &mut actions);
        if !detached {
            break;
        }
    }

    mark_deferred(graph, &mut actions);

    // Deletes first, dependents before what they use; then the rest, dependencies first.
    let mut ordered = Vec::with_capacity(actions.len());
    for addr in creation_order.iter().rev() {
        if actions
            .get(addr)
            .is_some_and(|a| a.kind == ActionKind::Delete)
        {
            ordered.extend(actions.remove(addr));
        }
    }
    for addr in &creation_order {
        ordered.extend(actions.remove(addr));
    }
    let adoptions = observed
        .adopted
        .iter()
        .filter_map(|addr| observed.resources.get(addr))
        .map(|seen| Adoption {
            addr: seen.addr.clone(),
            id: seen.id.clone(),
        })
        .collect();
    Plan {
        actions: ordered,
        adoptions,
    }
}

/// Notes on each created or changed resource the parts the apply sets after what they name is
/// created ([`Graph::deferred_dependencies`]): a dependency that already exists has its id, so
/// nothing waits for it.
fn mark_deferred(graph: &Graph, actions: &mut BTreeMap<Address, Action>) {
    let created = |addr: &Address, actions: &BTreeMap<Address, Action>| {
        actions
            .get(addr)
            .is_some_and(|a| matches!(a.kind, ActionKind::Create | ActionKind::Replace))
    };
    let marks: Vec<(Address, Deferred)> = actions
        .values()
        .filter(|a| a.kind != ActionKind::Delete)
        .flat_map(|a| {
            graph
                .deferred_dependencies(&a.addr)
                .into_iter()
                .filter(|(dependency, _)| created(dependency, actions))
                .map(|(until, attr)| {
                    let attr = attr.to_string();
                    (a.addr.clone(), Deferred { attr, until })
                })
        })
        .collect();
    for (addr, deferred) in marks {
        if let Some(action) = actions.get_mut(&addr) {
            action.deferred.push(deferred);
        }
    }
}

/// The graph's order, completed with any address it does not know (a graph built from other
/// inputs must not make an action disappear).
fn creation_order(graph: &Graph, desired: &Desired, observed: &Observed) -> Vec<Address> {
    let mut order = graph.creation_order();
    let known: std::collections::BTreeSet<Address> = order.iter().cloned().collect();
    let missing: std::collections::BTreeSet<&Address> = desired
        .resources
        .keys()
        .chain(observed.resources.keys())
        .filter(|a| !known.contains(*a))
        .collect();
    order.extend(missing.into_iter().cloned());
    order
}

fn create(wanted: &DesiredResource) -> Action {
    Action {
        addr: wanted.addr.clone(),
        kind: ActionKind::Create,
        id: None,
        changes: wanted
            .attrs
            .iter()
            .map(|(attr, value)| AttrChange {
                attr: attr.clone(),
                before: None,
                after: Some(value.clone()),
                forces_replacement: false,
            })
            .collect(),
        unchanged_attrs: 0,
        reason: Reason::New,
        shown: Vec::new(),
        deferred: Vec::new(),
    }
}

fn delete(seen: &ObservedResource) -> Action {
    Action {
        addr: seen.addr.clone(),
        kind: ActionKind::Delete,
        id: Some(seen.id.clone()),
        changes: seen
            .attrs
            .iter()
            .map(|(attr, value)| AttrChange {
                attr: attr.clone(),
                before: Some(value.clone()),
                after: None,
                forces_replacement: false,
            })
            .collect(),
        unchanged_attrs: 0,
        reason: Reason::RemovedFromSpec,
        shown: Vec::new(),
        deferred: Vec::new(),
    }
}

/// Some attributes cannot change in place while the resource is in some status (a server in
/// ERROR cannot be started or stopped); the kind's schema lists them.
fn blocked_by_status(wanted: &DesiredResource, seen: &ObservedResource, attr: &str) -> bool {
    let status = seen.status.as_deref();
    wanted
        .addr
        .kind
        .schema()
        .replace_in_status
        .iter()
        .any(|(a, s)| *a == attr && status == Some(*s))
}

/// Only attributes the spec sets are managed; anything else the cloud reports is left alone.
fn compare(wanted: &DesiredResource, seen: &ObservedResource) -> Option<Action> {
    let mut changes = Vec::new();
    let mut unchanged_attrs = 0;
    for (attr, after) in &wanted.attrs {
        let ty = schema::attribute(wanted.addr.kind, attr).map(|a| a.ty);
        let before = seen.attrs.get(attr).map(|b| match ty {
            Some(AttrType::Quotas { .. }) => managed_part(b, after),
            Some(AttrType::FixedIps { to }) => {
                port_fields::managed_addresses(b, after, to.kind.schema().name)
            }
            _ => b.clone(),
        });
        let same = match ty {
            // A pair written with the port's own MAC is the pair Neutron reports without it.
            Some(AttrType::AddressPairs) => {
                let own_mac = seen.attrs.get("mac_address").and_then(Value::as_str);
                before.as_ref() == Some(&port_fields::pairs_as_observed(after, own_mac))
            }
            // What an existing copy was made from is gone (a backup's volume): the copy
            // stays as it is, whatever the spec names.
            _ if schema::made_from(wanted.addr.kind, attr) => {
                matches!(before, Some(Value::Null)) || before.as_ref() == Some(after)
            }
            _ => before.as_ref() == Some(after),
        };
        if same {
            unchanged_attrs += 1;
            continue;
        }
        let forces_replacement = schema::attribute(wanted.addr.kind, attr)
            .is_some_and(|a| a.update == Update::ForcesReplacement)
            || blocked_by_status(wanted, seen, attr);
        changes.push(AttrChange {
            attr: attr.clone(),
            before,
            after: Some(after.clone()),
            forces_replacement,
        });
    }
    let schema = wanted.addr.kind.schema();
    if let Some(status) = seen
        .status
        .as_ref()
        .filter(|s| schema.replace_failed && schema.failed.contains(&s.as_str()))
    {
        return Some(Action {
            addr: wanted.addr.clone(),
            kind: ActionKind::Replace,
            id: Some(seen.id.clone()),
            changes,
            unchanged_attrs,
            reason: Reason::FailedStatus {
                status: status.clone(),
                detail: schema
                    .failure_detail
                    .and_then(|attr| seen.attrs.get(attr)?.as_str())
                    .map(str::to_string),
            },
            shown: shown(wanted, seen),
            deferred: Vec::new(),
        });
    }
    if changes.is_empty() {
        return None;
    }
    let forcing: Vec<String> = changes
        .iter()
        .filter(|c| c.forces_replacement)
        .map(|c| c.attr.clone())
        .collect();
    let (kind, reason) = if forcing.is_empty() {
        let attrs = changes.iter().map(|c| c.attr.clone()).collect();
        match &seen.status {
            Some(status) if schema.is_settling(Some(status)) => (
                ActionKind::Update,
                Reason::Settling {
                    status: status.clone(),
                    attrs,
                },
            ),
            _ => (ActionKind::Update, Reason::AttributesChanged { attrs }),
        }
    } else {
        (
            ActionKind::Replace,
            Reason::AttributesForceReplacement { attrs: forcing },
        )
    };
    Some(Action {
        addr: wanted.addr.clone(),
        kind,
        id: Some(seen.id.clone()),
        changes,
        unchanged_attrs,
        reason,
        shown: shown(wanted, seen),
        deferred: Vec::new(),
    })
}

/// A resource the cloud deletes when another lets go of it ([`schema::Ref::detach_deletes`])
/// is replaced when the spec keeps it: Neutron deletes the port a router update, delete or
/// replacement removes from its interfaces. Returns whether an action changed.
fn replace_deleted_with_links(
    desired: &Desired,
    observed: &Observed,
    actions: &mut BTreeMap<Address, Action>,
) -> bool {
    let mut replaced: Vec<(Address, Reason)> = Vec::new();
    for (by, action) in actions.iter() {
        if action.kind == ActionKind::Create {
            continue;
        }
        let Some(seen) = observed.resources.get(by) else {
            continue;
        };
        for attr in schema::attributes(by.kind) {
            let Some((target, why)) = attr
                .reference()
                .and_then(|r| Some((r.kind, r.detach_deletes?)))
            else {
                continue;
            };
            let kept: Vec<&str> = match action.kind {
                ActionKind::Update => desired
                    .get(by)
                    .map(|w| schema::referenced_names(w.attrs.get(attr.name), target))
                    .unwrap_or_default(),
                _ => Vec::new(),
            };
            for name in schema::referenced_names(seen.attrs.get(attr.name), target) {
                let addr = Address::new(target, name);
                if kept.contains(&name)
                    || desired.get(&addr).is_none()
                    || !observed.resources.contains_key(&addr)
                {
                    continue;
                }
                let reason = Reason::DeletedWithLink {
                    by: by.clone(),
                    attr: attr.name.to_string(),
                    why: why.to_string(),
                };
                replaced.push((addr, reason));
            }
        }
    }
    let mut changed = false;
    for (addr, reason) in replaced {
        let (Some(wanted), Some(seen)) = (desired.get(&addr), observed.resources.get(&addr)) else {
            continue;
        };
        match actions.get_mut(&addr) {
            Some(action) if action.kind == ActionKind::Update => {
                action.kind = ActionKind::Replace;
                action.reason = reason;
                changed = true;
            }
            Some(_) => {}
            None => {
                actions.insert(
                    addr.clone(),
                    Action {
                        addr,
                        kind: ActionKind::Replace,
                        id: Some(seen.id.clone()),
                        changes: Vec::new(),
                        unchanged_attrs: wanted.attrs.len(),
                        reason,
                        shown: shown(wanted, seen),
                        deferred: Vec::new(),
                    },
                );
                changed = true;
            }
        }
    }
    changed
}

/// For a partial map (quotas), the part of the observed object whose keys the spec manages: a
/// tenant's other quotas keep whatever value the cloud has.
fn managed_part(observed: &Value, desired: &Value) -> Value {
    match (observed, desired) {
        // Nested maps (`volume_types = { ssd = 100 }`) are partial too.
        (Value::Object(seen), Value::Object(wanted)) => Value::Object(
            seen.iter()
                .filter_map(|(k, v)| Some((k.clone(), managed_part(v, wanted.get(k)?))))
                .collect(),
        ),
        _ => observed.clone(),
    }
}

/// A replaced resource gets a new id. Dependents that hold it in a replacement-forcing
/// attribute (an instance's subnet) must be replaced too; dependents that hold it in an
/// in-place attribute (a router's interfaces) only relink. Walking in creation order makes
/// chains work: by the time a resource is visited, everything it depends on is settled.
fn propagate_replacements(
    creation_order: &[Address],
    desired: &Desired,
    observed: &Observed,
    graph: &Graph,
    actions: &mut BTreeMap<Address, Action>,
) {
    for replaced in creation_order {
        if actions.get(replaced).map(|a| a.kind) != Some(ActionKind::Replace) {
            continue;
        }
        for dependent in graph.dependents(replaced) {
            let Some(wanted) = desired.get(&dependent) else {
                continue;
            };
            // A resource to be created gets the new id anyway.
            let Some(seen) = observed.resources.get(&dependent) else {
                continue;
            };
            let Some(update) = strongest_reference(&wanted.attrs, &dependent, replaced) else {
                continue;
            };
            let current = actions.get(&dependent).map(|a| a.kind);
            match (update, current) {
                (_, Some(ActionKind::Create | ActionKind::Replace | ActionKind::Delete)) => {}
                (Update::ForcesReplacement, Some(ActionKind::Update)) => {
                    if let Some(action) = actions.get_mut(&dependent) {
                        action.kind = ActionKind::Replace;
                        action.reason = Reason::DependencyReplaced {
                            dependency: replaced.clone(),
                        };
                        for link in reference_changes(wanted, seen, replaced) {
                            if !action.changes.iter().any(|c| c.attr == link.attr) {
                                action.unchanged_attrs = action.unchanged_attrs.saturating_sub(1);
                                action.changes.push(link);
                            }
                        }
                        action.changes.sort_by(|a, b| a.attr.cmp(&b.attr));
                    }
                }
                (Update::ForcesReplacement, None) => {
                    actions.insert(
                        dependent.clone(),
                        forced(
                            wanted,
                            seen,
                            replaced,
                            ActionKind::Replace,
                            Reason::DependencyReplaced {
                                dependency: replaced.clone(),
                            },
                        ),
                    );
                }
                (Update::InPlace, None) => {
                    actions.insert(
                        dependent.clone(),
                        forced(
                            wanted,
                            seen,
                            replaced,
                            ActionKind::Update,
                            Reason::DependencyReplacedRelink {
                                dependency: replaced.clone(),
                            },
                        ),
                    );
                }
                (Update::InPlace, Some(ActionKind::Update)) => {}
            }
        }
    }
}

/// How `dependent` names `target` in its desired attributes: replacement-forcing wins over
/// in-place; None when it does not name it (an implicit edge, which forces nothing).
fn strongest_reference(attrs: &Attrs, dependent: &Address, target: &Address) -> Option<Update> {
    let mut strongest = None;
    for attr in schema::attributes(dependent.kind) {
        // A copy is not remade with what it was made from (a backup keeps its old volume's
        // data when the volume is replaced).
        // A name of a catalog the target's kind joins (an instance's `image` naming an
        // `[image.NAME]`) holds its id as a reference does.
        let joined = match attr.ty {
            schema::AttrType::CloudName { catalog, .. }
            | schema::AttrType::OptionalCloudName { catalog, .. } => {
                target.kind.schema().catalog == Some(catalog)
            }
            _ => false,
        };
        if (attr.reference().map(|r| r.kind) != Some(target.kind) && !joined)
            || schema::made_from(dependent.kind, attr.name)
        {
            continue;
        }
        let names_target = match attrs.get(attr.name) {
            Some(Value::String(s)) => *s == target.name,
            Some(Value::Array(items)) => items.iter().any(|v| v.as_str() == Some(&target.name)),
            _ => false,
        };
        if names_target {
            match attr.update {
                Update::ForcesReplacement => return Some(Update::ForcesReplacement),
                Update::InPlace => strongest = Some(Update::InPlace),
            }
        }
    }
    strongest
}

/// An action caused only by a dependency: no attribute of its own differs, but the ones that
/// name the replaced resource are listed (same name, new id behind it).
fn forced(
    wanted: &DesiredResource,
    seen: &ObservedResource,
    replaced: &Address,
    kind: ActionKind,
    reason: Reason,
) -> Action {
    let changes = reference_changes(wanted, seen, replaced);
    Action {
        addr: wanted.addr.clone(),
        kind,
        id: Some(seen.id.clone()),
        unchanged_attrs: wanted.attrs.len().saturating_sub(changes.len()),
        changes,
        reason,
        shown: shown(wanted, seen),
        deferred: Vec::new(),
    }
}

/// The observed values of the attributes the kind shows beside its changes (the spec does not
/// set them: the cloud decides them).
fn shown(wanted: &DesiredResource, seen: &ObservedResource) -> Vec<(String, Value)> {
    wanted
        .addr
        .kind
        .schema()
        .shown
        .iter()
        .filter(|attr| !wanted.attrs.contains_key(**attr))
        .filter_map(|attr| Some((attr.to_string(), seen.attrs.get(*attr)?.clone())))
        .collect()
}

/// The attributes of `wanted` that name `replaced`, as changes whose value stays the same:
/// what apply must relink, and what the plan shows as `-> (new id)`.
fn reference_changes(
    wanted: &DesiredResource,
    seen: &ObservedResource,
    replaced: &Address,
) -> Vec<AttrChange> {
    schema::attributes(wanted.addr.kind)
        .iter()
        .filter(|a| a.reference().map(|r| r.kind) == Some(replaced.kind))
        .filter_map(|a| {
            let after = wanted.attrs.get(a.name)?;
            let names_it = match after {
                Value::String(s) => *s == replaced.name,
                Value::Array(items) => items.iter().any(|v| v.as_str() == Some(&replaced.name)),
                _ => false,
            };
            names_it.then(|| AttrChange {
                attr: a.name.to_string(),
                before: seen.attrs.get(a.name).cloned(),
                after: Some(after.clone()),
                forces_replacement: a.update == Update::ForcesReplacement,
            })
        })
        .collect()
}

#[cfg(test)]
mod copies_tests;
#[cfg(test)]
mod tests;
