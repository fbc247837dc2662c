//! The embedded cloud's core: persistence across reopen, the data-folder lock, server status
//! computed from timestamps across a restart, and injected faults.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;
use stackform::sim::{Sim, SimConfig};

use crate::sim_common::{fast_config, start, start_with};

fn config_in(dir: &std::path::Path, build_delay: Duration) -> SimConfig {
    SimConfig {
        data_dir: Some(dir.to_path_buf()),
        build_delay,
        ..fast_config()
    }
}

#[tokio::test]
async fn the_cloud_survives_a_restart_mid_build() {
    let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("no temp dir: {err}"));
    let cloud = start_with(config_in(dir.path(), Duration::from_millis(800))).await;
    let project = cloud
        .call(
            Method::POST,
            "/identity/v3/projects",
            Some(json!({ "project": { "name": "kept", "tags": ["t1"] } })),
        )
        .await;
    assert_eq!(project.status, StatusCode::CREATED);
    let image = cloud.cirros_id().await;
    let server = cloud
        .call_with(
            Method::POST,
            "/compute/v2.1/servers",
            Some(json!({ "server": { "name": "slow", "imageRef": image, "flavorRef": "1", "networks": "none" } })),
            &[("OpenStack-API-Version", "compute 2.37")],
        )
        .await;
    assert_eq!(server.status, StatusCode::ACCEPTED);
    let server_id = server.body["server"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let token = cloud.token.clone();
    let http = cloud.http.clone();
    cloud.handle.stop().await;
    let saved = std::fs::read(dir.path().join("cloud.json")).unwrap_or_default();
    assert!(!saved.is_empty());
    assert!(!dir.path().join("cloud.json.tmp").exists());

    let handle = Sim::start_on_loopback(config_in(dir.path(), Duration::from_millis(800)))
        .await
        .unwrap_or_else(|err| panic!("reopen failed: {err}"));
    let url = |path: &str| format!("{}{path}", handle.base_url);
    // Tokens persist too, so the old token still works on the new port.
    let projects = http
        .get(url("/identity/v3/projects?name=kept"))
        .header("X-Auth-Token", &token)
        .send()
        .await
        .unwrap_or_else(|err| panic!("list failed: {err}"));
    assert_eq!(projects.status(), StatusCode::OK);
    let body: serde_json::Value = projects.json().await.unwrap_or_default();
    assert_eq!(body["projects"][0]["tags"], json!(["t1"]));

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let shown = http
            .get(url(&format!("/compute/v2.1/servers/{server_id}")))
            .header("X-Auth-Token", &token)
            .send()
            .await
            .unwrap_or_else(|err| panic!("show failed: {err}"));
        let body: serde_json::Value = shown.json().await.unwrap_or_default();
        if body["server"]["status"] == json!("ACTIVE") {
            assert_eq!(body["server"]["name"], json!("slow"));
            break;
        }
        assert_eq!(body["server"]["status"], json!("BUILD"));
        assert!(
            Instant::now() < deadline,
            "never became ACTIVE after the restart"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    handle.stop().await;
}

#[tokio::test]
async fn a_second_process_cannot_serve_the_same_data() {
    let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("no temp dir: {err}"));
    let first = Sim::open(config_in(dir.path(), Duration::from_millis(10)))
        .unwrap_or_else(|err| panic!("first open failed: {err}"));
    let second = Sim::open(config_in(dir.path(), Duration::from_millis(10)));
    let message = second.err().map(|err| err.to_string());
    assert_eq!(
        message,
        Some(format!(
            "the embedded cloud data in {} is in use by another process",
            dir.path().display()
        ))
    );
    drop(first);
    assert!(Sim::open(config_in(dir.path(), Duration::from_millis(10))).is_ok());
}

#[tokio::test]
async fn a_lost_reply_still_changes_the_cloud() {
    let cloud = start().await;
    let inject = cloud
        .call(
            Method::POST,
            "/_sim/faults",
            Some(json!({ "lose_reply": { "method": "POST", "path_suffix": "/v3/projects", "count": 1 } })),
        )
        .await;
    assert_eq!(inject.status, StatusCode::NO_CONTENT);
    let lost = cloud
        .call(
            Method::POST,
            "/identity/v3/projects",
            Some(json!({ "project": { "name": "ghost" } })),
        )
        .await;
    assert_eq!(lost.status, StatusCode::BAD_GATEWAY);
    assert_eq!(lost.body, serde_json::Value::Null);
    let found = cloud
        .call(Method::GET, "/identity/v3/projects?name=ghost", None)
        .await;
    assert_eq!(found.body["projects"].as_array().map(Vec::len), Some(1));
    // The fault was used up: the next call is answered normally.
    let next = cloud
        .call(
            Method::POST,
            "/identity/v3/projects",
            Some(json!({ "project": { "name": "real" } })),
        )
        .await;
    assert_eq!(next.status, StatusCode::CREATED);
    cloud.handle.stop().await;
}

#[tokio::test]
async fn a_failing_proxy_rejects_without_processing() {
    let cloud = start().await;
    let inject = cloud
        .call(
            Method::POST,
            "/_sim/faults",
            Some(json!({ "fail": { "method": "POST", "path_suffix": "/v3/projects", "count": 2, "status": 503 } })),
        )
        .await;
    assert_eq!(inject.status, StatusCode::NO_CONTENT);
    let refused = cloud
        .call(
            Method::POST,
            "/identity/v3/projects",
            Some(json!({ "project": { "name": "never" } })),
        )
        .await;
    assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
    let found = cloud
        .call(Method::GET, "/identity/v3/projects?name=never", None)
        .await;
    assert_eq!(found.body["projects"], json!([]));
    let cleared = cloud.call(Method::DELETE, "/_sim/faults", None).await;
    assert_eq!(cleared.status, StatusCode::NO_CONTENT);
    let accepted = cloud
        .call(
            Method::POST,
            "/identity/v3/projects",
            Some(json!({ "project": { "name": "never" } })),
        )
        .await;
    assert_eq!(accepted.status, StatusCode::CREATED);
    cloud.handle.stop().await;
}

#[tokio::test]
async fn every_answer_carries_a_request_id() {
    let cloud = start().await;
    let unknown = cloud.call(Method::GET, "/nowhere", None).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let id = unknown.header("x-openstack-request-id").unwrap_or_default();
    assert_eq!(id.len(), 40);
    assert!(id.starts_with("req-"));
    let slash = cloud.call(Method::GET, "/compute/", None).await;
    assert_eq!(slash.status, StatusCode::OK);

    // Unknown paths and methods answer as each service's framework does (checked against
    // the real services by the differential test): Nova's routes mapper gives webob's 404 for
    // both, ahead of microversion handling; Keystone's Flask an HTML page; Neutron a
    // NeutronError.
    let nova = cloud
        .call(Method::GET, "/compute/v2.1/os-nothing", None)
        .await;
    assert_eq!(nova.status, StatusCode::NOT_FOUND);
    assert_eq!(
        nova.body,
        json!({ "message": "The resource could not be found.<br /><br />\n\n\n",
                "code": "404 Not Found", "title": "Not Found" })
    );
    assert_eq!(nova.header("openstack-api-version"), None);
    assert!(nova.header("x-compute-request-id").is_some());
    let nova_method = cloud
        .call(Method::PATCH, "/compute/v2.1/servers", None)
        .await;
    assert_eq!(nova_method.status, StatusCode::NOT_FOUND);
    assert_eq!(nova_method.body["code"], json!("404 Not Found"));
    let keystone = cloud.call(Method::GET, "/identity/v3/nothing", None).await;
    assert_eq!(keystone.status, StatusCode::NOT_FOUND);
    assert_eq!(
        keystone.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let neutron = cloud
        .call(Method::PATCH, "/networking/v2.0/networks", None)
        .await;
    assert_eq!(neutron.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        neutron.body["NeutronError"]["type"],
        json!("HTTPMethodNotAllowed")
    );
    let glance = cloud.call(Method::POST, "/image/v2/images/x", None).await;
    assert_eq!(glance.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(glance.body["code"], json!("405 Method Not Allowed"));
    cloud.handle.stop().await;
}

#[tokio::test]
async fn a_damaged_state_file_is_reported_not_overwritten() {
    let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("no temp dir: {err}"));
    let path = dir.path().join("cloud.json");
    std::fs::write(&path, b"{ not json").unwrap_or_else(|err| panic!("cannot write: {err}"));
    let opened = Sim::open(config_in(dir.path(), Duration::from_millis(10)));
    let message = opened.err().map(|err| err.to_string()).unwrap_or_default();
    assert!(
        message.starts_with(&format!(
            "the embedded cloud data in {} is not readable JSON: ",
            path.display()
        )),
        "{message}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap_or_default(),
        b"{ not json".to_vec()
    );
}
