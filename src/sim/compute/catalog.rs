//! Handlers of what servers are made from and bounded by: flavors, quota sets, limits,
//! availability zones.

use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use crate::sim::core::{Fault, Service, SimState, now, parse_json};
use crate::sim::wire::json_reply;

use super::*;

pub(super) async fn list_flavors(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, Fault> {
    flavor_list(&state, &headers, mv, &query, false)
}

pub(super) async fn list_flavors_detail(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, Fault> {
    flavor_list(&state, &headers, mv, &query, true)
}

pub(super) async fn show_flavor(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Path(flavor_id): Path<String>,
) -> Result<Response, Fault> {
    state.caller(&headers, Service::Compute)?;
    let world = state.world();
    let flavor = world
        .compute
        .flavors
        .iter()
        .find(|f| f.id == flavor_id)
        .ok_or_else(|| flavor_not_found(&flavor_id))?;
    Ok(json_reply(
        StatusCode::OK,
        json!({ "flavor": flavor_body(flavor, state.base_url(), mv, true) }),
    ))
}

pub(super) async fn flavor_extra_specs(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(flavor_id): Path<String>,
) -> Result<Response, Fault> {
    state.caller(&headers, Service::Compute)?;
    let world = state.world();
    if !world.compute.flavors.iter().any(|f| f.id == flavor_id) {
        return Err(flavor_not_found(&flavor_id));
    }
    Ok(json_reply(StatusCode::OK, json!({ "extra_specs": {} })))
}

pub(super) async fn show_quota(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Path(project_id): Path<String>,
) -> Result<Response, Fault> {
    quota_reader(
        &state,
        &headers,
        &project_id,
        "os_compute_api:os-quota-sets:show",
    )?;
    let world = state.world();
    let quota = world.compute.quota(&project_id);
    Ok(json_reply(
        StatusCode::OK,
        quota_body(&quota, mv, None, Some(&project_id)),
    ))
}

pub(super) async fn show_quota_detail(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Path(project_id): Path<String>,
) -> Result<Response, Fault> {
    quota_reader(
        &state,
        &headers,
        &project_id,
        "os_compute_api:os-quota-sets:detail",
    )?;
    let world = state.world();
    let quota = world.compute.quota(&project_id);
    let usage = world.compute.usage(&project_id);
    Ok(json_reply(
        StatusCode::OK,
        quota_body(&quota, mv, Some(&usage), Some(&project_id)),
    ))
}

pub(super) async fn show_quota_defaults(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Path(project_id): Path<String>,
) -> Result<Response, Fault> {
    state.caller(&headers, Service::Compute)?;
    Ok(json_reply(
        StatusCode::OK,
        quota_body(&Quota::default(), mv, None, Some(&project_id)),
    ))
}

/// PUT /os-quota-sets/{project}: admin only; a limit below current usage is refused.
pub(super) async fn update_quota(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Path(project_id): Path<String>,
    body: Bytes,
) -> Result<Response, Fault> {
    let caller = state.caller(&headers, Service::Compute)?;
    if !caller.is_admin() {
        return Err(policy_forbids("os_compute_api:os-quota-sets:update"));
    }
    let body = parse_json(Service::Compute, &body)?;
    let input = body
        .get("quota_set")
        .and_then(Value::as_object)
        .ok_or_else(|| invalid_field("quota_set", &body, "'quota_set' is a required property"))?;
    let force = input.get("force").and_then(Value::as_bool).unwrap_or(false);
    let mut world = state.world();
    // Nova asks Keystone whether the project exists before storing limits for it.
    if !world.identity.project_exists(&project_id) {
        return Err(bad_request(format!(
            "Project ID {project_id} is not a valid project."
        )));
    }
    let mut quota = world.compute.quota(&project_id);
    let usage = world.compute.usage(&project_id);
    let legacy: Vec<&str> = legacy_quota_fields(mv)
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    for (key, value) in input {
        if key == "force" {
            continue;
        }
        if legacy.contains(&key.as_str()) {
            // Accepted for old clients, as Nova does; these limits are not enforced here.
            continue;
        }
        if !QUOTA_KEYS.contains(&key.as_str()) {
            return Err(invalid_field(
                "quota_set",
                &Value::Object(input.clone()),
                &format!("Additional properties are not allowed ('{key}' was unexpected)"),
            ));
        }
        let limit = value
            .as_i64()
            .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
            .filter(|v| *v >= -1)
            .ok_or_else(|| invalid_field(key, value, "It must be an integer of -1 or more."))?;
        let used = usage.get(key);
        if !force && limit >= 0 && limit < used {
            return Err(bad_request(format!(
                "Quota limit {limit} for {key} must be greater than or equal to already used \
                 and reserved {used}."
            )));
        }
        quota.set(key, limit);
    }
    world.compute.quotas.insert(project_id, quota);
    Ok(json_reply(
        StatusCode::OK,
        quota_body(&quota, mv, None, None),
    ))
}

/// DELETE /os-quota-sets/{project}: back to the defaults.
pub(super) async fn reset_quota(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
) -> Result<StatusCode, Fault> {
    let caller = state.caller(&headers, Service::Compute)?;
    if !caller.is_admin() {
        return Err(policy_forbids("os_compute_api:os-quota-sets:delete"));
    }
    state.world().compute.quotas.remove(&project_id);
    Ok(StatusCode::ACCEPTED)
}

/// GET /limits: the caller's project.
pub(super) async fn limits(
    State(state): State<SimState>,
    headers: HeaderMap,
) -> Result<Response, Fault> {
    let caller = state.caller(&headers, Service::Compute)?;
    let project_id = project_of(&caller)?;
    let world = state.world();
    let quota = world.compute.quota(&project_id);
    let usage = world.compute.usage(&project_id);
    Ok(json_reply(
        StatusCode::OK,
        json!({
            "limits": {
                "absolute": {
                    "maxServerMeta": quota.metadata_items,
                    "maxTotalCores": quota.cores,
                    "maxTotalInstances": quota.instances,
                    "maxTotalKeypairs": quota.key_pairs,
                    "maxTotalRAMSize": quota.ram,
                    "maxServerGroups": quota.server_groups,
                    "maxServerGroupMembers": quota.server_group_members,
                    "totalCoresUsed": usage.cores,
                    "totalInstancesUsed": usage.instances,
                    "totalRAMUsed": usage.ram,
                    "totalServerGroupsUsed": world
                        .compute
                        .server_groups
                        .values()
                        .filter(|g| g.project_id == project_id)
                        .count(),
                },
                "rate": [],
            }
        }),
    ))
}

pub(super) async fn availability_zones(
    State(state): State<SimState>,
    headers: HeaderMap,
) -> Result<Response, Fault> {
    state.caller(&headers, Service::Compute)?;
    Ok(json_reply(
        StatusCode::OK,
        json!({
            "availabilityZoneInfo": [{
                "hosts": null,
                "zoneName": AVAILABILITY_ZONE,
                "zoneState": { "available": true },
            }]
        }),
    ))
}

/// GET /os-availability-zone/detail: the admin view, with the services of each zone's host
/// (the control services sit in the `internal` zone).
pub(super) async fn availability_zones_detail(
    State(state): State<SimState>,
    headers: HeaderMap,
) -> Result<Response, Fault> {
    state.caller(&headers, Service::Compute)?;
    let updated = now().format("%Y-%m-%dT%H:%M:%S.000000").to_string();
    let service = json!({ "available": true, "active": true, "updated_at": updated });
    Ok(json_reply(
        StatusCode::OK,
        json!({
            "availabilityZoneInfo": [
                {
                    "zoneName": "internal",
                    "zoneState": { "available": true },
                    "hosts": { HOST: {
                        "nova-scheduler": service.clone(),
                        "nova-conductor": service.clone(),
                    } },
                },
                {
                    "zoneName": AVAILABILITY_ZONE,
                    "zoneState": { "available": true },
                    "hosts": { HOST: { "nova-compute": service } },
                },
            ]
        }),
    ))
}
