//! Neutron's API errors: the exception class name, the HTTP status and the message, rendered
//! as `{"NeutronError": {...}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// A Neutron API error: the exception class name, its HTTP status and its message.
///
/// Handlers return this rather than `core::Fault` so that they render the exact
/// `{"NeutronError": {...}}` body themselves; a `Fault` from authentication converts into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeutronError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub message: String,
}

impl NeutronError {
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        NeutronError {
            status,
            kind,
            message: message.into(),
        }
    }
    /// webob's HTTPBadRequest, raised by Neutron's attribute layer.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "HTTPBadRequest", message)
    }
    /// `Invalid input for operation: <msg>.` (neutron_lib InvalidInput).
    pub fn invalid_input(message: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            format!("Invalid input for operation: {message}."),
        )
    }
    /// `Bad router request: <msg>.` (neutron_lib BadRequest with resource='router').
    pub fn bad_router(message: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            format!("Bad router request: {message}."),
        )
    }
    pub fn conflict(kind: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, kind, message)
    }
    pub fn not_found(kind: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, kind, message)
    }
    /// oslo.policy refusal, as Neutron renders it.
    pub fn policy(rule: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "PolicyNotAuthorized",
            format!("rule:{rule} is disallowed by policy"),
        )
    }
    /// `Invalid input for <attr>. Reason: <reason>.` (attribute validators).
    pub fn invalid_attr(attr: &str, reason: impl std::fmt::Display) -> Self {
        Self::bad_request(format!("Invalid input for {attr}. Reason: {reason}."))
    }
    pub fn body(&self) -> Value {
        json!({"NeutronError": {"type": self.kind, "message": self.message, "detail": ""}})
    }
}

impl IntoResponse for NeutronError {
    fn into_response(self) -> Response {
        // A missing or bad token is refused by keystonemiddleware before Neutron runs, so a
        // 401 comes in Keystone's error shape (as core renders it for every service).
        if self.status == StatusCode::UNAUTHORIZED {
            let body =
                json!({"error": {"code": 401, "title": "Unauthorized", "message": self.message}});
            return (self.status, axum::Json(body)).into_response();
        }
        (self.status, axum::Json(self.body())).into_response()
    }
}

impl From<crate::sim::core::Fault> for NeutronError {
    fn from(fault: crate::sim::core::Fault) -> Self {
        NeutronError {
            status: fault.status,
            kind: fault.neutron_type,
            message: fault.message,
        }
    }
}

impl From<NeutronError> for crate::sim::core::Fault {
    fn from(error: NeutronError) -> Self {
        crate::sim::core::Fault {
            service: crate::sim::core::Service::Network,
            status: error.status,
            message: error.message,
            neutron_type: error.kind,
        }
    }
}

pub type NResult<T> = Result<T, NeutronError>;
