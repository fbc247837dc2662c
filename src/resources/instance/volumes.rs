//! An instance's `volumes`: Cinder volumes of the spec attached through Nova
//! (os-volume_attachments), in place: detached ones first, then attached ones in the order the
//! spec lists them (Nova gives the next device name to each: the order is the device order),
//! each waited for (`available`, `in-use`).
//!
//! The order is not compared once the volumes are attached: the attribute holds the names as
//! a set, so listing the same volumes in another order plans nothing. Re-ordering live disks
//! would mean detaching and re-attaching them, unplugging disks an operator's server is using,
//! for device names the guest may not even follow (udev names by serial are the stable ones).
//!
//! A volume moving from another instance of the spec is attached once that instance's update
//! has detached it: the graph orders the two updates ([`moves`]). Two instances trading
//! volumes (a swap) cannot be ordered either way: whichever update runs first detaches the
//! volume it takes from the other instance's server ([`release`]), so neither waits for the
//! other, whatever the apply's parallelism.

use std::collections::BTreeSet;

use super::super::common::{self, dep_id};
use super::super::schema::{Implied, View, referenced_names};
use super::super::{Context, Error, Ids, Result};
use crate::addr::{Address, Kind};
use crate::openstack::block_storage::{self as cinder, VOLUMES};
use crate::openstack::wait::{Poll, WaitError};
use crate::diag::{Diagnostic, Diagnostics, Span};
use crate::resources::Observed;
use crate::resources::storage_quota::DEFAULT_VOLUME_TYPE;
use crate::spec::{Attrs, Desired, DesiredResource};
use serde_json::Value;

/// The volume ids `res` wants attached, in the order the spec lists them (the attribute
/// holds them sorted; the references keep the written order).
pub fn wanted(res: &DesiredResource, ids: &Ids) -> Result<Vec<String>> {
    listed(res)
        .map(|name| Ok(dep_id(ids, Kind::Volume, name)?.to_string()))
        .collect()
}

/// The names of the volumes `res` lists, in the written order.
fn listed(res: &DesiredResource) -> impl Iterator<Item = &str> {
    res.refs
        .iter()
        .filter(|r| r.field == "volumes" && r.target.kind == Kind::Volume)
        .map(|r| r.target.name.as_str())
}

/// The instances of the spec `instance` takes a volume from: each holds, in the cloud, a
/// volume `instance` lists and that it no longer lists itself. Its update detaches the volume,
/// so the graph puts it before `instance` (Nova refuses to attach a volume still attached
/// elsewhere). A giver that also takes from `instance`, directly or through others, is left
/// out: a swap has no order, and both updates run side by side.
pub fn moves(instance: &Address, view: &View<'_>, nodes: &BTreeSet<Address>) -> Vec<Implied> {
    givers(instance, view)
        .into_iter()
        .filter(|(giver, _)| nodes.contains(giver) && !takes_from(giver, instance, view))
        .map(|(giver, volume)| Implied {
            dependency: giver,
            attr: "volumes",
            via: volume,
            relation: "the instance detaching",
        })
        .collect()
}

fn volume_names(attrs: Option<&Attrs>) -> BTreeSet<&str> {
    referenced_names(attrs.and_then(|a| a.get("volumes")), Kind::Volume)
        .into_iter()
        .collect()
}

/// (giver, volume) for each volume `taker` lists that another instance the spec keeps holds
/// in the cloud and no longer lists.
fn givers(taker: &Address, view: &View<'_>) -> Vec<(Address, Address)> {
    let held = volume_names(view.seen(taker));
    let wanted = volume_names(view.wanted(taker));
    let taken: Vec<&str> = wanted.difference(&held).copied().collect();
    if taken.is_empty() {
        return Vec::new();
    }
    let mut found = Vec::new();
    for other in view.seen_of_kind(Kind::Instance).filter(|a| *a != taker) {
        // An instance leaving the spec is deleted, and deletes run before every update.
        let Some(kept) = view.wanted(other) else {
            continue;
        };
        let (held, kept) = (volume_names(view.seen(other)), volume_names(Some(kept)));
        for volume in taken.iter().filter(|v| held.contains(*v) && !kept.contains(*v)) {
            found.push((other.clone(), Address::new(Kind::Volume, *volume)));
        }
    }
    found
}

/// Whether `taker` takes a volume from `from`, directly or through other instances.
fn takes_from(taker: &Address, from: &Address, view: &View<'_>) -> bool {
    let mut seen = BTreeSet::from([taker.clone()]);
    let mut next = vec![taker.clone()];
    while let Some(current) = next.pop() {
        for (giver, _) in givers(&current, view) {
            if giver == *from {
                return true;
            }
            if seen.insert(giver.clone()) {
                next.push(giver);
            }
        }
    }
    false
}

/// A volume listed in the `volumes` of several instances must be of a multiattach type (Cinder
/// extra spec `multiattach="<is> True"`): Nova refuses to attach any other volume to a second
/// server (400 "... status must be available"), after the first attach was made. Reported at
/// each listing after the first in the folder, with the first noted.
pub fn shared_check(
    instance: &DesiredResource,
    desired: &Desired,
    observed: &Observed,
    out: &mut Diagnostics,
) {
    let place = |span: &Span| (span.file.clone(), span.range.start);
    for listing in instance.refs.iter().filter(|r| r.field == "volumes") {
        let volume = &listing.target;
        let kind = desired.get(volume).and_then(|v| v.attrs.get("type"));
        let seen = observed.resources.get(volume).and_then(|v| v.attrs.get("type"));
        let volume_type = kind
            .and_then(Value::as_str)
            .or_else(|| seen.and_then(Value::as_str))
            .unwrap_or(DEFAULT_VOLUME_TYPE);
        if observed.multiattach_volume_types.contains(volume_type) {
            continue;
        }
        let first = desired
            .of_kind(Kind::Instance)
            .flat_map(|other| {
                other
                    .refs
                    .iter()
                    .filter(|r| r.field == "volumes" && r.target == *volume)
                    .map(move |r| (&other.addr, &r.span))
            })
            .min_by_key(|(_, span)| place(span));
        let Some((first, first_span)) = first.filter(|(addr, _)| **addr != instance.addr) else {
            continue;
        };
        let types = &observed.multiattach_volume_types;
        let help = if types.is_empty() {
            format!(
                "list {volume} in one instance's `volumes` only: the cloud has no multiattach \
                 volume type (an admin makes one with `openstack volume type create --property \
                 multiattach=\"<is> True\" NAME`)"
            )
        } else {
            let names: Vec<&str> = types.iter().map(String::as_str).collect();
            format!(
                "give {volume} a multiattach type (type = \"{}\"; the cloud's: {}), or list it \
                 in one instance's `volumes` only",
                names[0],
                names.join(", ")
            )
        };
        out.push(
            Diagnostic::error(format!(
                "{volume} is listed in the volumes of {first} and {}, but its type \
                 `{volume_type}` is not multiattach: Cinder attaches it to one server only",
                instance.addr
            ))
            .at(listing.span.clone())
            .note(format!("{first} lists it here"), first_span.clone())
            .help(help),
        );
    }
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
/// state's): detaches first, then attaches in the listed order.
pub async fn converge(
    cx: &Context,
    addr: &Address,
    server: &str,
    want: &[String],
    have: &BTreeSet<String>,
    ids: &Ids,
    project: &str,
) -> Result<()> {
    for volume in to_detach(want, have, ids) {
        detach(cx, addr, project, server, volume).await?;
    }
    for volume in want.iter().filter(|v| !have.contains(*v)) {
        release(cx, addr, project, server, volume, ids).await?;
        attach_when_settled(cx, server, volume).await?;
        wait_status(cx, addr, project, volume, "in-use", "attaching").await?;
    }
    Ok(())
}

/// Attaches `volume`, sending the attach again while Nova refuses it because the volume is
/// settling: a detach just made, or a multiattach volume another server is attaching at the
/// same moment. A volume in error or attached elsewhere is not waited for.
async fn attach_when_settled(cx: &Context, server: &str, volume: &str) -> Result<()> {
    let compute = cx.cloud.admin().compute();
    let started = tokio::time::Instant::now();
    loop {
        match compute.attach_volume(server, volume).await {
            Err(e)
                if e.status() == Some(reqwest::StatusCode::BAD_REQUEST)
                    && is_settling(e.message())
                    && started.elapsed() < cx.timeout =>
            {
                tracing::debug!("volume {volume} settling, attaching again: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
            other => return Ok(other?),
        }
    }
}

/// Whether Nova's refusal of an attach ends by itself. Real Nova wraps Cinder's words: "Invalid
/// input received: Invalid volume: Volume ... status must be available or in-use or downloading
/// to reserve, but the current status is reserved." Cinder reserves with a conditional update
/// and reads the status again only to word the error, so a reserve that lost a race against
/// another server's reserve names a status the reserve accepts: that settles too.
fn is_settling(message: &str) -> bool {
    const PASSING: [&str; 4] = ["reserved", "attaching", "detaching", "creating"];
    let Some(rest) = message.split("status must be ").nth(1) else {
        return false;
    };
    let Some((accepted, current)) = rest.split_once(" to reserve, but the current status is ")
    else {
        return false;
    };
    let current = current
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .next()
        .unwrap_or_default();
    message.contains("Invalid volume")
        && (PASSING.contains(&current) || accepted.split(" or ").any(|s| s == current))
}

/// Detaches `volume` from `server` and waits until the server no longer holds it. Gone
/// already, or already detaching (another instance's update taking it: Nova answers 400
/// "Invalid volume: Unable to detach volume ..."), is fine: the wait covers both.
async fn detach(
    cx: &Context,
    addr: &Address,
    project: &str,
    server: &str,
    volume: &str,
) -> Result<()> {
    match cx.cloud.admin().compute().detach_volume(server, volume).await {
        Err(e) if e.is_not_found() => {}
        Err(e)
            if e.status() == Some(reqwest::StatusCode::BAD_REQUEST)
                && e.message().starts_with("Invalid volume") => {}
        other => other?,
    }
    wait_detached(cx, addr, project, volume, server).await
}

/// Frees a volume `server` is to attach from the other servers holding it, unless it is
/// multiattach. The spec gives a volume that is not multiattach to one instance only (refused
/// in plan otherwise), so another instance of this state holding it is giving it up in this
/// apply: usually its update ran first (the graph orders moves) and this finds it free; in a
/// swap, where no order exists, whichever update comes first detaches both sides, whatever
/// the apply's parallelism. A server this state does not manage is the operator's: its disk
/// is not taken, the attach fails with why.
async fn release(
    cx: &Context,
    addr: &Address,
    project: &str,
    server: &str,
    volume: &str,
    ids: &Ids,
) -> Result<()> {
    let found: cinder::Volume = cx.cloud.admin().block_storage().get(VOLUMES, volume).await?;
    if found.multiattach {
        return Ok(());
    }
    let holders: BTreeSet<&str> = found
        .attachments
        .iter()
        .filter_map(|a| a.server_id.as_deref())
        .filter(|holder| *holder != server)
        .collect();
    for holder in holders {
        let managed = ids
            .iter()
            .find(|(a, id)| a.kind == Kind::Instance && id.as_str() == holder);
        if managed.is_none() {
            return Err(Error::Failed {
                addr: addr.clone(),
                message: format!(
                    "volume {volume} is attached to server {holder}, which this state does not \
                     manage: detach it there first (openstack server remove volume {holder} \
                     {volume})"
                ),
            });
        }
        detach(cx, addr, project, holder, volume).await?;
    }
    Ok(())
}

/// Waits until `server` no longer holds `volume` and the detach is over. Not "until
/// available": another instance may attach it as soon as it is free.
/// Polls the list of the project's volumes the other waits there share, not one GET each.
async fn wait_detached(
    cx: &Context,
    addr: &Address,
    project: &str,
    volume: &str,
    server: &str,
) -> Result<()> {
    let verdict = |found: cinder::Volume| {
        let held = found
            .attachments
            .iter()
            .any(|a| a.server_id.as_deref() == Some(server));
        match found.status.as_str() {
            status if status.starts_with("error") => Poll::Failed(format!(
                "volume {volume} went to status {status} while detaching"
            )),
            "detaching" => Poll::Pending("detaching".to_string()),
            _ if held => Poll::Pending(found.status.clone()),
            _ => Poll::Ready(()),
        }
    };
    let waited = cx
        .cloud
        .admin()
        .block_storage()
        .wait_polled(VOLUMES, project, volume, cx.timeout, verdict)
        .await;
    match waited {
        // A volume deleted meanwhile is detached from everything.
        Err(WaitError::Api(e)) if e.is_not_found() => Ok(()),
        other => other.map_err(|e| common::wait_error(addr, "detaching", e)),
    }
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

    /// Real Cinder reserves with a conditional update and names the status it reads after the
    /// update lost: two servers attaching one multiattach volume at once get "current status
    /// is available" (seen in CI on real services).
    #[test]
    fn a_lost_reserve_race_is_settling_but_an_errored_volume_is_not() {
        let lost = "Invalid input received: Invalid volume: Volume 1a0e status must be available \
                    or in-use or downloading to reserve, but the current status is available. \
                    (HTTP 400)";
        assert!(is_settling(lost));
        assert!(is_settling(&lost.replace("is available", "is in-use")));
        assert!(is_settling(&lost.replace("is available", "is reserved")));
        assert!(!is_settling(&lost.replace("is available", "is error")));
        assert!(!is_settling("Invalid volume: volume is attached to another server"));
        let taken = "Invalid volume: Volume 1a0e status must be available or downloading to \
                     reserve, but the current status is in-use.";
        assert!(!is_settling(taken));
    }
}
