//! Unit tests of Glance's data layer, driven without HTTP.

use serde_json::{Value, json};

use super::*;

#[test]
fn the_embedded_schema_is_glances_image_schema() {
    let schema: Value = serde_json::from_str(IMAGE_SCHEMA).unwrap_or_default();
    assert_eq!(schema["name"], json!("image"));
    assert_eq!(schema["properties"]["visibility"]["type"], json!("string"));
}

#[test]
fn free_properties_are_shown_at_the_top_level() {
    let mut data = ImageData::default();
    data.seed("p1");
    let body = image_body(&data.images[0]);
    assert_eq!(body["os_distro"], json!("cirros"));
    assert_eq!(body["status"], json!("active"));
    assert_eq!(
        data.visible_status(&data.images[0].id, "other", false),
        Some("active")
    );
}
