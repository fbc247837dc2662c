//! The HTTP face of Glance: routes, the webob error layer, and the handlers of images, their
//! data upload and tags.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use serde_json::Value;

use crate::sim::core::{
    Fault, Service, SimState, WEBOB_UNAUTHORIZED, new_uuid, now, parse_json, webob_error,
};
use crate::sim::wire::json_reply;
use crate::sim::wire::tags as wire_tags;

use super::*;

pub fn routes() -> Router<SimState> {
    Router::new()
        .route("/", get(versions_multiple_choice))
        .route("/versions", get(versions))
        .route("/v2/schemas/image", get(image_schema))
        .route("/v2/images", get(list_images).post(create_image))
        .route(
            "/v2/images/{image_id}",
            get(show_image).patch(update_image).delete(delete_image),
        )
        .route(
            "/v2/images/{image_id}/file",
            put(upload_image).get(download_image),
        )
        .route(
            "/v2/images/{image_id}/tags/{tag}",
            put(add_tag).delete(remove_tag),
        )
        .fallback(|| async { Fault::unknown_path(Service::Image) })
        .method_not_allowed_fallback(|| async { Fault::wrong_method(Service::Image) })
        .layer(axum::middleware::from_fn(webob_layer))
}

/// Glance's errors are webob's: HTML unless the client accepts JSON.
pub(super) async fn webob_layer(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let headers = request.headers().clone();
    let response = next.run(request).await;
    let status = response.status();
    if status.as_u16() < 400 {
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let message = if status == StatusCode::UNAUTHORIZED {
        format!("{WEBOB_UNAUTHORIZED}<br /><br />\n\n\n")
    } else {
        value["message"].as_str().unwrap_or_default().to_string()
    };
    let mut rendered = webob_error(status, &message, &headers);
    for (name, value) in parts.headers.iter() {
        if name != axum::http::header::CONTENT_TYPE && name != axum::http::header::CONTENT_LENGTH {
            rendered.headers_mut().insert(name.clone(), value.clone());
        }
    }
    rendered
}

/// GET /image: Glance answers its root with 300 Multiple Choices.
pub(super) async fn versions_multiple_choice(State(state): State<SimState>) -> Response {
    json_reply(
        StatusCode::MULTIPLE_CHOICES,
        versions_body(state.base_url()),
    )
}

pub(super) async fn versions(State(state): State<SimState>) -> Response {
    json_reply(StatusCode::OK, versions_body(state.base_url()))
}

pub(super) async fn image_schema(
    State(state): State<SimState>,
    headers: HeaderMap,
) -> Result<Response, Fault> {
    state.caller(&headers, Service::Image)?;
    let schema: Value = serde_json::from_str(IMAGE_SCHEMA).map_err(|err| {
        Fault::new(
            Service::Image,
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("The image schema is broken: {err}"),
        )
    })?;
    Ok(json_reply(StatusCode::OK, schema))
}

/// GET /v2/images
pub(super) async fn list_images(
    State(state): State<SimState>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, Fault> {
    let caller = state.caller(&headers, Service::Image)?;
    let world = state.world();
    let body = image_page(&world.image, &caller, &query)?;
    Ok(json_reply(StatusCode::OK, body))
}

/// GET /v2/images/{id}
pub(super) async fn show_image(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(image_id): Path<String>,
) -> Result<Response, Fault> {
    let caller = state.caller(&headers, Service::Image)?;
    let world = state.world();
    let image = world
        .image
        .images
        .iter()
        .find(|i| i.id == image_id && visible(i, &caller))
        .ok_or_else(|| not_found(&image_id))?;
    Ok(json_reply(StatusCode::OK, image_body(image)))
}

/// POST /v2/images: 201, status `queued`.
pub(super) async fn create_image(
    State(state): State<SimState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Fault> {
    let caller = state.caller(&headers, Service::Image)?;
    let project_id = caller
        .project_id
        .clone()
        .ok_or_else(|| forbidden("A project-scoped token is required."))?;
    let body = parse_json(Service::Image, &body)?;
    let input = body
        .as_object()
        .ok_or_else(|| bad_request("Body expected in request."))?;
    let at = now();
    let id = match input.get("id") {
        None => new_uuid(),
        Some(value) => value
            .as_str()
            .filter(|s| uuid::Uuid::parse_str(s).is_ok())
            .map(str::to_string)
            .ok_or_else(|| bad_request(format!("Invalid value '{value}' for attribute 'id'.")))?,
    };
    let mut image = Image {
        id,
        name: None,
        status: "queued".to_string(),
        visibility: "shared".to_string(),
        owner: project_id,
        disk_format: None,
        container_format: None,
        size: None,
        min_disk: 0,
        min_ram: 0,
        protected: false,
        os_hidden: false,
        tags: Vec::new(),
        created_at: at,
        updated_at: at,
        os_hash_value: None,
        checksum: None,
        virtual_size: None,
        properties: BTreeMap::new(),
    };
    for (key, value) in input.iter().filter(|(k, _)| k.as_str() != "id") {
        set_attribute(&mut image, key, Some(value), &caller)?;
    }
    let mut world = state.world();
    if world.image.images.iter().any(|i| i.id == image.id) {
        return Err(Fault::conflict(
            Service::Image,
            format!("An image with identifier {} already exists", image.id),
        ));
    }
    let body = image_body(&image);
    let location = format!("{}/image/v2/images/{}", state.base_url(), image.id);
    world.image.images.push(image);
    let mut response = json_reply(StatusCode::CREATED, body);
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert("location", value);
    }
    Ok(response)
}

/// PATCH /v2/images/{id} with a JSON patch (add / replace / remove of top-level attributes).
pub(super) async fn update_image(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(image_id): Path<String>,
    body: Bytes,
) -> Result<Response, Fault> {
    let caller = state.caller(&headers, Service::Image)?;
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !JSON_PATCH_TYPES
        .iter()
        .any(|media| content_type.starts_with(media))
    {
        return Err(unsupported_media(
            content_type,
            &format!(
                "Image PATCH expects Content-Type one of: {}",
                JSON_PATCH_TYPES.join(", ")
            ),
        ));
    }
    let patch = parse_json(Service::Image, &body)?;
    let operations = patch
        .as_array()
        .ok_or_else(|| bad_request("Request body must be a JSON array of operation objects."))?;
    let mut world = state.world();
    let image = owned_image(&mut world.image.images, &image_id, &caller, "modify_image")?;
    let mut changed = image.clone();
    for operation in operations {
        let op = operation
            .get("op")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let path = operation
            .get("path")
            .and_then(Value::as_str)
            .and_then(|p| p.strip_prefix('/'))
            .filter(|p| !p.is_empty() && !p.contains('/'))
            .ok_or_else(|| bad_request("Invalid JSON pointer for this resource."))?;
        match op {
            "add" | "replace" => {
                let value = operation
                    .get("value")
                    .ok_or_else(|| bad_request("Operation objects must contain 'value'."))?;
                set_attribute(&mut changed, path, Some(value), &caller)?;
            }
            "remove" => set_attribute(&mut changed, path, None, &caller)?,
            other => {
                return Err(bad_request(format!(
                    "Operations must be one of add, remove, replace; got '{other}'."
                )));
            }
        }
    }
    changed.updated_at = now();
    *image = changed;
    Ok(json_reply(StatusCode::OK, image_body(image)))
}

/// DELETE /v2/images/{id}: 204.
pub(super) async fn delete_image(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(image_id): Path<String>,
) -> Result<StatusCode, Fault> {
    let caller = state.caller(&headers, Service::Image)?;
    let mut world = state.world();
    let image = owned_image(&mut world.image.images, &image_id, &caller, "delete_image")?;
    if image.protected {
        return Err(forbidden(format!(
            "Image {image_id} is protected and cannot be deleted."
        )));
    }
    world.image.images.retain(|i| i.id != image_id);
    drop(world);
    if let Ok(dir) = image_files(&state) {
        remove_data(&data::data_path(&dir, &image_id));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// PUT /v2/images/{id}/file: the data is streamed to the image's file (see `data`), its size
/// and hashes computed on the way; the image is `saving` meanwhile, then `active`, or back to
/// `queued` (its partial data gone) when the upload fails or is refused.
pub(super) async fn upload_image(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(image_id): Path<String>,
    body: axum::body::Body,
) -> Result<StatusCode, Fault> {
    let caller = state.caller(&headers, Service::Image)?;
    let path = image_files(&state)
        .map(|dir| data::data_path(&dir, &image_id))
        .map_err(store_fault)?;
    {
        let mut world = state.world();
        let image = owned_image(&mut world.image.images, &image_id, &caller, "upload_image")?;
        if image.status != "queued" {
            return Err(Fault::conflict(
                Service::Image,
                format!(
                    "Image status transition from {} to saving is not allowed",
                    image.status
                ),
            ));
        }
        if image.disk_format.is_none() || image.container_format.is_none() {
            return Err(bad_request(
                "Properties disk_format, container_format must be set prior to saving data.",
            ));
        }
        image.status = "saving".to_string();
        image.updated_at = now();
    }
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_string();
    let corrupt = state.take_upload_corruption();
    let stored = data::store(body, &path, state.config().image_size_cap, corrupt).await;
    let mut world = state.world();
    let Some(image) = world.image.images.iter_mut().find(|i| i.id == image_id) else {
        // Deleted while its data arrived: Glance drops the data and answers 410.
        remove_data(&path);
        return Err(Fault::new(
            Service::Image,
            StatusCode::GONE,
            format!(
                "Image {image_id} could not be found after upload. The image may have been \
                 deleted during the upload, cleaning up the chunks uploaded."
            ),
        ));
    };
    image.updated_at = now();
    match stored {
        Ok(stored) => {
            if let Some(detail) = format_mismatch(image, stored.format) {
                // Glance inspects the data once it is stored, and `_restore`s the image.
                image.status = "queued".to_string();
                remove_data(&path);
                return Err(unsupported_media(&content_type, &detail));
            }
            image.size = Some(stored.size);
            image.virtual_size = Some(stored.virtual_size);
            image.os_hash_value = Some(stored.sha512);
            image.checksum = Some(stored.md5);
            image.status = "active".to_string();
            Ok(StatusCode::NO_CONTENT)
        }
        Err(err) => {
            // Glance's `_restore`: the image goes back to `queued`, ready for another upload.
            image.status = "queued".to_string();
            Err(err.fault())
        }
    }
}

/// GET /v2/images/{id}/file: the data, streamed, with its MD5 in Content-MD5 as Glance sends
/// it; 204 with no body for an image that has none (real Glance does so for a queued image).
pub(super) async fn download_image(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(image_id): Path<String>,
) -> Result<Response, Fault> {
    let caller = state.caller(&headers, Service::Image)?;
    let (checksum, size) = {
        let world = state.world();
        let image = world
            .image
            .images
            .iter()
            .find(|i| i.id == image_id && visible(i, &caller))
            .ok_or_else(|| not_found(&image_id))?;
        (image.checksum.clone(), image.size.unwrap_or_default())
    };
    // Images made without data (the seeded cirros, server snapshots) have no checksum.
    let Some(checksum) = checksum else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let path = image_files(&state)
        .map(|dir| data::data_path(&dir, &image_id))
        .map_err(store_fault)?;
    let body = data::read(&path).await.map_err(store_fault)?;
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(axum::http::header::CONTENT_LENGTH, HeaderValue::from(size));
    if let Ok(value) = HeaderValue::from_str(&checksum) {
        headers.insert("content-md5", value);
    }
    Ok(response)
}

/// The folder of image files.
fn image_files(state: &SimState) -> std::io::Result<std::path::PathBuf> {
    state.files_dir("images")
}

fn store_fault(err: std::io::Error) -> Fault {
    data::StoreError::Io(err).fault()
}

/// Removes an image's data; a file that cannot be removed only costs disk space.
fn remove_data(path: &std::path::Path) {
    if let Err(err) = data::remove(path) {
        tracing::warn!(path = %path.display(), error = %err, "image data not removed");
    }
}

/// PUT /v2/images/{id}/tags/{tag}: 204.
pub(super) async fn add_tag(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path((image_id, tag)): Path<(String, String)>,
) -> Result<StatusCode, Fault> {
    let caller = state.caller(&headers, Service::Image)?;
    let mut world = state.world();
    let image = owned_image(&mut world.image.images, &image_id, &caller, "modify_image")?;
    // Glance sets no limit on an image's tags.
    if wire_tags::add_tag(&mut image.tags, &tag, usize::MAX) == Ok(true) {
        image.updated_at = now();
    }
    Ok(StatusCode::NO_CONTENT)
}

/// DELETE /v2/images/{id}/tags/{tag}: 204, or 404 when the tag is absent.
pub(super) async fn remove_tag(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path((image_id, tag)): Path<(String, String)>,
) -> Result<StatusCode, Fault> {
    let caller = state.caller(&headers, Service::Image)?;
    let mut world = state.world();
    let image = owned_image(&mut world.image.images, &image_id, &caller, "modify_image")?;
    if !wire_tags::remove_tag(&mut image.tags, &tag) {
        return Err(Fault::not_found(
            Service::Image,
            format!("Tag {tag} not found."),
        ));
    }
    image.updated_at = now();
    Ok(StatusCode::NO_CONTENT)
}
