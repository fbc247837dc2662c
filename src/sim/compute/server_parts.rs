//! Handlers of a server's own parts: its metadata and its tags.

use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::sim::core::{Fault, Service, SimState, now, parse_json};
use crate::sim::wire::json_reply;
use crate::sim::wire::paging::encode_query_value;

use super::*;

pub(super) async fn list_metadata(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(server_id): Path<String>,
) -> Result<Response, Fault> {
    let caller = state.caller(&headers, Service::Compute)?;
    let mut world = state.world();
    Ok(metadata_response(find_server(
        &mut world, &caller, &server_id,
    )?))
}

/// PUT /servers/{id}/metadata: replaces all items.
pub(super) async fn replace_metadata(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(server_id): Path<String>,
    body: Bytes,
) -> Result<Response, Fault> {
    let caller = state.caller(&headers, Service::Compute)?;
    let metadata = metadata_body(&body)?;
    let mut world = state.world();
    let quota = find_server(&mut world, &caller, &server_id)
        .map(|s| s.project_id.clone())
        .map(|p| world.compute.quota(&p))?;
    check_metadata_quota(&quota, metadata.len())?;
    let server = find_server(&mut world, &caller, &server_id)?;
    server.metadata = metadata;
    server.updated = now();
    Ok(metadata_response(server))
}

/// POST /servers/{id}/metadata: merges items.
pub(super) async fn merge_metadata(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(server_id): Path<String>,
    body: Bytes,
) -> Result<Response, Fault> {
    let caller = state.caller(&headers, Service::Compute)?;
    let metadata = metadata_body(&body)?;
    let mut world = state.world();
    let (project_id, mut merged) = find_server(&mut world, &caller, &server_id)
        .map(|s| (s.project_id.clone(), s.metadata.clone()))?;
    merged.extend(metadata);
    check_metadata_quota(&world.compute.quota(&project_id), merged.len())?;
    let server = find_server(&mut world, &caller, &server_id)?;
    server.metadata = merged;
    server.updated = now();
    Ok(metadata_response(server))
}

pub(super) async fn show_metadata_item(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path((server_id, key)): Path<(String, String)>,
) -> Result<Response, Fault> {
    let caller = state.caller(&headers, Service::Compute)?;
    let mut world = state.world();
    let server = find_server(&mut world, &caller, &server_id)?;
    let value = server
        .metadata
        .get(&key)
        .ok_or_else(|| fault(StatusCode::NOT_FOUND, "Metadata item was not found"))?;
    Ok(json_reply(
        StatusCode::OK,
        json!({ "meta": { key: value } }),
    ))
}

/// PUT /servers/{id}/metadata/{key} with `{"meta": {key: value}}`.
pub(super) async fn set_metadata_item(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path((server_id, key)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, Fault> {
    let caller = state.caller(&headers, Service::Compute)?;
    let body = parse_json(Service::Compute, &body)?;
    let meta = body
        .get("meta")
        .ok_or_else(|| invalid_field("meta", &body, "'meta' is a required property"))?;
    let item = metadata_from(meta, "meta")?;
    let value = match (item.len(), item.get(&key)) {
        (1, Some(value)) => value.clone(),
        _ => return Err(bad_request("Request body and URI mismatch")),
    };
    let mut world = state.world();
    let server = find_server(&mut world, &caller, &server_id)?;
    server.metadata.insert(key.clone(), value.clone());
    server.updated = now();
    Ok(json_reply(
        StatusCode::OK,
        json!({ "meta": { key: value } }),
    ))
}

pub(super) async fn delete_metadata_item(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path((server_id, key)): Path<(String, String)>,
) -> Result<StatusCode, Fault> {
    let caller = state.caller(&headers, Service::Compute)?;
    let mut world = state.world();
    let server = find_server(&mut world, &caller, &server_id)?;
    if server.metadata.remove(&key).is_none() {
        return Err(fault(StatusCode::NOT_FOUND, "Metadata item was not found"));
    }
    server.updated = now();
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn list_server_tags(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Path(server_id): Path<String>,
) -> Result<Response, Fault> {
    require_tags_api(mv)?;
    let caller = state.caller(&headers, Service::Compute)?;
    let mut world = state.world();
    let server = find_server(&mut world, &caller, &server_id)?;
    Ok(json_reply(StatusCode::OK, json!({ "tags": server.tags })))
}

pub(super) async fn replace_server_tags(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Path(server_id): Path<String>,
    body: Bytes,
) -> Result<Response, Fault> {
    require_tags_api(mv)?;
    let caller = state.caller(&headers, Service::Compute)?;
    let body = parse_json(Service::Compute, &body)?;
    let tags = tags_from(
        body.get("tags")
            .ok_or_else(|| invalid_field("tags", &body, "'tags' is a required property"))?,
    )?;
    let mut world = state.world();
    let server = find_server(&mut world, &caller, &server_id)?;
    check_taggable(server, "update tags")?;
    server.tags = tags;
    server.updated = now();
    Ok(json_reply(StatusCode::OK, json!({ "tags": server.tags })))
}

pub(super) async fn clear_server_tags(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Path(server_id): Path<String>,
) -> Result<StatusCode, Fault> {
    require_tags_api(mv)?;
    let caller = state.caller(&headers, Service::Compute)?;
    let mut world = state.world();
    let server = find_server(&mut world, &caller, &server_id)?;
    check_taggable(server, "delete tags")?;
    server.tags.clear();
    server.updated = now();
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn check_server_tag(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Path((server_id, tag)): Path<(String, String)>,
) -> Result<StatusCode, Fault> {
    require_tags_api(mv)?;
    let caller = state.caller(&headers, Service::Compute)?;
    let mut world = state.world();
    let server = find_server(&mut world, &caller, &server_id)?;
    if server.tags.contains(&tag) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(tag_not_found(&tag, &server_id))
    }
}

/// PUT /servers/{id}/tags/{tag}: 201 when added, 204 when already there.
pub(super) async fn add_server_tag(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Path((server_id, tag)): Path<(String, String)>,
) -> Result<Response, Fault> {
    require_tags_api(mv)?;
    let caller = state.caller(&headers, Service::Compute)?;
    let tag = valid_server_tag(&tag)?;
    let base = state.base_url().to_string();
    let mut world = state.world();
    let server = find_server(&mut world, &caller, &server_id)?;
    check_taggable(server, "update tag")?;
    let status = if server.tags.contains(&tag) {
        StatusCode::NO_CONTENT
    } else {
        if server.tags.len() >= MAX_SERVER_TAGS {
            return Err(bad_request(format!(
                "The number of tags exceeded the per-server limit {MAX_SERVER_TAGS}"
            )));
        }
        server.tags.push(tag.clone());
        server.updated = now();
        StatusCode::CREATED
    };
    let mut response = status.into_response();
    let location = format!(
        "{base}/compute/v2.1/servers/{server_id}/tags/{}",
        encode_query_value(&tag)
    );
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert("location", value);
    }
    Ok(response)
}

pub(super) async fn remove_server_tag(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Path((server_id, tag)): Path<(String, String)>,
) -> Result<StatusCode, Fault> {
    require_tags_api(mv)?;
    let caller = state.caller(&headers, Service::Compute)?;
    let mut world = state.world();
    let server = find_server(&mut world, &caller, &server_id)?;
    check_taggable(server, "delete tag")?;
    if !server.tags.contains(&tag) {
        return Err(tag_not_found(&tag, &server_id));
    }
    server.tags.retain(|t| *t != tag);
    server.updated = now();
    Ok(StatusCode::NO_CONTENT)
}
