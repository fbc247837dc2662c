//! Which request bodies a service takes by their Content-Type, decided before any handler runs,
//! as each real service decides it before reading the body.
//!
//! What the services' own code does (read, not guessed; see known_differences for the cases the
//! differential run has not confirmed yet):
//! - Keystone (`keystone/server/flask/request_processing/json_body.py`): a non-empty body whose
//!   Content-Type is set and is not JSON is a 400 ValidationError, "Expecting to find
//!   application/json in Content-Type header".
//! - Nova (`nova/api/openstack/wsgi.py`, `Request.get_content_type`): a Content-Type other than
//!   its JSON types is a 415 "Unsupported Content-Type" — except an empty one and `text/plain`,
//!   which eventlet sends by default and Nova reads as JSON.
//! - Neutron (pecan, `BodyValidationHook`) parses the body as JSON whatever the header says, and
//!   Glance checks a media type only on PATCH (in its handler): neither is refused here.

use axum::extract::Request;
use axum::http::HeaderMap;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, TRANSFER_ENCODING};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::fault::{Fault, Service};

/// Keystone's ValidationError for a body that is not JSON.
const KEYSTONE_NOT_JSON: &str = "Expecting to find application/json in Content-Type header. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.";

/// Nova's media types for request bodies.
const NOVA_TYPES: [&str; 2] = ["application/json", "application/vnd.openstack.compute+json"];

/// Keystone checks in a before-request hook, ahead of routing: the router's layer does too.
/// Nova checks once its microversion is negotiated, so its refusal carries the version
/// headers: the compute service calls [`refusal_for`] from its microversion layer.
fn checked_before_routing(path: &str) -> Option<Service> {
    let first = path.trim_start_matches('/').split('/').next()?;
    (first == "identity").then_some(Service::Identity)
}

/// The media type without its parameters, lower-cased (`application/json; charset=UTF-8` →
/// `application/json`).
fn media_type(header: &str) -> String {
    header
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Flask's `is_json`: `application/json` or any `application/*+json`.
fn is_json(media: &str) -> bool {
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

/// The refusal `service` answers a request with this Content-Type (None when absent), if any.
pub(super) fn refusal(
    service: Service,
    content_type: Option<&str>,
    has_body: bool,
) -> Option<Fault> {
    let media = media_type(content_type?);
    match service {
        Service::Identity if has_body && !media.is_empty() && !is_json(&media) => {
            Some(Fault::bad_request(service, KEYSTONE_NOT_JSON))
        }
        Service::Compute
            if !media.is_empty() && media != "text/plain" && !NOVA_TYPES.contains(&&*media) =>
        {
            Some(Fault::new(
                service,
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Unsupported Content-Type",
            ))
        }
        _ => None,
    }
}

/// The refusal `service` answers a request with these headers, if any.
pub fn refusal_for(service: Service, headers: &HeaderMap) -> Option<Fault> {
    let has_body = headers.contains_key(TRANSFER_ENCODING)
        || headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|n| n > 0);
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    refusal(service, content_type, has_body)
}

/// Refuses the bodies Keystone would refuse, before routing.
pub(super) async fn media_layer(request: Request, next: Next) -> Response {
    let refused = checked_before_routing(request.uri().path())
        .and_then(|service| refusal_for(service, request.headers()));
    match refused {
        Some(fault) => {
            // Keystone's answers all vary on the token, its refusals included.
            let mut response = fault.into_response();
            response.headers_mut().insert(
                axum::http::header::VARY,
                axum::http::HeaderValue::from_static("X-Auth-Token"),
            );
            response
        }
        None => next.run(request).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(service: Service, content_type: Option<&str>, has_body: bool) -> Option<u16> {
        refusal(service, content_type, has_body).map(|f| f.status.as_u16())
    }

    #[test]
    fn keystone_refuses_a_body_that_is_not_json() {
        let s = Service::Identity;
        assert_eq!(status(s, Some("text/plain"), true), Some(400));
        assert_eq!(status(s, Some("application/xml"), true), Some(400));
        assert_eq!(status(s, Some("text/plain"), false), None);
        assert_eq!(
            status(s, Some("application/json; charset=UTF-8"), true),
            None
        );
        assert_eq!(status(s, Some("application/merge-patch+json"), true), None);
        assert_eq!(status(s, None, true), None);
    }

    #[test]
    fn nova_refuses_other_media_types_but_reads_text_plain_as_json() {
        let s = Service::Compute;
        assert_eq!(status(s, Some("application/xml"), true), Some(415));
        assert_eq!(status(s, Some("text/html"), false), Some(415));
        assert_eq!(status(s, Some("text/plain"), true), None);
        assert_eq!(status(s, Some("application/json"), true), None);
        assert_eq!(
            status(s, Some("application/vnd.openstack.compute+json"), true),
            None
        );
    }

    #[test]
    fn neutron_and_glance_do_not_look_at_the_header() {
        for s in [Service::Network, Service::Image] {
            assert_eq!(status(s, Some("text/plain"), true), None);
        }
    }

    #[test]
    fn only_keystone_is_checked_before_routing() {
        assert_eq!(
            checked_before_routing("/identity/v3/projects"),
            Some(Service::Identity)
        );
        assert_eq!(checked_before_routing("/compute/v2.1/servers"), None);
        assert_eq!(checked_before_routing("/networking/v2.0/networks"), None);
    }
}
