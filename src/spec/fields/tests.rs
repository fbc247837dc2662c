use serde_json::json;

use super::super::load::load_str;
use super::super::{CloudChoice, Desired};
use crate::addr::{Address, Kind};

fn loaded(text: &str) -> Desired {
    match load_str(text) {
        Ok(desired) => desired,
        Err(diags) => panic!("should load:\n{diags}"),
    }
}

fn attrs(desired: &Desired, kind: Kind, name: &str) -> serde_json::Value {
    serde_json::to_value(desired.get(&Address::new(kind, name)).map(|r| &r.attrs))
        .unwrap_or_default()
}

const MINIMAL: &str = r#"
[tenant.t]
[network.n]
tenant = "t"
[subnet.s]
network = "n"
cidr = "2001:db8:0:1::/64"
[router.r]
tenant = "t"
[security_group.g]
tenant = "t"
default_egress = false
[instance.i]
tenant = "t"
flavor = "f"
image = "img"
subnet = "s"
"#;

#[test]
fn omitted_fields_take_their_defaults_and_optional_ones_stay_absent() {
    let d = loaded(MINIMAL);
    assert_eq!(
        attrs(&d, Kind::Tenant, "t"),
        json!({"name": "t", "description": "", "enabled": true, "own_user": true})
    );
    assert_eq!(
        attrs(&d, Kind::Network, "n"),
        json!({"name": "n", "description": "", "tenant": "t", "admin_state_up": true,
               "shared": false, "port_security_enabled": true})
    );
    assert_eq!(
        attrs(&d, Kind::Subnet, "s"),
        json!({"name": "s", "description": "", "network": "n", "cidr": "2001:db8:0:1::/64",
               "ip_version": 6, "enable_dhcp": true, "dns_nameservers": []})
    );
    assert_eq!(
        attrs(&d, Kind::Router, "r"),
        json!({"name": "r", "description": "", "tenant": "t", "admin_state_up": true,
               "external_gateway": false, "subnets": [], "ports": [], "routes": []})
    );
    assert_eq!(
        attrs(&d, Kind::SecurityGroup, "g"),
        json!({"name": "g", "description": "", "tenant": "t", "rules": []})
    );
    assert_eq!(
        attrs(&d, Kind::Instance, "i"),
        json!({"name": "i", "tenant": "t", "flavor": "f", "image": "img", "subnet": "s",
               "power_state": "running", "floating_ip": false, "server_group": null, "keypair": null,
               "metadata": {}, "description": "", "tags": [], "config_drive": false})
    );
}

#[test]
fn a_provider_naming_only_its_cloud_gets_the_defaults() {
    let p = loaded(MINIMAL).provider;
    assert_eq!(p.cloud, CloudChoice::Embedded);
    assert_eq!(p.external_network, None);
    assert_eq!((p.parallelism, p.timeout_secs), (4, 300));
}

#[test]
fn the_ip_mapping_is_read_and_its_bad_entries_are_located() {
    let p = loaded(
        "[provider]\nexternal_network = \"public\"\n\
         [provider.ipv4_external_ip_mapping]\n\"172.24.4.10\" = \"203.0.113.10\"\n",
    )
    .provider;
    assert_eq!(
        p.ipv4_external_ip_mapping,
        [("172.24.4.10".to_string(), "203.0.113.10".to_string())].into()
    );
    let Err(diags) = super::super::load::load_str(
        "[provider]\n[provider.ipv4_external_ip_mapping]\n172.24.4.10 = \"203.0.113.1\"\n\
         \"10.0.0.1\" = \"nope\"\n\"10.0.0.2\" = 7\n",
    ) else {
        panic!("bad mappings load");
    };
    let messages: Vec<String> = diags.iter().map(|d| d.message.clone()).collect();
    assert_eq!(
        messages,
        [
            "`ipv4_external_ip_mapping` key `172` is not an address",
            "invalid IPv4 address `nope`",
            "`ipv4_external_ip_mapping` values are addresses, found an integer",
        ]
    );
}

#[test]
fn the_providers_default_mtu_fills_networks_that_set_none() {
    let d = loaded(
        r#"
[provider]
cloud = "embedded"
default_internal_network_mtu = 1400
[tenant.t]
[network.unset]
tenant = "t"
[network.set]
tenant = "t"
mtu = 1300
"#,
    );
    assert_eq!(d.provider.default_internal_network_mtu, Some(1400));
    assert_eq!(attrs(&d, Kind::Network, "unset")["mtu"], json!(1400));
    assert_eq!(attrs(&d, Kind::Network, "set")["mtu"], json!(1300));
    assert_eq!(loaded(MINIMAL).provider.default_internal_network_mtu, None);
    assert_eq!(attrs(&loaded(MINIMAL), Kind::Network, "n").get("mtu"), None);
}

#[test]
fn a_default_mtu_outside_68_to_9000_is_refused_where_written() {
    let Err(diags) =
        load_str("[provider]\ncloud = \"embedded\"\ndefault_internal_network_mtu = 67\n")
    else {
        panic!("an MTU of 67 loads");
    };
    let text = diags.to_string();
    assert!(
        text.contains("`default_internal_network_mtu` must be between 68 and 9000, found 67"),
        "{text}"
    );
    assert!(text.contains("spec.toml:3:"), "{text}");
}

#[test]
fn another_tenants_subnet_is_usable_only_through_a_share() {
    let base = r#"
[tenant.a]
[tenant.b]
[network.n]
tenant = "a"
[subnet.s]
network = "n"
cidr = "10.0.0.0/24"
[instance.i]
tenant = "b"
flavor = "f"
image = "i"
subnet = "s"
"#;
    let Err(diags) = load_str(base) else {
        panic!("an unshared subnet of another tenant loads");
    };
    let text = diags.to_string();
    assert!(
        text.contains(
            "instance.i (tenant.b) cannot use subnet.s: its network network.n is in tenant.a"
        ),
        "{text}"
    );
    assert!(
        text.contains("add a [network_rbac.NAME] with network = \"n\" and target_tenant = \"b\""),
        "the missing policy is named: {text}"
    );
    assert!(text.contains("spec.toml:13:10"), "{text}");
    loaded(&format!(
        "{base}[network_rbac.p]\nnetwork = \"n\"\ntarget_tenant = \"b\"\n"
    ));
    loaded(&base.replace("tenant = \"a\"\n", "tenant = \"a\"\nshared = true\n"));
    // Only access_as_shared lets the target put ports on the network.
    assert!(
        load_str(&format!(
            "{base}[network_rbac.p]\nnetwork = \"n\"\ntarget_tenant = \"b\"\naction = \"access_as_external\"\n"
        ))
        .is_err()
    );
}

#[test]
fn name_overrides_and_sets_are_sorted() {
    let d = loaded(
        r#"
[tenant.t]
name = "Tenant T"
enabled = false
[network.n]
tenant = "t"
[subnet.b]
network = "n"
cidr = "10.0.1.0/24"
dns_nameservers = ["10.0.0.3", "2001:DB8::1", "10.0.0.2"]
[subnet.a]
network = "n"
cidr = "10.0.0.0/24"
[router.r]
tenant = "t"
subnets = ["b", "a"]
[security_group.z]
tenant = "t"
[security_group.y]
tenant = "t"
[instance.i]
tenant = "t"
flavor = "f"
image = "img"
subnet = "a"
security_groups = ["z", "y"]
power_state = "stopped"
"#,
    );
    assert_eq!(attrs(&d, Kind::Tenant, "t")["name"], json!("Tenant T"));
    assert_eq!(attrs(&d, Kind::Tenant, "t")["enabled"], json!(false));
    assert_eq!(
        attrs(&d, Kind::Subnet, "b")["dns_nameservers"],
        json!(["10.0.0.3", "2001:db8::1", "10.0.0.2"])
    );
    assert_eq!(attrs(&d, Kind::Router, "r")["subnets"], json!(["a", "b"]));
    let instance = attrs(&d, Kind::Instance, "i");
    assert_eq!(instance["security_groups"], json!(["y", "z"]));
    assert_eq!(instance["power_state"], json!("stopped"));
    let refs: Vec<String> = d
        .get(&Address::new(Kind::Router, "r"))
        .map(|r| {
            r.refs
                .iter()
                .map(|r| format!("{}={}", r.field, r.target))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        refs,
        ["tenant=tenant.t", "subnets=subnet.b", "subnets=subnet.a"]
    );
}

#[test]
fn inline_and_dotted_tables_are_resources_too() {
    let d = loaded("[tenant]\nt = { description = \"inline\" }\n[network]\nn.tenant = \"t\"\n");
    let tenant = d.get(&Address::new(Kind::Tenant, "t"));
    assert_eq!(
        tenant.map(|r| r.span.to_string()).as_deref(),
        Some("spec.toml:2:1")
    );
    assert_eq!(attrs(&d, Kind::Tenant, "t")["description"], json!("inline"));
    assert_eq!(attrs(&d, Kind::Network, "n")["tenant"], json!("t"));
}

#[test]
fn empty_references_are_rejected_before_lookup() {
    let diags = match load_str("[tenant.t]\n[router.r]\ntenant = \"\"\nsubnets = [\"\"]\n") {
        Ok(_) => panic!("should fail"),
        Err(diags) => diags,
    };
    let messages: Vec<&str> = diags.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "`tenant` must not be empty",
            "`subnets` must not hold an empty name",
        ]
    );
}

#[test]
fn port_lists_are_sorted_and_duplicates_located() {
    let base = r#"
[tenant.t]
[network.n]
tenant = "t"
[subnet.b]
network = "n"
cidr = "10.0.1.0/24"
[subnet.a]
network = "n"
cidr = "10.0.0.0/24"
[port.p]
network = "n"
"#;
    let d = loaded(&format!(
        "{base}fixed_ips = [ {{ subnet = \"b\" }}, {{ subnet = \"a\", ip_address = \"10.0.0.5\" }} ]\n\
         allowed_address_pairs = [ {{ ip_address = \"10.0.9.0/24\", mac_address = \"FA:16:3E:00:00:01\" }}, {{ ip_address = \"10.0.0.100\" }} ]\n"
    ));
    let port = attrs(&d, Kind::Port, "p");
    assert_eq!(
        port["fixed_ips"],
        json!([{"subnet": "a", "ip_address": "10.0.0.5"}, {"subnet": "b"}])
    );
    assert_eq!(
        port["allowed_address_pairs"],
        json!([{"ip_address": "10.0.0.100"},
               {"ip_address": "10.0.9.0/24", "mac_address": "fa:16:3e:00:00:01"}])
    );
    assert_eq!(port["port_security_enabled"], json!(true));
    let refs: Vec<String> = d
        .get(&Address::new(Kind::Port, "p"))
        .map(|r| {
            r.refs
                .iter()
                .map(|r| format!("{}={}", r.field, r.target))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        refs,
        [
            "network=network.n",
            "fixed_ips=subnet.b",
            "fixed_ips=subnet.a"
        ]
    );

    let twice = format!(
        "{base}fixed_ips = [ {{ subnet = \"a\", ip_address = \"10.0.0.5\" }}, {{ subnet = \"a\", ip_address = \"10.0.0.5\" }} ]\n\
         allowed_address_pairs = [ {{ ip_address = \"10.0.0.1\" }}, {{ ip_address = \"10.0.0.1\" }}, {{ ip_address = \"10.0.0.5/24\" }} ]\n"
    );
    let diags = match load_str(&twice) {
        Ok(_) => panic!("should fail"),
        Err(diags) => diags,
    };
    let messages: Vec<&str> = diags.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "fixed IP 10.0.0.5 on subnet.a is listed twice in `fixed_ips`",
            "address pair 10.0.0.1 is listed twice in `allowed_address_pairs`",
            "invalid address `10.0.0.5/24` in `allowed_address_pairs`",
        ]
    );
}

#[test]
fn every_problem_of_a_table_is_reported_at_once() {
    let diags = match load_str("[network.n]\nmtu = 10\nadmin_state_up = 1\ncolour = \"red\"\n") {
        Ok(_) => panic!("should fail"),
        Err(diags) => diags,
    };
    let messages: Vec<&str> = diags.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "missing required field `tenant` in network.n",
            "`mtu` must be between 68 and 9000, found 10",
            "`admin_state_up` must be a boolean (true or false), found integer",
            "unknown field `colour` in network.n",
        ]
    );
}
