//! The HTTP face of Neutron v2.0: routes, authentication of the caller, body decoding and the
//! exact response shapes (201 on create, 204 on delete, bare interface info on
//! add/remove_router_interface).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};

use super::model::*;
use super::query::ListQuery;
use crate::sim::core::{Service, SimState, unrouted};
use crate::sim::wire::{json_reply, versions};

type ApiResult = Result<Response, NeutronError>;
type Params = Query<Vec<(String, String)>>;

const KINDS: [Kind; 8] = [
    Kind::Network,
    Kind::Subnet,
    Kind::Port,
    Kind::Router,
    Kind::SecurityGroup,
    Kind::SecurityGroupRule,
    Kind::FloatingIp,
    Kind::RbacPolicy,
];

/// (alias, name, description) of every extension this Neutron really implements.
const EXTENSIONS: [(&str, &str, &str); 18] = [
    (
        "router",
        "Neutron L3 Router",
        "Router abstraction for basic L3 forwarding between L2 Neutron networks and access to external networks via a NAT gateway.",
    ),
    (
        "ext-gw-mode",
        "Neutron L3 Configurable external gateway mode",
        "Extension of the router abstraction for specifying whether SNAT should occur on the external gateway",
    ),
    (
        "external-net",
        "Neutron external network",
        "Adds external network attribute to network resource.",
    ),
    (
        "security-group",
        "security-group",
        "The security groups extension.",
    ),
    (
        "quotas",
        "Quota management support",
        "Expose functions for quotas management per project",
    ),
    (
        "quota_details",
        "Quota details management support",
        "Expose functions for quotas usage statistics per project",
    ),
    (
        "standard-attr-tag",
        "Tag support for resources with standard attribute: subnet, trunk, network_segment_range, router, network, policy, subnetpool, port, security_group, floatingip",
        "Enables to set tag on resources with standard attribute.",
    ),
    (
        "standard-attr-description",
        "standard-attr-description",
        "Extension to add descriptions to standard attributes",
    ),
    (
        "standard-attr-timestamp",
        "Resource timestamps",
        "Adds created_at and updated_at fields to all Neutron resources that have Neutron standard attributes.",
    ),
    (
        "standard-attr-revisions",
        "Resource revision numbers",
        "This extension will display the revision number of neutron resources.",
    ),
    (
        "binding",
        "Port Binding",
        "Expose port bindings of a virtual port to external application",
    ),
    (
        "network-mtu",
        "Network MTU",
        "Provides MTU attribute for a network resource.",
    ),
    (
        "net-mtu-writable",
        "Network MTU (writable)",
        "Provides a writable MTU attribute for a network resource.",
    ),
    (
        "project-id",
        "project_id field enabled",
        "Extension that indicates that project_id field is enabled.",
    ),
    (
        "provider",
        "Provider Network",
        "Expose mapping of virtual networks to physical networks",
    ),
    ("port-security", "Port Security", "Provides port security"),
    (
        "rbac-policies",
        "RBAC Policies",
        "Allows creation and modification of policies that control tenant access to resources.",
    ),
    (
        "pagination",
        "Pagination support",
        "Extension that indicates that pagination is enabled.",
    ),
];

fn actor(state: &SimState, headers: &HeaderMap) -> NResult<Actor> {
    let caller = state.caller(headers, Service::Network)?;
    let admin = caller.is_admin();
    Ok(Actor {
        project_id: caller.project_id.unwrap_or_default(),
        admin,
    })
}

pub fn routes() -> Router<SimState> {
    let mut router = Router::new()
        .route("/", get(versions))
        .route("/v2.0", get(resources))
        .route("/v2.0/", get(resources))
        .route("/v2.0/extensions", get(extensions))
        .route("/v2.0/extensions/{alias}", get(extension))
        .route("/v2.0/quotas", get(quota_list))
        .route(
            "/v2.0/quotas/{project_id}",
            get(quota_show).put(quota_update).delete(quota_reset),
        )
        .route("/v2.0/quotas/{project_id}/details", get(quota_details))
        .route("/v2.0/quotas/{project_id}/default", get(quota_default))
        .route(
            "/v2.0/routers/{id}/add_router_interface",
            axum::routing::put(add_interface),
        )
        .route(
            "/v2.0/routers/{id}/remove_router_interface",
            axum::routing::put(remove_interface),
        );
    for kind in KINDS {
        let collection = format!("/v2.0/{}", kind.path());
        router = router
            .route(
                &collection,
                get(
                    move |State(s): State<SimState>, h: HeaderMap, Query(q): Params| async move {
                        list(kind, s, h, q)
                    },
                )
                .post(
                    move |State(s): State<SimState>, h: HeaderMap, b: Bytes| async move {
                        create(kind, s, h, b)
                    },
                ),
            )
            .route(
                &format!("{collection}/{{id}}"),
                get(
                    move |State(s): State<SimState>,
                          h: HeaderMap,
                          Path(id): Path<String>,
                          Query(q): Params| async move { show(kind, s, h, id, q) },
                )
                .put(
                    move |State(s): State<SimState>,
                          h: HeaderMap,
                          Path(id): Path<String>,
                          b: Bytes| async move { update(kind, s, h, id, b) },
                )
                .delete(
                    move |State(s): State<SimState>, h: HeaderMap, Path(id): Path<String>| async move {
                        delete(kind, s, h, id)
                    },
                ),
            );
        // Rules and RBAC policies have no tags (their tag paths are 404).
        if matches!(kind, Kind::SecurityGroupRule | Kind::RbacPolicy) {
            continue;
        }
        router = router
            .route(
                &format!("{collection}/{{id}}/tags"),
                get(
                    move |State(s): State<SimState>, h: HeaderMap, Path(id): Path<String>| async move {
                        tags_get(kind, s, h, id)
                    },
                )
                .put(
                    move |State(s): State<SimState>,
                          h: HeaderMap,
                          Path(id): Path<String>,
                          b: Bytes| async move { tags_replace(kind, s, h, id, b) },
                )
                .delete(
                    move |State(s): State<SimState>, h: HeaderMap, Path(id): Path<String>| async move {
                        tags_clear(kind, s, h, id)
                    },
                ),
            )
            .route(
                &format!("{collection}/{{id}}/tags/{{tag}}"),
                get(
                    move |State(s): State<SimState>,
                          h: HeaderMap,
                          Path((id, tag)): Path<(String, String)>| async move {
                        tag_check(kind, s, h, id, tag)
                    },
                )
                .put(
                    move |State(s): State<SimState>,
                          h: HeaderMap,
                          Path((id, tag)): Path<(String, String)>| async move {
                        tag_add(kind, s, h, id, tag)
                    },
                )
                .delete(
                    move |State(s): State<SimState>,
                          h: HeaderMap,
                          Path((id, tag)): Path<(String, String)>| async move {
                        tag_remove(kind, s, h, id, tag)
                    },
                ),
            );
    }
    // Registered last: the method fallback covers the routes registered before it.
    router
        .fallback(|headers: HeaderMap| async move { unrouted(Service::Network, false, &headers) })
        .method_not_allowed_fallback(|headers: HeaderMap| async move {
            unrouted(Service::Network, true, &headers)
        })
}

async fn versions(State(state): State<SimState>) -> Response {
    json_reply(
        StatusCode::OK,
        json!({"versions": [versions::entry(
            "v2.0",
            "CURRENT",
            &format!("{}/networking/v2.0/", state.base_url()),
        )]}),
    )
}

async fn resources(State(state): State<SimState>, headers: HeaderMap) -> ApiResult {
    actor(&state, &headers)?;
    let base = format!("{}/networking/v2.0", state.base_url());
    // Neutron lists its core resources only (extensions add the others).
    let resources: Vec<Value> = [
        ("network", "networks"),
        ("subnet", "subnets"),
        ("subnetpool", "subnetpools"),
        ("port", "ports"),
    ]
    .iter()
    .map(|(name, collection)| {
        json!({
            "name": name,
            "collection": collection,
            "links": [{"href": format!("{base}/{collection}"), "rel": "self"}],
        })
    })
    .collect();
    Ok(json_reply(StatusCode::OK, json!({"resources": resources})))
}

fn extension_body(alias: &str, name: &str, description: &str) -> Value {
    json!({
        "alias": alias,
        "name": name,
        "description": description,
        "updated": "2013-01-20T00:00:00-00:00",
        "links": [],
    })
}

async fn extensions(State(state): State<SimState>, headers: HeaderMap) -> ApiResult {
    actor(&state, &headers)?;
    let list: Vec<Value> = EXTENSIONS
        .iter()
        .map(|(a, n, d)| extension_body(a, n, d))
        .collect();
    Ok(json_reply(StatusCode::OK, json!({"extensions": list})))
}

async fn extension(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(alias): Path<String>,
) -> ApiResult {
    actor(&state, &headers)?;
    let Some((a, n, d)) = EXTENSIONS.iter().find(|(a, _, _)| *a == alias) else {
        // Neutron's extension controller raises a plain webob 404, not a NeutronError.
        return Ok(crate::sim::core::webob_error(
            StatusCode::NOT_FOUND,
            &format!(
                "The resource could not be found.<br /><br />\nExtension with alias {alias} does not exist\n\n"
            ),
            &headers,
        ));
    };
    Ok(json_reply(
        StatusCode::OK,
        json!({"extension": extension_body(a, n, d)}),
    ))
}

fn list(
    kind: Kind,
    state: SimState,
    headers: HeaderMap,
    params: Vec<(String, String)>,
) -> ApiResult {
    let actor = actor(&state, &headers)?;
    let query = ListQuery::parse(&params)?;
    query.validate_filters(kind)?;
    // Real Neutron: RBAC policies have no standard attributes, so no tag filter either.
    if kind == Kind::RbacPolicy && {
        let tags = query.tag_filter();
        !(tags.tags.is_empty()
            && tags.tags_any.is_empty()
            && tags.not_tags.is_empty()
            && tags.not_tags_any.is_empty())
    } {
        return Err(NeutronError::bad_request(
            "['tags'] is invalid attribute for filtering",
        ));
    }
    let href = format!("{}/networking/v2.0/{}", state.base_url(), kind.path());
    let mut world = state.world();
    let data = &mut world.network;
    // Neutron creates the project's default group when the project first looks at groups.
    // (A GET is not persisted by core; the group is saved with the next change.)
    if matches!(kind, Kind::SecurityGroup | Kind::SecurityGroupRule) && !actor.project_id.is_empty()
    {
        data.ensure_default_security_group(&actor.project_id);
    }
    data.reindex_changed();
    let items = data.visible(kind, &actor, &query);
    Ok(json_reply(StatusCode::OK, query.apply(kind, items, &href)?))
}

fn show(
    kind: Kind,
    state: SimState,
    headers: HeaderMap,
    id: String,
    params: Vec<(String, String)>,
) -> ApiResult {
    let actor = actor(&state, &headers)?;
    let query = ListQuery::parse(&params)?;
    let world = state.world();
    let item = world.network.show(kind, &actor, &id)?;
    Ok(json_reply(
        StatusCode::OK,
        json!({kind.singular(): query.select(item)}),
    ))
}

fn create(kind: Kind, state: SimState, headers: HeaderMap, body: Bytes) -> ApiResult {
    let actor = actor(&state, &headers)?;
    if kind == Kind::SecurityGroupRule
        && let Some(bodies) = bulk_bodies(&body, kind)?
    {
        let mut world = state.world();
        let ids = world.network.create_security_group_rules(&actor, &bodies)?;
        let items = ids
            .iter()
            .map(|id| world.network.show(kind, &actor, id))
            .collect::<NResult<Vec<_>>>()?;
        return Ok(json_reply(
            StatusCode::CREATED,
            json!({kind.collection(): items}),
        ));
    }
    let body = resource_body(&body, kind, Method::Post)?;
    let mut world = state.world();
    let id = world.network.create(kind, &actor, &body)?;
    let mut item = world.network.show(kind, &actor, &id)?;
    // auto-allocated-topology's is_default is in a network's create answer only.
    if kind == Kind::Network
        && let Some(network) = world.network.networks.get(&id)
    {
        item.insert("is_default".into(), json!(network.is_default));
    }
    Ok(json_reply(
        StatusCode::CREATED,
        json!({kind.singular(): item}),
    ))
}

/// The objects of a bulk create body (`{"<collection>": [{...}, ...]}`), each checked as a
/// single create's body is; `None` when the body is a single create's. Like Neutron, an item
/// may also be wrapped in its singular key.
fn bulk_bodies(raw: &[u8], kind: Kind) -> NResult<Option<Vec<Map<String, Value>>>> {
    let value: Value = serde_json::from_slice(raw)
        .map_err(|_| NeutronError::bad_request("Malformed request body"))?;
    let Some(items) = value.get(kind.collection()) else {
        return Ok(None);
    };
    let Some(items) = items.as_array() else {
        return Err(NeutronError::bad_request("Body contains invalid data"));
    };
    if items.is_empty() {
        return Err(NeutronError::bad_request("Resources required"));
    }
    let mut bodies = Vec::with_capacity(items.len());
    for item in items {
        let inner = item.get(kind.singular()).unwrap_or(item);
        let Some(map) = inner.as_object() else {
            return Err(NeutronError::bad_request("Body contains invalid data"));
        };
        check_attributes(map, kind, Method::Post)?;
        bodies.push(map.clone());
    }
    Ok(Some(bodies))
}

fn update(kind: Kind, state: SimState, headers: HeaderMap, id: String, body: Bytes) -> ApiResult {
    let actor = actor(&state, &headers)?;
    let body = resource_body(&body, kind, Method::Put)?;
    let mut world = state.world();
    world.network.update(kind, &actor, &id, &body)?;
    let item = world.network.show(kind, &actor, &id)?;
    Ok(json_reply(StatusCode::OK, json!({kind.singular(): item})))
}

fn delete(kind: Kind, state: SimState, headers: HeaderMap, id: String) -> ApiResult {
    let actor = actor(&state, &headers)?;
    state.world().network.delete(kind, &actor, &id)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn tags_get(kind: Kind, state: SimState, headers: HeaderMap, id: String) -> ApiResult {
    let actor = actor(&state, &headers)?;
    let tags = state.world().network.tags(kind, &actor, &id)?;
    Ok(json_reply(StatusCode::OK, json!({"tags": tags})))
}

fn tags_replace(
    kind: Kind,
    state: SimState,
    headers: HeaderMap,
    id: String,
    body: Bytes,
) -> ApiResult {
    let actor = actor(&state, &headers)?;
    let value: Value = serde_json::from_slice(&body)
        .map_err(|_| NeutronError::bad_request("Malformed request body"))?;
    let tags = value
        .as_object()
        .filter(|o| o.len() == 1)
        .and_then(|o| o.get("tags"))
        .and_then(Value::as_array)
        .and_then(|a| {
            a.iter()
                .map(|t| t.as_str().map(str::to_string))
                .collect::<Option<Vec<String>>>()
        })
        .ok_or_else(|| NeutronError::invalid_input("Invalid tags body"))?;
    let tags = state
        .world()
        .network
        .replace_tags(kind, &actor, &id, &tags)?;
    Ok(json_reply(StatusCode::OK, json!({"tags": tags})))
}

fn tags_clear(kind: Kind, state: SimState, headers: HeaderMap, id: String) -> ApiResult {
    let actor = actor(&state, &headers)?;
    state.world().network.clear_tags(kind, &actor, &id)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn tag_check(
    kind: Kind,
    state: SimState,
    headers: HeaderMap,
    id: String,
    tag: String,
) -> ApiResult {
    let actor = actor(&state, &headers)?;
    state.world().network.has_tag(kind, &actor, &id, &tag)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn tag_add(kind: Kind, state: SimState, headers: HeaderMap, id: String, tag: String) -> ApiResult {
    let actor = actor(&state, &headers)?;
    state.world().network.add_tag(kind, &actor, &id, &tag)?;
    Ok(StatusCode::CREATED.into_response())
}

fn tag_remove(
    kind: Kind,
    state: SimState,
    headers: HeaderMap,
    id: String,
    tag: String,
) -> ApiResult {
    let actor = actor(&state, &headers)?;
    state.world().network.remove_tag(kind, &actor, &id, &tag)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn parse_json(body: &Bytes) -> NResult<Value> {
    serde_json::from_slice(body).map_err(|_| NeutronError::bad_request("Malformed request body"))
}

async fn add_interface(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let actor = actor(&state, &headers)?;
    let body = parse_json(&body)?;
    let info = state
        .world()
        .network
        .add_router_interface(&actor, &id, &body)?;
    Ok(json_reply(StatusCode::OK, info))
}

async fn remove_interface(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let actor = actor(&state, &headers)?;
    let body = parse_json(&body)?;
    let info = state
        .world()
        .network
        .remove_router_interface(&actor, &id, &body)?;
    Ok(json_reply(StatusCode::OK, info))
}

/// Non-admins may only read their own project's quotas.
fn quota_reader(actor: &Actor, project_id: &str) -> NResult<()> {
    if actor.admin || actor.project_id == project_id {
        Ok(())
    } else {
        Err(NeutronError::policy("get_quota"))
    }
}

async fn quota_list(State(state): State<SimState>, headers: HeaderMap) -> ApiResult {
    let actor = actor(&state, &headers)?;
    let list = state.world().network.quota_list(&actor);
    Ok(json_reply(StatusCode::OK, json!({"quotas": list})))
}

async fn quota_show(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
) -> ApiResult {
    let actor = actor(&state, &headers)?;
    quota_reader(&actor, &project_id)?;
    let set = state.world().network.quota_set(&project_id);
    Ok(json_reply(StatusCode::OK, json!({"quota": set})))
}

async fn quota_default(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
) -> ApiResult {
    let actor = actor(&state, &headers)?;
    quota_reader(&actor, &project_id)?;
    let set: Map<String, Value> = super::ops::QUOTA_DEFAULTS
        .iter()
        .map(|(name, limit)| (name.to_string(), json!(limit)))
        .collect();
    Ok(json_reply(StatusCode::OK, json!({"quota": set})))
}

async fn quota_details(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
) -> ApiResult {
    let actor = actor(&state, &headers)?;
    quota_reader(&actor, &project_id)?;
    let details = state.world().network.quota_details(&project_id);
    Ok(json_reply(StatusCode::OK, json!({"quota": details})))
}

async fn quota_update(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let actor = actor(&state, &headers)?;
    let body = parse_json(&body)?;
    let set = state
        .world()
        .network
        .update_quota(&actor, &project_id, &body)?;
    Ok(json_reply(StatusCode::OK, json!({"quota": set})))
}

async fn quota_reset(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
) -> ApiResult {
    let actor = actor(&state, &headers)?;
    state.world().network.reset_quota(&actor, &project_id)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
