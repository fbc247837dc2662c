//! Resizing an instance in place: Nova's `resize` (RESIZE, then VERIFY_RESIZE on the new
//! flavor), `confirmResize` when the server is on the flavor asked for, `revertResize` when it
//! is not; a resize that fails is reported in one line, with the flavor the server is left on.
//! The server keeps its id, its ports and its volumes; a stopped server stays stopped.

use serde_json::Value;

use super::refs::{forget_catalog, refused_ref};
use super::{SCHEMA, flavor_id};
use crate::addr::Address;
use crate::openstack::compute::Server;
use crate::resources::common;
use crate::resources::{Context, Error, ObservedResource, Result};
use crate::spec::DesiredResource;

/// Resizes the server from flavor `from` to `to` and confirms it.
pub(super) async fn resize(
    cx: &Context,
    addr: &Address,
    server_id: &str,
    from: &str,
    to: &str,
) -> Result<()> {
    let failed = |why: String| Error::Failed {
        addr: addr.clone(),
        message: format!("resize {from} → {to} failed: {why}"),
    };
    let compute = cx.cloud.admin().compute();
    let flavor = flavor_id(cx, addr, to).await?;
    let mut sent = compute.resize_server(server_id, &flavor).await;
    if let Err(error) = &sent
        && refused_ref(error)
    {
        // The catalog's id of `to` is gone (deleted, or made again, since the pull).
        tracing::info!("{addr}: Nova refused the catalog's flavor {to} ({error}): looking it up");
        forget_catalog(cx);
        let flavor = flavor_id(cx, addr, to).await?;
        sent = compute.resize_server(server_id, &flavor).await;
    }
    if let Err(error) = sent {
        // After a lost answer the server's status says whether Nova took the resize.
        if !error.is_unknown_outcome() {
            return Err(failed(error.to_string()));
        }
    }
    let server = settled(cx, addr, server_id)
        .await
        .map_err(|e| failed(one_line(&e)))?;
    let now = flavor_name(&server);
    match server.status.as_str() {
        "VERIFY_RESIZE" if now == to => match confirm(cx, addr, server_id).await {
            Ok(()) => Ok(()),
            Err(error) => {
                let why = one_line(&error);
                let back = revert(cx, addr, server_id).await;
                Err(failed(match back {
                    Ok(server) => format!(
                        "confirmResize was refused ({why}): reverted, on {}",
                        flavor_name(&server)
                    ),
                    Err(e) => format!(
                        "confirmResize was refused ({why}), and so was revertResize ({})",
                        one_line(&e)
                    ),
                }))
            }
        },
        "VERIFY_RESIZE" => {
            let back = revert(cx, addr, server_id).await.map_err(|e| {
                failed(format!(
                    "Nova resized it to {now}, and revertResize failed ({})",
                    one_line(&e)
                ))
            })?;
            Err(failed(format!(
                "Nova resized it to {now}: reverted, on {}",
                flavor_name(&back)
            )))
        }
        // Nova's conductor puts a server no host takes back as it was, with no fault on it:
        // only its instance action records the error.
        _ => Err(failed(format!(
            "Nova left the server {} on {now} (its instance actions say why)",
            server.status
        ))),
    }
}

/// A server found in VERIFY_RESIZE (an apply killed between resize and confirm, or a resize
/// made by hand): confirmed when it is on the flavor the spec wants, otherwise reverted. The
/// server as it ends.
pub(super) async fn settle_unconfirmed(
    cx: &Context,
    addr: &Address,
    server: &Server,
    want: Option<&str>,
) -> Result<Server> {
    let now = flavor_name(server);
    if want.is_none_or(|want| want == now) {
        confirm(cx, addr, &server.id).await?;
        cx.cloud.admin().compute().get_server(&server.id).await.map_err(Error::from)
    } else {
        revert(cx, addr, &server.id).await
    }
}

/// The flavor's name as the server shows it (2.47+), else its id.
pub(super) fn flavor_name(server: &Server) -> String {
    server
        .flavor
        .original_name
        .clone()
        .or_else(|| server.flavor.id.clone())
        .unwrap_or_default()
}

/// confirmResize, then the wait for ACTIVE or SHUTOFF: Nova shows VERIFY_RESIZE with no task
/// until the source host is cleaned up.
async fn confirm(cx: &Context, addr: &Address, server_id: &str) -> Result<()> {
    let compute = cx.cloud.admin().compute();
    compute.action(server_id, "confirmResize").await?;
    let lineage = common::lineage_tag(cx);
    compute
        .wait_status(Some(&lineage), server_id, SCHEMA.ready, cx.timeout)
        .await
        .map_err(|e| common::wait_error(addr, "the end of the resize", e))?;
    Ok(())
}

/// revertResize, then the wait for the server back on its old flavor.
async fn revert(cx: &Context, addr: &Address, server_id: &str) -> Result<Server> {
    let compute = cx.cloud.admin().compute();
    compute.action(server_id, "revertResize").await?;
    let lineage = common::lineage_tag(cx);
    compute
        .wait_status(Some(&lineage), server_id, SCHEMA.ready, cx.timeout)
        .await
        .map_err(|e| common::wait_error(addr, "the end of the revert", e))
}

/// The server once its resize work has ended (RESIZE, REVERT_RESIZE waited out).
async fn settled(cx: &Context, addr: &Address, server_id: &str) -> Result<Server> {
    let lineage = common::lineage_tag(cx);
    cx.cloud
        .admin()
        .compute()
        .wait_settled(Some(&lineage), server_id, SCHEMA.settling, cx.timeout)
        .await
        .map_err(|e| common::wait_error(addr, "the end of the resize", e))
}

/// An error's message on one line, without the address the report already starts with.
fn one_line(error: &Error) -> String {
    let text = match error {
        Error::Failed { message, .. } => message.clone(),
        other => other.to_string(),
    };
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The update's flavor step: a server left in VERIFY_RESIZE is settled first, then resized
/// when its flavor is not the spec's. The server's status after it (None: unchanged).
pub(super) async fn converge_flavor(
    cx: &Context,
    res: &DesiredResource,
    current: &ObservedResource,
    status: Option<&str>,
) -> Result<Option<String>> {
    let addr = &res.addr;
    let want = res.attrs.get("flavor").and_then(Value::as_str);
    let mut now = current
        .attrs
        .get("flavor")
        .and_then(Value::as_str)
        .map(str::to_string);
    let mut settled = None;
    if status == Some("VERIFY_RESIZE") {
        let server = cx.cloud.admin().compute().get_server(&current.id).await?;
        let server = settle_unconfirmed(cx, addr, &server, want).await?;
        now = Some(flavor_name(&server));
        settled = Some(server.status);
    }
    if let (Some(want), Some(from)) = (want, now.as_deref())
        && want != from
    {
        resize(cx, addr, &current.id, from, want).await?;
        // A resize keeps the power state: ACTIVE stays ACTIVE, SHUTOFF stays SHUTOFF.
    }
    Ok(settled)
}
