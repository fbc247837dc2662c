use super::*;
use crate::sim::network::model::NResult;

/// Alice's network and subnet, a router of hers with its gateway on `public` when `routed`
/// (and an interface on the subnet), and a port on the subnet; returns (subnet, port, router).
fn topology(data: &mut NetworkData, routed: bool) -> (String, String, String) {
    let (net, subnet) = net_with_subnet(data, ALICE, "10.0.0.0/24");
    let alice = user(ALICE);
    let gateway = if routed {
        json!({"network_id": public_id(data)})
    } else {
        Value::Null
    };
    let router = data
        .create_router(
            &alice,
            &obj(json!({"name": "r", "external_gateway_info": gateway})),
        )
        .expect("router");
    if routed {
        data.add_router_interface(&alice, &router, &json!({"subnet_id": subnet}))
            .expect("interface");
    }
    let port = data
        .create_port(&alice, &obj(json!({"network_id": net})))
        .expect("port");
    (subnet, port, router)
}

fn allocate(data: &mut NetworkData, extra: Value) -> NResult<String> {
    let mut body = obj(json!({"floating_network_id": public_id(data)}));
    body.extend(obj(extra));
    data.create_floating_ip(&user(ALICE), &body)
}

#[test]
fn addresses_come_from_the_external_subnet_and_are_not_handed_out_twice() {
    let mut data = seeded();
    let first = allocate(&mut data, json!({})).expect("allocated");
    let address = data.floating_ips[&first].floating_ip_address.to_string();
    assert!(address.starts_with("172.24.4."), "{address}");
    let taken = data.create_floating_ip(
        &admin(),
        &obj(
            json!({"floating_network_id": public_id(&data), "floating_ip_address": address,
                    "project_id": ALICE}),
        ),
    );
    assert_eq!(
        taken,
        Err(err(
            409,
            "IpAddressAlreadyAllocated",
            &format!(
                "IP address {address} already allocated in subnet {}",
                public_subnet_id(&data)
            )
        ))
    );
    // A router gateway port is not given the floating IP's address either.
    let (_, _, router) = topology(&mut data, true);
    let gateway_port = data.routers[&router]
        .gateway
        .clone()
        .expect("gateway")
        .port_id;
    assert!(!port_ips(&data, &gateway_port).contains(&address));
    // Choosing an address is an admin's right (Neutron's default policy).
    assert_eq!(
        allocate(&mut data, json!({"floating_ip_address": "172.24.4.200"})),
        Err(NeutronError::policy(
            "create_floatingip:floating_ip_address"
        ))
    );
    // From a network that is not external: refused.
    let (net, _) = net_with_subnet(&mut data, ALICE, "10.1.0.0/24");
    assert_eq!(
        data.create_floating_ip(&user(ALICE), &obj(json!({"floating_network_id": net})))
            .map_err(|e| e.kind),
        Err("BadRequest")
    );
}

#[test]
fn the_floatingip_quota_is_enforced() {
    let mut data = seeded();
    data.quotas
        .entry(ALICE.into())
        .or_default()
        .insert("floatingip".into(), 1);
    allocate(&mut data, json!({})).expect("the first one fits");
    assert_eq!(
        allocate(&mut data, json!({})),
        Err(err(
            409,
            "OverQuota",
            "Quota exceeded for resources: ['floatingip']."
        ))
    );
    assert_eq!(data.quota_used(ALICE, "floatingip"), 1);
}

#[test]
fn association_needs_a_router_from_the_subnet_to_the_external_network() {
    let mut data = seeded();
    let (subnet, port, _) = topology(&mut data, false);
    let fip = allocate(&mut data, json!({})).expect("allocated");
    let refused = data.update_floating_ip(&user(ALICE), &fip, &obj(json!({"port_id": port})));
    assert_eq!(
        refused,
        Err(err(
            404,
            "ExternalGatewayForFloatingIPNotFound",
            &format!(
                "External network {} is not reachable from subnet {subnet}.  Therefore, cannot \
                 associate Port {port} with a Floating IP.",
                public_id(&data)
            )
        ))
    );
    assert_eq!(data.floating_ips[&fip].port_id, None, "nothing changed");
}

#[test]
fn an_association_holds_its_interface_and_ends_with_the_port() {
    let mut data = seeded();
    let (subnet, port, router) = topology(&mut data, true);
    let alice = user(ALICE);
    let fip = allocate(&mut data, json!({})).expect("allocated");
    data.update_floating_ip(&alice, &fip, &obj(json!({"port_id": port})))
        .expect("associated");
    let rendered = data.render_floating_ip(&data.floating_ips[&fip]);
    assert_eq!(rendered["router_id"], json!(router));
    assert_eq!(
        rendered["fixed_ip_address"],
        json!(port_ips(&data, &port)[0])
    );
    assert_eq!(rendered["status"], json!("DOWN"), "an unbound port");
    assert_eq!(rendered["port_details"]["device_id"], json!(""));

    // One floating IP per fixed IP and external network.
    let second = allocate(&mut data, json!({"port_id": port}));
    assert_eq!(
        second.map_err(|e| e.kind),
        Err("FloatingIPPortAlreadyAssociated")
    );
    assert_eq!(
        data.quota_used(ALICE, "floatingip"),
        1,
        "nothing was allocated"
    );

    let removed = data.remove_router_interface(&alice, &router, &json!({"subnet_id": subnet}));
    assert_eq!(
        removed.map_err(|e| e.kind),
        Err("RouterInterfaceInUseByFloatingIP")
    );

    // Nor may the gateway go (real Neutron, checked on devstack), whatever clears it.
    let public = public_id(&data);
    for cleared in [json!({}), Value::Null] {
        let body = obj(json!({ "external_gateway_info": cleared }));
        assert_eq!(
            data.update_router(&alice, &router, &body).err(),
            Some(err(
                409,
                "RouterExternalGatewayInUseByFloatingIp",
                &format!(
                    "Gateway cannot be updated for router {router}, since a gateway to external \
                     network {public} is required by one or more floating IPs."
                )
            ))
        );
    }
    let kept = data.show(Kind::Router, &alice, &router).expect("router");
    assert_eq!(kept["external_gateway_info"]["network_id"], json!(public));

    data.delete_port(&alice, &port).expect("port deleted");
    let fip = &data.floating_ips[&fip];
    assert_eq!(
        (
            fip.port_id.clone(),
            fip.fixed_ip_address,
            fip.router_id.clone()
        ),
        (None, None, None),
        "disassociated, still allocated"
    );
    data.remove_router_interface(&alice, &router, &json!({"subnet_id": subnet}))
        .expect("free to go now");
    data.update_router(&alice, &router, &obj(json!({"external_gateway_info": {}})))
        .expect("the gateway too");
}

#[test]
fn nova_shows_a_servers_floating_ip_beside_its_fixed_ip() {
    let mut data = seeded();
    let (_, port, _) = topology(&mut data, true);
    data.attach_server_port(ALICE, false, &ServerNic::Port(port.clone()), "vm", &[])
        .expect("attached");
    let fip = allocate(&mut data, json!({"port_id": port})).expect("allocated");
    let address = data.floating_ips[&fip].floating_ip_address.to_string();
    assert_eq!(
        data.render_floating_ip(&data.floating_ips[&fip])["status"],
        json!("ACTIVE")
    );
    let addresses = data.server_addresses("vm");
    let entries = addresses["net"].as_array().cloned().unwrap_or_default();
    let types: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| {
            (
                e["addr"].as_str().unwrap_or_default(),
                e["OS-EXT-IPS:type"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    let fixed = port_ips(&data, &port)[0].clone();
    assert_eq!(
        types,
        [(fixed.as_str(), "fixed"), (address.as_str(), "floating")]
    );
}
