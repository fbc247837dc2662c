//! Resize in the embedded Nova, over raw HTTP: RESIZE → VERIFY_RESIZE on the new flavor →
//! confirmResize (ACTIVE, or SHUTOFF for a stopped server) or revertResize (REVERT_RESIZE,
//! back on the old flavor); Nova's refusals (same flavor 400, not at rest 409, quota 403) and
//! the injected failures (`fail_resize`).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use stackform::sim::SimConfig;

use crate::sim_common::{Cloud, fast_config, start_with};
use crate::sim_compute::wait_for_status;

const MV: (&str, &str) = ("OpenStack-API-Version", "compute 2.79");

async fn boot(cloud: &Cloud, flavor: &str) -> String {
    let image = cloud.cirros_id().await;
    let reply = cloud
        .call_with(
            Method::POST,
            "/compute/v2.1/servers",
            Some(json!({ "server": {
                "name": "vm", "imageRef": image, "flavorRef": flavor, "networks": "none"
            } })),
            &[MV],
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    let id = reply.body["server"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    wait_for_status(cloud, &cloud.token, &id, "ACTIVE").await;
    id
}

async fn action(cloud: &Cloud, id: &str, body: Value) -> (StatusCode, Value) {
    let reply = cloud
        .call_with(
            Method::POST,
            &format!("/compute/v2.1/servers/{id}/action"),
            Some(body),
            &[MV],
        )
        .await;
    (reply.status, reply.body)
}

async fn show(cloud: &Cloud, id: &str) -> Value {
    let reply = cloud
        .call_with(
            Method::GET,
            &format!("/compute/v2.1/servers/{id}"),
            None,
            &[MV],
        )
        .await;
    reply.body["server"].clone()
}

fn state_of(server: &Value) -> (Value, Value, Value, Value) {
    (
        server["status"].clone(),
        server["OS-EXT-STS:vm_state"].clone(),
        server["OS-EXT-STS:task_state"].clone(),
        server["flavor"]["original_name"].clone(),
    )
}

fn slow() -> SimConfig {
    SimConfig {
        action_delay: std::time::Duration::from_millis(400),
        ..fast_config()
    }
}

#[tokio::test]
async fn a_resize_waits_in_verify_resize_until_confirmed_or_reverted() {
    let cloud = start_with(slow()).await;
    let id = boot(&cloud, "1").await;

    let (status, body) = action(&cloud, &id, json!({ "resize": { "flavorRef": "2" } })).await;
    assert_eq!((status, body), (StatusCode::ACCEPTED, Value::Null));
    assert_eq!(
        state_of(&show(&cloud, &id).await),
        (
            json!("RESIZE"),
            json!("active"),
            json!("resize_prep"),
            json!("m1.tiny")
        )
    );
    let (status, body) = action(&cloud, &id, json!({ "resize": { "flavorRef": "3" } })).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(
        body["conflictingRequest"]["message"],
        json!(format!(
            "Cannot 'resize' instance {id} while it is in task_state resize_prep"
        ))
    );
    let verify = wait_for_status(&cloud, &cloud.token, &id, "VERIFY_RESIZE").await;
    assert_eq!(
        state_of(&verify),
        (
            json!("VERIFY_RESIZE"),
            json!("resized"),
            Value::Null,
            json!("m1.small")
        )
    );
    assert_eq!(verify["flavor"]["vcpus"], json!(1));
    assert_eq!(verify["flavor"]["ram"], json!(2048));
    let (status, body) = action(&cloud, &id, json!({ "resize": { "flavorRef": "3" } })).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(
        body["conflictingRequest"]["message"],
        json!(format!(
            "Cannot 'resize' instance {id} while it is in vm_state resized"
        ))
    );

    // Reverted: REVERT_RESIZE, then ACTIVE on the old flavor.
    let (status, _) = action(&cloud, &id, json!({ "revertResize": null })).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(
        state_of(&show(&cloud, &id).await),
        (
            json!("REVERT_RESIZE"),
            json!("resized"),
            json!("resize_reverting"),
            json!("m1.small")
        )
    );
    let back = wait_for_status(&cloud, &cloud.token, &id, "ACTIVE").await;
    assert_eq!(back["flavor"]["original_name"], json!("m1.tiny"));
    let (status, body) = action(&cloud, &id, json!({ "confirmResize": null })).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // Resized again and confirmed: 204, VERIFY_RESIZE until the source is cleaned up.
    let (status, _) = action(&cloud, &id, json!({ "resize": { "flavorRef": "3" } })).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    wait_for_status(&cloud, &cloud.token, &id, "VERIFY_RESIZE").await;
    let (status, body) = action(&cloud, &id, json!({ "confirmResize": null })).await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    let active = wait_for_status(&cloud, &cloud.token, &id, "ACTIVE").await;
    assert_eq!(
        state_of(&active),
        (
            json!("ACTIVE"),
            json!("active"),
            Value::Null,
            json!("m1.medium")
        )
    );

    let (status, body) = action(&cloud, &id, json!({ "resize": { "flavorRef": "3" } })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["badRequest"]["message"],
        json!("When resizing, instances must change flavor!")
    );
    let (status, body) = action(&cloud, &id, json!({ "resize": { "flavorRef": "99" } })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["badRequest"]["message"],
        json!("Flavor 99 could not be found.")
    );
    cloud.handle.stop().await;
}

#[tokio::test]
async fn a_stopped_server_resizes_and_stays_stopped() {
    let cloud = start_with(fast_config()).await;
    let id = boot(&cloud, "1").await;
    let (status, _) = action(&cloud, &id, json!({ "os-stop": null })).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    wait_for_status(&cloud, &cloud.token, &id, "SHUTOFF").await;
    let (status, _) = action(&cloud, &id, json!({ "resize": { "flavorRef": "2" } })).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let verify = wait_for_status(&cloud, &cloud.token, &id, "VERIFY_RESIZE").await;
    assert_eq!(verify["OS-EXT-STS:power_state"], json!(4));
    let (status, _) = action(&cloud, &id, json!({ "confirmResize": null })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let stopped = wait_for_status(&cloud, &cloud.token, &id, "SHUTOFF").await;
    assert_eq!(
        state_of(&stopped),
        (
            json!("SHUTOFF"),
            json!("stopped"),
            Value::Null,
            json!("m1.small")
        )
    );
    cloud.handle.stop().await;
}

#[tokio::test]
async fn a_resize_counts_only_the_added_cores_and_ram_against_the_quota() {
    let cloud = start_with(fast_config()).await;
    let id = boot(&cloud, "2").await;
    let project = show(&cloud, &id).await["tenant_id"].clone();
    let project = project.as_str().unwrap_or_default();
    let quota = cloud
        .call_with(
            Method::PUT,
            &format!("/compute/v2.1/os-quota-sets/{project}"),
            Some(json!({ "quota_set": { "cores": 2 } })),
            &[MV],
        )
        .await;
    assert_eq!(quota.status, StatusCode::OK, "{}", quota.body);
    let (status, body) = action(&cloud, &id, json!({ "resize": { "flavorRef": "4" } })).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(
        body["forbidden"]["message"],
        json!("Quota exceeded for cores: Requested 3, but already used 1 of 2 cores")
    );
    // m1.medium adds one core: within the quota.
    let (status, body) = action(&cloud, &id, json!({ "resize": { "flavorRef": "3" } })).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    cloud.handle.stop().await;
}

#[tokio::test]
async fn injected_resize_failures_leave_the_old_flavor_or_refuse_the_confirm() {
    let cloud = start_with(fast_config()).await;
    let id = boot(&cloud, "1").await;
    let inject = |at: &'static str| {
        let cloud = &cloud;
        async move {
            let reply = cloud
                .call(
                    Method::POST,
                    "/_sim/faults",
                    Some(json!({ "fail_resize": { "count": 1, "at": at } })),
                )
                .await;
            assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
        }
    };

    // No host: back to ACTIVE on the old flavor, no fault on the server, a failed action.
    inject("schedule").await;
    let (status, _) = action(&cloud, &id, json!({ "resize": { "flavorRef": "2" } })).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let back = wait_for_status(&cloud, &cloud.token, &id, "ACTIVE").await;
    assert_eq!(back["flavor"]["original_name"], json!("m1.tiny"));
    assert!(back.get("fault").is_none(), "{back}");
    let actions = cloud
        .call_with(
            Method::GET,
            &format!("/compute/v2.1/servers/{id}/os-instance-actions"),
            None,
            &[MV],
        )
        .await;
    let resize = actions.body["instanceActions"]
        .as_array()
        .and_then(|all| all.iter().find(|a| a["action"] == "resize").cloned())
        .unwrap_or(Value::Null);
    assert_eq!(resize["message"], json!("Error"), "{}", actions.body);

    // The confirm refused: the server stays in VERIFY_RESIZE, and a revert still works.
    inject("confirm").await;
    let (status, _) = action(&cloud, &id, json!({ "resize": { "flavorRef": "2" } })).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    wait_for_status(&cloud, &cloud.token, &id, "VERIFY_RESIZE").await;
    let (status, body) = action(&cloud, &id, json!({ "confirmResize": null })).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert_eq!(show(&cloud, &id).await["status"], json!("VERIFY_RESIZE"));
    let (status, _) = action(&cloud, &id, json!({ "revertResize": null })).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let back = wait_for_status(&cloud, &cloud.token, &id, "ACTIVE").await;
    assert_eq!(back["flavor"]["original_name"], json!("m1.tiny"));
    cloud.handle.stop().await;
}
