//! The OpenStack client: Keystone v3 password auth and catalog, one sub-module per service
//! (identity, compute, network, image, block storage), typed errors with request ids, pagination, retries and
//! waits. Response structs are our own, lenient (`#[serde(default)]`, unknown fields ignored).
//!
//! Why hand-written on reqwest rather than the `openstack_sdk` crate: the SDK costs minutes of
//! build time on the two-core machines we build on, needs version discovery per service to
//! get URLs right, and keeps a token cache under `~/.osc`; the part we need (password auth,
//! catalog, a dozen endpoints per service, paging) is small, and owning it lets us classify
//! errors, honour Retry-After and decide retries per call ourselves.
//!
//! Knows nothing of specs, plans or state.

mod auth;
pub mod block_storage;
mod block_storage_wait;
pub mod clouds;
mod collection;
pub mod compute;
mod error;
pub mod identity;
pub mod image;
pub mod keypair;
mod learned;
mod limit;
pub mod network;
mod page;
mod server_actions;
pub mod server_group;
mod session;
mod shared_poll;
pub mod wait;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub use auth::{AuthConfig, DomainRef, Endpoints, Secret};
pub use block_storage_wait::Polled;
pub use error::ApiError;
use limit::CallLimit;
pub use limit::DEFAULT_CALLS_IN_FLIGHT;
pub use server_actions::RemoteConsole;
pub use session::{COMPUTE_MICROVERSION, Session, backoff, honour_retry_after};

/// The catalog service types we call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServiceType {
    Identity,
    Compute,
    Network,
    Image,
    /// Cinder: the catalog's `block-storage`, else `volumev3`.
    BlockStorage,
}

impl ServiceType {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceType::Identity => "identity",
            ServiceType::Compute => "compute",
            ServiceType::Network => "network",
            ServiceType::Image => "image",
            ServiceType::BlockStorage => "block-storage",
        }
    }
}

/// A connected cloud: the configured (admin) session plus per-project sessions on demand.
/// Cheap to clone; clones share tokens.
#[derive(Clone)]
pub struct Cloud {
    inner: Arc<CloudInner>,
}

/// A session made once, by its first asker; later ones wait for it.
type SessionCell = Arc<tokio::sync::OnceCell<Session>>;

struct CloudInner {
    auth: Arc<AuthConfig>,
    admin: Session,
    /// Each project's session, made once (concurrent askers wait for the same one).
    projects: std::sync::Mutex<HashMap<String, Arc<tokio::sync::OnceCell<Session>>>>,
    /// Each (user, project) session of tenants' own users, made once.
    users: std::sync::Mutex<HashMap<(String, String), SessionCell>>,
    calls: Arc<CallLimit>,
}

impl std::fmt::Debug for Cloud {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cloud")
            .field("auth_url", &self.inner.auth.auth_url)
            .field("admin", &self.inner.admin)
            .finish_non_exhaustive()
    }
}

/// Installs rustls' ring provider once per process; reqwest is built without one.
fn install_crypto_provider() {
    // Err means a provider is already installed (by us earlier or by the host program).
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Cloud {
    /// Authenticates with the configured project and reads the catalog.
    pub async fn connect(auth: AuthConfig) -> Result<Cloud, ApiError> {
        install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| ApiError::Config(format!("cannot build the HTTP client: {e}")))?;
        let auth = Arc::new(auth);
        let calls = Arc::new(CallLimit::new(DEFAULT_CALLS_IN_FLIGHT));
        let admin = Session::authenticate(
            http.clone(),
            auth.clone(),
            calls.clone(),
            Arc::default(),
            auth::Scope::Configured,
        )
        .await?;
        Ok(Cloud {
            inner: Arc::new(CloudInner {
                auth,
                admin,
                projects: std::sync::Mutex::new(HashMap::new()),
                users: std::sync::Mutex::new(HashMap::new()),
                calls,
            }),
        })
    }

    /// Bounds the API calls in flight across every session of this cloud (`[provider]
    /// parallelism`); set before an apply, while no call is in flight.
    pub fn limit_calls(&self, calls: usize) {
        self.inner.calls.resize(calls);
    }

    /// The most API calls that were in flight at once so far.
    pub fn peak_calls_in_flight(&self) -> usize {
        self.inner.calls.peak()
    }

    /// Keystone's URL, as the configuration gives it (tenant users authenticate there).
    pub fn auth_url(&self) -> &str {
        &self.inner.auth.auth_url
    }

    /// The session of the configured project (admin on the clouds stackform manages).
    pub fn admin(&self) -> &Session {
        &self.inner.admin
    }

    /// A session scoped to `project_id` with the same credentials, cached per project; its
    /// token is the admin's, rescoped. The user needs a role there: stackform grants `member`
    /// on tenants it creates. Sessions of different projects are made side by side.
    pub async fn project_session(&self, project_id: &str) -> Result<Session, ApiError> {
        if project_id == self.inner.admin.project_id() {
            return Ok(self.inner.admin.clone());
        }
        let cell = {
            let mut sessions = self
                .inner
                .projects
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            sessions.entry(project_id.to_string()).or_default().clone()
        };
        cell.get_or_try_init(|| self.inner.admin.rescoped(project_id))
            .await
            .cloned()
    }

    /// A session of the user `user_id` (by password) in `project_id`, cached per user and
    /// project: what belongs to a user in OpenStack (keypairs, and the servers that name
    /// one) is made with it.
    pub async fn user_session(
        &self,
        user_id: &str,
        password: &str,
        project_id: &str,
    ) -> Result<Session, ApiError> {
        let cell = {
            let mut sessions = self
                .inner
                .users
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            sessions
                .entry((user_id.to_string(), project_id.to_string()))
                .or_default()
                .clone()
        };
        cell.get_or_try_init(|| {
            self.inner
                .admin
                .as_user(user_id, Secret::new(password), project_id)
        })
        .await
        .cloned()
    }

    /// Forgets a project's session (after the project is deleted).
    pub async fn forget_project(&self, project_id: &str) {
        self.inner
            .projects
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(project_id);
    }
}
