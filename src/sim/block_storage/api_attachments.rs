//! Cinder's attachments API (3.27+), as Nova drives it: create (reserve), update (the
//! connector), os-complete, delete, list and show.

use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::sim::core::{Service, SimState, now, parse_json};
use crate::sim::wire::json_reply;

use super::api::{actor, body_object};
use super::api_more::text;
use super::query::Listed;
use super::render::Microversion;
use super::*;

type AttachmentPath = Path<(String, String)>;

// ---------------------------------------------------------------------------------------------
// Attachments (3.27+)

fn attachments_version(mv: Microversion) -> CResult<()> {
    Attachment::available(mv)
}

pub(super) async fn create_attachment(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    body: Bytes,
) -> CResult<Response> {
    attachments_version(mv)?;
    let actor = actor(&state, &headers)?;
    let input = body_object(&body, "attachment")?;
    let volume_id = text(&input, "volume_uuid")?.ok_or_else(malformed)?;
    let server_id = text(&input, "instance_uuid")?.unwrap_or_default();
    let connector = input.get("connector").filter(|c| c.is_object()).cloned();
    let mode = text(&input, "mode")?.unwrap_or_else(|| "rw".to_string());
    let at = now();
    let mut world = state.world();
    let data = &mut world.block_storage;
    data.settle(Some(&actor.project_id), at);
    let id = data.create_attachment(&actor, &volume_id, &server_id, connector, &mode, at)?;
    let attachment = data.attachment(&actor, &id)?;
    Ok(json_reply(
        StatusCode::OK,
        json!({ "attachment": data.attachment_view(attachment, true) }),
    ))
}

pub(super) async fn show_attachment(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Path((_, attachment_id)): AttachmentPath,
) -> CResult<Response> {
    attachments_version(mv)?;
    let actor = actor(&state, &headers)?;
    let world = state.world();
    let data = &world.block_storage;
    let attachment = data.attachment(&actor, &attachment_id)?;
    Ok(json_reply(
        StatusCode::OK,
        json!({ "attachment": data.attachment_view(attachment, true) }),
    ))
}

pub(super) async fn update_attachment(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Path((_, attachment_id)): AttachmentPath,
    body: Bytes,
) -> CResult<Response> {
    attachments_version(mv)?;
    let actor = actor(&state, &headers)?;
    let input = body_object(&body, "attachment")?;
    let connector = input
        .get("connector")
        .filter(|c| c.is_object())
        .cloned()
        .ok_or_else(malformed)?;
    let mut world = state.world();
    let data = &mut world.block_storage;
    data.update_attachment(&actor, &attachment_id, connector, now())?;
    let attachment = data.attachment(&actor, &attachment_id)?;
    Ok(json_reply(
        StatusCode::OK,
        json!({ "attachment": data.attachment_view(attachment, true) }),
    ))
}

pub(super) async fn delete_attachment(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Path((_, attachment_id)): AttachmentPath,
) -> CResult<Response> {
    attachments_version(mv)?;
    let actor = actor(&state, &headers)?;
    let mut world = state.world();
    let data = &mut world.block_storage;
    let remaining = data.delete_attachment(&actor, &attachment_id, now())?;
    let items: Vec<Value> = remaining
        .iter()
        .filter_map(|id| data.attachments.get(id))
        .map(|a| data.attachment_view(a, false))
        .collect();
    Ok(json_reply(StatusCode::OK, json!({ "attachments": items })))
}

/// POST /attachments/{id}/action: os-complete.
pub(super) async fn attachment_action(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Path((_, attachment_id)): AttachmentPath,
    body: Bytes,
) -> CResult<Response> {
    attachments_version(mv)?;
    let actor = actor(&state, &headers)?;
    let body = parse_json(Service::BlockStorage, &body)?;
    if body.get("os-complete").is_none() {
        return Err(malformed());
    }
    let mut world = state.world();
    world
        .block_storage
        .complete_attachment(&actor, &attachment_id, now())?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
