//! `spec::load` on fixture folders: the demo topology normalized exactly as ATTRS.md says, and
//! one folder per kind of mistake, with the exact rendered diagnostics.

use std::path::Path;

use serde_json::json;
use stackform::addr::{Address, Kind};
use stackform::spec::{self, CloudChoice, Desired};

const FIXTURES: &str = "tests/fixtures/specs";

fn load_ok(case: &str) -> Desired {
    match spec::load(&Path::new(FIXTURES).join(case)) {
        Ok(desired) => desired,
        Err(diags) => panic!("{case} should load, got:\n{diags}"),
    }
}

/// The plain rendering of every diagnostic of a fixture that must not load.
fn errors(case: &str) -> String {
    match spec::load(&Path::new(FIXTURES).join(case)) {
        Ok(_) => panic!("{case} should not load"),
        Err(diags) => diags.to_string(),
    }
}

fn addr(kind: Kind, name: &str) -> Address {
    Address::new(kind, name)
}

#[test]
fn demo_topology_loads_with_normalized_attrs() {
    let desired = load_ok("demo");
    let attrs = |kind, name| {
        let resource = desired.get(&addr(kind, name));
        serde_json::to_value(resource.map(|r| &r.attrs)).unwrap()
    };
    assert_eq!(
        attrs(Kind::Tenant, "demo"),
        json!({
            "name": "demo",
            "description": "The demo tenant",
            "enabled": true,
            "quotas": {"instances": 10, "vcpu": 20, "ram": 51200, "network_count": 5, "floating_ip_count": -1},
            "own_user": true,
        })
    );
    assert_eq!(
        attrs(Kind::Network, "demo-net"),
        json!({
            "name": "demo-net",
            "description": "",
            "tenant": "demo",
            "admin_state_up": true,
            "shared": false,
            "port_security_enabled": true,
            "mtu": 1450,
        })
    );
    assert_eq!(
        attrs(Kind::Subnet, "demo-subnet"),
        json!({
            "name": "demo-subnet",
            "description": "",
            "network": "demo-net",
            "cidr": "192.168.42.0/24",
            "ip_version": 4,
            "gateway_ip": "192.168.42.1",
            "enable_dhcp": true,
            "dns_nameservers": ["9.9.9.9", "1.1.1.1"],
        })
    );
    assert_eq!(
        attrs(Kind::Router, "demo-router"),
        json!({
            "name": "demo-router",
            "description": "",
            "tenant": "demo",
            "admin_state_up": true,
            "external_gateway": true,
            "subnets": ["demo-subnet"],
            "ports": [],
            "routes": [],
        })
    );
    let any_egress = |ethertype| {
        json!({"direction": "egress", "ethertype": ethertype, "protocol": null,
               "port_range_min": null, "port_range_max": null, "remote_ip_prefix": null})
    };
    assert_eq!(
        attrs(Kind::SecurityGroup, "web"),
        json!({
            "name": "web",
            "description": "HTTP from anywhere",
            "tenant": "demo",
            "rules": [
                any_egress("IPv4"),
                any_egress("IPv6"),
                {"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp",
                 "port_range_min": 80, "port_range_max": 80, "remote_ip_prefix": "0.0.0.0/0"},
            ],
        })
    );
    assert_eq!(
        attrs(Kind::Instance, "web-1"),
        json!({
            "name": "web-1",
            "tenant": "demo",
            "flavor": "m1.small",
            "image": "cirros",
            "subnet": "demo-subnet",
            "security_groups": ["web"],
            "power_state": "running",
            "floating_ip": false,
            "metadata": {},
            "description": "",
            "tags": [],
            "config_drive": false,
            "server_group": null,
            "keypair": null,
        })
    );
    let all: Vec<String> = desired.resources.keys().map(|a| a.to_string()).collect();
    assert_eq!(
        all,
        [
            "tenant.demo",
            "network.demo-net",
            "subnet.demo-subnet",
            "router.demo-router",
            "security_group.web",
            "instance.web-1",
        ]
    );
}

#[test]
fn demo_provider_is_read() {
    let provider = load_ok("demo").provider;
    assert_eq!(provider.cloud, CloudChoice::Embedded);
    assert_eq!(provider.external_network.as_deref(), Some("public"));
    assert_eq!(provider.parallelism, 8);
    assert_eq!(provider.timeout_secs, 90);
    let span = provider.span.map(|s| s.to_string());
    assert_eq!(
        span.as_deref(),
        Some("tests/fixtures/specs/demo/00-provider.toml:1:1")
    );
}

#[test]
fn demo_references_point_at_their_values() {
    let desired = load_ok("demo");
    let instance = desired.get(&addr(Kind::Instance, "web-1"));
    let refs: Vec<(String, String, String)> = instance
        .map(|r| {
            r.refs
                .iter()
                .map(|r| (r.field.clone(), r.target.to_string(), r.span.to_string()))
                .collect()
        })
        .unwrap_or_default();
    let at = |line_col: &str| format!("tests/fixtures/specs/demo/30-compute.toml:{line_col}");
    assert_eq!(
        refs,
        vec![
            ("tenant".into(), "tenant.demo".into(), at("9:10")),
            ("subnet".into(), "subnet.demo-subnet".into(), at("12:10")),
            (
                "security_groups".into(),
                "security_group.web".into(),
                at("13:20")
            ),
        ]
    );
}

#[test]
fn demo_spans_locate_headers_and_fields() {
    let desired = load_ok("demo");
    let router = desired.get(&addr(Kind::Router, "demo-router"));
    let header = router.map(|r| {
        (
            r.span.to_string(),
            r.span.source[r.span.range.clone()].to_string(),
        )
    });
    assert_eq!(
        header,
        Some((
            "tests/fixtures/specs/demo/20-network.toml:11:1".to_string(),
            "[router.demo-router]".to_string()
        ))
    );
    let spans: Vec<(String, String)> = router
        .map(|r| {
            r.attr_spans
                .iter()
                .map(|(k, s)| (k.clone(), s.to_string()))
                .collect()
        })
        .unwrap_or_default();
    let at = |line_col: &str| format!("tests/fixtures/specs/demo/20-network.toml:{line_col}");
    assert_eq!(
        spans,
        vec![
            ("external_gateway".to_string(), at("13:20")),
            ("subnets".to_string(), at("14:11")),
            ("tenant".to_string(), at("12:10")),
        ]
    );
}

// One fixture per kind of mistake. Each snapshot is the exact text `stackform` prints.

#[test]
fn toml_syntax_errors_are_all_reported() {
    insta::assert_snapshot!(errors("syntax"));
}

#[test]
fn unknown_kind_lists_the_kinds() {
    insta::assert_snapshot!(errors("unknown_kind"));
}

#[test]
fn unknown_field_names_the_allowed_ones() {
    insta::assert_snapshot!(errors("unknown_field"));
}

#[test]
fn wrong_types_name_expected_and_found() {
    insta::assert_snapshot!(errors("wrong_type"));
}

#[test]
fn missing_required_fields_point_at_the_header() {
    insta::assert_snapshot!(errors("missing_required"));
}

#[test]
fn duplicate_resource_across_files_notes_the_first() {
    insta::assert_snapshot!(errors("duplicate_resource"));
}

#[test]
fn second_provider_table_is_an_error() {
    insta::assert_snapshot!(errors("two_providers"));
}

#[test]
fn dangling_references_suggest_the_closest_name() {
    insta::assert_snapshot!(errors("dangling_reference"));
}

#[test]
fn bad_cidrs_gateways_and_nameservers() {
    insta::assert_snapshot!(errors("bad_addresses"));
}

#[test]
fn bad_security_group_rules() {
    insta::assert_snapshot!(errors("bad_rules"));
}

#[test]
fn values_out_of_range() {
    insta::assert_snapshot!(errors("out_of_range"));
}

#[test]
fn bad_quota_keys_and_values() {
    insta::assert_snapshot!(errors("bad_quotas"));
}

#[test]
fn duplicate_list_entries() {
    insta::assert_snapshot!(errors("duplicate_entries"));
}

#[test]
fn cross_tenant_uses_are_errors() {
    insta::assert_snapshot!(errors("cross_tenant"));
}

#[test]
fn invalid_resource_names() {
    insta::assert_snapshot!(errors("invalid_name"));
}

#[test]
fn bad_provider_table() {
    insta::assert_snapshot!(errors("bad_provider"));
}

#[test]
fn missing_folder() {
    insta::assert_snapshot!(errors("does-not-exist"));
}

#[test]
fn file_instead_of_folder() {
    insta::assert_snapshot!(errors("demo/10-tenant.toml"));
}

#[test]
fn folder_without_toml_files() {
    insta::assert_snapshot!(errors("no_toml_files"));
}

#[test]
fn unreadable_file() {
    insta::assert_snapshot!(errors("not_utf8"));
}

#[test]
fn kinds_and_resources_must_be_tables() {
    insta::assert_snapshot!(errors("not_tables"));
}

/// The warnings of a fixture that loads.
fn warnings(case: &str) -> String {
    match spec::load_checked(&Path::new(FIXTURES).join(case)) {
        Ok((_, warnings)) => warnings.to_string(),
        Err(diags) => panic!("{case} should load, got:\n{diags}"),
    }
}

#[test]
fn the_demo_loads_without_warnings() {
    assert_eq!(warnings("demo"), "");
}

/// The Neutron quota names specs wrote before the full mapping keep working: each is read
/// under its current name, with a warning that says the new one.
#[test]
fn former_quota_names_are_read_with_a_warning() {
    let (desired, warnings) =
        spec::load_checked(&Path::new(FIXTURES).join("renamed_quotas")).expect("loads");
    let tenant = desired.get(&addr(Kind::Tenant, "old")).expect("tenant.old");
    assert_eq!(
        tenant.attrs["quotas"],
        json!({"vcpu": 8, "network_count": 5, "subnet_count": 6, "router_count": 2,
               "port_count": 40, "security_group_count": 3, "security_group_rule_count": 30,
               "floating_ip_count": -1})
    );
    insta::assert_snapshot!(warnings.to_string());
}

/// `[provider] default_quotas` is what a tenant that sets no quotas gets; a tenant's own
/// `quotas` replace it whole (no merge: the spec says every managed limit in one place).
#[test]
fn default_quotas_go_to_the_tenants_that_set_none() {
    let desired = load_ok("default_quotas");
    let quotas = |name| {
        desired
            .get(&addr(Kind::Tenant, name))
            .map(|t| t.attrs["quotas"].clone())
    };
    assert_eq!(
        quotas("plain"),
        Some(
            json!({"vcpu": 20, "ram": 51200, "instances": 30, "volumes": 50, "storage": 1024,
                    "snapshots": 50, "security_group_count": 100,
                    "security_group_rule_count": 100, "floating_ip_count": 50,
                    "network_count": 10, "subnet_count": 10, "port_count": -1})
        )
    );
    assert_eq!(quotas("own"), Some(json!({"instances": 2})));
    let plain = desired
        .get(&addr(Kind::Tenant, "plain"))
        .expect("tenant.plain");
    // A quota error of the plan then points at the provider's line, where the limits are.
    let at = plain.span_of("quotas");
    assert_eq!(
        (at.file.display().to_string(), at.range.start),
        (
            "tests/fixtures/specs/default_quotas/main.toml".to_string(),
            std::fs::read_to_string("tests/fixtures/specs/default_quotas/main.toml")
                .expect("fixture")
                .find("{ vcpu = 20")
                .expect("the default quotas")
        )
    );
}

#[test]
fn bad_default_quotas_are_located_errors() {
    insta::assert_snapshot!(errors("bad_default_quotas"));
}

// Regression (issue 7): two networks of one name in one tenant were created without a word;
// anything that finds them by name then picks one at random.
#[test]
fn same_names_in_one_tenant_are_located_warnings() {
    insta::assert_snapshot!(warnings("duplicate_names"));
}

// Regression (issue 7): a spec that lost its [provider] table planned against the embedded
// cloud, calling everything of the real cloud "deleted outside stackform".
#[test]
fn no_provider_table_is_a_located_error() {
    insta::assert_snapshot!(errors("no_provider"));
}

#[test]
fn bad_remote_groups() {
    insta::assert_snapshot!(errors("bad_remote_groups"));
}

#[test]
fn bad_routes() {
    insta::assert_snapshot!(errors("bad_routes"));
}
