//! State, persistence, caller authentication, faults and the HTTP server of the embedded cloud.
//!
//! CONTRACT for the service modules (identity, compute, image, network, block_storage):
//! - Each service module exposes `pub fn routes() -> axum::Router<SimState>` with its paths
//!   relative to its prefix (e.g. network: "/v2.0/networks"), plus its version document route
//!   at "/" (e.g. GET /networking/ → Neutron versions list). `core` nests them under the prefix.
//! - Each service keeps its data in its own `#[derive(Default, Serialize, Deserialize)]` struct,
//!   held in [`World`]; handlers lock `state.world()`, mutate, and the core journals what
//!   changed after every request whose method is not GET/HEAD (handlers do nothing for
//!   persistence). What a service keeps in a [`Table`] is journaled row by row; the rest of
//!   its data ([`Journaled::rest`]) is journaled whole when it changes, so it must stay small
//!   (quotas, counters, flavors): anything that grows with the cloud belongs in a `Table`.
//! - Records in a `Table` are indexed by the project owning them and their parent (see
//!   [`Record`]); lists start from those indexes, so that they cost what they return.
//! - Handlers authenticate with `state.caller(&headers, Service::X)?`, which checks
//!   X-Auth-Token and returns the [`Caller`] or a 401 [`Fault`] shaped for that service.
//! - Errors are returned as [`Fault`]s built with the service-shaped constructors, so every
//!   error body has exactly the real service's shape.
//!
//! Layout: this file (configuration, the World, the shared state, ids and the clock), `table`
//! (indexed records that know what changed), `journal` (the snapshot, the journal, compaction
//! and what a crash loses), `fault` (callers and every service's error shapes), `server`
//! (opening the data folder, the router and the common request layer), `hooks` (the /_sim
//! test hooks: injected faults, the request log and its totals), `chaos` (random faults),
//! `media` (the Content-Types each service refuses).

mod chaos;
mod fault;
mod files;
mod hooks;
mod journal;
mod media;
mod server;
mod table;
#[cfg(test)]
mod tests;

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::http::{HeaderMap, Method, StatusCode};
use serde::{Deserialize, Serialize};

pub use chaos::Chaos;
use chaos::*;
pub use fault::*;
pub use hooks::DEFAULT_REQUEST_LOG_LIMIT;
use hooks::*;
use journal::Journal;
pub use journal::{JournalTable, Journaled};
pub use media::refusal_for;
pub use server::{Sim, SimHandle, served_url};
pub use table::{Record, Table};

pub const ADMIN_USER: &str = "admin";
pub const ADMIN_PASSWORD: &str = "stackform-embedded";
pub const ADMIN_PROJECT: &str = "admin";

/// Glance's default `image_size_cap`: 1 TiB.
pub const DEFAULT_IMAGE_SIZE_CAP: u64 = 1 << 40;

/// Held with an exclusive OS lock while a process serves the data folder.
const LOCK_FILE: &str = "cloud.lock";

#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Where the cloud persists (`cloud.json` and `cloud.journal` inside); None keeps it in
    /// memory only.
    pub data_dir: Option<PathBuf>,
    /// How long a new server stays in BUILD before it becomes ACTIVE.
    pub build_delay: Duration,
    /// How long os-stop / os-start take before SHUTOFF / ACTIVE is reported.
    pub action_delay: Duration,
    /// How long a volume, snapshot or backup stays in its transient status (creating,
    /// backing-up, restoring-backup, deleting; Nova's attach and detach) before it settles.
    pub volume_delay: Duration,
    /// Random faults to inject from the start (off by default).
    pub chaos: Chaos,
    /// How many recent requests `GET /_sim/requests` lists (its totals count them all).
    pub request_log_limit: usize,
    /// Glance's `image_size_cap`: the most bytes one image's upload may hold (413 beyond).
    pub image_size_cap: u64,
    /// The remote-console protocols whose proxies Nova runs (its `[vnc]`, `[spice]`,
    /// `[serial_console]` `enabled`): `vnc`, `spice`, `serial`. Others answer "Unavailable
    /// console type".
    pub enabled_consoles: Vec<String>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            data_dir: None,
            build_delay: Duration::from_millis(300),
            action_delay: Duration::from_millis(100),
            volume_delay: Duration::from_millis(100),
            chaos: Chaos::default(),
            request_log_limit: DEFAULT_REQUEST_LOG_LIMIT,
            enabled_consoles: vec!["vnc".to_string()],
            image_size_cap: DEFAULT_IMAGE_SIZE_CAP,
        }
    }
}

/// Why the embedded cloud could not be opened or served.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("the embedded cloud data in {} is in use by another process", dir.display())]
    InUse { dir: PathBuf },
    #[error("cannot access the embedded cloud data at {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the embedded cloud data in {} is not readable JSON: {source}", path.display())]
    Corrupt {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot bind or serve the embedded cloud: {0}")]
    Serve(#[source] std::io::Error),
}

/// Current time, the one clock every timestamp and status transition uses.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

/// A new random id as Nova, Neutron and Glance spell them (uuid4 with dashes).
pub fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A new random id as Keystone spells them (uuid4 hex, no dashes).
pub fn new_hex_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// All data of the cloud. Each service owns its part.
#[derive(Default, Serialize, Deserialize)]
pub struct World {
    pub identity: crate::sim::identity::IdentityData,
    pub compute: crate::sim::compute::ComputeData,
    pub network: crate::sim::network::NetworkData,
    pub image: crate::sim::image::ImageData,
    #[serde(default)]
    pub block_storage: crate::sim::block_storage::BlockStorageData,
}

impl World {
    /// The first-open content: admin identity, flavors, the cirros image, the public network.
    fn seeded() -> World {
        let mut world = World::default();
        let admin_project_id = world.identity.seed();
        world.compute.seed();
        world.image.seed(&admin_project_id);
        world.network.seed(&admin_project_id);
        world.block_storage.seed();
        world
    }

    /// Seeds what a cloud made by an older version lacks (Cinder's types and catalog
    /// entries); does nothing to a current one.
    fn upgrade(&mut self) {
        self.identity.ensure_catalog();
        self.block_storage.seed();
    }
}

/// The id of the request, shared by every service's request-id headers.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

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
    /// Injected failures for tests (lost replies, refused requests).
    faults: Mutex<Vec<FaultRule>>,
    /// How many of the next server builds end in ERROR (injected for tests).
    failing_builds: Mutex<u32>,
    /// Injected resize failures still to come (`fail_resize`), in the order they were asked.
    failing_resizes: Mutex<Vec<ResizeFailure>>,
    /// How many of the next image uploads are stored with one byte flipped (`corrupt_upload`).
    corrupt_uploads: Mutex<u32>,
    /// Random faults (`chaos`).
    chaos: Mutex<ChaosState>,
    /// The latest requests served (method, path, status), for tests that must prove what a
    /// client did not do (a converged apply makes no write calls). Bounded, never persisted.
    requests: Mutex<RequestLog>,
    /// Where the World is persisted (None: memory only).
    journal: Option<Journal>,
    /// Requests being served now, and the most at once since the log was cleared: what a
    /// client's bound on its calls in flight looks like from the cloud.
    in_flight: std::sync::atomic::AtomicUsize,
    peak_in_flight: std::sync::atomic::AtomicUsize,
    /// Where bulk data (image files) is kept.
    files: files::FilesFolder,
    /// Kept open (and locked) as long as the cloud lives.
    _lock: Option<File>,
}

/// Where an injected resize failure strikes (`{"fail_resize": {"at": ...}}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResizeFailure {
    /// No host takes the new flavor: Nova's conductor puts the server back as it was, on its
    /// old flavor, and records the failure in the instance action only (`"at": "schedule"`).
    Schedule,
    /// The resize reaches VERIFY_RESIZE, then confirmResize fails (`"at": "confirm"`).
    Confirm,
}

impl SimState {
    pub fn world(&self) -> MutexGuard<'_, World> {
        // A handler that panicked mid-update leaves the world as it was at that point; serving
        // it is better than refusing every later request.
        self.inner
            .world
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
    pub fn config(&self) -> &SimConfig {
        &self.inner.config
    }
    /// The folder for a service's bulk data (see `files`), created on first use.
    pub fn files_dir(&self, service: &str) -> Result<PathBuf, std::io::Error> {
        let dir = self.inner.files.path().join(service);
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }
    /// http://127.0.0.1:PORT
    pub fn base_url(&self) -> &str {
        self.inner
            .base_url
            .get()
            .map(String::as_str)
            .unwrap_or("http://127.0.0.1")
    }
    pub fn caller(&self, headers: &HeaderMap, service: Service) -> Result<Caller, Fault> {
        let token = headers
            .get("x-auth-token")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| Fault::unauthorized(service))?;
        self.world()
            .identity
            .caller_for_token(token, now())
            .ok_or_else(|| Fault::unauthorized(service))
    }

    /// Whether the server build starting now must fail (consumes one injected failure).
    pub fn take_build_failure(&self) -> bool {
        let mut remaining = self
            .inner
            .failing_builds
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if *remaining == 0 {
            return self.chaos().build_fails();
        }
        *remaining -= 1;
        true
    }

    /// How the resize starting now must fail, if it must (consumes one injected failure).
    pub fn take_resize_failure(&self) -> Option<ResizeFailure> {
        let mut remaining = self
            .inner
            .failing_resizes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        (!remaining.is_empty()).then(|| remaining.remove(0))
    }

    /// Whether the image upload starting now must be stored corrupted (consumes one injected
    /// corruption): a transfer that changed a byte on the way, for clients that verify.
    pub fn take_upload_corruption(&self) -> bool {
        let mut remaining = self
            .inner
            .corrupt_uploads
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if *remaining == 0 {
            return false;
        }
        *remaining -= 1;
        true
    }

    fn record_request(&self, method: &Method, path: &str, status: StatusCode) {
        if path.starts_with("/_sim/") {
            return;
        }
        self.inner
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .record(method, path, status, self.inner.config.request_log_limit);
    }

    fn faults(&self) -> MutexGuard<'_, Vec<FaultRule>> {
        self.inner
            .faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Journals what the request changed (see `journal`): taken under the world lock,
    /// written after it is released, before the answer leaves.
    fn persist(&self) -> Result<(), SimError> {
        let mut world = self.world();
        let Some(journal) = &self.inner.journal else {
            world.forget_changes();
            return Ok(());
        };
        let pending = journal.take(&mut world)?;
        drop(world);
        pending.finish()
    }

    /// The clean stop: the World goes into the snapshot, fsynced. Idempotent.
    fn close(&self) {
        if let Some(journal) = &self.inner.journal {
            let world = self.world();
            if let Err(err) = journal.close(&world) {
                tracing::error!(error = %err, "embedded cloud could not save its state");
            }
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(journal) = &self.journal {
            let world = self.world.lock().unwrap_or_else(PoisonError::into_inner);
            if let Err(err) = journal.close(&world) {
                tracing::error!(error = %err, "embedded cloud could not save its state");
            }
        }
    }
}
