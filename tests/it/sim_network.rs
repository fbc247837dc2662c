//! Neutron v2.0 of the embedded cloud over HTTP: lifecycle, exact error bodies, paging links,
//! tags, quotas and visibility between projects.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::sim_common::{Cloud, Reply, start};

fn neutron_error(kind: &str, message: &str) -> Value {
    json!({"NeutronError": {"type": kind, "message": message, "detail": ""}})
}

fn id_of(reply: &Reply, key: &str) -> String {
    reply.body[key]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn post(cloud: &Cloud, token: &str, path: &str, body: Value) -> Reply {
    cloud
        .call_as(
            token,
            Method::POST,
            &format!("/networking/v2.0/{path}"),
            Some(body),
            &[],
        )
        .await
}

async fn get(cloud: &Cloud, token: &str, path: &str) -> Reply {
    cloud
        .call_as(
            token,
            Method::GET,
            &format!("/networking/v2.0/{path}"),
            None,
            &[],
        )
        .await
}

async fn put(cloud: &Cloud, token: &str, path: &str, body: Option<Value>) -> Reply {
    cloud
        .call_as(
            token,
            Method::PUT,
            &format!("/networking/v2.0/{path}"),
            body,
            &[],
        )
        .await
}

async fn delete(cloud: &Cloud, token: &str, path: &str) -> Reply {
    cloud
        .call_as(
            token,
            Method::DELETE,
            &format!("/networking/v2.0/{path}"),
            None,
            &[],
        )
        .await
}

async fn public_network(cloud: &Cloud, token: &str) -> (String, String) {
    let nets = get(cloud, token, "networks?name=public").await;
    assert_eq!(nets.status, StatusCode::OK);
    let net = &nets.body["networks"][0];
    (
        net["id"].as_str().unwrap_or_default().to_string(),
        net["subnets"][0].as_str().unwrap_or_default().to_string(),
    )
}

#[tokio::test]
async fn versions_and_extensions() {
    let cloud = start().await;
    let versions = cloud.call(Method::GET, "/networking/", None).await;
    assert_eq!(versions.status, StatusCode::OK);
    assert_eq!(
        versions.body,
        json!({"versions": [{"status": "CURRENT", "id": "v2.0",
            "links": [{"href": cloud.url("/networking/v2.0/"), "rel": "self"}]}]})
    );
    let extensions = get(&cloud, &cloud.token, "extensions").await;
    assert_eq!(extensions.status, StatusCode::OK);
    let aliases: Vec<&str> = extensions.body["extensions"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["alias"].as_str()).collect())
        .unwrap_or_default();
    for alias in [
        "router",
        "external-net",
        "security-group",
        "quotas",
        "standard-attr-tag",
        "binding",
        "network-mtu",
        "project-id",
    ] {
        assert!(aliases.contains(&alias), "missing extension {alias}");
    }
    let router = get(&cloud, &cloud.token, "extensions/router").await;
    assert_eq!(router.body["extension"]["alias"], json!("router"));
    let missing = get(&cloud, &cloud.token, "extensions/fwaas").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(
        missing.body,
        json!({"message": "The resource could not be found.<br /><br />\nExtension with alias fwaas does not exist\n\n",
               "code": "404 Not Found", "title": "Not Found"})
    );
    let anonymous = crate::sim_common::send(
        &cloud.http,
        Method::GET,
        &cloud.url("/networking/v2.0/networks"),
        None,
        None,
        &[],
    )
    .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn full_lifecycle_with_conflicts() {
    let cloud = start().await;
    let (project, _, token) = cloud.tenant("alpha").await;
    let token = token.as_str();
    let (public, public_subnet) = public_network(&cloud, token).await;

    // As real Neutron: `tag-creation` is advertised, yet tags in the POST are refused.
    let tagged = post(
        &cloud,
        token,
        "networks",
        json!({"network": {"name": "app", "tags": ["t1"]}}),
    )
    .await;
    assert_eq!(tagged.status, StatusCode::BAD_REQUEST, "{}", tagged.body);
    assert_eq!(
        tagged.body["NeutronError"]["message"],
        json!("Attribute 'tags' not allowed in POST")
    );
    let net = post(
        &cloud,
        token,
        "networks",
        json!({"network": {"name": "app"}}),
    )
    .await;
    assert_eq!(net.status, StatusCode::CREATED, "{}", net.body);
    let net_id = id_of(&net, "network");
    assert_eq!(net.body["network"]["mtu"], json!(1450));
    assert_eq!(net.body["network"]["project_id"], json!(project));
    assert_eq!(net.body["network"]["tags"], json!([]));
    let tags = put(
        &cloud,
        token,
        &format!("networks/{net_id}/tags"),
        Some(json!({"tags": ["t1"]})),
    )
    .await;
    assert_eq!(tags.body, json!({"tags": ["t1"]}));
    assert_eq!(net.body["network"]["status"], json!("ACTIVE"));
    assert!(net.body["network"].get("provider:network_type").is_none());

    let bad_cidr = post(
        &cloud,
        token,
        "subnets",
        json!({"subnet": {"network_id": net_id, "ip_version": 4, "cidr": "192.168.1.0/33"}}),
    )
    .await;
    assert_eq!(bad_cidr.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        bad_cidr.body,
        neutron_error(
            "InvalidInput",
            "Invalid input for operation: 192.168.1.0/33 is not in a CIDR format."
        )
    );
    let subnet = post(&cloud, token, "subnets", json!({"subnet": {"network_id": net_id, "ip_version": 4, "cidr": "10.10.0.0/24", "name": "app-sub"}})).await;
    assert_eq!(subnet.status, StatusCode::CREATED, "{}", subnet.body);
    let subnet_id = id_of(&subnet, "subnet");
    assert_eq!(subnet.body["subnet"]["gateway_ip"], json!("10.10.0.1"));
    assert_eq!(
        subnet.body["subnet"]["allocation_pools"],
        json!([{"start": "10.10.0.2", "end": "10.10.0.254"}])
    );
    let overlap = post(
        &cloud,
        token,
        "subnets",
        json!({"subnet": {"network_id": net_id, "ip_version": 4, "cidr": "10.10.0.0/16"}}),
    )
    .await;
    assert_eq!(overlap.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        overlap.body,
        neutron_error(
            "InvalidInput",
            &format!(
                "Invalid input for operation: Requested subnet with cidr: 10.10.0.0/16 for network: {net_id} overlaps with another subnet."
            )
        )
    );
    let unknown = post(
        &cloud,
        token,
        "networks",
        json!({"network": {"name": "x", "foo": 1}}),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        unknown.body,
        neutron_error("HTTPBadRequest", "Unrecognized attribute(s) 'foo'")
    );
    let cidr_update = put(
        &cloud,
        token,
        &format!("subnets/{subnet_id}"),
        Some(json!({"subnet": {"cidr": "10.11.0.0/24"}})),
    )
    .await;
    assert_eq!(cidr_update.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        cidr_update.body,
        neutron_error("HTTPBadRequest", "Cannot update read-only attribute cidr")
    );

    let sg = post(
        &cloud,
        token,
        "security-groups",
        json!({"security_group": {"name": "web", "description": "web tier"}}),
    )
    .await;
    assert_eq!(sg.status, StatusCode::CREATED, "{}", sg.body);
    let sg_id = id_of(&sg, "security_group");
    assert_eq!(
        sg.body["security_group"]["security_group_rules"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    let rule_body = json!({"security_group_rule": {"security_group_id": sg_id, "direction": "ingress", "protocol": "tcp", "port_range_min": 80, "port_range_max": 80, "remote_ip_prefix": "0.0.0.0/0"}});
    let rule = post(&cloud, token, "security-group-rules", rule_body.clone()).await;
    assert_eq!(rule.status, StatusCode::CREATED, "{}", rule.body);
    let rule_id = id_of(&rule, "security_group_rule");
    let duplicate = post(&cloud, token, "security-group-rules", rule_body).await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
    assert_eq!(
        duplicate.body,
        neutron_error(
            "SecurityGroupRuleExists",
            &format!("Security group rule already exists. Rule id is {rule_id}.")
        )
    );

    let port = post(
        &cloud,
        token,
        "ports",
        json!({"port": {"network_id": net_id, "name": "p1", "security_groups": [sg_id]}}),
    )
    .await;
    assert_eq!(port.status, StatusCode::CREATED, "{}", port.body);
    let port_id = id_of(&port, "port");
    assert_eq!(
        port.body["port"]["fixed_ips"],
        json!([{"subnet_id": subnet_id, "ip_address": "10.10.0.2"}])
    );
    assert_eq!(port.body["port"]["status"], json!("DOWN"));
    assert_eq!(port.body["port"]["security_groups"], json!([sg_id]));

    let not_external = post(
        &cloud,
        token,
        "routers",
        json!({"router": {"name": "r", "external_gateway_info": {"network_id": net_id}}}),
    )
    .await;
    assert_eq!(not_external.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        not_external.body,
        neutron_error(
            "BadRequest",
            &format!("Bad router request: Network {net_id} is not an external network.")
        )
    );
    let router = post(
        &cloud,
        token,
        "routers",
        json!({"router": {"name": "r1", "external_gateway_info": {"network_id": public}}}),
    )
    .await;
    assert_eq!(router.status, StatusCode::CREATED, "{}", router.body);
    let router_id = id_of(&router, "router");
    assert_eq!(
        router.body["router"]["external_gateway_info"],
        json!({"network_id": public, "enable_snat": true, "external_fixed_ips": [{"subnet_id": public_subnet, "ip_address": "172.24.4.2"}]})
    );
    let add = put(
        &cloud,
        token,
        &format!("routers/{router_id}/add_router_interface"),
        Some(json!({"subnet_id": subnet_id})),
    )
    .await;
    assert_eq!(add.status, StatusCode::OK, "{}", add.body);
    let iface_port = add.body["port_id"].as_str().unwrap_or_default().to_string();
    assert_eq!(
        add.body,
        json!({"id": router_id, "network_id": net_id, "port_id": iface_port, "subnet_id": subnet_id,
               "subnet_ids": [subnet_id], "project_id": project})
    );
    let iface = get(&cloud, token, &format!("ports/{iface_port}")).await;
    assert_eq!(
        iface.body["port"]["fixed_ips"],
        json!([{"subnet_id": subnet_id, "ip_address": "10.10.0.1"}])
    );
    assert_eq!(
        iface.body["port"]["device_owner"],
        json!("network:router_interface")
    );
    let again = put(
        &cloud,
        token,
        &format!("routers/{router_id}/add_router_interface"),
        Some(json!({"subnet_id": subnet_id})),
    )
    .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        again.body,
        neutron_error(
            "BadRequest",
            &format!("Bad router request: Router already has a port on subnet {subnet_id}.")
        )
    );

    let net_in_use = delete(&cloud, token, &format!("networks/{net_id}")).await;
    assert_eq!(net_in_use.status, StatusCode::CONFLICT);
    assert_eq!(
        net_in_use.body,
        neutron_error(
            "NetworkInUse",
            &format!(
                "Unable to complete operation on network {net_id}. There are one or more ports still in use on the network."
            )
        )
    );
    let sg_in_use = delete(&cloud, token, &format!("security-groups/{sg_id}")).await;
    assert_eq!(sg_in_use.status, StatusCode::CONFLICT);
    assert_eq!(
        sg_in_use.body,
        neutron_error(
            "SecurityGroupInUse",
            &format!("Security Group {sg_id} in use.")
        )
    );
    assert_eq!(
        delete(&cloud, token, &format!("ports/{port_id}"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let subnet_in_use = delete(&cloud, token, &format!("subnets/{subnet_id}")).await;
    assert_eq!(subnet_in_use.status, StatusCode::CONFLICT);
    assert_eq!(
        subnet_in_use.body,
        neutron_error(
            "SubnetInUse",
            &format!(
                "Unable to complete operation on subnet {subnet_id}: One or more ports have an IP allocation from this subnet."
            )
        )
    );
    let service_port = delete(&cloud, token, &format!("ports/{iface_port}")).await;
    assert_eq!(service_port.status, StatusCode::CONFLICT);
    assert_eq!(
        service_port.body,
        neutron_error(
            "ServicePortInUse",
            &format!(
                "Port {iface_port} cannot be deleted directly via the port API: has device owner network:router_interface."
            )
        )
    );
    let router_in_use = delete(&cloud, token, &format!("routers/{router_id}")).await;
    assert_eq!(router_in_use.status, StatusCode::CONFLICT);
    assert_eq!(
        router_in_use.body,
        neutron_error(
            "RouterInUse",
            &format!("Router {router_id} has ports still attached: {iface_port}")
        )
    );

    let removed = put(
        &cloud,
        token,
        &format!("routers/{router_id}/remove_router_interface"),
        Some(json!({"subnet_id": subnet_id})),
    )
    .await;
    assert_eq!(removed.status, StatusCode::OK);
    assert_eq!(removed.body["port_id"], json!(iface_port));
    let not_attached = put(
        &cloud,
        token,
        &format!("routers/{router_id}/remove_router_interface"),
        Some(json!({"subnet_id": subnet_id})),
    )
    .await;
    assert_eq!(not_attached.status, StatusCode::NOT_FOUND);
    assert_eq!(
        not_attached.body,
        neutron_error(
            "RouterInterfaceNotFoundForSubnet",
            &format!("Router {router_id} has no interface on subnet {subnet_id}")
        )
    );
    let renamed = put(
        &cloud,
        token,
        &format!("routers/{router_id}"),
        Some(json!({"router": {"name": "r2", "external_gateway_info": null}})),
    )
    .await;
    assert_eq!(renamed.status, StatusCode::OK);
    assert_eq!(renamed.body["router"]["name"], json!("r2"));
    assert_eq!(renamed.body["router"]["external_gateway_info"], Value::Null);
    assert_eq!(renamed.body["router"]["revision_number"], json!(4));

    for path in [
        format!("routers/{router_id}"),
        format!("security-group-rules/{rule_id}"),
        format!("security-groups/{sg_id}"),
        format!("subnets/{subnet_id}"),
        format!("networks/{net_id}"),
    ] {
        let reply = delete(&cloud, token, &path).await;
        assert_eq!(
            reply.status,
            StatusCode::NO_CONTENT,
            "{path}: {}",
            reply.body
        );
        assert_eq!(reply.body, Value::Null);
    }
    for (path, kind, message) in [
        (
            format!("networks/{net_id}"),
            "NetworkNotFound",
            format!("Network {net_id} could not be found."),
        ),
        (
            format!("subnets/{subnet_id}"),
            "SubnetNotFound",
            format!("Subnet {subnet_id} could not be found."),
        ),
        (
            format!("ports/{port_id}"),
            "PortNotFound",
            format!("Port {port_id} could not be found."),
        ),
        (
            format!("routers/{router_id}"),
            "RouterNotFound",
            format!("Router {router_id} could not be found."),
        ),
        (
            format!("security-groups/{sg_id}"),
            "SecurityGroupNotFound",
            format!("Security group {sg_id} does not exist"),
        ),
        (
            format!("security-group-rules/{rule_id}"),
            "SecurityGroupRuleNotFound",
            format!("Security group rule {rule_id} does not exist"),
        ),
    ] {
        let reply = get(&cloud, token, &path).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(reply.body, neutron_error(kind, &message));
    }
}

#[tokio::test]
async fn default_security_group_per_project() {
    let cloud = start().await;
    let (project, _, token) = cloud.tenant("beta").await;
    let groups = get(&cloud, &token, "security-groups").await;
    assert_eq!(groups.status, StatusCode::OK);
    let list = groups.body["security_groups"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["name"], json!("default"));
    assert_eq!(list[0]["project_id"], json!(project));
    assert_eq!(
        list[0]["security_group_rules"].as_array().map(Vec::len),
        Some(4)
    );
    let default_id = list[0]["id"].as_str().unwrap_or_default().to_string();
    let refused = delete(&cloud, &token, &format!("security-groups/{default_id}")).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert_eq!(
        refused.body,
        neutron_error(
            "SecurityGroupCannotRemoveDefault",
            "Insufficient rights for removing default security group."
        )
    );
    let rules = get(
        &cloud,
        &token,
        &format!("security-group-rules?security_group_id={default_id}&direction=egress"),
    )
    .await;
    assert_eq!(
        rules.body["security_group_rules"].as_array().map(Vec::len),
        Some(2)
    );
}

#[tokio::test]
async fn quotas_and_over_quota() {
    let cloud = start().await;
    let (project, _, token) = cloud.tenant("gamma").await;
    let defaults = get(&cloud, &token, &format!("quotas/{project}")).await;
    assert_eq!(defaults.status, StatusCode::OK);
    assert_eq!(
        defaults.body,
        json!({"quota": {"floatingip": 50, "network": 100, "port": 500, "rbac_policy": 10,
                         "router": 10, "router_route": 30, "security_group": 10,
                         "security_group_rule": 100, "subnet": 100, "subnetpool": -1}})
    );
    let refused = put(
        &cloud,
        &token,
        &format!("quotas/{project}"),
        Some(json!({"quota": {"network": 1}})),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let set = put(
        &cloud,
        &cloud.token,
        &format!("quotas/{project}"),
        Some(json!({"quota": {"network": 1}})),
    )
    .await;
    assert_eq!(set.status, StatusCode::OK);
    assert_eq!(set.body["quota"]["network"], json!(1));
    let listed = get(&cloud, &cloud.token, "quotas").await;
    assert_eq!(listed.body["quotas"][0]["project_id"], json!(project));
    assert_eq!(
        post(&cloud, &token, "networks", json!({"network": {}}))
            .await
            .status,
        StatusCode::CREATED
    );
    let over = post(&cloud, &token, "networks", json!({"network": {}})).await;
    assert_eq!(over.status, StatusCode::CONFLICT);
    assert_eq!(
        over.body,
        neutron_error("OverQuota", "Quota exceeded for resources: ['network'].")
    );
    let details = get(&cloud, &token, &format!("quotas/{project}/details")).await;
    assert_eq!(
        details.body["quota"]["network"],
        json!({"used": 1, "limit": 1, "reserved": 0})
    );
    assert_eq!(
        delete(&cloud, &cloud.token, &format!("quotas/{project}"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let reset = get(&cloud, &token, &format!("quotas/{project}")).await;
    assert_eq!(reset.body["quota"]["network"], json!(100));
}

#[tokio::test]
async fn tags_api_and_filters() {
    let cloud = start().await;
    let (_, _, token) = cloud.tenant("delta").await;
    let tagged_network = |name: &'static str, tags: Value| {
        let (cloud, token) = (&cloud, &token);
        async move {
            let id = id_of(
                &post(cloud, token, "networks", json!({"network": {"name": name}})).await,
                "network",
            );
            let path = format!("networks/{id}/tags");
            put(cloud, token, &path, Some(json!({ "tags": tags }))).await;
            id
        }
    };
    let a = tagged_network("a", json!(["red", "blue"])).await;
    let b = tagged_network("b", json!(["red"])).await;
    let c = id_of(
        &post(
            &cloud,
            &token,
            "networks",
            json!({"network": {"name": "c"}}),
        )
        .await,
        "network",
    );
    let names = |reply: &Reply| -> Vec<String> {
        let mut names: Vec<String> = reply.body["networks"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|n| n["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    };
    assert_eq!(
        names(&get(&cloud, &token, "networks?tags=red,blue").await),
        vec!["a"]
    );
    assert_eq!(
        names(&get(&cloud, &token, "networks?tags-any=blue,red").await),
        vec!["a", "b"]
    );
    assert_eq!(
        names(&get(&cloud, &token, "networks?not-tags=red").await),
        vec!["c", "public"]
    );
    assert_eq!(
        names(
            &get(
                &cloud,
                &token,
                "networks?not-tags-any=blue&router:external=false"
            )
            .await
        ),
        vec!["b", "c"]
    );

    let replaced = put(
        &cloud,
        &token,
        &format!("networks/{c}/tags"),
        Some(json!({"tags": ["x", "y"]})),
    )
    .await;
    assert_eq!(replaced.status, StatusCode::OK);
    assert_eq!(replaced.body, json!({"tags": ["x", "y"]}));
    let added = put(&cloud, &token, &format!("networks/{c}/tags/z"), None).await;
    assert_eq!(added.status, StatusCode::CREATED);
    assert_eq!(
        get(&cloud, &token, &format!("networks/{c}/tags"))
            .await
            .body,
        json!({"tags": ["x", "y", "z"]})
    );
    assert_eq!(
        get(&cloud, &token, &format!("networks/{c}/tags/y"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        delete(&cloud, &token, &format!("networks/{c}/tags/y"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let missing = delete(&cloud, &token, &format!("networks/{c}/tags/y")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(
        missing.body,
        neutron_error(
            "TagNotFound",
            &format!("Tag y could not be found for network {c}.")
        )
    );
    assert_eq!(
        delete(&cloud, &token, &format!("networks/{b}/tags"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        get(&cloud, &token, &format!("networks/{b}")).await.body["network"]["tags"],
        json!([])
    );
    let bad = put(
        &cloud,
        &token,
        &format!("networks/{a}/tags"),
        Some(json!({"labels": []})),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        bad.body,
        neutron_error(
            "InvalidInput",
            "Invalid input for operation: Invalid tags body."
        )
    );
}

#[tokio::test]
async fn paging_links_and_fields() {
    let cloud = start().await;
    let (_, _, token) = cloud.tenant("epsilon").await;
    for i in 0..3 {
        let reply = post(
            &cloud,
            &token,
            "networks",
            json!({"network": {"name": format!("n{i}")}}),
        )
        .await;
        assert_eq!(reply.status, StatusCode::CREATED);
    }
    let all = get(&cloud, &token, "networks?fields=id").await;
    let mut ids: Vec<String> = all.body["networks"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|n| n["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(ids.len(), 4, "three own networks and public");
    ids.sort();
    assert!(all.body.get("networks_links").is_none());
    let base = cloud.url("/networking/v2.0/networks");
    let first = get(&cloud, &token, "networks?limit=2&fields=id").await;
    assert_eq!(
        first.body["networks"],
        json!([{"id": ids[0]}, {"id": ids[1]}])
    );
    assert_eq!(
        first.body["networks_links"],
        json!([
            {"rel": "next", "href": format!("{base}?limit=2&fields=id&marker={}", ids[1])},
            {"rel": "previous", "href": format!("{base}?limit=2&fields=id&marker={}&page_reverse=True", ids[0])},
        ])
    );
    let second = get(
        &cloud,
        &token,
        &format!("networks?limit=2&fields=id&marker={}", ids[1]),
    )
    .await;
    assert_eq!(
        second.body["networks"],
        json!([{"id": ids[2]}, {"id": ids[3]}])
    );
    assert_eq!(
        second.body["networks_links"],
        json!([
            {"rel": "next", "href": format!("{base}?limit=2&fields=id&marker={}", ids[3])},
            {"rel": "previous", "href": format!("{base}?limit=2&fields=id&marker={}&page_reverse=True", ids[2])},
        ])
    );
    let bad_filter = get(&cloud, &token, "networks?colour=red").await;
    assert_eq!(bad_filter.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        bad_filter.body,
        neutron_error(
            "HTTPBadRequest",
            "colour is invalid attribute for filtering"
        )
    );
    let sorted = get(
        &cloud,
        &token,
        "networks?sort_key=name&sort_dir=desc&fields=name&shared=false",
    )
    .await;
    assert_eq!(
        sorted.body["networks"],
        json!([{"name": "public"}, {"name": "n2"}, {"name": "n1"}, {"name": "n0"}])
    );
}

#[tokio::test]
async fn visibility_between_projects() {
    let cloud = start().await;
    let (alpha, _, alpha_token) = cloud.tenant("zeta").await;
    let (_, _, beta_token) = cloud.tenant("eta").await;
    let net = post(
        &cloud,
        &alpha_token,
        "networks",
        json!({"network": {"name": "private"}}),
    )
    .await;
    let net_id = id_of(&net, "network");
    let hidden = get(&cloud, &beta_token, &format!("networks/{net_id}")).await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    assert_eq!(
        hidden.body,
        neutron_error(
            "NetworkNotFound",
            &format!("Network {net_id} could not be found.")
        )
    );
    let beta_list = get(&cloud, &beta_token, "networks?fields=name").await;
    assert_eq!(beta_list.body["networks"], json!([{"name": "public"}]));
    let foreign_delete = delete(&cloud, &beta_token, &format!("networks/{net_id}")).await;
    assert_eq!(foreign_delete.status, StatusCode::NOT_FOUND);
    let admin_view = get(&cloud, &cloud.token, &format!("networks/{net_id}")).await;
    assert_eq!(admin_view.status, StatusCode::OK);
    assert_eq!(
        admin_view.body["network"]["provider:network_type"],
        json!("vxlan")
    );
    let for_alpha = post(
        &cloud,
        &cloud.token,
        "networks",
        json!({"network": {"name": "given", "project_id": alpha}}),
    )
    .await;
    assert_eq!(for_alpha.status, StatusCode::CREATED);
    let alpha_names = get(&cloud, &alpha_token, "networks?fields=name&sort_key=name").await;
    assert_eq!(
        alpha_names.body["networks"],
        json!([{"name": "given"}, {"name": "private"}, {"name": "public"}])
    );
    let not_admin = post(
        &cloud,
        &beta_token,
        "networks",
        json!({"network": {"name": "x", "project_id": alpha}}),
    )
    .await;
    assert_eq!(not_admin.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        not_admin.body,
        neutron_error(
            "HTTPBadRequest",
            "Specifying 'project_id' or 'tenant_id' other than the authenticated project in request requires admin privileges"
        )
    );
}
