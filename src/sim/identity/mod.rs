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
    tokens: Vec<Token>,
    services: Vec<CatalogService>,
}
