//! Networks, subnets and ports: defaults, visibility, validation, addresses, in-use rules.

use super::*;

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
        .visible(Kind::Network, &user(BOB), &ListQuery::default())
        .into_iter()
        .map(|n| n["name"].clone())
        .collect();
    assert_eq!(bob_sees, vec![json!("public")]);
    assert_eq!(
        data.visible(Kind::Network, &admin(), &ListQuery::default())
            .len(),
        2
    );
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

/// Allowed address pairs as real Neutron takes them (its messages and types, recorded from
/// Neutron 2026.2): a pair without a MAC shows the port's own, and port security is needed.
#[test]
fn allowed_address_pairs_and_port_security() {
    let mut data = seeded();
    let actor = user(ALICE);
    let (net, _) = net_with_subnet(&mut data, ALICE, "10.0.0.0/24");
    let create = |data: &mut NetworkData, pairs: Value| {
        data.create_port(
            &actor,
            &obj(json!({"network_id": net, "allowed_address_pairs": pairs})),
        )
    };
    let vip = create(
        &mut data,
        json!([{"ip_address": "10.0.0.100"},
               {"ip_address": "10.1.0.0/24", "mac_address": "FA:16:3E:00:00:01"}]),
    )
    .expect("pairs");
    let view = data.show(Kind::Port, &actor, &vip).expect("own");
    let mac = view["mac_address"].clone();
    let mut pairs = view["allowed_address_pairs"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    pairs.sort_by_key(|p| p["ip_address"].as_str().map(str::to_string));
    assert_eq!(
        pairs,
        [
            json!({"ip_address": "10.0.0.100", "mac_address": mac}),
            json!({"ip_address": "10.1.0.0/24", "mac_address": "fa:16:3e:00:00:01"}),
        ]
    );
    for (pairs, expected) in [
        (
            json!([{"ip_address": "nonsense"}]),
            err(
                400,
                "HTTPBadRequest",
                "'nonsense' is not a valid IP address",
            ),
        ),
        (
            json!([{"ip_address": "10.0.0.1/33"}]),
            err(
                400,
                "HTTPBadRequest",
                "'10.0.0.1/33' is not a valid IP subnet",
            ),
        ),
        (
            json!([{"ip_address": "10.0.0.1", "mac_address": "zz"}]),
            err(400, "HTTPBadRequest", "'zz' is not a valid MAC address"),
        ),
        (
            json!([{"mac_address": "fa:16:3e:00:00:01"}]),
            err(
                400,
                "AllowedAddressPairsMissingIP",
                "AllowedAddressPair must contain ip_address",
            ),
        ),
        (
            json!([{"ip_address": "10.0.0.1"}, {"ip_address": "10.0.0.1"}]),
            err(
                400,
                "DuplicateAddressPairInRequest",
                "Request contains duplicate address pair: mac_address None ip_address 10.0.0.1.",
            ),
        ),
        (
            json!([{"ip_address": "10.0.0.1", "foo": 1}]),
            err(400, "HTTPBadRequest", "Unrecognized attribute(s) 'foo'"),
        ),
        (
            json!("10.0.0.1"),
            err(
                400,
                "HTTPBadRequest",
                "Allowed address pairs must be a list.",
            ),
        ),
    ] {
        assert_eq!(create(&mut data, pairs).err(), Some(expected));
    }
    let no_security = |data: &mut NetworkData, extra: Value| {
        let mut body = obj(json!({"network_id": net, "port_security_enabled": false}));
        body.extend(obj(extra));
        data.create_port(&actor, &body)
    };
    let needs_security = err(
        409,
        "AddressPairAndPortSecurityRequired",
        "Port Security must be enabled in order to have allowed address pairs on a port.",
    );
    assert_eq!(
        no_security(
            &mut data,
            json!({"allowed_address_pairs": [{"ip_address": "10.0.0.1"}]})
        )
        .err(),
        Some(needs_security.clone())
    );
    // Turning port security off needs the pairs and groups gone in the same update.
    assert_eq!(
        data.update_port(&actor, &vip, &obj(json!({"port_security_enabled": false})))
            .err(),
        Some(needs_security)
    );
    data.update_port(
        &actor,
        &vip,
        &obj(
            json!({"port_security_enabled": false, "security_groups": [],
                    "allowed_address_pairs": []}),
        ),
    )
    .expect("cleared together");
    let view = data.show(Kind::Port, &actor, &vip).expect("own");
    assert_eq!(view["port_security_enabled"], false);
    assert_eq!(view["allowed_address_pairs"], json!([]));
}
