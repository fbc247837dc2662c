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

use std::fs::File;
use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub const ADMIN_USER: &str = "admin";
pub const ADMIN_PASSWORD: &str = "stackform-embedded";
pub const ADMIN_PROJECT: &str = "admin";

/// The file holding the whole World inside the data folder.
const STATE_FILE: &str = "cloud.json";
/// Held with an exclusive OS lock while a process serves the data folder.
const LOCK_FILE: &str = "cloud.lock";

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

/// Which service is answering: decides the shape of error bodies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
// `Network` is used by network.rs (the Neutron helper's file), still a stub on this branch.
#[allow(dead_code)]
pub enum Service {
    Identity,
    Compute,
    Network,
    Image,
}

/// Who is calling, from a validated token.
#[derive(Clone, Debug)]
// The names are for services that log or show who acted (Neutron); none reads them yet here.
#[allow(dead_code)]
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

impl Fault {
    pub fn new(service: Service, status: StatusCode, message: impl Into<String>) -> Fault {
        let neutron_type = match status {
            StatusCode::NOT_FOUND => "NotFound",
            StatusCode::CONFLICT => "Conflict",
            StatusCode::FORBIDDEN => "NotAuthorized",
            StatusCode::BAD_REQUEST => "BadRequest",
            _ => "NeutronException",
        };
        Fault {
            service,
            status,
            message: message.into(),
            neutron_type,
        }
    }
    pub fn bad_request(service: Service, message: impl Into<String>) -> Fault {
        Fault::new(service, StatusCode::BAD_REQUEST, message)
    }
    pub fn forbidden(service: Service, message: impl Into<String>) -> Fault {
        Fault::new(service, StatusCode::FORBIDDEN, message)
    }
    pub fn not_found(service: Service, message: impl Into<String>) -> Fault {
        Fault::new(service, StatusCode::NOT_FOUND, message)
    }
    pub fn conflict(service: Service, message: impl Into<String>) -> Fault {
        Fault::new(service, StatusCode::CONFLICT, message)
    }
    /// A path the service does not serve.
    pub fn unknown_path(service: Service) -> Fault {
        Fault::not_found(service, "The resource could not be found.")
    }
    /// A path the service serves, with another method.
    pub fn wrong_method(service: Service) -> Fault {
        Fault::new(
            service,
            StatusCode::METHOD_NOT_ALLOWED,
            "The method specified is not allowed for this resource.",
        )
    }
    /// 401 as keystonemiddleware (in front of every service) and Keystone itself answer it.
    pub fn unauthorized(service: Service) -> Fault {
        Fault::new(
            service,
            StatusCode::UNAUTHORIZED,
            "The request you have made requires authentication.",
        )
    }
    /// A Neutron error with its exception class name.
    // Used by network.rs (the Neutron helper's file), still a stub on this branch.
    #[allow(dead_code)]
    pub fn neutron(
        status: StatusCode,
        neutron_type: &'static str,
        message: impl Into<String>,
    ) -> Fault {
        Fault {
            service: Service::Network,
            status,
            message: message.into(),
            neutron_type,
        }
    }
}

/// The HTTP reason phrase, as Keystone and webob title their errors.
fn reason(status: StatusCode) -> &'static str {
    status.canonical_reason().unwrap_or("Error")
}

impl Fault {
    /// The error body exactly as the answering service writes it.
    pub fn body(&self) -> Value {
        let code = self.status.as_u16();
        // A missing or bad token is rejected by keystonemiddleware before any service code
        // runs, so every service answers it in Keystone's shape (WWW-Authenticate is added by
        // the core middleware, which knows the base URL).
        let service = if self.status == StatusCode::UNAUTHORIZED && self.service != Service::Image {
            Service::Identity
        } else {
            self.service
        };
        match service {
            Service::Compute => {
                let name = match code {
                    400 => "badRequest",
                    401 => "unauthorized",
                    403 => "forbidden",
                    404 => "itemNotFound",
                    405 => "badMethod",
                    409 => "conflictingRequest",
                    413 | 429 => "overLimit",
                    415 => "badMediaType",
                    501 => "notImplemented",
                    503 => "serviceUnavailable",
                    _ => "computeFault",
                };
                json!({ name: { "code": code, "message": self.message } })
            }
            Service::Network => json!({
                "NeutronError": { "type": self.neutron_type, "message": self.message, "detail": "" }
            }),
            Service::Identity => json!({
                "error": { "code": code, "title": reason(self.status), "message": self.message }
            }),
            Service::Image => json!({
                "message": format!("{}<br /><br />\n\n\n", self.message),
                "code": format!("{} {}", code, reason(self.status)),
                "title": reason(self.status),
            }),
        }
    }
}

impl IntoResponse for Fault {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}

/// What a webob HTTP exception renders (Glance's errors, Neutron's extension lookups):
/// JSON `{"message", "code", "title"}` when the client accepts JSON, an HTML page otherwise.
/// `message` is already webob's "explanation<br /><br />\ndetail" text.
pub fn webob_error(status: StatusCode, message: &str, headers: &axum::http::HeaderMap) -> Response {
    let code = format!("{} {}", status.as_u16(), reason(status));
    let wants_json = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("application/json"));
    if wants_json {
        let body = json!({ "message": message, "code": code, "title": reason(status) });
        return (status, axum::Json(body)).into_response();
    }
    let html = format!(
        "<html>\n <head>\n  <title>{code}</title>\n </head>\n <body>\n  <h1>{code}</h1>\n  {message}\n </body>\n</html>"
    );
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "text/html; charset=UTF-8")],
        html,
    )
        .into_response()
}

/// Marks a reply made ahead of Nova's microversion handling (its router's 404s).
#[derive(Clone, Copy, Debug)]
pub struct NoMicroversion;

/// A path (or method) no route serves, answered as each service's framework does: Nova's
/// routes mapper gives webob's 404 for both, Keystone's Flask an HTML page, Neutron a
/// NeutronError, Glance webob's error (rendered by its own layer).
pub fn unrouted(service: Service, wrong_method: bool, headers: &axum::http::HeaderMap) -> Response {
    match service {
        Service::Compute => {
            let mut response = webob_error(
                StatusCode::NOT_FOUND,
                "The resource could not be found.<br /><br />\n\n\n",
                headers,
            );
            response.extensions_mut().insert(NoMicroversion);
            response
        }
        Service::Identity => {
            let (status, title, text) = if wrong_method {
                (
                    StatusCode::METHOD_NOT_ALLOWED,
                    "405 Method Not Allowed",
                    "The method is not allowed for the requested URL.",
                )
            } else {
                (
                    StatusCode::NOT_FOUND,
                    "404 Not Found",
                    "The requested URL was not found on the server. If you entered the URL \
                     manually please check your spelling and try again.",
                )
            };
            let heading = title.split_once(' ').map_or(title, |(_, rest)| rest);
            let html = format!(
                "<!doctype html>\n<html lang=en>\n<title>{title}</title>\n<h1>{heading}</h1>\n<p>{text}</p>\n"
            );
            (
                status,
                [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")],
                html,
            )
                .into_response()
        }
        Service::Network if wrong_method => Fault::neutron(
            StatusCode::METHOD_NOT_ALLOWED,
            "HTTPMethodNotAllowed",
            "The server could not comply with the request since it is either malformed or \
             otherwise incorrect.",
        )
        .into_response(),
        Service::Network => Fault::neutron(
            StatusCode::NOT_FOUND,
            "HTTPNotFound",
            "The resource could not be found.",
        )
        .into_response(),
        Service::Image if wrong_method => Fault::wrong_method(service).into_response(),
        Service::Image => Fault::unknown_path(service).into_response(),
    }
}

/// webob's explanation of a 401, which Glance's auth filter answers with.
pub const WEBOB_UNAUTHORIZED: &str = "This server could not verify that you are authorized to access the document you requested. Either you supplied the wrong credentials (e.g., bad password), or your browser does not understand how to supply the credentials required.";

/// Parses a JSON request body, answering malformed JSON in the service's shape.
pub fn parse_json(service: Service, body: &Bytes) -> Result<Value, Fault> {
    serde_json::from_slice(body).map_err(|err| {
        let message = match service {
            Service::Compute => format!("Malformed request body: {err}"),
            Service::Network => "Failed to parse request. Invalid JSON.".to_string(),
            Service::Identity => {
                "The request you have made requires a valid JSON body.".to_string()
            }
            Service::Image => "Body expected in request.".to_string(),
        };
        Fault::bad_request(service, message)
    })
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

/// Percent-encodes a query component (for pagination links).
pub fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The query of a `next` link: the request's own query, its marker replaced by (or else
/// followed by) the last id, as Nova and Glance build it.
pub fn next_page_query(query: &[(String, String)], marker: &str) -> String {
    let mut params: Vec<(String, String)> = query.to_vec();
    match params.iter_mut().find(|(k, _)| k == "marker") {
        Some(entry) => entry.1 = marker.to_string(),
        None => params.push(("marker".to_string(), marker.to_string())),
    }
    params
        .iter()
        .map(|(k, v)| format!("{}={}", encode_query_value(k), encode_query_value(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// All data of the cloud. Each service owns its part.
#[derive(Default, Serialize, Deserialize)]
pub struct World {
    pub identity: super::identity::IdentityData,
    pub compute: super::compute::ComputeData,
    pub network: super::network::NetworkData,
    pub image: super::image::ImageData,
}

impl World {
    /// The first-open content: admin identity, flavors, the cirros image, the public network.
    fn seeded() -> World {
        let mut world = World::default();
        let admin_project_id = world.identity.seed();
        world.compute.seed();
        world.image.seed(&admin_project_id);
        world.network.seed(&admin_project_id);
        world
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
    /// The latest requests served (method, path, status), for tests that must prove what a
    /// client did not do (a converged apply makes no write calls). Bounded, never persisted.
    requests: Mutex<std::collections::VecDeque<(String, String, u16)>>,
    /// Kept open (and locked) as long as the cloud lives.
    _lock: Option<File>,
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
            return false;
        }
        *remaining -= 1;
        true
    }

    fn record_request(&self, method: &Method, path: &str, status: StatusCode) {
        if path.starts_with("/_sim/") {
            return;
        }
        let mut log = self
            .inner
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if log.len() == REQUEST_LOG_LEN {
            log.pop_front();
        }
        log.push_back((method.to_string(), path.to_string(), status.as_u16()));
    }

    fn faults(&self) -> MutexGuard<'_, Vec<FaultRule>> {
        self.inner
            .faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes the World to `cloud.json` atomically: a temp file, then a rename.
    fn persist(&self) -> Result<(), SimError> {
        let Some(dir) = &self.inner.config.data_dir else {
            return Ok(());
        };
        // Serializing and writing under the world lock keeps writes in request order.
        let world = self.world();
        let bytes = serde_json::to_vec(&*world).map_err(|err| SimError::Io {
            path: dir.join(STATE_FILE),
            source: std::io::Error::other(err),
        })?;
        write_atomically(&dir.join(STATE_FILE), &bytes)
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), SimError> {
    let temp = path.with_extension("json.tmp");
    let io = |source| SimError::Io {
        path: temp.clone(),
        source,
    };
    let mut file = File::create(&temp).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&temp, path).map_err(|source| SimError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// How many requests `GET /_sim/requests` remembers.
const REQUEST_LOG_LEN: usize = 10_000;

/// One injected failure, matched by method and path suffix.
#[derive(Clone, Debug)]
struct FaultRule {
    method: String,
    path_suffix: String,
    remaining: u32,
    kind: FaultKind,
}

#[derive(Clone, Copy, Debug)]
enum FaultKind {
    /// Process the request fully, then answer 502 with no body.
    LoseReply,
    /// Answer with this status without processing.
    Fail(StatusCode),
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

impl SimHandle {
    /// Stops serving and waits until the server has finished (and released the data folder).
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            // The server may already be gone; then there is nothing to stop.
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            // A panicked server task has stopped too, which is all that is asked here.
            let _ = task.await;
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

impl Sim {
    /// Opens the cloud: locks its data folder, loads `cloud.json` or seeds a fresh cloud.
    pub fn open(config: SimConfig) -> Result<Sim, SimError> {
        let (world, lock) = match &config.data_dir {
            None => (World::seeded(), None),
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(|source| SimError::Io {
                    path: dir.clone(),
                    source,
                })?;
                let lock_path = dir.join(LOCK_FILE);
                let lock = File::options()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&lock_path)
                    .map_err(|source| SimError::Io {
                        path: lock_path.clone(),
                        source,
                    })?;
                match lock.try_lock() {
                    Ok(()) => {}
                    Err(std::fs::TryLockError::WouldBlock) => {
                        return Err(SimError::InUse { dir: dir.clone() });
                    }
                    Err(std::fs::TryLockError::Error(source)) => {
                        return Err(SimError::Io {
                            path: lock_path,
                            source,
                        });
                    }
                }
                (load_or_seed(dir)?, Some(lock))
            }
        };
        let fresh = config
            .data_dir
            .as_ref()
            .is_some_and(|dir| !dir.join(STATE_FILE).exists());
        let sim = Sim {
            state: SimState {
                inner: Arc::new(Inner {
                    world: Mutex::new(world),
                    config,
                    base_url: std::sync::OnceLock::new(),
                    faults: Mutex::new(Vec::new()),
                    requests: Mutex::new(std::collections::VecDeque::new()),
                    failing_builds: Mutex::new(0),
                    _lock: lock,
                }),
            },
        };
        if fresh {
            sim.state.persist()?;
        }
        Ok(sim)
    }

    /// Opens the cloud and serves it on 127.0.0.1 at a free port.
    pub async fn start_on_loopback(config: SimConfig) -> Result<SimHandle, SimError> {
        let sim = Sim::open(config)?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(SimError::Serve)?;
        sim.start(listener)
    }

    /// Serves on `listener` in a background task until [`SimHandle::stop`].
    pub fn start(self, listener: tokio::net::TcpListener) -> Result<SimHandle, SimError> {
        let base_url = self.bind_base_url(&listener)?;
        let (sender, receiver) = tokio::sync::oneshot::channel::<()>();
        let app = router(self.state.clone());
        let task = tokio::spawn(async move {
            let shutdown = async move {
                let _ = receiver.await;
            };
            if let Err(err) = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::error!(error = %err, "embedded cloud server stopped");
            }
            drop(self);
        });
        Ok(SimHandle {
            auth_url: format!("{base_url}/identity/v3"),
            base_url,
            shutdown: Some(sender),
            task: Some(task),
        })
    }

    /// Serves on `listener` until `shutdown` completes (for `stackform sim`).
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), SimError> {
        self.bind_base_url(&listener)?;
        let app = router(self.state.clone());
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(SimError::Serve)
    }

    fn bind_base_url(&self, listener: &tokio::net::TcpListener) -> Result<String, SimError> {
        let addr = listener.local_addr().map_err(SimError::Serve)?;
        let url = format!("http://{addr}");
        let _ = self.state.inner.base_url.set(url.clone());
        Ok(self.state.base_url().to_string())
    }
}

fn load_or_seed(dir: &Path) -> Result<World, SimError> {
    let path = dir.join(STATE_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).map_err(|source| SimError::Corrupt { path, source })
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(World::seeded()),
        Err(source) => Err(SimError::Io { path, source }),
    }
}

/// The whole cloud on one port, as devstack lays it out.
fn router(state: SimState) -> Router {
    let services = Router::new()
        .nest("/identity", super::identity::routes())
        .nest("/compute", super::compute::routes())
        // network.rs provides `pub fn routes() -> Router<SimState>` (the Neutron helper's file).
        .nest("/networking", super::network::routes())
        .nest("/image", super::image::routes())
        .route("/_sim/faults", post(add_fault).delete(clear_faults))
        .route("/_sim/requests", get(list_requests).delete(clear_requests))
        .with_state(state.clone());
    // The common layer wraps the whole router (as its fallback) so it runs before routing:
    // it can rewrite paths and stamp request ids on every answer, 404s included.
    Router::new()
        .fallback_service(services)
        .layer(axum::middleware::from_fn_with_state(state, common_layer))
}

/// Service roots answer with and without a trailing slash, as the real services do.
const SERVICE_ROOTS: [&str; 4] = ["/identity/", "/compute/", "/networking/", "/image/"];

fn without_root_slash(request: &mut Request) {
    let path = request.uri().path();
    if !SERVICE_ROOTS.contains(&path) {
        return;
    }
    let trimmed = path.trim_end_matches('/').to_string();
    let rebuilt = match request.uri().query() {
        Some(query) => format!("{trimmed}?{query}"),
        None => trimmed,
    };
    if let Ok(uri) = rebuilt.parse::<axum::http::Uri>() {
        *request.uri_mut() = uri;
    }
}

/// Request ids, injected faults, WWW-Authenticate on 401s and persistence after writes.
async fn common_layer(State(state): State<SimState>, mut request: Request, next: Next) -> Response {
    without_root_slash(&mut request);
    let request_id = format!("req-{}", uuid::Uuid::new_v4());
    request
        .extensions_mut()
        .insert(RequestId(request_id.clone()));
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    // Deletions that finished since the last request leave before anyone looks.
    super::compute::reap_deleted_servers(&mut state.world(), now());

    let injected = take_fault(&state, &method, &path);
    let mut response = match injected {
        Some(FaultKind::Fail(status)) => status.into_response(),
        _ => next.run(request).await,
    };
    let mutated = !matches!(injected, Some(FaultKind::Fail(_)))
        && method != Method::GET
        && method != Method::HEAD;
    if mutated && let Err(err) = state.persist() {
        tracing::error!(error = %err, "embedded cloud could not persist its state");
        response = StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    if matches!(injected, Some(FaultKind::LoseReply)) {
        // As a failing proxy would: the work is done, the answer never arrives.
        response = Response::builder()
            .status(StatusCode::BAD_GATEWAY)
            .body(Body::empty())
            .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response());
    }
    state.record_request(&method, &path, response.status());
    // Nova's, Neutron's and Glance's version documents are served ahead of the request-id
    // middleware (Keystone's are not).
    let version_document = matches!(
        path.trim_end_matches('/'),
        "/compute" | "/networking" | "/image" | "/image/versions"
    );
    // Glance's auth filter rejects a bad token ahead of its request-id middleware.
    let glance_unauthorized =
        path.starts_with("/image") && response.status() == StatusCode::UNAUTHORIZED;
    let headers = response.headers_mut();
    if !version_document
        && !glance_unauthorized
        && let Ok(value) = HeaderValue::from_str(&request_id)
    {
        headers.insert(HeaderName::from_static("x-openstack-request-id"), value);
    }
    if response.status() == StatusCode::UNAUTHORIZED
        && !response.headers().contains_key("www-authenticate")
        && let Ok(value) =
            HeaderValue::from_str(&format!("Keystone uri=\"{}/identity\"", state.base_url()))
    {
        response.headers_mut().insert("www-authenticate", value);
    }
    response
}

fn take_fault(state: &SimState, method: &Method, path: &str) -> Option<FaultKind> {
    if path.starts_with("/_sim/") {
        return None;
    }
    let mut rules = state.faults();
    let index = rules.iter().position(|r| {
        r.method.eq_ignore_ascii_case(method.as_str()) && path.ends_with(&r.path_suffix)
    })?;
    let rule = &mut rules[index];
    let kind = rule.kind;
    rule.remaining = rule.remaining.saturating_sub(1);
    if rule.remaining == 0 {
        rules.remove(index);
    }
    Some(kind)
}

/// POST /_sim/faults: `{"lose_reply": {...}}`, `{"fail": {..., "status": 503}}`, or
/// `{"fail_build": {"count": N}}` (the next N server builds end in ERROR).
async fn add_fault(
    State(state): State<SimState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, Fault> {
    let caller = state.caller(&headers, Service::Identity)?;
    if !caller.is_admin() {
        return Err(Fault::forbidden(
            Service::Identity,
            "Only an admin may inject faults.",
        ));
    }
    let body = parse_json(Service::Identity, &body)?;
    if let Some(spec) = body.get("fail_build") {
        let count = spec
            .get("count")
            .and_then(Value::as_u64)
            .and_then(|c| u32::try_from(c).ok())
            .unwrap_or(1);
        *state
            .inner
            .failing_builds
            .lock()
            .unwrap_or_else(PoisonError::into_inner) += count;
        return Ok(StatusCode::NO_CONTENT);
    }
    let (spec, kind) = if let Some(spec) = body.get("lose_reply") {
        (spec, FaultKind::LoseReply)
    } else if let Some(spec) = body.get("fail") {
        let status = spec
            .get("status")
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok())
            .and_then(|s| StatusCode::from_u16(s).ok())
            .ok_or_else(|| {
                Fault::bad_request(
                    Service::Identity,
                    "fail.status must be an HTTP status code.",
                )
            })?;
        (spec, FaultKind::Fail(status))
    } else {
        return Err(Fault::bad_request(
            Service::Identity,
            "Expecting to find lose_reply or fail in request body.",
        ));
    };
    let text = |key: &str| {
        spec.get(key)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| Fault::bad_request(Service::Identity, format!("{key} is required.")))
    };
    let rule = FaultRule {
        method: text("method")?,
        path_suffix: text("path_suffix")?,
        remaining: spec
            .get("count")
            .and_then(Value::as_u64)
            .and_then(|c| u32::try_from(c).ok())
            .unwrap_or(1),
        kind,
    };
    state.faults().push(rule);
    Ok(StatusCode::NO_CONTENT)
}

/// DELETE /_sim/faults
async fn clear_faults(
    State(state): State<SimState>,
    headers: HeaderMap,
) -> Result<StatusCode, Fault> {
    let caller = state.caller(&headers, Service::Identity)?;
    if !caller.is_admin() {
        return Err(Fault::forbidden(
            Service::Identity,
            "Only an admin may clear faults.",
        ));
    }
    state.faults().clear();
    *state
        .inner
        .failing_builds
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = 0;
    Ok(StatusCode::NO_CONTENT)
}

/// GET /_sim/requests: `{"requests": [{"method", "path", "status"}]}`, oldest first.
async fn list_requests(
    State(state): State<SimState>,
    headers: HeaderMap,
) -> Result<axum::Json<Value>, Fault> {
    let caller = state.caller(&headers, Service::Identity)?;
    if !caller.is_admin() {
        return Err(Fault::forbidden(
            Service::Identity,
            "Only an admin may read the request log.",
        ));
    }
    let log = state
        .inner
        .requests
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let requests: Vec<Value> = log
        .iter()
        .map(|(method, path, status)| {
            serde_json::json!({"method": method, "path": path, "status": status})
        })
        .collect();
    Ok(axum::Json(serde_json::json!({ "requests": requests })))
}

/// DELETE /_sim/requests: forget the log.
async fn clear_requests(
    State(state): State<SimState>,
    headers: HeaderMap,
) -> Result<StatusCode, Fault> {
    let caller = state.caller(&headers, Service::Identity)?;
    if !caller.is_admin() {
        return Err(Fault::forbidden(
            Service::Identity,
            "Only an admin may clear the request log.",
        ));
    }
    state
        .inner
        .requests
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clear();
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compute_fault_names_follow_the_status() {
        let cases = [
            (StatusCode::BAD_REQUEST, "badRequest"),
            (StatusCode::FORBIDDEN, "forbidden"),
            (StatusCode::NOT_FOUND, "itemNotFound"),
            (StatusCode::METHOD_NOT_ALLOWED, "badMethod"),
            (StatusCode::CONFLICT, "conflictingRequest"),
            (StatusCode::PAYLOAD_TOO_LARGE, "overLimit"),
            (StatusCode::NOT_ACCEPTABLE, "computeFault"),
            (StatusCode::SERVICE_UNAVAILABLE, "serviceUnavailable"),
        ];
        for (status, name) in cases {
            let body = Fault::new(Service::Compute, status, "m").body();
            assert_eq!(
                body,
                json!({ name: { "code": status.as_u16(), "message": "m" } })
            );
        }
    }

    #[test]
    fn each_service_has_its_own_error_shape() {
        assert_eq!(
            Fault::neutron(
                StatusCode::NOT_FOUND,
                "NetworkNotFound",
                "Network x could not be found."
            )
            .body(),
            json!({ "NeutronError": { "type": "NetworkNotFound", "message": "Network x could not be found.", "detail": "" } })
        );
        assert_eq!(
            Fault::not_found(Service::Identity, "Could not find project: p.").body(),
            json!({ "error": { "code": 404, "title": "Not Found", "message": "Could not find project: p." } })
        );
        assert_eq!(
            Fault::not_found(Service::Image, "No image found with ID i").body(),
            json!({ "message": "No image found with ID i<br /><br />\n\n\n", "code": "404 Not Found", "title": "Not Found" })
        );
        // keystonemiddleware answers a bad token before the service: Keystone's shape for all.
        assert_eq!(
            Fault::unauthorized(Service::Compute).body(),
            json!({ "error": { "code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication." } })
        );
    }

    #[test]
    fn next_page_queries_replace_or_append_the_marker() {
        let query = vec![
            ("name".to_string(), "web 1".to_string()),
            ("marker".to_string(), "a".to_string()),
            ("limit".to_string(), "2".to_string()),
        ];
        assert_eq!(
            next_page_query(&query, "b"),
            "name=web%201&marker=b&limit=2"
        );
        assert_eq!(next_page_query(&query[..1], "b"), "name=web%201&marker=b");
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(encode_query_value("a b/c"), "a%20b%2Fc");
        assert_eq!(encode_query_value("web-1_x.y~"), "web-1_x.y~");
    }
}
