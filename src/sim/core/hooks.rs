//! The `/_sim` test hooks (admin token only): injected faults (lost replies, refusals, failing
//! builds) and the log of recent requests with uncapped totals.

use std::sync::PoisonError;
use std::sync::atomic::Ordering;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use serde_json::Value;

use super::*;

/// How many requests `GET /_sim/requests` remembers unless [`SimConfig`] says otherwise.
pub const DEFAULT_REQUEST_LOG_LIMIT: usize = 10_000;

/// The latest requests (method, path, status), bounded, and totals per method that are not:
/// a benchmark of 100,000 calls must be able to count them all.
#[derive(Default)]
pub(super) struct RequestLog {
    recent: std::collections::VecDeque<(String, String, u16)>,
    total: u64,
    by_method: std::collections::BTreeMap<String, u64>,
}

impl RequestLog {
    pub(super) fn record(&mut self, method: &Method, path: &str, status: StatusCode, limit: usize) {
        self.total += 1;
        *self.by_method.entry(method.to_string()).or_default() += 1;
        if limit == 0 {
            return;
        }
        while self.recent.len() >= limit {
            self.recent.pop_front();
        }
        self.recent
            .push_back((method.to_string(), path.to_string(), status.as_u16()));
    }

    /// `{"requests": [...], "total": N, "by_method": {"GET": n, ...}}`
    pub(super) fn body(&self) -> Value {
        let requests: Vec<Value> = self
            .recent
            .iter()
            .map(|(method, path, status)| {
                serde_json::json!({"method": method, "path": path, "status": status})
            })
            .collect();
        serde_json::json!({
            "requests": requests,
            "total": self.total,
            "by_method": self.by_method,
        })
    }

    pub(super) fn clear(&mut self) {
        *self = RequestLog::default();
    }
}

/// One injected failure, matched by method and path suffix.
#[derive(Clone, Debug)]
pub(super) struct FaultRule {
    pub(super) method: String,
    pub(super) path_suffix: String,
    pub(super) remaining: u32,
    pub(super) kind: FaultKind,
}

#[derive(Clone, Debug)]
pub(super) enum FaultKind {
    /// Process the request fully, then answer 502 with no body.
    LoseReply,
    /// Answer with this status without processing.
    Fail(StatusCode),
    /// Answer with this status and JSON body without processing: how a test makes the cloud
    /// refuse a request the way some deployment does (a missing extension, a policy).
    Refuse(StatusCode, std::sync::Arc<Value>),
    /// Process the request normally after waiting this long: one slow service, so that a test
    /// can see which calls wait for which.
    Delay(std::time::Duration),
}

impl FaultKind {
    /// Whether the request was answered without being processed.
    pub(super) fn refused(&self) -> bool {
        matches!(self, FaultKind::Fail(_) | FaultKind::Refuse(..))
    }
}

pub(super) fn take_fault(state: &SimState, method: &Method, path: &str) -> Option<FaultKind> {
    if path.starts_with("/_sim/") {
        return None;
    }
    let mut rules = state.faults();
    let index = rules.iter().position(|r| {
        r.method.eq_ignore_ascii_case(method.as_str()) && path.ends_with(&r.path_suffix)
    })?;
    let rule = &mut rules[index];
    let kind = rule.kind.clone();
    rule.remaining = rule.remaining.saturating_sub(1);
    if rule.remaining == 0 {
        rules.remove(index);
    }
    Some(kind)
}

/// A fault's `count`: how many times it strikes (once when absent).
fn fault_count(spec: &Value) -> u32 {
    spec.get("count")
        .and_then(Value::as_u64)
        .and_then(|c| u32::try_from(c).ok())
        .unwrap_or(1)
}

/// POST /_sim/faults: `{"lose_reply": {...}}`, `{"fail": {..., "status": 503}}` (with an
/// optional `"body"` to answer with), `{"delay": {..., "ms": 300}}`, or
/// `{"fail_build": {"count": N}}` (the next N server builds end in ERROR), or
/// `{"fail_resize": {"count": N, "at": "schedule" | "confirm"}}` (the next N resizes fail
/// there: see [`super::ResizeFailure`]), or `{"corrupt_upload": {"count": N}}` (the next N
/// image uploads are stored with one byte flipped, their checksums those of the stored data).
pub(super) async fn add_fault(
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
        *state
            .inner
            .failing_builds
            .lock()
            .unwrap_or_else(PoisonError::into_inner) += fault_count(spec);
        return Ok(StatusCode::NO_CONTENT);
    }
    if let Some(spec) = body.get("corrupt_upload") {
        *state
            .inner
            .corrupt_uploads
            .lock()
            .unwrap_or_else(PoisonError::into_inner) += fault_count(spec);
        return Ok(StatusCode::NO_CONTENT);
    }
    if let Some(spec) = body.get("fail_resize") {
        let count = spec.get("count").and_then(Value::as_u64).unwrap_or(1);
        let failure = match spec.get("at").and_then(Value::as_str) {
            None | Some("schedule") => super::ResizeFailure::Schedule,
            Some("confirm") => super::ResizeFailure::Confirm,
            Some(other) => {
                return Err(Fault::bad_request(
                    Service::Identity,
                    format!("fail_resize.at must be schedule or confirm, not {other}."),
                ));
            }
        };
        let mut failing = state
            .inner
            .failing_resizes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        failing.extend(std::iter::repeat_n(failure, count.min(1000) as usize));
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
        match spec.get("body") {
            Some(body) => (
                spec,
                FaultKind::Refuse(status, std::sync::Arc::new(body.clone())),
            ),
            None => (spec, FaultKind::Fail(status)),
        }
    } else if let Some(spec) = body.get("delay") {
        let ms = spec.get("ms").and_then(Value::as_u64).ok_or_else(|| {
            Fault::bad_request(
                Service::Identity,
                "delay.ms must be a number of milliseconds.",
            )
        })?;
        (
            spec,
            FaultKind::Delay(std::time::Duration::from_millis(ms.min(60_000))),
        )
    } else {
        return Err(Fault::bad_request(
            Service::Identity,
            "Expecting to find lose_reply, fail or delay in request body.",
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
pub(super) async fn clear_faults(
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
    state
        .inner
        .failing_resizes
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clear();
    *state
        .inner
        .corrupt_uploads
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = 0;
    Ok(StatusCode::NO_CONTENT)
}

/// GET /_sim/requests: `{"requests": [{"method", "path", "status"}], "total": N,
/// "by_method": {"GET": n, ...}}`, oldest first; the totals count every request since the
/// start (or the last DELETE), however many the log keeps.
pub(super) async fn list_requests(
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
    let mut body = state
        .inner
        .requests
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .body();
    body["peak_in_flight"] = serde_json::json!(state.inner.peak_in_flight.load(Ordering::SeqCst));
    Ok(axum::Json(body))
}

/// DELETE /_sim/requests: forget the log and its totals.
pub(super) async fn clear_requests(
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
    let now = state.inner.in_flight.load(Ordering::SeqCst);
    state.inner.peak_in_flight.store(now, Ordering::SeqCst);
    Ok(StatusCode::NO_CONTENT)
}

/// Counts one request as being served (not the `/_sim` hooks) until dropped, even when the
/// request ends by unwinding (an injected reset).
pub(super) struct InFlight<'a>(Option<&'a SimState>);

impl<'a> InFlight<'a> {
    pub(super) fn enter(state: &'a SimState, path: &str) -> InFlight<'a> {
        if path.starts_with("/_sim/") {
            return InFlight(None);
        }
        let now = state.inner.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        state.inner.peak_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(Some(state))
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if let Some(state) = self.0 {
            state.inner.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
    }
}
