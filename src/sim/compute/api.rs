//! The HTTP face of Nova: routes, version documents, microversion negotiation, and the server
//! lifecycle (create, show, update, delete, actions).

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::sim::core::{
    Fault, NoMicroversion, RequestId, Service, SimState, new_uuid, now, parse_json, refusal_for,
    unrouted,
};
use crate::sim::wire::json_reply;

use super::*;

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
            "/servers/{server_id}/remote-consoles",
            post(create_remote_console),
        )
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
        .route(
            "/servers/{server_id}/os-security-groups",
            get(server_security_groups),
        )
        .route("/servers/{server_id}/os-interface", get(list_interfaces))
        .route(
            "/servers/{server_id}/os-volume_attachments",
            get(list_volume_attachments).post(attach_volume),
        )
        .route(
            "/servers/{server_id}/os-volume_attachments/{volume_id}",
            get(show_volume_attachment).delete(detach_volume),
        )
        .route(
            "/servers/{server_id}/os-instance-actions",
            get(list_instance_actions),
        )
        .route(
            "/servers/{server_id}/os-instance-actions/{request_id}",
            get(show_instance_action),
        )
        .route(
            "/servers/{server_id}/os-interface/{port_id}",
            get(show_interface).delete(detach_interface),
        )
        .route("/flavors", get(list_flavors).post(create_flavor))
        .route("/flavors/detail", get(list_flavors_detail))
        .route(
            "/flavors/{flavor_id}",
            get(show_flavor).delete(delete_flavor),
        )
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
        .route("/os-keypairs", get(list_keypairs).post(create_keypair))
        .route(
            "/os-keypairs/{keypair_name}",
            get(show_keypair).delete(delete_keypair),
        )
        .route(
            "/os-server-groups",
            get(list_server_groups).post(create_server_group),
        )
        .route(
            "/os-server-groups/{group_id}",
            get(show_server_group).delete(delete_server_group),
        )
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

/// GET /compute/
pub(super) async fn versions(State(state): State<SimState>) -> Response {
    json_reply(
        StatusCode::OK,
        json!({ "versions": [legacy_version_value(state.base_url()), version_value(state.base_url())] }),
    )
}

/// GET /compute/v2.1
pub(super) async fn version(State(state): State<SimState>) -> Response {
    let mut version = version_value(state.base_url());
    version["links"] = json!([
        { "href": format!("{}/compute/v2.1/", state.base_url()), "rel": "self" },
        { "href": "http://docs.openstack.org/", "rel": "describedby", "type": "text/html" },
    ]);
    version["media-types"] = json!([{
        "base": "application/json",
        "type": "application/vnd.openstack.compute+json;version=2.1",
    }]);
    json_reply(StatusCode::OK, json!({ "version": version }))
}

/// Reads the requested microversion; no header means 2.1. A refusal carries the version text
/// Nova echoes in its headers: the requested one when it is out of range.
pub(super) fn negotiate(headers: &HeaderMap) -> Result<Microversion, (Fault, String)> {
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

/// A server name as Nova's `name` format takes it: 1 to 255 printable characters. Nova's
/// pattern is built from the printable Unicode categories, so a NUL or any other control
/// character is a 400, as a blank name is.
fn server_name(value: &Value) -> Result<String, Fault> {
    let name = value
        .as_str()
        .filter(|n| !n.trim().is_empty() && n.chars().count() <= 255)
        .ok_or_else(|| {
            invalid_field("name", value, "A name of 1 to 255 characters is required.")
        })?;
    // Nova's `name` format (api/validation/validators.py): printable, no edge whitespace.
    if name.chars().any(char::is_control) || name.trim() != name {
        return Err(Fault::bad_request(
            Service::Compute,
            "An invalid 'name' value was provided. The name must be: printable characters. Can not start or end with whitespace.",
        ));
    }
    Ok(name.to_string())
}

/// Negotiates the microversion and adds Nova's response headers (on errors too).
pub(super) async fn microversion_layer(mut request: Request, next: Next) -> Response {
    let request_id = request.extensions().get::<RequestId>().cloned();
    let negotiated = negotiate(request.headers());
    let (text, mut response) = match negotiated {
        Ok(version) => {
            let refused = refusal_for(Service::Compute, request.headers());
            request.extensions_mut().insert(version);
            let response = match refused {
                Some(fault) => fault.into_response(),
                None => next.run(request).await,
            };
            (format!("2.{}", version.0), response)
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

pub(super) async fn list_servers(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, Fault> {
    server_list(&state, &headers, mv, &query, false)
}

pub(super) async fn list_servers_detail(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, Fault> {
    server_list(&state, &headers, mv, &query, true)
}

pub(super) async fn create_server(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    body: Bytes,
) -> Result<Response, Fault> {
    let caller = state.caller(&headers, Service::Compute)?;
    let project_id = project_of(&caller)?;
    let body = parse_json(Service::Compute, &body)?;
    let input = body
        .get("server")
        .filter(|s| s.is_object())
        .ok_or_else(|| invalid_field("server", &body, "'server' is a required property"))?;
    let name = server_name(input.get("name").unwrap_or(&Value::Null))?;
    let image_ref = input
        .get("imageRef")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty())
        .map(|r| id_from_ref(r).to_string());
    let disk = boot::boot_disk(input, image_ref)?;
    let mut boot_options = boot::boot_options(input)?;
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
    if let Some(image_ref) = boot::image_of(&disk) {
        match world
            .image
            .visible_status(image_ref, &project_id, caller.is_admin())
        {
            None => return Err(bad_request("Can not find requested image")),
            Some("active") => {}
            Some(_) => return Err(bad_request(format!("Image {image_ref} is not active."))),
        }
    }
    let flavor = world
        .compute
        .flavors
        .iter()
        .find(|f| f.id == flavor_ref)
        .cloned()
        .ok_or_else(|| bad_request("Invalid flavorRef provided."))?;
    // Nova looks the key up among the keypairs of the user who creates the server.
    if let Some(key) = &key_name
        && !world.compute.has_keypair(&caller.user_id, key)
    {
        return Err(bad_request("Invalid key_name provided."));
    }
    let quota = world.compute.quota(&project_id);
    check_metadata_quota(&quota, metadata.len())?;
    check_quota(&quota, &world.compute.usage(&project_id), &flavor)?;
    let nics = requested_nics(&world, input, mv, &project_id)?;
    let group = match body
        .get("os:scheduler_hints")
        .and_then(|h| h.get("group"))
        .and_then(Value::as_str)
    {
        Some(hint) => Some(world.compute.group_for_boot(hint, &project_id, &caller)?),
        None => None,
    };

    let server_id = new_uuid();
    let build_fails =
        state.take_build_failure() || group.as_ref().is_some_and(|g| !world.compute.host_for(g));
    for nic in &nics {
        if let Err(error) = world.network.attach_server_port(
            &project_id,
            caller.is_admin(),
            nic,
            &server_id,
            &security_groups,
        ) {
            // Ports made for the NICs before the failing one go away with the failed boot.
            world.network.detach_server_ports(&server_id);
            return Err(nic_fault(error));
        }
    }
    if let Err(fault) = boot::attach_disk(
        &mut world,
        &disk,
        &mut boot_options,
        &project_id,
        &caller,
        &server_id,
        at,
        at + build_delay,
    ) {
        world.network.detach_server_ports(&server_id);
        return Err(fault);
    }
    world.compute.next_instance_index += 1;
    let mut server = Server {
        id: server_id.clone(),
        name,
        description,
        project_id,
        user_id: caller.user_id.clone(),
        image_id: match &disk {
            boot::BootDisk::Image(id) => id.clone(),
            _ => String::new(),
        },
        boot: boot_options,
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
                flavor: None,
            }
        } else {
            Pending {
                done_at: at + build_delay,
                vm_state: "active".to_string(),
                power_state: POWER_RUNNING,
                fault: None,
                flavor: None,
            }
        }),
        created: at,
        updated: at,
        launched_at: None,
        fault: None,
        actions: Vec::new(),
        old_flavor: None,
        confirm_fails: false,
        server_group: group.map(|g| g.id),
    };
    // A build refused by the scheduler fails in the conductor, before any compute host.
    let event = if build_fails {
        "conductor_schedule_and_build_instances"
    } else {
        "compute__do_build_and_run_instance"
    };
    server.record_action(
        "create",
        event,
        &request_id,
        &caller.user_id,
        at + build_delay,
    );
    world.compute.servers.insert(server.id.clone(), server);
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
    let mut response = json_reply(StatusCode::ACCEPTED, body);
    if let Ok(value) = HeaderValue::from_str(&format!("{base}/compute/v2.1/servers/{server_id}")) {
        response.headers_mut().insert("location", value);
    }
    Ok(response)
}

// ---------------------------------------------------------------------------------------------
// Single server

pub(super) async fn show_server(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Path(server_id): Path<String>,
) -> Result<Response, Fault> {
    let caller = state.caller(&headers, Service::Compute)?;
    let mut world = state.world();
    let server = find_server(&mut world, &caller, &server_id)?.clone();
    let body = server_detail(&world, &server, state.base_url(), mv, &caller);
    Ok(json_reply(StatusCode::OK, json!({ "server": body })))
}

/// PUT /servers/{id}: name (and description from 2.19).
pub(super) async fn update_server(
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
            "name" => server.name = server_name(value)?,
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
    Ok(json_reply(StatusCode::OK, json!({ "server": body })))
}

/// DELETE /servers/{id}: 204; Neutron releases the server's ports.
pub(super) async fn delete_server(
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

/// POST /servers/{id}/action: os-start, os-stop, reboot, createImage, the resize actions
/// (`resize`) and os-getConsoleOutput (`consoles`).
pub(super) async fn server_action(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Extension(RequestId(request_id)): Extension<RequestId>,
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
    if let Some(reply) = console_action(
        &state, mv, &mut world, &caller, &server_id, &action, &argument,
    ) {
        return reply;
    }
    let done_at = now() + delay;
    let resize = ResizeRequest {
        state: &state,
        caller: &caller,
        server_id: &server_id,
        request_id: &request_id,
        done_at,
    };
    if let Some(reply) = resize_action(&mut world, &resize, &action, &argument) {
        return reply;
    }
    let server = find_server(&mut world, &caller, &server_id)?;
    match action.as_str() {
        "os-stop" => {
            if server.task_state.is_some()
                || !matches!(server.vm_state.as_str(), "active" | "error")
            {
                return Err(invalid_state("stop", server));
            }
            server.start_action("powering-off", done_at, "stopped", POWER_SHUTDOWN);
            server.record_action(
                "stop",
                "compute_stop_instance",
                &request_id,
                &caller.user_id,
                done_at,
            );
        }
        "os-start" => {
            if server.task_state.is_some() || server.vm_state != "stopped" {
                return Err(invalid_state("start", server));
            }
            server.start_action("powering-on", done_at, "active", POWER_RUNNING);
            server.record_action(
                "start",
                "compute_start_instance",
                &request_id,
                &caller.user_id,
                done_at,
            );
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
            server.record_action(
                "reboot",
                "compute_reboot_instance",
                &request_id,
                &caller.user_id,
                done_at,
            );
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
            // The embedded snapshot is taken at once.
            server.record_action(
                "createImage",
                "compute_snapshot_instance",
                &request_id,
                &caller.user_id,
                now(),
            );
            let snapshot = crate::sim::image::Snapshot {
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
                json_reply(StatusCode::ACCEPTED, json!({ "image_id": image_id }))
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
