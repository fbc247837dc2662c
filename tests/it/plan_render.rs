//! Snapshots of the plan as people and machines read it, for the plans a user meets first:
//! creating the demo, changing rules/quotas/power state, a CIDR change that replaces a chain,
//! and removing resources. Desired and observed values are built by hand, so these tests pin
//! the planner and the renderer, not the spec loader or refresh.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};
use stackform::addr::Address;
use stackform::diag::Span;
use stackform::graph;
use stackform::plan::{self, Plan};
use stackform::render;
use stackform::resources::{Observed, ObservedResource};
use stackform::spec::{CloudChoice, Desired, DesiredResource, Provider};

fn address(s: &str) -> Address {
    s.parse().expect("test addresses are well formed")
}

fn resource(addr: &str, attrs: Value) -> DesiredResource {
    let Value::Object(attrs) = attrs else {
        panic!("attrs of {addr} must be an object");
    };
    let span = Span::new("specs/demo.toml", Arc::from("[x]\n"), 0..3);
    DesiredResource {
        addr: address(addr),
        attrs: attrs.into_iter().collect(),
        refs: Vec::new(),
        span,
        attr_spans: BTreeMap::new(),
    }
}

fn rule(
    protocol: Value,
    port: Option<u16>,
    cidr: Value,
    direction: &str,
    ethertype: &str,
) -> Value {
    json!({
        "direction": direction, "ethertype": ethertype, "protocol": protocol,
        "port_range_min": port, "port_range_max": port, "remote_ip_prefix": cidr,
    })
}

fn egress() -> [Value; 2] {
    [
        rule(Value::Null, None, Value::Null, "egress", "IPv4"),
        rule(Value::Null, None, Value::Null, "egress", "IPv6"),
    ]
}

fn sorted_rules(rules: Vec<Value>) -> Value {
    let mut rules = rules;
    rules.sort_by_key(|r| r.to_string());
    Value::Array(rules)
}

/// The repository's demo: one tenant, its network, subnet and router, a web security group
/// and two instances.
fn demo() -> Desired {
    let [e4, e6] = egress();
    let web_rules = sorted_rules(vec![
        rule(
            json!("tcp"),
            Some(80),
            json!("0.0.0.0/0"),
            "ingress",
            "IPv4",
        ),
        rule(
            json!("tcp"),
            Some(22),
            json!("10.0.0.0/8"),
            "ingress",
            "IPv4",
        ),
        e4,
        e6,
    ]);
    let instance = |name: &str| {
        resource(
            &format!("instance.{name}"),
            json!({"name": name, "tenant": "demo", "flavor": "m1.small", "image": "cirros",
                   "subnet": "demo-subnet", "security_groups": ["web"],
                   "power_state": "running"}),
        )
    };
    let resources = vec![
        resource(
            "tenant.demo",
            json!({"name": "demo", "description": "the demo project", "enabled": true,
                   "quotas": {"instances": 10, "vcpu": 20, "ram": 51200}}),
        ),
        resource(
            "network.demo-net",
            json!({"name": "demo-net", "description": "", "tenant": "demo",
                   "admin_state_up": true, "mtu": 1450}),
        ),
        resource(
            "subnet.demo-subnet",
            json!({"name": "demo-subnet", "description": "", "network": "demo-net",
                   "cidr": "192.168.42.0/24", "ip_version": 4, "gateway_ip": "192.168.42.1",
                   "enable_dhcp": true, "dns_nameservers": ["1.1.1.1", "9.9.9.9"]}),
        ),
        resource(
            "router.demo-router",
            json!({"name": "demo-router", "description": "", "tenant": "demo",
                   "admin_state_up": true, "external_gateway": true,
                   "subnets": ["demo-subnet"]}),
        ),
        resource(
            "security_group.web",
            json!({"name": "web", "description": "HTTP in", "tenant": "demo",
                   "rules": web_rules}),
        ),
        instance("web-1"),
        instance("web-2"),
    ];
    Desired {
        warnings: Default::default(),
        watch: Default::default(),
        provider: Provider {
            cloud: CloudChoice::Embedded,
            external_network: Some("public".into()),
            external_network_span: None,
            ipv4_external_ip_mapping: Default::default(),
            parallelism: 4,
            timeout_secs: 300,
            default_internal_network_mtu: None,
            storage_mode: Default::default(),
            catalog_max_age_secs: 3600,
            default_quotas: None,
            tenant_credentials_visible: false,
            images: Default::default(),
            span: None,
        },
        resources: resources.into_iter().map(|r| (r.addr.clone(), r)).collect(),
    }
}

/// The cloud right after `desired` was applied, with stable fake ids.
fn applied(desired: &Desired) -> Observed {
    let mut observed = Observed::default();
    for (i, r) in desired.resources.values().enumerate() {
        observed.resources.insert(
            r.addr.clone(),
            ObservedResource {
                addr: r.addr.clone(),
                id: format!("{:08x}-0000-4000-8000-{:012x}", 0x5f0c_0000 + i, i),
                attrs: r.attrs.clone(),
                status: Some("ACTIVE".into()),
            },
        );
    }
    observed
}

fn set(spec: &mut Desired, addr: &str, attr: &str, value: Value) {
    if let Some(r) = spec.resources.get_mut(&address(addr)) {
        r.attrs.insert(attr.into(), value);
    }
}

fn set_observed(observed: &mut Observed, addr: &str, attr: &str, value: Value) {
    if let Some(r) = observed.resources.get_mut(&address(addr)) {
        r.attrs.insert(attr.into(), value);
    }
}

fn plan_of(desired: &Desired, observed: &Observed) -> Plan {
    let g = graph::build(desired, observed).expect("the demo has no cycle");
    plan::diff(desired, observed, &g)
}

/// Rules, a quota and a stopped instance drift; the observed tenant has more quotas than
/// the spec manages.
fn updates() -> Plan {
    let mut spec = demo();
    let mut observed = applied(&spec);
    let [e4, e6] = egress();
    set(
        &mut spec,
        "security_group.web",
        "rules",
        sorted_rules(vec![
            rule(
                json!("tcp"),
                Some(80),
                json!("0.0.0.0/0"),
                "ingress",
                "IPv4",
            ),
            rule(
                json!("tcp"),
                Some(443),
                json!("0.0.0.0/0"),
                "ingress",
                "IPv4",
            ),
            e4,
            e6,
        ]),
    );
    set(
        &mut spec,
        "tenant.demo",
        "quotas",
        json!({"instances": 10, "vcpu": 40, "ram": 51200}),
    );
    set_observed(
        &mut observed,
        "tenant.demo",
        "quotas",
        json!({"instances": 10, "vcpu": 20, "ram": 51200, "networks": 100, "ports": 500}),
    );
    set_observed(
        &mut observed,
        "instance.web-2",
        "power_state",
        json!("stopped"),
    );
    plan_of(&spec, &observed)
}

/// A new CIDR: the subnet is replaced, so are the instances on it; the router only remakes
/// its interface.
fn cidr_replacement() -> Plan {
    let mut spec = demo();
    let observed = applied(&spec);
    set(
        &mut spec,
        "subnet.demo-subnet",
        "cidr",
        json!("192.168.43.0/24"),
    );
    set(
        &mut spec,
        "subnet.demo-subnet",
        "gateway_ip",
        json!("192.168.43.1"),
    );
    plan_of(&spec, &observed)
}

/// A second network and its subnet were removed from the spec.
fn deletes() -> Plan {
    let spec = demo();
    let mut old = demo();
    old.resources.insert(
        address("network.old"),
        resource(
            "network.old",
            json!({"name": "old", "description": "", "tenant": "demo",
                   "admin_state_up": true, "mtu": 1500}),
        ),
    );
    old.resources.insert(
        address("subnet.old-subnet"),
        resource(
            "subnet.old-subnet",
            json!({"name": "old-subnet", "description": "", "network": "old",
                   "cidr": "10.9.0.0/24", "ip_version": 4, "enable_dhcp": false,
                   "dns_nameservers": []}),
        ),
    );
    plan_of(&spec, &applied(&old))
}

#[test]
fn human_plan_creating_the_demo() {
    let spec = demo();
    let p = plan_of(&spec, &Observed::default());
    insta::assert_snapshot!(render::human::plan(&p, false));
}

#[test]
fn human_plan_updating_rules_quotas_and_power_state() {
    insta::assert_snapshot!(render::human::plan(&updates(), false));
}

#[test]
fn human_plan_replacing_a_subnet_and_what_sits_on_it() {
    insta::assert_snapshot!(render::human::plan(&cidr_replacement(), false));
}

#[test]
fn human_plan_destroying_removed_resources() {
    insta::assert_snapshot!(render::human::plan(&deletes(), false));
}

#[test]
fn human_plan_without_changes() {
    let spec = demo();
    let p = plan_of(&spec, &applied(&spec));
    assert_eq!(
        render::human::plan(&p, false),
        "No changes. The cloud matches the spec."
    );
}

#[test]
fn json_plan_of_a_replacement_chain() {
    insta::assert_json_snapshot!(render::json::plan(&cidr_replacement()));
}

#[test]
fn json_plan_of_updates_and_deletes() {
    let mut p = updates();
    p.actions.splice(0..0, deletes().actions);
    insta::assert_json_snapshot!(render::json::plan(&p));
}
