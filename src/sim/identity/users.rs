//! Handlers of domains, users, roles and role assignments.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use crate::sim::core::{Fault, Service, SimState, new_hex_id, parse_json};
use crate::sim::wire::json_reply;

use super::*;

/// GET /v3/domains
pub(super) async fn list_domains(
    State(state): State<SimState>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, Fault> {
    admin_list(
        &state,
        &headers,
        "list_domains",
        "domains",
        |data| &data.domains,
        |item| domain_matches(item, &query),
        domain_body,
    )
}

/// GET /v3/domains/{id}
pub(super) async fn show_domain(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(domain_id): Path<String>,
) -> Result<Response, Fault> {
    state.caller(&headers, Service::Identity)?;
    let world = state.world();
    let domain = world
        .identity
        .domain(&domain_id)
        .ok_or_else(|| not_found("domain", &domain_id))?;
    Ok(json_reply(
        StatusCode::OK,
        json!({ "domain": domain_body(domain, state.base_url()) }),
    ))
}

/// POST /v3/users
pub(super) async fn create_user(
    State(state): State<SimState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Fault> {
    let (input, name) = create_input(&state, &headers, &body, "create_user", "user")?;
    let input = &input;
    let text = |key: &str| input.get(key).and_then(Value::as_str).map(str::to_string);
    let domain_id = text("domain_id").unwrap_or_else(|| DEFAULT_DOMAIN.to_string());
    let base = state.base_url();
    let mut world = state.world();
    let data = &mut world.identity;
    if data.domain(&domain_id).is_none() {
        return Err(not_found("domain", &domain_id));
    }
    if data
        .users
        .iter()
        .any(|u| u.name == name && u.domain_id == domain_id)
    {
        return Err(fault(
            StatusCode::CONFLICT,
            format!(
                "Conflict occurred attempting to store user - Duplicate entry found with name \
                 {name} at domain ID {domain_id}."
            ),
        ));
    }
    let default_project_id = text("default_project_id");
    if let Some(project) = &default_project_id
        && data.project(project).is_none()
    {
        return Err(not_found("project", project));
    }
    let user = User {
        id: new_hex_id(),
        name,
        domain_id,
        enabled: input
            .get("enabled")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        password_hash: hash_password(&text("password").unwrap_or_default()),
        default_project_id,
        description: text("description"),
        email: text("email"),
    };
    let body = json!({ "user": user_body(&user, base) });
    data.users.push(user);
    Ok(json_reply(StatusCode::CREATED, body))
}

/// GET /v3/users
pub(super) async fn list_users(
    State(state): State<SimState>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, Fault> {
    admin_list(
        &state,
        &headers,
        "list_users",
        "users",
        |data| &data.users,
        |item| user_matches(item, &query),
        user_body,
    )
}

/// GET /v3/users/{id}: admins, or the user itself.
pub(super) async fn show_user(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(user_id): Path<String>,
) -> Result<Response, Fault> {
    let caller = state.caller(&headers, Service::Identity)?;
    if !caller.is_admin() && caller.user_id != user_id {
        return Err(forbidden("get_user"));
    }
    let world = state.world();
    let user = world
        .identity
        .user(&user_id)
        .ok_or_else(|| not_found("user", &user_id))?;
    Ok(json_reply(
        StatusCode::OK,
        json!({ "user": user_body(user, state.base_url()) }),
    ))
}

/// PATCH /v3/users/{id}: name, password, enabled, default project, description, email.
pub(super) async fn update_user(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(user_id): Path<String>,
    body: Bytes,
) -> Result<Response, Fault> {
    require_admin(&state, &headers, "update_user")?;
    let body = parse_json(Service::Identity, &body)?;
    let input = body
        .get("user")
        .ok_or_else(|| missing("user", "request body"))?;
    let text = |key: &str| input.get(key).and_then(Value::as_str).map(str::to_string);
    let mut world = state.world();
    let data = &mut world.identity;
    let domain_id = data
        .user(&user_id)
        .map(|u| u.domain_id.clone())
        .ok_or_else(|| not_found("user", &user_id))?;
    let name = match input.get("name") {
        Some(value) => {
            let name = valid_name(Some(value), "user")?;
            if data
                .users
                .iter()
                .any(|u| u.name == name && u.domain_id == domain_id && u.id != user_id)
            {
                return Err(fault(
                    StatusCode::CONFLICT,
                    format!(
                        "Conflict occurred attempting to store user - Duplicate entry found \
                         with name {name} at domain ID {domain_id}."
                    ),
                ));
            }
            Some(name)
        }
        None => None,
    };
    if let Some(project) = text("default_project_id")
        && data.project(&project).is_none()
    {
        return Err(not_found("project", &project));
    }
    let user = data
        .users
        .iter_mut()
        .find(|u| u.id == user_id)
        .ok_or_else(|| not_found("user", &user_id))?;
    if let Some(name) = name {
        user.name = name;
    }
    if let Some(password) = text("password") {
        user.password_hash = hash_password(&password);
    }
    if let Some(enabled) = input.get("enabled").and_then(Value::as_bool) {
        user.enabled = enabled;
    }
    if input.get("default_project_id").is_some() {
        user.default_project_id = text("default_project_id");
    }
    if input.get("description").is_some() {
        user.description = text("description");
    }
    if input.get("email").is_some() {
        user.email = text("email");
    }
    let mut body = json!({ "user": user_body(user, state.base_url()) });
    // Keystone's update answers with the stored row: `email` is an extra attribute.
    body["user"]["extra"] = match &user.email {
        Some(email) => json!({ "email": email }),
        None => json!({}),
    };
    Ok(json_reply(StatusCode::OK, body))
}

/// DELETE /v3/users/{id}: its assignments and tokens go with it.
pub(super) async fn delete_user(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(user_id): Path<String>,
) -> Result<StatusCode, Fault> {
    require_admin(&state, &headers, "delete_user")?;
    let mut world = state.world();
    let data = &mut world.identity;
    if data.user(&user_id).is_none() {
        return Err(not_found("user", &user_id));
    }
    data.users.retain(|u| u.id != user_id);
    data.assignments.retain(|a| a.user_id != user_id);
    data.tokens.retain(|_, t| t.user_id != user_id);
    Ok(StatusCode::NO_CONTENT)
}

/// GET /v3/users/{id}/projects
pub(super) async fn user_projects(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(user_id): Path<String>,
) -> Result<Response, Fault> {
    let caller = state.caller(&headers, Service::Identity)?;
    if !caller.is_admin() && caller.user_id != user_id {
        return Err(forbidden("list_user_projects"));
    }
    let base = state.base_url();
    let world = state.world();
    let data = &world.identity;
    if data.user(&user_id).is_none() {
        return Err(not_found("user", &user_id));
    }
    let projects: Vec<Value> = data
        .projects_of(&user_id)
        .into_iter()
        .map(|p| project_body(p, base))
        .collect();
    let path = format!("users/{user_id}/projects");
    Ok(json_reply(
        StatusCode::OK,
        json!({ "projects": projects, "links": collection_links(base, &path) }),
    ))
}

/// GET /v3/roles
pub(super) async fn list_roles(
    State(state): State<SimState>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, Fault> {
    admin_list(
        &state,
        &headers,
        "list_roles",
        "roles",
        |data| &data.roles,
        |item| role_matches(item, &query),
        role_body,
    )
}

/// GET /v3/roles/{id}
pub(super) async fn show_role(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(role_id): Path<String>,
) -> Result<Response, Fault> {
    require_admin(&state, &headers, "get_role")?;
    let world = state.world();
    let role = world
        .identity
        .role(&role_id)
        .ok_or_else(|| not_found("role", &role_id))?;
    Ok(json_reply(
        StatusCode::OK,
        json!({ "role": role_body(role, state.base_url()) }),
    ))
}

/// GET /v3/role_assignments
pub(super) async fn list_assignments(
    State(state): State<SimState>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, Fault> {
    require_admin(&state, &headers, "list_role_assignments")?;
    let base = state.base_url();
    let world = state.world();
    let data = &world.identity;
    let include_names = query
        .iter()
        .any(|(key, value)| key == "include_names" && query_bool(value));
    let assignments: Vec<Value> = data
        .assignments
        .iter()
        .filter(|a| assignment_matches(a, &query))
        .map(|a| {
            let mut user = json!({ "id": a.user_id });
            let mut role = json!({ "id": a.role_id });
            let mut project = json!({ "id": a.project_id });
            if include_names {
                if let Some(u) = data.user(&a.user_id) {
                    user["name"] = json!(u.name);
                    user["domain"] = data.domain_ref(&u.domain_id);
                }
                if let Some(r) = data.role(&a.role_id) {
                    role["name"] = json!(r.name);
                }
                if let Some(p) = data.project(&a.project_id) {
                    project["name"] = json!(p.name);
                    project["domain"] = data.domain_ref(&p.domain_id);
                }
            }
            json!({
                "links": {
                    "assignment": format!(
                        "{base}/identity/v3/projects/{}/users/{}/roles/{}",
                        a.project_id, a.user_id, a.role_id
                    ),
                },
                "role": role,
                "scope": { "project": project },
                "user": user,
            })
        })
        .collect();
    Ok(json_reply(
        StatusCode::OK,
        json!({ "role_assignments": assignments, "links": collection_links(base, "role_assignments") }),
    ))
}
