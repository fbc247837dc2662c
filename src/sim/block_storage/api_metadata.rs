//! The metadata of volumes and snapshots, one set of handlers for both: GET, POST (merge)
//! and PUT (replace) of `/{collection}/{id}/metadata`, and GET, PUT, DELETE of one key.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::sim::core::{Fault, Service, SimState, now, parse_json};
use crate::sim::wire::json_reply;

use super::api::{BareReply, actor};
use super::ops::metadata_from;
use super::*;

/// A record whose metadata has its own routes.
pub(super) trait WithMetadata: Sized {
    /// How Cinder names it in its messages ("Volume").
    const KIND: &'static str;
    /// Whether GET .../metadata is answered bare (text/html, no request id), as Cinder
    /// answers a volume's; a snapshot's is an ordinary JSON reply.
    const BARE_SHOW: bool;
    fn find<'a>(data: &'a BlockStorageData, actor: &Actor, id: &str) -> CResult<&'a Self>;
    fn find_mut<'a>(
        data: &'a mut BlockStorageData,
        actor: &Actor,
        id: &str,
    ) -> CResult<&'a mut Self>;
    fn metadata(&self) -> &BTreeMap<String, String>;
    fn metadata_mut(&mut self) -> (&mut BTreeMap<String, String>, &mut Option<DateTime<Utc>>);
}

impl WithMetadata for Volume {
    const KIND: &'static str = "Volume";
    const BARE_SHOW: bool = true;
    fn find<'a>(data: &'a BlockStorageData, actor: &Actor, id: &str) -> CResult<&'a Self> {
        data.volume(actor, id)
    }
    fn find_mut<'a>(
        data: &'a mut BlockStorageData,
        actor: &Actor,
        id: &str,
    ) -> CResult<&'a mut Self> {
        data.volume_mut(actor, id)
    }
    fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }
    fn metadata_mut(&mut self) -> (&mut BTreeMap<String, String>, &mut Option<DateTime<Utc>>) {
        (&mut self.metadata, &mut self.updated_at)
    }
}

impl WithMetadata for Snapshot {
    const KIND: &'static str = "Snapshot";
    const BARE_SHOW: bool = false;
    fn find<'a>(data: &'a BlockStorageData, actor: &Actor, id: &str) -> CResult<&'a Self> {
        data.snapshot(actor, id)
    }
    fn find_mut<'a>(
        data: &'a mut BlockStorageData,
        actor: &Actor,
        id: &str,
    ) -> CResult<&'a mut Self> {
        data.snapshot(actor, id)?;
        data.snapshots
            .get_mut(id)
            .ok_or_else(|| not_found(format!("Snapshot {id} could not be found.")))
    }
    fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }
    fn metadata_mut(&mut self) -> (&mut BTreeMap<String, String>, &mut Option<DateTime<Utc>>) {
        (&mut self.metadata, &mut self.updated_at)
    }
}

type ItemPath = Path<(String, String, String)>;

/// A reply Cinder makes outside its wsgi serializer: typed text/html, no request id.
fn bare(status: StatusCode, body: String) -> Response {
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=UTF-8")],
        body,
    )
        .into_response();
    response.extensions_mut().insert(BareReply);
    response
}

fn no_such_key<T: WithMetadata>(id: &str, key: &str) -> Fault {
    not_found(format!("{} {id} has no metadata with key {key}.", T::KIND))
}

/// The body's object under `key`, with jsonschema's word when it is missing.
fn required_metadata(body: &Bytes, key: &str) -> CResult<BTreeMap<String, String>> {
    let body = parse_json(Service::BlockStorage, body)?;
    let value = body
        .get(key)
        .ok_or_else(|| bad_request(format!("'{key}' is a required property")))?;
    metadata_from(value)
}

/// GET /{collection}/{id}/metadata.
pub(super) async fn show_metadata<T: WithMetadata>(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path((_, id)): Path<(String, String)>,
) -> CResult<Response> {
    let actor = actor(&state, &headers)?;
    let world = state.world();
    let body = json!({ "metadata": T::find(&world.block_storage, &actor, &id)?.metadata() });
    Ok(if T::BARE_SHOW {
        bare(StatusCode::OK, body.to_string())
    } else {
        json_reply(StatusCode::OK, body)
    })
}

async fn write_metadata<T: WithMetadata>(
    state: SimState,
    headers: HeaderMap,
    id: String,
    body: Bytes,
    replace: bool,
) -> CResult<Response> {
    let actor = actor(&state, &headers)?;
    let metadata = required_metadata(&body, "metadata")?;
    let mut world = state.world();
    let record = T::find_mut(&mut world.block_storage, &actor, &id)?;
    let (current, updated_at) = record.metadata_mut();
    if replace {
        *current = metadata;
    } else {
        current.extend(metadata);
    }
    *updated_at = Some(now());
    Ok(json_reply(
        StatusCode::OK,
        json!({ "metadata": record.metadata() }),
    ))
}

/// POST /{collection}/{id}/metadata: merged into what is there.
pub(super) async fn merge_metadata<T: WithMetadata>(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> CResult<Response> {
    write_metadata::<T>(state, headers, id, body, false).await
}

/// PUT /{collection}/{id}/metadata: replaces it whole.
pub(super) async fn replace_metadata<T: WithMetadata>(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> CResult<Response> {
    write_metadata::<T>(state, headers, id, body, true).await
}

/// GET /{collection}/{id}/metadata/{key}.
pub(super) async fn show_metadata_item<T: WithMetadata>(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path((_, id, key)): ItemPath,
) -> CResult<Response> {
    let actor = actor(&state, &headers)?;
    let world = state.world();
    let record = T::find(&world.block_storage, &actor, &id)?;
    let value = record
        .metadata()
        .get(&key)
        .ok_or_else(|| no_such_key::<T>(&id, &key))?;
    Ok(json_reply(
        StatusCode::OK,
        json!({ "meta": { key: value } }),
    ))
}

/// PUT /{collection}/{id}/metadata/{key}: `{"meta": {key: value}}`, that key only.
pub(super) async fn set_metadata_item<T: WithMetadata>(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path((_, id, key)): ItemPath,
    body: Bytes,
) -> CResult<Response> {
    let actor = actor(&state, &headers)?;
    let meta = required_metadata(&body, "meta")?;
    if meta.len() > 1 {
        let shown = python_dict(&meta);
        return Err(invalid_field(
            "meta",
            &Value::String(shown.clone()),
            &format!("{shown} has too many properties"),
        ));
    }
    let value = meta
        .get(&key)
        .cloned()
        .ok_or_else(|| bad_request("Request body and URI mismatch"))?;
    let mut world = state.world();
    let record = T::find_mut(&mut world.block_storage, &actor, &id)?;
    let (current, updated_at) = record.metadata_mut();
    current.insert(key.clone(), value.clone());
    *updated_at = Some(now());
    Ok(json_reply(
        StatusCode::OK,
        json!({ "meta": { key: value } }),
    ))
}

/// DELETE /{collection}/{id}/metadata/{key}: a bare, empty 200.
pub(super) async fn delete_metadata_item<T: WithMetadata>(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path((_, id, key)): ItemPath,
) -> CResult<Response> {
    let actor = actor(&state, &headers)?;
    let mut world = state.world();
    let record = T::find_mut(&mut world.block_storage, &actor, &id)?;
    let (current, updated_at) = record.metadata_mut();
    current
        .remove(&key)
        .ok_or_else(|| no_such_key::<T>(&id, &key))?;
    *updated_at = Some(now());
    Ok(bare(StatusCode::OK, String::new()))
}

/// A map as Python prints a dict (`{'a': '1'}`), as Cinder's jsonschema messages show it.
fn python_dict(map: &BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = map.iter().map(|(k, v)| format!("'{k}': '{v}'")).collect();
    format!("{{{}}}", pairs.join(", "))
}
