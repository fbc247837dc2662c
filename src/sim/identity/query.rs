//! Keystone's list filters: exact attributes, its truthiness for booleans, and the project
//! tag filters, one predicate per collection (query pairs unknown to Keystone are ignored,
//! as it ignores them).

use crate::sim::wire::tags::tag_pair_matches;

use super::*;

/// Keystone's truthiness for query filters: "0" and "false" (any case) are false.
pub(super) fn query_bool(value: &str) -> bool {
    !(value == "0" || value.eq_ignore_ascii_case("false"))
}

/// GET /v3/projects filters: name, domain_id, parent_id, enabled, is_domain and the tags.
pub(super) fn project_matches(project: &Project, query: &[(String, String)]) -> bool {
    query.iter().all(|(key, value)| match key.as_str() {
        "name" => project.name == *value,
        "domain_id" => project.domain_id == *value,
        "parent_id" => project.parent_id == *value,
        "enabled" => project.enabled == query_bool(value),
        "is_domain" => !query_bool(value),
        _ => tag_pair_matches(key, value, &project.tags).unwrap_or(true),
    })
}

/// GET /v3/domains filters: name, enabled.
pub(super) fn domain_matches(domain: &Domain, query: &[(String, String)]) -> bool {
    query.iter().all(|(key, value)| match key.as_str() {
        "name" => domain.name == *value,
        "enabled" => domain.enabled == query_bool(value),
        _ => true,
    })
}

/// GET /v3/users filters: name, domain_id, enabled.
pub(super) fn user_matches(user: &User, query: &[(String, String)]) -> bool {
    query.iter().all(|(key, value)| match key.as_str() {
        "name" => user.name == *value,
        "domain_id" => user.domain_id == *value,
        "enabled" => user.enabled == query_bool(value),
        _ => true,
    })
}

/// GET /v3/roles filters: name.
pub(super) fn role_matches(role: &Role, query: &[(String, String)]) -> bool {
    query
        .iter()
        .all(|(key, value)| key != "name" || role.name == *value)
}

/// GET /v3/role_assignments filters: user.id, scope.project.id, role.id.
pub(super) fn assignment_matches(assignment: &Assignment, query: &[(String, String)]) -> bool {
    query.iter().all(|(key, value)| match key.as_str() {
        "user.id" => assignment.user_id == *value,
        "scope.project.id" => assignment.project_id == *value,
        "role.id" => assignment.role_id == *value,
        _ => true,
    })
}
