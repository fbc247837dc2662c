//! Nova v2.1 of the embedded cloud: servers (lifecycle, metadata, tags), flavors, quota sets,
//! limits, availability zones and microversion negotiation.
//!
//! Server status is derived from timestamps: an action records when it completes and which
//! state it leads to, and every read settles what has completed by then. So a restart in the
//! middle of a build resumes exactly where the clock says it is. Ports, addresses and security
//! groups belong to Neutron and are reached only through `NetworkData`'s server seam.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::core::{
    Caller, Fault, NoMicroversion, RequestId, Service, SimState, World, encode_query_value,
    new_uuid, next_page_query, now, parse_json, unrouted,
};
use super::network::{NicError, ServerNic};

const MIN_MINOR: u32 = 1;
const MAX_MINOR: u32 = 96;
const MAX_PAGE: usize = 1000;
const MAX_SERVER_TAGS: usize = 50;
const AVAILABILITY_ZONE: &str = "nova";
const HOST: &str = "stackform-sim";

/// The negotiated compute microversion, 2.<minor>.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Microversion(u32);

impl Microversion {
    fn at_least(self, minor: u32) -> bool {
        self.0 >= minor
    }
}

#[derive(Default, Serialize, Deserialize)]
pub struct ComputeData {
    flavors: Vec<Flavor>,
    servers: Vec<Server>,
    /// Per-project limits set through os-quota-sets; absent projects use the defaults.
    quotas: BTreeMap<String, Quota>,
    /// Numbers instance names (instance-0000000N) as Nova does.
    next_instance_index: u64,
}

#[derive(Clone, Serialize, Deserialize)]
struct Flavor {
    id: String,
    name: String,
    vcpus: i64,
    ram: i64,
    disk: i64,
}

#[derive(Clone, Serialize, Deserialize)]
struct Server {
    id: String,
    name: String,
    description: Option<String>,
    project_id: String,
    user_id: String,
    image_id: String,
    /// A copy, as Nova keeps the instance's flavor even if the flavor is deleted later.
    flavor: Flavor,
    key_name: Option<String>,
    metadata: BTreeMap<String, String>,
    tags: Vec<String>,
    /// Requested security group names (the ports carry the real ones).
    security_groups: Vec<String>,
    /// Whether Neutron holds ports for this server (false for `networks: "none"`).
    has_ports: bool,
    instance_index: u64,
    vm_state: String,
    task_state: Option<String>,
    power_state: u8,
    pending: Option<Pending>,
    created: DateTime<Utc>,
    updated: DateTime<Utc>,
    launched_at: Option<DateTime<Utc>>,
    /// The fault message of a server in ERROR.
    #[serde(default)]
    fault: Option<String>,
}

/// An action in progress: when it completes and what it leads to.
#[derive(Clone, Serialize, Deserialize)]
struct Pending {
    done_at: DateTime<Utc>,
    vm_state: String,
    power_state: u8,
    /// For a build that fails: the fault message the server shows in ERROR.
    #[serde(default)]
    fault: Option<String>,
}

/// Why a build failed: the scheduler found no host, as Nova says it.
const NO_VALID_HOST: &str = "No valid host was found. There are not enough hosts available.";

const POWER_NOSTATE: u8 = 0;
const POWER_RUNNING: u8 = 1;
const POWER_SHUTDOWN: u8 = 4;

impl Server {
    /// Applies a pending transition whose time has come.
    fn settle(&mut self, at: DateTime<Utc>) {
        // A reboot's second half: the driver has started it (Nova's rebooting, reboot_pending,
        // reboot_started; `updated` is when the action began).
        if let Some(pending) = &self.pending
            && pending.done_at > at
            && at >= self.updated + (pending.done_at - self.updated) / 2
        {
            match self.task_state.as_deref() {
                Some("rebooting") => self.task_state = Some("reboot_started".into()),
                Some("rebooting_hard") => self.task_state = Some("reboot_started_hard".into()),
                _ => {}
            }
        }
        if let Some(pending) = &self.pending
            && pending.done_at <= at
        {
            self.vm_state = pending.vm_state.clone();
            self.power_state = pending.power_state;
            self.fault = pending.fault.clone();
            self.task_state = None;
            self.updated = pending.done_at;
            if self.launched_at.is_none() && self.vm_state == "active" {
                self.launched_at = Some(pending.done_at);
            }
            self.pending = None;
        }
    }

    /// Nova's `status` from vm_state and task_state (nova/api/openstack/common.py _STATE_MAP).
    fn status(&self) -> &'static str {
        match (self.vm_state.as_str(), self.task_state.as_deref()) {
            ("building", _) => "BUILD",
            ("active", Some("rebooting") | Some("reboot_pending") | Some("reboot_started")) => {
                "REBOOT"
            }
            (
                "active" | "stopped",
                Some("rebooting_hard") | Some("reboot_pending_hard") | Some("reboot_started_hard"),
            ) => "HARD_REBOOT",
            ("active", _) => "ACTIVE",
            ("stopped", _) => "SHUTOFF",
            ("error", _) => "ERROR",
            ("deleted", _) => "DELETED",
            _ => "UNKNOWN",
        }
    }

    /// Nova's reservation id (r-xxxxxxxx), stable for the server.
    fn reservation_id(&self) -> String {
        let hex: String = self
            .id
            .chars()
            .filter(char::is_ascii_hexdigit)
            .take(8)
            .collect();
        format!("r-{hex}")
    }

    fn start_action(&mut self, task: &str, done_at: DateTime<Utc>, vm_state: &str, power: u8) {
        let at = now();
        self.task_state = Some(task.to_string());
        self.updated = at;
        self.pending = Some(Pending {
            done_at,
            vm_state: vm_state.to_string(),
            power_state: power,
            fault: None,
        });
    }
}

#[derive(Clone, Copy, Serialize, Deserialize)]
struct Quota {
    instances: i64,
    cores: i64,
    ram: i64,
    key_pairs: i64,
    metadata_items: i64,
    server_groups: i64,
    server_group_members: i64,
}

impl Default for Quota {
    /// Nova's defaults.
    fn default() -> Self {
        Quota {
            instances: 10,
            cores: 20,
            ram: 51200,
            key_pairs: 100,
            metadata_items: 128,
            server_groups: 10,
            server_group_members: 10,
        }
    }
}

const QUOTA_KEYS: [&str; 7] = [
    "cores",
    "instances",
    "key_pairs",
    "metadata_items",
    "ram",
    "server_groups",
    "server_group_members",
];

impl Quota {
    fn get(&self, key: &str) -> i64 {
        match key {
            "instances" => self.instances,
            "cores" => self.cores,
            "ram" => self.ram,
            "key_pairs" => self.key_pairs,
            "metadata_items" => self.metadata_items,
            "server_groups" => self.server_groups,
            _ => self.server_group_members,
        }
    }
    fn set(&mut self, key: &str, value: i64) {
        match key {
            "instances" => self.instances = value,
            "cores" => self.cores = value,
            "ram" => self.ram = value,
            "key_pairs" => self.key_pairs = value,
            "metadata_items" => self.metadata_items = value,
            "server_groups" => self.server_groups = value,
            _ => self.server_group_members = value,
        }
    }
}

/// What a project currently uses.
#[derive(Default)]
struct Usage {
    instances: i64,
    cores: i64,
    ram: i64,
}

impl Usage {
    fn get(&self, key: &str) -> i64 {
        match key {
            "instances" => self.instances,
            "cores" => self.cores,
            "ram" => self.ram,
            _ => 0,
        }
    }
}

impl ComputeData {
    /// Devstack's flavors m1.tiny to m1.large, with its ids 1 to 4.
    pub fn seed(&mut self) {
        for (id, name, vcpus, ram, disk) in [
            ("1", "m1.tiny", 1, 512, 1),
            ("2", "m1.small", 1, 2048, 20),
            ("3", "m1.medium", 2, 4096, 40),
            ("4", "m1.large", 4, 8192, 80),
        ] {
            self.flavors.push(Flavor {
                id: id.to_string(),
                name: name.to_string(),
                vcpus,
                ram,
                disk,
            });
        }
    }

    fn quota(&self, project_id: &str) -> Quota {
        self.quotas.get(project_id).copied().unwrap_or_default()
    }

    fn usage(&self, project_id: &str) -> Usage {
        let mut usage = Usage::default();
        for server in self.servers.iter().filter(|s| s.project_id == project_id) {
            usage.instances += 1;
            usage.cores += server.flavor.vcpus;
            usage.ram += server.flavor.ram;
        }
        usage
    }

    fn settle_all(&mut self, at: DateTime<Utc>) {
        for server in &mut self.servers {
            server.settle(at);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Faults and small helpers

fn fault(status: StatusCode, message: impl Into<String>) -> Fault {
    Fault::new(Service::Compute, status, message)
}

fn bad_request(message: impl Into<String>) -> Fault {
    fault(StatusCode::BAD_REQUEST, message)
}

fn server_not_found(server_id: &str) -> Fault {
    fault(
        StatusCode::NOT_FOUND,
        format!("Instance {server_id} could not be found."),
    )
}

fn resource_not_found() -> Fault {
    fault(StatusCode::NOT_FOUND, "The resource could not be found.")
}

fn policy_forbids(rule: &str) -> Fault {
    fault(
        StatusCode::FORBIDDEN,
        format!("Policy doesn't allow {rule} to be performed."),
    )
}

/// nova/api/openstack/common.py raise_http_conflict_for_instance_invalid_state.
fn invalid_state(action: &str, server: &Server) -> Fault {
    let (attribute, state) = match &server.task_state {
        Some(task) => ("task_state", task.clone()),
        None => ("vm_state", server.vm_state.clone()),
    };
    fault(
        StatusCode::CONFLICT,
        format!(
            "Cannot '{action}' instance {} while it is in {attribute} {state}",
            server.id
        ),
    )
}

fn invalid_field(field: &str, value: &Value, reason: &str) -> Fault {
    bad_request(format!(
        "Invalid input for field/attribute {field}. Value: {value}. {reason}"
    ))
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// Nova's timestamps: seconds and a Z.
fn nova_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Nova's launched_at: microseconds, no zone.
fn nova_usage_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

/// A reference may be an id or a link whose last segment is the id.
fn id_from_ref(reference: &str) -> &str {
    reference.rsplit('/').next().unwrap_or(reference)
}

fn query_value<'a>(query: &'a [(String, String)], key: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Nova's `hostId`: a stable hash of project and host, so a project's servers agree.
fn host_id(project_id: &str) -> String {
    let mut out = String::new();
    for salt in 0..4u8 {
        let mut hasher = DefaultHasher::new();
        (project_id, HOST, salt).hash(&mut hasher);
        out.push_str(&format!("{:016x}", hasher.finish()));
    }
    out.truncate(56);
    out
}

/// Nova's tag rules: 1 to 60 characters, no '/' and no ','.
fn valid_server_tag(tag: &str) -> Result<String, Fault> {
    if tag.is_empty() || tag.chars().count() > 60 || tag.contains('/') || tag.contains(',') {
        return Err(invalid_field(
            "tags",
            &json!(tag),
            "Tags are 1 to 60 characters long and contain neither '/' nor ','.",
        ));
    }
    Ok(tag.to_string())
}

fn tags_from(value: &Value) -> Result<Vec<String>, Fault> {
    let list = value
        .as_array()
        .ok_or_else(|| invalid_field("tags", value, "It is not of type 'array'."))?;
    let mut tags: Vec<String> = Vec::new();
    for tag in list {
        let tag = tag
            .as_str()
            .ok_or_else(|| invalid_field("tags", value, "Tags are strings."))?;
        let tag = valid_server_tag(tag)?;
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    if tags.len() > MAX_SERVER_TAGS {
        return Err(bad_request(format!(
            "The number of tags exceeded the per-server limit {MAX_SERVER_TAGS}"
        )));
    }
    Ok(tags)
}

fn metadata_from(value: &Value, field: &str) -> Result<BTreeMap<String, String>, Fault> {
    let object = value
        .as_object()
        .ok_or_else(|| invalid_field(field, value, "It is not of type 'object'."))?;
    let mut metadata = BTreeMap::new();
    for (key, item) in object {
        if key.is_empty() || key.chars().count() > 255 {
            return Err(invalid_field(
                field,
                value,
                "Metadata keys are 1 to 255 characters long.",
            ));
        }
        let item = item
            .as_str()
            .filter(|s| s.chars().count() <= 255)
            .ok_or_else(|| {
                invalid_field(
                    field,
                    value,
                    "Metadata values are strings of at most 255 characters.",
                )
            })?;
        metadata.insert(key.clone(), item.to_string());
    }
    Ok(metadata)
}

fn check_metadata_quota(quota: &Quota, count: usize) -> Result<(), Fault> {
    if quota.metadata_items >= 0 && count as i64 > quota.metadata_items {
        return Err(fault(
            StatusCode::FORBIDDEN,
            // nova/exception.py MetadataLimitExceeded, answered 403 by the servers API.
            format!(
                "Maximum number of metadata items exceeds {}",
                quota.metadata_items
            ),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Routes and microversions

pub fn routes() -> Router<SimState> {
    let v21 = Router::new()
        .route("/", get(version))
        .route("/servers", get(list_servers).post(create_server))
        .route("/servers/detail", get(list_servers_detail))
        .route(
            "/servers/{server_id}",
            get(show_server).put(update_server).delete(delete_server),
        )
        .route("/servers/{server_id}/action", post(server_action))
        .route(
            "/servers/{server_id}/metadata",
            get(list_metadata)
                .put(replace_metadata)
                .post(merge_metadata),
        )
        .route(
            "/servers/{server_id}/metadata/{key}",
            get(show_metadata_item)
                .put(set_metadata_item)
                .delete(delete_metadata_item),
        )
        .route(
            "/servers/{server_id}/tags",
            get(list_server_tags)
                .put(replace_server_tags)
                .delete(clear_server_tags),
        )
        .route(
            "/servers/{server_id}/tags/{tag}",
            get(check_server_tag)
                .put(add_server_tag)
                .delete(remove_server_tag),
        )
        .route("/flavors", get(list_flavors))
        .route("/flavors/detail", get(list_flavors_detail))
        .route("/flavors/{flavor_id}", get(show_flavor))
        .route(
            "/flavors/{flavor_id}/os-extra_specs",
            get(flavor_extra_specs),
        )
        .route(
            "/os-quota-sets/{project_id}",
            get(show_quota).put(update_quota).delete(reset_quota),
        )
        .route("/os-quota-sets/{project_id}/detail", get(show_quota_detail))
        .route(
            "/os-quota-sets/{project_id}/defaults",
            get(show_quota_defaults),
        )
        .route("/limits", get(limits))
        .route("/os-availability-zone", get(availability_zones))
        .route(
            "/os-availability-zone/detail",
            get(availability_zones_detail),
        )
        .route("/os-keypairs", get(keypairs))
        .fallback(|headers: HeaderMap| async move { unrouted(Service::Compute, false, &headers) })
        .method_not_allowed_fallback(|headers: HeaderMap| async move {
            unrouted(Service::Compute, true, &headers)
        })
        .layer(axum::middleware::from_fn(microversion_layer));
    Router::new()
        .route("/", get(versions))
        .route(
            "/v2.1/",
            get(version).layer(axum::middleware::from_fn(microversion_layer)),
        )
        .nest("/v2.1", v21)
        .fallback(|headers: HeaderMap| async move { unrouted(Service::Compute, false, &headers) })
}

/// The deprecated v2.0 API Nova still lists beside v2.1.
fn legacy_version_value(base: &str) -> Value {
    json!({
        "id": "v2.0",
        "links": [{ "href": format!("{base}/compute/v2/"), "rel": "self" }],
        "status": "DEPRECATED",
        "version": "",
        "min_version": "",
        "updated": "2025-07-04T12:00:00Z",
    })
}

fn version_value(base: &str) -> Value {
    json!({
        "id": "v2.1",
        "links": [{ "href": format!("{base}/compute/v2.1/"), "rel": "self" }],
        "status": "CURRENT",
        "version": format!("2.{MAX_MINOR}"),
        "min_version": format!("2.{MIN_MINOR}"),
        "updated": "2013-07-23T11:33:21Z",
    })
}

/// GET /compute/
async fn versions(State(state): State<SimState>) -> Response {
    json_response(
        StatusCode::OK,
        json!({ "versions": [legacy_version_value(state.base_url()), version_value(state.base_url())] }),
    )
}

/// GET /compute/v2.1
async fn version(State(state): State<SimState>) -> Response {
    let mut version = version_value(state.base_url());
    version["links"] = json!([
        { "href": format!("{}/compute/v2.1/", state.base_url()), "rel": "self" },
        { "href": "http://docs.openstack.org/", "rel": "describedby", "type": "text/html" },
    ]);
    version["media-types"] = json!([{
        "base": "application/json",
        "type": "application/vnd.openstack.compute+json;version=2.1",
    }]);
    json_response(StatusCode::OK, json!({ "version": version }))
}

/// Reads the requested microversion; no header means 2.1. A refusal carries the version text
/// Nova echoes in its headers: the requested one when it is out of range.
fn negotiate(headers: &HeaderMap) -> Result<Microversion, (Fault, String)> {
    let modern = headers
        .get_all("openstack-api-version")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .find_map(|part| {
            let (service, version) = part.split_once(' ')?;
            service
                .eq_ignore_ascii_case("compute")
                .then(|| version.trim().to_string())
        });
    let legacy = headers
        .get("x-openstack-nova-api-version")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string());
    let Some(requested) = modern.or(legacy) else {
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
            format!("2.{MIN_MINOR}"),
        ));
    };
    if major != 2 || !(MIN_MINOR..=MAX_MINOR).contains(&minor) {
        return Err((
            fault(
                StatusCode::NOT_ACCEPTABLE,
                format!(
                    "Version {requested} is not supported by the API. Minimum is 2.{MIN_MINOR} \
                     and maximum is 2.{MAX_MINOR}."
                ),
            ),
            requested,
        ));
    }
    Ok(Microversion(minor))
}

/// Negotiates the microversion and adds Nova's response headers (on errors too).
async fn microversion_layer(mut request: Request, next: Next) -> Response {
    let request_id = request.extensions().get::<RequestId>().cloned();
    let negotiated = negotiate(request.headers());
    let (text, mut response) = match negotiated {
        Ok(version) => {
            request.extensions_mut().insert(version);
            (format!("2.{}", version.0), next.run(request).await)
        }
        Err((fault, echoed)) => (echoed, fault.into_response()),
    };
    // A bad token is refused by keystonemiddleware, and an unknown path by the routes
    // mapper, both ahead of Nova's microversion handling.
    let unversioned = response.status() == StatusCode::UNAUTHORIZED
        || response.extensions().get::<NoMicroversion>().is_some();
    let headers = response.headers_mut();
    if let Some(RequestId(id)) = &request_id
        && let Ok(value) = HeaderValue::from_str(id)
    {
        headers.insert("x-compute-request-id", value);
    }
    if unversioned {
        return response;
    }
    if let Ok(value) = HeaderValue::from_str(&format!("compute {text}")) {
        headers.insert("openstack-api-version", value);
    }
    if let Ok(value) = HeaderValue::from_str(&text) {
        headers.insert("x-openstack-nova-api-version", value);
    }
    headers.insert(
        "vary",
        HeaderValue::from_static("OpenStack-API-Version, X-OpenStack-Nova-API-Version"),
    );
    response
}

fn project_of(caller: &Caller) -> Result<String, Fault> {
    caller
        .project_id
        .clone()
        .ok_or_else(|| fault(StatusCode::FORBIDDEN, "A project-scoped token is required."))
}

// ---------------------------------------------------------------------------------------------
// Server views

fn server_links(base: &str, id: &str) -> Value {
    json!([
        { "href": format!("{base}/compute/v2.1/servers/{id}"), "rel": "self" },
        { "href": format!("{base}/compute/servers/{id}"), "rel": "bookmark" },
    ])
}

fn server_summary(server: &Server, base: &str) -> Value {
    json!({ "id": server.id, "name": server.name, "links": server_links(base, &server.id) })
}

fn server_detail(
    world: &World,
    server: &Server,
    base: &str,
    mv: Microversion,
    caller: &Caller,
) -> Value {
    let (addresses, security_groups) = if server.has_ports {
        let groups: Vec<Value> = world
            .network
            .server_security_groups(&server.id)
            .into_iter()
            .map(|name| json!({ "name": name }))
            .collect();
        (world.network.server_addresses(&server.id), groups)
    } else {
        (json!({}), Vec::new())
    };
    let flavor = if mv.at_least(47) {
        json!({
            "vcpus": server.flavor.vcpus,
            "ram": server.flavor.ram,
            "disk": server.flavor.disk,
            "ephemeral": 0,
            "swap": 0,
            "original_name": server.flavor.name,
            "extra_specs": {},
        })
    } else {
        json!({
            "id": server.flavor.id,
            "links": [{ "href": format!("{base}/compute/flavors/{}", server.flavor.id), "rel": "bookmark" }],
        })
    };
    let scheduled = server.vm_state != "building";
    let mut body = json!({
        "id": server.id,
        "name": server.name,
        "status": server.status(),
        "tenant_id": server.project_id,
        "user_id": server.user_id,
        "metadata": server.metadata,
        "hostId": if scheduled { host_id(&server.project_id) } else { String::new() },
        "image": {
            "id": server.image_id,
            "links": [{ "href": format!("{base}/compute/images/{}", server.image_id), "rel": "bookmark" }],
        },
        "flavor": flavor,
        "created": nova_time(server.created),
        "updated": nova_time(server.updated),
        "addresses": addresses,
        "accessIPv4": "",
        "accessIPv6": "",
        "links": server_links(base, &server.id),
        "key_name": server.key_name,
        "config_drive": "",
        "OS-DCF:diskConfig": "MANUAL",
        "OS-EXT-AZ:availability_zone": AVAILABILITY_ZONE,
        "OS-EXT-STS:power_state": server.power_state,
        "OS-EXT-STS:task_state": server.task_state,
        "OS-EXT-STS:vm_state": server.vm_state,
        "OS-SRV-USG:launched_at": server.launched_at.map(nova_usage_time),
        "OS-SRV-USG:terminated_at": null,
        "os-extended-volumes:volumes_attached": [],
        "security_groups": security_groups,
    });
    let extra = |body: &mut Value, key: &str, value: Value| {
        if let Value::Object(map) = body {
            map.insert(key.to_string(), value);
        }
    };
    // Nova shows progress only in the statuses where it means something.
    if matches!(
        server.status(),
        "ACTIVE" | "BUILD" | "REBUILD" | "RESIZE" | "VERIFY_RESIZE" | "MIGRATING"
    ) {
        extra(&mut body, "progress", json!(0));
    }
    if server.vm_state == "error"
        && let Some(message) = &server.fault
    {
        extra(
            &mut body,
            "fault",
            json!({ "code": 500, "created": nova_time(server.updated), "message": message }),
        );
    }
    if caller.is_admin() {
        let host = if scheduled { json!(HOST) } else { Value::Null };
        extra(&mut body, "OS-EXT-SRV-ATTR:host", host.clone());
        extra(&mut body, "OS-EXT-SRV-ATTR:hypervisor_hostname", host);
        extra(
            &mut body,
            "OS-EXT-SRV-ATTR:instance_name",
            json!(format!("instance-{:08x}", server.instance_index)),
        );
        if mv.at_least(3) {
            extra(
                &mut body,
                "OS-EXT-SRV-ATTR:reservation_id",
                json!(server.reservation_id()),
            );
            extra(&mut body, "OS-EXT-SRV-ATTR:launch_index", json!(0));
            extra(&mut body, "OS-EXT-SRV-ATTR:kernel_id", json!(""));
            extra(&mut body, "OS-EXT-SRV-ATTR:ramdisk_id", json!(""));
            extra(
                &mut body,
                "OS-EXT-SRV-ATTR:root_device_name",
                json!("/dev/vda"),
            );
            extra(&mut body, "OS-EXT-SRV-ATTR:user_data", Value::Null);
        }
        if mv.at_least(16) {
            let host_status = if scheduled { json!("UP") } else { json!("") };
            extra(&mut body, "host_status", host_status);
        }
    }
    if mv.at_least(9) {
        extra(&mut body, "locked", json!(false));
    }
    if mv.at_least(19) {
        extra(&mut body, "description", json!(server.description));
    }
    if mv.at_least(26) {
        extra(&mut body, "tags", json!(server.tags));
    }
    if mv.at_least(63) {
        extra(&mut body, "trusted_image_certificates", Value::Null);
    }
    if mv.at_least(71) {
        extra(&mut body, "server_groups", json!([]));
    }
    if mv.at_least(73) {
        extra(&mut body, "locked_reason", Value::Null);
    }
    if mv.at_least(90) || (caller.is_admin() && mv.at_least(3)) {
        extra(&mut body, "OS-EXT-SRV-ATTR:hostname", json!(server.name));
    }
    if mv.at_least(96) {
        extra(&mut body, "pinned_availability_zone", Value::Null);
    }
    body
}

/// The server if the caller may see it: its own project's, or any for an admin.
fn find_server<'a>(
    world: &'a mut World,
    caller: &Caller,
    server_id: &str,
) -> Result<&'a mut Server, Fault> {
    let at = now();
    let server = world
        .compute
        .servers
        .iter_mut()
        .find(|s| s.id == server_id)
        .filter(|s| {
            caller.is_admin() || caller.project_id.as_deref() == Some(s.project_id.as_str())
        })
        .ok_or_else(|| server_not_found(server_id))?;
    server.settle(at);
    Ok(server)
}

// ---------------------------------------------------------------------------------------------
// Server list

/// Nova's name filter is a regular expression searched in the name; plain text, `^` and `$`
/// cover what clients send.
fn name_matches(name: &str, pattern: &str) -> bool {
    let (anchored_start, rest) = match pattern.strip_prefix('^') {
        Some(rest) => (true, rest),
        None => (false, pattern),
    };
    let (anchored_end, core) = match rest.strip_suffix('$') {
        Some(core) => (true, core),
        None => (false, rest),
    };
    match (anchored_start, anchored_end) {
        (true, true) => name == core,
        (true, false) => name.starts_with(core),
        (false, true) => name.ends_with(core),
        (false, false) => name.contains(core),
    }
}

fn split_tags(value: &str) -> Vec<&str> {
    value.split(',').filter(|t| !t.is_empty()).collect()
}

fn server_matches(server: &Server, query: &[(String, String)], all_projects: bool) -> bool {
    query.iter().all(|(key, value)| match key.as_str() {
        "name" => name_matches(&server.name, value),
        "status" => server.status().eq_ignore_ascii_case(value),
        "image" => server.image_id == id_from_ref(value),
        "flavor" => server.flavor.id == id_from_ref(value),
        "tags" => split_tags(value)
            .iter()
            .all(|t| server.tags.iter().any(|s| s == t)),
        "tags-any" => split_tags(value)
            .iter()
            .any(|t| server.tags.iter().any(|s| s == t)),
        "not-tags" => !split_tags(value)
            .iter()
            .all(|t| server.tags.iter().any(|s| s == t)),
        "not-tags-any" => !split_tags(value)
            .iter()
            .any(|t| server.tags.iter().any(|s| s == t)),
        "project_id" | "tenant_id" if all_projects => server.project_id == *value,
        _ => true,
    })
}

async fn list_servers(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, Fault> {
    server_list(&state, &headers, mv, &query, false)
}

async fn list_servers_detail(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, Fault> {
    server_list(&state, &headers, mv, &query, true)
}

/// Parses `limit` as Nova does.
fn page_limit(query: &[(String, String)]) -> Result<usize, Fault> {
    match query_value(query, "limit") {
        None => Ok(MAX_PAGE),
        Some(text) => {
            let limit = text
                .parse::<i64>()
                .map_err(|_| bad_request("limit param must be an integer"))?;
            if limit < 0 {
                return Err(bad_request("limit param must be positive"));
            }
            Ok(usize::try_from(limit).unwrap_or(MAX_PAGE).min(MAX_PAGE))
        }
    }
}

/// The `next` link for Nova collections. Nova adds it whenever a page is full, so the last
/// page of an exact multiple is followed by an empty one (nova/api/openstack/common.py).
fn next_link(base: &str, path: &str, query: &[(String, String)], marker: &str) -> Value {
    let query = next_page_query(query, marker);
    json!([{ "href": format!("{base}/compute/v2.1/{path}?{query}"), "rel": "next" }])
}

fn server_list(
    state: &SimState,
    headers: &HeaderMap,
    mv: Microversion,
    query: &[(String, String)],
    detail: bool,
) -> Result<Response, Fault> {
    let caller = state.caller(headers, Service::Compute)?;
    let all_tenants = query_value(query, "all_tenants")
        .is_some_and(|v| !(v == "0" || v.eq_ignore_ascii_case("false")));
    if all_tenants && !caller.is_admin() {
        return Err(policy_forbids(
            "os_compute_api:servers:index:get_all_tenants",
        ));
    }
    let project_id = project_of(&caller)?;
    let limit = page_limit(query)?;
    let base = state.base_url();
    let mut world = state.world();
    world.compute.settle_all(now());
    let mut servers: Vec<&Server> = world
        .compute
        .servers
        .iter()
        .filter(|s| all_tenants || s.project_id == project_id)
        .filter(|s| server_matches(s, query, all_tenants))
        .collect();
    // Nova's default order: newest first.
    servers.sort_by(|a, b| b.created.cmp(&a.created).then(b.id.cmp(&a.id)));
    if let Some(marker) = query_value(query, "marker") {
        let position = servers
            .iter()
            .position(|s| s.id == marker)
            .ok_or_else(|| bad_request(format!("marker [{marker}] not found")))?;
        servers.drain(..=position);
    }
    servers.truncate(limit);
    let full = !servers.is_empty() && servers.len() == limit;
    let items: Vec<Value> = servers
        .iter()
        .map(|s| {
            if detail {
                let mut body = server_detail(&world, s, base, mv, &caller);
                // 2.71's server_groups is shown by show, update and rebuild, not by lists.
                if let Some(fields) = body.as_object_mut() {
                    fields.remove("server_groups");
                }
                body
            } else {
                server_summary(s, base)
            }
        })
        .collect();
    let mut body = json!({ "servers": items });
    if full && let Some(last) = servers.last() {
        let path = if detail { "servers/detail" } else { "servers" };
        body["servers_links"] = next_link(base, path, query, &last.id);
    }
    Ok(json_response(StatusCode::OK, body))
}

// ---------------------------------------------------------------------------------------------
// Server create

/// The NICs a create asks for, resolved to Neutron requests.
fn requested_nics(
    world: &World,
    input: &Value,
    mv: Microversion,
    project_id: &str,
) -> Result<Vec<ServerNic>, Fault> {
    let auto = |world: &World| -> Result<Vec<ServerNic>, Fault> {
        let networks = world.network.bootable_networks(project_id);
        match networks.as_slice() {
            [] => Ok(Vec::new()),
            [network_id] => Ok(vec![ServerNic::Network {
                network_id: network_id.clone(),
                fixed_ip: None,
            }]),
            _ => Err(fault(
                StatusCode::CONFLICT,
                "Multiple possible networks found, use a Network ID to be more specific.",
            )),
        }
    };
    match input.get("networks") {
        None if mv.at_least(37) => Err(invalid_field(
            "server",
            input,
            "'networks' is a required property",
        )),
        None => auto(world),
        Some(Value::String(text)) if mv.at_least(37) && text == "none" => Ok(Vec::new()),
        Some(Value::String(text)) if mv.at_least(37) && text == "auto" => {
            let nics = auto(world)?;
            if nics.is_empty() {
                return Err(bad_request(format!(
                    "Unable to automatically allocate a network for project {project_id}"
                )));
            }
            Ok(nics)
        }
        Some(Value::Array(list)) => list
            .iter()
            .map(|item| {
                let text = |key: &str| item.get(key).and_then(Value::as_str).map(str::to_string);
                if let Some(port) = text("port") {
                    Ok(ServerNic::Port(port))
                } else if let Some(network_id) = text("uuid") {
                    if uuid::Uuid::parse_str(&network_id).is_err() {
                        return Err(bad_request(format!(
                            "Bad networks format: network uuid is not in proper format \
                             ({network_id})"
                        )));
                    }
                    Ok(ServerNic::Network {
                        network_id,
                        fixed_ip: text("fixed_ip"),
                    })
                } else {
                    Err(invalid_field(
                        "networks",
                        item,
                        "A network needs 'uuid' or 'port'.",
                    ))
                }
            })
            .collect(),
        Some(other) => Err(invalid_field(
            "networks",
            other,
            "It must be a list, or 'auto' or 'none' (microversion 2.37 and later).",
        )),
    }
}

/// Nova's answers to Neutron's refusals during a create.
fn nic_fault(error: NicError) -> Fault {
    match error {
        NicError::PortNotFound(id) => bad_request(format!("Port id {id} could not be found.")),
        NicError::PortInUse(id) => {
            fault(StatusCode::CONFLICT, format!("Port {id} is still in use."))
        }
        NicError::NetworkNotFound(id) => bad_request(format!("Network {id} could not be found.")),
        NicError::NetworkRequiresSubnet(id) => bad_request(format!(
            "Network {id} requires a subnet in order to boot instances on."
        )),
        NicError::SecurityGroupNotFound(name) => {
            bad_request(format!("Security group {name} not found."))
        }
        NicError::NoMoreFixedIps(network) => bad_request(format!(
            "No fixed IP addresses available for network: {network}"
        )),
        NicError::FixedIpInvalid(address) => {
            bad_request(format!("Fixed IP address {address} is invalid."))
        }
        NicError::OverQuota(_) => fault(StatusCode::FORBIDDEN, "Maximum number of ports exceeded"),
    }
}

/// Nova's quota message (nova/exception.py TooManyInstances), for the resources over limit.
fn check_quota(quota: &Quota, usage: &Usage, flavor: &Flavor) -> Result<(), Fault> {
    let requested = [
        ("cores", flavor.vcpus),
        ("instances", 1),
        ("ram", flavor.ram),
    ];
    let overs: Vec<(&str, i64)> = requested
        .into_iter()
        .filter(|(key, amount)| {
            let limit = quota.get(key);
            limit >= 0 && usage.get(key) + amount > limit
        })
        .collect();
    if overs.is_empty() {
        return Ok(());
    }
    let join = |values: Vec<String>| values.join(", ");
    let names = join(overs.iter().map(|(k, _)| k.to_string()).collect());
    let requested = join(overs.iter().map(|(_, a)| a.to_string()).collect());
    let used = join(
        overs
            .iter()
            .map(|(k, _)| usage.get(k).to_string())
            .collect(),
    );
    let allowed = join(
        overs
            .iter()
            .map(|(k, _)| quota.get(k).to_string())
            .collect(),
    );
    Err(fault(
        StatusCode::FORBIDDEN,
        format!(
            "Quota exceeded for {names}: Requested {requested}, but already used {used} of \
             {allowed} {names}"
        ),
    ))
}

fn admin_password() -> String {
    uuid::Uuid::new_v4()
        .simple()
        .to_string()
        .chars()
        .take(12)
        .collect()
}

async fn create_server(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    body: Bytes,
) -> Result<Response, Fault> {
    let caller = state.caller(&headers, Service::Compute)?;
    let project_id = project_of(&caller)?;
    let body = parse_json(Service::Compute, &body)?;
    let input = body
        .get("server")
        .filter(|s| s.is_object())
        .ok_or_else(|| invalid_field("server", &body, "'server' is a required property"))?;
    let name = input
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty() && n.chars().count() <= 255)
        .ok_or_else(|| {
            invalid_field(
                "name",
                input.get("name").unwrap_or(&Value::Null),
                "A name of 1 to 255 characters is required.",
            )
        })?
        .to_string();
    let image_ref = input
        .get("imageRef")
        .and_then(Value::as_str)
        .map(|r| id_from_ref(r).to_string())
        .ok_or_else(|| {
            invalid_field(
                "imageRef",
                &Value::Null,
                "'imageRef' is required when booting from an image.",
            )
        })?;
    let flavor_ref = input
        .get("flavorRef")
        .and_then(|v| match v {
            Value::String(s) => Some(id_from_ref(s).to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .ok_or_else(|| invalid_field("server", input, "'flavorRef' is a required property"))?;
    let metadata = match input.get("metadata") {
        Some(value) => metadata_from(value, "metadata")?,
        None => BTreeMap::new(),
    };
    let tags = match input.get("tags") {
        Some(value) if mv.at_least(52) => tags_from(value)?,
        Some(value) => {
            return Err(invalid_field(
                "server",
                value,
                "Additional properties are not allowed ('tags' was unexpected)",
            ));
        }
        None => Vec::new(),
    };
    let description = match input.get("description") {
        Some(value) if mv.at_least(19) => value.as_str().map(str::to_string),
        Some(_) => {
            return Err(invalid_field(
                "server",
                input,
                "Additional properties are not allowed ('description' was unexpected)",
            ));
        }
        None => None,
    };
    let security_groups: Vec<String> = match input.get("security_groups") {
        None => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .map(|g| {
                g.get("name")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| {
                        invalid_field("security_groups", g, "'name' is a required property")
                    })
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(invalid_field(
                "security_groups",
                other,
                "It is not of type 'array'.",
            ));
        }
    };
    let key_name = input
        .get("key_name")
        .and_then(Value::as_str)
        .map(str::to_string);
    if let Some(zone) = input.get("availability_zone").and_then(Value::as_str)
        && zone != AVAILABILITY_ZONE
    {
        return Err(bad_request(
            "The requested availability zone is not available",
        ));
    }

    let base = state.base_url().to_string();
    let at = now();
    let build_delay = chrono::Duration::from_std(state.config().build_delay)
        .unwrap_or_else(|_| chrono::Duration::zero());
    let mut world = state.world();
    match world
        .image
        .visible_status(&image_ref, &project_id, caller.is_admin())
    {
        None => return Err(bad_request("Can not find requested image")),
        Some("active") => {}
        Some(_) => return Err(bad_request(format!("Image {image_ref} is not active."))),
    }
    let flavor = world
        .compute
        .flavors
        .iter()
        .find(|f| f.id == flavor_ref)
        .cloned()
        .ok_or_else(|| bad_request("Invalid flavorRef provided."))?;
    let quota = world.compute.quota(&project_id);
    check_metadata_quota(&quota, metadata.len())?;
    check_quota(&quota, &world.compute.usage(&project_id), &flavor)?;
    let nics = requested_nics(&world, input, mv, &project_id)?;

    let server_id = new_uuid();
    let build_fails = state.take_build_failure();
    for nic in &nics {
        if let Err(error) =
            world
                .network
                .attach_server_port(&project_id, nic, &server_id, &security_groups)
        {
            // Ports made for the NICs before the failing one go away with the failed boot.
            world.network.detach_server_ports(&server_id);
            return Err(nic_fault(error));
        }
    }
    world.compute.next_instance_index += 1;
    let server = Server {
        id: server_id.clone(),
        name,
        description,
        project_id,
        user_id: caller.user_id.clone(),
        image_id: image_ref,
        flavor,
        key_name,
        metadata,
        tags,
        security_groups: security_groups.clone(),
        has_ports: !nics.is_empty(),
        instance_index: world.compute.next_instance_index,
        vm_state: "building".to_string(),
        task_state: Some("spawning".to_string()),
        power_state: POWER_NOSTATE,
        pending: Some(if build_fails {
            Pending {
                done_at: at + build_delay,
                vm_state: "error".to_string(),
                power_state: POWER_NOSTATE,
                fault: Some(NO_VALID_HOST.to_string()),
            }
        } else {
            Pending {
                done_at: at + build_delay,
                vm_state: "active".to_string(),
                power_state: POWER_RUNNING,
                fault: None,
            }
        }),
        created: at,
        updated: at,
        launched_at: None,
        fault: None,
    };
    world.compute.servers.push(server);
    let groups: Vec<Value> = if security_groups.is_empty() {
        vec![json!({ "name": "default" })]
    } else {
        security_groups
            .iter()
            .map(|g| json!({ "name": g }))
            .collect()
    };
    let body = json!({
        "server": {
            "id": server_id,
            "links": server_links(&base, &server_id),
            "OS-DCF:diskConfig": "MANUAL",
            "adminPass": admin_password(),
            "security_groups": groups,
        }
    });
    let mut response = json_response(StatusCode::ACCEPTED, body);
    if let Ok(value) = HeaderValue::from_str(&format!("{base}/compute/v2.1/servers/{server_id}")) {
        response.headers_mut().insert("location", value);
    }
    Ok(response)
}

// ---------------------------------------------------------------------------------------------
// Single server

async fn show_server(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Path(server_id): Path<String>,
) -> Result<Response, Fault> {
    let caller = state.caller(&headers, Service::Compute)?;
    let mut world = state.world();
    let server = find_server(&mut world, &caller, &server_id)?.clone();
    let body = server_detail(&world, &server, state.base_url(), mv, &caller);
    Ok(json_response(StatusCode::OK, json!({ "server": body })))
}

/// PUT /servers/{id}: name (and description from 2.19).
async fn update_server(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Path(server_id): Path<String>,
    body: Bytes,
) -> Result<Response, Fault> {
    let caller = state.caller(&headers, Service::Compute)?;
    let body = parse_json(Service::Compute, &body)?;
    let input = body
        .get("server")
        .and_then(Value::as_object)
        .ok_or_else(|| invalid_field("server", &body, "'server' is a required property"))?;
    let mut world = state.world();
    let server = find_server(&mut world, &caller, &server_id)?;
    for (key, value) in input {
        match key.as_str() {
            "name" => {
                server.name = value
                    .as_str()
                    .filter(|n| !n.trim().is_empty() && n.chars().count() <= 255)
                    .ok_or_else(|| {
                        invalid_field("name", value, "A name of 1 to 255 characters is required.")
                    })?
                    .to_string();
            }
            "description" if mv.at_least(19) => {
                server.description = value.as_str().map(str::to_string);
            }
            "accessIPv4" | "accessIPv6" | "OS-DCF:diskConfig" => {}
            other => {
                return Err(invalid_field(
                    "server",
                    &Value::Object(input.clone()),
                    &format!("Additional properties are not allowed ('{other}' was unexpected)"),
                ));
            }
        }
    }
    server.updated = now();
    let server = server.clone();
    let body = server_detail(&world, &server, state.base_url(), mv, &caller);
    Ok(json_response(StatusCode::OK, json!({ "server": body })))
}

/// DELETE /servers/{id}: 204; Neutron releases the server's ports.
async fn delete_server(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(server_id): Path<String>,
) -> Result<StatusCode, Fault> {
    let caller = state.caller(&headers, Service::Compute)?;
    let delay = chrono::Duration::from_std(state.config().action_delay)
        .unwrap_or_else(|_| chrono::Duration::zero());
    let at = now();
    let mut world = state.world();
    let server = find_server(&mut world, &caller, &server_id)?;
    // As in Nova, the server stays (task_state deleting) until the compute side is done; its
    // ports go with it then.
    if server.task_state.as_deref() != Some("deleting") {
        server.start_action("deleting", at + delay, "deleted", POWER_NOSTATE);
    }
    reap_deleted_servers(&mut world, at);
    Ok(StatusCode::NO_CONTENT)
}

/// Removes the servers whose deletion has completed, with their ports.
pub fn reap_deleted_servers(world: &mut World, at: DateTime<Utc>) {
    let mut gone = Vec::new();
    for server in &mut world.compute.servers {
        if server.task_state.as_deref() == Some("deleting") {
            server.settle(at);
        }
        if server.vm_state == "deleted" {
            gone.push((server.id.clone(), server.has_ports));
        }
    }
    for (server_id, has_ports) in gone {
        world.compute.servers.retain(|s| s.id != server_id);
        if has_ports {
            world.network.detach_server_ports(&server_id);
        }
    }
}

/// POST /servers/{id}/action: os-start, os-stop, reboot, createImage.
async fn server_action(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Path(server_id): Path<String>,
    body: Bytes,
) -> Result<Response, Fault> {
    let caller = state.caller(&headers, Service::Compute)?;
    let body = parse_json(Service::Compute, &body)?;
    let (action, argument) = body
        .as_object()
        .and_then(|o| o.iter().next())
        .map(|(k, v)| (k.clone(), v.clone()))
        .ok_or_else(|| bad_request("Malformed request body"))?;
    let delay = chrono::Duration::from_std(state.config().action_delay)
        .unwrap_or_else(|_| chrono::Duration::zero());
    let mut world = state.world();
    let server = find_server(&mut world, &caller, &server_id)?;
    let done_at = now() + delay;
    match action.as_str() {
        "os-stop" => {
            if server.task_state.is_some()
                || !matches!(server.vm_state.as_str(), "active" | "error")
            {
                return Err(invalid_state("stop", server));
            }
            server.start_action("powering-off", done_at, "stopped", POWER_SHUTDOWN);
        }
        "os-start" => {
            if server.task_state.is_some() || server.vm_state != "stopped" {
                return Err(invalid_state("start", server));
            }
            server.start_action("powering-on", done_at, "active", POWER_RUNNING);
        }
        "reboot" => {
            let hard = argument
                .get("type")
                .and_then(Value::as_str)
                .map(str::to_ascii_uppercase);
            let hard = match hard.as_deref() {
                Some("HARD") => true,
                Some("SOFT") => false,
                _ => {
                    return Err(invalid_field(
                        "type",
                        argument.get("type").unwrap_or(&Value::Null),
                        "It is not one of ['HARD', 'Hard', 'hard', 'SOFT', 'Soft', 'soft']",
                    ));
                }
            };
            let allowed = if hard {
                matches!(server.vm_state.as_str(), "active" | "stopped" | "error")
                    && matches!(server.task_state.as_deref(), None | Some("rebooting"))
            } else {
                server.vm_state == "active" && server.task_state.is_none()
            };
            if !allowed {
                return Err(invalid_state("reboot", server));
            }
            let task = if hard { "rebooting_hard" } else { "rebooting" };
            server.start_action(task, done_at, "active", POWER_RUNNING);
        }
        "createImage" => {
            if !matches!(
                server.vm_state.as_str(),
                "active" | "stopped" | "paused" | "suspended"
            ) || server.task_state.is_some()
            {
                return Err(invalid_state("createImage", server));
            }
            let name = argument
                .get("name")
                .and_then(Value::as_str)
                .filter(|n| !n.trim().is_empty())
                .ok_or_else(|| {
                    invalid_field(
                        "name",
                        argument.get("name").unwrap_or(&Value::Null),
                        "A name is required.",
                    )
                })?
                .to_string();
            let metadata = match argument.get("metadata") {
                Some(value) => metadata_from(value, "metadata")?,
                None => BTreeMap::new(),
            };
            let snapshot = super::image::Snapshot {
                name,
                owner: server.project_id.clone(),
                instance_uuid: server.id.clone(),
                base_image_ref: server.image_id.clone(),
                user_id: caller.user_id.clone(),
                metadata,
            };
            let image_id = world.image.add_snapshot(snapshot);
            // From 2.45 the id is in the body; before, only in Location.
            let mut response = if mv.at_least(45) {
                json_response(StatusCode::ACCEPTED, json!({ "image_id": image_id }))
            } else {
                StatusCode::ACCEPTED.into_response()
            };
            let location = format!("{}/image/v2/images/{image_id}", state.base_url());
            if let Ok(value) = HeaderValue::from_str(&location) {
                response.headers_mut().insert("location", value);
            }
            return Ok(response);
        }
        other => return Err(bad_request(format!("There is no such action: {other}"))),
    }
    Ok(StatusCode::ACCEPTED.into_response())
}

// ---------------------------------------------------------------------------------------------
// Server metadata

fn metadata_response(server: &Server) -> Response {
    json_response(StatusCode::OK, json!({ "metadata": server.metadata }))
}

async fn list_metadata(
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

fn metadata_body(body: &Bytes) -> Result<BTreeMap<String, String>, Fault> {
    let body = parse_json(Service::Compute, body)?;
    let value = body
        .get("metadata")
        .ok_or_else(|| invalid_field("metadata", &body, "'metadata' is a required property"))?;
    metadata_from(value, "metadata")
}

/// PUT /servers/{id}/metadata: replaces all items.
async fn replace_metadata(
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
async fn merge_metadata(
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

async fn show_metadata_item(
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
    Ok(json_response(
        StatusCode::OK,
        json!({ "meta": { key: value } }),
    ))
}

/// PUT /servers/{id}/metadata/{key} with `{"meta": {key: value}}`.
async fn set_metadata_item(
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
    Ok(json_response(
        StatusCode::OK,
        json!({ "meta": { key: value } }),
    ))
}

async fn delete_metadata_item(
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

// ---------------------------------------------------------------------------------------------
// Server tags (2.26+)

/// Tags need 2.26; before it the routes do not exist.
fn require_tags_api(mv: Microversion) -> Result<(), Fault> {
    if mv.at_least(26) {
        Ok(())
    } else {
        Err(resource_not_found())
    }
}

/// Nova changes tags only on a server at rest (not building, no task running).
fn check_taggable(server: &Server, action: &str) -> Result<(), Fault> {
    let at_rest = matches!(
        server.vm_state.as_str(),
        "active"
            | "paused"
            | "rescued"
            | "resized"
            | "stopped"
            | "suspended"
            | "shelved"
            | "shelved_offloaded"
    );
    if !at_rest {
        // Nova checks only the vm_state here (nova/api/openstack/compute/server_tags.py).
        return Err(fault(
            StatusCode::CONFLICT,
            format!(
                "Cannot '{action}' instance {} while it is in vm_state {}",
                server.id, server.vm_state
            ),
        ));
    }
    Ok(())
}

async fn list_server_tags(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Path(server_id): Path<String>,
) -> Result<Response, Fault> {
    require_tags_api(mv)?;
    let caller = state.caller(&headers, Service::Compute)?;
    let mut world = state.world();
    let server = find_server(&mut world, &caller, &server_id)?;
    Ok(json_response(
        StatusCode::OK,
        json!({ "tags": server.tags }),
    ))
}

async fn replace_server_tags(
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
    Ok(json_response(
        StatusCode::OK,
        json!({ "tags": server.tags }),
    ))
}

async fn clear_server_tags(
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

fn tag_not_found(tag: &str, server_id: &str) -> Fault {
    fault(
        StatusCode::NOT_FOUND,
        format!("Tag {tag} is not found on resource {server_id}"),
    )
}

async fn check_server_tag(
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
async fn add_server_tag(
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

async fn remove_server_tag(
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

// ---------------------------------------------------------------------------------------------
// Flavors

fn flavor_links(base: &str, id: &str) -> Value {
    json!([
        { "href": format!("{base}/compute/v2.1/flavors/{id}"), "rel": "self" },
        { "href": format!("{base}/compute/flavors/{id}"), "rel": "bookmark" },
    ])
}

fn flavor_body(flavor: &Flavor, base: &str, mv: Microversion, detail: bool) -> Value {
    let mut body = Map::new();
    body.insert("id".into(), json!(flavor.id));
    body.insert("name".into(), json!(flavor.name));
    body.insert("links".into(), flavor_links(base, &flavor.id));
    if mv.at_least(55) {
        body.insert("description".into(), Value::Null);
    }
    if detail {
        body.insert("vcpus".into(), json!(flavor.vcpus));
        body.insert("ram".into(), json!(flavor.ram));
        body.insert("disk".into(), json!(flavor.disk));
        // Before 2.75 Nova shows an empty swap as "".
        if mv.at_least(75) {
            body.insert("swap".into(), json!(0));
        } else {
            body.insert("swap".into(), json!(""));
        }
        // Nova still shows rxtx_factor at every microversion this cloud speaks.
        body.insert("rxtx_factor".into(), json!(1.0));
        body.insert("OS-FLV-EXT-DATA:ephemeral".into(), json!(0));
        body.insert("OS-FLV-DISABLED:disabled".into(), json!(false));
        body.insert("os-flavor-access:is_public".into(), json!(true));
        if mv.at_least(61) {
            body.insert("extra_specs".into(), json!({}));
        }
    }
    Value::Object(body)
}

fn flavor_list(
    state: &SimState,
    headers: &HeaderMap,
    mv: Microversion,
    query: &[(String, String)],
    detail: bool,
) -> Result<Response, Fault> {
    state.caller(headers, Service::Compute)?;
    let limit = page_limit(query)?;
    let min = |key: &str| -> Result<i64, Fault> {
        query_value(query, key)
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| bad_request(format!("Invalid {key} filter [{v}]")))
            })
            .transpose()
            .map(|v| v.unwrap_or(0))
    };
    let (min_ram, min_disk) = (min("minRam")?, min("minDisk")?);
    let base = state.base_url();
    let world = state.world();
    let mut flavors: Vec<&Flavor> = world
        .compute
        .flavors
        .iter()
        .filter(|f| f.ram >= min_ram && f.disk >= min_disk)
        .collect();
    if let Some(marker) = query_value(query, "marker") {
        let position = flavors
            .iter()
            .position(|f| f.id == marker)
            .ok_or_else(|| bad_request(format!("marker [{marker}] not found")))?;
        flavors.drain(..=position);
    }
    flavors.truncate(limit);
    let full = !flavors.is_empty() && flavors.len() == limit;
    let mut body = json!({
        "flavors": flavors.iter().map(|f| flavor_body(f, base, mv, detail)).collect::<Vec<_>>(),
    });
    if full && let Some(last) = flavors.last() {
        let path = if detail { "flavors/detail" } else { "flavors" };
        body["flavors_links"] = next_link(base, path, query, &last.id);
    }
    Ok(json_response(StatusCode::OK, body))
}

async fn list_flavors(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, Fault> {
    flavor_list(&state, &headers, mv, &query, false)
}

async fn list_flavors_detail(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, Fault> {
    flavor_list(&state, &headers, mv, &query, true)
}

fn flavor_not_found(flavor_id: &str) -> Fault {
    fault(
        StatusCode::NOT_FOUND,
        format!("Flavor {flavor_id} could not be found."),
    )
}

async fn show_flavor(
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
    Ok(json_response(
        StatusCode::OK,
        json!({ "flavor": flavor_body(flavor, state.base_url(), mv, true) }),
    ))
}

async fn flavor_extra_specs(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(flavor_id): Path<String>,
) -> Result<Response, Fault> {
    state.caller(&headers, Service::Compute)?;
    let world = state.world();
    if !world.compute.flavors.iter().any(|f| f.id == flavor_id) {
        return Err(flavor_not_found(&flavor_id));
    }
    Ok(json_response(StatusCode::OK, json!({ "extra_specs": {} })))
}

// ---------------------------------------------------------------------------------------------
// Quotas and limits

/// A caller may read its own project's quotas; an admin any project's.
fn quota_reader(
    state: &SimState,
    headers: &HeaderMap,
    project_id: &str,
    rule: &str,
) -> Result<Caller, Fault> {
    let caller = state.caller(headers, Service::Compute)?;
    if caller.is_admin() || caller.project_id.as_deref() == Some(project_id) {
        Ok(caller)
    } else {
        Err(policy_forbids(rule))
    }
}

/// The quota keys shown at a microversion: 2.36 dropped the network proxies, 2.57 the
/// injected files.
fn legacy_quota_fields(mv: Microversion) -> Vec<(&'static str, i64)> {
    let mut fields = Vec::new();
    if !mv.at_least(57) {
        fields.extend([
            ("injected_file_content_bytes", 10240),
            ("injected_file_path_bytes", 255),
            ("injected_files", 5),
        ]);
    }
    if !mv.at_least(36) {
        fields.extend([
            ("fixed_ips", -1),
            ("floating_ips", 10),
            ("security_group_rules", 20),
            ("security_groups", 10),
        ]);
    }
    fields
}

fn quota_body(quota: &Quota, mv: Microversion, usage: Option<&Usage>, id: Option<&str>) -> Value {
    let mut body = Map::new();
    if let Some(id) = id {
        body.insert("id".into(), json!(id));
    }
    for key in QUOTA_KEYS {
        let limit = quota.get(key);
        let value = match usage {
            Some(usage) => json!({ "in_use": usage.get(key), "limit": limit, "reserved": 0 }),
            None => json!(limit),
        };
        body.insert(key.into(), value);
    }
    for (key, limit) in legacy_quota_fields(mv) {
        let value = match usage {
            Some(_) => json!({ "in_use": 0, "limit": limit, "reserved": 0 }),
            None => json!(limit),
        };
        body.insert(key.into(), value);
    }
    json!({ "quota_set": Value::Object(body) })
}

async fn show_quota(
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
    Ok(json_response(
        StatusCode::OK,
        quota_body(&quota, mv, None, Some(&project_id)),
    ))
}

async fn show_quota_detail(
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
    Ok(json_response(
        StatusCode::OK,
        quota_body(&quota, mv, Some(&usage), Some(&project_id)),
    ))
}

async fn show_quota_defaults(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Path(project_id): Path<String>,
) -> Result<Response, Fault> {
    state.caller(&headers, Service::Compute)?;
    Ok(json_response(
        StatusCode::OK,
        quota_body(&Quota::default(), mv, None, Some(&project_id)),
    ))
}

/// PUT /os-quota-sets/{project}: admin only; a limit below current usage is refused.
async fn update_quota(
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
    Ok(json_response(
        StatusCode::OK,
        quota_body(&quota, mv, None, None),
    ))
}

/// DELETE /os-quota-sets/{project}: back to the defaults.
async fn reset_quota(
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
async fn limits(State(state): State<SimState>, headers: HeaderMap) -> Result<Response, Fault> {
    let caller = state.caller(&headers, Service::Compute)?;
    let project_id = project_of(&caller)?;
    let world = state.world();
    let quota = world.compute.quota(&project_id);
    let usage = world.compute.usage(&project_id);
    Ok(json_response(
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
                    "totalServerGroupsUsed": 0,
                },
                "rate": [],
            }
        }),
    ))
}

async fn availability_zones(
    State(state): State<SimState>,
    headers: HeaderMap,
) -> Result<Response, Fault> {
    state.caller(&headers, Service::Compute)?;
    Ok(json_response(
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
async fn availability_zones_detail(
    State(state): State<SimState>,
    headers: HeaderMap,
) -> Result<Response, Fault> {
    state.caller(&headers, Service::Compute)?;
    let updated = now().format("%Y-%m-%dT%H:%M:%S.000000").to_string();
    let service = json!({ "available": true, "active": true, "updated_at": updated });
    Ok(json_response(
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

/// Key pairs are not kept: `key_name` on create is accepted and shown, nothing more.
async fn keypairs(State(state): State<SimState>, headers: HeaderMap) -> Result<Response, Fault> {
    state.caller(&headers, Service::Compute)?;
    Ok(json_response(StatusCode::OK, json!({ "keypairs": [] })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (key, value) in pairs {
            map.insert(*key, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn microversion_negotiation() {
        assert_eq!(negotiate(&headers(&[])).ok(), Some(Microversion(1)));
        assert_eq!(
            negotiate(&headers(&[("openstack-api-version", "compute 2.37")])).ok(),
            Some(Microversion(37))
        );
        assert_eq!(
            negotiate(&headers(&[("x-openstack-nova-api-version", "latest")])).ok(),
            Some(Microversion(MAX_MINOR))
        );
        assert_eq!(
            negotiate(&headers(&[(
                "openstack-api-version",
                "volume 3.5, compute 2.52"
            )]))
            .ok(),
            Some(Microversion(52))
        );
        assert_eq!(
            negotiate(&headers(&[("openstack-api-version", "compute 2.200")]))
                .err()
                .map(|(f, _)| f.status),
            Some(StatusCode::NOT_ACCEPTABLE)
        );
        assert_eq!(
            negotiate(&headers(&[("openstack-api-version", "compute two")]))
                .err()
                .map(|(f, _)| f.status),
            Some(StatusCode::BAD_REQUEST)
        );
    }

    #[test]
    fn name_filter_behaves_like_a_regex_search() {
        assert!(name_matches("web-1", "web"));
        assert!(name_matches("web-1", "^web"));
        assert!(!name_matches("my-web", "^web"));
        assert!(name_matches("web-1", "-1$"));
        assert!(name_matches("web-1", "^web-1$"));
    }

    #[test]
    fn quota_message_names_every_resource_over_its_limit() {
        let quota = Quota::default();
        let usage = Usage {
            instances: 5,
            cores: 20,
            ram: 10240,
        };
        let flavor = Flavor {
            id: "4".into(),
            name: "m1.large".into(),
            vcpus: 4,
            ram: 8192,
            disk: 80,
        };
        let message = check_quota(&quota, &usage, &flavor)
            .err()
            .map(|f| f.message);
        assert_eq!(
            message.as_deref(),
            Some("Quota exceeded for cores: Requested 4, but already used 20 of 20 cores")
        );
    }

    #[test]
    fn pending_transitions_settle_by_time() {
        let at = now();
        let mut server = Server {
            id: "s".into(),
            name: "n".into(),
            description: None,
            project_id: "p".into(),
            user_id: "u".into(),
            image_id: "i".into(),
            flavor: Flavor {
                id: "1".into(),
                name: "m1.tiny".into(),
                vcpus: 1,
                ram: 512,
                disk: 1,
            },
            key_name: None,
            metadata: BTreeMap::new(),
            tags: Vec::new(),
            security_groups: Vec::new(),
            has_ports: false,
            instance_index: 1,
            vm_state: "building".into(),
            task_state: Some("spawning".into()),
            power_state: POWER_NOSTATE,
            pending: Some(Pending {
                done_at: at + chrono::Duration::seconds(5),
                vm_state: "active".into(),
                power_state: POWER_RUNNING,
                fault: None,
            }),
            fault: None,
            created: at,
            updated: at,
            launched_at: None,
        };
        server.settle(at);
        assert_eq!(server.status(), "BUILD");
        server.settle(at + chrono::Duration::seconds(6));
        assert_eq!(
            (
                server.status(),
                server.task_state.clone(),
                server.power_state
            ),
            ("ACTIVE", None, POWER_RUNNING)
        );
        assert_eq!(server.launched_at, Some(at + chrono::Duration::seconds(5)));
    }
}
