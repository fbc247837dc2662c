//! Wire helpers every service of the embedded cloud shares: JSON replies, tag lists and tag
//! filters, paging links and version documents. What differs between services (error shapes,
//! limits, messages) stays with the service; what is the same OpenStack convention lives here
//! once, so a new service (Cinder's `block_storage`) takes it instead of copying it.
//!
//! It knows nothing of any service's records or of the World.

pub mod paging;
pub mod tags;
pub mod versions;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// A JSON body with its status, as every service answers success.
pub fn json_reply(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}
