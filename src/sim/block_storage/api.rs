//! The HTTP face of Cinder v3: routes, the version document, microversion negotiation
//! (`OpenStack-API-Version: volume 3.x`), and the volume handlers (CRUD and actions).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::sim::core::{
    Fault, NoMicroversion, RequestId, Service, SimState, now, parse_json, unrouted,
};
use crate::sim::wire::json_reply;

use super::api_attachments::*;
use super::api_metadata::*;
use super::api_more::*;
use super::ops::{metadata_from, new_volume, positive_size};
use super::query::{Listed, listing, page};
use super::render::{Microversion, ViewContext};
use super::*;

const MIN_MINOR: u32 = 0;
const MAX_MINOR: u32 = 71;

pub(super) type Params = Query<Vec<(String, String)>>;

pub fn routes() -> Router<SimState> {
    let project = Router::new()
        .route("/volumes", get(list::<Volume>).post(create_volume))
        .route("/volumes/detail", get(list_detail::<Volume>))
        .route(
            "/volumes/{volume_id}",
            get(show_volume).put(update_volume).delete(delete_volume),
        )
        .route("/volumes/{volume_id}/action", post(volume_action))
        .route(
            "/volumes/{volume_id}/metadata",
            get(show_metadata::<Volume>)
                .post(merge_metadata::<Volume>)
                .put(replace_metadata::<Volume>),
        )
        .route(
            "/volumes/{volume_id}/metadata/{key}",
            get(show_metadata_item::<Volume>)
                .put(set_metadata_item::<Volume>)
                .delete(delete_metadata_item::<Volume>),
        )
        .route(
            "/snapshots/{snapshot_id}/metadata",
            get(show_metadata::<Snapshot>)
                .post(merge_metadata::<Snapshot>)
                .put(replace_metadata::<Snapshot>),
        )
        .route(
            "/snapshots/{snapshot_id}/metadata/{key}",
            get(show_metadata_item::<Snapshot>)
                .put(set_metadata_item::<Snapshot>)
                .delete(delete_metadata_item::<Snapshot>),
        )
        .route("/snapshots", get(list::<Snapshot>).post(create_snapshot))
        .route("/snapshots/detail", get(list_detail::<Snapshot>))
        .route(
            "/snapshots/{snapshot_id}",
            get(show_snapshot)
                .put(update_snapshot)
                .delete(delete_snapshot),
        )
        .route("/backups", get(list::<Backup>).post(create_backup))
        .route("/backups/detail", get(list_detail::<Backup>))
        .route(
            "/backups/{backup_id}",
            get(show_backup).delete(delete_backup),
        )
        .route("/backups/{backup_id}/restore", post(restore_backup))
        .route("/backups/{backup_id}/action", post(backup_action))
        .route(
            "/attachments",
            get(list::<Attachment>).post(create_attachment),
        )
        .route("/attachments/detail", get(list_detail::<Attachment>))
        .route(
            "/attachments/{attachment_id}",
            get(show_attachment)
                .put(update_attachment)
                .delete(delete_attachment),
        )
        .route(
            "/attachments/{attachment_id}/action",
            post(attachment_action),
        )
        .route("/types", get(list_types))
        .route("/types/{type_id}", get(show_type))
        .route("/os-availability-zone", get(availability_zones))
        .route("/limits", get(limits))
        .route(
            "/os-quota-sets/{target_project}",
            get(show_quota_set).put(update_quota_set),
        )
        .route(
            "/os-quota-sets/{target_project}/defaults",
            get(show_quota_defaults),
        );
    let v3 = Router::new()
        .route("/", get(versions_ok))
        .nest("/{project_id}", project)
        .fallback(
            |headers: HeaderMap| async move { unrouted(Service::BlockStorage, false, &headers) },
        )
        .method_not_allowed_fallback(|headers: HeaderMap| async move {
            unrouted(Service::BlockStorage, true, &headers)
        })
        .layer(axum::middleware::from_fn(microversion_layer));
    Router::new()
        .route(
            "/",
            get(versions_root).layer(axum::middleware::from_fn(microversion_layer)),
        )
        .route(
            "/v3/",
            get(versions_ok).layer(axum::middleware::from_fn(microversion_layer)),
        )
        .nest("/v3", v3)
        .fallback(
            |headers: HeaderMap| async move { unrouted(Service::BlockStorage, false, &headers) },
        )
}

fn versions_body(base: &str) -> Value {
    json!({ "versions": [{
        "id": "v3.0",
        "status": "CURRENT",
        "version": format!("3.{MAX_MINOR}"),
        "min_version": "3.0",
        "updated": "2023-08-31T00:00:00Z",
        "links": [
            { "rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/" },
            { "rel": "self", "href": format!("{base}/volume/v3/") },
        ],
        "media-types": [{
            "base": "application/json",
            "type": "application/vnd.openstack.volume+json;version=3",
        }],
    }]})
}

/// GET /volume: 300 Multiple Choices, as Cinder answers its root.
async fn versions_root(State(state): State<SimState>) -> Response {
    let mut response = json_reply(
        StatusCode::MULTIPLE_CHOICES,
        versions_body(state.base_url()),
    );
    let headers = response.headers_mut();
    headers.insert(
        "openstack-api-version",
        HeaderValue::from_static("volume 3.0"),
    );
    headers.insert("vary", HeaderValue::from_static("OpenStack-API-Version"));
    response
}

/// GET /volume/v3/: the same document, 200.
async fn versions_ok(State(state): State<SimState>) -> Response {
    json_reply(StatusCode::OK, versions_body(state.base_url()))
}

/// Reads the requested microversion; none means 3.0. A refusal carries the version text
/// echoed in the reply.
fn negotiate(headers: &HeaderMap) -> Result<Microversion, (Fault, String)> {
    let requested = headers
        .get_all("openstack-api-version")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .find_map(|part| {
            let (service, version) = part.split_once(' ')?;
            service
                .eq_ignore_ascii_case("volume")
                .then(|| version.trim().to_string())
        });
    let Some(requested) = requested else {
        return Ok(Microversion(MIN_MINOR));
    };
    if requested.eq_ignore_ascii_case("latest") {
        return Ok(Microversion(MAX_MINOR));
    }
    let parsed = requested
        .split_once('.')
        .and_then(|(major, minor)| Some((major.parse::<u32>().ok()?, minor.parse::<u32>().ok()?)));
    let Some((major, minor)) = parsed else {
        return Err((
            bad_request(format!(
                "API Version String {requested} is of invalid format. Must be of format \
                 MajorNum.MinorNum."
            )),
            format!("3.{MIN_MINOR}"),
        ));
    };
    if major != 3 || !(MIN_MINOR..=MAX_MINOR).contains(&minor) {
        return Err((
            Fault::new(
                Service::BlockStorage,
                StatusCode::NOT_ACCEPTABLE,
                format!(
                    "Version {requested} is not supported by the API. Minimum is 3.{MIN_MINOR} \
                     and maximum is 3.{MAX_MINOR}."
                ),
            ),
            requested,
        ));
    }
    Ok(Microversion(minor))
}

/// Negotiates the microversion and adds Cinder's response headers (on errors too, not on
/// unrouted paths or bad tokens, which are answered ahead of it).
async fn microversion_layer(mut request: Request, next: Next) -> Response {
    let request_id = request.extensions().get::<RequestId>().cloned();
    // Volume and snapshot deletes (not backup deletes) answer a bare 202.
    let path = request.uri().path();
    let deleting = request.method() == axum::http::Method::DELETE
        && (path.contains("/volumes/") || path.contains("/snapshots/"));
    let (text, mut response) = match negotiate(request.headers()) {
        Ok(version) => {
            request.extensions_mut().insert(version);
            (format!("3.{}", version.0), next.run(request).await)
        }
        Err((fault, echoed)) => (echoed, fault.into_response()),
    };
    let unversioned = response.status() == StatusCode::UNAUTHORIZED
        || response.extensions().get::<NoMicroversion>().is_some();
    if unversioned {
        return response;
    }
    // Cinder's volume and snapshot deletes and metadata reads answer a bare webob response,
    // which its wsgi layer does not stamp with x-compute-request-id.
    let bare = (deleting && response.status() == StatusCode::ACCEPTED)
        || response.extensions().get::<BareReply>().is_some();
    let headers = response.headers_mut();
    if !bare
        && let Some(RequestId(id)) = &request_id
        && let Ok(value) = HeaderValue::from_str(id)
    {
        headers.insert("x-compute-request-id", value);
    }
    if let Ok(value) = HeaderValue::from_str(&format!("volume {text}")) {
        headers.insert("openstack-api-version", value);
    }
    headers.insert("vary", HeaderValue::from_static("OpenStack-API-Version"));
    response
}

/// Marks a reply Cinder makes outside its wsgi serializer (no x-compute-request-id).
#[derive(Clone, Copy, Debug)]
pub(super) struct BareReply;

/// The caller as the data layer sees it.
pub(super) fn actor(state: &SimState, headers: &HeaderMap) -> CResult<Actor> {
    let caller = state.caller(headers, Service::BlockStorage)?;
    let admin = caller.is_admin();
    Ok(Actor {
        project_id: caller.project_id.unwrap_or_default(),
        user_id: caller.user_id,
        admin,
    })
}

/// How long transient statuses last.
pub(super) fn done_at(state: &SimState) -> chrono::DateTime<chrono::Utc> {
    now()
        + chrono::Duration::from_std(state.config().volume_delay)
            .unwrap_or_else(|_| chrono::Duration::zero())
}

pub(super) fn context<'a>(state: &'a SimState, mv: Microversion, actor: &Actor) -> ViewContext<'a> {
    ViewContext {
        base: state.base_url(),
        mv,
        admin: actor.admin,
    }
}

/// Whether an admin asked for every project (`all_tenants`), and then which project only.
pub(super) fn scope<'q>(actor: &Actor, query: &'q [(String, String)]) -> Option<Option<&'q str>> {
    let all = query
        .iter()
        .any(|(k, v)| k == "all_tenants" && !matches!(v.as_str(), "0" | "false" | "False"));
    (actor.admin && all).then(|| {
        query
            .iter()
            .find(|(k, _)| k == "project_id")
            .map(|(_, v)| v.as_str())
    })
}

/// The body's object under `key`, or Cinder's 400 for a malformed body.
pub(super) fn body_object(body: &Bytes, key: &str) -> CResult<Value> {
    let body = parse_json(Service::BlockStorage, body)?;
    body.get(key)
        .filter(|v| v.is_object())
        .cloned()
        .ok_or_else(malformed)
}

/// An optional text field of an update: absent, null, or a string.
pub(super) fn optional_text(input: &Value, key: &str) -> CResult<Option<Option<String>>> {
    match input.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
        Some(other) => Err(invalid_field(
            key,
            other,
            &format!("{other} is not of type 'string', 'null'"),
        )),
    }
}

/// GET /{collection}: a page of what the caller may list (every project's for an admin
/// with `all_tenants`), filtered as Cinder filters it.
async fn list<T: Listed>(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Path(project_id): Path<String>,
    Query(query): Params,
) -> CResult<Response> {
    list_reply::<T>(&state, &headers, mv, &project_id, &query, false)
}

/// GET /{collection}/detail.
async fn list_detail<T: Listed>(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Path(project_id): Path<String>,
    Query(query): Params,
) -> CResult<Response> {
    list_reply::<T>(&state, &headers, mv, &project_id, &query, true)
}

fn list_reply<T: Listed>(
    state: &SimState,
    headers: &HeaderMap,
    mv: Microversion,
    project_id: &str,
    query: &[(String, String)],
    detail: bool,
) -> CResult<Response> {
    T::available(mv)?;
    let actor = actor(state, headers)?;
    let ctx = context(state, mv, &actor);
    let mut world = state.world();
    let settled = match scope(&actor, query) {
        Some(None) => None,
        Some(Some(project)) => Some(project.to_string()),
        None => Some(actor.project_id.clone()),
    };
    world.block_storage.settle(settled.as_deref(), now());
    let data = &world.block_storage;
    let table = T::table(data);
    let rows: Vec<&T> = match &settled {
        None => table.values().collect(),
        Some(project) => table.of_project(project).collect(),
    };
    let (rows, next) = page(rows, query, &actor, mv)?;
    let items = rows
        .into_iter()
        .map(|row| row.view(data, &ctx, detail))
        .collect();
    let suffix = if detail { "/detail" } else { "" };
    let url = format!(
        "{}/volume/v3/{project_id}/{}{suffix}",
        ctx.base,
        T::COLLECTION
    );
    Ok(json_reply(
        StatusCode::OK,
        listing(T::COLLECTION, items, next, &url, query),
    ))
}

async fn create_volume(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    body: Bytes,
) -> CResult<Response> {
    let actor = actor(&state, &headers)?;
    let input = new_volume(&body_object(&body, "volume")?)?;
    if input.backup_id.is_some() && !mv.at_least(47) {
        return Err(bad_request(
            "Invalid input for field/attribute volume. Additional properties are not allowed \
             ('backup_id' was unexpected)",
        ));
    }
    let done_at = done_at(&state);
    let at = now();
    let ctx = context(&state, mv, &actor);
    let mut world = state.world();
    // Glance answers whether the image exists (for the caller) and is active.
    let image_id = input.image_id.clone();
    let image_status = image_id
        .as_deref()
        .and_then(|id| {
            world
                .image
                .visible_status(id, &actor.project_id, actor.admin)
        })
        .map(|status| status == "active");
    let data = &mut world.block_storage;
    data.settle(Some(&actor.project_id), at);
    let id = data.create_volume(
        &actor,
        input,
        |id| image_status.filter(|_| image_id.as_deref() == Some(id)),
        at,
        done_at,
    )?;
    let volume = data.volume(&actor, &id)?;
    Ok(json_reply(
        StatusCode::ACCEPTED,
        json!({ "volume": data.volume_reply(volume, &ctx) }),
    ))
}

async fn show_volume(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Path((_, volume_id)): Path<(String, String)>,
) -> CResult<Response> {
    let actor = actor(&state, &headers)?;
    let ctx = context(&state, mv, &actor);
    let mut world = state.world();
    let data = &mut world.block_storage;
    data.settle(Some(&actor.project_id), now());
    data.settle_volume(&volume_id, now());
    let volume = data.volume(&actor, &volume_id)?;
    Ok(json_reply(
        StatusCode::OK,
        json!({ "volume": data.volume_detail(volume, &ctx) }),
    ))
}

async fn update_volume(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Path((_, volume_id)): Path<(String, String)>,
    body: Bytes,
) -> CResult<Response> {
    let actor = actor(&state, &headers)?;
    let input = body_object(&body, "volume")?;
    let name = optional_text(&input, "name")?;
    let description = optional_text(&input, "description")?;
    let metadata = match input.get("metadata") {
        None => None,
        Some(value) => Some(metadata_from(value)?),
    };
    let ctx = context(&state, mv, &actor);
    let mut world = state.world();
    let data = &mut world.block_storage;
    let at = now();
    data.settle_volume(&volume_id, at);
    data.update_volume(&actor, &volume_id, name, description, metadata, at)?;
    let volume = data.volume(&actor, &volume_id)?;
    Ok(json_reply(
        StatusCode::OK,
        json!({ "volume": data.volume_reply(volume, &ctx) }),
    ))
}

async fn delete_volume(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path((_, volume_id)): Path<(String, String)>,
    Query(query): Params,
) -> CResult<StatusCode> {
    let actor = actor(&state, &headers)?;
    let cascade = query
        .iter()
        .any(|(k, v)| k == "cascade" && matches!(v.as_str(), "true" | "True" | "1"));
    let (at, done_at) = (now(), done_at(&state));
    let mut world = state.world();
    let data = &mut world.block_storage;
    data.settle(Some(&actor.project_id), at);
    data.settle_volume(&volume_id, at);
    data.delete_volume(&actor, &volume_id, cascade, at, done_at)?;
    Ok(StatusCode::ACCEPTED)
}

/// POST /volumes/{id}/action: os-extend, os-set_bootable, os-reset_status, os-attach,
/// os-detach, os-update_readonly_flag (accepted, no effect).
async fn volume_action(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Path((_, volume_id)): Path<(String, String)>,
    body: Bytes,
) -> CResult<Response> {
    let actor = actor(&state, &headers)?;
    let body = parse_json(Service::BlockStorage, &body)?;
    let (action, argument) = body
        .as_object()
        .and_then(|o| o.iter().next())
        .map(|(k, v)| (k.clone(), v.clone()))
        .ok_or_else(malformed)?;
    let at = now();
    let done_at = done_at(&state);
    let mut world = state.world();
    let data = &mut world.block_storage;
    data.settle(Some(&actor.project_id), at);
    data.settle_volume(&volume_id, at);
    match action.as_str() {
        "os-extend" => {
            let new_size = argument
                .get("new_size")
                .ok_or_else(malformed)
                .and_then(|v| positive_size("new_size", v))?;
            data.extend_volume(&actor, &volume_id, new_size, mv.at_least(42), at, done_at)?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "os-set_bootable" => {
            let bootable = match argument.get("bootable") {
                Some(Value::Bool(b)) => *b,
                Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => true,
                Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => false,
                other => {
                    return Err(bad_request(format!(
                        "Invalid value for 'bootable': '{}'.",
                        other.map(Value::to_string).unwrap_or_default()
                    )));
                }
            };
            data.set_bootable(&actor, &volume_id, bootable, at)?;
            Ok(StatusCode::OK.into_response())
        }
        "os-reset_status" => {
            let status = argument
                .get("status")
                .and_then(Value::as_str)
                .ok_or_else(malformed)?;
            data.reset_volume_status(&actor, &volume_id, status, at)?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "os-attach" => {
            let server_id = argument
                .get("instance_uuid")
                .and_then(Value::as_str)
                .ok_or_else(malformed)?;
            let mountpoint = argument
                .get("mountpoint")
                .and_then(Value::as_str)
                .map(str::to_string);
            data.os_attach(&actor, &volume_id, server_id, mountpoint, at)?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "os-detach" => {
            let attachment_id = argument.get("attachment_id").and_then(Value::as_str);
            data.os_detach(&actor, &volume_id, attachment_id, at)?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "os-update_readonly_flag"
        | "os-reserve"
        | "os-unreserve"
        | "os-begin_detaching"
        | "os-roll_detaching" => {
            data.volume(&actor, &volume_id)?;
            Ok(StatusCode::ACCEPTED.into_response())
        }
        _ => Err(bad_request(format!("There is no such action: {action}"))),
    }
}
