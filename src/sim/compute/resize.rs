//! Nova's resize of the embedded cloud: `resize` (RESIZE, then VERIFY_RESIZE on the new
//! flavor), `confirmResize` (ACTIVE or SHUTOFF as the server was) and `revertResize`
//! (REVERT_RESIZE, then back on the old flavor), with Nova's refusals and the failures a test
//! injects (`fail_resize`: see `ResizeFailure`).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::sim::core::{Caller, Fault, ResizeFailure, SimState, World};

use super::*;

/// One resize action's request.
pub(super) struct ResizeRequest<'a> {
    pub(super) state: &'a SimState,
    pub(super) caller: &'a Caller,
    pub(super) server_id: &'a str,
    pub(super) request_id: &'a str,
    pub(super) done_at: DateTime<Utc>,
}

/// Handles `resize`, `confirmResize` and `revertResize`; None for any other action.
pub(super) fn resize_action(
    world: &mut World,
    request: &ResizeRequest<'_>,
    action: &str,
    argument: &Value,
) -> Option<Result<Response, Fault>> {
    Some(match action {
        "resize" => resize(world, request, argument),
        "confirmResize" => confirm(world, request),
        "revertResize" => revert(world, request),
        _ => return None,
    })
}

/// POST {"resize": {"flavorRef": ...}}: 202. Nova resizes ACTIVE and SHUTOFF servers with no
/// task running; the new flavor must differ and its extra cores and RAM fit the quota.
fn resize(
    world: &mut World,
    request: &ResizeRequest<'_>,
    argument: &Value,
) -> Result<Response, Fault> {
    let flavor_ref = argument
        .get("flavorRef")
        .and_then(|v| match v {
            Value::String(s) => Some(id_from_ref(s).to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .ok_or_else(|| invalid_field("resize", argument, "'flavorRef' is a required property"))?;
    let flavor = world
        .compute
        .flavors
        .iter()
        .find(|f| f.id == flavor_ref)
        .cloned()
        .ok_or_else(|| bad_request(format!("Flavor {flavor_ref} could not be found.")))?;
    let server = find_server(world, request.caller, request.server_id)?;
    if server.task_state.is_some() || !matches!(server.vm_state.as_str(), "active" | "stopped") {
        return Err(invalid_state("resize", server));
    }
    if server.flavor.id == flavor.id {
        return Err(bad_request("When resizing, instances must change flavor!"));
    }
    let old = server.flavor.clone();
    let project_id = server.project_id.clone();
    check_upsize(world, &project_id, &old, &flavor)?;
    let failure = request.state.take_resize_failure();
    let server = find_server(world, request.caller, request.server_id)?;
    let (vm_state, power) = (server.vm_state.clone(), server.power_state);
    server.start_action("resize_prep", request.done_at, "resized", power);
    if failure == Some(ResizeFailure::Schedule) {
        // Nova's conductor sets the server back as it was, on its old flavor: no fault on
        // the server (its status is not ERROR), only a failed event in the instance action.
        if let Some(pending) = &mut server.pending {
            pending.vm_state = vm_state;
        }
        server.record_action(
            "resize",
            "conductor_migrate_server",
            request.request_id,
            &request.caller.user_id,
            request.done_at,
        );
        if let Some(action) = server.actions.last_mut() {
            action.failed = true;
        }
        return Ok(StatusCode::ACCEPTED.into_response());
    }
    if let Some(pending) = &mut server.pending {
        pending.flavor = Some(flavor);
    }
    server.old_flavor = Some(old);
    server.confirm_fails = failure == Some(ResizeFailure::Confirm);
    server.record_action(
        "resize",
        "compute_finish_resize",
        request.request_id,
        &request.caller.user_id,
        request.done_at,
    );
    Ok(StatusCode::ACCEPTED.into_response())
}

/// POST {"confirmResize": null}: 204; the server leaves VERIFY_RESIZE for ACTIVE, or SHUTOFF
/// when it was resized stopped.
fn confirm(world: &mut World, request: &ResizeRequest<'_>) -> Result<Response, Fault> {
    let server = find_server(world, request.caller, request.server_id)?;
    if server.vm_state != "resized" {
        return Err(invalid_state("confirmResize", server));
    }
    if std::mem::take(&mut server.confirm_fails) {
        return Err(fault(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/ and \
             attach the Nova API log if possible.\n<class 'nova.exception.MigrationError'>",
        ));
    }
    let vm_state = settled_vm_state(server);
    let power = server.power_state;
    server.start_action("resize_confirming", request.done_at, vm_state, power);
    // Nova sets no task while it confirms: the server shows VERIFY_RESIZE until it is done.
    server.task_state = None;
    server.old_flavor = None;
    server.record_action(
        "confirmResize",
        "compute_confirm_resize",
        request.request_id,
        &request.caller.user_id,
        request.done_at,
    );
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// POST {"revertResize": null}: 202; REVERT_RESIZE, then as it was on its old flavor.
fn revert(world: &mut World, request: &ResizeRequest<'_>) -> Result<Response, Fault> {
    let server = find_server(world, request.caller, request.server_id)?;
    if server.vm_state != "resized" || server.task_state.is_some() {
        return Err(invalid_state("revertResize", server));
    }
    let vm_state = settled_vm_state(server);
    let power = server.power_state;
    let old = server.old_flavor.take();
    server.confirm_fails = false;
    server.start_action("resize_reverting", request.done_at, vm_state, power);
    if let Some(pending) = &mut server.pending {
        pending.flavor = old;
    }
    server.record_action(
        "revertResize",
        "compute_finish_revert_resize",
        request.request_id,
        &request.caller.user_id,
        request.done_at,
    );
    Ok(StatusCode::ACCEPTED.into_response())
}

/// Where a resized server goes when the resize ends: stopped if it was resized stopped.
fn settled_vm_state(server: &Server) -> &'static str {
    if server.power_state == POWER_SHUTDOWN {
        "stopped"
    } else {
        "active"
    }
}

/// Nova checks only what the new flavor adds (cores, RAM) against the project's quota.
fn check_upsize(world: &World, project_id: &str, old: &Flavor, new: &Flavor) -> Result<(), Fault> {
    let quota = world.compute.quota(project_id);
    let usage = world.compute.usage(project_id);
    let added = [
        ("cores", (new.vcpus - old.vcpus).max(0)),
        ("ram", (new.ram - old.ram).max(0)),
    ];
    let overs: Vec<(&str, i64)> = added
        .into_iter()
        .filter(|(key, amount)| {
            let limit = quota.get(key);
            *amount > 0 && limit >= 0 && usage.get(key) + amount > limit
        })
        .collect();
    if overs.is_empty() {
        return Ok(());
    }
    let list =
        |f: &dyn Fn(&(&str, i64)) -> String| overs.iter().map(f).collect::<Vec<_>>().join(", ");
    let names = list(&|(k, _)| k.to_string());
    Err(fault(
        StatusCode::FORBIDDEN,
        format!(
            "Quota exceeded for {names}: Requested {}, but already used {} of {} {names}",
            list(&|(_, a)| a.to_string()),
            list(&|(k, _)| usage.get(k).to_string()),
            list(&|(k, _)| quota.get(k).to_string()),
        ),
    ))
}
