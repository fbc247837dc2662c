//! Handlers of projects, their tags and their role grants.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::sim::core::{Fault, Service, SimState, new_hex_id, parse_json};
use crate::sim::wire::json_reply;
use crate::sim::wire::paging::encode_query_value;
use crate::sim::wire::tags::{self as wire_tags};

use super::*;

/// GET /v3/projects
pub(super) async fn list_projects(
    State(state): State<SimState>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, Fault> {
    admin_list(
        &state,
        &headers,
        "list_projects",
        "projects",
        |data| &data.projects,
        |item| project_matches(item, &query),
        project_body,
    )
}

/// POST /v3/projects
pub(super) async fn create_project(
    State(state): State<SimState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Fault> {
    let (input, name) = create_input(&state, &headers, &body, "create_project", "project")?;
    let input = &input;
    let base = state.base_url();
    let mut world = state.world();
    let data = &mut world.identity;
    let parent_id = input
        .get("parent_id")
        .and_then(Value::as_str)
        .map(str::to_string);
    let domain_id = match (input.get("domain_id").and_then(Value::as_str), &parent_id) {
        (Some(domain), _) => domain.to_string(),
        (None, Some(parent)) => data
            .project(parent)
            .map(|p| p.domain_id.clone())
            .ok_or_else(|| not_found("project", parent))?,
        (None, None) => DEFAULT_DOMAIN.to_string(),
    };
    if data.domain(&domain_id).is_none() {
        return Err(not_found("domain", &domain_id));
    }
    if let Some(parent) = &parent_id
        && data.project(parent).is_none()
    {
        return Err(not_found("project", parent));
    }
    if data
        .projects
        .iter()
        .any(|p| p.name == name && p.domain_id == domain_id)
    {
        return Err(duplicate_project(&name));
    }
    let tags = match input.get("tags") {
        Some(tags) => tags_from(tags)?,
        None => Vec::new(),
    };
    let project = Project {
        id: new_hex_id(),
        name,
        parent_id: parent_id.unwrap_or_else(|| domain_id.clone()),
        domain_id,
        description: input
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        enabled: input
            .get("enabled")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        tags,
    };
    let body = json!({ "project": project_body(&project, base) });
    data.projects.push(project);
    Ok(json_reply(StatusCode::CREATED, body))
}

/// GET /v3/projects/{id}
pub(super) async fn show_project(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
) -> Result<Response, Fault> {
    let caller = state.caller(&headers, Service::Identity)?;
    let world = state.world();
    let project = visible_project(&world.identity, &caller, &project_id, "get_project")?;
    Ok(json_reply(
        StatusCode::OK,
        json!({ "project": project_body(project, state.base_url()) }),
    ))
}

/// PATCH /v3/projects/{id}
pub(super) async fn update_project(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
    body: Bytes,
) -> Result<Response, Fault> {
    require_admin(&state, &headers, "update_project")?;
    let body = parse_json(Service::Identity, &body)?;
    let input = body
        .get("project")
        .ok_or_else(|| missing("project", "request body"))?;
    let mut world = state.world();
    let data = &mut world.identity;
    let domain_id = data
        .project(&project_id)
        .map(|p| p.domain_id.clone())
        .ok_or_else(|| not_found("project", &project_id))?;
    let name = match input.get("name") {
        Some(value) => {
            let name = valid_name(Some(value), "project")?;
            if data
                .projects
                .iter()
                .any(|p| p.name == name && p.domain_id == domain_id && p.id != project_id)
            {
                return Err(duplicate_project(&name));
            }
            Some(name)
        }
        None => None,
    };
    let tags = input.get("tags").map(tags_from).transpose()?;
    let project = project_mut(data, &project_id)?;
    if let Some(name) = name {
        project.name = name;
    }
    if let Some(tags) = tags {
        project.tags = tags;
    }
    if let Some(description) = input.get("description") {
        project.description = description.as_str().unwrap_or_default().to_string();
    }
    if let Some(enabled) = input.get("enabled").and_then(Value::as_bool) {
        project.enabled = enabled;
    }
    let mut body = json!({ "project": project_body(project, state.base_url()) });
    // Keystone's update answers with the stored row, whose unknown attributes sit in `extra`.
    body["project"]["extra"] = json!({});
    Ok(json_reply(StatusCode::OK, body))
}

/// DELETE /v3/projects/{id}: its role assignments and tokens go with it.
pub(super) async fn delete_project(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
) -> Result<StatusCode, Fault> {
    require_admin(&state, &headers, "delete_project")?;
    let mut world = state.world();
    let data = &mut world.identity;
    if data.project(&project_id).is_none() {
        return Err(not_found("project", &project_id));
    }
    if data.projects.iter().any(|p| p.parent_id == project_id) {
        return Err(fault(
            StatusCode::FORBIDDEN,
            format!(
                "Cannot delete the project {project_id} since it is not a leaf in the hierarchy."
            ),
        ));
    }
    data.projects.retain(|p| p.id != project_id);
    data.assignments.retain(|a| a.project_id != project_id);
    data.tokens
        .retain(|_, t| t.project_id.as_deref() != Some(project_id.as_str()));
    Ok(StatusCode::NO_CONTENT)
}

/// GET /v3/projects/{id}/tags
pub(super) async fn list_tags(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
) -> Result<Response, Fault> {
    let caller = state.caller(&headers, Service::Identity)?;
    let world = state.world();
    let project = visible_project(&world.identity, &caller, &project_id, "list_project_tags")?;
    Ok(json_reply(
        StatusCode::OK,
        json!({ "tags": project.tags, "links": { "self": format!("{}/identity/v3", state.base_url()) } }),
    ))
}

/// PUT /v3/projects/{id}/tags: replaces the whole list.
pub(super) async fn replace_tags(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
    body: Bytes,
) -> Result<Response, Fault> {
    require_admin(&state, &headers, "update_project_tags")?;
    let body = parse_json(Service::Identity, &body)?;
    let tags = tags_from(
        body.get("tags")
            .ok_or_else(|| missing("tags", "request body"))?,
    )?;
    let mut world = state.world();
    let project = project_mut(&mut world.identity, &project_id)?;
    project.tags = tags;
    Ok(json_reply(
        StatusCode::OK,
        json!({ "tags": project.tags, "links": { "self": format!("{}/identity/v3", state.base_url()) } }),
    ))
}

/// DELETE /v3/projects/{id}/tags: removes every tag.
pub(super) async fn clear_tags(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
) -> Result<StatusCode, Fault> {
    require_admin(&state, &headers, "delete_project_tags")?;
    let mut world = state.world();
    project_mut(&mut world.identity, &project_id)?.tags.clear();
    Ok(StatusCode::NO_CONTENT)
}

/// GET/HEAD /v3/projects/{id}/tags/{tag}: 204 when present.
pub(super) async fn check_tag(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path((project_id, tag)): Path<(String, String)>,
) -> Result<StatusCode, Fault> {
    let caller = state.caller(&headers, Service::Identity)?;
    let world = state.world();
    let project = visible_project(&world.identity, &caller, &project_id, "get_project_tag")?;
    if project.tags.contains(&tag) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found("project tag", &tag))
    }
}

/// PUT /v3/projects/{id}/tags/{tag}: 201.
pub(super) async fn add_tag(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path((project_id, tag)): Path<(String, String)>,
) -> Result<Response, Fault> {
    require_admin(&state, &headers, "create_project_tag")?;
    let tag = valid_tag(&tag)?;
    let base = state.base_url().to_string();
    let mut world = state.world();
    let project = project_mut(&mut world.identity, &project_id)?;
    wire_tags::add_tag(&mut project.tags, &tag, MAX_TAGS).map_err(|_| too_many_tags())?;
    let mut response = StatusCode::CREATED.into_response();
    let location = format!(
        "{base}/identity/v3/projects/{project_id}/tags/{}",
        encode_query_value(&tag)
    );
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert("location", value);
    }
    Ok(response)
}

/// DELETE /v3/projects/{id}/tags/{tag}
pub(super) async fn remove_tag(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path((project_id, tag)): Path<(String, String)>,
) -> Result<StatusCode, Fault> {
    require_admin(&state, &headers, "delete_project_tag")?;
    let mut world = state.world();
    let project = project_mut(&mut world.identity, &project_id)?;
    if !wire_tags::remove_tag(&mut project.tags, &tag) {
        return Err(not_found("project tag", &tag));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// GET /v3/projects/{p}/users/{u}/roles
pub(super) async fn list_grants(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path((project_id, user_id)): Path<(String, String)>,
) -> Result<Response, Fault> {
    require_admin(&state, &headers, "list_grants")?;
    let base = state.base_url();
    let world = state.world();
    let data = &world.identity;
    if data.project(&project_id).is_none() {
        return Err(not_found("project", &project_id));
    }
    if data.user(&user_id).is_none() {
        return Err(not_found("user", &user_id));
    }
    let roles: Vec<Value> = data
        .roles_of(&user_id, &project_id)
        .into_iter()
        .map(|r| role_body(r, base))
        .collect();
    let path = format!("projects/{project_id}/users/{user_id}/roles");
    Ok(json_reply(
        StatusCode::OK,
        json!({ "roles": roles, "links": collection_links(base, &path) }),
    ))
}

/// PUT /v3/projects/{p}/users/{u}/roles/{r}: 204, idempotent.
pub(super) async fn grant_role(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path((project_id, user_id, role_id)): Path<(String, String, String)>,
) -> Result<StatusCode, Fault> {
    require_admin(&state, &headers, "create_grant")?;
    let mut world = state.world();
    let data = &mut world.identity;
    check_grant_parts(data, &project_id, &user_id, &role_id)?;
    let assignment = Assignment {
        user_id,
        project_id,
        role_id,
    };
    if !data.assignments.contains(&assignment) {
        data.assignments.push(assignment);
    }
    Ok(StatusCode::NO_CONTENT)
}

/// GET/HEAD /v3/projects/{p}/users/{u}/roles/{r}: 204 when granted.
pub(super) async fn check_grant(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path((project_id, user_id, role_id)): Path<(String, String, String)>,
) -> Result<StatusCode, Fault> {
    require_admin(&state, &headers, "check_grant")?;
    let world = state.world();
    let data = &world.identity;
    check_grant_parts(data, &project_id, &user_id, &role_id)?;
    let assignment = Assignment {
        user_id,
        project_id,
        role_id,
    };
    if data.assignments.contains(&assignment) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(assignment_not_found(
            &assignment.project_id,
            &assignment.user_id,
            &assignment.role_id,
        ))
    }
}

/// DELETE /v3/projects/{p}/users/{u}/roles/{r}
pub(super) async fn revoke_grant(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path((project_id, user_id, role_id)): Path<(String, String, String)>,
) -> Result<StatusCode, Fault> {
    require_admin(&state, &headers, "revoke_grant")?;
    let mut world = state.world();
    let data = &mut world.identity;
    check_grant_parts(data, &project_id, &user_id, &role_id)?;
    let assignment = Assignment {
        user_id,
        project_id,
        role_id,
    };
    let before = data.assignments.len();
    data.assignments.retain(|a| *a != assignment);
    if data.assignments.len() == before {
        return Err(assignment_not_found(
            &assignment.project_id,
            &assignment.user_id,
            &assignment.role_id,
        ));
    }
    Ok(StatusCode::NO_CONTENT)
}
