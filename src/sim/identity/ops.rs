//! Keystone's data layer without HTTP: seeding, token validation into a caller, lookups,
//! password hashing and token digests, and Keystone's faults and input rules (names, tags).

use std::collections::BTreeSet;

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::sim::core::{Caller, Fault, Service, new_hex_id};
use crate::sim::wire::tags::{self as wire_tags, TagListError};

use super::*;

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
            name: crate::sim::core::ADMIN_PROJECT.to_string(),
            domain_id: DEFAULT_DOMAIN.to_string(),
            parent_id: DEFAULT_DOMAIN.to_string(),
            description: "Bootstrap project for initializing the cloud.".to_string(),
            enabled: true,
            tags: Vec::new(),
        });
        let user_id = new_hex_id();
        self.users.push(User {
            id: user_id.clone(),
            name: crate::sim::core::ADMIN_USER.to_string(),
            domain_id: DEFAULT_DOMAIN.to_string(),
            enabled: true,
            password_hash: hash_password(crate::sim::core::ADMIN_PASSWORD),
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
        self.ensure_catalog();
        project_id
    }

    /// Adds the catalog's services that are missing (all of them in a new cloud; Cinder's in
    /// a cloud made before it had Cinder).
    pub fn ensure_catalog(&mut self) {
        for (service_type, name, path) in CATALOG {
            if self.services.iter().any(|s| s.service_type == service_type) {
                continue;
            }
            self.services.push(CatalogService {
                id: new_hex_id(),
                service_type: service_type.to_string(),
                name: name.to_string(),
                path: path.to_string(),
                endpoint_ids: [new_hex_id(), new_hex_id(), new_hex_id()],
            });
        }
    }

    /// The caller behind a token, if the token exists, has not expired and (for a project
    /// token) the user still holds a role on the project.
    pub fn caller_for_token(&self, token_id: &str, at: DateTime<Utc>) -> Option<Caller> {
        let token = self
            .tokens
            .get(&token_digest(token_id))
            .filter(|t| t.expires_at > at)?;
        let user = self.user(&token.user_id)?;
        if !user.enabled {
            return None;
        }
        let (project_id, roles) = match &token.project_id {
            None => (None, Vec::new()),
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
                (Some(project.id.clone()), roles)
            }
        };
        Some(Caller {
            user_id: user.id.clone(),
            project_id,
            roles,
        })
    }

    /// Whether a project with this id exists (Nova checks before storing quotas).
    pub fn project_exists(&self, project_id: &str) -> bool {
        self.project(project_id).is_some()
    }

    pub(super) fn project(&self, id: &str) -> Option<&Project> {
        self.projects.iter().find(|p| p.id == id)
    }
    pub(super) fn user(&self, id: &str) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }
    pub(super) fn role(&self, id: &str) -> Option<&Role> {
        self.roles.iter().find(|r| r.id == id)
    }
    pub(super) fn domain(&self, id: &str) -> Option<&Domain> {
        self.domains.iter().find(|d| d.id == id)
    }
    pub(super) fn roles_of(&self, user_id: &str, project_id: &str) -> Vec<&Role> {
        self.assignments
            .iter()
            .filter(|a| a.user_id == user_id && a.project_id == project_id)
            .filter_map(|a| self.role(&a.role_id))
            .collect()
    }
    pub(super) fn projects_of(&self, user_id: &str) -> Vec<&Project> {
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
    pub(super) fn domain_ref(&self, domain_id: &str) -> Value {
        let name = self
            .domain(domain_id)
            .map(|d| d.name.clone())
            .unwrap_or_else(|| domain_id.to_string());
        json!({ "id": domain_id, "name": name })
    }
    /// The catalog as a token scoped to `project_id` shows it: Cinder's URL template
    /// `%(project_id)s` is filled in, as Keystone does.
    pub(super) fn catalog(&self, base: &str, project_id: &str) -> Value {
        let services: Vec<Value> = self
            .services
            .iter()
            .map(|service| {
                let url = format!(
                    "{base}{}",
                    service.path.replace(PROJECT_TEMPLATE, project_id)
                );
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
    pub(super) fn token_body(&self, token: &Token, base: &str) -> Value {
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
            body["catalog"] = self.catalog(base, &project.id);
        }
        json!({ "token": body })
    }
}

/// Where an endpoint URL takes the token's project (Cinder's `/v3/%(project_id)s`).
const PROJECT_TEMPLATE: &str = "%(project_id)s";

/// (type, name, path under the base URL) of every service in the catalog, as devstack
/// registers them.
const CATALOG: [(&str, &str, &str); 6] = [
    ("identity", "keystone", "/identity"),
    ("compute", "nova", "/compute/v2.1"),
    ("network", "neutron", "/networking"),
    ("image", "glance", "/image"),
    ("block-storage", "cinder", "/volume/v3/%(project_id)s"),
    ("volumev3", "cinderv3", "/volume/v3/%(project_id)s"),
];

pub(super) const PBKDF2_ITERATIONS: u32 = 10_000;

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(super) fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

pub(super) fn token_digest(token_id: &str) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, token_id.as_bytes()).as_ref())
}

pub(super) fn hash_password(password: &str) -> String {
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

pub(super) fn verify_password(stored: &str, password: &str) -> bool {
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

/// Keystone's audit ids: 16 random bytes in URL-safe base64 without padding (22 chars).
pub(super) fn new_audit_id() -> String {
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

pub(super) fn fault(status: StatusCode, message: impl Into<String>) -> Fault {
    Fault::new(Service::Identity, status, message)
}

pub(super) fn not_found(kind: &str, id: &str) -> Fault {
    fault(
        StatusCode::NOT_FOUND,
        format!("Could not find {kind}: {id}."),
    )
}

pub(super) fn bad_request(message: impl Into<String>) -> Fault {
    fault(StatusCode::BAD_REQUEST, message)
}

pub(super) fn missing(attribute: &str, target: &str) -> Fault {
    bad_request(format!(
        "Expecting to find {attribute} in {target}. The server could not comply with the \
         request since it is either malformed or otherwise incorrect. The client is assumed \
         to be in error."
    ))
}

pub(super) fn forbidden(action: &str) -> Fault {
    fault(
        StatusCode::FORBIDDEN,
        format!("You are not authorized to perform the requested action: identity:{action}."),
    )
}

/// A reference to a domain in an auth request: `{"id": ...}` or `{"name": ...}`.
pub(super) fn resolve_domain<'a>(data: &'a IdentityData, reference: &Value) -> Option<&'a Domain> {
    if let Some(id) = reference.get("id").and_then(Value::as_str) {
        return data.domain(id);
    }
    let name = reference.get("name").and_then(Value::as_str)?;
    data.domains.iter().find(|d| d.name == name)
}

pub(super) fn unauthorized() -> Fault {
    Fault::unauthorized(Service::Identity)
}

/// Checks one tag as Keystone does: 1 to 255 characters, no '/' and no ','.
pub(super) fn valid_tag(tag: &str) -> Result<String, Fault> {
    if !wire_tags::valid_tag(tag, MAX_TAG_LEN) {
        return Err(invalid_tag(tag));
    }
    Ok(tag.to_string())
}

pub(super) fn invalid_tag(tag: &str) -> Fault {
    bad_request(format!(
        "Invalid input for field 'tags': '{tag}' is not a valid tag (1 to 255 \
         characters, no '/' or ',')."
    ))
}

pub(super) fn too_many_tags() -> Fault {
    bad_request(format!(
        "Invalid input for field 'tags': at most {MAX_TAGS} tags are allowed."
    ))
}

pub(super) fn tags_from(value: &Value) -> Result<Vec<String>, Fault> {
    wire_tags::tag_list(value, MAX_TAG_LEN, MAX_TAGS).map_err(|error| match error {
        TagListError::NotAList => bad_request("Invalid input for field 'tags': it must be a list."),
        TagListError::NotAString => {
            bad_request("Invalid input for field 'tags': tags are strings.")
        }
        TagListError::Invalid(tag) => invalid_tag(&tag),
        TagListError::TooMany => too_many_tags(),
    })
}

pub(super) fn duplicate_project(name: &str) -> Fault {
    fault(
        StatusCode::CONFLICT,
        format!(
            "Conflict occurred attempting to store project - it is not permitted to have two \
             projects with the same name in the same domain : {name}."
        ),
    )
}

pub(super) fn valid_name(value: Option<&Value>, kind: &str) -> Result<String, Fault> {
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

/// Admins see every project; others only the ones they hold a role on.
pub(super) fn visible_project<'a>(
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

pub(super) fn project_mut<'a>(
    data: &'a mut IdentityData,
    project_id: &str,
) -> Result<&'a mut Project, Fault> {
    data.projects
        .iter_mut()
        .find(|p| p.id == project_id)
        .ok_or_else(|| not_found("project", project_id))
}

/// Checks the three parts of a grant exist, in Keystone's order.
pub(super) fn check_grant_parts(
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

pub(super) fn assignment_not_found(project_id: &str, user_id: &str, role_id: &str) -> Fault {
    fault(
        StatusCode::NOT_FOUND,
        format!(
            "Could not find role assignment with role: {role_id}, user or group: {user_id}, \
             project, domain, or system: {project_id}."
        ),
    )
}
