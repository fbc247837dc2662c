//! Version documents: the entry every service lists for each API version it serves (id,
//! status, a self link) and the Location header Keystone adds to its 300 answer. Each service
//! adds its own fields (Nova's microversion range, Keystone's media types).

use axum::http::HeaderValue;
use axum::response::Response;
use serde_json::{Value, json};

/// `{"id", "status", "links": [{"href", "rel": "self"}]}`.
pub fn entry(id: &str, status: &str, href: &str) -> Value {
    json!({ "id": id, "status": status, "links": [{ "href": href, "rel": "self" }] })
}

/// Sets the Location header (left out when `url` is no valid header value).
pub fn with_location(mut response: Response, url: &str) -> Response {
    if let Ok(location) = HeaderValue::from_str(url) {
        response
            .headers_mut()
            .insert(axum::http::header::LOCATION, location);
    }
    response
}
