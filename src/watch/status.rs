//! What the daemon tells about itself over HTTP on `--listen`: `/healthz` (the process
//! answers), `/readyz` (a valid spec is loaded and the cloud was reached), `/status` (JSON:
//! the last reconcile per trigger with its result and duration, the next timers, the last drift a
//! pull found). The server takes a bound listener and a shutdown future, so that tests
//! bind `127.0.0.1:0`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json};
use axum::routing::get;
use serde::Serialize;

/// The daemon's status, shared between the reconcile loop (writer) and the server (reader).
pub type SharedStatus = Arc<Mutex<Status>>;

#[derive(Clone, Debug, Default, Serialize)]
pub struct Status {
    /// "apply" or "plan".
    pub mode: &'static str,
    pub pid: u32,
    pub started_at: String,
    /// A valid spec is being enforced.
    pub spec_loaded: bool,
    /// The located error of the last invalid spec, while it is not fixed.
    pub spec_error: Option<String>,
    /// The last reconcile reached the cloud.
    pub cloud_reachable: bool,
    /// The trigger of the reconcile in flight.
    pub reconciling: Option<&'static str>,
    pub reconciles: u64,
    /// The last reconcile of each trigger.
    pub last: BTreeMap<&'static str, LastReconcile>,
    /// Each pull timer: its interval and next time.
    pub timers: BTreeMap<&'static str, TimerStatus>,
    /// When a failed reconcile is tried again (backoff), if one is waiting.
    pub retry_at: Option<String>,
    /// What the last pull that found drift found changed outside stackform (empty: no pull
    /// found any yet).
    pub drift: Vec<DriftItem>,
    /// When that pull started.
    pub drift_found_at: Option<String>,
    /// Whether that drift was corrected (apply mode) or only reported (plan mode).
    pub drift_corrected: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct LastReconcile {
    pub started_at: String,
    pub duration_ms: u64,
    /// "converged" (nothing to do), "applied", "planned" (changes reported, plan mode),
    /// "failed", "invalid-spec".
    pub result: &'static str,
    pub added: usize,
    pub changed: usize,
    pub destroyed: usize,
    pub error: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct TimerStatus {
    pub every_secs: u64,
    pub next_at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DriftItem {
    pub address: String,
    pub action: String,
    pub reason: serde_json::Value,
}

pub fn router(status: SharedStatus) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/status", get(status_json))
        .with_state(status)
}

/// Serves until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    status: SharedStatus,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(status))
        .with_graceful_shutdown(shutdown)
        .await
}

fn read(status: &SharedStatus) -> Status {
    status.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

async fn readyz(State(status): State<SharedStatus>) -> impl IntoResponse {
    let s = read(&status);
    match (s.spec_loaded, s.cloud_reachable) {
        (true, true) => (StatusCode::OK, "ready\n".to_string()),
        (false, _) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: no valid spec loaded\n".to_string(),
        ),
        (true, false) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the cloud was not reached\n".to_string(),
        ),
    }
}

async fn status_json(State(status): State<SharedStatus>) -> Json<Status> {
    Json(read(&status))
}
