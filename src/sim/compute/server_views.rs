//! Reads of what belongs to a server outside its record: the Neutron views Nova serves
//! (os-security-groups, os-interface) and its instance actions (os-instance-actions).

use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use crate::sim::core::{Caller, Fault, Service, SimState, World, now};
use crate::sim::wire::json_reply;
use crate::sim::wire::paging::query_value;

use super::*;

/// Answers a read of one server's part: the caller must see the server; `view` builds the
/// body from the World, the server and the caller.
fn server_read(
    state: &SimState,
    headers: &HeaderMap,
    server_id: &str,
    view: impl FnOnce(&World, &Server, &Caller) -> Result<Value, Fault>,
) -> Result<Response, Fault> {
    let caller = state.caller(headers, Service::Compute)?;
    let mut world = state.world();
    let server = find_server(&mut world, &caller, server_id)?.clone();
    Ok(json_reply(StatusCode::OK, view(&world, &server, &caller)?))
}

/// GET /servers/{id}/os-security-groups: the groups of the server's ports, with their
/// ingress rules (Ansible's openstack.cloud.server reads it on every run).
pub(super) async fn server_security_groups(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(server_id): Path<String>,
) -> Result<Response, Fault> {
    server_read(&state, &headers, &server_id, |world, server, _| {
        let groups = world.network.server_security_group_views(&server.id);
        Ok(json!({ "security_groups": groups }))
    })
}

/// GET /servers/{id}/os-interface (openstacksdk's `compute.server_interfaces`).
pub(super) async fn list_interfaces(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Path(server_id): Path<String>,
) -> Result<Response, Fault> {
    server_read(&state, &headers, &server_id, |world, server, _| {
        let interfaces = world.network.server_interfaces(&server.id, mv.at_least(70));
        Ok(json!({ "interfaceAttachments": interfaces }))
    })
}

/// GET /servers/{id}/os-interface/{port_id}.
pub(super) async fn show_interface(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Path((server_id, port_id)): Path<(String, String)>,
) -> Result<Response, Fault> {
    server_read(&state, &headers, &server_id, |world, server, _| {
        let interface = world
            .network
            .server_interface(&server.id, &port_id, mv.at_least(70))
            .map_err(|message| fault(StatusCode::NOT_FOUND, message))?;
        Ok(json!({ "interfaceAttachment": interface }))
    })
}

/// DELETE /servers/{id}/os-interface/{port_id}: Nova detaches the port and answers 202; a
/// port Nova made for the server is deleted, one made beforehand is unbound and kept.
pub(super) async fn detach_interface(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path((server_id, port_id)): Path<(String, String)>,
) -> Result<StatusCode, Fault> {
    let caller = state.caller(&headers, Service::Compute)?;
    let mut world = state.world();
    let server_id = find_server(&mut world, &caller, &server_id)?.id.clone();
    world
        .network
        .detach_server_port(&server_id, &port_id)
        .map_err(|message| fault(StatusCode::NOT_FOUND, message))?;
    Ok(StatusCode::ACCEPTED)
}

/// GET /servers/{id}/os-instance-actions (`openstack server event list`): newest first;
/// from 2.58 paged by `limit` and `marker` (a request id) with a `next` link on a full page.
pub(super) async fn list_instance_actions(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Path(server_id): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, Fault> {
    let base = state.base_url().to_string();
    server_read(&state, &headers, &server_id, |_, server, _| {
        let at = now();
        let mut rest: Vec<&Action> = server.actions.iter().rev().collect();
        if !mv.at_least(58) {
            let actions: Vec<Value> = rest
                .iter()
                .map(|action| action_summary(action, &server.id, mv, at))
                .collect();
            return Ok(json!({ "instanceActions": actions }));
        }
        let limit = page_limit(&query)?;
        if let Some(marker) = query_value(&query, "marker") {
            // Nova's message says "None", not the marker (its MarkerNotFound is raised
            // without it).
            let position = rest
                .iter()
                .position(|a| a.request_id == marker)
                .ok_or_else(|| bad_request("Marker None could not be found."))?;
            rest.drain(..=position);
        }
        rest.truncate(limit);
        let actions: Vec<Value> = rest
            .iter()
            .map(|action| action_summary(action, &server.id, mv, at))
            .collect();
        let mut body = json!({ "instanceActions": actions });
        if let Some(last) = rest.last().filter(|_| rest.len() == limit) {
            body["links"] = next_link(
                &base,
                &format!("servers/{}/os-instance-actions", server.id),
                &query,
                &last.request_id,
            );
        }
        Ok(body)
    })
}

/// GET /servers/{id}/os-instance-actions/{request_id} (`openstack server event show`).
pub(super) async fn show_instance_action(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Path((server_id, request_id)): Path<(String, String)>,
) -> Result<Response, Fault> {
    server_read(&state, &headers, &server_id, |_, server, caller| {
        let action = server
            .actions
            .iter()
            .find(|a| a.request_id == request_id)
            .ok_or_else(|| {
                fault(
                    StatusCode::NOT_FOUND,
                    format!("Action {request_id} not found"),
                )
            })?;
        let view = action_detail(action, &server.id, mv, caller.is_admin(), now());
        Ok(json!({ "instanceAction": view }))
    })
}
