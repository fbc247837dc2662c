//! Serving the embedded cloud: opening (and locking) the data folder, binding the listener,
//! nesting the services under their prefixes, and the layer every request passes (request
//! ids, tokens' WWW-Authenticate, injected faults, persistence after each change).

use std::fs::File;
use std::future::Future;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::*;

/// The cloud, opened from its data folder.
pub struct Sim {
    pub(super) state: SimState,
}

/// A running cloud: its URL and a way to stop it.
pub struct SimHandle {
    /// http://127.0.0.1:PORT
    pub base_url: String,
    /// The Keystone v3 URL clients use as OS_AUTH_URL: {base_url}/identity/v3
    pub auth_url: String,
    pub(super) shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    pub(super) task: Option<tokio::task::JoinHandle<()>>,
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
    /// Opens the cloud: locks its data folder, loads `cloud.json` (replaying its journal) or
    /// seeds a fresh cloud.
    pub fn open(config: SimConfig) -> Result<Sim, SimError> {
        let (world, journal, lock) = match &config.data_dir {
            None => (World::seeded(), None, None),
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(|source| SimError::Io {
                    path: dir.clone(),
                    source,
                })?;
                let lock = lock_folder(dir)?;
                let (mut world, journal) = Journal::open(dir, World::seeded)?;
                // A cloud made before a service existed gains its seed (journaled with the
                // next write, redone on every open until then).
                world.upgrade();
                (world, Some(journal), Some(lock))
            }
        };
        let files = files::FilesFolder::open(config.data_dir.as_deref())?;
        let chaos = ChaosState::new(config.chaos.clone());
        Ok(Sim {
            state: SimState {
                inner: Arc::new(Inner {
                    world: Mutex::new(world),
                    config,
                    base_url: std::sync::OnceLock::new(),
                    faults: Mutex::new(Vec::new()),
                    requests: Mutex::new(RequestLog::default()),
                    in_flight: Default::default(),
                    peak_in_flight: Default::default(),
                    failing_builds: Mutex::new(0),
                    failing_resizes: Mutex::new(Vec::new()),
                    corrupt_uploads: Mutex::new(0),
                    chaos: Mutex::new(chaos),
                    journal,
                    files,
                    _lock: lock,
                }),
            },
        })
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
            self.state.close();
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
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(SimError::Serve);
        self.state.close();
        served
    }

    pub(super) fn bind_base_url(
        &self,
        listener: &tokio::net::TcpListener,
    ) -> Result<String, SimError> {
        let addr = listener.local_addr().map_err(SimError::Serve)?;
        let url = format!("http://{addr}");
        let _ = self.state.inner.base_url.set(url.clone());
        self.advertise(&url)?;
        Ok(self.state.base_url().to_string())
    }

    /// Writes the URL into the held lock file, so that another process finding the data
    /// folder in use can reach this cloud instead of being refused (see [`served_url`]).
    fn advertise(&self, url: &str) -> Result<(), SimError> {
        let (Some(mut lock), Some(dir)) = (
            self.state.inner._lock.as_ref(),
            self.state.inner.config.data_dir.as_ref(),
        ) else {
            return Ok(());
        };
        let io = |source| SimError::Io {
            path: dir.join(LOCK_FILE),
            source,
        };
        lock.set_len(0).map_err(io)?;
        std::io::Seek::rewind(&mut lock).map_err(io)?;
        lock.write_all(format!("{url}\n").as_bytes()).map_err(io)
    }
}

/// The URL of the process serving the data folder `dir` now, if one does: its lock is held
/// and it has written where it listens. A lock file left by a stopped process is not locked
/// any more, so its stale URL is never returned.
pub fn served_url(dir: &Path) -> Option<String> {
    let lock_path = dir.join(LOCK_FILE);
    let file = File::open(&lock_path).ok()?;
    match file.try_lock_shared() {
        Err(std::fs::TryLockError::WouldBlock) => {}
        // Free (then we hold it: dropping `file` releases it) or unreadable: nobody serves.
        _ => return None,
    }
    let text = std::fs::read_to_string(&lock_path).ok()?;
    let url = text.trim();
    url.starts_with("http://127.0.0.1:")
        .then(|| url.to_string())
}

/// Takes the folder's OS lock, or says who holds it.
fn lock_folder(dir: &Path) -> Result<File, SimError> {
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
        Ok(()) => Ok(lock),
        Err(std::fs::TryLockError::WouldBlock) => Err(SimError::InUse {
            dir: dir.to_path_buf(),
        }),
        Err(std::fs::TryLockError::Error(source)) => Err(SimError::Io {
            path: lock_path,
            source,
        }),
    }
}

/// The whole cloud on one port, as devstack lays it out.
pub(super) fn router(state: SimState) -> Router {
    let services = Router::new()
        .nest("/identity", crate::sim::identity::routes())
        .nest("/compute", crate::sim::compute::routes())
        // network.rs provides `pub fn routes() -> Router<SimState>` (the Neutron helper's file).
        .nest("/networking", crate::sim::network::routes())
        .nest("/image", crate::sim::image::routes())
        .nest("/volume", crate::sim::block_storage::routes())
        .route("/_sim/faults", post(add_fault).delete(clear_faults))
        .route("/_sim/requests", get(list_requests).delete(clear_requests))
        .route("/_sim/chaos", get(get_chaos).put(put_chaos))
        .layer(axum::middleware::from_fn(super::media::media_layer))
        .with_state(state.clone());
    // The common layer wraps the whole router (as its fallback) so it runs before routing:
    // it can rewrite paths and stamp request ids on every answer, 404s included.
    Router::new()
        .fallback_service(services)
        .layer(axum::middleware::from_fn_with_state(state, common_layer))
}

/// Service roots answer with and without a trailing slash, as the real services do.
pub(super) const SERVICE_ROOTS: [&str; 5] = [
    "/identity/",
    "/compute/",
    "/networking/",
    "/image/",
    "/volume/",
];

pub(super) fn without_root_slash(request: &mut Request) {
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
pub(super) async fn common_layer(
    State(state): State<SimState>,
    mut request: Request,
    next: Next,
) -> Response {
    without_root_slash(&mut request);
    let request_id = format!("req-{}", uuid::Uuid::new_v4());
    request
        .extensions_mut()
        .insert(RequestId(request_id.clone()));
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    // Deletions that finished since the last request leave before anyone looks.
    crate::sim::compute::reap_deleted_servers(&mut state.world(), now());

    let _in_flight = InFlight::enter(&state, &path);
    let (chaos, latency) = state.chaos().decide(&method, &path);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let mut injected = take_fault(&state, &method, &path);
    if let Some(FaultKind::Delay(delay)) = injected {
        tokio::time::sleep(delay).await;
        injected = None;
    }
    let injected = injected.or(match chaos {
        Decision::Pass => None,
        Decision::Fail(status) => Some(FaultKind::Fail(status)),
        Decision::Throttle(_) => Some(FaultKind::Fail(StatusCode::TOO_MANY_REQUESTS)),
        Decision::LoseReply => Some(FaultKind::LoseReply),
        Decision::Reset => {
            // Logged as nginx's 499 (client closed), the nearest code for "no answer".
            let no_answer = StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_GATEWAY);
            state.record_request(&method, &path, no_answer);
            // Unwinding out of the connection's task drops the connection without an answer,
            // which the client sees as a reset; `resume_unwind` skips the panic message.
            std::panic::resume_unwind(Box::new("connection reset by chaos"));
        }
    });
    let mut response = match injected {
        Some(FaultKind::Fail(status)) => status.into_response(),
        Some(FaultKind::Refuse(status, ref body)) => {
            (status, axum::Json(body.as_ref().clone())).into_response()
        }
        _ => next.run(request).await,
    };
    if let Decision::Throttle(seconds) = chaos
        && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
    {
        response.headers_mut().insert("retry-after", value);
    }
    let mutated = !injected.as_ref().is_some_and(FaultKind::refused)
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
