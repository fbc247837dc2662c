//! Routers (gateways, interfaces) and security groups with their rules.

use super::*;

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
            &format!("Router {router} has ports still attached: {port_id}")
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
    let groups = data.ports[&port].security_groups.clone();
    assert_eq!(groups.len(), 1, "the default group");
    let info = data
        .add_router_interface(&actor, &router, &json!({"port_id": port}))
        .expect("by port");
    assert_eq!(info["subnet_id"], json!(subnet));
    assert_eq!(info["port_id"], json!(port));
    assert_eq!(data.ports[&port].device_owner, "network:router_interface");
    // As on real Neutron: the port keeps its groups and its port security.
    assert_eq!(data.ports[&port].security_groups, groups);
    assert!(data.ports[&port].port_security_enabled);
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
            // Neutron's own spelling of the type.
            "SecurityGroupMultipleRemoteEntites",
            "Only one of remote_ip_prefix or remote_group_id or remote_address_group_id may be provided."
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
