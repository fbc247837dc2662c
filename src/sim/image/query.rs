//! Glance's image list: filters (visibility, name, status, owner, tag, formats, os_hidden),
//! newest-first order, `limit`/`marker` paging and the `first` and `next` links.

use serde_json::{Value, json};

use crate::sim::core::{Caller, Fault};
use crate::sim::wire::paging::{encode_query_value, next_page_query, query_value};

use super::*;

/// The body of GET /v2/images for this caller and query.
pub(super) fn image_page(
    data: &ImageData,
    caller: &Caller,
    query: &[(String, String)],
) -> Result<Value, Fault> {
    let get = |key: &str| query_value(query, key);
    let limit = match get("limit") {
        None => DEFAULT_PAGE,
        Some(text) => text
            .parse::<usize>()
            .map_err(|_| bad_request("limit param must be an integer"))?
            .min(MAX_PAGE),
    };
    let visibility = get("visibility");
    if let Some(v) = visibility
        && v != "all"
        && !VISIBILITIES.contains(&v)
    {
        return Err(bad_request(format!("Invalid visibility value: {v}")));
    }
    let mut images: Vec<&Image> = data
        .images
        .iter()
        .filter(|i| visible(i, caller))
        .filter(|i| match visibility {
            // Community images are listed only when asked for, as in Glance.
            None => i.visibility != "community",
            Some("all") => true,
            Some(v) => i.visibility == v,
        })
        .filter(|i| {
            query.iter().all(|(key, value)| match key.as_str() {
                "name" => i.name.as_deref() == Some(value.as_str()),
                "status" => i.status == *value,
                "owner" => i.owner == *value,
                "tag" => i.tags.contains(value),
                "disk_format" => i.disk_format.as_deref() == Some(value.as_str()),
                "container_format" => i.container_format.as_deref() == Some(value.as_str()),
                "os_hidden" => i.os_hidden == (value == "true"),
                _ => true,
            })
        })
        .filter(|i| get("os_hidden").is_some() || !i.os_hidden)
        .collect();
    images.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    if let Some(marker) = get("marker") {
        let position = images.iter().position(|i| i.id == marker).ok_or_else(|| {
            bad_request(format!(
                "Invalid marker. Image {marker} could not be found."
            ))
        })?;
        images.drain(..=position);
    }
    images.truncate(limit);
    // Glance, like Nova, offers a next page whenever this one is full.
    let full = !images.is_empty() && images.len() == limit;
    // `first` is the request's own query without its marker.
    let first_query: Vec<String> = query
        .iter()
        .filter(|(key, _)| key != "marker")
        .map(|(key, value)| format!("{}={}", encode_query_value(key), encode_query_value(value)))
        .collect();
    let first = if first_query.is_empty() {
        "/v2/images".to_string()
    } else {
        format!("/v2/images?{}", first_query.join("&"))
    };
    let mut body = json!({
        "images": images.iter().map(|i| image_body(i)).collect::<Vec<_>>(),
        "first": first,
        "schema": "/v2/schemas/images",
    });
    if full && let Some(last) = images.last() {
        let query = next_page_query(query, &last.id);
        body["next"] = json!(format!("/v2/images?{query}"));
    }
    Ok(body)
}
