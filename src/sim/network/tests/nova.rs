//! Nova's seam: server ports, addresses and groups, shared networks and port rules.

use super::*;

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
        .attach_server_port(ALICE, false, &nic, "server-1", &[])
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
            false,
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
        data.attach_server_port(ALICE, false, &nic, "server-2", &["nope".into()]),
        Err(NicError::SecurityGroupNotFound("nope".into()))
    );
    assert_eq!(
        data.attach_server_port(BOB, false, &nic, "server-2", &[]),
        Err(NicError::NetworkNotFound(net.clone()))
    );
    assert_eq!(
        data.attach_server_port(
            ALICE,
            false,
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
    data.attach_server_port(
        ALICE,
        false,
        &ServerNic::Port(precreated.clone()),
        "server-1",
        &[],
    )
    .expect("bound");
    assert_eq!(
        data.attach_server_port(
            ALICE,
            false,
            &ServerNic::Port(precreated.clone()),
            "server-3",
            &[]
        ),
        Err(NicError::PortInUse(precreated.clone()))
    );
    assert_eq!(
        data.attach_server_port(
            ALICE,
            false,
            &ServerNic::Port("missing".into()),
            "server-3",
            &[]
        ),
        Err(NicError::PortNotFound("missing".into()))
    );
    data.detach_server_ports("server-1");
    assert!(!data.ports.contains_key(&port));
    assert_eq!(data.ports[&precreated].device_id, "");
    assert_eq!(data.ports[&precreated].device_owner, "");
    assert_eq!(data.server_addresses("server-1"), json!({}));
}

/// Regression: real Nova lets an admin boot on another project's (unshared) network; the
/// embedded cloud answered 400 "Network ... could not be found".
#[test]
fn admin_boots_on_another_projects_network() {
    let mut data = seeded();
    let (net, _) = net_with_subnet(&mut data, ALICE, "10.0.0.0/24");
    let nic = ServerNic::Network {
        network_id: net.clone(),
        fixed_ip: None,
    };
    let port = data
        .attach_server_port(ADMIN_PROJECT, true, &nic, "server-1", &[])
        .expect("an admin boots on any network");
    assert_eq!(data.ports[&port].meta.project_id, ADMIN_PROJECT);
    assert_eq!(data.ports[&port].network_id, net);
    assert_eq!(data.server_security_groups("server-1"), vec!["default"]);
    assert_eq!(
        data.attach_server_port(BOB, false, &nic, "server-2", &[]),
        Err(NicError::NetworkNotFound(net.clone()))
    );
    assert_eq!(
        data.attach_server_port(
            ADMIN_PROJECT,
            true,
            &ServerNic::Network {
                network_id: "missing".into(),
                fixed_ip: None,
            },
            "server-2",
            &[]
        ),
        Err(NicError::NetworkNotFound("missing".into()))
    );
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
            "Unable to reconfigure sharing settings for network shared. Multiple projects \
             are using it."
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

/// os-security-groups as Nova builds it from Neutron: ingress rules only, ports defaulted by
/// protocol, 0.0.0.0/0 for a rule without a prefix, remote groups by name.
#[test]
fn server_security_groups_in_novas_proxy_shape() {
    let mut data = seeded();
    let actor = user(ALICE);
    let (net, _) = net_with_subnet(&mut data, ALICE, "10.0.0.0/24");
    let web = data
        .create_security_group(&actor, &obj(json!({"name": "web", "description": "www"})))
        .expect("group");
    let rule = |data: &mut NetworkData, body: Value| {
        let mut body = obj(body);
        body.insert("security_group_id".into(), json!(web));
        data.create_security_group_rule(&actor, &body)
            .expect("rule")
    };
    let ssh = rule(
        &mut data,
        json!({"direction": "ingress", "protocol": "tcp", "port_range_min": 22,
               "port_range_max": 22, "remote_ip_prefix": "192.0.2.0/24"}),
    );
    let any_tcp = rule(
        &mut data,
        json!({"direction": "ingress", "protocol": "tcp"}),
    );
    let icmp = rule(
        &mut data,
        json!({"direction": "ingress", "protocol": "icmp"}),
    );
    let nic = ServerNic::Network {
        network_id: net,
        fixed_ip: None,
    };
    data.attach_server_port(
        ALICE,
        false,
        &nic,
        "server-1",
        &["web".into(), "default".into()],
    )
    .expect("attached");

    let groups = data.server_security_group_views("server-1");
    let names: Vec<&Value> = groups.iter().map(|g| &g["name"]).collect();
    assert_eq!(names, [&json!("default"), &json!("web")]);
    // The default group's ingress rules admit the group itself: shown by name, no range.
    let default_rules = groups[0]["rules"].as_array().cloned().unwrap_or_default();
    assert_eq!(default_rules.len(), 2, "{default_rules:?}");
    for rule in &default_rules {
        assert_eq!(
            rule["group"],
            json!({"name": "default", "tenant_id": ALICE})
        );
        assert_eq!(rule["ip_range"], json!({}));
        assert_eq!(rule["ip_protocol"], Value::Null);
        assert_eq!(rule["from_port"], Value::Null);
    }
    let web_view = &groups[1];
    assert_eq!(web_view["description"], json!("www"));
    assert_eq!(web_view["tenant_id"], json!(ALICE));
    let by_id = |id: &str| {
        web_view["rules"]
            .as_array()
            .and_then(|rules| rules.iter().find(|r| r["id"] == json!(id)).cloned())
            .unwrap_or_default()
    };
    assert_eq!(
        by_id(&ssh),
        json!({"id": ssh, "parent_group_id": web, "ip_protocol": "tcp", "from_port": 22,
               "to_port": 22, "group": {}, "ip_range": {"cidr": "192.0.2.0/24"}})
    );
    assert_eq!(by_id(&any_tcp)["from_port"], json!(1));
    assert_eq!(by_id(&any_tcp)["to_port"], json!(65535));
    assert_eq!(by_id(&any_tcp)["ip_range"], json!({"cidr": "0.0.0.0/0"}));
    assert_eq!(by_id(&icmp)["from_port"], json!(-1));
    assert_eq!(by_id(&icmp)["to_port"], json!(-1));
    // Egress rules (the two automatic ones) are not Nova's business.
    assert_eq!(web_view["rules"].as_array().map(Vec::len), Some(3));
    assert!(data.server_security_group_views("no-server").is_empty());
}

/// os-interface: the server's ports, and Nova's two 404 messages for a port it cannot show.
#[test]
fn server_interfaces_in_novas_shape() {
    let mut data = seeded();
    let (net, subnet) = net_with_subnet(&mut data, ALICE, "10.0.0.0/24");
    let nic = ServerNic::Network {
        network_id: net.clone(),
        fixed_ip: None,
    };
    let port = data
        .attach_server_port(ALICE, false, &nic, "server-1", &[])
        .expect("attached");
    let mac = data.ports[&port].mac_address.clone();
    let expected = json!({"port_state": "ACTIVE", "port_id": port, "net_id": net,
        "mac_addr": mac, "fixed_ips": [{"subnet_id": subnet, "ip_address": "10.0.0.2"}]});
    assert_eq!(
        data.server_interfaces("server-1", false),
        vec![expected.clone()]
    );
    let mut tagged = expected.clone();
    tagged["tag"] = Value::Null;
    assert_eq!(data.server_interface("server-1", &port, true), Ok(tagged));
    assert_eq!(
        data.server_interface("server-2", &port, false),
        Err(format!(
            "Instance server-2 does not have a port with id {port}"
        ))
    );
    assert_eq!(
        data.server_interface("server-1", "missing", false),
        Err("Port id missing could not be found.".to_string())
    );
    assert!(data.server_interfaces("server-2", false).is_empty());
}
