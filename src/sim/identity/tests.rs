//! Unit tests of Keystone's data layer, driven without HTTP.

use axum::http::StatusCode;

use crate::sim::core::now;

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
    let token = Token {
        digest: token_digest("t"),
        user_id,
        project_id: Some(project_id.clone()),
        methods: vec!["password".to_string()],
        audit_id: new_audit_id(),
        issued_at: at,
        expires_at: at + chrono::Duration::hours(1),
    };
    data.tokens.insert(token.digest.clone(), token);
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

/// Keystone's list filters without HTTP: "0"/"false" are false, unknown keys are ignored, and
/// each tag filter pair applies on its own.
#[test]
fn project_and_user_filters() {
    let mut data = IdentityData::default();
    data.seed();
    let admin = data
        .projects
        .iter()
        .find(|p| p.name == "admin")
        .cloned()
        .expect("the seeded admin project");
    let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert!(project_matches(
        &admin,
        &pairs(&[("name", "admin"), ("sort", "x")])
    ));
    assert!(project_matches(&admin, &pairs(&[("enabled", "TRUE")])));
    assert!(!project_matches(&admin, &pairs(&[("enabled", "False")])));
    assert!(!project_matches(&admin, &pairs(&[("is_domain", "1")])));
    let mut tagged = admin.clone();
    tagged.tags = vec!["a".into(), "b".into()];
    assert!(project_matches(&tagged, &pairs(&[("tags", "a,b")])));
    assert!(!project_matches(&tagged, &pairs(&[("not-tags", "a,b")])));
    assert!(project_matches(
        &tagged,
        &pairs(&[("tags-any", "x,b"), ("not-tags-any", "x")])
    ));
    let user = data.users[0].clone();
    assert!(user_matches(&user, &pairs(&[("name", &user.name)])));
    assert!(!user_matches(&user, &pairs(&[("enabled", "0")])));
}
