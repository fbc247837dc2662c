//! An instance's `floating_ip = true` shorthand: an address of the provider's external network,
//! tagged as the instance's, associated with its port, released with it or when the flag goes.

use serde_json::json;

use super::super::common;
use super::super::{Context, Error, Result};
use super::port_of;
use crate::addr::Address;
use crate::openstack::network::{self as neutron, FLOATINGIPS, PORTS};
use crate::spec::Attrs;

/// The shorthand's floating IP among `own` (those tagged as the instance's): `floating_ip` is
/// true when one is associated with the instance's port, and its address is shown (with its
/// public address) whenever one exists, so that a release is planned for it even unassociated.
pub(super) fn observe_floating_ip(
    attrs: &mut Attrs,
    port: Option<&neutron::Port>,
    own: &[&neutron::FloatingIp],
    mapping: &std::collections::BTreeMap<String, String>,
) {
    let associated = own
        .iter()
        .find(|f| port.is_some_and(|p| f.port_id.as_deref() == Some(p.id.as_str())));
    attrs.insert("floating_ip".into(), json!(associated.is_some()));
    if let Some(fip) = associated.or(own.first()) {
        attrs.insert(
            "floating_ip_address".into(),
            json!(fip.floating_ip_address),
        );
        if let Some(public) = mapping.get(&fip.floating_ip_address) {
            attrs.insert("public_address".into(), json!(public));
        }
    }
}

/// The floating IPs tagged as `addr`'s: from what the last refresh listed, else looked up.
async fn own_floating_ips(cx: &Context, addr: &Address) -> Result<Vec<neutron::FloatingIp>> {
    let tags = common::ownership_tags(cx, addr);
    let listed = cx.listed(|l| {
        l.floating_ips.as_ref().map(|all| {
            all.iter()
                .filter(|f| common::has_tags(&f.tags, &tags))
                .cloned()
                .collect::<Vec<_>>()
        })
    });
    if let Some(own) = listed {
        return Ok(own);
    }
    let query = neutron::query(&[("tags", &tags.join(","))]);
    let found: Vec<neutron::FloatingIp> =
        cx.cloud.admin().network().list(FLOATINGIPS, &query).await?;
    Ok(found
        .into_iter()
        .filter(|f| common::has_tags(&f.tags, &tags))
        .collect())
}

/// Gives the instance its floating IP: the one it has (associated again if it drifted), else
/// a new one of the provider's external network.
pub(super) async fn ensure_floating_ip(
    cx: &Context,
    addr: &Address,
    project: &str,
    server_id: &str,
) -> Result<()> {
    let api = cx.cloud.admin().network();
    let query = neutron::query(&[("device_id", server_id)]);
    let ports: Vec<neutron::Port> = api.list(PORTS, &query).await?;
    let port = port_of(&common::lineage_tag(cx), addr, Some(server_id), &ports)
        .ok_or_else(|| Error::Failed {
            addr: addr.clone(),
            message: "the instance has no port to give a floating IP".into(),
        })?
        .id
        .clone();
    let own = own_floating_ips(cx, addr).await?;
    match own.first() {
        Some(fip) if fip.port_id.as_deref() == Some(port.as_str()) => Ok(()),
        Some(fip) => common::associate_floating_ip(cx, addr, &fip.id, Some(&port)).await,
        None => {
            let network = common::external_network_id(cx, addr, "").await?;
            let body = json!({ "floating_network_id": network });
            let tags = common::ownership_tags(cx, addr);
            common::allocate_floating_ip(cx, addr, project, body, Some(&port), &tags).await?;
            Ok(())
        }
    }
}

/// Releases the instance's floating IPs (gone already is fine).
pub(super) async fn release_floating_ips(cx: &Context, addr: &Address) -> Result<()> {
    for fip in own_floating_ips(cx, addr).await? {
        common::gone_ok(cx.cloud.admin().network().delete(FLOATINGIPS, &fip.id).await)?;
    }
    Ok(())
}
