//! Imperative instance commands (what is an action, not a desired state): restart, console,
//! console-log.

use std::time::Duration;

use super::{OpsError, Result, RunOptions, Workspace, connect, state, validate};
use crate::addr::{Address, Kind};
use crate::apply::Ids;
use crate::openstack::{ApiError, RemoteConsole};
use crate::resources;
use crate::spec::Desired;

/// The id the state records for `address`, an instance; else an error saying that the spec's
/// instance is not created yet, or listing the known instances, closest first.
pub fn instance_id(ids: &Ids, desired: &Desired, address: &str) -> Result<String> {
    let wanted: Option<Address> = address.parse().ok();
    if let Some(addr) = wanted.filter(|a| a.kind == Kind::Instance) {
        if let Some(id) = ids.get(&addr) {
            return Ok(id.clone());
        }
        if desired.resources.contains_key(&addr) {
            return Err(OpsError::Usage(format!(
                "`{address}` is in the spec but not created yet: run `stackform apply` first"
            )));
        }
    }
    let mut known: Vec<String> = ids
        .keys()
        .filter(|a| a.kind == Kind::Instance)
        .map(Address::to_string)
        .collect();
    known.sort_by_key(|k| (strsim::osa_distance(address, k), k.clone()));
    Err(OpsError::Usage(if known.is_empty() {
        format!("`{address}` is not an instance of the state: it records none")
    } else {
        format!(
            "`{address}` is not an instance of the state; known instances: {}",
            known.join(", ")
        )
    }))
}

/// Reboots the instance at `address` (soft, or hard) and waits until it is ACTIVE again.
/// Returns its id.
pub async fn restart_instance(
    ws: &Workspace,
    options: RunOptions,
    address: &str,
    hard: bool,
) -> Result<String> {
    let desired = validate(ws)?;
    let store = state::open_locked(ws, "instance restart", options.lock_timeout).await?;
    let id = instance_id(&store.ids().await?, &desired, address)?;
    let lineage = store.lineage().await?;
    let connection = connect(ws, &desired, lineage).await?;
    let result = async {
        let cx = &connection.context;
        let compute = cx.cloud.admin().compute();
        compute
            .reboot(&id, hard)
            .await
            .map_err(super::CloudError::Connect)?;
        let timeout = cx.timeout.max(Duration::from_secs(1));
        compute
            .wait_status(None, &id, &["ACTIVE"], timeout)
            .await
            .map_err(|e| {
                let addr: Address = address
                    .parse()
                    .unwrap_or(Address::new(Kind::Instance, address));
                super::CloudError::Refresh(resources::Error::Failed {
                    addr,
                    message: format!("did not come back ACTIVE after the reboot: {e}"),
                })
            })?;
        Ok::<_, OpsError>(id)
    }
    .await;
    connection.close().await;
    result
}

/// A remote console `stackform console` asks Nova for: the protocol and the type it serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsoleKind {
    NoVnc,
    Spice,
    Serial,
}

impl ConsoleKind {
    /// Nova's (protocol, type) for this console.
    pub fn wire(self) -> (&'static str, &'static str) {
        match self {
            ConsoleKind::NoVnc => ("vnc", "novnc"),
            ConsoleKind::Spice => ("spice", "spice-html5"),
            ConsoleKind::Serial => ("serial", "serial"),
        }
    }

    /// As the command line spells it.
    pub fn name(self) -> &'static str {
        match self {
            ConsoleKind::NoVnc => "novnc",
            ConsoleKind::Spice => "spice",
            ConsoleKind::Serial => "serial",
        }
    }
}

/// The URL of a remote console of the instance at `address`. A console type the cloud has
/// not enabled is one usage line with Nova's reason.
pub async fn console_url(
    ws: &Workspace,
    options: RunOptions,
    address: &str,
    kind: ConsoleKind,
) -> Result<RemoteConsole> {
    let (protocol, console_type) = kind.wire();
    with_instance(ws, options, "console", address, async |compute, id| {
        compute
            .remote_console(id, protocol, console_type)
            .await
            .map_err(|e| {
                if e.status() == Some(reqwest::StatusCode::BAD_REQUEST)
                    && e.message().starts_with("Unavailable console type")
                {
                    OpsError::Usage(format!(
                        "{address}: the cloud has not enabled {} consoles (Nova: {})",
                        kind.name(),
                        e.message()
                    ))
                } else {
                    console_error(address, e)
                }
            })
    })
    .await
}

/// What the instance at `address` printed on its console, the last `lines` lines when given.
pub async fn console_log(
    ws: &Workspace,
    options: RunOptions,
    address: &str,
    lines: Option<u32>,
) -> Result<String> {
    with_instance(ws, options, "console-log", address, async |compute, id| {
        compute
            .console_output(id, lines)
            .await
            .map_err(|e| console_error(address, e))
    })
    .await
}

/// Nova's refusal of a console request as one line: a server not placed on a host yet (409)
/// says so; anything else is the call's own error.
fn console_error(address: &str, error: ApiError) -> OpsError {
    if error.is_conflict() {
        OpsError::Usage(format!(
            "{address}: no console yet, the instance is not on a host (Nova: {})",
            error.message()
        ))
    } else {
        OpsError::Cloud(super::CloudError::Connect(error))
    }
}

/// Runs `call` with Nova and the id of the instance at `address`, the state locked for
/// `operation` meanwhile.
async fn with_instance<T>(
    ws: &Workspace,
    options: RunOptions,
    operation: &str,
    address: &str,
    call: impl AsyncFnOnce(crate::openstack::compute::Compute<'_>, &str) -> Result<T>,
) -> Result<T> {
    let desired = validate(ws)?;
    let store = state::open_locked(ws, operation, options.lock_timeout).await?;
    let id = instance_id(&store.ids().await?, &desired, address)?;
    let lineage = store.lineage().await?;
    let connection = connect(ws, &desired, lineage).await?;
    let compute = connection.context.cloud.admin().compute();
    let result = call(compute, &id).await;
    connection.close().await;
    result
}
