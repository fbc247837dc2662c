//! Unit tests of the core: error shapes, persistence.

use serde_json::json;

use super::*;

#[test]
fn compute_fault_names_follow_the_status() {
    let cases = [
        (StatusCode::BAD_REQUEST, "badRequest"),
        (StatusCode::FORBIDDEN, "forbidden"),
        (StatusCode::NOT_FOUND, "itemNotFound"),
        (StatusCode::METHOD_NOT_ALLOWED, "badMethod"),
        (StatusCode::CONFLICT, "conflictingRequest"),
        (StatusCode::PAYLOAD_TOO_LARGE, "overLimit"),
        (StatusCode::NOT_ACCEPTABLE, "computeFault"),
        (StatusCode::SERVICE_UNAVAILABLE, "serviceUnavailable"),
    ];
    for (status, name) in cases {
        let body = Fault::new(Service::Compute, status, "m").body();
        assert_eq!(
            body,
            json!({ name: { "code": status.as_u16(), "message": "m" } })
        );
    }
}

#[test]
fn each_service_has_its_own_error_shape() {
    assert_eq!(
        Fault::neutron(
            StatusCode::NOT_FOUND,
            "NetworkNotFound",
            "Network x could not be found."
        )
        .body(),
        json!({ "NeutronError": { "type": "NetworkNotFound", "message": "Network x could not be found.", "detail": "" } })
    );
    assert_eq!(
        Fault::not_found(Service::Identity, "Could not find project: p.").body(),
        json!({ "error": { "code": 404, "title": "Not Found", "message": "Could not find project: p." } })
    );
    assert_eq!(
        Fault::not_found(Service::Image, "No image found with ID i").body(),
        json!({ "message": "No image found with ID i<br /><br />\n\n\n", "code": "404 Not Found", "title": "Not Found" })
    );
    // keystonemiddleware answers a bad token before the service: Keystone's shape for all.
    assert_eq!(
        Fault::unauthorized(Service::Compute).body(),
        json!({ "error": { "code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication." } })
    );
}
