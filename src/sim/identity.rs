//! Keystone v3 of the embedded cloud: domains, projects (with tags), users, roles, role
//! assignments, password and token authentication, tokens and the service catalog.
//!
//! Tokens are random hex ids handed out once; only their SHA-256 digests are kept, with their
//! expiry, and passwords only as salted PBKDF2 hashes, so `cloud.json` holds no usable secret.
//! The roles a token carries are read from the assignments on every validation, so revoking a
//! grant takes effect at once.

use std::collections::BTreeSet;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::core::{Caller, Fault, Service, SimState, new_hex_id, now, parse_json, unrouted};

const TOKEN_LIFETIME_HOURS: i64 = 1;
const REGION: &str = "RegionOne";
const DEFAULT_DOMAIN: &str = "default";
/// Keystone refuses more tags than this on one project.
const MAX_TAGS: usize = 80;

#[derive(Default, Serialize, Deserialize)]
pub struct IdentityData {
    domains: Vec<Domain>,
    projects: Vec<Project>,
    users: Vec<User>,
    roles: Vec<Role>,
    assignments: Vec<Assignment>,
    tokens: Vec<Token>,
    services: Vec<CatalogService>,
}

#[derive(Clone, Serialize, Deserialize)]
struct Domain {
    id: String,
    name: String,
    description: String,
    enabled: bool,
}

#[derive(Clone, Serialize, Deserialize)]
struct Project {
    id: String,
    name: String,
    domain_id: String,
    parent_id: String,
    description: String,
    enabled: bool,
    tags: Vec<String>,
}

#[derive(Clone, Serialize, Deserialize)]
struct User {
    id: String,
    name: String,
    domain_id: String,
    enabled: bool,
    /// `pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>`; never rendered.
    password_hash: String,
    default_project_id: Option<String>,
    description: Option<String>,
    email: Option<String>,
}

#[derive(Clone, Serialize, Deserialize)]
struct Role {
    id: String,
    name: String,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Assignment {
    user_id: String,
    project_id: String,
    role_id: String,
}

#[derive(Clone, Serialize, Deserialize)]
struct Token {
    /// SHA-256 of the token id, hex.
    digest: String,
    user_id: String,
    project_id: Option<String>,
    methods: Vec<String>,
    audit_id: String,
    issued_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

#[derive(Clone, Serialize, Deserialize)]
struct CatalogService {
    id: String,
    service_type: String,
    name: String,
    /// The path under the base URL, e.g. "/compute/v2.1".
    path: String,
    /// Endpoint ids for public, internal, admin.
    endpoint_ids: [String; 3],
}

impl IdentityData {
    /// Seeds the default domain, admin project and user, the three standard roles and the
    /// catalog. Returns the admin project's id.
    pub fn seed(&mut self) -> String {
        self.domains.push(Domain {
            id: DEFAULT_DOMAIN.to_string(),
            name: "Default".to_string(),
            description: "The default domain".to_string(),
            enabled: true,
        });
        let project_id = new_hex_id();
        self.projects.push(Project {
            id: project_id.clone(),
            name: super::core::ADMIN_PROJECT.to_string(),
            domain_id: DEFAULT_DOMAIN.to_string(),
            parent_id: DEFAULT_DOMAIN.to_string(),
            description: "Bootstrap project for initializing the cloud.".to_string(),
            enabled: true,
            tags: Vec::new(),
        });
        let user_id = new_hex_id();
        self.users.push(User {
            id: user_id.clone(),
            name: super::core::ADMIN_USER.to_string(),
            domain_id: DEFAULT_DOMAIN.to_string(),
            enabled: true,
            password_hash: hash_password(super::core::ADMIN_PASSWORD),
            default_project_id: Some(project_id.clone()),
            description: None,
            email: None,
        });
        for name in ["admin", "member", "reader"] {
            self.roles.push(Role {
                id: new_hex_id(),
                name: name.to_string(),
            });
        }
        if let Some(admin_role) = self.roles.first() {
            self.assignments.push(Assignment {
                user_id,
                project_id: project_id.clone(),
                role_id: admin_role.id.clone(),
            });
        }
        for (service_type, name, path) in [
            ("identity", "keystone", "/identity"),
            ("compute", "nova", "/compute/v2.1"),
            ("network", "neutron", "/networking"),
            ("image", "glance", "/image"),
        ] {
            self.services.push(CatalogService {
                id: new_hex_id(),
                service_type: service_type.to_string(),
                name: name.to_string(),
                path: path.to_string(),
                endpoint_ids: [new_hex_id(), new_hex_id(), new_hex_id()],
            });
        }
        project_id
    }

    /// The caller behind a token, if the token exists, has not expired and (for a project
    /// token) the user still holds a role on the project.
    pub fn caller_for_token(&self, token_id: &str, at: DateTime<Utc>) -> Option<Caller> {
        let token = self
            .tokens
            .iter()
            .find(|t| t.digest == token_digest(token_id) && t.expires_at > at)?;
        let user = self.user(&token.user_id)?;
        if !user.enabled {
            return None;
        }
        let (project_id, project_name, roles) = match &token.project_id {
            None => (None, None, Vec::new()),
            Some(project_id) => {
                let project = self.project(project_id)?;
                let roles: Vec<String> = self
                    .roles_of(&user.id, project_id)
                    .into_iter()
                    .map(|r| r.name.clone())
                    .collect();
                if roles.is_empty() || !project.enabled {
                    return None;
                }
                (Some(project.id.clone()), Some(project.name.clone()), roles)
            }
        };
        Some(Caller {
            user_id: user.id.clone(),
            user_name: user.name.clone(),
            project_id,
            project_name,
            roles,
        })
    }

    /// Whether a project with this id exists (Nova checks before storing quotas).
    pub fn project_exists(&self, project_id: &str) -> bool {
        self.project(project_id).is_some()
    }

    fn project(&self, id: &str) -> Option<&Project> {
        self.projects.iter().find(|p| p.id == id)
    }
    fn user(&self, id: &str) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }
    fn role(&self, id: &str) -> Option<&Role> {
        self.roles.iter().find(|r| r.id == id)
    }
    fn domain(&self, id: &str) -> Option<&Domain> {
        self.domains.iter().find(|d| d.id == id)
    }
    fn roles_of(&self, user_id: &str, project_id: &str) -> Vec<&Role> {
        self.assignments
            .iter()
            .filter(|a| a.user_id == user_id && a.project_id == project_id)
            .filter_map(|a| self.role(&a.role_id))
            .collect()
    }
    fn projects_of(&self, user_id: &str) -> Vec<&Project> {
        let ids: BTreeSet<&str> = self
            .assignments
            .iter()
            .filter(|a| a.user_id == user_id)
            .map(|a| a.project_id.as_str())
            .collect();
        self.projects
            .iter()
            .filter(|p| ids.contains(p.id.as_str()))
            .collect()
    }
    fn domain_ref(&self, domain_id: &str) -> Value {
        let name = self
            .domain(domain_id)
            .map(|d| d.name.clone())
            .unwrap_or_else(|| domain_id.to_string());
        json!({ "id": domain_id, "name": name })
    }
    fn catalog(&self, base: &str) -> Value {
        let services: Vec<Value> = self
            .services
            .iter()
            .map(|service| {
                let url = format!("{base}{}", service.path);
                let endpoints: Vec<Value> = ["public", "internal", "admin"]
                    .iter()
                    .zip(service.endpoint_ids.iter())
                    .map(|(interface, id)| {
                        json!({
                            "id": id,
                            "interface": interface,
                            "region": REGION,
                            "region_id": REGION,
                            "url": url,
                        })
                    })
                    .collect();
                json!({
                    "endpoints": endpoints,
                    "type": service.service_type,
                    "id": service.id,
                    "name": service.name,
                })
            })
            .collect();
        Value::Array(services)
    }
    fn token_body(&self, token: &Token, base: &str) -> Value {
        let mut body = json!({
            "methods": token.methods,
            "audit_ids": [token.audit_id],
            "expires_at": keystone_time(token.expires_at),
            "issued_at": keystone_time(token.issued_at),
        });
        if let Some(user) = self.user(&token.user_id) {
            body["user"] = json!({
                "domain": self.domain_ref(&user.domain_id),
                "id": user.id,
                "name": user.name,
                "password_expires_at": null,
            });
        }
        if let Some(project) = token.project_id.as_deref().and_then(|p| self.project(p)) {
            body["project"] = json!({
                "domain": self.domain_ref(&project.domain_id),
                "id": project.id,
                "name": project.name,
            });
            body["is_domain"] = json!(false);
            let roles: Vec<Value> = self
                .roles_of(&token.user_id, &project.id)
                .iter()
                .map(|r| json!({ "id": r.id, "name": r.name }))
                .collect();
            body["roles"] = Value::Array(roles);
            body["catalog"] = self.catalog(base);
        }
        json!({ "token": body })
    }
}

const PBKDF2_ITERATIONS: u32 = 10_000;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

fn token_digest(token_id: &str) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, token_id.as_bytes()).as_ref())
}

fn hash_password(password: &str) -> String {
    let salt = uuid::Uuid::new_v4().into_bytes();
    let mut hash = [0u8; 32];
    let iterations =
        std::num::NonZeroU32::new(PBKDF2_ITERATIONS).unwrap_or(std::num::NonZeroU32::MIN);
    ring::pbkdf2::derive(
        ring::pbkdf2::PBKDF2_HMAC_SHA256,
        iterations,
        &salt,
        password.as_bytes(),
        &mut hash,
    );
    format!(
        "pbkdf2-sha256${PBKDF2_ITERATIONS}${}${}",
        hex(&salt),
        hex(&hash)
    )
}

fn verify_password(stored: &str, password: &str) -> bool {
    let mut parts = stored.split('$');
    let (Some("pbkdf2-sha256"), Some(iterations), Some(salt), Some(hash), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    let (Some(iterations), Some(salt), Some(hash)) = (
        iterations
            .parse::<u32>()
            .ok()
            .and_then(std::num::NonZeroU32::new),
        unhex(salt),
        unhex(hash),
    ) else {
        return false;
    };
    ring::pbkdf2::verify(
        ring::pbkdf2::PBKDF2_HMAC_SHA256,
        iterations,
        &salt,
        password.as_bytes(),
        &hash,
    )
    .is_ok()
}

/// Keystone's timestamp format: microseconds and a literal Z.
fn keystone_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Keystone's audit ids: 16 random bytes in URL-safe base64 without padding (22 chars).
fn new_audit_id() -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = uuid::Uuid::new_v4().into_bytes();
    let mut out = String::with_capacity(22);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        let chars = chunk.len() + 1;
        for i in 0..chars {
            let index = (n >> (18 - 6 * i)) & 0x3f;
            out.push(char::from(ALPHABET[index as usize]));
        }
    }
    out
}

fn project_body(project: &Project, base: &str) -> Value {
    json!({
        "id": project.id,
        "name": project.name,
        "domain_id": project.domain_id,
        "parent_id": project.parent_id,
        "description": project.description,
        "enabled": project.enabled,
        "is_domain": false,
        "tags": project.tags,
        "options": {},
        "links": { "self": format!("{base}/identity/v3/projects/{}", project.id) },
    })
}

fn user_body(user: &User, base: &str) -> Value {
    let mut body = json!({
        "id": user.id,
        "name": user.name,
        "domain_id": user.domain_id,
        "enabled": user.enabled,
        "password_expires_at": null,
        "options": {},
        "links": { "self": format!("{base}/identity/v3/users/{}", user.id) },
    });
    if let Some(project) = &user.default_project_id {
        body["default_project_id"] = json!(project);
    }
    if let Some(description) = &user.description {
        body["description"] = json!(description);
    }
    if let Some(email) = &user.email {
        body["email"] = json!(email);
    }
    body
}

fn role_body(role: &Role, base: &str) -> Value {
    // `keystone-manage bootstrap` makes its three roles immutable.
    let options = if matches!(role.name.as_str(), "admin" | "member" | "reader") {
        json!({ "immutable": true })
    } else {
        json!({})
    };
    json!({
        "id": role.id,
        "name": role.name,
        "domain_id": null,
        "description": null,
        "options": options,
        "links": { "self": format!("{base}/identity/v3/roles/{}", role.id) },
    })
}

fn domain_body(domain: &Domain, base: &str) -> Value {
    json!({
        "id": domain.id,
        "name": domain.name,
        "description": domain.description,
        "enabled": domain.enabled,
        "tags": [],
        "options": {},
        "links": { "self": format!("{base}/identity/v3/domains/{}", domain.id) },
    })
}

fn collection_links(base: &str, path: &str) -> Value {
    json!({ "self": format!("{base}/identity/v3/{path}"), "previous": null, "next": null })
}

fn fault(status: StatusCode, message: impl Into<String>) -> Fault {
    Fault::new(Service::Identity, status, message)
}

fn not_found(kind: &str, id: &str) -> Fault {
    fault(
        StatusCode::NOT_FOUND,
        format!("Could not find {kind}: {id}."),
    )
}

fn bad_request(message: impl Into<String>) -> Fault {
    fault(StatusCode::BAD_REQUEST, message)
}

fn missing(attribute: &str, target: &str) -> Fault {
    bad_request(format!(
        "Expecting to find {attribute} in {target}. The server could not comply with the \
         request since it is either malformed or otherwise incorrect. The client is assumed \
         to be in error."
    ))
}

fn forbidden(action: &str) -> Fault {
    fault(
        StatusCode::FORBIDDEN,
        format!("You are not authorized to perform the requested action: identity:{action}."),
    )
}

/// Authenticates and requires the admin role, as Keystone's default policy does.
fn require_admin(state: &SimState, headers: &HeaderMap, action: &str) -> Result<Caller, Fault> {
    let caller = state.caller(headers, Service::Identity)?;
    if caller.is_admin() {
        Ok(caller)
    } else {
        Err(forbidden(action))
    }
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// Keystone's truthiness for query filters: "0" and "false" (any case) are false.
fn query_bool(value: &str) -> bool {
    !(value == "0" || value.eq_ignore_ascii_case("false"))
}

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
async fn keystone_layer(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
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

fn version_value(base: &str) -> Value {
    json!({
        "id": "v3.14",
        "status": "stable",
        "updated": "2020-04-07T00:00:00Z",
        "links": [{ "href": format!("{base}/identity/v3/"), "rel": "self" }],
        "media-types": [{
            "base": "application/json",
            "type": "application/vnd.openstack.identity-v3+json",
        }],
    })
}

/// GET /identity: Keystone answers 300 Multiple Choices with its versions.
async fn versions(State(state): State<SimState>) -> Response {
    let body = json!({ "versions": { "values": [version_value(state.base_url())] } });
    let mut response = json_response(StatusCode::MULTIPLE_CHOICES, body);
    // Keystone points at its only version.
    if let Ok(location) = HeaderValue::from_str(&format!("{}/identity/v3/", state.base_url())) {
        response
            .headers_mut()
            .insert(axum::http::header::LOCATION, location);
    }
    response
}

async fn version(State(state): State<SimState>) -> Response {
    json_response(
        StatusCode::OK,
        json!({ "version": version_value(state.base_url()) }),
    )
}

/// A reference to a domain in an auth request: `{"id": ...}` or `{"name": ...}`.
fn resolve_domain<'a>(data: &'a IdentityData, reference: &Value) -> Option<&'a Domain> {
    if let Some(id) = reference.get("id").and_then(Value::as_str) {
        return data.domain(id);
    }
    let name = reference.get("name").and_then(Value::as_str)?;
    data.domains.iter().find(|d| d.name == name)
}

fn unauthorized() -> Fault {
    Fault::unauthorized(Service::Identity)
}

/// POST /v3/auth/tokens
async fn issue_token(State(state): State<SimState>, body: Bytes) -> Result<Response, Fault> {
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
    data.tokens.retain(|t| t.expires_at > at);

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
    data.tokens.push(token);
    let mut response = json_response(StatusCode::CREATED, body);
    response.headers_mut().insert("x-subject-token", header);
    response
        .headers_mut()
        .insert("vary", HeaderValue::from_static("X-Auth-Token"));
    Ok(response)
}

fn subject_token(headers: &HeaderMap) -> Result<String, Fault> {
    headers
        .get("x-subject-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .ok_or_else(|| missing("X-Subject-Token", "request headers"))
}

/// GET/HEAD /v3/auth/tokens
async fn validate_token(
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
        .iter()
        .find(|t| t.digest == token_digest(&subject))
        .filter(|_| valid)
        .ok_or_else(|| fault(StatusCode::NOT_FOUND, "Failed to validate token"))?;
    // Keystone's policy: an admin, or the token's own user.
    if !caller.is_admin() && caller.user_id != token.user_id {
        return Err(forbidden("validate_token"));
    }
    let mut response = json_response(StatusCode::OK, data.token_body(token, state.base_url()));
    if let Ok(value) = HeaderValue::from_str(&subject) {
        response.headers_mut().insert("x-subject-token", value);
    }
    Ok(response)
}

/// DELETE /v3/auth/tokens
async fn revoke_token(
    State(state): State<SimState>,
    headers: HeaderMap,
) -> Result<StatusCode, Fault> {
    let caller = state.caller(&headers, Service::Identity)?;
    let subject = subject_token(&headers)?;
    let mut world = state.world();
    let before = world.identity.tokens.len();
    let digest = token_digest(&subject);
    let owner = world
        .identity
        .tokens
        .iter()
        .find(|t| t.digest == digest)
        .map(|t| t.user_id.clone());
    if let Some(owner) = owner
        && !caller.is_admin()
        && caller.user_id != owner
    {
        return Err(forbidden("revoke_token"));
    }
    world.identity.tokens.retain(|t| t.digest != digest);
    if world.identity.tokens.len() == before {
        return Err(fault(StatusCode::NOT_FOUND, "Failed to validate token"));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// GET /v3/auth/projects
async fn auth_projects(
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
    Ok(json_response(
        StatusCode::OK,
        json!({ "projects": projects, "links": collection_links(base, "auth/projects") }),
    ))
}

/// GET /v3/auth/catalog
async fn auth_catalog(
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
    Ok(json_response(
        StatusCode::OK,
        json!({
            "catalog": world.identity.catalog(base),
            "links": { "self": format!("{base}/identity/v3/auth/catalog") },
        }),
    ))
}

fn split_tags(value: &str) -> Vec<&str> {
    value.split(',').filter(|t| !t.is_empty()).collect()
}

/// GET /v3/projects
async fn list_projects(
    State(state): State<SimState>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, Fault> {
    require_admin(&state, &headers, "list_projects")?;
    let base = state.base_url();
    let world = state.world();
    let projects: Vec<Value> = world
        .identity
        .projects
        .iter()
        .filter(|project| {
            query.iter().all(|(key, value)| match key.as_str() {
                "name" => project.name == *value,
                "domain_id" => project.domain_id == *value,
                "parent_id" => project.parent_id == *value,
                "enabled" => project.enabled == query_bool(value),
                "is_domain" => !query_bool(value),
                "tags" => split_tags(value)
                    .iter()
                    .all(|t| project.tags.iter().any(|p| p == t)),
                "tags-any" => split_tags(value)
                    .iter()
                    .any(|t| project.tags.iter().any(|p| p == t)),
                "not-tags" => !split_tags(value)
                    .iter()
                    .all(|t| project.tags.iter().any(|p| p == t)),
                "not-tags-any" => !split_tags(value)
                    .iter()
                    .any(|t| project.tags.iter().any(|p| p == t)),
                _ => true,
            })
        })
        .map(|p| project_body(p, base))
        .collect();
    Ok(json_response(
        StatusCode::OK,
        json!({ "projects": projects, "links": collection_links(base, "projects") }),
    ))
}

/// Checks one tag as Keystone does: 1 to 255 characters, no '/' and no ','.
fn valid_tag(tag: &str) -> Result<String, Fault> {
    if tag.is_empty() || tag.chars().count() > 255 || tag.contains('/') || tag.contains(',') {
        return Err(bad_request(format!(
            "Invalid input for field 'tags': '{tag}' is not a valid tag (1 to 255 \
             characters, no '/' or ',')."
        )));
    }
    Ok(tag.to_string())
}

fn tags_from(value: &Value) -> Result<Vec<String>, Fault> {
    let list = value
        .as_array()
        .ok_or_else(|| bad_request("Invalid input for field 'tags': it must be a list."))?;
    let mut tags: Vec<String> = Vec::new();
    for tag in list {
        let tag = tag
            .as_str()
            .ok_or_else(|| bad_request("Invalid input for field 'tags': tags are strings."))?;
        let tag = valid_tag(tag)?;
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    if tags.len() > MAX_TAGS {
        return Err(bad_request(format!(
            "Invalid input for field 'tags': at most {MAX_TAGS} tags are allowed."
        )));
    }
    Ok(tags)
}

fn duplicate_project(name: &str) -> Fault {
    fault(
        StatusCode::CONFLICT,
        format!(
            "Conflict occurred attempting to store project - it is not permitted to have two \
             projects with the same name in the same domain : {name}."
        ),
    )
}

fn valid_name(value: Option<&Value>, kind: &str) -> Result<String, Fault> {
    let name = value.and_then(Value::as_str).ok_or_else(|| {
        bad_request(format!(
            "Invalid input for field 'name': 'name' is a required property of {kind}."
        ))
    })?;
    if name.is_empty() || name.chars().count() > 64 {
        return Err(bad_request(format!(
            "Invalid input for field 'name': '{name}' must be 1 to 64 characters long."
        )));
    }
    Ok(name.to_string())
}

/// POST /v3/projects
async fn create_project(
    State(state): State<SimState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Fault> {
    require_admin(&state, &headers, "create_project")?;
    let body = parse_json(Service::Identity, &body)?;
    let input = body
        .get("project")
        .ok_or_else(|| missing("project", "request body"))?;
    let name = valid_name(input.get("name"), "project")?;
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
    Ok(json_response(StatusCode::CREATED, body))
}

/// Admins see every project; others only the ones they hold a role on.
fn visible_project<'a>(
    data: &'a IdentityData,
    caller: &Caller,
    project_id: &str,
    action: &str,
) -> Result<&'a Project, Fault> {
    let project = data
        .project(project_id)
        .ok_or_else(|| not_found("project", project_id))?;
    if caller.is_admin() || !data.roles_of(&caller.user_id, project_id).is_empty() {
        Ok(project)
    } else {
        Err(forbidden(action))
    }
}

/// GET /v3/projects/{id}
async fn show_project(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
) -> Result<Response, Fault> {
    let caller = state.caller(&headers, Service::Identity)?;
    let world = state.world();
    let project = visible_project(&world.identity, &caller, &project_id, "get_project")?;
    Ok(json_response(
        StatusCode::OK,
        json!({ "project": project_body(project, state.base_url()) }),
    ))
}

fn project_mut<'a>(data: &'a mut IdentityData, project_id: &str) -> Result<&'a mut Project, Fault> {
    data.projects
        .iter_mut()
        .find(|p| p.id == project_id)
        .ok_or_else(|| not_found("project", project_id))
}

/// PATCH /v3/projects/{id}
async fn update_project(
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
    Ok(json_response(StatusCode::OK, body))
}

/// DELETE /v3/projects/{id}: its role assignments and tokens go with it.
async fn delete_project(
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
        .retain(|t| t.project_id.as_deref() != Some(project_id.as_str()));
    Ok(StatusCode::NO_CONTENT)
}

/// GET /v3/projects/{id}/tags
async fn list_tags(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
) -> Result<Response, Fault> {
    let caller = state.caller(&headers, Service::Identity)?;
    let world = state.world();
    let project = visible_project(&world.identity, &caller, &project_id, "list_project_tags")?;
    Ok(json_response(
        StatusCode::OK,
        json!({ "tags": project.tags, "links": { "self": format!("{}/identity/v3", state.base_url()) } }),
    ))
}

/// PUT /v3/projects/{id}/tags: replaces the whole list.
async fn replace_tags(
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
    Ok(json_response(
        StatusCode::OK,
        json!({ "tags": project.tags, "links": { "self": format!("{}/identity/v3", state.base_url()) } }),
    ))
}

/// DELETE /v3/projects/{id}/tags: removes every tag.
async fn clear_tags(
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
async fn check_tag(
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
async fn add_tag(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path((project_id, tag)): Path<(String, String)>,
) -> Result<Response, Fault> {
    require_admin(&state, &headers, "create_project_tag")?;
    let tag = valid_tag(&tag)?;
    let base = state.base_url().to_string();
    let mut world = state.world();
    let project = project_mut(&mut world.identity, &project_id)?;
    if !project.tags.contains(&tag) {
        if project.tags.len() >= MAX_TAGS {
            return Err(bad_request(format!(
                "Invalid input for field 'tags': at most {MAX_TAGS} tags are allowed."
            )));
        }
        project.tags.push(tag.clone());
    }
    let mut response = StatusCode::CREATED.into_response();
    let location = format!(
        "{base}/identity/v3/projects/{project_id}/tags/{}",
        super::core::encode_query_value(&tag)
    );
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert("location", value);
    }
    Ok(response)
}

/// DELETE /v3/projects/{id}/tags/{tag}
async fn remove_tag(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path((project_id, tag)): Path<(String, String)>,
) -> Result<StatusCode, Fault> {
    require_admin(&state, &headers, "delete_project_tag")?;
    let mut world = state.world();
    let project = project_mut(&mut world.identity, &project_id)?;
    let before = project.tags.len();
    project.tags.retain(|t| *t != tag);
    if project.tags.len() == before {
        return Err(not_found("project tag", &tag));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Checks the three parts of a grant exist, in Keystone's order.
fn check_grant_parts(
    data: &IdentityData,
    project_id: &str,
    user_id: &str,
    role_id: &str,
) -> Result<(), Fault> {
    if data.role(role_id).is_none() {
        return Err(not_found("role", role_id));
    }
    if data.user(user_id).is_none() {
        return Err(not_found("user", user_id));
    }
    if data.project(project_id).is_none() {
        return Err(not_found("project", project_id));
    }
    Ok(())
}

/// GET /v3/projects/{p}/users/{u}/roles
async fn list_grants(
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
    Ok(json_response(
        StatusCode::OK,
        json!({ "roles": roles, "links": collection_links(base, &path) }),
    ))
}

/// PUT /v3/projects/{p}/users/{u}/roles/{r}: 204, idempotent.
async fn grant_role(
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

fn assignment_not_found(project_id: &str, user_id: &str, role_id: &str) -> Fault {
    fault(
        StatusCode::NOT_FOUND,
        format!(
            "Could not find role assignment with role: {role_id}, user or group: {user_id}, \
             project, domain, or system: {project_id}."
        ),
    )
}

/// GET/HEAD /v3/projects/{p}/users/{u}/roles/{r}: 204 when granted.
async fn check_grant(
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
async fn revoke_grant(
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

/// GET /v3/domains
async fn list_domains(
    State(state): State<SimState>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, Fault> {
    require_admin(&state, &headers, "list_domains")?;
    let base = state.base_url();
    let world = state.world();
    let domains: Vec<Value> = world
        .identity
        .domains
        .iter()
        .filter(|d| {
            query.iter().all(|(key, value)| match key.as_str() {
                "name" => d.name == *value,
                "enabled" => d.enabled == query_bool(value),
                _ => true,
            })
        })
        .map(|d| domain_body(d, base))
        .collect();
    Ok(json_response(
        StatusCode::OK,
        json!({ "domains": domains, "links": collection_links(base, "domains") }),
    ))
}

/// GET /v3/domains/{id}
async fn show_domain(
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
    Ok(json_response(
        StatusCode::OK,
        json!({ "domain": domain_body(domain, state.base_url()) }),
    ))
}

/// GET /v3/users
async fn list_users(
    State(state): State<SimState>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, Fault> {
    require_admin(&state, &headers, "list_users")?;
    let base = state.base_url();
    let world = state.world();
    let users: Vec<Value> = world
        .identity
        .users
        .iter()
        .filter(|u| {
            query.iter().all(|(key, value)| match key.as_str() {
                "name" => u.name == *value,
                "domain_id" => u.domain_id == *value,
                "enabled" => u.enabled == query_bool(value),
                _ => true,
            })
        })
        .map(|u| user_body(u, base))
        .collect();
    Ok(json_response(
        StatusCode::OK,
        json!({ "users": users, "links": collection_links(base, "users") }),
    ))
}

/// POST /v3/users
async fn create_user(
    State(state): State<SimState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Fault> {
    require_admin(&state, &headers, "create_user")?;
    let body = parse_json(Service::Identity, &body)?;
    let input = body
        .get("user")
        .ok_or_else(|| missing("user", "request body"))?;
    let name = valid_name(input.get("name"), "user")?;
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
    Ok(json_response(StatusCode::CREATED, body))
}

/// GET /v3/users/{id}: admins, or the user itself.
async fn show_user(
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
    Ok(json_response(
        StatusCode::OK,
        json!({ "user": user_body(user, state.base_url()) }),
    ))
}

/// PATCH /v3/users/{id}: name, password, enabled, default project, description, email.
async fn update_user(
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
    Ok(json_response(StatusCode::OK, body))
}

/// DELETE /v3/users/{id}: its assignments and tokens go with it.
async fn delete_user(
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
    data.tokens.retain(|t| t.user_id != user_id);
    Ok(StatusCode::NO_CONTENT)
}

/// GET /v3/users/{id}/projects
async fn user_projects(
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
    Ok(json_response(
        StatusCode::OK,
        json!({ "projects": projects, "links": collection_links(base, &path) }),
    ))
}

/// GET /v3/roles
async fn list_roles(
    State(state): State<SimState>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, Fault> {
    require_admin(&state, &headers, "list_roles")?;
    let base = state.base_url();
    let world = state.world();
    let roles: Vec<Value> = world
        .identity
        .roles
        .iter()
        .filter(|r| {
            query
                .iter()
                .all(|(key, value)| key != "name" || r.name == *value)
        })
        .map(|r| role_body(r, base))
        .collect();
    Ok(json_response(
        StatusCode::OK,
        json!({ "roles": roles, "links": collection_links(base, "roles") }),
    ))
}

/// GET /v3/roles/{id}
async fn show_role(
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
    Ok(json_response(
        StatusCode::OK,
        json!({ "role": role_body(role, state.base_url()) }),
    ))
}

/// GET /v3/role_assignments
async fn list_assignments(
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
        .filter(|a| {
            query.iter().all(|(key, value)| match key.as_str() {
                "user.id" => a.user_id == *value,
                "scope.project.id" => a.project_id == *value,
                "role.id" => a.role_id == *value,
                _ => true,
            })
        })
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
    Ok(json_response(
        StatusCode::OK,
        json!({ "role_assignments": assignments, "links": collection_links(base, "role_assignments") }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_ids_are_22_url_safe_characters() {
        let id = new_audit_id();
        assert_eq!(id.len(), 22);
        assert!(
            id.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
    }

    #[test]
    fn seeded_admin_token_carries_the_admin_role() {
        let mut data = IdentityData::default();
        let project_id = data.seed();
        let user_id = data.users[0].id.clone();
        let at = now();
        data.tokens.push(Token {
            digest: token_digest("t"),
            user_id,
            project_id: Some(project_id.clone()),
            methods: vec!["password".to_string()],
            audit_id: new_audit_id(),
            issued_at: at,
            expires_at: at + chrono::Duration::hours(1),
        });
        let caller = data.caller_for_token("t", at);
        assert_eq!(
            caller.map(|c| (c.project_id, c.roles)),
            Some((Some(project_id), vec!["admin".to_string()]))
        );
        assert!(
            data.caller_for_token("t", at + chrono::Duration::hours(2))
                .is_none()
        );
    }

    #[test]
    fn passwords_are_stored_as_salted_hashes() {
        let stored = hash_password("s3cret");
        assert!(stored.starts_with("pbkdf2-sha256$10000$"));
        assert!(!stored.contains("s3cret"));
        assert!(verify_password(&stored, "s3cret"));
        assert!(!verify_password(&stored, "s3cret!"));
        assert_ne!(stored, hash_password("s3cret"));
        assert!(!verify_password("garbage", "s3cret"));
    }

    #[test]
    fn tags_reject_slashes_and_commas() {
        assert_eq!(
            valid_tag("a/b").map_err(|f| f.status),
            Err(StatusCode::BAD_REQUEST)
        );
        assert_eq!(
            valid_tag("a,b").map_err(|f| f.status),
            Err(StatusCode::BAD_REQUEST)
        );
        assert_eq!(valid_tag("owner=x").ok(), Some("owner=x".to_string()));
    }
}
