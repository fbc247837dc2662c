//! Keystone's wire format: project, user, role and domain views, collection links, token and
//! catalog bodies, timestamps and the version document.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::sim::wire::versions;

use super::*;

/// Keystone's timestamp format: microseconds and a literal Z.
pub(super) fn keystone_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

pub(super) fn project_body(project: &Project, base: &str) -> Value {
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

pub(super) fn user_body(user: &User, base: &str) -> Value {
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

pub(super) fn role_body(role: &Role, base: &str) -> Value {
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

pub(super) fn domain_body(domain: &Domain, base: &str) -> Value {
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

pub(super) fn collection_links(base: &str, path: &str) -> Value {
    json!({ "self": format!("{base}/identity/v3/{path}"), "previous": null, "next": null })
}

pub(super) fn version_value(base: &str) -> Value {
    let mut entry = versions::entry("v3.14", "stable", &format!("{base}/identity/v3/"));
    entry["updated"] = json!("2020-04-07T00:00:00Z");
    entry["media-types"] = json!([{
        "base": "application/json",
        "type": "application/vnd.openstack.identity-v3+json",
    }]);
    entry
}
