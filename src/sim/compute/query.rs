//! Nova's list queries: server filters (name regex, status, tags, all_tenants), page limits,
//! markers and `next` links, for servers and flavors.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use crate::sim::core::{Fault, Service, SimState, now};
use crate::sim::wire::json_reply;
use crate::sim::wire::paging::{next_page_query, query_value};
use crate::sim::wire::tags::tag_pair_matches;

use super::*;

// ---------------------------------------------------------------------------------------------
// Server list

/// Nova's name filter is a regular expression searched in the name; plain text, `^` and `$`
/// cover what clients send.
pub(super) fn name_matches(name: &str, pattern: &str) -> bool {
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

pub(super) fn server_matches(
    server: &Server,
    query: &[(String, String)],
    all_projects: bool,
) -> bool {
    query.iter().all(|(key, value)| match key.as_str() {
        "name" => name_matches(&server.name, value),
        "status" => server.status().eq_ignore_ascii_case(value),
        "image" => server.image_id == id_from_ref(value),
        "flavor" => server.flavor.id == id_from_ref(value),
        "project_id" | "tenant_id" if all_projects => server.project_id == *value,
        _ => tag_pair_matches(key, value, &server.tags).unwrap_or(true),
    })
}

/// Parses `limit` as Nova does.
pub(super) fn page_limit(query: &[(String, String)]) -> Result<usize, Fault> {
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
pub(super) fn next_link(base: &str, path: &str, query: &[(String, String)], marker: &str) -> Value {
    let query = next_page_query(query, marker);
    json!([{ "href": format!("{base}/compute/v2.1/{path}?{query}"), "rel": "next" }])
}

pub(super) fn server_list(
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
    // One project's servers come from the index: a list costs what it returns. Every filter
    // must hold, so an admin's `project_id`/`tenant_id` filter narrows to that project.
    let only_project = if all_tenants {
        query
            .iter()
            .find(|(key, _)| key == "project_id" || key == "tenant_id")
            .map(|(_, value)| value.clone())
    } else {
        Some(project_id.clone())
    };
    let at = now();
    let compute = &mut world.compute;
    match &only_project {
        Some(project) => compute.settle_project(project, at),
        None => compute.settle_all(at),
    }
    let candidates: Box<dyn Iterator<Item = &Server>> = match &only_project {
        Some(project) => Box::new(world.compute.servers.of_project(project)),
        None => Box::new(world.compute.servers.values()),
    };
    let mut servers: Vec<&Server> = candidates
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
    Ok(json_reply(StatusCode::OK, body))
}

pub(super) fn flavor_list(
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
    Ok(json_reply(StatusCode::OK, body))
}
