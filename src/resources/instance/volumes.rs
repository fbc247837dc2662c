//! An instance's `volumes`: Cinder volumes of the spec attached through Nova
//! (os-volume_attachments), in place: detached ones first, then attached ones, each waited for
//! (`available`, `in-use`). A volume moving from another instance is attached once that
//! instance's update has detached it.

use std::collections::BTreeSet;

use super::super::common::{self, dep_id};
use super::super::volume::while_source_busy;
use super::super::{Context, Ids, Result};
use crate::addr::{Address, Kind};
use crate::openstack::block_storage::{self as cinder, VOLUMES};
use crate::openstack::wait::Poll;
use crate::spec::DesiredResource;

/// The volume ids `res` wants attached, in name order.
pub fn wanted(res: &DesiredResource, ids: &Ids) -> Result<Vec<String>> {
    common::list_attr(res, "volumes")
        .iter()
        .map(|name| Ok(dep_id(ids, Kind::Volume, name)?.to_string()))
        .collect()
}

/// The attached volumes to detach: those this state manages that `want` leaves out. A volume
/// attached outside stackform is the operator's: it stays.
fn to_detach<'a>(want: &[String], have: &'a BTreeSet<String>, ids: &Ids) -> Vec<&'a String> {
    let managed: BTreeSet<&String> = ids
        .iter()
        .filter(|(a, _)| a.kind == Kind::Volume)
        .map(|(_, id)| id)
        .collect();
    have.iter()
        .filter(|v| !want.contains(v) && managed.contains(v))
        .collect()
}

/// Makes the server's attachments of managed volumes `want`, given those it has (`ids`: the
/// state's).
pub async fn converge(
    cx: &Context,
    addr: &Address,
    server: &str,
    want: &[String],
    have: &BTreeSet<String>,
    ids: &Ids,
    project: &str,
) -> Result<()> {
    let compute = cx.cloud.admin().compute();
    for volume in to_detach(want, have, ids) {
        match compute.detach_volume(server, volume).await {
            Err(e) if e.is_not_found() => continue,
            other => other?,
        }
        wait_status(cx, addr, project, volume, "available", "detaching").await?;
    }
    for volume in want.iter().filter(|v| !have.contains(*v)) {
        // Still attached elsewhere (moving between instances) or settling: Nova refuses
        // with 400 until the volume is available.
        while_source_busy(cx, || compute.attach_volume(server, volume)).await?;
        wait_status(cx, addr, project, volume, "in-use", "attaching").await?;
    }
    Ok(())
}

/// Waits for the volume's `target` status, polling the list of the project's volumes that
/// the other waits there share (a volume is attached to servers of its own project).
async fn wait_status(
    cx: &Context,
    addr: &Address,
    project: &str,
    volume: &str,
    target: &str,
    what: &str,
) -> Result<()> {
    let verdict = |found: cinder::Volume| match found.status.as_str() {
        status if status == target => Poll::Ready(()),
        status if status.starts_with("error") => Poll::Failed(format!(
            "volume {volume} went to status {status} while {what}"
        )),
        status => Poll::Pending(status.to_string()),
    };
    cx.cloud
        .admin()
        .block_storage()
        .wait_polled(VOLUMES, project, volume, cx.timeout, verdict)
        .await
        .map_err(|e| common::wait_error(addr, what, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_managed_volumes_left_out_are_detached() {
        let ids: Ids = [
            (Address::new(Kind::Volume, "kept"), "v-kept".to_string()),
            (
                Address::new(Kind::Volume, "dropped"),
                "v-dropped".to_string(),
            ),
        ]
        .into();
        let have: BTreeSet<String> = ["v-kept", "v-dropped", "v-foreign"]
            .map(String::from)
            .into();
        let want = vec!["v-kept".to_string()];
        assert_eq!(to_detach(&want, &have, &ids), [&"v-dropped".to_string()]);
    }
}
