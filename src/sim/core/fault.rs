//! Who calls (a validated token's caller) and how each service words its errors: Nova's,
//! Neutron's, Keystone's and Glance's bodies, webob's pages, unrouted paths, malformed JSON.

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Which service is answering: decides the shape of error bodies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    Identity,
    Compute,
    Network,
    Image,
    /// Cinder: Nova's fault shapes (the same wsgi code), with `retryAfter` on 413.
    BlockStorage,
}

/// Who is calling, from a validated token.
#[derive(Clone, Debug)]
pub struct Caller {
    pub user_id: String,
    /// None for an unscoped token.
    pub project_id: Option<String>,
    pub roles: Vec<String>,
}

impl Caller {
    /// Holds the `admin` role: sees and acts on every project's resources.
    pub fn is_admin(&self) -> bool {
        self.roles.iter().any(|r| r == "admin")
    }
}

/// An API error, rendered in the answering service's exact error shape.
#[derive(Debug)]
pub struct Fault {
    pub service: Service,
    pub status: StatusCode,
    pub message: String,
    /// Neutron's exception class name (`NetworkNotFound`, `SubnetInUse`, `OverQuota`...);
    /// used only for Service::Network.
    pub neutron_type: &'static str,
}

impl Fault {
    pub fn new(service: Service, status: StatusCode, message: impl Into<String>) -> Fault {
        let neutron_type = match status {
            StatusCode::NOT_FOUND => "NotFound",
            StatusCode::CONFLICT => "Conflict",
            StatusCode::FORBIDDEN => "NotAuthorized",
            StatusCode::BAD_REQUEST => "BadRequest",
            _ => "NeutronException",
        };
        Fault {
            service,
            status,
            message: message.into(),
            neutron_type,
        }
    }
    pub fn bad_request(service: Service, message: impl Into<String>) -> Fault {
        Fault::new(service, StatusCode::BAD_REQUEST, message)
    }
    pub fn forbidden(service: Service, message: impl Into<String>) -> Fault {
        Fault::new(service, StatusCode::FORBIDDEN, message)
    }
    pub fn not_found(service: Service, message: impl Into<String>) -> Fault {
        Fault::new(service, StatusCode::NOT_FOUND, message)
    }
    pub fn conflict(service: Service, message: impl Into<String>) -> Fault {
        Fault::new(service, StatusCode::CONFLICT, message)
    }
    /// A path the service does not serve.
    pub fn unknown_path(service: Service) -> Fault {
        Fault::not_found(service, "The resource could not be found.")
    }
    /// A path the service serves, with another method.
    pub fn wrong_method(service: Service) -> Fault {
        Fault::new(
            service,
            StatusCode::METHOD_NOT_ALLOWED,
            "The method specified is not allowed for this resource.",
        )
    }
    /// 401 as keystonemiddleware (in front of every service) and Keystone itself answer it.
    pub fn unauthorized(service: Service) -> Fault {
        Fault::new(
            service,
            StatusCode::UNAUTHORIZED,
            "The request you have made requires authentication.",
        )
    }
    /// A Neutron error with its exception class name.
    pub fn neutron(
        status: StatusCode,
        neutron_type: &'static str,
        message: impl Into<String>,
    ) -> Fault {
        Fault {
            service: Service::Network,
            status,
            message: message.into(),
            neutron_type,
        }
    }
}

impl Fault {
    /// The error body exactly as the answering service writes it.
    pub fn body(&self) -> Value {
        let code = self.status.as_u16();
        // A missing or bad token is rejected by keystonemiddleware before any service code
        // runs, so every service answers it in Keystone's shape (WWW-Authenticate is added by
        // the core middleware, which knows the base URL).
        let service = if self.status == StatusCode::UNAUTHORIZED && self.service != Service::Image {
            Service::Identity
        } else {
            self.service
        };
        match service {
            Service::Compute | Service::BlockStorage => {
                let name = match code {
                    400 => "badRequest",
                    401 => "unauthorized",
                    403 => "forbidden",
                    404 => "itemNotFound",
                    405 => "badMethod",
                    409 => "conflictingRequest",
                    413 | 429 => "overLimit",
                    415 => "badMediaType",
                    501 => "notImplemented",
                    503 => "serviceUnavailable",
                    _ => "computeFault",
                };
                if service == Service::BlockStorage && code == 413 {
                    return json!({ name: { "code": code, "message": self.message, "retryAfter": "0" } });
                }
                json!({ name: { "code": code, "message": self.message } })
            }
            Service::Network => json!({
                "NeutronError": { "type": self.neutron_type, "message": self.message, "detail": "" }
            }),
            Service::Identity => json!({
                "error": { "code": code, "title": reason(self.status), "message": self.message }
            }),
            Service::Image => json!({
                // webob's 415 has a detail, which Glance's faults write into the message.
                "message": if code == 415 {
                    self.message.clone()
                } else {
                    format!("{}<br /><br />\n\n\n", self.message)
                },
                "code": format!("{} {}", code, reason(self.status)),
                "title": reason(self.status),
            }),
        }
    }
}

/// The HTTP reason phrase, as Keystone and webob title their errors.
pub(super) fn reason(status: StatusCode) -> &'static str {
    match status {
        // webob's title (RFC 2616's wording); `http` has RFC 9110's "Payload Too Large".
        StatusCode::PAYLOAD_TOO_LARGE => "Request Entity Too Large",
        _ => status.canonical_reason().unwrap_or("Error"),
    }
}

impl IntoResponse for Fault {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}

/// What a webob HTTP exception renders (Glance's errors, Neutron's extension lookups):
/// JSON `{"message", "code", "title"}` when the client accepts JSON, an HTML page otherwise.
/// `message` is already webob's "explanation<br /><br />\ndetail" text.
pub fn webob_error(status: StatusCode, message: &str, headers: &axum::http::HeaderMap) -> Response {
    let code = format!("{} {}", status.as_u16(), reason(status));
    let wants_json = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("application/json"));
    if wants_json {
        let body = json!({ "message": message, "code": code, "title": reason(status) });
        return (status, axum::Json(body)).into_response();
    }
    let html = format!(
        "<html>\n <head>\n  <title>{code}</title>\n </head>\n <body>\n  <h1>{code}</h1>\n  {message}\n </body>\n</html>"
    );
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "text/html; charset=UTF-8")],
        html,
    )
        .into_response()
}

/// Marks a reply made ahead of Nova's microversion handling (its router's 404s).
#[derive(Clone, Copy, Debug)]
pub struct NoMicroversion;

/// A path (or method) no route serves, answered as each service's framework does: Nova's
/// routes mapper gives webob's 404 for both, Keystone's Flask an HTML page, Neutron a
/// NeutronError, Glance webob's error (rendered by its own layer).
pub fn unrouted(service: Service, wrong_method: bool, headers: &axum::http::HeaderMap) -> Response {
    match service {
        Service::Compute | Service::BlockStorage => {
            let mut response = webob_error(
                StatusCode::NOT_FOUND,
                "The resource could not be found.<br /><br />\n\n\n",
                headers,
            );
            response.extensions_mut().insert(NoMicroversion);
            response
        }
        Service::Identity => {
            let (status, title, text) = if wrong_method {
                (
                    StatusCode::METHOD_NOT_ALLOWED,
                    "405 Method Not Allowed",
                    "The method is not allowed for the requested URL.",
                )
            } else {
                (
                    StatusCode::NOT_FOUND,
                    "404 Not Found",
                    "The requested URL was not found on the server. If you entered the URL \
                     manually please check your spelling and try again.",
                )
            };
            let heading = title.split_once(' ').map_or(title, |(_, rest)| rest);
            let html = format!(
                "<!doctype html>\n<html lang=en>\n<title>{title}</title>\n<h1>{heading}</h1>\n<p>{text}</p>\n"
            );
            (
                status,
                [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")],
                html,
            )
                .into_response()
        }
        Service::Network if wrong_method => Fault::neutron(
            StatusCode::METHOD_NOT_ALLOWED,
            "HTTPMethodNotAllowed",
            "The server could not comply with the request since it is either malformed or \
             otherwise incorrect.",
        )
        .into_response(),
        Service::Network => Fault::neutron(
            StatusCode::NOT_FOUND,
            "HTTPNotFound",
            "The resource could not be found.",
        )
        .into_response(),
        Service::Image if wrong_method => Fault::wrong_method(service).into_response(),
        Service::Image => Fault::unknown_path(service).into_response(),
    }
}

/// webob's explanation of a 401, which Glance's auth filter answers with.
pub const WEBOB_UNAUTHORIZED: &str = "This server could not verify that you are authorized to access the document you requested. Either you supplied the wrong credentials (e.g., bad password), or your browser does not understand how to supply the credentials required.";

/// Parses a JSON request body, answering malformed JSON in the service's shape.
pub fn parse_json(service: Service, body: &Bytes) -> Result<Value, Fault> {
    serde_json::from_slice(body).map_err(|err| {
        let message = match service {
            Service::Compute => format!("Malformed request body: {err}"),
            Service::BlockStorage => "Malformed request body".to_string(),
            Service::Network => "Failed to parse request. Invalid JSON.".to_string(),
            Service::Identity => {
                "The request you have made requires a valid JSON body.".to_string()
            }
            Service::Image => "Body expected in request.".to_string(),
        };
        Fault::bad_request(service, message)
    })
}
