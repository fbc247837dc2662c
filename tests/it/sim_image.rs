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
    use sha2::Digest;
    sha2::Sha512::digest(data)
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

/// PUT /v2/images/{id}/file with `data`: the status and the (JSON) error body, if any.
async fn upload(cloud: &crate::sim_common::Cloud, id: &str, data: Vec<u8>) -> (StatusCode, Value) {
    let response = cloud
        .http
        .put(cloud.url(&format!("/image/v2/images/{id}/file")))
        .header("X-Auth-Token", &cloud.token)
        .header("Content-Type", "application/octet-stream")
        .header("Accept", "application/json")
        .body(data)
        .send()
        .await
        .unwrap_or_else(|err| panic!("upload failed: {err}"));
    let status = response.status();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// GET /v2/images/{id}/file: the status, the headers and the bytes.
async fn download(
    cloud: &crate::sim_common::Cloud,
    id: &str,
) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let response = cloud
        .http
        .get(cloud.url(&format!("/image/v2/images/{id}/file")))
        .header("X-Auth-Token", &cloud.token)
        .send()
        .await
        .unwrap_or_else(|err| panic!("download failed: {err}"));
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .bytes()
        .await
        .unwrap_or_else(|err| panic!("download body failed: {err}"));
    (status, headers, bytes.to_vec())
}

fn header<'a>(headers: &'a reqwest::header::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
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
        upload(&cloud, &corrupted, data.clone()).await.0,
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
    // What is stored is what the checksums describe.
    let (status, _, stored) = download(&cloud, &corrupted).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stored, flipped);

    // The fault was for one upload: the next one arrives intact.
    let intact = queued_image(&cloud, "intact").await;
    assert_eq!(
        upload(&cloud, &intact, data.clone()).await.0,
        StatusCode::NO_CONTENT
    );
    let shown = cloud
        .call(Method::GET, &format!("/image/v2/images/{intact}"), None)
        .await;
    assert_eq!(shown.body["os_hash_value"], json!(sha512_hex(&data)));
    assert_eq!(shown.body["checksum"], json!(md5_hex(&data)));
    cloud.handle.stop().await;
}

#[tokio::test]
async fn image_data_is_kept_in_one_file_streamed_back_and_removed_with_its_image() {
    let folder = tempfile::tempdir().unwrap_or_else(|err| panic!("no temp dir: {err}"));
    let cloud = crate::sim_common::start_with(stackform::sim::SimConfig {
        data_dir: Some(folder.path().to_path_buf()),
        ..crate::sim_common::fast_config()
    })
    .await;
    let id = queued_image(&cloud, "kept").await;
    // Real Glance answers a queued image's data with 204 and no body.
    let (status, headers, bytes) = download(&cloud, &id).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(header(&headers, "content-type"), None);
    assert!(bytes.is_empty());

    // Several MiB, in more pieces than one write or read buffer.
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 253) as u8).collect();
    assert_eq!(
        upload(&cloud, &id, data.clone()).await.0,
        StatusCode::NO_CONTENT
    );
    let file = folder.path().join("files").join("images").join(&id);
    assert_eq!(
        std::fs::read(&file).unwrap_or_else(|err| panic!("{}: {err}", file.display())),
        data
    );
    let (status, headers, bytes) = download(&cloud, &id).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        header(&headers, "content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(
        header(&headers, "content-md5"),
        Some(md5_hex(&data).as_str())
    );
    assert_eq!(header(&headers, "content-length"), Some("3000000"));
    assert!(
        bytes == data,
        "the downloaded bytes differ from the uploaded ones"
    );

    let deleted = cloud
        .call(Method::DELETE, &format!("/image/v2/images/{id}"), None)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert!(!file.exists(), "{} outlived its image", file.display());
    let (status, _, _) = download(&cloud, &id).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    cloud.handle.stop().await;
}

#[tokio::test]
async fn an_upload_over_the_size_cap_is_refused_with_413_and_leaves_the_image_queued() {
    let folder = tempfile::tempdir().unwrap_or_else(|err| panic!("no temp dir: {err}"));
    let cloud = crate::sim_common::start_with(stackform::sim::SimConfig {
        data_dir: Some(folder.path().to_path_buf()),
        image_size_cap: 100_000,
        ..crate::sim_common::fast_config()
    })
    .await;
    let id = queued_image(&cloud, "too-big").await;
    let (status, body) = upload(&cloud, &id, vec![1u8; 100_001]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        body,
        json!({
            "message": "The incoming image is too large: The provided image is too large.<br /><br />\n\n\n",
            "code": "413 Request Entity Too Large",
            "title": "Request Entity Too Large"
        })
    );
    let shown = cloud
        .call(Method::GET, &format!("/image/v2/images/{id}"), None)
        .await;
    assert_eq!(shown.body["status"], json!("queued"));
    assert_eq!(shown.body["size"], Value::Null);
    let images = folder.path().join("files").join("images");
    let left: Vec<_> = std::fs::read_dir(&images)
        .unwrap_or_else(|err| panic!("{}: {err}", images.display()))
        .flatten()
        .map(|entry| entry.file_name())
        .collect();
    assert!(left.is_empty(), "partial data left behind: {left:?}");

    // Exactly the cap is allowed, and the queued image takes it.
    assert_eq!(
        upload(&cloud, &id, vec![1u8; 100_000]).await.0,
        StatusCode::NO_CONTENT
    );
    let shown = cloud
        .call(Method::GET, &format!("/image/v2/images/{id}"), None)
        .await;
    assert_eq!(shown.body["status"], json!("active"));
    assert_eq!(shown.body["size"], json!(100_000));
    cloud.handle.stop().await;
}

#[tokio::test]
async fn data_that_is_not_the_declared_disk_format_is_refused_with_415() {
    let cloud = start().await;
    let created = cloud
        .call(
            Method::POST,
            "/image/v2/images",
            Some(json!({ "name": "q", "disk_format": "qcow2", "container_format": "bare" })),
        )
        .await;
    let id = created.body["id"].as_str().unwrap_or_default().to_string();
    let (status, body) = upload(&cloud, &id, vec![0u8; 4096]).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Real Glance's words (glance/location.py, webob's HTTPUnsupportedMediaType).
    assert_eq!(
        body,
        json!({
            "message": "The request media type application/octet-stream is not supported by this server.\n<br /><br />\nImage disk_format qcow2 does not match stream data raw",
            "code": "415 Unsupported Media Type",
            "title": "Unsupported Media Type"
        })
    );
    let shown = cloud
        .call(Method::GET, &format!("/image/v2/images/{id}"), None)
        .await;
    assert_eq!(shown.body["status"], json!("queued"));
    assert_eq!(shown.body["checksum"], Value::Null);

    // A qcow2 header: the image takes it, and its virtual size is the header's.
    let mut qcow2 = vec![0u8; 4096];
    qcow2[..4].copy_from_slice(b"QFI\xfb");
    qcow2[4..8].copy_from_slice(&3u32.to_be_bytes());
    qcow2[24..32].copy_from_slice(&(1u64 << 30).to_be_bytes());
    assert_eq!(upload(&cloud, &id, qcow2).await.0, StatusCode::NO_CONTENT);
    let shown = cloud
        .call(Method::GET, &format!("/image/v2/images/{id}"), None)
        .await;
    assert_eq!(shown.body["status"], json!("active"));
    assert_eq!(shown.body["size"], json!(4096));
    assert_eq!(shown.body["virtual_size"], json!(1u64 << 30));

    // raw takes anything, qcow2 data included.
    let raw = cloud
        .call(
            Method::POST,
            "/image/v2/images",
            Some(json!({ "name": "r", "disk_format": "raw", "container_format": "bare" })),
        )
        .await;
    let raw = raw.body["id"].as_str().unwrap_or_default().to_string();
    let mut data = vec![0u8; 100];
    data[..4].copy_from_slice(b"QFI\xfb");
    assert_eq!(upload(&cloud, &raw, data).await.0, StatusCode::NO_CONTENT);
    cloud.handle.stop().await;
}
