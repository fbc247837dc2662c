//! One reconcile: refresh, plan, then apply (apply mode) or report (plan mode), on the state
//! the daemon holds. Returns what happened and whether a retry is worth it, read from the
//! typed errors (the cloud briefly unable: retry with backoff; a spec or permission error:
//! wait for the next edit or pull).

use std::time::Duration;

use tokio::time::Instant;

use super::Log;
use super::status::{DriftItem, LastReconcile};
use crate::apply::Event;
use crate::ops::{self, OpsError, watch::Held};
use crate::render;
use crate::spec::Desired;

/// What the daemon does with a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Apply,
    Plan,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Apply => "apply",
            Mode::Plan => "plan",
        }
    }
}

/// The end of one reconcile.
#[derive(Debug)]
pub struct Reconciled {
    pub last: LastReconcile,
    /// The plan's actions (before they were applied).
    pub drift: Vec<DriftItem>,
    /// The spec itself is wrong (or names what the cloud lacks): the last good one stays.
    pub invalid_spec: bool,
    /// Worth trying again, unchanged, after a backoff.
    pub retryable: bool,
    pub retry_after: Option<Duration>,
    /// The cloud answered (the connection is kept).
    pub cloud_reachable: bool,
}

impl Reconciled {
    pub fn succeeded(&self) -> bool {
        matches!(self.last.result, "converged" | "applied" | "planned")
    }
}

/// Reconciles `desired` once. Nothing is written in plan mode; in apply mode the state is
/// written after every step, as `stackform apply` does.
pub async fn reconcile(
    held: &mut Held,
    desired: Desired,
    mode: Mode,
    log: &dyn Log,
    color: bool,
) -> Reconciled {
    let started = Instant::now();
    let started_at = crate::store::now();
    let mut done = Reconciled {
        last: LastReconcile {
            started_at,
            duration_ms: 0,
            result: "converged",
            added: 0,
            changed: 0,
            destroyed: 0,
            error: None,
        },
        drift: Vec::new(),
        invalid_spec: false,
        retryable: false,
        retry_after: None,
        cloud_reachable: true,
    };
    let planned = match held.plan(desired).await {
        Ok(planned) => planned,
        Err(e) => {
            failed(&mut done, &e, log, color);
            done.cloud_reachable = held.connected();
            done.last.duration_ms = millis(started.elapsed());
            return done;
        }
    };
    done.drift = drift_items(&planned.plan);
    let (add, change, destroy) = planned.plan.summary();
    if planned.plan.is_empty() {
        if mode == Mode::Apply
            && let Err(e) = ops::record_adoptions(&planned).await
        {
            failed(&mut done, &e, log, color);
        }
        held.release(planned);
        done.last.duration_ms = millis(started.elapsed());
        return done;
    }
    log.info(render::human::plan(&planned.plan, color).trim_end());
    match mode {
        Mode::Plan => {
            done.last.result = "planned";
            (done.last.added, done.last.changed, done.last.destroyed) = (add, change, destroy);
            held.release(planned);
        }
        Mode::Apply => {
            let on_event = |event: Event| log.info(&render::human::step_line(event));
            let result = ops::apply(&planned, None, &on_event).await;
            held.release(planned);
            match result {
                Ok(outcome) => {
                    (done.last.added, done.last.changed, done.last.destroyed) =
                        (outcome.added, outcome.changed, outcome.destroyed);
                    let failures = outcome.failed.len() + outcome.unrecorded.len();
                    log.info(&render::human::apply_summary(
                        outcome.added,
                        outcome.changed,
                        outcome.destroyed,
                        failures,
                        outcome.skipped.len(),
                    ));
                    if outcome.succeeded() {
                        done.last.result = "applied";
                    } else {
                        done.last.result = "failed";
                        done.last.error = Some(format!("{failures} step(s) failed"));
                        // Terminal when any step's error is: retrying would repeat it; the next
                        // edit or pull tries again.
                        done.retryable = outcome.failed.iter().all(|(_, e)| e.is_retryable());
                        done.retry_after = outcome
                            .failed
                            .iter()
                            .filter_map(|(_, e)| e.retry_after())
                            .max();
                    }
                }
                Err(e) => failed(&mut done, &e, log, color),
            }
        }
    }
    done.last.duration_ms = millis(started.elapsed());
    done
}

fn failed(done: &mut Reconciled, e: &OpsError, log: &dyn Log, color: bool) {
    done.last.result = "failed";
    match e {
        OpsError::Spec(diags) => {
            done.last.result = "invalid-spec";
            done.invalid_spec = true;
            let text = diags.render(false);
            log.error(diags.render(color).trim_end());
            done.last.error = Some(text);
        }
        OpsError::Cloud(cloud) => {
            log.error(&format!("error: {e}"));
            done.retryable = cloud.is_retryable();
            done.retry_after = cloud.retry_after();
            done.last.error = Some(e.to_string());
        }
        other => {
            log.error(&format!("error: {other}"));
            done.last.error = Some(other.to_string());
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The plan's actions, as `/status` lists the drift: address, action, reason (the plan JSON's
/// words).
fn drift_items(plan: &crate::plan::Plan) -> Vec<DriftItem> {
    let json = render::json::plan(plan);
    json["resource_changes"]
        .as_array()
        .map(|changes| {
            changes
                .iter()
                .map(|c| DriftItem {
                    address: c["address"].as_str().unwrap_or_default().to_string(),
                    action: c["action"].as_str().unwrap_or_default().to_string(),
                    reason: c["reason"].clone(),
                })
                .collect()
        })
        .unwrap_or_default()
}
