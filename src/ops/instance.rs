//! Imperative instance commands (what is an action, not a desired state): restart.

use std::time::Duration;

use super::{OpsError, Result, RunOptions, Workspace, connect, state, validate};
use crate::addr::{Address, Kind};
use crate::apply::Ids;
use crate::resources;

/// The id the state records for `address`, an instance; else an error listing the known
/// instances, closest first.
pub fn instance_id(ids: &Ids, address: &str) -> Result<String> {
    let wanted: Option<Address> = address.parse().ok();
    if let Some(addr) = wanted.filter(|a| a.kind == Kind::Instance)
        && let Some(id) = ids.get(&addr)
    {
        return Ok(id.clone());
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
    let id = instance_id(&store.ids().await?, address)?;
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
