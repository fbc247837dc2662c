//! Routers (Neutron): external gateway and one interface per subnet, converged by comparing
//! the router's live interface ports with the desired subnets.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::common::{self, Names, dep_id, gone_ok, name_of, neutron_create_tagged, tenant_session};
use super::schema::{Api, Attr, AttrType, KindSchema, Ref};
use super::{Context, Error, Ids, KindOps, Listed, ObservedResource, Result, Scope};
use crate::addr::{Address, Kind};
use crate::openstack::network::{self as neutron, NETWORKS, PORTS, ROUTERS};
use crate::spec::{Attrs, DesiredResource};

pub struct Router;

/// `subnets` are the router's interfaces: added and removed in place.
const SCHEMA: KindSchema = KindSchema::new(
    "router",
    "a Neutron router: external gateway and one interface per subnet",
    Api::neutron("/v2.0/routers"),
    &[
        Attr::new("name", AttrType::Name { max: super::schema::NAME_MAX }),
        Attr::new("description", AttrType::Text { default: "" }),
        Attr::new("tenant", AttrType::Reference(Ref::to(Kind::Tenant))).forces_replacement(),
        Attr::new("admin_state_up", AttrType::Bool { default: true }),
        Attr::new("external_gateway", AttrType::Bool { default: false }).own_calls(),
        Attr::new(
            "subnets",
            AttrType::ReferenceSet {
                to: Ref::to(Kind::Subnet)
                    .same_tenant(
                        "attach",
                        "a router attaches subnets of its own tenant only: attach a subnet of",
                    )
                    .link("interface"),
                default_empty: true,
            },
        )
        .own_calls(),
    ],
)
.parent("tenant")
.statuses(&["ACTIVE"], &["ERROR"])
.quota_usage(|_, _| vec![("routers", 1)]);

/// Normalized attributes. `interface_subnets` are the subnet ids of the
/// router's interface ports.
pub fn observe(router: &neutron::Router, interface_subnets: &[String], names: &Names) -> Attrs {
    let mut attrs = Attrs::new();
    attrs.insert("name".into(), json!(router.name));
    attrs.insert(
        "description".into(),
        json!(router.description.clone().unwrap_or_default()),
    );
    attrs.insert(
        "tenant".into(),
        json!(names.name(Kind::Tenant, &router.project_id)),
    );
    attrs.insert(
        "admin_state_up".into(),
        json!(router.admin_state_up.unwrap_or(true)),
    );
    attrs.insert("external_gateway".into(), json!(router.has_gateway()));
    let subnets = interface_subnets
        .iter()
        .map(|id| names.name(Kind::Subnet, id))
        .collect();
    attrs.insert("subnets".into(), common::sorted_names(subnets));
    attrs
}

/// The subnet ids a router has interfaces on, from its ports.
pub fn interface_subnets<'a>(
    router_id: &str,
    ports: impl IntoIterator<Item = &'a neutron::Port>,
) -> Vec<String> {
    let mut subnets: Vec<String> = ports
        .into_iter()
        .filter(|p| p.device_id == router_id && p.is_router_interface())
        .flat_map(|p| p.fixed_ips.iter().map(|ip| ip.subnet_id.clone()))
        .collect();
    subnets.sort();
    subnets.dedup();
    subnets
}

/// The external network's id, from `cx.external_network` (a name or an id).
async fn external_network_id(cx: &Context, addr: &Address) -> Result<String> {
    let wanted = cx
        .external_network
        .as_deref()
        .ok_or_else(|| Error::Failed {
            addr: addr.clone(),
            message:
                "external_gateway = true needs an external network: set `external_network` in \
                  the [provider] table"
                    .into(),
        })?;
    let query = neutron::query(&[("router:external", "true")]);
    let externals: Vec<neutron::Network> =
        cx.cloud.admin().network().list(NETWORKS, &query).await?;
    let externals: Vec<_> = externals
        .into_iter()
        .filter(|n| n.external != Some(false))
        .collect();
    if let Some(by_id) = externals.iter().find(|n| n.id == wanted) {
        return Ok(by_id.id.clone());
    }
    let by_name: Vec<_> = externals.iter().filter(|n| n.name == wanted).collect();
    match by_name.as_slice() {
        [one] => Ok(one.id.clone()),
        [] => Err(Error::Failed {
            addr: addr.clone(),
            message: format!(
                "external network `{wanted}` not found (external networks: {})",
                externals
                    .iter()
                    .map(|n| n.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
        _ => Err(Error::Failed {
            addr: addr.clone(),
            message: format!("several external networks are named `{wanted}`: give its id"),
        }),
    }
}

/// What `res` asks of the router's links, with ids resolved.
struct Links {
    /// None: unmanaged. Some(true) with `external` resolved when it had to be.
    gateway: Option<bool>,
    external: Option<String>,
    /// Subnet ids; None when `subnets` is unmanaged.
    subnets: Option<BTreeSet<String>>,
}

/// Resolves the subnet ids (which must exist) and, when `resolve_external`, the external
/// network: done before a create so a missing piece fails before anything is made.
async fn links(
    cx: &Context,
    res: &DesiredResource,
    ids: &Ids,
    resolve_external: bool,
) -> Result<Links> {
    let gateway = res.attrs.get("external_gateway").and_then(Value::as_bool);
    let subnets = match res.attrs.contains_key("subnets") {
        false => None,
        true => Some(
            common::list_attr(res, "subnets")
                .iter()
                .map(|name| dep_id(ids, Kind::Subnet, name).map(str::to_string))
                .collect::<Result<_>>()?,
        ),
    };
    let external = match (gateway, resolve_external) {
        (Some(true), true) => Some(external_network_id(cx, &res.addr).await?),
        _ => None,
    };
    Ok(Links {
        gateway,
        external,
        subnets,
    })
}

/// Brings gateway and interfaces to `links`, from the router's live state.
async fn converge(cx: &Context, addr: &Address, router_id: &str, links: &Links) -> Result<()> {
    let api = cx.cloud.admin().network();
    let router: neutron::Router = api.get(ROUTERS, router_id).await?;
    if links.subnets.is_none() {
        return converge_gateway(cx, addr, &router, links).await;
    }
    let query = neutron::query(&[("device_id", router_id)]);
    let ports: Vec<neutron::Port> = api.list(PORTS, &query).await?;
    let live: BTreeSet<String> = interface_subnets(router_id, &ports).into_iter().collect();
    converge_gateway(cx, addr, &router, links).await?;
    converge_interfaces(cx, addr, router_id, &live, links).await
}

async fn converge_gateway(
    cx: &Context,
    addr: &Address,
    router: &neutron::Router,
    links: &Links,
) -> Result<()> {
    let Some(want) = links.gateway.filter(|want| *want != router.has_gateway()) else {
        return Ok(());
    };
    let network = match (want, &links.external) {
        (false, _) => None,
        (true, Some(id)) => Some(id.clone()),
        (true, None) => Some(external_network_id(cx, addr).await?),
    };
    let _ = cx
        .cloud
        .admin()
        .network()
        .set_router_gateway(&router.id, network.as_deref())
        .await?;
    Ok(())
}

/// Removes the interfaces `live` has beyond `links`, adds those it lacks.
async fn converge_interfaces(
    cx: &Context,
    addr: &Address,
    router_id: &str,
    live: &BTreeSet<String>,
    links: &Links,
) -> Result<()> {
    let Some(desired) = &links.subnets else {
        return Ok(());
    };
    let api = cx.cloud.admin().network();
    for subnet in live.difference(desired) {
        gone_ok(api.remove_router_interface(router_id, subnet).await)?;
    }
    for subnet in desired.difference(live) {
        if let Err(error) = api.add_router_interface(router_id, subnet).await {
            // The client repeats this PUT after a lost reply, and real Neutron answers the
            // repeat with 400 "Router already has a port on subnet": the first one worked.
            // So whatever failed, the router's ports say whether the interface is there.
            let query = neutron::query(&[("device_id", router_id)]);
            let ports: Vec<neutron::Port> = api.list(PORTS, &query).await?;
            if !interface_subnets(router_id, &ports).contains(subnet) {
                return Err(error.into());
            }
            tracing::info!("{addr}: the interface on subnet {subnet} is there ({error})");
        }
    }
    Ok(())
}

impl KindOps for Router {
    const SCHEMA: KindSchema = SCHEMA;

    async fn list(cx: &Context, scope: Scope<'_>) -> Result<Vec<Listed>> {
        common::list_neutron(
            cx,
            ROUTERS,
            scope,
            |r: &neutron::Router| Some(&r.status),
            |r, _, o| observe(r, &interface_subnets(&r.id, &o.ports), &o.names),
        )
        .await
    }

    async fn create(cx: &Context, res: &DesiredResource, ids: &Ids) -> Result<String> {
        let (session, links) = tokio::try_join!(
            tenant_session(cx, res, ids),
            links(cx, res, ids, true)
        )?;
        let mut body = json!({
            "name": name_of(res),
            "description": res.attrs.get("description").and_then(Value::as_str).unwrap_or(""),
            "admin_state_up": common::bool_attr(res, "admin_state_up", true),
        });
        // The gateway in the create body (the router owner's right in Neutron's policy) saves
        // a GET and a PUT on the way to every server behind this router.
        if let Some(network) = &links.external {
            body["external_gateway_info"] = json!({ "network_id": network });
        }
        let tags = common::ownership_tags(cx, &res.addr);
        let router: neutron::Router =
            neutron_create_tagged(&session, ROUTERS, &res.addr, body, &tags).await?;
        converge_gateway(cx, &res.addr, &router, &links).await?;
        // A router just made has no interface yet (one adopted after a lost reply neither:
        // its interfaces are added by this same step).
        converge_interfaces(cx, &res.addr, &router.id, &BTreeSet::new(), &links).await?;
        Ok(router.id)
    }

    async fn update(
        cx: &Context,
        res: &DesiredResource,
        current: &ObservedResource,
        ids: &Ids,
    ) -> Result<()> {
        let changes = common::body_changes(&SCHEMA, res, current);
        if !changes.is_empty() {
            let _: neutron::Router = cx
                .cloud
                .admin()
                .network()
                .update(ROUTERS, &current.id, Value::Object(changes))
                .await?;
        }
        let links = links(cx, res, ids, false).await?;
        converge(cx, &res.addr, &current.id, &links).await
    }

    async fn delete(cx: &Context, current: &ObservedResource, ids: &Ids) -> Result<()> {
        let api = cx.cloud.admin().network();
        // The interfaces refresh saw are removed, then the router (Neutron removes its
        // gateway with it); only if Neutron still finds ports (added since) are they looked up.
        let seen: Vec<&str> = current
            .attrs
            .get("subnets")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter_map(|name| dep_id(ids, Kind::Subnet, name).ok())
            .collect();
        for subnet in seen {
            gone_ok(api.remove_router_interface(&current.id, subnet).await)?;
        }
        match api.delete(ROUTERS, &current.id).await {
            Err(e) if e.is_conflict() => {}
            other => return gone_ok(other),
        }
        let query = neutron::query(&[("device_id", &current.id)]);
        let ports: Vec<neutron::Port> = api.list(PORTS, &query).await?;
        for subnet in interface_subnets(&current.id, &ports) {
            gone_ok(api.remove_router_interface(&current.id, &subnet).await)?;
        }
        gone_ok(api.delete(ROUTERS, &current.id).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openstack::network::FixedIp;

    fn port(device: &str, owner: &str, subnet: &str) -> neutron::Port {
        neutron::Port {
            device_id: device.into(),
            device_owner: owner.into(),
            fixed_ips: vec![FixedIp {
                subnet_id: subnet.into(),
                ip_address: None,
            }],
            ..neutron::Port::default()
        }
    }

    #[test]
    fn observes_interfaces_and_gateway() {
        let mut names = Names::default();
        names.insert(Kind::Tenant, "p1", "demo");
        names.insert(Kind::Subnet, "s-b", "b");
        names.insert(Kind::Subnet, "s-a", "a");
        let ports = [
            port("r1", "network:router_interface", "s-b"),
            port("r1", "network:router_interface", "s-a"),
            port("r1", "network:router_interface", "s-foreign"),
            port("r1", "network:router_gateway", "s-ext"),
            port("vm", "compute:nova", "s-a"),
        ];
        let router = neutron::Router {
            id: "r1".into(),
            name: "edge".into(),
            project_id: "p1".into(),
            admin_state_up: Some(true),
            external_gateway_info: Some(json!({"network_id": "ext"})),
            ..neutron::Router::default()
        };
        let expected: Attrs = [
            ("name".to_string(), json!("edge")),
            ("description".to_string(), json!("")),
            ("tenant".to_string(), json!("demo")),
            ("admin_state_up".to_string(), json!(true)),
            ("external_gateway".to_string(), json!(true)),
            ("subnets".to_string(), json!(["a", "b", "s-foreign"])),
        ]
        .into();
        assert_eq!(
            observe(&router, &interface_subnets("r1", &ports), &names),
            expected
        );
    }
}
