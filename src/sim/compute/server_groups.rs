//! os-server-groups (2.64+ wire format: one `policy`, its `rules`, the `members`) and the
//! scheduling of a server booted into a group on the embedded cloud's one host.
//!
//! The embedded cloud has one compute host ([`HOST`]), as the real test cloud's fake driver
//! has: affinity (hard or soft) and soft anti-affinity always place a server there; hard
//! anti-affinity places at most `max_server_per_host` (1 by default) of the group's servers,
//! and a server beyond them ends in ERROR with the scheduler's fault, as real Nova's does.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::sim::core::{Caller, Fault, Service, SimState, World, new_uuid, parse_json};
use crate::sim::wire::json_reply;

use super::*;

const POLICIES: [&str; 4] = [
    "anti-affinity",
    "affinity",
    "soft-anti-affinity",
    "soft-affinity",
];

#[derive(Clone, Serialize, Deserialize)]
pub(super) struct ServerGroup {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) policy: String,
    /// `max_server_per_host`, the only rule Nova knows (anti-affinity only).
    pub(super) max_server_per_host: Option<i64>,
    pub(super) project_id: String,
    pub(super) user_id: String,
}

impl ComputeData {
    /// The servers booted into `group_id` that still exist, oldest first.
    pub(super) fn group_members(&self, group_id: &str) -> Vec<&Server> {
        let mut members: Vec<&Server> = self
            .servers
            .values()
            .filter(|s| s.server_group.as_deref() == Some(group_id) && s.vm_state != "deleted")
            .collect();
        members.sort_by_key(|s| s.created);
        members
    }

    /// The group a server booted with `hint` joins, after Nova's checks: the group exists for
    /// the caller (400 otherwise), and its members quota has room (403).
    pub(super) fn group_for_boot(
        &self,
        hint: &str,
        project_id: &str,
        caller: &Caller,
    ) -> Result<ServerGroup, Fault> {
        let group = self
            .server_groups
            .get(hint)
            .filter(|g| caller.is_admin() || g.project_id == project_id)
            .cloned()
            .ok_or_else(|| bad_request(format!("Instance group {hint} could not be found.")))?;
        let limit = self.quota(project_id).server_group_members;
        if limit >= 0 && self.group_members(&group.id).len() as i64 >= limit {
            return Err(fault(
                StatusCode::FORBIDDEN,
                "Quota exceeded, too many servers in group",
            ));
        }
        Ok(group)
    }

    /// Whether the scheduler finds the one host for one more server of `group`: hard
    /// anti-affinity allows `max_server_per_host` of its servers there (servers in ERROR never
    /// got a host, so they do not count).
    pub(super) fn host_for(&self, group: &ServerGroup) -> bool {
        if group.policy != "anti-affinity" {
            return true;
        }
        let on_host = self
            .group_members(&group.id)
            .iter()
            .filter(|s| {
                s.vm_state != "error" && s.pending.as_ref().is_none_or(|p| p.vm_state != "error")
            })
            .count() as i64;
        on_host < group.max_server_per_host.unwrap_or(1)
    }
}

fn render(data: &ComputeData, group: &ServerGroup) -> Value {
    let rules = match group.max_server_per_host {
        Some(max) => json!({ "max_server_per_host": max }),
        None => json!({}),
    };
    let members: Vec<&str> = data
        .group_members(&group.id)
        .iter()
        .map(|s| s.id.as_str())
        .collect();
    json!({
        "id": group.id,
        "name": group.name,
        "policy": group.policy,
        "rules": rules,
        "members": members,
        "project_id": group.project_id,
        "user_id": group.user_id,
    })
}

fn group_not_found(id: &str) -> Fault {
    fault(
        StatusCode::NOT_FOUND,
        format!("Instance group {id} could not be found."),
    )
}

fn visible<'a>(world: &'a World, caller: &Caller, id: &str) -> Result<&'a ServerGroup, Fault> {
    world
        .compute
        .server_groups
        .get(id)
        .filter(|g| {
            caller.is_admin() || caller.project_id.as_deref() == Some(g.project_id.as_str())
        })
        .ok_or_else(|| group_not_found(id))
}

/// GET /os-server-groups: the caller's project's groups; `all_projects` (admin) every one.
pub(super) async fn list_server_groups(
    State(state): State<SimState>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, Fault> {
    let caller = state.caller(&headers, Service::Compute)?;
    let all = caller.is_admin()
        && query.iter().any(|(k, v)| {
            k == "all_projects" && matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes")
        });
    let project = caller.project_id.clone().unwrap_or_default();
    let world = state.world();
    let groups: Vec<Value> = world
        .compute
        .server_groups
        .values()
        .filter(|g| all || g.project_id == project)
        .map(|g| render(&world.compute, g))
        .collect();
    Ok(json_reply(
        StatusCode::OK,
        json!({ "server_groups": groups }),
    ))
}

pub(super) async fn show_server_group(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Fault> {
    let caller = state.caller(&headers, Service::Compute)?;
    let world = state.world();
    let group = visible(&world, &caller, &id)?;
    Ok(json_reply(
        StatusCode::OK,
        json!({ "server_group": render(&world.compute, group) }),
    ))
}

/// POST /os-server-groups, with Nova's validation messages and its quota refusal.
pub(super) async fn create_server_group(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    body: Bytes,
) -> Result<Response, Fault> {
    let caller = state.caller(&headers, Service::Compute)?;
    let project_id = project_of(&caller)?;
    let body = parse_json(Service::Compute, &body)?;
    let input = body
        .get("server_group")
        .filter(|g| g.is_object())
        .ok_or_else(|| {
            invalid_field(
                "server_group",
                &body,
                "'server_group' is a required property",
            )
        })?;
    let name = input
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty() && n.chars().count() <= 255)
        .ok_or_else(|| {
            invalid_field(
                "name",
                input.get("name").unwrap_or(&Value::Null),
                "'name' is a required property",
            )
        })?
        .to_string();
    let policy = if mv.at_least(64) {
        input.get("policy").cloned().unwrap_or(Value::Null)
    } else {
        input
            .get("policies")
            .and_then(|p| p.get(0))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let policy = match policy.as_str() {
        Some(p) if POLICIES.contains(&p) => p.to_string(),
        _ => {
            let shown = policy
                .as_str()
                .map(str::to_string)
                .unwrap_or(policy.to_string());
            return Err(bad_request(format!(
                "Invalid input for field/attribute policy. Value: {shown}. '{shown}' is not one \
                 of ['anti-affinity', 'affinity', 'soft-anti-affinity', 'soft-affinity']"
            )));
        }
    };
    let rules: BTreeMap<String, Value> = match input.get("rules") {
        Some(Value::Object(rules)) if mv.at_least(64) => rules.clone().into_iter().collect(),
        _ => BTreeMap::new(),
    };
    if let Some(other) = rules.keys().find(|k| *k != "max_server_per_host") {
        let shown: Vec<String> = rules.iter().map(|(k, v)| format!("'{k}': {v}")).collect();
        return Err(bad_request(format!(
            "Invalid input for field/attribute rules. Value: {{{}}}. Additional properties are \
             not allowed ('{other}' was unexpected)",
            shown.join(", ")
        )));
    }
    let max_server_per_host = match rules.get("max_server_per_host") {
        None => None,
        Some(value) => Some(max_server_per_host(value)?),
    };
    if !rules.is_empty() && policy != "anti-affinity" {
        return Err(bad_request("Only anti-affinity policy supports rules."));
    }
    let mut world = state.world();
    let limit = world.compute.quota(&project_id).server_groups;
    let used = world
        .compute
        .server_groups
        .values()
        .filter(|g| g.project_id == project_id)
        .count() as i64;
    if limit >= 0 && used >= limit {
        return Err(fault(
            StatusCode::FORBIDDEN,
            "Quota exceeded, too many server groups.",
        ));
    }
    let group = ServerGroup {
        id: new_uuid(),
        name,
        policy,
        max_server_per_host,
        project_id,
        user_id: caller.user_id.clone(),
    };
    world
        .compute
        .server_groups
        .insert(group.id.clone(), group.clone());
    Ok(json_reply(
        StatusCode::OK,
        json!({ "server_group": render(&world.compute, &group) }),
    ))
}

/// Nova's `positive_integer`: an integer, or a string of digits, at least 1.
fn max_server_per_host(value: &Value) -> Result<i64, Fault> {
    let invalid = |reason: String| {
        bad_request(format!(
            "Invalid input for field/attribute max_server_per_host. Value: {}. {reason}",
            value
                .as_str()
                .map(str::to_string)
                .unwrap_or(value.to_string())
        ))
    };
    let number = match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) if s.chars().all(|c| c.is_ascii_digit()) => s.parse().ok(),
        Value::String(s) => return Err(invalid(format!("'{s}' does not match '^[0-9]*$'"))),
        other => {
            return Err(invalid(format!(
                "{other} is not of type 'integer', 'string'"
            )));
        }
    };
    match number {
        Some(n) if n >= 1 => Ok(n),
        _ => Err(invalid(format!("{value} is less than the minimum of 1"))),
    }
}

/// DELETE /os-server-groups/{id}: allowed with members, which keep running in no group.
pub(super) async fn delete_server_group(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Fault> {
    let caller = state.caller(&headers, Service::Compute)?;
    let mut world = state.world();
    visible(&world, &caller, &id)?;
    world.compute.server_groups.remove(&id);
    let members: Vec<String> = world
        .compute
        .group_members(&id)
        .iter()
        .map(|s| s.id.clone())
        .collect();
    for member in members {
        if let Some(server) = world.compute.servers.get_mut(&member) {
            server.server_group = None;
        }
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
