//! An instance's power state: the Nova actions from one status to another, asked so that a
//! lost answer or a refusal is never taken for the outcome.

use backon::Retryable;

use super::SCHEMA;
use crate::addr::Address;
use crate::openstack;
use crate::resources::common;
use crate::resources::{Context, Error, Result};

/// Running for ACTIVE, stopped for SHUTOFF, otherwise the status lowercased.
pub(super) fn power_state(status: &str) -> String {
    match status {
        "ACTIVE" => "running".into(),
        "SHUTOFF" => "stopped".into(),
        other => other.to_ascii_lowercase(),
    }
}

/// The Nova actions that take a server from `status` to `want` ("running" or "stopped"),
/// each with the status to wait for. Real Nova starts only a SHUTOFF server and stops only an
/// ACTIVE (or ERROR) one, answering 409 otherwise: a server paused, suspended or shelved
/// outside stackform first comes back to ACTIVE through its own undo action.
fn power_actions(status: &str, want: &str) -> Vec<(&'static str, &'static str)> {
    let mut steps = Vec::new();
    let undo = match status {
        "PAUSED" => Some("unpause"),
        "SUSPENDED" => Some("resume"),
        "SHELVED" | "SHELVED_OFFLOADED" => Some("unshelve"),
        _ => None,
    };
    if let Some(action) = undo {
        steps.push((action, "ACTIVE"));
    }
    let now = if undo.is_some() { "ACTIVE" } else { status };
    match (want, now) {
        ("stopped", "SHUTOFF") | ("running", "ACTIVE") => {}
        ("stopped", _) => steps.push(("os-stop", "SHUTOFF")),
        _ => steps.push(("os-start", "ACTIVE")),
    }
    steps
}

pub(super) async fn set_power(
    cx: &Context,
    addr: &Address,
    server_id: &str,
    status: &str,
    want: &str,
) -> Result<()> {
    let compute = cx.cloud.admin().compute();
    let lineage = common::lineage_tag(cx);
    for (action, target) in power_actions(status, want) {
        server_action(cx, addr, server_id, action, target).await?;
        compute
            .wait_status(Some(&lineage), server_id, &[target], cx.timeout)
            .await
            .map_err(|e| common::wait_error(addr, target, e))?;
    }
    Ok(())
}

/// Asks Nova for `action`. An action is a POST: after a lost reply or a refusal that may or
/// may not have been carried out (502, 503, a reset), the server's status says which, once it
/// settles: at `target`, it was; otherwise it is asked again, with backoff, within the same
/// retry budget as any call.
async fn server_action(
    cx: &Context,
    addr: &Address,
    server_id: &str,
    action: &str,
    target: &str,
) -> Result<()> {
    let compute = cx.cloud.admin().compute();
    let lineage = common::lineage_tag(cx);
    let again = |error: &Error| match error {
        Error::Api(e) => e.is_unknown_outcome() || e.is_retryable(),
        _ => false,
    };
    let attempt = || async {
        let Err(error) = compute.action(server_id, action).await else {
            return Ok(());
        };
        let error = Error::from(error);
        if !again(&error) {
            return Err(error);
        }
        let settled = compute
            .wait_settled(Some(&lineage), server_id, SCHEMA.settling, cx.timeout)
            .await
            .map_err(|e| common::wait_error(addr, target, e))?;
        if settled.status == target {
            tracing::info!("{addr}: {action} was carried out although its answer was not ({error})");
            return Ok(());
        }
        Err(error)
    };
    attempt
        .retry(openstack::backoff())
        .when(again)
        .adjust(|error: &Error, delay| match error {
            Error::Api(e) => openstack::honour_retry_after(e, delay),
            _ => delay,
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_actions_follow_what_nova_allows_from_each_status() {
        assert_eq!(power_actions("ACTIVE", "stopped"), [("os-stop", "SHUTOFF")]);
        assert_eq!(
            power_actions("SHUTOFF", "running"),
            [("os-start", "ACTIVE")]
        );
        assert_eq!(power_actions("ACTIVE", "running"), []);
        assert_eq!(power_actions("PAUSED", "running"), [("unpause", "ACTIVE")]);
        assert_eq!(
            power_actions("SUSPENDED", "stopped"),
            [("resume", "ACTIVE"), ("os-stop", "SHUTOFF")]
        );
        assert_eq!(
            power_actions("SHELVED_OFFLOADED", "running"),
            [("unshelve", "ACTIVE")]
        );
    }
}
