//! Cinder's handlers besides volumes, metadata and attachments: snapshots, backups
//! (and restore), volume types, availability zones, limits and quota sets.

use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::sim::core::{SimState, now};
use crate::sim::wire::json_reply;

use super::api::{Params, actor, body_object, context, done_at, optional_text};
use super::backups::NewBackup;
use super::ops::metadata_from;
use super::render::Microversion;
use super::snapshots::NewSnapshot;
use super::*;

type VolumePath = Path<(String, String)>;

// ---------------------------------------------------------------------------------------------
// Snapshots

fn flag(input: &Value, key: &str) -> CResult<bool> {
    match input.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s))
            if matches!(
                s.to_ascii_lowercase().as_str(),
                "true" | "1" | "yes" | "y" | "on"
            ) =>
        {
            Ok(true)
        }
        Some(Value::String(s))
            if matches!(
                s.to_ascii_lowercase().as_str(),
                "false" | "0" | "no" | "n" | "off"
            ) =>
        {
            Ok(false)
        }
        Some(other) => Err(bad_request(format!(
            "Invalid value '{}' for {key}.",
            other.as_str().map_or(other.to_string(), str::to_string)
        ))),
    }
}

pub(super) fn text(input: &Value, key: &str) -> CResult<Option<String>> {
    Ok(optional_text(input, key)?.flatten())
}

pub(super) async fn create_snapshot(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    body: Bytes,
) -> CResult<Response> {
    let actor = actor(&state, &headers)?;
    let input = body_object(&body, "snapshot")?;
    let metadata = match input.get("metadata") {
        None | Some(Value::Null) => Default::default(),
        Some(value) => metadata_from(value)?,
    };
    let volume_id = input
        .get("volume_id")
        .and_then(Value::as_str)
        .ok_or_else(malformed)?
        .to_string();
    let new = NewSnapshot {
        volume_id,
        name: text(&input, "name")?,
        description: text(&input, "description")?,
        force: flag(&input, "force")?,
        metadata,
    };
    let (at, done_at) = (now(), done_at(&state));
    let ctx = context(&state, mv, &actor);
    let mut world = state.world();
    let data = &mut world.block_storage;
    data.settle(Some(&actor.project_id), at);
    let id = data.create_snapshot(&actor, new, mv.at_least(66), at, done_at)?;
    let snapshot = data.snapshot(&actor, &id)?;
    Ok(json_reply(
        StatusCode::ACCEPTED,
        json!({ "snapshot": data.snapshot_view(snapshot, &ctx, true, false) }),
    ))
}

pub(super) async fn show_snapshot(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Path((_, snapshot_id)): VolumePath,
) -> CResult<Response> {
    let actor = actor(&state, &headers)?;
    let ctx = context(&state, mv, &actor);
    let mut world = state.world();
    let data = &mut world.block_storage;
    data.settle_snapshot(&snapshot_id, now());
    let snapshot = data.snapshot(&actor, &snapshot_id)?;
    Ok(json_reply(
        StatusCode::OK,
        json!({ "snapshot": data.snapshot_view(snapshot, &ctx, true, true) }),
    ))
}

pub(super) async fn update_snapshot(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Path((_, snapshot_id)): VolumePath,
    body: Bytes,
) -> CResult<Response> {
    let actor = actor(&state, &headers)?;
    let input = body_object(&body, "snapshot")?;
    let name = optional_text(&input, "name")?;
    let description = optional_text(&input, "description")?;
    let ctx = context(&state, mv, &actor);
    let mut world = state.world();
    let data = &mut world.block_storage;
    let at = now();
    data.settle_snapshot(&snapshot_id, at);
    data.update_snapshot(&actor, &snapshot_id, name, description, at)?;
    let snapshot = data.snapshot(&actor, &snapshot_id)?;
    Ok(json_reply(
        StatusCode::OK,
        json!({ "snapshot": data.snapshot_view(snapshot, &ctx, true, false) }),
    ))
}

pub(super) async fn delete_snapshot(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path((_, snapshot_id)): VolumePath,
) -> CResult<StatusCode> {
    let actor = actor(&state, &headers)?;
    let (at, done_at) = (now(), done_at(&state));
    let mut world = state.world();
    let data = &mut world.block_storage;
    data.settle_snapshot(&snapshot_id, at);
    data.delete_snapshot(&actor, &snapshot_id, at, done_at)?;
    Ok(StatusCode::ACCEPTED)
}

// ---------------------------------------------------------------------------------------------
// Backups

pub(super) async fn create_backup(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    body: Bytes,
) -> CResult<Response> {
    let actor = actor(&state, &headers)?;
    let input = body_object(&body, "backup")?;
    let metadata = match input.get("metadata") {
        None | Some(Value::Null) => Default::default(),
        Some(value) => metadata_from(value)?,
    };
    let volume_id = input
        .get("volume_id")
        .and_then(Value::as_str)
        .ok_or_else(malformed)?
        .to_string();
    let new = NewBackup {
        volume_id,
        name: text(&input, "name")?,
        description: text(&input, "description")?,
        incremental: flag(&input, "incremental")?,
        force: flag(&input, "force")?,
        snapshot_id: text(&input, "snapshot_id")?,
        metadata,
    };
    let (at, done_at) = (now(), done_at(&state));
    let ctx = context(&state, mv, &actor);
    let mut world = state.world();
    let data = &mut world.block_storage;
    data.settle(Some(&actor.project_id), at);
    let id = data.create_backup(&actor, new, at, done_at)?;
    let backup = data.backup(&actor, &id)?;
    Ok(json_reply(
        StatusCode::ACCEPTED,
        json!({ "backup": data.backup_summary(backup, &ctx) }),
    ))
}

pub(super) async fn show_backup(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Path((_, backup_id)): VolumePath,
) -> CResult<Response> {
    let actor = actor(&state, &headers)?;
    let ctx = context(&state, mv, &actor);
    let mut world = state.world();
    let data = &mut world.block_storage;
    data.settle_backup(&backup_id, now());
    let backup = data.backup(&actor, &backup_id)?;
    Ok(json_reply(
        StatusCode::OK,
        json!({ "backup": data.backup_detail(backup, &ctx) }),
    ))
}

pub(super) async fn delete_backup(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path((_, backup_id)): VolumePath,
) -> CResult<StatusCode> {
    let actor = actor(&state, &headers)?;
    let (at, done_at) = (now(), done_at(&state));
    let mut world = state.world();
    let data = &mut world.block_storage;
    data.settle(Some(&actor.project_id), at);
    data.settle_backup(&backup_id, at);
    data.delete_backup(&actor, &backup_id, at, done_at)?;
    Ok(StatusCode::ACCEPTED)
}

pub(super) async fn restore_backup(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path((_, backup_id)): VolumePath,
    body: Bytes,
) -> CResult<Response> {
    let actor = actor(&state, &headers)?;
    let input = body_object(&body, "restore")?;
    let volume_id = text(&input, "volume_id")?;
    let name = text(&input, "name")?;
    let (at, done_at) = (now(), done_at(&state));
    let mut world = state.world();
    let data = &mut world.block_storage;
    data.settle(Some(&actor.project_id), at);
    let restored =
        data.restore_backup(&actor, &backup_id, volume_id.as_deref(), name, at, done_at)?;
    Ok(json_reply(
        StatusCode::ACCEPTED,
        json!({ "restore": {
            "backup_id": backup_id,
            "volume_id": restored.volume_id,
            "volume_name": restored.volume_name,
        }}),
    ))
}

/// POST /backups/{id}/action: os-reset_status (admin), to `available` or `error`.
pub(super) async fn backup_action(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path((_, backup_id)): VolumePath,
    body: Bytes,
) -> CResult<Response> {
    let actor = actor(&state, &headers)?;
    let input = body_object(&body, "os-reset_status")?;
    let status = text(&input, "status")?.ok_or_else(malformed)?;
    let at = now();
    let mut world = state.world();
    let data = &mut world.block_storage;
    data.settle(Some(&actor.project_id), at);
    data.reset_backup_status(&actor, &backup_id, &status, at)?;
    Ok(StatusCode::ACCEPTED.into_response())
}

// ---------------------------------------------------------------------------------------------
// Types, zones, limits, quotas

pub(super) async fn list_types(
    State(state): State<SimState>,
    headers: HeaderMap,
) -> CResult<Response> {
    actor(&state, &headers)?;
    let world = state.world();
    let data = &world.block_storage;
    let types: Vec<Value> = data.types.iter().map(|t| data.type_view(t)).collect();
    Ok(json_reply(StatusCode::OK, json!({ "volume_types": types })))
}

pub(super) async fn show_type(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path((_, type_id)): VolumePath,
) -> CResult<Response> {
    actor(&state, &headers)?;
    let world = state.world();
    let data = &world.block_storage;
    let volume_type = data
        .type_by_ref(&type_id)
        .ok_or_else(|| not_found(format!("Volume type {type_id} could not be found.")))?;
    Ok(json_reply(
        StatusCode::OK,
        json!({ "volume_type": data.type_view(volume_type) }),
    ))
}

pub(super) async fn availability_zones(
    State(state): State<SimState>,
    headers: HeaderMap,
) -> CResult<Response> {
    actor(&state, &headers)?;
    Ok(json_reply(
        StatusCode::OK,
        json!({ "availabilityZoneInfo": [
            { "zoneName": AVAILABILITY_ZONE, "zoneState": { "available": true } }
        ]}),
    ))
}

pub(super) async fn limits(State(state): State<SimState>, headers: HeaderMap) -> CResult<Response> {
    let actor = actor(&state, &headers)?;
    let mut world = state.world();
    let data = &mut world.block_storage;
    data.settle(Some(&actor.project_id), now());
    Ok(json_reply(
        StatusCode::OK,
        data.limits_body(&actor.project_id),
    ))
}

/// A project reads its own quotas; an admin reads anyone's.
fn quota_target(actor: &Actor, target: &str) -> CResult<()> {
    if actor.admin || actor.project_id == target {
        Ok(())
    } else {
        Err(forbidden(
            "Policy doesn't allow volume_extension:quotas:show to be performed.",
        ))
    }
}

pub(super) async fn show_quota_set(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path((_, target)): VolumePath,
    Query(query): Params,
) -> CResult<Response> {
    let actor = actor(&state, &headers)?;
    quota_target(&actor, &target)?;
    let usage = query
        .iter()
        .any(|(k, v)| k == "usage" && matches!(v.as_str(), "true" | "True" | "1"));
    let world = state.world();
    Ok(json_reply(
        StatusCode::OK,
        world.block_storage.quota_set_body(&target, usage),
    ))
}

pub(super) async fn show_quota_defaults(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path((_, target)): VolumePath,
) -> CResult<Response> {
    actor(&state, &headers)?;
    let world = state.world();
    let data = &world.block_storage;
    // Defaults are what a project without overrides has.
    let mut body = data.quota_set_body("", false);
    body["quota_set"]["id"] = json!(target);
    Ok(json_reply(StatusCode::OK, body))
}

pub(super) async fn update_quota_set(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path((_, target)): VolumePath,
    body: Bytes,
) -> CResult<Response> {
    let actor = actor(&state, &headers)?;
    if !actor.admin {
        return Err(forbidden(
            "Policy doesn't allow volume_extension:quotas:update to be performed.",
        ));
    }
    let input = body_object(&body, "quota_set")?;
    let mut world = state.world();
    let body = world.block_storage.update_quotas(&target, &input)?;
    Ok(json_reply(StatusCode::OK, body))
}
