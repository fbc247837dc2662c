//! Unit tests of the Neutron data layer, driven without HTTP.

use serde_json::{Map, Value, json};

use super::model::{Actor, Kind, Method, NeutronError, check_attributes};
use super::query::ListQuery;
use super::*;

const ADMIN_PROJECT: &str = "adminproject";
const ALICE: &str = "aliceproject";
const BOB: &str = "bobproject";

fn admin() -> Actor {
    Actor {
        project_id: ADMIN_PROJECT.into(),
        admin: true,
    }
}

fn user(project: &str) -> Actor {
    Actor {
        project_id: project.into(),
        admin: false,
    }
}

fn obj(value: Value) -> Map<String, Value> {
    value.as_object().cloned().expect("test bodies are objects")
}

fn seeded() -> NetworkData {
    let mut data = NetworkData::default();
    data.seed(ADMIN_PROJECT);
    data
}

fn public_id(data: &NetworkData) -> String {
    data.networks
        .values()
        .find(|n| n.meta.name == "public")
        .map(|n| n.meta.id.clone())
        .expect("seeded")
}

fn public_subnet_id(data: &NetworkData) -> String {
    data.subnets
        .values()
        .find(|s| s.meta.name == "public-subnet")
        .map(|s| s.meta.id.clone())
        .expect("seeded")
}

/// A network with one subnet for `project`; returns (network id, subnet id).
fn net_with_subnet(data: &mut NetworkData, project: &str, cidr: &str) -> (String, String) {
    let actor = user(project);
    let net = data
        .create_network(&actor, &obj(json!({"name": "net"})))
        .expect("network");
    let subnet = data
        .create_subnet(
            &actor,
            &obj(json!({"network_id": net, "ip_version": 4, "cidr": cidr, "name": "sub"})),
        )
        .expect("subnet");
    (net, subnet)
}

fn port_ips(data: &NetworkData, port_id: &str) -> Vec<String> {
    data.ports[port_id]
        .fixed_ips
        .iter()
        .map(|ip| ip.ip_address.to_string())
        .collect()
}

fn err(status: u16, kind: &'static str, message: &str) -> NeutronError {
    NeutronError::new(
        axum::http::StatusCode::from_u16(status).expect("valid status"),
        kind,
        message,
    )
}

#[test]
fn seed_creates_public_network_once() {
    let mut data = seeded();
    data.seed(ADMIN_PROJECT);
    assert_eq!(data.networks.len(), 1);
    assert_eq!(data.subnets.len(), 1);
    let net = data
        .show(Kind::Network, &admin(), &public_id(&data))
        .expect("visible");
    assert_eq!(net["router:external"], json!(true));
    assert_eq!(net["mtu"], json!(1500));
    assert_eq!(net["provider:network_type"], json!("flat"));
    assert_eq!(net["status"], json!("ACTIVE"));
    assert_eq!(net["project_id"], json!(ADMIN_PROJECT));
    let subnet = data
        .show(Kind::Subnet, &user(ALICE), &public_subnet_id(&data))
        .expect("external subnets are visible");
    assert_eq!(subnet["cidr"], json!("172.24.4.0/24"));
    assert_eq!(subnet["gateway_ip"], json!("172.24.4.1"));
    assert_eq!(
        subnet["allocation_pools"],
        json!([{"start": "172.24.4.2", "end": "172.24.4.254"}])
    );
}

#[test]
fn tenant_network_defaults_and_provider_fields_for_admin_only() {
    let mut data = seeded();
    let id = data
        .create_network(&user(ALICE), &obj(json!({"name": "n1"})))
        .expect("created");
    let as_alice = data.show(Kind::Network, &user(ALICE), &id).expect("own");
    assert_eq!(as_alice["mtu"], json!(1450));
    assert_eq!(as_alice["shared"], json!(false));
    assert_eq!(as_alice["revision_number"], json!(1));
    assert_eq!(as_alice["tenant_id"], json!(ALICE));
    assert!(!as_alice.contains_key("provider:network_type"));
    let as_admin = data.show(Kind::Network, &admin(), &id).expect("admin");
    assert_eq!(as_admin["provider:network_type"], json!("vxlan"));
    assert_eq!(as_admin["provider:segmentation_id"], json!(1));
    data.update_network(&user(ALICE), &id, &obj(json!({"name": "n2"})))
        .expect("updated");
    let updated = data.show(Kind::Network, &user(ALICE), &id).expect("own");
    assert_eq!(updated["name"], json!("n2"));
    assert_eq!(updated["revision_number"], json!(2));
}

#[test]
fn visibility_between_projects() {
    let mut data = seeded();
    let (net, subnet) = net_with_subnet(&mut data, ALICE, "10.0.0.0/24");
    assert_eq!(
        data.show(Kind::Network, &user(BOB), &net).err(),
        Some(err(
            404,
            "NetworkNotFound",
            &format!("Network {net} could not be found.")
        ))
    );
    assert_eq!(
        data.show(Kind::Subnet, &user(BOB), &subnet).err(),
        Some(err(
            404,
            "SubnetNotFound",
            &format!("Subnet {subnet} could not be found.")
        ))
    );
    let bob_sees: Vec<Value> = data
        .visible(Kind::Network, &user(BOB))
        .into_iter()
        .map(|n| n["name"].clone())
        .collect();
    assert_eq!(bob_sees, vec![json!("public")]);
    assert_eq!(data.visible(Kind::Network, &admin()).len(), 2);
    // Only admins may create for another project.
    assert_eq!(
        data.create_network(&user(BOB), &obj(json!({"project_id": ALICE})))
            .err(),
        Some(err(
            400,
            "HTTPBadRequest",
            "Specifying 'project_id' or 'tenant_id' other than the authenticated project in \
             request requires admin privileges"
        ))
    );
    let for_bob = data
        .create_network(&admin(), &obj(json!({"tenant_id": BOB})))
        .expect("admin creates for bob");
    assert_eq!(data.networks[&for_bob].meta.project_id, BOB);
    assert_eq!(
        data.create_network(&user(BOB), &obj(json!({"shared": true})))
            .err(),
        Some(err(
            403,
            "PolicyNotAuthorized",
            "rule:create_network:shared is disallowed by policy"
        ))
    );
}

#[test]
fn subnet_cidr_validation_and_normalization() {
    let mut data = seeded();
    let actor = user(ALICE);
    let net = data
        .create_network(&actor, &obj(json!({})))
        .expect("network");
    let create = |data: &mut NetworkData, cidr: &str, version: u8| {
        data.create_subnet(
            &actor,
            &obj(json!({"network_id": net, "ip_version": version, "cidr": cidr})),
        )
    };
    assert_eq!(
        create(&mut data, "192.168.1.0/33", 4).err(),
        Some(err(
            400,
            "InvalidInput",
            "Invalid input for operation: 192.168.1.0/33 is not in a CIDR format."
        ))
    );
    assert_eq!(
        create(&mut data, "10.0.0.1", 4).err(),
        Some(err(
            400,
            "HTTPBadRequest",
            "Invalid input for cidr. Reason: '10.0.0.1' isn't a recognized IP subnet cidr, \
             '10.0.0.1/32' is recommended."
        ))
    );
    assert_eq!(
        create(&mut data, "10.0.0.0/24", 6).err(),
        Some(err(
            400,
            "InvalidInput",
            "Invalid input for operation: cidr '10.0.0.0/24' does not match the ip_version '6'."
        ))
    );
    let id = create(&mut data, "10.0.0.77/24", 4).expect("host bits accepted");
    let subnet = data.show(Kind::Subnet, &actor, &id).expect("own");
    assert_eq!(subnet["cidr"], json!("10.0.0.0/24"));
    assert_eq!(subnet["gateway_ip"], json!("10.0.0.1"));
    assert_eq!(subnet["enable_dhcp"], json!(true));
    assert_eq!(
        subnet["allocation_pools"],
        json!([{"start": "10.0.0.2", "end": "10.0.0.254"}])
    );
    assert_eq!(
        create(&mut data, "10.0.0.128/25", 4).err(),
        Some(err(
            400,
            "InvalidInput",
            &format!(
                "Invalid input for operation: Requested subnet with cidr: 10.0.0.128/25 for \
                 network: {net} overlaps with another subnet."
            )
        ))
    );
    let v6 = create(&mut data, "fd00::/64", 6).expect("v6");
    assert_eq!(
        data.show(Kind::Subnet, &actor, &v6).expect("own")["allocation_pools"],
        json!([{"start": "fd00::2", "end": "fd00::ffff:ffff:ffff:ffff"}])
    );
}

#[test]
fn subnet_gateway_choices() {
    let mut data = seeded();
    let actor = user(ALICE);
    let net = data
        .create_network(&actor, &obj(json!({})))
        .expect("network");
    let no_gw = data
        .create_subnet(
            &actor,
            &obj(json!({"network_id": net, "ip_version": 4, "cidr": "10.1.0.0/24", "gateway_ip": null})),
        )
        .expect("no gateway");
    let view = data.show(Kind::Subnet, &actor, &no_gw).expect("own");
    assert_eq!(view["gateway_ip"], Value::Null);
    assert_eq!(
        view["allocation_pools"],
        json!([{"start": "10.1.0.1", "end": "10.1.0.254"}])
    );
    let mid = data
        .create_subnet(
            &actor,
            &obj(json!({"network_id": net, "ip_version": 4, "cidr": "10.2.0.0/24", "gateway_ip": "10.2.0.100"})),
        )
        .expect("middle gateway");
    assert_eq!(
        data.show(Kind::Subnet, &actor, &mid).expect("own")["allocation_pools"],
        json!([{"start": "10.2.0.1", "end": "10.2.0.99"}, {"start": "10.2.0.101", "end": "10.2.0.254"}])
    );
    assert_eq!(
        data.create_subnet(
            &actor,
            &obj(
                json!({"network_id": net, "ip_version": 4, "cidr": "10.3.0.0/24",
                        "gateway_ip": "10.3.0.5",
                        "allocation_pools": [{"start": "10.3.0.2", "end": "10.3.0.20"}]})
            ),
        )
        .err(),
        Some(err(
            409,
            "GatewayConflictWithAllocationPools",
            "Gateway ip 10.3.0.5 conflicts with allocation pool 10.3.0.2-10.3.0.20"
        ))
    );
    data.update_subnet(
        &actor,
        &no_gw,
        &obj(json!({"name": "renamed", "dns_nameservers": ["8.8.8.8"], "enable_dhcp": false})),
    )
    .expect("updated");
    let view = data.show(Kind::Subnet, &actor, &no_gw).expect("own");
    assert_eq!(view["dns_nameservers"], json!(["8.8.8.8"]));
    assert_eq!(view["enable_dhcp"], json!(false));
    assert_eq!(view["revision_number"], json!(2));
    assert_eq!(
        check_attributes(
            &obj(json!({"cidr": "10.9.0.0/24"})),
            Kind::Subnet,
            Method::Put
        )
        .err(),
        Some(err(
            400,
            "HTTPBadRequest",
            "Cannot update read-only attribute cidr"
        ))
    );
}

#[test]
fn a_gateway_held_by_a_router_cannot_move_and_pools_are_updatable() {
    // As real Neutron: GatewayIpInUse while a router interface holds the gateway, and
    // allocation_pools may be sent in a PUT (with the gateway they make room for).
    let mut data = seeded();
    let actor = user(ALICE);
    let (_, subnet) = net_with_subnet(&mut data, ALICE, "10.0.0.0/24");
    let router = data
        .create_router(&actor, &obj(json!({"name": "r1"})))
        .expect("router");
    let info = data
        .add_router_interface(&actor, &router, &json!({"subnet_id": subnet}))
        .expect("interface");
    let port = info["port_id"].as_str().expect("port id").to_string();
    let move_gateway = obj(json!({"gateway_ip": "10.0.0.254",
                                  "allocation_pools": [{"start": "10.0.0.1", "end": "10.0.0.253"}]}));
    assert_eq!(
        data.update_subnet(&actor, &subnet, &move_gateway).err(),
        Some(err(
            409,
            "GatewayIpInUse",
            &format!(
                "Current gateway ip 10.0.0.1 already in use by port {port}. Unable to update."
            )
        ))
    );
    data.remove_router_interface(&actor, &router, &json!({"subnet_id": subnet}))
        .expect("detached");
    data.update_subnet(&actor, &subnet, &move_gateway)
        .expect("moved");
    let view = data.show(Kind::Subnet, &actor, &subnet).expect("own");
    assert_eq!(view["gateway_ip"], "10.0.0.254");
    assert_eq!(
        view["allocation_pools"],
        json!([{"start": "10.0.0.1", "end": "10.0.0.253"}])
    );
}

#[test]
fn body_attribute_checks() {
    assert_eq!(
        check_attributes(
            &obj(json!({"name": "x", "foo": 1})),
            Kind::Network,
            Method::Post
        )
        .err(),
        Some(err(
            400,
            "HTTPBadRequest",
            "Unrecognized attribute(s) 'foo'"
        ))
    );
    assert_eq!(
        check_attributes(&obj(json!({"status": "DOWN"})), Kind::Network, Method::Post).err(),
        Some(err(
            400,
            "HTTPBadRequest",
            "Attribute 'status' not allowed in POST"
        ))
    );
    assert_eq!(
        model::resource_body(b"{\"net\": {}}", Kind::Network, Method::Post).err(),
        Some(err(
            400,
            "HTTPBadRequest",
            "Unable to find 'network' in request body"
        ))
    );
    let mut data = seeded();
    assert_eq!(
        data.create_network(&user(ALICE), &obj(json!({"admin_state_up": "maybe"})))
            .err(),
        Some(err(
            400,
            "HTTPBadRequest",
            "Invalid input for admin_state_up. Reason: 'maybe' cannot be converted to boolean."
        ))
    );
}

#[test]
fn port_address_allocation() {
    let mut data = seeded();
    let actor = user(ALICE);
    let (net, subnet) = net_with_subnet(&mut data, ALICE, "10.0.0.0/29");
    let p1 = data
        .create_port(&actor, &obj(json!({"network_id": net})))
        .expect("p1");
    let p2 = data
        .create_port(
            &actor,
            &obj(json!({"network_id": net, "fixed_ips": [{"ip_address": "10.0.0.6"}]})),
        )
        .expect("p2");
    let p3 = data
        .create_port(
            &actor,
            &obj(json!({"network_id": net, "fixed_ips": [{"subnet_id": subnet}]})),
        )
        .expect("p3");
    assert_eq!(port_ips(&data, &p1), vec!["10.0.0.2"]);
    assert_eq!(port_ips(&data, &p2), vec!["10.0.0.6"]);
    assert_eq!(port_ips(&data, &p3), vec!["10.0.0.3"]);
    let view = data.show(Kind::Port, &actor, &p1).expect("own");
    assert_eq!(view["status"], json!("DOWN"));
    assert!(
        view["mac_address"]
            .as_str()
            .is_some_and(|m| m.starts_with("fa:16:3e:") && m.len() == 17)
    );
    assert_eq!(
        view["security_groups"],
        json!([data.ensure_default_security_group(ALICE)])
    );
    assert_eq!(
        data.create_port(
            &actor,
            &obj(json!({"network_id": net, "fixed_ips": [{"ip_address": "10.0.0.6"}]}))
        )
        .err(),
        Some(err(
            409,
            "IpAddressAlreadyAllocated",
            &format!("IP address 10.0.0.6 already allocated in subnet {subnet}")
        ))
    );
    assert_eq!(
        data.create_port(&actor, &obj(json!({"network_id": net, "fixed_ips": [{"subnet_id": subnet, "ip_address": "10.0.0.7"}]}))).err(),
        Some(err(
            400,
            "InvalidIpForSubnet",
            "IP address 10.0.0.7 is not a valid IP for the specified subnet."
        ))
    );
    data.create_port(&actor, &obj(json!({"network_id": net})))
        .expect(".4");
    data.create_port(&actor, &obj(json!({"network_id": net})))
        .expect(".5");
    assert_eq!(
        data.create_port(&actor, &obj(json!({"network_id": net})))
            .err(),
        Some(err(
            409,
            "IpAddressGenerationFailure",
            &format!("No more IP addresses available on network {net}.")
        ))
    );
    // Update keeps an address requested by subnet only, and moves an explicit one.
    data.update_port(
        &actor,
        &p3,
        &obj(json!({"fixed_ips": [{"subnet_id": subnet}], "name": "p3"})),
    )
    .expect("keep");
    assert_eq!(port_ips(&data, &p3), vec!["10.0.0.3"]);
    data.delete_port(&actor, &p1).expect("deleted");
    data.update_port(
        &actor,
        &p3,
        &obj(json!({"fixed_ips": [{"ip_address": "10.0.0.2"}]})),
    )
    .expect("move");
    assert_eq!(port_ips(&data, &p3), vec!["10.0.0.2"]);
    assert_eq!(data.ports[&p3].meta.revision_number, 3);
}

#[test]
fn network_and_subnet_in_use() {
    let mut data = seeded();
    let actor = user(ALICE);
    let (net, subnet) = net_with_subnet(&mut data, ALICE, "10.0.0.0/24");
    let port = data
        .create_port(&actor, &obj(json!({"network_id": net})))
        .expect("port");
    assert_eq!(
        data.delete_network(&actor, &net).err(),
        Some(err(
            409,
            "NetworkInUse",
            &format!(
                "Unable to complete operation on network {net}. There are one or more ports \
                 still in use on the network."
            )
        ))
    );
    assert_eq!(
        data.delete_subnet(&actor, &subnet).err(),
        Some(err(
            409,
            "SubnetInUse",
            &format!(
                "Unable to complete operation on subnet {subnet}: One or more ports have an IP \
                 allocation from this subnet."
            )
        ))
    );
    data.delete_port(&actor, &port).expect("port gone");
    data.delete_network(&actor, &net).expect("network gone");
    assert!(!data.subnets.contains_key(&subnet));
}

#[test]
fn router_gateway_and_interfaces() {
    let mut data = seeded();
    let actor = user(ALICE);
    let public = public_id(&data);
    let public_subnet = public_subnet_id(&data);
    let (net, subnet) = net_with_subnet(&mut data, ALICE, "10.0.0.0/24");
    assert_eq!(
        data.create_router(
            &actor,
            &obj(json!({"external_gateway_info": {"network_id": net}}))
        )
        .err(),
        Some(err(
            400,
            "BadRequest",
            &format!("Bad router request: Network {net} is not an external network.")
        ))
    );
    let router = data
        .create_router(
            &actor,
            &obj(json!({"name": "r1", "external_gateway_info": {"network_id": public}})),
        )
        .expect("router");
    let view = data.show(Kind::Router, &actor, &router).expect("own");
    assert_eq!(
        view["external_gateway_info"],
        json!({"network_id": public, "enable_snat": true,
               "external_fixed_ips": [{"subnet_id": public_subnet, "ip_address": "172.24.4.2"}]})
    );
    let info = data
        .add_router_interface(&actor, &router, &json!({"subnet_id": subnet}))
        .expect("interface");
    let port_id = info["port_id"].as_str().expect("port id").to_string();
    assert_eq!(
        info,
        json!({"id": router, "network_id": net, "port_id": port_id, "subnet_id": subnet,
               "subnet_ids": [subnet], "project_id": ALICE})
    );
    assert_eq!(port_ips(&data, &port_id), vec!["10.0.0.1"]);
    assert_eq!(
        data.ports[&port_id].device_owner,
        "network:router_interface"
    );
    assert_eq!(
        data.add_router_interface(&actor, &router, &json!({"subnet_id": subnet}))
            .err(),
        Some(err(
            400,
            "BadRequest",
            &format!("Bad router request: Router already has a port on subnet {subnet}.")
        ))
    );
    assert_eq!(
        data.delete_port(&actor, &port_id).err(),
        Some(err(
            409,
            "ServicePortInUse",
            &format!(
                "Port {port_id} cannot be deleted directly via the port API: has device owner \
                 network:router_interface."
            )
        ))
    );
    assert_eq!(
        data.delete_subnet(&actor, &subnet).err().map(|e| e.kind),
        Some("SubnetInUse")
    );
    assert_eq!(
        data.delete_router(&actor, &router).err(),
        Some(err(
            409,
            "RouterInUse",
            &format!("Router {router} still has ports")
        ))
    );
    let removed = data
        .remove_router_interface(&actor, &router, &json!({"subnet_id": subnet}))
        .expect("removed");
    assert_eq!(removed["port_id"], json!(port_id));
    assert_eq!(
        data.remove_router_interface(&actor, &router, &json!({"subnet_id": subnet}))
            .err(),
        Some(err(
            404,
            "RouterInterfaceNotFoundForSubnet",
            &format!("Router {router} has no interface on subnet {subnet}")
        ))
    );
    // Clearing the gateway frees its port.
    data.update_router(&actor, &router, &obj(json!({"external_gateway_info": {}})))
        .expect("cleared");
    assert_eq!(
        data.show(Kind::Router, &actor, &router).expect("own")["external_gateway_info"],
        Value::Null
    );
    assert!(data.ports.values().all(|p| p.device_id != router));
    data.delete_router(&actor, &router).expect("deleted");
    assert_eq!(
        data.show(Kind::Router, &actor, &router).err(),
        Some(err(
            404,
            "RouterNotFound",
            &format!("Router {router} could not be found.")
        ))
    );
}

#[test]
fn security_groups_and_rules() {
    let mut data = seeded();
    let actor = user(ALICE);
    let default = data.ensure_default_security_group(ALICE);
    assert_eq!(data.ensure_default_security_group(ALICE), default);
    let default_view = data
        .show(Kind::SecurityGroup, &actor, &default)
        .expect("own");
    assert_eq!(default_view["name"], json!("default"));
    assert_eq!(
        default_view["security_group_rules"]
            .as_array()
            .map(Vec::len),
        Some(4)
    );
    let web = data
        .create_security_group(&actor, &obj(json!({"name": "web"})))
        .expect("group");
    let view = data.show(Kind::SecurityGroup, &actor, &web).expect("own");
    let rules: Vec<(Value, Value)> = view["security_group_rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|r| (r["direction"].clone(), r["ethertype"].clone()))
        .collect();
    assert_eq!(rules.len(), 2);
    assert!(rules.contains(&(json!("egress"), json!("IPv4"))));
    assert!(rules.contains(&(json!("egress"), json!("IPv6"))));
    let rule_body = json!({"security_group_id": web, "direction": "ingress", "protocol": "tcp",
                           "port_range_min": 22, "port_range_max": 22,
                           "remote_ip_prefix": "10.0.0.9/8"});
    let rule = data
        .create_security_group_rule(&actor, &obj(rule_body.clone()))
        .expect("rule");
    assert_eq!(
        data.rules[&rule].remote_ip_prefix.as_deref(),
        Some("10.0.0.0/8")
    );
    assert_eq!(
        data.create_security_group_rule(&actor, &obj(rule_body))
            .err(),
        Some(err(
            409,
            "SecurityGroupRuleExists",
            &format!("Security group rule already exists. Rule id is {rule}.")
        ))
    );
    assert_eq!(
        data.create_security_group_rule(&actor, &obj(json!({"security_group_id": web, "direction": "ingress", "protocol": "6", "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "10.0.0.0/8"}))).err().map(|e| e.kind),
        Some("SecurityGroupRuleExists")
    );
    assert_eq!(
        data.create_security_group_rule(&actor, &obj(json!({"security_group_id": web, "direction": "ingress", "protocol": "tcp", "port_range_min": 90, "port_range_max": 80}))).err(),
        Some(err(
            400,
            "SecurityGroupInvalidPortRange",
            "For TCP/UDP protocols, port_range_min must be <= port_range_max"
        ))
    );
    assert_eq!(
        data.create_security_group_rule(&actor, &obj(json!({"security_group_id": web, "direction": "ingress", "ethertype": "IPv4", "remote_ip_prefix": "::/0"}))).err(),
        Some(err(
            400,
            "SecurityGroupRuleParameterConflict",
            "Conflicting value ethertype IPv4 for CIDR ::/0"
        ))
    );
    assert_eq!(
        data.create_security_group_rule(
            &actor,
            &obj(json!({"security_group_id": web, "direction": "sideways"}))
        )
        .err(),
        Some(err(
            400,
            "HTTPBadRequest",
            "Invalid input for direction. Reason: 'sideways' is not in ['ingress', 'egress']."
        ))
    );
    assert_eq!(
        data.create_security_group_rule(
            &actor,
            &obj(json!({"security_group_id": web, "direction": "ingress", "protocol": "bogus"}))
        )
        .err()
        .map(|e| e.kind),
        Some("SecurityGroupRuleInvalidProtocol")
    );
    assert_eq!(
        data.create_security_group(&actor, &obj(json!({"name": "default"})))
            .err(),
        Some(err(
            409,
            "SecurityGroupDefaultAlreadyExists",
            "Default security group already exists."
        ))
    );
    assert_eq!(
        data.delete_security_group(&actor, &default).err(),
        Some(err(
            409,
            "SecurityGroupCannotRemoveDefault",
            "Insufficient rights for removing default security group."
        ))
    );
    let (net, _) = net_with_subnet(&mut data, ALICE, "10.0.0.0/24");
    let port = data
        .create_port(
            &actor,
            &obj(json!({"network_id": net, "security_groups": [web]})),
        )
        .expect("port");
    assert_eq!(
        data.delete_security_group(&actor, &web).err(),
        Some(err(
            409,
            "SecurityGroupInUse",
            &format!("Security Group {web} in use.")
        ))
    );
    data.delete_port(&actor, &port).expect("port gone");
    data.delete_security_group(&actor, &web)
        .expect("group gone");
    assert!(data.rules.values().all(|r| r.security_group_id != web));
    assert_eq!(
        data.show(Kind::SecurityGroupRule, &actor, &rule).err(),
        Some(err(
            404,
            "SecurityGroupRuleNotFound",
            &format!("Security group rule {rule} does not exist")
        ))
    );
}

#[test]
fn quotas_limit_creates() {
    let mut data = seeded();
    assert_eq!(data.quota_limit(ALICE, "network"), 100);
    assert_eq!(
        data.update_quota(&user(ALICE), ALICE, &json!({"quota": {"network": 1}}))
            .err(),
        Some(err(
            403,
            "PolicyNotAuthorized",
            "rule:update_quota is disallowed by policy"
        ))
    );
    let set = data
        .update_quota(&admin(), ALICE, &json!({"quota": {"network": 1}}))
        .expect("set");
    assert_eq!(
        Value::Object(set),
        json!({"floatingip": 50, "network": 1, "port": 500, "rbac_policy": 10, "router": 10,
               "router_route": 30, "security_group": 10, "security_group_rule": 100,
               "subnet": 100, "subnetpool": -1})
    );
    data.create_network(&user(ALICE), &obj(json!({})))
        .expect("first");
    let over = data
        .create_network(&user(ALICE), &obj(json!({})))
        .expect_err("over quota");
    assert_eq!(
        over.body(),
        json!({"NeutronError": {"type": "OverQuota",
               "message": "Quota exceeded for resources: ['network'].", "detail": ""}})
    );
    assert_eq!(over.status, axum::http::StatusCode::CONFLICT);
    assert_eq!(
        data.quota_details(ALICE)["network"],
        json!({"used": 1, "limit": 1, "reserved": 0})
    );
    assert_eq!(data.quota_list(&admin()).len(), 1);
    data.reset_quota(&admin(), ALICE).expect("reset");
    assert_eq!(data.quota_limit(ALICE, "network"), 100);
}

#[test]
fn tags_and_tag_filters() {
    let mut data = NetworkData::default();
    let actor = user(ALICE);
    let mut ids = Vec::new();
    for tags in [json!(["a", "b"]), json!(["a"]), json!(["c"]), json!([])] {
        ids.push(
            data.create_network(&actor, &obj(json!({"tags": tags})))
                .expect("network"),
        );
    }
    let names = |data: &NetworkData, query: &[(&str, &str)]| -> Vec<String> {
        let pairs: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let q = ListQuery::parse(&pairs).expect("query");
        let body = q
            .apply(
                Kind::Network,
                data.visible(Kind::Network, &actor),
                "http://x/networks",
            )
            .expect("listed");
        body["networks"]
            .as_array()
            .expect("list")
            .iter()
            .map(|n| n["id"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let set = |idx: &[usize]| sorted(idx.iter().map(|i| ids[*i].clone()).collect());
    assert_eq!(names(&data, &[("tags", "a,b")]), set(&[0]));
    assert_eq!(names(&data, &[("tags-any", "b,c")]), set(&[0, 2]));
    assert_eq!(names(&data, &[("not-tags", "a,b")]), set(&[1, 2, 3]));
    assert_eq!(names(&data, &[("not-tags-any", "a,c")]), set(&[3]));
    assert_eq!(names(&data, &[("tags", "a"), ("not-tags", "b")]), set(&[1]));
    assert_eq!(
        data.replace_tags(
            Kind::Network,
            &actor,
            &ids[3],
            &["z".into(), "y".into(), "z".into()]
        )
        .err(),
        Some(err(
            400,
            "InvalidInput",
            "Invalid input for operation: Duplicate items in the list: 'z'."
        ))
    );
    let long = "x".repeat(61);
    assert_eq!(
        data.add_tag(Kind::Network, &actor, &ids[3], &long).err(),
        Some(err(
            400,
            "InvalidInput",
            &format!("Invalid input for operation: '{long}' exceeds maximum length of 60.")
        ))
    );
    assert_eq!(
        data.create_network(&actor, &obj(json!({"tags": ["a", "a"]})))
            .err(),
        Some(err(
            400,
            "HTTPBadRequest",
            "Invalid input for tags. Reason: Duplicate items in the list: 'a'."
        ))
    );
    let replaced = data
        .replace_tags(Kind::Network, &actor, &ids[3], &["z".into(), "y".into()])
        .expect("replaced");
    assert_eq!(replaced, vec!["y", "z"]);
    data.add_tag(Kind::Network, &actor, &ids[3], "x")
        .expect("added");
    data.remove_tag(Kind::Network, &actor, &ids[3], "y")
        .expect("removed");
    assert_eq!(
        data.tags(Kind::Network, &actor, &ids[3]).expect("tags"),
        vec!["x", "z"]
    );
    assert_eq!(
        data.remove_tag(Kind::Network, &actor, &ids[3], "nope")
            .err(),
        Some(err(
            404,
            "TagNotFound",
            &format!("Tag nope could not be found for network {}.", ids[3])
        ))
    );
    assert_eq!(data.networks[&ids[3]].meta.revision_number, 4);
    data.clear_tags(Kind::Network, &actor, &ids[3])
        .expect("cleared");
    assert!(
        data.tags(Kind::Network, &actor, &ids[3])
            .expect("tags")
            .is_empty()
    );
}

#[test]
fn paging_links_filters_and_fields() {
    let mut data = NetworkData::default();
    let actor = user(ALICE);
    for i in 0..5 {
        data.create_network(
            &actor,
            &obj(json!({"name": format!("n{i}"), "admin_state_up": i % 2 == 0})),
        )
        .expect("network");
    }
    let mut ids: Vec<String> = data.networks.keys().cloned().collect();
    ids.sort();
    let list = |pairs: &[(&str, &str)]| -> Value {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ListQuery::parse(&pairs)
            .expect("query")
            .apply(
                Kind::Network,
                data.visible(Kind::Network, &actor),
                "http://h/networking/v2.0/networks",
            )
            .expect("listed")
    };
    let page1 = list(&[("limit", "2")]);
    assert_eq!(
        page1["networks_links"],
        json!([
            {"rel": "next", "href": format!("http://h/networking/v2.0/networks?limit=2&marker={}", ids[1])},
            {"rel": "previous", "href": format!("http://h/networking/v2.0/networks?limit=2&marker={}&page_reverse=True", ids[0])}
        ])
    );
    let page2 = list(&[("limit", "2"), ("marker", &ids[1])]);
    let page2_ids: Vec<&str> = page2["networks"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|n| n["id"].as_str())
        .collect();
    assert_eq!(page2_ids, vec![ids[2].as_str(), ids[3].as_str()]);
    assert_eq!(
        page2["networks_links"],
        json!([
            {"rel": "next", "href": format!("http://h/networking/v2.0/networks?limit=2&marker={}", ids[3])},
            {"rel": "previous", "href": format!("http://h/networking/v2.0/networks?limit=2&marker={}&page_reverse=True", ids[2])}
        ])
    );
    let last = list(&[("limit", "2"), ("marker", &ids[3])]);
    assert_eq!(last["networks"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        last["networks_links"],
        json!([{"rel": "previous", "href": format!("http://h/networking/v2.0/networks?limit=2&marker={}&page_reverse=True", ids[4])}])
    );
    let back = list(&[
        ("limit", "2"),
        ("marker", &ids[2]),
        ("page_reverse", "True"),
    ]);
    let back_ids: Vec<&str> = back["networks"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|n| n["id"].as_str())
        .collect();
    assert_eq!(back_ids, vec![ids[0].as_str(), ids[1].as_str()]);
    assert!(list(&[]).get("networks_links").is_none());
    let filtered = list(&[
        ("admin_state_up", "True"),
        ("fields", "name"),
        ("sort_key", "name"),
        ("sort_dir", "desc"),
    ]);
    assert_eq!(
        filtered["networks"],
        json!([{"name": "n4"}, {"name": "n2"}, {"name": "n0"}])
    );
    assert_eq!(
        ListQuery::parse(&[("colour".into(), "red".into())])
            .expect("query")
            .validate_filters(Kind::Network)
            .err(),
        Some(err(
            400,
            "HTTPBadRequest",
            "colour is invalid attribute for filtering"
        ))
    );
    assert_eq!(
        ListQuery::parse(&[
            ("router:external".into(), "true".into()),
            ("tenant_id".into(), "x".into())
        ])
        .expect("query")
        .validate_filters(Kind::Network),
        Ok(())
    );
    let any_of = list(&[
        ("name", "n1"),
        ("name", "n3"),
        ("fields", "name"),
        ("sort_key", "name"),
    ]);
    assert_eq!(any_of["networks"], json!([{"name": "n1"}, {"name": "n3"}]));
    assert_eq!(
        ListQuery::parse(&[("marker".into(), "nope".into())])
            .expect("query")
            .apply(
                Kind::Network,
                data.visible(Kind::Network, &actor),
                "http://h"
            )
            .err(),
        Some(err(
            404,
            "NetworkNotFound",
            "Network nope could not be found."
        ))
    );
}

#[test]
fn port_list_filter_by_fixed_ip_subnet() {
    let mut data = seeded();
    let actor = user(ALICE);
    let (net, subnet) = net_with_subnet(&mut data, ALICE, "10.0.0.0/24");
    let port = data
        .create_port(&actor, &obj(json!({"network_id": net})))
        .expect("port");
    let filter = format!("subnet_id={subnet}");
    let q = ListQuery::parse(&[("fixed_ips".into(), filter), ("fields".into(), "id".into())])
        .expect("query");
    let body = q
        .apply(Kind::Port, data.visible(Kind::Port, &actor), "http://h")
        .expect("listed");
    assert_eq!(body["ports"], json!([{"id": port}]));
}

#[test]
fn nova_seam() {
    let mut data = seeded();
    let (net, _) = net_with_subnet(&mut data, ALICE, "10.0.0.0/24");
    let public = public_id(&data);
    assert_eq!(data.bootable_networks(ALICE), vec![net.clone()]);
    assert_eq!(data.bootable_networks(BOB), Vec::<String>::new());
    let nic = ServerNic::Network {
        network_id: net.clone(),
        fixed_ip: None,
    };
    let port = data
        .attach_server_port(ALICE, &nic, "server-1", &[])
        .expect("attached");
    assert_eq!(data.ports[&port].device_owner, "compute:nova");
    assert_eq!(data.ports[&port].device_id, "server-1");
    let mac = data.ports[&port].mac_address.clone();
    assert_eq!(
        data.server_addresses("server-1"),
        json!({"net": [{"version": 4, "addr": "10.0.0.2", "OS-EXT-IPS:type": "fixed",
                        "OS-EXT-IPS-MAC:mac_addr": mac}]})
    );
    assert_eq!(data.server_security_groups("server-1"), vec!["default"]);
    let view = data.show(Kind::Port, &admin(), &port).expect("admin");
    assert_eq!(view["status"], json!("ACTIVE"));
    assert_eq!(view["binding:vif_type"], json!("ovs"));
    assert_eq!(
        data.attach_server_port(
            ALICE,
            &ServerNic::Network {
                network_id: net.clone(),
                fixed_ip: Some("10.0.0.2".into())
            },
            "server-2",
            &[]
        ),
        Err(NicError::FixedIpInvalid("10.0.0.2".into()))
    );
    assert_eq!(
        data.attach_server_port(ALICE, &nic, "server-2", &["nope".into()]),
        Err(NicError::SecurityGroupNotFound("nope".into()))
    );
    assert_eq!(
        data.attach_server_port(BOB, &nic, "server-2", &[]),
        Err(NicError::NetworkNotFound(net.clone()))
    );
    assert_eq!(
        data.attach_server_port(
            ALICE,
            &ServerNic::Network {
                network_id: public,
                fixed_ip: None
            },
            "server-2",
            &[]
        )
        .map(|_| ())
        .err()
        .map(|e| matches!(e, NicError::NetworkNotFound(_))),
        Some(true)
    );
    let precreated = data
        .create_port(&user(ALICE), &obj(json!({"network_id": net})))
        .expect("port");
    data.attach_server_port(ALICE, &ServerNic::Port(precreated.clone()), "server-1", &[])
        .expect("bound");
    assert_eq!(
        data.attach_server_port(ALICE, &ServerNic::Port(precreated.clone()), "server-3", &[]),
        Err(NicError::PortInUse(precreated.clone()))
    );
    assert_eq!(
        data.attach_server_port(ALICE, &ServerNic::Port("missing".into()), "server-3", &[]),
        Err(NicError::PortNotFound("missing".into()))
    );
    data.detach_server_ports("server-1");
    assert!(!data.ports.contains_key(&port));
    assert_eq!(data.ports[&precreated].device_id, "");
    assert_eq!(data.ports[&precreated].device_owner, "");
    assert_eq!(data.server_addresses("server-1"), json!({}));
}

#[test]
fn router_interface_by_port_and_gateway_changes() {
    let mut data = seeded();
    let actor = user(ALICE);
    let public = public_id(&data);
    let (net, subnet) = net_with_subnet(&mut data, ALICE, "10.0.0.0/24");
    let router = data
        .create_router(&actor, &obj(json!({"name": "r"})))
        .expect("router");
    let port = data
        .create_port(
            &actor,
            &obj(json!({"network_id": net, "fixed_ips": [{"ip_address": "10.0.0.50"}]})),
        )
        .expect("port");
    let info = data
        .add_router_interface(&actor, &router, &json!({"port_id": port}))
        .expect("by port");
    assert_eq!(info["subnet_id"], json!(subnet));
    assert_eq!(info["port_id"], json!(port));
    assert_eq!(data.ports[&port].device_owner, "network:router_interface");
    assert_eq!(data.ports[&port].security_groups, Vec::<String>::new());
    assert_eq!(
        data.add_router_interface(&actor, &router, &json!({"port_id": port}))
            .err(),
        Some(err(
            409,
            "PortInUse",
            &format!(
                "Unable to complete operation on port {port} for network {net}. Port already has \
                 an attached device {router}."
            )
        ))
    );
    assert_eq!(
        data.add_router_interface(&actor, &router, &json!({})).err(),
        Some(err(
            400,
            "BadRequest",
            "Bad router request: Either subnet_id or port_id must be specified."
        ))
    );
    let other_subnet = data
        .create_subnet(
            &actor,
            &obj(json!({"network_id": net, "ip_version": 4, "cidr": "10.5.0.0/24"})),
        )
        .expect("second subnet");
    assert_eq!(
        data.remove_router_interface(
            &actor,
            &router,
            &json!({"port_id": port, "subnet_id": other_subnet})
        )
        .err(),
        Some(err(
            409,
            "SubnetMismatchForPort",
            &format!("Subnet on port {port} does not match the requested subnet {other_subnet}.")
        ))
    );
    assert_eq!(
        data.remove_router_interface(&actor, &router, &json!({"port_id": "nope"}))
            .err(),
        Some(err(
            404,
            "RouterInterfaceNotFound",
            &format!("Router {router} does not have an interface with id nope")
        ))
    );
    data.remove_router_interface(&actor, &router, &json!({"port_id": port}))
        .expect("removed by port");
    assert!(!data.ports.contains_key(&port));

    // Setting, keeping and changing the gateway.
    data.update_router(
        &actor,
        &router,
        &obj(json!({"external_gateway_info": {"network_id": public}})),
    )
    .expect("gateway");
    let first_port = data.routers[&router]
        .gateway
        .as_ref()
        .map(|g| g.port_id.clone());
    data.update_router(&actor, &router, &obj(json!({"name": "kept"})))
        .expect("rename");
    assert_eq!(
        data.routers[&router]
            .gateway
            .as_ref()
            .map(|g| g.port_id.clone()),
        first_port
    );
    assert_eq!(
        data.update_router(
            &actor,
            &router,
            &obj(json!({"external_gateway_info": {"network_id": public, "enable_snat": false}}))
        )
        .err(),
        Some(err(
            403,
            "PolicyNotAuthorized",
            "rule:update_router:external_gateway_info:enable_snat is disallowed by policy"
        ))
    );
    assert_eq!(
        data.update_router(
            &admin(),
            &router,
            &obj(
                json!({"name": "not-applied", "external_gateway_info": {"network_id": public,
                         "external_fixed_ips": [{"ip_address": "10.0.0.9"}]}})
            ),
        )
        .err()
        .map(|e| e.kind),
        Some("InvalidIpForNetwork")
    );
    assert_eq!(data.routers[&router].meta.name, "kept");
    let admin_set = data.update_router(
        &admin(),
        &router,
        &obj(
            json!({"external_gateway_info": {"network_id": public, "enable_snat": false,
                     "external_fixed_ips": [{"ip_address": "172.24.4.99"}]}}),
        ),
    );
    assert_eq!(admin_set, Ok(()));
    let view = data.show(Kind::Router, &actor, &router).expect("own");
    assert_eq!(view["external_gateway_info"]["enable_snat"], json!(false));
    assert_eq!(
        view["external_gateway_info"]["external_fixed_ips"][0]["ip_address"],
        json!("172.24.4.99")
    );
    assert_eq!(
        data.update_network(&admin(), &public, &obj(json!({"router:external": false})))
            .err(),
        Some(err(
            409,
            "ExternalNetworkInUse",
            &format!(
                "External network {public} cannot be updated to be made non-external, since it \
                 has existing gateway ports."
            )
        ))
    );
    assert_eq!(
        data.delete_network(&admin(), &public).err().map(|e| e.kind),
        Some("NetworkInUse")
    );
    data.delete_router(&actor, &router)
        .expect("deleted with its gateway port");
    assert!(data.ports.values().all(|p| p.device_id != router));
}

#[test]
fn shared_networks_and_port_rules() {
    let mut data = seeded();
    let shared = data
        .create_network(&admin(), &obj(json!({"name": "shared", "shared": true})))
        .expect("shared");
    data.create_subnet(
        &admin(),
        &obj(json!({"network_id": shared, "ip_version": 4, "cidr": "10.8.0.0/24"})),
    )
    .expect("subnet");
    let bob = user(BOB);
    assert_eq!(data.bootable_networks(BOB), vec![shared.clone()]);
    let port = data
        .create_port(&bob, &obj(json!({"network_id": shared})))
        .expect("bob's port on a shared network");
    assert_eq!(data.ports[&port].meta.project_id, BOB);
    assert_eq!(
        data.update_network(&bob, &shared, &obj(json!({"name": "mine"})))
            .err(),
        Some(err(
            403,
            "PolicyNotAuthorized",
            "rule:update_network is disallowed by policy"
        ))
    );
    assert_eq!(
        data.create_subnet(
            &bob,
            &obj(json!({"network_id": shared, "ip_version": 4, "cidr": "10.9.0.0/24"}))
        )
        .err(),
        Some(err(
            403,
            "PolicyNotAuthorized",
            "rule:create_subnet is disallowed by policy"
        ))
    );
    assert_eq!(
        data.update_network(&admin(), &shared, &obj(json!({"shared": false})))
            .err(),
        Some(err(
            409,
            "InvalidSharedSetting",
            &format!(
                "Unable to reconfigure sharing settings for network {shared}. Multiple tenants \
                 are using it."
            )
        ))
    );
    let public = public_id(&data);
    assert_eq!(
        data.create_port(&bob, &obj(json!({"network_id": public})))
            .err(),
        Some(err(
            403,
            "HTTPForbidden",
            &format!("Tenant {BOB} not allowed to create port on this network")
        ))
    );
    let mac = data.ports[&port].mac_address.clone();
    assert_eq!(
        data.create_port(
            &admin(),
            &obj(json!({"network_id": shared, "mac_address": mac}))
        )
        .err(),
        Some(err(
            409,
            "MacAddressInUse",
            &format!(
                "Unable to complete operation for network {shared}. The mac address {mac} is in use."
            )
        ))
    );
    let web = data
        .create_security_group(&bob, &obj(json!({"name": "web"})))
        .expect("group");
    data.update_port(&bob, &port, &obj(json!({"security_groups": [web]})))
        .expect("groups replaced");
    assert_eq!(data.ports[&port].security_groups, vec![web.clone()]);
    assert_eq!(
        data.update_port(&bob, &port, &obj(json!({"port_security_enabled": false})))
            .err(),
        Some(err(
            400,
            "PortSecurityAndIPRequiredForSecurityGroups",
            "Port security must be enabled and port must have an IP address in order to use \
             security groups."
        ))
    );
    data.update_port(
        &bob,
        &port,
        &obj(json!({"port_security_enabled": false, "security_groups": []})),
    )
    .expect("port security off");
    let alice_group = data.ensure_default_security_group(ALICE);
    assert_eq!(
        data.update_port(&bob, &port, &obj(json!({"security_groups": [alice_group]})))
            .err(),
        Some(err(
            404,
            "SecurityGroupNotFound",
            &format!("Security group {alice_group} does not exist")
        ))
    );
}

#[test]
fn icmp_and_protocol_rules() {
    let mut data = seeded();
    let actor = user(ALICE);
    let group = data
        .create_security_group(&actor, &obj(json!({"name": "icmp"})))
        .expect("group");
    let rule = |body: Value| {
        let mut body = obj(body);
        body.insert("security_group_id".into(), json!(group));
        body.insert("direction".into(), json!("ingress"));
        body
    };
    assert_eq!(
        data.create_security_group_rule(
            &actor,
            &rule(json!({"protocol": "icmp", "port_range_min": 300}))
        )
        .err(),
        Some(err(
            400,
            "SecurityGroupInvalidIcmpValue",
            "Invalid value for ICMP type (port_range_min) 300. It must be 0 to 255."
        ))
    );
    assert_eq!(
        data.create_security_group_rule(
            &actor,
            &rule(json!({"protocol": "icmp", "port_range_max": 0}))
        )
        .err(),
        Some(err(
            400,
            "SecurityGroupMissingIcmpType",
            "ICMP code (port-range-max) 0 is provided but ICMP type (port-range-min) is missing."
        ))
    );
    assert_eq!(
        data.create_security_group_rule(
            &actor,
            &rule(json!({"port_range_min": 22, "port_range_max": 22}))
        )
        .err(),
        Some(err(
            400,
            "SecurityGroupProtocolRequiredWithPorts",
            "Must also specify protocol if port range is given."
        ))
    );
    assert_eq!(
        data.create_security_group_rule(&actor, &rule(json!({"protocol": "tcp", "remote_ip_prefix": "10.0.0.0/8", "remote_group_id": group}))).err(),
        Some(err(
            400,
            "SecurityGroupRemoteGroupAndRemoteIpPrefix",
            "Only remote_ip_prefix or remote_group_id may be provided."
        ))
    );
    let echo = data
        .create_security_group_rule(&actor, &rule(json!({"protocol": "ICMP", "port_range_min": 8, "port_range_max": 0, "ethertype": "ipv4"})))
        .expect("echo request");
    let view = data
        .show(Kind::SecurityGroupRule, &actor, &echo)
        .expect("own");
    assert_eq!(view["protocol"], json!("icmp"));
    assert_eq!(view["ethertype"], json!("IPv4"));
    assert_eq!(view["port_range_min"], json!(8));
    assert_eq!(view["port_range_max"], json!(0));
    assert_eq!(view["belongs_to_default_sg"], json!(false));
    let v6 = data
        .create_security_group_rule(
            &actor,
            &rule(
                json!({"protocol": 58, "ethertype": "IPv6", "remote_ip_prefix": "2001:db8::1/64"}),
            ),
        )
        .expect("icmpv6 by number");
    assert_eq!(
        data.rules[&v6].remote_ip_prefix.as_deref(),
        Some("2001:db8::/64")
    );
    assert_eq!(data.rules[&v6].protocol.as_deref(), Some("58"));
    assert_eq!(data.security_groups[&group].meta.revision_number, 3);
}
