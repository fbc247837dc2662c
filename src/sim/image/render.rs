//! Glance's wire format: the image view, timestamps and the version documents.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::sim::wire::versions;

use super::*;

pub(super) fn glance_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub(super) fn image_body(image: &Image) -> Value {
    let mut body = Map::new();
    for (key, value) in &image.properties {
        body.insert(key.clone(), json!(value));
    }
    let fixed = json!({
        "id": image.id,
        "name": image.name,
        "status": image.status,
        "visibility": image.visibility,
        "owner": image.owner,
        "disk_format": image.disk_format,
        "container_format": image.container_format,
        "size": image.size,
        // Glance's format inspector reads a raw image's virtual size as its size.
        "virtual_size": image.virtual_size.or(image.checksum.as_ref().and(image.size)),
        "checksum": image.checksum,
        "os_hash_algo": image.os_hash_value.as_ref().map(|_| "sha512"),
        "os_hash_value": image.os_hash_value,
        "min_disk": image.min_disk,
        "min_ram": image.min_ram,
        "protected": image.protected,
        "os_hidden": image.os_hidden,
        "tags": image.tags,
        "created_at": glance_time(image.created_at),
        "updated_at": glance_time(image.updated_at),
        "self": format!("/v2/images/{}", image.id),
        "file": format!("/v2/images/{}/file", image.id),
        "schema": "/v2/schemas/image",
    });
    if let Value::Object(fixed) = fixed {
        body.extend(fixed);
    }
    // Images with data name the store that holds it.
    if image.checksum.is_some() {
        body.insert("stores".into(), json!("file"));
    }
    Value::Object(body)
}

pub(super) fn versions_body(base: &str) -> Value {
    // Glance 33 with one file store and no image cache: 2.14 and 2.16 (cache API) are not
    // offered, 2.17 is current.
    let versions: Vec<Value> = (0..=17)
        .rev()
        .filter(|minor| !matches!(minor, 14 | 16))
        .map(|minor| {
            versions::entry(
                &format!("v2.{minor}"),
                if minor == 17 { "CURRENT" } else { "SUPPORTED" },
                &format!("{base}/image/v2/"),
            )
        })
        .collect();
    json!({ "versions": versions })
}
