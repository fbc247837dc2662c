//! Keystone's records as the embedded cloud stores them: domains, projects, users, roles,
//! assignments, tokens (digests only) and the service catalog.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Serialize, Deserialize)]
pub(super) struct Domain {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) description: String,
    pub(super) enabled: bool,
}

#[derive(Clone, Serialize, Deserialize)]
pub(super) struct Project {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) domain_id: String,
    pub(super) parent_id: String,
    pub(super) description: String,
    pub(super) enabled: bool,
    pub(super) tags: Vec<String>,
}

#[derive(Clone, Serialize, Deserialize)]
pub(super) struct User {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) domain_id: String,
    pub(super) enabled: bool,
    /// `pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>`; never rendered.
    pub(super) password_hash: String,
    pub(super) default_project_id: Option<String>,
    pub(super) description: Option<String>,
    pub(super) email: Option<String>,
}

#[derive(Clone, Serialize, Deserialize)]
pub(super) struct Role {
    pub(super) id: String,
    pub(super) name: String,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Assignment {
    pub(super) user_id: String,
    pub(super) project_id: String,
    pub(super) role_id: String,
}

#[derive(Clone, Serialize, Deserialize)]
pub(super) struct Token {
    /// SHA-256 of the token id, hex.
    pub(super) digest: String,
    pub(super) user_id: String,
    pub(super) project_id: Option<String>,
    pub(super) methods: Vec<String>,
    pub(super) audit_id: String,
    pub(super) issued_at: DateTime<Utc>,
    pub(super) expires_at: DateTime<Utc>,
}

#[derive(Clone, Serialize, Deserialize)]
pub(super) struct CatalogService {
    pub(super) id: String,
    pub(super) service_type: String,
    pub(super) name: String,
    /// The path under the base URL, e.g. "/compute/v2.1".
    pub(super) path: String,
    /// Endpoint ids for public, internal, admin.
    pub(super) endpoint_ids: [String; 3],
}
