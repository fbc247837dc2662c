//! os-flavor-manage: an admin makes and deletes flavors (nova/api/openstack/compute/
//! flavor_manage.py). A deleted flavor leaves the servers booted with it as they are (each
//! server keeps its own copy of the flavor), as in Nova.

use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use crate::sim::core::{Fault, Service, SimState, new_uuid, parse_json};
use crate::sim::wire::json_reply;

use super::*;

/// POST /flavors: 200 with the flavor as shown in detail; 409 for a name or id taken.
pub(super) async fn create_flavor(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    body: Bytes,
) -> Result<Response, Fault> {
    let caller = state.caller(&headers, Service::Compute)?;
    if !caller.is_admin() {
        return Err(policy_forbids("os_compute_api:os-flavor-manage:create"));
    }
    let body = parse_json(Service::Compute, &body)?;
    let input = body
        .get("flavor")
        .filter(|f| f.is_object())
        .ok_or_else(|| invalid_field("flavor", &body, "'flavor' is a required property"))?;
    let name = input
        .get("name")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|n| !n.is_empty() && n.len() <= 255)
        .ok_or_else(|| invalid_field("name", input, "'name' is a required property"))?
        .to_string();
    let number = |field: &str, least: i64| -> Result<i64, Fault> {
        let value = input.get(field).ok_or_else(|| {
            invalid_field(
                "flavor",
                input,
                &format!("'{field}' is a required property"),
            )
        })?;
        value
            .as_i64()
            .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
            .filter(|v| *v >= least)
            .ok_or_else(|| {
                invalid_field(
                    field,
                    value,
                    &format!("{value} is less than the minimum of {least}"),
                )
            })
    };
    let (ram, vcpus, disk) = (number("ram", 1)?, number("vcpus", 1)?, number("disk", 0)?);
    let id = match input.get("id") {
        None | Some(Value::Null) => new_uuid(),
        Some(Value::String(id)) if id == "auto" => new_uuid(),
        Some(Value::String(id)) if !id.trim().is_empty() => id.trim().to_string(),
        Some(other) => return Err(invalid_field("id", other, "'id' must be a string")),
    };
    let mut world = state.world();
    if world.compute.flavors.iter().any(|f| f.name == name) {
        return Err(fault(
            StatusCode::CONFLICT,
            format!("Flavor with name {name} already exists."),
        ));
    }
    if world.compute.flavors.iter().any(|f| f.id == id) {
        return Err(fault(
            StatusCode::CONFLICT,
            format!("Flavor with ID {id} already exists."),
        ));
    }
    let flavor = Flavor {
        id,
        name,
        vcpus,
        ram,
        disk,
    };
    let shown = flavor_body(&flavor, state.base_url(), mv, true);
    world.compute.flavors.push(flavor);
    Ok(json_reply(StatusCode::OK, json!({ "flavor": shown })))
}

/// DELETE /flavors/{id}: 202, no body.
pub(super) async fn delete_flavor(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(flavor_id): Path<String>,
) -> Result<Response, Fault> {
    let caller = state.caller(&headers, Service::Compute)?;
    if !caller.is_admin() {
        return Err(policy_forbids("os_compute_api:os-flavor-manage:delete"));
    }
    let mut world = state.world();
    let before = world.compute.flavors.len();
    world.compute.flavors.retain(|f| f.id != flavor_id);
    if world.compute.flavors.len() == before {
        return Err(flavor_not_found(&flavor_id));
    }
    Ok(axum::response::IntoResponse::into_response(
        StatusCode::ACCEPTED,
    ))
}
