//! Request bodies the embedded cloud refuses before reading them, as the real services do
//! (src/sim/core/media.rs says which service does what, and where that comes from): a JSON
//! body in another media type, and a NUL in a server name.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::sim_common::start;

const TEXT: [(&str, &str); 1] = [("Content-Type", "text/plain")];
const XML: [(&str, &str); 1] = [("Content-Type", "application/xml")];

#[tokio::test]
async fn keystone_refuses_a_body_that_is_not_json() {
    let cloud = start().await;
    let body = Some(json!({"project": {"name": "plain"}}));
    let reply = cloud
        .call_with(Method::POST, "/identity/v3/projects", body.clone(), &TEXT)
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    let message = reply.body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("Expecting to find application/json in Content-Type header."),
        "{message}"
    );
    // Nothing was made.
    let listed = cloud
        .call(Method::GET, "/identity/v3/projects?name=plain", None)
        .await;
    assert_eq!(listed.body["projects"], json!([]));
    let reply = cloud
        .call(Method::POST, "/identity/v3/projects", body)
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
}

#[tokio::test]
async fn nova_refuses_other_media_types_with_its_version_headers() {
    let cloud = start().await;
    let image = cloud.cirros_id().await;
    let server = cloud
        .call_with(
            Method::POST,
            "/compute/v2.1/servers",
            Some(json!({"server": {"name": "vm", "imageRef": image, "flavorRef": "1", "networks": "none"}})),
            &[("OpenStack-API-Version", "compute 2.37")],
        )
        .await;
    assert_eq!(server.status, StatusCode::ACCEPTED, "{}", server.body);
    let path = format!(
        "/compute/v2.1/servers/{}",
        server.body["server"]["id"].as_str().unwrap_or_default()
    );
    let rename = |name: &str| Some(json!({"server": {"name": name}}));

    let reply = cloud.call_with(Method::PUT, &path, rename("x"), &XML).await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        reply.body,
        json!({"badMediaType": {"code": 415, "message": "Unsupported Content-Type"}})
    );
    assert!(reply.header("x-openstack-nova-api-version").is_some());

    // eventlet's default type: Nova reads it as JSON.
    let reply = cloud
        .call_with(Method::PUT, &path, rename("plain"), &TEXT)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["server"]["name"], "plain");

    let reply = cloud.call(Method::PUT, &path, rename("nul\u{0}name")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    let reply = cloud.call(Method::GET, &path, None).await;
    assert_eq!(reply.body["server"]["name"], "plain");
}

#[tokio::test]
async fn neutron_reads_a_text_plain_body_as_json() {
    let cloud = start().await;
    let reply = cloud
        .call_with(
            Method::POST,
            "/networking/v2.0/networks",
            Some(json!({"network": {"name": "plain"}})),
            &TEXT,
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
}
