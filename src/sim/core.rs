//! State, persistence, caller authentication, faults and the HTTP server of the embedded cloud.
//!
//! CONTRACT for the service modules (identity, compute, image, network):
//! - Each service module exposes `pub fn routes() -> axum::Router<SimState>` with its paths
//!   relative to its prefix (e.g. network: "/v2.0/networks"), plus its version document route
//!   at "/" (e.g. GET /networking/ → Neutron versions list). `core` nests them under the prefix.
//! - Each service keeps its data in its own `#[derive(Default, Serialize, Deserialize)]` struct,
//!   held in [`World`]; handlers lock `state.world()`, mutate, and the core persists the World
//!   after every request whose method is not GET/HEAD (handlers do nothing for persistence).
//! - Handlers authenticate with `state.caller(&headers, Service::X)?`, which checks
//!   X-Auth-Token and returns the [`Caller`] or a 401 [`Fault`] shaped for that service.
//! - Errors are returned as [`Fault`]s built with the service-shaped constructors, so every
//!   error body has exactly the real service's shape.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};

pub const ADMIN_USER: &str = "admin";
pub const ADMIN_PASSWORD: &str = "stackform-embedded";
pub const ADMIN_PROJECT: &str = "admin";

#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Where the cloud persists (`cloud.json` inside); None keeps it in memory only.
    pub data_dir: Option<PathBuf>,
    /// How long a new server stays in BUILD before it becomes ACTIVE.
    pub build_delay: Duration,
    /// How long os-stop / os-start take before SHUTOFF / ACTIVE is reported.
    pub action_delay: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            data_dir: None,
            build_delay: Duration::from_millis(300),
            action_delay: Duration::from_millis(100),
        }
    }
}

/// Which service is answering: decides the shape of error bodies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    Identity,
    Compute,
    Network,
    Image,
}

/// Who is calling, from a validated token.
#[derive(Clone, Debug)]
pub struct Caller {
    pub user_id: String,
    pub user_name: String,
    /// None for an unscoped token.
    pub project_id: Option<String>,
    pub project_name: Option<String>,
    pub roles: Vec<String>,
}

impl Caller {
    /// Holds the `admin` role: sees and acts on every project's resources.
    pub fn is_admin(&self) -> bool {
        self.roles.iter().any(|r| r == "admin")
    }
}

/// An API error, rendered in the answering service's exact error shape.
#[derive(Debug)]
pub struct Fault {
    pub service: Service,
    pub status: StatusCode,
    pub message: String,
    /// Neutron's exception class name (`NetworkNotFound`, `SubnetInUse`, `OverQuota`...);
    /// used only for Service::Network.
    pub neutron_type: &'static str,
}

/// All data of the cloud. Each service owns its part.
#[derive(Default, Serialize, Deserialize)]
pub struct World {
    pub identity: super::identity::IdentityData,
    pub compute: super::compute::ComputeData,
    pub network: super::network::NetworkData,
    pub image: super::image::ImageData,
}

/// Shared handle given to every handler.
#[derive(Clone)]
pub struct SimState {
    inner: Arc<Inner>,
}

struct Inner {
    world: Mutex<World>,
    config: SimConfig,
    /// Base URL (http://127.0.0.1:PORT) once bound, used to build catalogs and links.
    base_url: std::sync::OnceLock<String>,
}

impl SimState {
    pub fn world(&self) -> MutexGuard<'_, World> {
        todo!()
    }
    pub fn config(&self) -> &SimConfig {
        &self.inner.config
    }
    /// http://127.0.0.1:PORT
    pub fn base_url(&self) -> &str {
        todo!()
    }
    pub fn caller(&self, headers: &HeaderMap, service: Service) -> Result<Caller, Fault> {
        let _ = (headers, service);
        todo!()
    }
}

/// The cloud, opened from its data folder.
pub struct Sim {
    state: SimState,
}

/// A running cloud: its URL and a way to stop it.
pub struct SimHandle {
    /// http://127.0.0.1:PORT
    pub base_url: String,
    /// The Keystone v3 URL clients use as OS_AUTH_URL: {base_url}/identity/v3
    pub auth_url: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}
