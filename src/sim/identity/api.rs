//! The HTTP face of Keystone: routes, its response layer, version documents, and token
//! issue, validation and revocation with the auth/projects and auth/catalog views.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, put};
use serde_json::{Value, json};

use crate::sim::core::{Caller, Fault, Service, SimState, new_hex_id, now, parse_json, unrouted};
use crate::sim::wire::{json_reply, versions};

use super::*;

pub fn routes() -> Router<SimState> {
    Router::new()
        .route("/", get(versions))
        .route("/v3", get(version))
        .route("/v3/", get(version))
        .route(
            "/v3/auth/tokens",
            get(validate_token).post(issue_token).delete(revoke_token),
        )
        .route("/v3/auth/projects", get(auth_projects))
        .route("/v3/auth/catalog", get(auth_catalog))
        .route("/v3/projects", get(list_projects).post(create_project))
        .route(
            "/v3/projects/{project_id}",
            get(show_project)
                .patch(update_project)
                .delete(delete_project),
        )
        .route(
            "/v3/projects/{project_id}/tags",
            get(list_tags).put(replace_tags).delete(clear_tags),
        )
        .route(
            "/v3/projects/{project_id}/tags/{tag}",
            get(check_tag).put(add_tag).delete(remove_tag),
        )
        .route(
            "/v3/projects/{project_id}/users/{user_id}/roles",
            get(list_grants),
        )
        .route(
            "/v3/projects/{project_id}/users/{user_id}/roles/{role_id}",
            put(grant_role).get(check_grant).delete(revoke_grant),
        )
        .route("/v3/domains", get(list_domains))
        .route("/v3/domains/{domain_id}", get(show_domain))
        .route("/v3/users", get(list_users).post(create_user))
        .route(
            "/v3/users/{user_id}",
            get(show_user).patch(update_user).delete(delete_user),
        )
        .route("/v3/users/{user_id}/projects", get(user_projects))
        .route("/v3/roles", get(list_roles))
        .route("/v3/roles/{role_id}", get(show_role))
        .route("/v3/role_assignments", get(list_assignments))
        .fallback(|headers: HeaderMap| async move { unrouted(Service::Identity, false, &headers) })
        .method_not_allowed_fallback(|headers: HeaderMap| async move {
            unrouted(Service::Identity, true, &headers)
        })
        .layer(axum::middleware::from_fn(keystone_layer))
}

/// What Keystone's Flask app does to every reply: `Vary: X-Auth-Token`, and a list's
/// `links.self` is the request's URL, query string included.
pub(super) async fn keystone_layer(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let query = request.uri().query().map(str::to_string);
    let mut response = next.run(request).await;
    response.headers_mut().insert(
        axum::http::header::VARY,
        HeaderValue::from_static("X-Auth-Token"),
    );
    let Some(query) = query else {
        return response;
    };
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return Response::from_parts(parts, axum::body::Body::empty());
    };
    let mut value: Value = match serde_json::from_slice(&bytes) {
        Ok(value) => value,
        Err(_) => return Response::from_parts(parts, axum::body::Body::from(bytes)),
    };
    if let Some(Value::String(link)) = value.pointer_mut("/links/self") {
        link.push('?');
        link.push_str(&query);
    }
    let bytes = serde_json::to_vec(&value).unwrap_or_else(|_| bytes.to_vec());
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// GET /identity: Keystone answers 300 Multiple Choices with its versions.
pub(super) async fn versions(State(state): State<SimState>) -> Response {
    let body = json!({ "versions": { "values": [version_value(state.base_url())] } });
    // Keystone points at its only version.
    versions::with_location(
        json_reply(StatusCode::MULTIPLE_CHOICES, body),
        &format!("{}/identity/v3/", state.base_url()),
    )
}

pub(super) async fn version(State(state): State<SimState>) -> Response {
    json_reply(
        StatusCode::OK,
        json!({ "version": version_value(state.base_url()) }),
    )
}

/// Authenticates and requires the admin role, as Keystone's default policy does.
/// An admin-only Keystone list: the records `pick` returns that `keep` accepts, rendered,
/// under the collection's name with its links.
pub(super) fn admin_list<T>(
    state: &SimState,
    headers: &HeaderMap,
    action: &str,
    collection: &str,
    pick: impl FnOnce(&IdentityData) -> &[T],
    keep: impl Fn(&T) -> bool,
    render: impl Fn(&T, &str) -> Value,
) -> Result<Response, Fault> {
    require_admin(state, headers, action)?;
    let base = state.base_url();
    let world = state.world();
    let items: Vec<Value> = pick(&world.identity)
        .iter()
        .filter(|item| keep(item))
        .map(|item| render(item, base))
        .collect();
    Ok(json_reply(
        StatusCode::OK,
        json!({ collection: items, "links": collection_links(base, collection) }),
    ))
}

/// The admin-only create's `member` object (`{"project": {...}}`) and its checked name.
pub(super) fn create_input(
    state: &SimState,
    headers: &HeaderMap,
    body: &Bytes,
    action: &str,
    member: &str,
) -> Result<(Value, String), Fault> {
    require_admin(state, headers, action)?;
    let body = parse_json(Service::Identity, body)?;
    let input = body
        .get(member)
        .cloned()
        .ok_or_else(|| missing(member, "request body"))?;
    let name = valid_name(input.get("name"), member)?;
    Ok((input, name))
}

pub(super) fn require_admin(
    state: &SimState,
    headers: &HeaderMap,
    action: &str,
) -> Result<Caller, Fault> {
    let caller = state.caller(headers, Service::Identity)?;
    if caller.is_admin() {
        Ok(caller)
    } else {
        Err(forbidden(action))
    }
}

/// POST /v3/auth/tokens
pub(super) async fn issue_token(
    State(state): State<SimState>,
    body: Bytes,
) -> Result<Response, Fault> {
    let body = parse_json(Service::Identity, &body)?;
    let auth = body
        .get("auth")
        .ok_or_else(|| missing("auth", "request body"))?;
    let identity = auth
        .get("identity")
        .ok_or_else(|| missing("identity", "auth"))?;
    let methods: Vec<String> = identity
        .get("methods")
        .and_then(Value::as_array)
        .ok_or_else(|| missing("methods", "identity"))?
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    let mut world = state.world();
    let data = &mut world.identity;
    let at = now();
    data.tokens.retain(|_, t| t.expires_at > at);

    let user_id = if methods.iter().any(|m| m == "password") {
        let user_ref = identity
            .pointer("/password/user")
            .ok_or_else(|| missing("user", "password"))?;
        let password = user_ref
            .get("password")
            .and_then(Value::as_str)
            .ok_or_else(|| missing("password", "user"))?;
        let user = if let Some(id) = user_ref.get("id").and_then(Value::as_str) {
            data.user(id)
        } else {
            let name = user_ref
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| missing("id or name", "user"))?;
            let domain = user_ref
                .get("domain")
                .ok_or_else(|| missing("domain", "user"))?;
            let domain = resolve_domain(data, domain).ok_or_else(unauthorized)?;
            data.users
                .iter()
                .find(|u| u.name == name && u.domain_id == domain.id)
        };
        let user = user.ok_or_else(unauthorized)?;
        if !verify_password(&user.password_hash, password) || !user.enabled {
            return Err(unauthorized());
        }
        user.id.clone()
    } else if methods.iter().any(|m| m == "token") {
        let token_id = identity
            .pointer("/token/id")
            .and_then(Value::as_str)
            .ok_or_else(|| missing("id", "token"))?;
        data.caller_for_token(token_id, at)
            .ok_or_else(unauthorized)?
            .user_id
    } else {
        return Err(unauthorized());
    };

    let project_id = match auth.get("scope") {
        None | Some(Value::String(_)) => None,
        Some(scope) => {
            let Some(project_ref) = scope.get("project") else {
                // Domain and system scopes are not offered by this cloud.
                return Err(unauthorized());
            };
            let project = if let Some(id) = project_ref.get("id").and_then(Value::as_str) {
                data.project(id)
            } else {
                let name = project_ref
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| missing("id or name", "project"))?;
                let domain = project_ref
                    .get("domain")
                    .ok_or_else(|| missing("domain", "project"))?;
                let domain = resolve_domain(data, domain).ok_or_else(unauthorized)?;
                data.projects
                    .iter()
                    .find(|p| p.name == name && p.domain_id == domain.id)
            };
            let project = project.ok_or_else(unauthorized)?;
            if data.roles_of(&user_id, &project.id).is_empty() || !project.enabled {
                return Err(fault(
                    StatusCode::UNAUTHORIZED,
                    format!("User {user_id} has no access to project {}", project.id),
                ));
            }
            Some(project.id.clone())
        }
    };

    let token_id = new_hex_id();
    let token = Token {
        digest: token_digest(&token_id),
        user_id,
        project_id,
        methods,
        audit_id: new_audit_id(),
        issued_at: at,
        expires_at: at + chrono::Duration::hours(TOKEN_LIFETIME_HOURS),
    };
    let body = data.token_body(&token, state.base_url());
    let header = HeaderValue::from_str(&token_id).map_err(|_| {
        fault(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Token id is not a header.",
        )
    })?;
    data.tokens.insert(token.digest.clone(), token);
    let mut response = json_reply(StatusCode::CREATED, body);
    response.headers_mut().insert("x-subject-token", header);
    response
        .headers_mut()
        .insert("vary", HeaderValue::from_static("X-Auth-Token"));
    Ok(response)
}

pub(super) fn subject_token(headers: &HeaderMap) -> Result<String, Fault> {
    headers
        .get("x-subject-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .ok_or_else(|| missing("X-Subject-Token", "request headers"))
}

/// GET/HEAD /v3/auth/tokens
pub(super) async fn validate_token(
    State(state): State<SimState>,
    headers: HeaderMap,
) -> Result<Response, Fault> {
    let caller = state.caller(&headers, Service::Identity)?;
    let subject = subject_token(&headers)?;
    let world = state.world();
    let data = &world.identity;
    let valid = data.caller_for_token(&subject, now()).is_some();
    let token = data
        .tokens
        .get(&token_digest(&subject))
        .filter(|_| valid)
        .ok_or_else(|| fault(StatusCode::NOT_FOUND, "Failed to validate token"))?;
    // Keystone's policy: an admin, or the token's own user.
    if !caller.is_admin() && caller.user_id != token.user_id {
        return Err(forbidden("validate_token"));
    }
    let mut response = json_reply(StatusCode::OK, data.token_body(token, state.base_url()));
    if let Ok(value) = HeaderValue::from_str(&subject) {
        response.headers_mut().insert("x-subject-token", value);
    }
    Ok(response)
}

/// DELETE /v3/auth/tokens
pub(super) async fn revoke_token(
    State(state): State<SimState>,
    headers: HeaderMap,
) -> Result<StatusCode, Fault> {
    let caller = state.caller(&headers, Service::Identity)?;
    let subject = subject_token(&headers)?;
    let mut world = state.world();
    let digest = token_digest(&subject);
    let owner = world
        .identity
        .tokens
        .get(&digest)
        .map(|t| t.user_id.clone());
    if let Some(owner) = owner
        && !caller.is_admin()
        && caller.user_id != owner
    {
        return Err(forbidden("revoke_token"));
    }
    if world.identity.tokens.remove(&digest).is_none() {
        return Err(fault(StatusCode::NOT_FOUND, "Failed to validate token"));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// GET /v3/auth/projects
pub(super) async fn auth_projects(
    State(state): State<SimState>,
    headers: HeaderMap,
) -> Result<Response, Fault> {
    let caller = state.caller(&headers, Service::Identity)?;
    let base = state.base_url();
    let world = state.world();
    let projects: Vec<Value> = world
        .identity
        .projects_of(&caller.user_id)
        .into_iter()
        .map(|p| project_body(p, base))
        .collect();
    Ok(json_reply(
        StatusCode::OK,
        json!({ "projects": projects, "links": collection_links(base, "auth/projects") }),
    ))
}

/// GET /v3/auth/catalog
pub(super) async fn auth_catalog(
    State(state): State<SimState>,
    headers: HeaderMap,
) -> Result<Response, Fault> {
    let caller = state.caller(&headers, Service::Identity)?;
    if caller.project_id.is_none() {
        return Err(fault(
            StatusCode::FORBIDDEN,
            "A project-scoped token is required to produce a service catalog.",
        ));
    }
    let base = state.base_url();
    let world = state.world();
    let project_id = caller.project_id.unwrap_or_default();
    Ok(json_reply(
        StatusCode::OK,
        json!({
            "catalog": world.identity.catalog(base, &project_id),
            "links": { "self": format!("{base}/identity/v3/auth/catalog") },
        }),
    ))
}
