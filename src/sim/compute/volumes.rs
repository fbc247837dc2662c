//! os-volume_attachments: a server's volumes, attached and detached through Cinder's seam
//! (`BlockStorageData::attach_for_server`), as Nova drives Cinder's attachments; the
//! `os-extended-volumes:volumes_attached` of server views.

use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use crate::sim::block_storage::{AttachError, ServerVolume};
use crate::sim::core::{Fault, Service, SimState, World, now, parse_json};
use crate::sim::wire::json_reply;

use super::*;

/// One attachment as Nova shows it at `mv`: 2.70 adds `tag`, 2.79
/// `delete_on_termination`, 2.89 swaps `id` for `attachment_id` and `bdm_uuid`.
fn attachment_view(server_id: &str, volume: &ServerVolume, mv: Microversion) -> Value {
    let mut body = json!({
        "serverId": server_id,
        "volumeId": volume.volume_id,
        "device": volume.device,
    });
    if !mv.at_least(89) {
        body["id"] = json!(volume.volume_id);
    }
    if mv.at_least(70) {
        body["tag"] = Value::Null;
    }
    if mv.at_least(79) {
        body["delete_on_termination"] = json!(false);
    }
    if mv.at_least(89) {
        body["attachment_id"] = json!(volume.attachment_id);
        body["bdm_uuid"] = json!(volume.bdm_uuid);
    }
    body
}

/// `os-extended-volumes:volumes_attached` of a server view (2.3 adds
/// `delete_on_termination`).
pub(super) fn volumes_attached(world: &World, server: &Server, mv: Microversion) -> Value {
    let volumes: Vec<Value> = world
        .block_storage
        .server_volumes(&server.id)
        .iter()
        .map(|v| {
            if mv.at_least(3) {
                let deleted = server.boot.delete_on_termination
                    && server.boot.volume_id.as_deref() == Some(v.volume_id.as_str());
                json!({ "id": v.volume_id, "delete_on_termination": deleted })
            } else {
                json!({ "id": v.volume_id })
            }
        })
        .collect();
    Value::Array(volumes)
}

/// When an attach or detach Nova starts now ends (`SimConfig::volume_delay`).
fn volume_done_at(state: &SimState) -> chrono::DateTime<chrono::Utc> {
    now() + chrono::Duration::from_std(state.config().volume_delay).unwrap_or_default()
}

fn not_attached(server_id: &str, volume_id: &str) -> Fault {
    fault(
        StatusCode::NOT_FOUND,
        format!("Instance {server_id} is not attached to volume {volume_id}"),
    )
}

/// GET /servers/{id}/os-volume_attachments (`openstack server volume list`).
pub(super) async fn list_volume_attachments(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Path(server_id): Path<String>,
) -> Result<Response, Fault> {
    let caller = state.caller(&headers, Service::Compute)?;
    let mut world = state.world();
    let server_id = find_server(&mut world, &caller, &server_id)?.id.clone();
    let attachments: Vec<Value> = world
        .block_storage
        .server_volumes(&server_id)
        .iter()
        .map(|v| attachment_view(&server_id, v, mv))
        .collect();
    Ok(json_reply(
        StatusCode::OK,
        json!({ "volumeAttachments": attachments }),
    ))
}

/// GET /servers/{id}/os-volume_attachments/{volume_id}.
pub(super) async fn show_volume_attachment(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Path((server_id, volume_id)): Path<(String, String)>,
) -> Result<Response, Fault> {
    let caller = state.caller(&headers, Service::Compute)?;
    let mut world = state.world();
    let server_id = find_server(&mut world, &caller, &server_id)?.id.clone();
    let volumes = world.block_storage.server_volumes(&server_id);
    let volume = volumes
        .iter()
        .find(|v| v.volume_id == volume_id)
        .ok_or_else(|| not_attached(&server_id, &volume_id))?;
    Ok(json_reply(
        StatusCode::OK,
        json!({ "volumeAttachment": attachment_view(&server_id, volume, mv) }),
    ))
}

/// POST /servers/{id}/os-volume_attachments (`openstack server add volume`): Nova reserves
/// the volume in Cinder and answers; the volume is reserved, then in-use once Nova completes
/// the attachment. An attached volume that is not multiattach is refused with Nova's 400.
pub(super) async fn attach_volume(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Path(server_id): Path<String>,
    body: Bytes,
) -> Result<Response, Fault> {
    let caller = state.caller(&headers, Service::Compute)?;
    let body = parse_json(Service::Compute, &body)?;
    let input = body
        .get("volumeAttachment")
        .filter(|v| v.is_object())
        .ok_or_else(|| invalid_field("root", &body, "'volumeAttachment' is a required property"))?;
    let volume_id = input
        .get("volumeId")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            invalid_field(
                "volumeAttachment",
                input,
                "'volumeId' is a required property",
            )
        })?
        .to_string();
    let mut world = state.world();
    let server = find_server(&mut world, &caller, &server_id)?;
    if !matches!(server.vm_state.as_str(), "active" | "stopped") || server.task_state.is_some() {
        return Err(invalid_state("attach_volume", server));
    }
    let server_id = server.id.clone();
    let project_id = server.project_id.clone();
    let attached = world
        .block_storage
        .attach_for_server(
            &project_id,
            caller.is_admin(),
            &server_id,
            &volume_id,
            now(),
            volume_done_at(&state),
        )
        .map_err(|err| match err {
            AttachError::VolumeNotFound => fault(
                StatusCode::NOT_FOUND,
                format!("Volume {volume_id} could not be found."),
            ),
            AttachError::AlreadyAttached(servers) => bad_request(format!(
                "Invalid volume: volume {volume_id} is already attached to instances: {}",
                servers.join(",")
            )),
            AttachError::NotAvailable(message) => bad_request(message),
            AttachError::NotAttached => not_attached(&server_id, &volume_id),
        })?;
    Ok(json_reply(
        StatusCode::OK,
        json!({ "volumeAttachment": attachment_view(&server_id, &attached, mv) }),
    ))
}

/// DELETE /servers/{id}/os-volume_attachments/{volume_id} (`openstack server remove
/// volume`): 202; the volume is detaching, then available, and Nova lists the attachment
/// until then (a second detach meanwhile is refused with Nova's 400).
pub(super) async fn detach_volume(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path((server_id, volume_id)): Path<(String, String)>,
) -> Result<StatusCode, Fault> {
    let caller = state.caller(&headers, Service::Compute)?;
    let mut world = state.world();
    let server_id = find_server(&mut world, &caller, &server_id)?.id.clone();
    world
        .block_storage
        .detach_for_server(&server_id, &volume_id, now(), volume_done_at(&state))
        .map_err(|err| match err {
            AttachError::NotAvailable(message) => bad_request(message),
            _ => not_attached(&server_id, &volume_id),
        })?;
    Ok(StatusCode::ACCEPTED)
}
