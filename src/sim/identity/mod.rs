//! Keystone v3 of the embedded cloud: domains, projects (with tags), users, roles, role
//! assignments, password and token authentication, tokens and the service catalog.
//!
//! Tokens are random hex ids handed out once; only their SHA-256 digests are kept, with their
//! expiry, and passwords only as salted PBKDF2 hashes, so `cloud.json` holds no usable secret.
//! The roles a token carries are read from the assignments on every validation, so revoking a
//! grant takes effect at once.
//!
//! Layout: `model` (records), `ops` (the data layer: seed, token validation, lookups,
//! secrets, Keystone's faults and input rules; no HTTP), `render` (wire views, version
//! document), `query` (list filters), `api` (routes, version documents, tokens and auth),
//! `projects` (projects, their tags and grants), `users` (domains, users, roles,
//! assignments), and `tests` of the data layer.

mod api;
mod model;
mod ops;
mod projects;
mod query;
mod render;
#[cfg(test)]
mod tests;
mod users;

use serde::{Deserialize, Serialize};

use crate::sim::core::{JournalTable, Journaled, Record, Table};

use api::*;
use model::*;
use ops::*;
use projects::*;
use query::*;
use render::*;
use users::*;

pub use api::routes;

const TOKEN_LIFETIME_HOURS: i64 = 1;
const REGION: &str = "RegionOne";
const DEFAULT_DOMAIN: &str = "default";

/// Keystone refuses more tags than this on one project.
const MAX_TAGS: usize = 80;
const MAX_TAG_LEN: usize = 255;

#[derive(Default, Serialize, Deserialize)]
pub struct IdentityData {
    domains: Vec<Domain>,
    projects: Vec<Project>,
    users: Vec<User>,
    roles: Vec<Role>,
    assignments: Vec<Assignment>,
    /// By digest: every request looks its token up (stored as a list before the index).
    tokens: Table<Token>,
    services: Vec<CatalogService>,
}

impl Record for Token {
    fn id(&self) -> &str {
        &self.digest
    }
    fn project_id(&self) -> &str {
        self.project_id.as_deref().unwrap_or_default()
    }
    fn parent_id(&self) -> Option<&str> {
        Some(&self.user_id)
    }
}

impl Journaled for IdentityData {
    fn tables(&mut self) -> Vec<(&'static str, &mut dyn JournalTable)> {
        vec![("tokens", &mut self.tokens)]
    }
    fn rest(&self) -> serde_json::Result<Vec<(&'static str, Vec<u8>)>> {
        Ok(vec![
            ("domains", serde_json::to_vec(&self.domains)?),
            ("projects", serde_json::to_vec(&self.projects)?),
            ("users", serde_json::to_vec(&self.users)?),
            ("roles", serde_json::to_vec(&self.roles)?),
            ("assignments", serde_json::to_vec(&self.assignments)?),
            ("services", serde_json::to_vec(&self.services)?),
        ])
    }
    fn replay_rest(&mut self, field: &str, value: serde_json::Value) -> serde_json::Result<()> {
        match field {
            "domains" => self.domains = serde_json::from_value(value)?,
            "projects" => self.projects = serde_json::from_value(value)?,
            "users" => self.users = serde_json::from_value(value)?,
            "roles" => self.roles = serde_json::from_value(value)?,
            "assignments" => self.assignments = serde_json::from_value(value)?,
            "services" => self.services = serde_json::from_value(value)?,
            _ => return Err(serde::de::Error::custom(format!("no field {field}"))),
        }
        Ok(())
    }
}
