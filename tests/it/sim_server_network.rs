//! Nova and Neutron together in the embedded cloud, over raw HTTP: booting on networks of
//! other projects, and the views Nova serves of a server's ports (os-security-groups,
//! os-interface).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::sim_common::{Cloud, Reply, start};
use crate::sim_compute::wait_for_status;

const MV: (&str, &str) = ("OpenStack-API-Version", "compute 2.52");

/// A network with a 10.8.0.0/24 subnet, made by `token` (for `project_id` when given).
async fn network(cloud: &Cloud, token: &str, name: &str, project_id: Option<&str>) -> String {
    let mut body = json!({ "network": { "name": name } });
    if let Some(project_id) = project_id {
        body["network"]["project_id"] = json!(project_id);
    }
    let net = cloud
        .call_as(
            token,
            Method::POST,
            "/networking/v2.0/networks",
            Some(body),
            &[],
        )
        .await;
    assert_eq!(net.status, StatusCode::CREATED, "{}", net.body);
    let id = net.body["network"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut subnet = json!({ "subnet": {
        "network_id": id, "cidr": "10.8.0.0/24", "ip_version": 4
    } });
    if let Some(project_id) = project_id {
        subnet["subnet"]["project_id"] = json!(project_id);
    }
    let subnet = cloud
        .call_as(
            token,
            Method::POST,
            "/networking/v2.0/subnets",
            Some(subnet),
            &[],
        )
        .await;
    assert_eq!(subnet.status, StatusCode::CREATED, "{}", subnet.body);
    id
}

async fn boot_on(cloud: &Cloud, token: &str, name: &str, network_id: &str) -> (StatusCode, Value) {
    let image = cloud.cirros_id().await;
    let reply = cloud
        .call_as(
            token,
            Method::POST,
            "/compute/v2.1/servers",
            Some(json!({ "server": {
                "name": name, "imageRef": image, "flavorRef": "1",
                "networks": [{ "uuid": network_id }]
            } })),
            &[MV],
        )
        .await;
    (reply.status, reply.body)
}

async fn wait_active(cloud: &Cloud, token: &str, id: &str) {
    wait_for_status(cloud, token, id, "ACTIVE").await;
}

/// GET `path` with `token` at microversion `mv`.
async fn read(cloud: &Cloud, token: &str, path: &str, mv: &str) -> Reply {
    cloud
        .call_as(
            token,
            Method::GET,
            path,
            None,
            &[("OpenStack-API-Version", mv)],
        )
        .await
}

/// Regression: real Nova lets an admin boot on another project's unshared network (the
/// port belongs to the admin's project); the embedded cloud answered 400 "Network ... could
/// not be found". A member of a third project still cannot.
#[tokio::test]
async fn an_admin_boots_on_another_projects_network() {
    let cloud = start().await;
    let (alpha, _user, alpha_token) = cloud.tenant("alpha").await;
    let (_beta, _user, beta_token) = cloud.tenant("beta").await;
    let net = network(&cloud, &alpha_token, "alpha-net", None).await;

    let (status, body) = boot_on(&cloud, &beta_token, "beta-vm", &net).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["badRequest"]["message"],
        json!(format!("Network {net} could not be found."))
    );

    let admin = cloud.token.clone();
    let (status, body) = boot_on(&cloud, &admin, "admin-vm", &net).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["server"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    wait_active(&cloud, &admin, &id).await;
    let ports = cloud
        .call_as(
            &admin,
            Method::GET,
            &format!("/networking/v2.0/ports?device_id={id}"),
            None,
            &[],
        )
        .await;
    let port = &ports.body["ports"][0];
    assert_eq!(port["network_id"], json!(net), "{}", ports.body);
    assert_ne!(
        port["project_id"],
        json!(alpha),
        "the server's project owns the port"
    );
    cloud.handle.stop().await;
}

/// GET /servers/{id}/os-security-groups (Ansible's openstack.cloud.server reads it on every
/// run) and GET /servers/{id}/os-interface[/{port}] (openstacksdk's `server_interfaces`).
#[tokio::test]
async fn a_servers_groups_and_interfaces_are_served() {
    let cloud = start().await;
    let (_p, _u, token) = cloud.tenant("gamma").await;
    let net = network(&cloud, &token, "gamma-net", None).await;
    let (status, body) = boot_on(&cloud, &token, "gamma-vm", &net).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["server"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    wait_active(&cloud, &token, &id).await;

    let groups = read(
        &cloud,
        &token,
        &format!("/compute/v2.1/servers/{id}/os-security-groups"),
        MV.1,
    )
    .await;
    assert_eq!(groups.status, StatusCode::OK, "{}", groups.body);
    let list = groups.body["security_groups"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(list.len(), 1, "{}", groups.body);
    assert_eq!(list[0]["name"], json!("default"));
    assert_eq!(list[0]["rules"].as_array().map(Vec::len), Some(2));

    let interfaces = read(
        &cloud,
        &token,
        &format!("/compute/v2.1/servers/{id}/os-interface"),
        MV.1,
    )
    .await;
    assert_eq!(interfaces.status, StatusCode::OK, "{}", interfaces.body);
    let attachment = interfaces.body["interfaceAttachments"][0].clone();
    assert_eq!(attachment["net_id"], json!(net));
    assert_eq!(attachment["port_state"], json!("ACTIVE"));
    assert_eq!(attachment["fixed_ips"][0]["ip_address"], json!("10.8.0.2"));
    assert!(attachment.get("tag").is_none(), "tag only from 2.70");
    let port = attachment["port_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let shown = read(
        &cloud,
        &token,
        &format!("/compute/v2.1/servers/{id}/os-interface/{port}"),
        "compute 2.70",
    )
    .await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
    assert_eq!(shown.body["interfaceAttachment"]["tag"], Value::Null);
    assert_eq!(shown.body["interfaceAttachment"]["port_id"], json!(port));
    let missing = read(
        &cloud,
        &token,
        &format!("/compute/v2.1/servers/{id}/os-interface/nope"),
        MV.1,
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(
        missing.body["itemNotFound"]["message"],
        json!("Port id nope could not be found.")
    );

    // Another project sees neither the server nor its parts.
    let (_p, _u, other) = cloud.tenant("delta").await;
    for path in ["os-security-groups", "os-interface"] {
        let peek = read(
            &cloud,
            &other,
            &format!("/compute/v2.1/servers/{id}/{path}"),
            MV.1,
        )
        .await;
        assert_eq!(peek.status, StatusCode::NOT_FOUND, "{path}: {}", peek.body);
    }
    cloud.handle.stop().await;
}

/// GET /servers/{id}/os-instance-actions[/{request_id}] (`openstack server event list/show`):
/// every accepted action is recorded with the request id that asked for it, newest first;
/// refused ones are not. Volume attachments and server groups are listed empty.
#[tokio::test]
async fn server_events_are_recorded_per_request() {
    let cloud = start().await;
    let (_p, _u, token) = cloud.tenant("epsilon").await;
    let net = network(&cloud, &token, "epsilon-net", None).await;
    let (status, body) = boot_on(&cloud, &token, "epsilon-vm", &net).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["server"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    wait_active(&cloud, &token, &id).await;
    let action = format!("/compute/v2.1/servers/{id}/action");
    let refused = cloud
        .call_as(
            &token,
            Method::POST,
            &action,
            Some(json!({"os-start": null})),
            &[MV],
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    let stop = cloud
        .call_as(
            &token,
            Method::POST,
            &action,
            Some(json!({"os-stop": null})),
            &[MV],
        )
        .await;
    assert_eq!(stop.status, StatusCode::ACCEPTED);
    let stop_request = stop
        .header("x-compute-request-id")
        .unwrap_or_default()
        .to_string();

    let list = read(
        &cloud,
        &token,
        &format!("/compute/v2.1/servers/{id}/os-instance-actions"),
        MV.1,
    )
    .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let actions: Vec<&str> = list.body["instanceActions"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x["action"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(actions, ["stop", "create"]);
    assert_eq!(
        list.body["instanceActions"][0]["request_id"],
        json!(stop_request)
    );
    let shown = read(
        &cloud,
        &token,
        &format!("/compute/v2.1/servers/{id}/os-instance-actions/{stop_request}"),
        MV.1,
    )
    .await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
    let event = &shown.body["instanceAction"]["events"][0];
    assert_eq!(event["event"], json!("compute_stop_instance"));
    assert!(event.get("traceback").is_none(), "owners see no traceback");

    let paged = read(
        &cloud,
        &token,
        &format!("/compute/v2.1/servers/{id}/os-instance-actions?limit=1"),
        "compute 2.58",
    )
    .await;
    let next = paged.body["links"][0]["href"].as_str().unwrap_or_default();
    assert!(
        next.ends_with(&format!(
            "os-instance-actions?limit=1&marker={stop_request}"
        )),
        "{}",
        paged.body
    );

    let volumes = read(
        &cloud,
        &token,
        &format!("/compute/v2.1/servers/{id}/os-volume_attachments"),
        MV.1,
    )
    .await;
    assert_eq!(volumes.body, json!({ "volumeAttachments": [] }));
    let groups = read(&cloud, &token, "/compute/v2.1/os-server-groups", MV.1).await;
    assert_eq!(groups.body, json!({ "server_groups": [] }));
    cloud.handle.stop().await;
}
