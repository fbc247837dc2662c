//! Glance v2 of the embedded cloud, driven over raw HTTP.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::sim_common::{send, start};

#[tokio::test]
async fn the_seeded_cirros_image_is_public_and_active() {
    let cloud = start().await;
    let list = cloud.call(Method::GET, "/image/v2/images", None).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body["first"], json!("/v2/images"));
    assert_eq!(list.body["schema"], json!("/v2/schemas/images"));
    let cirros = &list.body["images"][0];
    assert_eq!(cirros["name"], json!("cirros"));
    assert_eq!(cirros["status"], json!("active"));
    assert_eq!(cirros["visibility"], json!("public"));
    assert_eq!(cirros["disk_format"], json!("qcow2"));
    assert_eq!(cirros["owner"], json!(cloud.admin_project_id));
    let id = cirros["id"].as_str().unwrap_or_default();
    assert_eq!(cirros["self"], json!(format!("/v2/images/{id}")));
    assert_eq!(cirros["file"], json!(format!("/v2/images/{id}/file")));

    let versions = send(
        &cloud.http,
        Method::GET,
        &cloud.url("/image/versions"),
        None,
        None,
        &[],
    )
    .await;
    assert_eq!(versions.status, StatusCode::OK);
    assert_eq!(
        versions.body["versions"][0],
        json!({
            "id": "v2.17", "status": "CURRENT",
            "links": [{ "href": format!("{}/image/v2/", cloud.handle.base_url), "rel": "self" }]
        })
    );
    let schema = cloud
        .call(Method::GET, "/image/v2/schemas/image", None)
        .await;
    assert_eq!(schema.status, StatusCode::OK);
    assert_eq!(schema.body["name"], json!("image"));
    cloud.handle.stop().await;
}

#[tokio::test]
async fn create_upload_tag_and_delete_an_image() {
    let cloud = start().await;
    let created = cloud
        .call(
            Method::POST,
            "/image/v2/images",
            Some(json!({ "name": "ubuntu", "disk_format": "raw", "container_format": "bare", "os_distro": "ubuntu" })),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(created.body["status"], json!("queued"));
    assert_eq!(created.body["visibility"], json!("shared"));
    assert_eq!(created.body["size"], Value::Null);
    assert_eq!(created.body["os_distro"], json!("ubuntu"));
    assert_eq!(
        created.header("location"),
        Some(format!("{}/image/v2/images/{id}", cloud.handle.base_url).as_str())
    );

    let upload = cloud
        .http
        .put(cloud.url(&format!("/image/v2/images/{id}/file")))
        .header("X-Auth-Token", &cloud.token)
        .header("Content-Type", "application/octet-stream")
        // Larger than axum's default body limit: uploads are streamed, not buffered.
        .body(vec![7u8; 5 * 1024 * 1024])
        .send()
        .await
        .unwrap_or_else(|err| panic!("upload failed: {err}"));
    assert_eq!(upload.status(), StatusCode::NO_CONTENT);
    let shown = cloud
        .call(Method::GET, &format!("/image/v2/images/{id}"), None)
        .await;
    assert_eq!(shown.body["status"], json!("active"));
    assert_eq!(shown.body["size"], json!(5 * 1024 * 1024));
    assert_eq!(shown.body["os_hash_algo"], json!("sha512"));
    let expected: String = ring::digest::digest(&ring::digest::SHA512, &vec![7u8; 5 * 1024 * 1024])
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(shown.body["os_hash_value"], json!(expected));

    let tag = cloud
        .call(
            Method::PUT,
            &format!("/image/v2/images/{id}/tags/golden"),
            None,
        )
        .await;
    assert_eq!(tag.status, StatusCode::NO_CONTENT);
    let shown = cloud
        .call(Method::GET, &format!("/image/v2/images/{id}"), None)
        .await;
    assert_eq!(shown.body["tags"], json!(["golden"]));
    let untag = cloud
        .call(
            Method::DELETE,
            &format!("/image/v2/images/{id}/tags/golden"),
            None,
        )
        .await;
    assert_eq!(untag.status, StatusCode::NO_CONTENT);

    let read_only = cloud
        .call(
            Method::POST,
            "/image/v2/images",
            Some(json!({ "name": "x", "status": "active" })),
        )
        .await;
    assert_eq!(read_only.status, StatusCode::FORBIDDEN);
    assert_eq!(
        read_only.body["message"],
        json!("Attribute 'status' is read-only.<br /><br />\n\n\n")
    );

    let deleted = cloud
        .call(Method::DELETE, &format!("/image/v2/images/{id}"), None)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let missing = cloud
        .call(Method::GET, &format!("/image/v2/images/{id}"), None)
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(
        missing.body,
        json!({
            "message": format!("No image found with ID {id}<br /><br />\n\n\n"),
            "code": "404 Not Found",
            "title": "Not Found"
        })
    );
    cloud.handle.stop().await;
}

#[tokio::test]
async fn image_lists_filter_and_page() {
    let cloud = start().await;
    for name in ["a", "b", "c"] {
        let created = cloud
            .call(
                Method::POST,
                "/image/v2/images",
                Some(json!({ "name": name, "disk_format": "qcow2", "container_format": "bare" })),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED);
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let queued = cloud
        .call(Method::GET, "/image/v2/images?status=queued&limit=2", None)
        .await;
    let names: Vec<Value> = queued.body["images"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|i| i["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("c"), json!("b")]);
    let next = queued.body["next"].as_str().unwrap_or_default().to_string();
    assert!(
        next.starts_with("/v2/images?status=queued&limit=2&marker="),
        "{next}"
    );
    let rest = cloud
        .call(Method::GET, &format!("/image{next}"), None)
        .await;
    let names: Vec<Value> = rest.body["images"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|i| i["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("a")]);
    assert!(rest.body.get("next").is_none());
    let public = cloud
        .call(Method::GET, "/image/v2/images?visibility=public", None)
        .await;
    assert_eq!(public.body["images"].as_array().map(Vec::len), Some(1));
    cloud.handle.stop().await;
}

fn sha512_hex(data: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA512, data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn md5_hex(data: &[u8]) -> String {
    use md5::Digest;
    md5::Md5::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Creates a queued raw/bare image named `name`; returns its id.
async fn queued_image(cloud: &crate::sim_common::Cloud, name: &str) -> String {
    let created = cloud
        .call(
            Method::POST,
            "/image/v2/images",
            Some(json!({ "name": name, "disk_format": "raw", "container_format": "bare" })),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    created.body["id"].as_str().unwrap_or_default().to_string()
}

async fn upload(cloud: &crate::sim_common::Cloud, id: &str, data: Vec<u8>) -> StatusCode {
    cloud
        .http
        .put(cloud.url(&format!("/image/v2/images/{id}/file")))
        .header("X-Auth-Token", &cloud.token)
        .header("Content-Type", "application/octet-stream")
        .body(data)
        .send()
        .await
        .unwrap_or_else(|err| panic!("upload failed: {err}"))
        .status()
}

#[tokio::test]
async fn an_injected_corruption_flips_one_byte_of_the_next_uploads_only() {
    let cloud = start().await;
    let fault = cloud
        .call(
            Method::POST,
            "/_sim/faults",
            Some(json!({ "corrupt_upload": { "count": 1 } })),
        )
        .await;
    assert_eq!(fault.status, StatusCode::NO_CONTENT, "{}", fault.body);
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let mut flipped = data.clone();
    flipped[0] ^= 0xff;

    let corrupted = queued_image(&cloud, "corrupted").await;
    assert_eq!(
        upload(&cloud, &corrupted, data.clone()).await,
        StatusCode::NO_CONTENT
    );
    let shown = cloud
        .call(Method::GET, &format!("/image/v2/images/{corrupted}"), None)
        .await;
    assert_eq!(shown.body["status"], json!("active"));
    assert_eq!(shown.body["size"], json!(data.len()));
    assert_eq!(shown.body["os_hash_value"], json!(sha512_hex(&flipped)));
    assert_eq!(shown.body["checksum"], json!(md5_hex(&flipped)));
    assert_ne!(shown.body["os_hash_value"], json!(sha512_hex(&data)));

    // The fault was for one upload: the next one arrives intact.
    let intact = queued_image(&cloud, "intact").await;
    assert_eq!(
        upload(&cloud, &intact, data.clone()).await,
        StatusCode::NO_CONTENT
    );
    let shown = cloud
        .call(Method::GET, &format!("/image/v2/images/{intact}"), None)
        .await;
    assert_eq!(shown.body["os_hash_value"], json!(sha512_hex(&data)));
    assert_eq!(shown.body["checksum"], json!(md5_hex(&data)));
    cloud.handle.stop().await;
}
