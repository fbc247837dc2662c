use super::*;
use crate::addr::Kind;
use crate::plan::fixtures::{addr, desired, observed_as_applied, resource};
use serde_json::json;

fn demo() -> Desired {
    desired(vec![
        resource("tenant.demo", json!({"name": "demo"})),
        resource("network.net", json!({"tenant": "demo"})),
        resource(
            "subnet.sub",
            json!({"network": "net", "cidr": "10.0.0.0/24"}),
        ),
        resource("router.r", json!({"tenant": "demo", "subnets": ["sub"]})),
        resource("security_group.web", json!({"tenant": "demo"})),
        resource(
            "instance.web-1",
            json!({"tenant": "demo", "subnet": "sub", "security_groups": ["web"]}),
        ),
    ])
}

fn strings(addrs: Vec<Address>) -> Vec<String> {
    addrs.iter().map(|a| a.to_string()).collect()
}

#[test]
fn creation_order_puts_dependencies_first_and_breaks_ties_by_kind_then_name() {
    let g = build(&demo(), &Observed::default()).unwrap();
    assert_eq!(
        strings(g.creation_order()),
        [
            "tenant.demo",
            "network.net",
            "subnet.sub",
            "router.r",
            "security_group.web",
            "instance.web-1"
        ]
    );
}

#[test]
fn deletion_order_is_the_reverse() {
    let g = build(&demo(), &Observed::default()).unwrap();
    assert_eq!(
        strings(g.deletion_order()),
        [
            "instance.web-1",
            "security_group.web",
            "router.r",
            "subnet.sub",
            "network.net",
            "tenant.demo"
        ]
    );
}

#[test]
fn instance_depends_implicitly_on_the_router_of_its_subnet() {
    let g = build(&demo(), &Observed::default()).unwrap();
    assert_eq!(
        strings(g.dependencies(&addr("instance.web-1"))),
        [
            "tenant.demo",
            "subnet.sub",
            "router.r",
            "security_group.web"
        ]
    );
    assert_eq!(
        g.links(&addr("router.r"), &addr("instance.web-1")),
        [Link::Implied {
            attr: "subnet",
            via: addr("subnet.sub"),
            relation: "the router of",
        }]
    );
    assert_eq!(
        strings(g.dependents(&addr("subnet.sub"))),
        ["router.r", "instance.web-1"]
    );
}

#[test]
fn observed_only_resources_are_ordered_by_their_observed_references() {
    let observed = observed_as_applied(&demo());
    let g = build(&desired(vec![]), &observed).unwrap();
    assert_eq!(
        strings(g.deletion_order()),
        [
            "instance.web-1",
            "security_group.web",
            "router.r",
            "subnet.sub",
            "network.net",
            "tenant.demo"
        ]
    );
    assert_eq!(
        strings(g.dependencies(&addr("instance.web-1"))),
        [
            "tenant.demo",
            "subnet.sub",
            "router.r",
            "security_group.web"
        ]
    );
}

#[test]
fn a_kept_router_still_linked_to_a_dropped_subnet_depends_on_it() {
    let mut observed = observed_as_applied(&demo());
    observed.resources.retain(|a, _| a.kind != Kind::Instance);
    let spec = desired(vec![
        resource("tenant.demo", json!({"name": "demo"})),
        resource("router.r", json!({"tenant": "demo", "subnets": []})),
    ]);
    let g = build(&spec, &observed).unwrap();
    assert_eq!(strings(g.dependents(&addr("subnet.sub"))), ["router.r"]);
}

#[test]
fn references_to_unknown_addresses_are_ignored() {
    let spec = desired(vec![resource("network.net", json!({"tenant": "ghost"}))]);
    let g = build(&spec, &Observed::default()).unwrap();
    assert!(g.dependencies(&addr("network.net")).is_empty());
    assert_eq!(strings(g.creation_order()), ["network.net"]);
}

#[test]
fn a_cycle_is_one_error_naming_it_at_the_first_resource_with_notes_on_each_reference() {
    // The schema's references all point to earlier kinds, so no spec can build a cycle
    // today; the detection is checked on hand-made edges.
    let spec = desired(vec![
        resource("network.a", json!({"tenant": "c"})),
        resource("subnet.b", json!({"network": "a"})),
        resource("router.c", json!({"subnets": ["b"]})),
        resource("tenant.alone", json!({})),
    ]);
    let edge = |dependency: &str, dependent: &str, attr| Edge {
        dependency: addr(dependency),
        dependent: addr(dependent),
        link: Link::Reference { attr },
    };
    let nodes: BTreeSet<Address> = spec.resources.keys().cloned().collect();
    let edges: Vec<Edge> = [
        edge("subnet.b", "network.a", "tenant"),
        edge("router.c", "subnet.b", "network"),
        edge("network.a", "router.c", "subnets"),
    ]
    .into_iter()
    .collect();
    let spec = with_refs(
        spec,
        &[
            ("network.a", "tenant", "subnet.b"),
            ("subnet.b", "network", "router.c"),
            ("router.c", "subnets", "network.a"),
        ],
    );
    let g = Graph::from_edges(&nodes, edges);
    let diags = g.cycle_diagnostics(&spec);
    assert_eq!(diags.0.len(), 1);
    let d = &diags.0[0];
    assert_eq!(
        d.message,
        "dependency cycle: network.a → subnet.b → router.c → network.a"
    );
    assert_eq!(d.span.as_ref().map(|s| s.line), Some(1));
    let notes: Vec<(&str, usize)> = d
        .notes
        .iter()
        .map(|(m, s)| (m.as_str(), s.range.start))
        .collect();
    assert_eq!(
        notes,
        [
            ("network.a refers to subnet.b", 100),
            ("subnet.b refers to router.c", 200),
            ("router.c refers to network.a", 300)
        ]
    );
}

#[test]
fn each_cycle_is_its_own_error_and_a_self_reference_is_a_cycle() {
    let spec = desired(vec![
        resource("network.a", json!({})),
        resource("subnet.b", json!({})),
        resource("router.x", json!({})),
        resource("router.y", json!({})),
        resource("instance.z", json!({})),
    ]);
    let edge = |dependency: &str, dependent: &str| Edge {
        dependency: addr(dependency),
        dependent: addr(dependent),
        link: Link::Reference { attr: "subnets" },
    };
    let edges: Vec<Edge> = [
        edge("router.y", "router.x"),
        edge("router.x", "router.y"),
        edge("instance.z", "instance.z"),
        edge("network.a", "subnet.b"),
    ]
    .into_iter()
    .collect();
    let nodes: BTreeSet<Address> = spec.resources.keys().cloned().collect();
    let g = Graph::from_edges(&nodes, edges);
    let messages: Vec<String> = g
        .cycle_diagnostics(&spec)
        .iter()
        .map(|d| d.message.clone())
        .collect();
    assert_eq!(
        messages,
        [
            "dependency cycle: router.x → router.y → router.x",
            "dependency cycle: instance.z → instance.z"
        ]
    );
}

fn group(name: &str, remotes: &[&str]) -> crate::spec::DesiredResource {
    let rules: Vec<_> = remotes
        .iter()
        .map(|remote| json!({"direction": "ingress", "remote_group": remote}))
        .collect();
    resource(
        &format!("security_group.{name}"),
        json!({"tenant": "demo", "rules": rules}),
    )
}

#[test]
fn groups_whose_rules_name_each_other_are_not_a_cycle_their_rules_are_deferred() {
    let spec = desired(vec![
        resource("tenant.demo", json!({"name": "demo"})),
        group("web", &["app", "web"]),
        group("app", &["web"]),
        group("db", &["app"]),
    ]);
    let g = build(&spec, &Observed::default()).expect("Neutron takes mutual remote groups");
    assert_eq!(
        g.deferred_dependencies(&addr("security_group.web")),
        [(addr("security_group.app"), "rules")]
    );
    assert_eq!(
        g.deferred_dependencies(&addr("security_group.app")),
        [(addr("security_group.web"), "rules")]
    );
    let dot = g.to_dot();
    for (from, to) in [("app", "web"), ("web", "app")] {
        let edge =
            format!("  \"security_group.{from}\" -> \"security_group.{to}\" [style = dotted];\n");
        assert!(dot.contains(&edge), "{dot}");
    }
    // Outside the cycle the dependency is kept: db is made after app, in one step.
    assert!(
        g.deferred_dependencies(&addr("security_group.db"))
            .is_empty()
    );
    assert_eq!(
        strings(g.dependencies(&addr("security_group.db"))),
        ["tenant.demo", "security_group.app"]
    );
    assert_eq!(
        strings(g.creation_order()),
        [
            "tenant.demo",
            "security_group.app",
            "security_group.db",
            "security_group.web"
        ]
    );
}

#[test]
fn a_cycle_through_other_references_is_still_one_when_deferred_rules_are_set_aside() {
    let spec = desired(vec![group("web", &["app"]), group("app", &["web"])]);
    let rule_edge = |dependency: &str, dependent: &str| Edge {
        dependency: addr(dependency),
        dependent: addr(dependent),
        link: Link::Implied {
            attr: "rules",
            via: addr(dependency),
            relation: "the remote group of a rule of",
        },
    };
    // A hand-made reference both ways beside the rules: no follow-up can break it.
    let reference = |dependency: &str, dependent: &str| Edge {
        dependency: addr(dependency),
        dependent: addr(dependent),
        link: Link::Reference { attr: "tenant" },
    };
    let nodes: BTreeSet<Address> = spec.resources.keys().cloned().collect();
    let edges = [
        rule_edge("security_group.app", "security_group.web"),
        rule_edge("security_group.web", "security_group.app"),
        reference("security_group.app", "security_group.web"),
        reference("security_group.web", "security_group.app"),
    ]
    .into_iter()
    .collect();
    let g = defer_breakable_cycles(&nodes, edges);
    assert_eq!(g.deferred.len(), 2);
    let messages: Vec<String> = g
        .cycle_diagnostics(&spec)
        .iter()
        .map(|d| d.message.clone())
        .collect();
    assert_eq!(
        messages,
        ["dependency cycle: security_group.app → security_group.web → security_group.app"]
    );
}

/// Adds a located reference per (resource, field, target), at byte 100, 200, 300...
fn with_refs(mut spec: Desired, refs: &[(&str, &str, &str)]) -> Desired {
    use crate::plan::fixtures::span_at;
    for (i, (from, field, target)) in refs.iter().enumerate() {
        if let Some(r) = spec.resources.get_mut(&addr(from)) {
            r.refs.push(crate::spec::Reference {
                field: field.to_string(),
                target: addr(target),
                span: span_at(100 * (i + 1)),
            });
        }
    }
    spec
}

#[test]
fn dot_output_is_deterministic_with_dashed_implicit_edges() {
    let g = build(&demo(), &Observed::default()).unwrap();
    assert_eq!(
        g.to_dot(),
        r#"digraph stackform {
  rankdir = LR;
  "tenant.demo";
  "network.net";
  "subnet.sub";
  "router.r";
  "security_group.web";
  "instance.web-1";
  "tenant.demo" -> "network.net";
  "tenant.demo" -> "router.r";
  "tenant.demo" -> "security_group.web";
  "tenant.demo" -> "instance.web-1";
  "network.net" -> "subnet.sub";
  "subnet.sub" -> "router.r";
  "subnet.sub" -> "instance.web-1";
  "router.r" -> "instance.web-1" [style = dashed];
  "security_group.web" -> "instance.web-1";
}
"#
    );
}
