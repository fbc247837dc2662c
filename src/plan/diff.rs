//! The diff itself: desired vs observed, per resource, then replacements propagated along the
//! graph, then the actions put in display order.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Action, ActionKind, AttrChange, Plan, Reason};
use crate::addr::{Address, Kind};
use crate::graph::Graph;
use crate::resources::schema::{self, Update};
use crate::resources::{Observed, ObservedResource};
use crate::spec::{Attrs, Desired, DesiredResource};

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
    propagate_replacements(&creation_order, desired, observed, graph, &mut actions);

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
    Plan { actions: ordered }
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
    }
}

/// A server in ERROR cannot be brought to a power state: real Nova answers 409 ("Instance
/// ... is not ready") to os-start and os-stop in vm_state error, so an in-place update would
/// fail on every apply. Its power_state change forces a new server instead.
fn is_failed_server(wanted: &DesiredResource, seen: &ObservedResource, attr: &str) -> bool {
    wanted.addr.kind == Kind::Instance
        && attr == "power_state"
        && seen.status.as_deref() == Some("ERROR")
}

/// Only attributes the spec sets are managed; anything else the cloud reports is left alone.
fn compare(wanted: &DesiredResource, seen: &ObservedResource) -> Option<Action> {
    let mut changes = Vec::new();
    let mut unchanged_attrs = 0;
    for (attr, after) in &wanted.attrs {
        let before = seen.attrs.get(attr).map(|b| managed_part(attr, b, after));
        if before.as_ref() == Some(after) {
            unchanged_attrs += 1;
            continue;
        }
        let forces_replacement = schema::attribute(wanted.addr.kind, attr)
            .is_some_and(|a| a.update == Update::ForcesReplacement)
            || is_failed_server(wanted, seen, attr);
        changes.push(AttrChange {
            attr: attr.clone(),
            before,
            after: Some(after.clone()),
            forces_replacement,
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
        (ActionKind::Update, Reason::AttributesChanged { attrs })
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
    })
}

/// For `quotas`, the part of the observed object whose keys the spec manages: a tenant's other
/// quotas keep whatever value the cloud has.
fn managed_part(attr: &str, observed: &Value, desired: &Value) -> Value {
    match (attr, observed, desired) {
        ("quotas", Value::Object(seen), Value::Object(wanted)) => Value::Object(
            seen.iter()
                .filter(|(k, _)| wanted.contains_key(*k))
                .map(|(k, v)| (k.clone(), v.clone()))
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
        if attr.reference != Some(target.kind) {
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
    }
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
        .filter(|a| a.reference == Some(replaced.kind))
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
mod tests {
    use serde_json::json;

    use super::*;
    use crate::graph;
    use crate::plan::fixtures::{addr, desired, observed_as_applied, resource};

    fn plan(desired: &Desired, observed: &Observed) -> Plan {
        let g = graph::build(desired, observed).expect("acyclic");
        diff(desired, observed, &g)
    }

    fn demo() -> Desired {
        desired(vec![
            resource(
                "tenant.demo",
                json!({"name": "demo", "quotas": {"vcpu": 20, "instances": 10}}),
            ),
            resource(
                "network.net",
                json!({"name": "net", "tenant": "demo", "mtu": 1450}),
            ),
            resource(
                "subnet.sub",
                json!({"name": "sub", "network": "net", "cidr": "192.168.42.0/24"}),
            ),
            resource(
                "router.r",
                json!({"name": "r", "tenant": "demo", "subnets": ["sub"]}),
            ),
            resource(
                "security_group.web",
                json!({"name": "web", "tenant": "demo"}),
            ),
            resource(
                "instance.web-1",
                json!({"name": "web-1", "tenant": "demo", "subnet": "sub",
                       "security_groups": ["web"], "power_state": "running"}),
            ),
        ])
    }

    fn summary_of(plan: &Plan) -> Vec<(String, ActionKind, Reason)> {
        plan.actions
            .iter()
            .map(|a| (a.addr.to_string(), a.kind, a.reason.clone()))
            .collect()
    }

    fn set(spec: &mut Desired, address: &str, attr: &str, value: Value) {
        if let Some(r) = spec.resources.get_mut(&addr(address)) {
            r.attrs.insert(attr.to_string(), value);
        }
    }

    #[test]
    fn everything_is_created_in_dependency_order_from_an_empty_cloud() {
        let spec = demo();
        let p = plan(&spec, &Observed::default());
        let order: Vec<String> = p.actions.iter().map(|a| a.addr.to_string()).collect();
        assert_eq!(
            order,
            [
                "tenant.demo",
                "network.net",
                "subnet.sub",
                "router.r",
                "security_group.web",
                "instance.web-1"
            ]
        );
        assert!(
            p.actions
                .iter()
                .all(|a| a.kind == ActionKind::Create && a.reason == Reason::New && a.id.is_none())
        );
        assert_eq!(
            p.actions[1].changes,
            [
                AttrChange {
                    attr: "mtu".into(),
                    before: None,
                    after: Some(json!(1450)),
                    forces_replacement: false
                },
                AttrChange {
                    attr: "name".into(),
                    before: None,
                    after: Some(json!("net")),
                    forces_replacement: false
                },
                AttrChange {
                    attr: "tenant".into(),
                    before: None,
                    after: Some(json!("demo")),
                    forces_replacement: false
                },
            ]
        );
        assert_eq!(p.summary(), (6, 0, 0));
    }

    #[test]
    fn nothing_to_do_when_the_cloud_matches() {
        let spec = demo();
        let p = plan(&spec, &observed_as_applied(&spec));
        assert_eq!(p, Plan::default());
    }

    #[test]
    fn attributes_the_spec_does_not_set_are_not_managed() {
        let spec = demo();
        let mut observed = observed_as_applied(&spec);
        if let Some(net) = observed.resources.get_mut(&addr("network.net")) {
            net.attrs.insert("description".into(), json!("set by hand"));
        }
        assert!(plan(&spec, &observed).is_empty());
    }

    #[test]
    fn only_the_quota_keys_in_the_spec_are_compared() {
        let spec = demo();
        let mut observed = observed_as_applied(&spec);
        if let Some(t) = observed.resources.get_mut(&addr("tenant.demo")) {
            t.attrs.insert(
                "quotas".into(),
                json!({"vcpu": 20, "instances": 10, "ram": 51200, "networks": 100}),
            );
        }
        assert!(plan(&spec, &observed).is_empty());

        if let Some(t) = observed.resources.get_mut(&addr("tenant.demo")) {
            t.attrs.insert(
                "quotas".into(),
                json!({"vcpu": 8, "instances": 10, "ram": 51200}),
            );
        }
        let p = plan(&spec, &observed);
        assert_eq!(p.actions.len(), 1);
        let a = &p.actions[0];
        assert_eq!(
            (a.kind, a.id.as_deref()),
            (ActionKind::Update, Some("id-demo"))
        );
        assert_eq!(
            a.reason,
            Reason::AttributesChanged {
                attrs: vec!["quotas".into()]
            }
        );
        assert_eq!(
            a.changes,
            [AttrChange {
                attr: "quotas".into(),
                before: Some(json!({"vcpu": 8, "instances": 10})),
                after: Some(json!({"vcpu": 20, "instances": 10})),
                forces_replacement: false
            }]
        );
        assert_eq!(a.unchanged_attrs, 1);
    }

    #[test]
    fn in_place_changes_update_and_missing_observed_attrs_have_no_before() {
        let mut spec = demo();
        let observed = observed_as_applied(&spec);
        set(&mut spec, "network.net", "mtu", json!(9000));
        set(&mut spec, "network.net", "description", json!("main"));
        let p = plan(&spec, &observed);
        assert_eq!(
            summary_of(&p),
            [(
                "network.net".to_string(),
                ActionKind::Update,
                Reason::AttributesChanged {
                    attrs: vec!["description".into(), "mtu".into()]
                }
            )]
        );
        assert_eq!(p.actions[0].changes[0].before, None);
        assert_eq!(p.actions[0].changes[1].before, Some(json!(1450)));
        assert_eq!(p.actions[0].changes[1].after, Some(json!(9000)));
        assert_eq!(p.actions[0].unchanged_attrs, 2);
    }

    #[test]
    fn an_instance_in_error_is_replaced() {
        let spec = demo();
        let mut observed = observed_as_applied(&spec);
        if let Some(i) = observed.resources.get_mut(&addr("instance.web-1")) {
            i.attrs.insert("power_state".into(), json!("error"));
            i.status = Some("ERROR".into());
        }
        let p = plan(&spec, &observed);
        assert_eq!(
            summary_of(&p),
            [(
                "instance.web-1".to_string(),
                ActionKind::Replace,
                Reason::AttributesForceReplacement {
                    attrs: vec!["power_state".into()]
                }
            )]
        );
    }

    #[test]
    fn changing_a_subnet_cidr_replaces_it_and_its_instance_and_relinks_the_router() {
        let mut spec = demo();
        let observed = observed_as_applied(&spec);
        set(&mut spec, "subnet.sub", "cidr", json!("192.168.43.0/24"));
        let p = plan(&spec, &observed);
        assert_eq!(
            summary_of(&p),
            [
                (
                    "subnet.sub".to_string(),
                    ActionKind::Replace,
                    Reason::AttributesForceReplacement {
                        attrs: vec!["cidr".into()]
                    }
                ),
                (
                    "router.r".to_string(),
                    ActionKind::Update,
                    Reason::DependencyReplacedRelink {
                        dependency: addr("subnet.sub")
                    }
                ),
                (
                    "instance.web-1".to_string(),
                    ActionKind::Replace,
                    Reason::DependencyReplaced {
                        dependency: addr("subnet.sub")
                    }
                ),
            ]
        );
        assert_eq!(
            p.actions[0].changes,
            [AttrChange {
                attr: "cidr".into(),
                before: Some(json!("192.168.42.0/24")),
                after: Some(json!("192.168.43.0/24")),
                forces_replacement: true
            }]
        );
        assert_eq!(p.actions[2].id.as_deref(), Some("id-web-1"));
        assert_eq!(
            p.actions[2].changes,
            [AttrChange {
                attr: "subnet".into(),
                before: Some(json!("sub")),
                after: Some(json!("sub")),
                forces_replacement: true
            }]
        );
        assert_eq!(p.actions[2].unchanged_attrs, 4);
        assert_eq!(
            p.actions[1].changes,
            [AttrChange {
                attr: "subnets".into(),
                before: Some(json!(["sub"])),
                after: Some(json!(["sub"])),
                forces_replacement: false
            }]
        );
        assert_eq!(p.summary(), (2, 1, 2));
    }

    #[test]
    fn replacement_chains_through_several_levels() {
        let mut spec = demo();
        let observed = observed_as_applied(&spec);
        // A network moved to another tenant is replaced, then its subnet, then the instance.
        spec.resources.insert(
            addr("tenant.other"),
            resource("tenant.other", json!({"name": "other"})),
        );
        set(&mut spec, "network.net", "tenant", json!("other"));
        let p = plan(&spec, &observed);
        let kinds: Vec<(String, ActionKind)> = p
            .actions
            .iter()
            .map(|a| (a.addr.to_string(), a.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                ("tenant.other".to_string(), ActionKind::Create),
                ("network.net".to_string(), ActionKind::Replace),
                ("subnet.sub".to_string(), ActionKind::Replace),
                ("router.r".to_string(), ActionKind::Update),
                ("instance.web-1".to_string(), ActionKind::Replace),
            ]
        );
        assert_eq!(
            p.actions[4].reason,
            Reason::DependencyReplaced {
                dependency: addr("subnet.sub")
            }
        );
    }

    #[test]
    fn a_dependent_replaced_for_its_own_reasons_keeps_its_reason_and_an_update_is_upgraded() {
        let mut spec = demo();
        let observed = observed_as_applied(&spec);
        set(&mut spec, "subnet.sub", "cidr", json!("192.168.43.0/24"));
        set(&mut spec, "instance.web-1", "flavor", json!("m1.small"));
        set(&mut spec, "router.r", "description", json!("edge"));
        let p = plan(&spec, &observed);
        let by_addr: BTreeMap<String, &Action> =
            p.actions.iter().map(|a| (a.addr.to_string(), a)).collect();
        assert_eq!(
            by_addr["instance.web-1"].reason,
            Reason::AttributesForceReplacement {
                attrs: vec!["flavor".into()]
            }
        );
        // The router already changes in place; the relink rides along with that update.
        assert_eq!(by_addr["router.r"].kind, ActionKind::Update);
        assert_eq!(
            by_addr["router.r"].reason,
            Reason::AttributesChanged {
                attrs: vec!["description".into()]
            }
        );

        let mut spec = demo();
        set(&mut spec, "subnet.sub", "cidr", json!("192.168.43.0/24"));
        set(&mut spec, "instance.web-1", "power_state", json!("stopped"));
        let p = plan(&spec, &observed);
        let instance = p
            .actions
            .iter()
            .find(|a| a.addr == addr("instance.web-1"))
            .expect("instance planned");
        assert_eq!(instance.kind, ActionKind::Replace);
        assert_eq!(
            instance.reason,
            Reason::DependencyReplaced {
                dependency: addr("subnet.sub")
            }
        );
        let changed: Vec<&str> = instance.changes.iter().map(|c| c.attr.as_str()).collect();
        assert_eq!(changed, ["power_state", "subnet"]);
        assert_eq!(instance.unchanged_attrs, 3);
    }

    #[test]
    fn a_replaced_security_group_relinks_its_instances() {
        let mut spec = demo();
        let observed = observed_as_applied(&spec);
        spec.resources.insert(
            addr("tenant.other"),
            resource("tenant.other", json!({"name": "other"})),
        );
        set(&mut spec, "security_group.web", "tenant", json!("other"));
        let p = plan(&spec, &observed);
        assert_eq!(
            summary_of(&p)[2],
            (
                "instance.web-1".to_string(),
                ActionKind::Update,
                Reason::DependencyReplacedRelink {
                    dependency: addr("security_group.web")
                }
            )
        );
    }

    #[test]
    fn removed_resources_are_deleted_first_dependents_first() {
        let spec = demo();
        let observed = observed_as_applied(&spec);
        let mut smaller = spec.clone();
        smaller
            .resources
            .retain(|a, _| matches!(a.name.as_str(), "demo" | "web"));
        smaller.resources.insert(
            addr("network.new"),
            resource("network.new", json!({"name": "new", "tenant": "demo"})),
        );
        let p = plan(&smaller, &observed);
        let kinds: Vec<(String, ActionKind)> = p
            .actions
            .iter()
            .map(|a| (a.addr.to_string(), a.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                ("instance.web-1".to_string(), ActionKind::Delete),
                ("router.r".to_string(), ActionKind::Delete),
                ("subnet.sub".to_string(), ActionKind::Delete),
                ("network.net".to_string(), ActionKind::Delete),
                ("network.new".to_string(), ActionKind::Create),
            ]
        );
        let deleted = &p.actions[3];
        assert_eq!(deleted.reason, Reason::RemovedFromSpec);
        assert_eq!(deleted.id.as_deref(), Some("id-net"));
        assert_eq!(
            deleted.changes[0],
            AttrChange {
                attr: "mtu".into(),
                before: Some(json!(1450)),
                after: None,
                forces_replacement: false
            }
        );
        assert_eq!(p.summary(), (1, 0, 4));
    }

    #[test]
    fn the_same_inputs_give_the_same_plan() {
        let mut spec = demo();
        let observed = observed_as_applied(&spec);
        set(&mut spec, "subnet.sub", "cidr", json!("192.168.43.0/24"));
        set(&mut spec, "tenant.demo", "quotas", json!({"vcpu": 40}));
        spec.resources.remove(&addr("security_group.web"));
        let first = plan(&spec, &observed);
        for _ in 0..5 {
            assert_eq!(plan(&spec, &observed), first);
        }
    }

    /// A tiny xorshift generator: deterministic, so a failure reproduces from its seed.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn pick<'a>(&mut self, names: &'a [String]) -> Option<&'a String> {
            (!names.is_empty()).then(|| &names[self.below(names.len())])
        }
    }

    /// A random but valid spec: every reference names an existing resource of the right kind.
    fn random_spec(rng: &mut Rng) -> Desired {
        let mut resources = Vec::new();
        let mut names: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        let count = |rng: &mut Rng| 1 + rng.below(3);
        for i in 0..count(rng) {
            let name = format!("t{i}");
            resources.push(resource(&format!("tenant.{name}"), json!({"name": name})));
            names.entry("tenant").or_default().push(name);
        }
        let tenants = names["tenant"].clone();
        for i in 0..count(rng) {
            let name = format!("n{i}");
            let tenant = rng.pick(&tenants);
            resources.push(resource(
                &format!("network.{name}"),
                json!({"name": name, "tenant": tenant}),
            ));
            names.entry("network").or_default().push(name);
        }
        let networks = names["network"].clone();
        for i in 0..count(rng) {
            let name = format!("s{i}");
            let network = rng.pick(&networks);
            resources.push(resource(
                &format!("subnet.{name}"),
                json!({"name": name, "network": network, "cidr": format!("10.{i}.0.0/24")}),
            ));
            names.entry("subnet").or_default().push(name);
        }
        let subnets = names["subnet"].clone();
        for i in 0..rng.below(3) {
            let mut on: Vec<&String> = subnets.iter().filter(|_| rng.below(2) == 0).collect();
            on.sort();
            resources.push(resource(
                &format!("router.r{i}"),
                json!({"name": format!("r{i}"), "tenant": rng.pick(&tenants), "subnets": on}),
            ));
        }
        let mut groups = Vec::new();
        for i in 0..rng.below(3) {
            groups.push(format!("g{i}"));
            resources.push(resource(
                &format!("security_group.g{i}"),
                json!({"name": format!("g{i}"), "tenant": rng.pick(&tenants)}),
            ));
        }
        for i in 0..rng.below(4) {
            let mut sgs: Vec<&String> = groups.iter().filter(|_| rng.below(2) == 0).collect();
            sgs.sort();
            resources.push(resource(
                &format!("instance.i{i}"),
                json!({"name": format!("i{i}"), "tenant": rng.pick(&tenants),
                       "subnet": rng.pick(&subnets), "security_groups": sgs,
                       "flavor": "m1.tiny", "image": "cirros"}),
            ));
        }
        desired(resources)
    }

    /// The failing case in a form that can be pasted into a spec file (values are JSON
    /// literals, which TOML reads the same for strings, numbers and lists).
    fn as_toml(spec: &Desired) -> String {
        let mut out = String::new();
        for r in spec.resources.values() {
            out.push_str(&format!("[{}.{}]\n", r.addr.kind, r.addr.name));
            for (k, v) in &r.attrs {
                out.push_str(&format!("{k} = {v}\n"));
            }
        }
        out
    }

    #[test]
    fn property_a_replan_after_apply_is_empty_and_creates_follow_dependencies() {
        for seed in 1..=200u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let spec = random_spec(&mut rng);
            let g = graph::build(&spec, &Observed::default()).expect("acyclic");

            let creates = diff(&spec, &Observed::default(), &g);
            assert_eq!(
                creates.actions.len(),
                spec.resources.len(),
                "seed {seed}, spec:\n{}",
                as_toml(&spec)
            );
            let position: BTreeMap<&Address, usize> = creates
                .actions
                .iter()
                .enumerate()
                .map(|(i, a)| (&a.addr, i))
                .collect();
            for a in &creates.actions {
                assert_eq!(
                    a.kind,
                    ActionKind::Create,
                    "seed {seed}, spec:\n{}",
                    as_toml(&spec)
                );
                for dependency in g.dependencies(&a.addr) {
                    assert!(
                        position[&dependency] < position[&a.addr],
                        "seed {seed}: {} created before its dependency {dependency}, spec:\n{}",
                        a.addr,
                        as_toml(&spec)
                    );
                }
            }

            let applied = observed_as_applied(&spec);
            let g = graph::build(&spec, &applied).expect("acyclic");
            assert_eq!(
                diff(&spec, &applied, &g),
                Plan::default(),
                "seed {seed}, spec:\n{}",
                as_toml(&spec)
            );

            let nothing = desired(vec![]);
            let g = graph::build(&nothing, &applied).expect("acyclic");
            let deletes = diff(&nothing, &applied, &g);
            let position: BTreeMap<&Address, usize> = deletes
                .actions
                .iter()
                .enumerate()
                .map(|(i, a)| (&a.addr, i))
                .collect();
            for a in &deletes.actions {
                assert_eq!(
                    a.kind,
                    ActionKind::Delete,
                    "seed {seed}, spec:\n{}",
                    as_toml(&spec)
                );
                for dependent in g.dependents(&a.addr) {
                    assert!(
                        position[&dependent] < position[&a.addr],
                        "seed {seed}: {} deleted before its dependent {dependent}, spec:\n{}",
                        a.addr,
                        as_toml(&spec)
                    );
                }
            }
        }
    }
}
