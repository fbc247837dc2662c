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

/// The image list without HTTP: visibility filters, `first` without the marker, `next` on a
/// full page, and Glance's refusals.
#[test]
fn image_pages_filter_and_link() {
    let mut data = ImageData::default();
    data.seed("p1");
    let caller = crate::sim::core::Caller {
        user_id: "u".into(),
        project_id: Some("p2".into()),
        roles: vec!["member".into()],
    };
    let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let id = data.images[0].id.clone();
    let page = image_page(&data, &caller, &pairs(&[("limit", "1")])).expect("a page");
    assert_eq!(page["images"][0]["id"], json!(id));
    assert_eq!(page["first"], json!("/v2/images?limit=1"));
    assert_eq!(
        page["next"],
        json!(format!("/v2/images?limit=1&marker={id}"))
    );
    let after = image_page(&data, &caller, &pairs(&[("marker", &id)])).expect("a page");
    assert_eq!(after["images"], json!([]));
    assert!(after.get("next").is_none());
    let none = image_page(&data, &caller, &pairs(&[("name", "other")])).expect("a page");
    assert_eq!(none["images"], json!([]));
    let bad = image_page(&data, &caller, &pairs(&[("visibility", "nope")]));
    assert_eq!(
        bad.map_err(|f| f.message).err(),
        Some("Invalid visibility value: nope".into())
    );
    let bad = image_page(&data, &caller, &pairs(&[("marker", "nope")]));
    assert_eq!(
        bad.map_err(|f| f.message).err(),
        Some("Invalid marker. Image nope could not be found.".into())
    );
}
