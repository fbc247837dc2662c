//! The planner's tests: unit cases, then properties over generated specs.

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
            json!({"vcpu": 20, "instances": 10, "ram": 51200, "network_count": 100}),
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

/// Regression (issue 7): a server adopted while still in BUILD was planned as a plain
/// power_state update, and apply sent os-start, which real Nova refuses with 409.
#[test]
fn an_instance_still_building_is_waited_for_not_started() {
    let spec = demo();
    let mut observed = observed_as_applied(&spec);
    if let Some(i) = observed.resources.get_mut(&addr("instance.web-1")) {
        i.attrs.insert("power_state".into(), json!("build"));
        i.status = Some("BUILD".into());
    }
    let p = plan(&spec, &observed);
    assert_eq!(
        summary_of(&p),
        [(
            "instance.web-1".to_string(),
            ActionKind::Update,
            Reason::Settling {
                status: "BUILD".into(),
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
    set(&mut spec, "instance.web-1", "image", json!("ubuntu"));
    set(&mut spec, "router.r", "description", json!("edge"));
    let p = plan(&spec, &observed);
    let by_addr: BTreeMap<String, &Action> =
        p.actions.iter().map(|a| (a.addr.to_string(), a)).collect();
    assert_eq!(
        by_addr["instance.web-1"].reason,
        Reason::AttributesForceReplacement {
            attrs: vec!["image".into()]
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

/// Neutron deletes a port a router lets go of: a port the spec keeps is replaced, whether the
/// router drops it from `ports`, is deleted, or is replaced; one the spec drops is deleted.
#[test]
fn a_port_a_router_lets_go_of_is_replaced_with_that_reason() {
    let with_port = |router: Value| {
        desired(vec![
            resource("tenant.demo", json!({"name": "demo"})),
            resource("network.net", json!({"name": "net", "tenant": "demo"})),
            resource(
                "port.p",
                json!({"name": "p", "network": "net", "fixed_ips": []}),
            ),
            resource("router.r", router),
        ])
    };
    let attached = with_port(json!({"name": "r", "tenant": "demo", "ports": ["p"]}));
    let seen = observed_as_applied(&attached);
    let lets_go = Reason::DeletedWithLink {
        by: addr("router.r"),
        attr: "ports".into(),
        why: "Neutron deletes a port removed from a router's interfaces".into(),
    };
    let detached = with_port(json!({"name": "r", "tenant": "demo", "ports": []}));
    let replaced_tenant = with_port(json!({"name": "r", "tenant": "other", "ports": ["p"]}));
    let mut router_gone = detached.clone();
    router_gone.resources.remove(&addr("router.r"));
    for (what, spec) in [
        ("dropped from ports", &detached),
        ("router deleted", &router_gone),
        ("router replaced", &replaced_tenant),
    ] {
        let p = plan(spec, &seen);
        let port = p.actions.iter().find(|a| a.addr == addr("port.p"));
        assert_eq!(
            port.map(|a| (a.kind, a.reason.clone())),
            Some((ActionKind::Replace, lets_go.clone())),
            "{what}: {:?}",
            summary_of(&p)
        );
    }
    let mut both_gone = detached.clone();
    both_gone.resources.remove(&addr("port.p"));
    let p = plan(&both_gone, &seen);
    assert_eq!(
        summary_of(&p),
        [
            (
                "port.p".to_string(),
                ActionKind::Delete,
                Reason::RemovedFromSpec
            ),
            (
                "router.r".to_string(),
                ActionKind::Update,
                Reason::AttributesChanged {
                    attrs: vec!["ports".into()]
                }
            ),
        ]
    );
    assert!(plan(&attached, &seen).actions.is_empty());
}

/// A group that exists gains a rule naming a new group whose rules name it back: the new
/// group is made in one step (the old one has an id), and only the old one's rule naming the
/// new one waits for it. With both new, each waits for the other.
#[test]
fn rules_closing_a_cycle_are_deferred_only_until_a_group_made_by_this_apply() {
    let group = |name: &str, rules: Value| {
        resource(
            &format!("security_group.{name}"),
            json!({"name": name, "tenant": "demo", "rules": rules}),
        )
    };
    let tenant = resource("tenant.demo", json!({"name": "demo"}));
    let before = desired(vec![tenant.clone(), group("web", json!([]))]);
    let observed = observed_as_applied(&before);
    let spec = desired(vec![
        tenant,
        group(
            "web",
            json!([{"direction": "ingress", "remote_group": "app"}]),
        ),
        group(
            "app",
            json!([{"direction": "ingress", "remote_group": "web"}]),
        ),
    ]);
    let deferred = |plan: &Plan| -> Vec<(String, ActionKind, Vec<Deferred>)> {
        plan.actions
            .iter()
            .map(|a| (a.addr.to_string(), a.kind, a.deferred.clone()))
            .collect()
    };
    let until = |name: &str| {
        vec![Deferred {
            attr: "rules".into(),
            until: addr(&format!("security_group.{name}")),
        }]
    };
    assert_eq!(
        deferred(&plan(&spec, &observed)),
        [
            ("security_group.app".to_string(), ActionKind::Create, vec![]),
            (
                "security_group.web".to_string(),
                ActionKind::Update,
                until("app")
            ),
        ]
    );
    let fresh = deferred(&plan(&spec, &Observed::default()));
    assert_eq!(
        fresh[1..],
        [
            (
                "security_group.app".to_string(),
                ActionKind::Create,
                until("web")
            ),
            (
                "security_group.web".to_string(),
                ActionKind::Create,
                until("app")
            ),
        ]
    );
}
