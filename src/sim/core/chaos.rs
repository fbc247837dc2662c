//! Random faults, as real clouds show them under load: a service answering 503, a rate
//! limiter answering 429 with Retry-After, a connection reset before any answer, latency, a
//! write done but its reply lost on the way back, a server build ending in ERROR. Seeded, so a
//! failing run can be replayed; set by `stackform sim` flags or `PUT /_sim/chaos`.
//!
//! Targeted, counted faults (the next N calls to one path) are `hooks`'; this is their random
//! counterpart for soak, crash and fault tests.

use std::sync::PoisonError;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use serde::{Deserialize, Serialize};

use super::*;

/// How often each fault happens, per request (0 = never, 1 = always).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Chaos {
    /// Seeds the random choices: the same seed and the same requests give the same faults.
    pub seed: u64,
    /// A 503 before the request is processed.
    pub error_rate: f64,
    /// A 429 with `Retry-After: retry_after_secs`, before the request is processed.
    pub throttle_rate: f64,
    pub retry_after_secs: u64,
    /// The connection closes with no answer, before the request is processed.
    pub reset_rate: f64,
    /// A write is processed, then its answer is replaced by a 502 (outcome unknown).
    pub lose_reply_rate: f64,
    /// Each answer is delayed uniformly between these bounds, in milliseconds.
    pub latency_ms: (u64, u64),
    /// A server build ends in ERROR.
    pub build_error_rate: f64,
    /// Only requests whose path starts with one of these (e.g. "/networking") are touched;
    /// empty means every service.
    pub services: Vec<String>,
}

/// What chaos decided for one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Decision {
    Pass,
    Fail(StatusCode),
    Throttle(u64),
    Reset,
    LoseReply,
}

/// The chaos settings and their random source.
pub(super) struct ChaosState {
    pub settings: Chaos,
    rng: fastrand::Rng,
}

impl ChaosState {
    pub fn new(settings: Chaos) -> ChaosState {
        let rng = fastrand::Rng::with_seed(settings.seed);
        ChaosState { settings, rng }
    }

    fn roll(&mut self, rate: f64) -> bool {
        rate > 0.0 && self.rng.f64() < rate
    }

    /// The fault (if any) for one request, and the latency to add.
    pub fn decide(&mut self, method: &Method, path: &str) -> (Decision, Duration) {
        let s = &self.settings;
        let in_scope = !path.starts_with("/_sim/")
            && (s.services.is_empty() || s.services.iter().any(|p| path.starts_with(p)));
        if !in_scope {
            return (Decision::Pass, Duration::ZERO);
        }
        let (low, high) = s.latency_ms;
        let latency = if high > low {
            Duration::from_millis(self.rng.u64(low..=high))
        } else {
            Duration::from_millis(low)
        };
        let (error, throttle, reset, lose) = (
            s.error_rate,
            s.throttle_rate,
            s.reset_rate,
            s.lose_reply_rate,
        );
        let retry_after = s.retry_after_secs;
        let writes = method != Method::GET && method != Method::HEAD;
        let decision = if self.roll(reset) {
            Decision::Reset
        } else if self.roll(throttle) {
            Decision::Throttle(retry_after)
        } else if self.roll(error) {
            Decision::Fail(StatusCode::SERVICE_UNAVAILABLE)
        } else if writes && self.roll(lose) {
            Decision::LoseReply
        } else {
            Decision::Pass
        };
        (decision, latency)
    }

    /// Whether a server build starting now ends in ERROR.
    pub fn build_fails(&mut self) -> bool {
        let rate = self.settings.build_error_rate;
        self.roll(rate)
    }
}

impl SimState {
    pub(super) fn chaos(&self) -> std::sync::MutexGuard<'_, ChaosState> {
        self.inner
            .chaos
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// GET /_sim/chaos: the settings in force.
pub(super) async fn get_chaos(
    State(state): State<SimState>,
    headers: HeaderMap,
) -> Result<axum::Json<Chaos>, Fault> {
    admin_only(&state, &headers, "read the chaos settings")?;
    Ok(axum::Json(state.chaos().settings.clone()))
}

/// PUT /_sim/chaos: replace the settings (an empty object turns chaos off).
pub(super) async fn put_chaos(
    State(state): State<SimState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, Fault> {
    admin_only(&state, &headers, "set the chaos settings")?;
    let settings: Chaos = serde_json::from_slice(&body)
        .map_err(|e| Fault::bad_request(Service::Identity, format!("Invalid chaos: {e}")))?;
    *state.chaos() = ChaosState::new(settings);
    Ok(StatusCode::NO_CONTENT)
}

fn admin_only(state: &SimState, headers: &HeaderMap, what: &str) -> Result<(), Fault> {
    let caller = state.caller(headers, Service::Identity)?;
    if caller.is_admin() {
        Ok(())
    } else {
        Err(Fault::forbidden(
            Service::Identity,
            format!("Only an admin may {what}."),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decisions(settings: Chaos, method: &Method, n: usize) -> Vec<Decision> {
        let mut chaos = ChaosState::new(settings);
        (0..n)
            .map(|_| chaos.decide(method, "/networking/v2.0/networks").0)
            .collect()
    }

    #[test]
    fn off_by_default_and_the_same_seed_replays_the_same_faults() {
        assert!(
            decisions(Chaos::default(), &Method::POST, 200)
                .iter()
                .all(|d| *d == Decision::Pass)
        );
        let noisy = Chaos {
            seed: 7,
            error_rate: 0.2,
            throttle_rate: 0.1,
            retry_after_secs: 2,
            reset_rate: 0.1,
            lose_reply_rate: 0.2,
            ..Chaos::default()
        };
        let first = decisions(noisy.clone(), &Method::POST, 500);
        assert_eq!(first, decisions(noisy.clone(), &Method::POST, 500));
        for kind in [
            Decision::Fail(StatusCode::SERVICE_UNAVAILABLE),
            Decision::Throttle(2),
            Decision::Reset,
            Decision::LoseReply,
            Decision::Pass,
        ] {
            assert!(first.contains(&kind), "{kind:?} never drawn");
        }
        // A read has no reply to lose: its outcome is never unknown.
        assert!(!decisions(noisy, &Method::GET, 500).contains(&Decision::LoseReply));
    }

    #[test]
    fn only_the_chosen_services_and_never_the_hooks() {
        let mut chaos = ChaosState::new(Chaos {
            error_rate: 1.0,
            services: vec!["/compute".into()],
            ..Chaos::default()
        });
        let at = |chaos: &mut ChaosState, path: &str| chaos.decide(&Method::GET, path).0;
        assert_eq!(at(&mut chaos, "/networking/v2.0/networks"), Decision::Pass);
        assert_eq!(
            at(&mut chaos, "/compute/v2.1/servers"),
            Decision::Fail(StatusCode::SERVICE_UNAVAILABLE)
        );
        chaos.settings.services.clear();
        assert_eq!(at(&mut chaos, "/_sim/requests"), Decision::Pass);
    }

    #[test]
    fn latency_stays_within_its_bounds() {
        let mut chaos = ChaosState::new(Chaos {
            latency_ms: (5, 20),
            ..Chaos::default()
        });
        for _ in 0..100 {
            let (_, latency) = chaos.decide(&Method::GET, "/image/v2/images");
            assert!((5..=20).contains(&latency.as_millis()), "{latency:?}");
        }
    }
}
