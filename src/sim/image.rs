//! Glance v2 of the embedded cloud: image records, their visibility, tags and properties,
//! uploads (only the size is kept, never the bytes), and the image schema.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::core::{
    Caller, Fault, Service, SimState, WEBOB_UNAUTHORIZED, encode_query_value, new_uuid,
    next_page_query, now, parse_json, webob_error,
};

/// Glance's image schema, as `GET /v2/schemas/image` serves it (copied from glance's api-ref).
const IMAGE_SCHEMA: &str = include_str!("glance-image-schema.json");
const DISK_FORMATS: [&str; 11] = [
    "ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop",
];
const CONTAINER_FORMATS: [&str; 7] = ["ami", "ari", "aki", "bare", "ovf", "ova", "docker"];
const VISIBILITIES: [&str; 4] = ["public", "private", "shared", "community"];
/// Attributes Glance computes itself; a client may not set them.
const READ_ONLY: [&str; 12] = [
    "status",
    "size",
    "virtual_size",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "created_at",
    "updated_at",
    "self",
    "file",
    "schema",
    "direct_url",
];
const DEFAULT_PAGE: usize = 25;
const MAX_PAGE: usize = 1000;

#[derive(Default, Serialize, Deserialize)]
pub struct ImageData {
    images: Vec<Image>,
}

/// What Nova hands Glance when it snapshots a server.
pub struct Snapshot {
    pub name: String,
    pub owner: String,
    pub instance_uuid: String,
    pub base_image_ref: String,
    pub user_id: String,
    pub metadata: BTreeMap<String, String>,
}

#[derive(Clone, Serialize, Deserialize)]
struct Image {
    id: String,
    name: Option<String>,
    status: String,
    visibility: String,
    owner: String,
    disk_format: Option<String>,
    container_format: Option<String>,
    size: Option<u64>,
    min_disk: u64,
    min_ram: u64,
    protected: bool,
    os_hidden: bool,
    tags: Vec<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    /// SHA-512 of the uploaded data, hex (Glance's multihash, `os_hash_algo` sha512).
    #[serde(default)]
    os_hash_value: Option<String>,
    /// MD5 of the uploaded data, hex (Glance's legacy `checksum`).
    #[serde(default)]
    checksum: Option<String>,
    /// Free-form properties (`os_distro`, `hw_*`...), shown at the top level.
    properties: BTreeMap<String, String>,
}

impl ImageData {
    /// The public `cirros` image every devstack has.
    pub fn seed(&mut self, admin_project_id: &str) {
        let at = now();
        self.images.push(Image {
            id: new_uuid(),
            name: Some("cirros".to_string()),
            status: "active".to_string(),
            visibility: "public".to_string(),
            owner: admin_project_id.to_string(),
            disk_format: Some("qcow2".to_string()),
            container_format: Some("bare".to_string()),
            size: Some(21_430_272),
            min_disk: 0,
            min_ram: 0,
            protected: false,
            os_hidden: false,
            tags: Vec::new(),
            created_at: at,
            updated_at: at,
            os_hash_value: None,
            checksum: None,
            properties: BTreeMap::from([
                ("os_distro".to_string(), "cirros".to_string()),
                ("hw_rng_model".to_string(), "virtio".to_string()),
            ]),
        });
    }

    /// Records a server snapshot (Nova's createImage) as an active private image of the
    /// server's project, with the properties Nova sets. Returns the image id.
    pub fn add_snapshot(&mut self, snapshot: Snapshot) -> String {
        let at = now();
        let id = new_uuid();
        let mut properties = snapshot.metadata;
        properties.insert("image_type".to_string(), "snapshot".to_string());
        properties.insert("instance_uuid".to_string(), snapshot.instance_uuid);
        properties.insert("base_image_ref".to_string(), snapshot.base_image_ref);
        properties.insert("user_id".to_string(), snapshot.user_id);
        self.images.push(Image {
            id: id.clone(),
            name: Some(snapshot.name),
            status: "active".to_string(),
            visibility: "private".to_string(),
            owner: snapshot.owner,
            disk_format: Some("qcow2".to_string()),
            container_format: Some("bare".to_string()),
            size: Some(0),
            min_disk: 0,
            min_ram: 0,
            protected: false,
            os_hidden: false,
            tags: Vec::new(),
            created_at: at,
            updated_at: at,
            os_hash_value: None,
            checksum: None,
            properties,
        });
        id
    }

    /// For Nova's boot checks: the status of an image the project may see, or None when it
    /// does not exist or is not visible.
    /// An admin sees every image, as Glance's policy lets Nova's admin-token lookup do.
    pub fn visible_status(&self, image_id: &str, project_id: &str, admin: bool) -> Option<&str> {
        self.images
            .iter()
            .find(|i| i.id == image_id && (admin || visible_to_project(i, project_id)))
            .map(|i| i.status.as_str())
    }
}

fn visible_to_project(image: &Image, project_id: &str) -> bool {
    image.owner == project_id || matches!(image.visibility.as_str(), "public" | "community")
}

fn visible(image: &Image, caller: &Caller) -> bool {
    caller.is_admin()
        || caller
            .project_id
            .as_deref()
            .is_some_and(|p| visible_to_project(image, p))
}

fn owns(image: &Image, caller: &Caller) -> bool {
    caller.is_admin() || caller.project_id.as_deref() == Some(image.owner.as_str())
}

fn glance_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn image_body(image: &Image) -> Value {
    let mut body = Map::new();
    for (key, value) in &image.properties {
        body.insert(key.clone(), json!(value));
    }
    let fixed = json!({
        "id": image.id,
        "name": image.name,
        "status": image.status,
        "visibility": image.visibility,
        "owner": image.owner,
        "disk_format": image.disk_format,
        "container_format": image.container_format,
        "size": image.size,
        // Glance's format inspector reads a raw image's virtual size as its size.
        "virtual_size": image.checksum.as_ref().and(image.size),
        "checksum": image.checksum,
        "os_hash_algo": image.os_hash_value.as_ref().map(|_| "sha512"),
        "os_hash_value": image.os_hash_value,
        "min_disk": image.min_disk,
        "min_ram": image.min_ram,
        "protected": image.protected,
        "os_hidden": image.os_hidden,
        "tags": image.tags,
        "created_at": glance_time(image.created_at),
        "updated_at": glance_time(image.updated_at),
        "self": format!("/v2/images/{}", image.id),
        "file": format!("/v2/images/{}/file", image.id),
        "schema": "/v2/schemas/image",
    });
    if let Value::Object(fixed) = fixed {
        body.extend(fixed);
    }
    // Images with data name the store that holds it.
    if image.checksum.is_some() {
        body.insert("stores".into(), json!("file"));
    }
    Value::Object(body)
}

fn not_found(image_id: &str) -> Fault {
    Fault::not_found(Service::Image, format!("No image found with ID {image_id}"))
}

fn bad_request(message: impl Into<String>) -> Fault {
    Fault::bad_request(Service::Image, message)
}

fn forbidden(message: impl Into<String>) -> Fault {
    Fault::forbidden(Service::Image, message)
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

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
        .route("/v2/images/{image_id}/file", put(upload_image))
        .route(
            "/v2/images/{image_id}/tags/{tag}",
            put(add_tag).delete(remove_tag),
        )
        .fallback(|| async { Fault::unknown_path(Service::Image) })
        .method_not_allowed_fallback(|| async { Fault::wrong_method(Service::Image) })
        .layer(axum::middleware::from_fn(webob_layer))
}

/// Glance's errors are webob's: HTML unless the client accepts JSON.
async fn webob_layer(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
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

fn versions_body(base: &str) -> Value {
    // Glance 33 with one file store and no image cache: 2.14 and 2.16 (cache API) are not
    // offered, 2.17 is current.
    let versions: Vec<Value> = (0..=17)
        .rev()
        .filter(|minor| !matches!(minor, 14 | 16))
        .map(|minor| {
            json!({
                "id": format!("v2.{minor}"),
                "links": [{ "href": format!("{base}/image/v2/"), "rel": "self" }],
                "status": if minor == 17 { "CURRENT" } else { "SUPPORTED" },
            })
        })
        .collect();
    json!({ "versions": versions })
}

/// GET /image: Glance answers its root with 300 Multiple Choices.
async fn versions_multiple_choice(State(state): State<SimState>) -> Response {
    json_response(
        StatusCode::MULTIPLE_CHOICES,
        versions_body(state.base_url()),
    )
}

async fn versions(State(state): State<SimState>) -> Response {
    json_response(StatusCode::OK, versions_body(state.base_url()))
}

async fn image_schema(
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
    Ok(json_response(StatusCode::OK, schema))
}

/// GET /v2/images
async fn list_images(
    State(state): State<SimState>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, Fault> {
    let caller = state.caller(&headers, Service::Image)?;
    let get = |key: &str| {
        query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let limit = match get("limit") {
        None => DEFAULT_PAGE,
        Some(text) => text
            .parse::<usize>()
            .map_err(|_| bad_request("limit param must be an integer"))?
            .min(MAX_PAGE),
    };
    let visibility = get("visibility");
    if let Some(v) = visibility
        && v != "all"
        && !VISIBILITIES.contains(&v)
    {
        return Err(bad_request(format!("Invalid visibility value: {v}")));
    }
    let world = state.world();
    let mut images: Vec<&Image> = world
        .image
        .images
        .iter()
        .filter(|i| visible(i, &caller))
        .filter(|i| match visibility {
            // Community images are listed only when asked for, as in Glance.
            None => i.visibility != "community",
            Some("all") => true,
            Some(v) => i.visibility == v,
        })
        .filter(|i| {
            query.iter().all(|(key, value)| match key.as_str() {
                "name" => i.name.as_deref() == Some(value.as_str()),
                "status" => i.status == *value,
                "owner" => i.owner == *value,
                "tag" => i.tags.contains(value),
                "disk_format" => i.disk_format.as_deref() == Some(value.as_str()),
                "container_format" => i.container_format.as_deref() == Some(value.as_str()),
                "os_hidden" => i.os_hidden == (value == "true"),
                _ => true,
            })
        })
        .filter(|i| get("os_hidden").is_some() || !i.os_hidden)
        .collect();
    images.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    if let Some(marker) = get("marker") {
        let position = images.iter().position(|i| i.id == marker).ok_or_else(|| {
            bad_request(format!(
                "Invalid marker. Image {marker} could not be found."
            ))
        })?;
        images.drain(..=position);
    }
    images.truncate(limit);
    // Glance, like Nova, offers a next page whenever this one is full.
    let full = !images.is_empty() && images.len() == limit;
    // `first` is the request's own query without its marker.
    let first_query: Vec<String> = query
        .iter()
        .filter(|(key, _)| key != "marker")
        .map(|(key, value)| format!("{}={}", encode_query_value(key), encode_query_value(value)))
        .collect();
    let first = if first_query.is_empty() {
        "/v2/images".to_string()
    } else {
        format!("/v2/images?{}", first_query.join("&"))
    };
    let mut body = json!({
        "images": images.iter().map(|i| image_body(i)).collect::<Vec<_>>(),
        "first": first,
        "schema": "/v2/schemas/images",
    });
    if full && let Some(last) = images.last() {
        let query = next_page_query(&query, &last.id);
        body["next"] = json!(format!("/v2/images?{query}"));
    }
    Ok(json_response(StatusCode::OK, body))
}

/// GET /v2/images/{id}
async fn show_image(
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
    Ok(json_response(StatusCode::OK, image_body(image)))
}

/// Sets one attribute from a create body or a patch; `None` removes a free property.
fn set_attribute(
    image: &mut Image,
    key: &str,
    value: Option<&Value>,
    caller: &Caller,
) -> Result<(), Fault> {
    if READ_ONLY.contains(&key) || key == "id" || key == "owner" && !caller.is_admin() {
        return Err(forbidden(format!("Attribute '{key}' is read-only.")));
    }
    let text = |value: Option<&Value>| -> Result<Option<String>, Fault> {
        match value {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(bad_request(format!(
                "Invalid value '{other}' for attribute '{key}': it must be a string."
            ))),
        }
    };
    let number = |value: Option<&Value>| -> Result<u64, Fault> {
        value.and_then(Value::as_u64).ok_or_else(|| {
            bad_request(format!(
                "Invalid value for attribute '{key}': it must be an integer >= 0."
            ))
        })
    };
    match key {
        "name" => image.name = text(value)?,
        "owner" => image.owner = text(value)?.unwrap_or_default(),
        "disk_format" => {
            let format = text(value)?;
            if let Some(f) = &format
                && !DISK_FORMATS.contains(&f.as_str())
            {
                return Err(bad_request(format!(
                    "Invalid value '{f}' for parameter 'disk_format': valid values are {}.",
                    DISK_FORMATS.join(", ")
                )));
            }
            image.disk_format = format;
        }
        "container_format" => {
            let format = text(value)?;
            if let Some(f) = &format
                && !CONTAINER_FORMATS.contains(&f.as_str())
            {
                return Err(bad_request(format!(
                    "Invalid value '{f}' for parameter 'container_format': valid values are {}.",
                    CONTAINER_FORMATS.join(", ")
                )));
            }
            image.container_format = format;
        }
        "visibility" => {
            let visibility = text(value)?.unwrap_or_default();
            if !VISIBILITIES.contains(&visibility.as_str()) {
                return Err(bad_request(format!(
                    "Invalid visibility value: {visibility}"
                )));
            }
            if visibility == "public" && !caller.is_admin() {
                return Err(forbidden(
                    "You are not authorized to complete publicize_image action.",
                ));
            }
            image.visibility = visibility;
        }
        "min_disk" => image.min_disk = number(value)?,
        "min_ram" => image.min_ram = number(value)?,
        "protected" | "os_hidden" => {
            let flag = value.and_then(Value::as_bool).ok_or_else(|| {
                bad_request(format!(
                    "Invalid value for attribute '{key}': it must be a boolean."
                ))
            })?;
            if key == "protected" {
                image.protected = flag;
            } else {
                image.os_hidden = flag;
            }
        }
        "tags" => {
            let tags = value.and_then(Value::as_array).ok_or_else(|| {
                bad_request("Invalid value for attribute 'tags': it must be a list of strings.")
            })?;
            let mut list = Vec::new();
            for tag in tags {
                let tag = tag.as_str().ok_or_else(|| {
                    bad_request("Invalid value for attribute 'tags': it must be a list of strings.")
                })?;
                if !list.iter().any(|t: &String| t == tag) {
                    list.push(tag.to_string());
                }
            }
            image.tags = list;
        }
        _ => match text(value)? {
            Some(property) => {
                image.properties.insert(key.to_string(), property);
            }
            None => {
                image.properties.remove(key);
            }
        },
    }
    Ok(())
}

/// POST /v2/images: 201, status `queued`.
async fn create_image(
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
    let mut response = json_response(StatusCode::CREATED, body);
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert("location", value);
    }
    Ok(response)
}

/// Finds an image the caller may change: 404 when invisible, 403 when not its owner.
fn owned_image<'a>(
    images: &'a mut [Image],
    image_id: &str,
    caller: &Caller,
    action: &str,
) -> Result<&'a mut Image, Fault> {
    let image = images
        .iter_mut()
        .find(|i| i.id == image_id && visible(i, caller))
        .ok_or_else(|| not_found(image_id))?;
    if !owns(image, caller) {
        return Err(forbidden(format!(
            "You are not authorized to complete {action} action."
        )));
    }
    Ok(image)
}

/// PATCH /v2/images/{id} with a JSON patch (add / replace / remove of top-level attributes).
async fn update_image(
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
    if !content_type.starts_with("application/openstack-images-v2.1-json-patch") {
        return Err(Fault::new(
            Service::Image,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Unsupported Content-Type {content_type}"),
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
    Ok(json_response(StatusCode::OK, image_body(image)))
}

/// DELETE /v2/images/{id}: 204.
async fn delete_image(
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
    Ok(StatusCode::NO_CONTENT)
}

/// PUT /v2/images/{id}/file: the data is streamed through (any size) and only its size and
/// SHA-512 are kept; the image is `saving` meanwhile, then `active`.
async fn upload_image(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(image_id): Path<String>,
    body: axum::body::Body,
) -> Result<StatusCode, Fault> {
    let caller = state.caller(&headers, Service::Image)?;
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
    let received = receive(body).await;
    let mut world = state.world();
    let image = world
        .image
        .images
        .iter_mut()
        .find(|i| i.id == image_id)
        .ok_or_else(|| not_found(&image_id))?;
    match received {
        Ok((size, digest, checksum)) => {
            image.size = Some(size);
            image.os_hash_value = Some(digest);
            image.checksum = Some(checksum);
            image.status = "active".to_string();
            image.updated_at = now();
            Ok(StatusCode::NO_CONTENT)
        }
        Err(err) => {
            // Glance puts an image whose upload broke back to `queued`, ready for a retry.
            image.status = "queued".to_string();
            image.updated_at = now();
            Err(bad_request(format!(
                "Error in store: the upload was interrupted: {err}"
            )))
        }
    }
}

/// Reads a request body to its end: its size and SHA-512 (hex).
/// Size, SHA-512 and MD5 (hex) of the streamed data.
async fn receive(mut body: axum::body::Body) -> Result<(u64, String, String), axum::Error> {
    use axum::body::HttpBody;
    let mut size = 0u64;
    let mut digest = ring::digest::Context::new(&ring::digest::SHA512);
    let mut md5 = super::md5::Md5::default();
    while let Some(frame) =
        std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await
    {
        if let Some(data) = frame?.data_ref() {
            size += data.len() as u64;
            digest.update(data);
            md5.update(data);
        }
    }
    let hex = digest
        .finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok((size, hex, md5.hex()))
}

/// PUT /v2/images/{id}/tags/{tag}: 204.
async fn add_tag(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path((image_id, tag)): Path<(String, String)>,
) -> Result<StatusCode, Fault> {
    let caller = state.caller(&headers, Service::Image)?;
    let mut world = state.world();
    let image = owned_image(&mut world.image.images, &image_id, &caller, "modify_image")?;
    if !image.tags.contains(&tag) {
        image.tags.push(tag);
        image.updated_at = now();
    }
    Ok(StatusCode::NO_CONTENT)
}

/// DELETE /v2/images/{id}/tags/{tag}: 204, or 404 when the tag is absent.
async fn remove_tag(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path((image_id, tag)): Path<(String, String)>,
) -> Result<StatusCode, Fault> {
    let caller = state.caller(&headers, Service::Image)?;
    let mut world = state.world();
    let image = owned_image(&mut world.image.images, &image_id, &caller, "modify_image")?;
    if !image.tags.contains(&tag) {
        return Err(Fault::not_found(
            Service::Image,
            format!("Tag {tag} not found."),
        ));
    }
    image.tags.retain(|t| *t != tag);
    image.updated_at = now();
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_schema_is_glances_image_schema() {
        let schema: Value = serde_json::from_str(IMAGE_SCHEMA).unwrap_or_default();
        assert_eq!(schema["name"], json!("image"));
        assert_eq!(schema["properties"]["visibility"]["type"], json!("string"));
    }

    #[test]
    fn free_properties_are_shown_at_the_top_level() {
        let mut data = ImageData::default();
        data.seed("p1");
        let body = image_body(&data.images[0]);
        assert_eq!(body["os_distro"], json!("cirros"));
        assert_eq!(body["status"], json!("active"));
        assert_eq!(
            data.visible_status(&data.images[0].id, "other", false),
            Some("active")
        );
    }
}
