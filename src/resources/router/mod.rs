//! Routers (Neutron): external gateway and interfaces, converged by comparing the router's
//! live interface ports with the desired subnets (Neutron makes the port, on the subnet's
//! gateway address) and the desired ports of the spec (the port becomes the interface).
//!
//! An interface that is a port of the spec is told from one made for a subnet by the port's
//! ownership tag. Removing it deletes the port (Neutron's rule): the plan replaces a port the
//! spec keeps, and the port's own delete removes the interface first.

use std::collections::BTreeSet;

use ipnet::IpNet;

use serde_json::{Value, json};

use super::common::{self, Names, dep_id, gone_ok, name_of, neutron_create_tagged, tenant_session};
use super::schema::{Api, Attr, AttrType, KindSchema, Ref, View};
use super::{Context, Error, Ids, KindOps, Listed, ObservedResource, Result, Scope};
use crate::addr::{Address, Kind};
use crate::openstack::network::{self as neutron, PORTS, ROUTERS};
use crate::spec::{Attrs, DesiredResource};

mod checks;

pub struct Router;

/// `subnets` and `ports` are the router's interfaces: added and removed in place.
const SCHEMA: KindSchema = KindSchema {
    plan_check: Some(checks::check_gateway_and_routes),
    spec_check: Some(checks::check_interface_ports),
    ..KindSchema::new(
    "router",
    "a Neutron router: external gateway, interfaces by subnet or by port",
    Api::neutron("/v2.0/routers"),
    &[
        Attr::new("name", AttrType::Name { max: super::schema::NAME_MAX }),
        Attr::new("description", AttrType::Text { default: "" }),
        Attr::new("tenant", AttrType::Reference(Ref::to(Kind::Tenant))).forces_replacement(),
        Attr::new("admin_state_up", AttrType::Bool { default: true }),
        Attr::new("external_gateway", AttrType::Bool { default: false }).own_calls(),
        // The gateway's address translation and addresses are the admin's by Neutron's
        // default policy: stackform sets them with its admin session, after the create.
        Attr::new("enable_snat", AttrType::OptionalBool).own_calls(),
        Attr::new(
            "external_fixed_ips",
            AttrType::IpAddresses {
                default_empty: false,
            },
        )
        .own_calls(),
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
        // Ports of the spec (with a fixed IP) made interfaces: a second router on a subnet
        // whose gateway address the first one holds. Neutron deletes such a port when the
        // interface is removed.
        Attr::new(
            "ports",
            AttrType::ReferenceSet {
                to: Ref::to(Kind::Port)
                    .link("interface")
                    .detach_deletes("Neutron deletes a port removed from a router's interfaces"),
                default_empty: true,
            },
        )
        .own_calls(),
        Attr::new("routes", AttrType::Routes).own_calls(),
    ],
)
    .parent("tenant")
    .statuses(&["ACTIVE"], &["ERROR"])
    .quota_usage(|_, _| vec![("router_count", 1)])
};

/// Normalized attributes, from the router's `interfaces` ([`interfaces`]).
pub fn observe(router: &neutron::Router, interfaces: &Interfaces, names: &Names) -> Attrs {
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
    if let Some(snat) = router.enable_snat() {
        attrs.insert("enable_snat".into(), json!(snat));
    }
    attrs.insert("external_fixed_ips".into(), json!(router.external_ips()));
    attrs.insert("routes".into(), observed_routes(&router.routes));
    let subnets = interfaces
        .subnets
        .iter()
        .map(|id| names.name(Kind::Subnet, id))
        .collect();
    attrs.insert("subnets".into(), common::sorted_names(subnets));
    let ports = interfaces
        .ports
        .iter()
        .map(|id| names.name(Kind::Port, id))
        .collect();
    attrs.insert("ports".into(), common::sorted_names(ports));
    attrs
}

/// Routes as the spec writes them: canonical networks and addresses, sorted.
fn observed_routes(routes: &[neutron::Route]) -> Value {
    let mut routes: Vec<(String, String)> = routes
        .iter()
        .map(|r| {
            let destination = r
                .destination
                .parse::<IpNet>()
                .map_or_else(|_| r.destination.clone(), |n| n.trunc().to_string());
            let nexthop = r
                .nexthop
                .parse::<std::net::IpAddr>()
                .map_or_else(|_| r.nexthop.clone(), |ip| ip.to_string());
            (destination, nexthop)
        })
        .collect();
    routes.sort();
    routes.dedup();
    Value::Array(
        routes
            .into_iter()
            .map(|(destination, nexthop)| json!({"destination": destination, "nexthop": nexthop}))
            .collect(),
    )
}

/// A router's interfaces, as the spec writes them.
#[derive(Debug, Default, PartialEq)]
pub struct Interfaces {
    /// Subnet ids of the interfaces Neutron made for a subnet (and of any port that is not
    /// one of the spec's).
    pub subnets: BTreeSet<String>,
    /// Ids of the interfaces that are ports of the spec: their tags claim a `port.NAME`.
    pub ports: BTreeSet<String>,
}

/// The interfaces of `router_id` among `ports`. `lineage_tag` tells the spec's ports.
pub fn interfaces<'a>(
    router_id: &str,
    ports: impl IntoIterator<Item = &'a neutron::Port>,
    lineage_tag: &str,
) -> Interfaces {
    let mut found = Interfaces::default();
    for port in ports
        .into_iter()
        .filter(|p| p.device_id == router_id && p.is_router_interface())
    {
        if common::tagged_address(lineage_tag, &port.tags).is_some_and(|a| a.kind == Kind::Port) {
            found.ports.insert(port.id.clone());
        } else {
            found
                .subnets
                .extend(port.fixed_ips.iter().map(|ip| ip.subnet_id.clone()));
        }
    }
    found
}

/// The routers of the spec with an interface on `subnet`: by subnet, or by a port of the spec
/// with a fixed IP there.
pub fn routers_on_subnet(view: &View<'_>, subnet: &Address) -> Vec<Address> {
    let mut routers: Vec<Address> = view
        .referrers(subnet, Kind::Router, "subnets")
        .into_iter()
        .cloned()
        .collect();
    for port in view.referrers(subnet, Kind::Port, "fixed_ips") {
        for router in view.referrers(port, Kind::Router, "ports") {
            if !routers.contains(router) {
                routers.push(router.clone());
            }
        }
    }
    routers
}

/// The external network's id, from `cx.external_network` (a name or an id), found among the
/// external networks the refresh listed.
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
    common::external_network_id(cx, addr, wanted).await
}

/// What `res` asks of the router's links, with ids resolved.
struct Links {
    /// None: unmanaged. Some(true) with `external` resolved when it had to be.
    gateway: Option<bool>,
    external: Option<String>,
    /// Subnet ids; None when `subnets` is unmanaged.
    subnets: Option<BTreeSet<String>>,
    /// Port ids; None when `ports` is unmanaged.
    ports: Option<BTreeSet<String>>,
    /// None: unmanaged.
    enable_snat: Option<bool>,
    external_ips: Option<Vec<String>>,
    routes: Option<Vec<neutron::Route>>,
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
    let ports = match res.attrs.contains_key("ports") {
        false => None,
        true => Some(
            common::list_attr(res, "ports")
                .iter()
                .map(|name| dep_id(ids, Kind::Port, name).map(str::to_string))
                .collect::<Result<_>>()?,
        ),
    };
    let external = match (gateway, resolve_external) {
        (Some(true), true) => Some(external_network_id(cx, &res.addr).await?),
        _ => None,
    };
    let routes = res.attrs.get("routes").and_then(Value::as_array).map(|routes| {
        routes
            .iter()
            .map(|r| neutron::Route {
                destination: r["destination"].as_str().unwrap_or_default().to_string(),
                nexthop: r["nexthop"].as_str().unwrap_or_default().to_string(),
            })
            .collect()
    });
    Ok(Links {
        gateway,
        external,
        subnets,
        ports,
        enable_snat: res.attrs.get("enable_snat").and_then(Value::as_bool),
        external_ips: res
            .attrs
            .contains_key("external_fixed_ips")
            .then(|| common::list_attr(res, "external_fixed_ips")),
        routes,
    })
}

/// Brings gateway and interfaces to `links`, from the router's live state.
async fn converge(cx: &Context, addr: &Address, router_id: &str, links: &Links) -> Result<()> {
    let api = cx.cloud.admin().network();
    let router: neutron::Router = api.get(ROUTERS, router_id).await?;
    // Routes through an interface about to go would keep it (409 RouterInterfaceInUseByRoute):
    // the undesired routes go first, the new ones once their interfaces are there.
    let kept = drop_undesired_routes(cx, &router, links).await?;
    if links.subnets.is_none() && links.ports.is_none() {
        converge_gateway(cx, addr, &router, links).await?;
    } else {
        let query = neutron::query(&[("device_id", router_id)]);
        let ports: Vec<neutron::Port> = api.list(PORTS, &query).await?;
        let live = interfaces(router_id, &ports, &common::lineage_tag(cx));
        converge_gateway(cx, addr, &router, links).await?;
        converge_interfaces(cx, addr, router_id, &live, links).await?;
    }
    add_missing_routes(cx, router_id, &kept, links).await
}

/// Keeps only the live routes the spec wants; returns the routes the router then has.
async fn drop_undesired_routes(
    cx: &Context,
    router: &neutron::Router,
    links: &Links,
) -> Result<Vec<neutron::Route>> {
    let Some(desired) = &links.routes else {
        return Ok(router.routes.clone());
    };
    let kept: Vec<neutron::Route> = router
        .routes
        .iter()
        .filter(|live| desired.iter().any(|d| same_route(d, live)))
        .cloned()
        .collect();
    if kept.len() != router.routes.len() {
        set_routes(cx, &router.id, &kept).await?;
    }
    Ok(kept)
}

async fn add_missing_routes(
    cx: &Context,
    router_id: &str,
    live: &[neutron::Route],
    links: &Links,
) -> Result<()> {
    let Some(desired) = &links.routes else {
        return Ok(());
    };
    if desired.iter().all(|d| live.iter().any(|l| same_route(d, l))) {
        return Ok(());
    }
    set_routes(cx, router_id, desired).await
}

fn same_route(a: &neutron::Route, b: &neutron::Route) -> bool {
    let net = |s: &str| s.parse::<IpNet>().map(|n| n.trunc()).ok();
    let ip = |s: &str| s.parse::<std::net::IpAddr>().ok();
    net(&a.destination) == net(&b.destination) && ip(&a.nexthop) == ip(&b.nexthop)
}

/// Sets the router's routes (a PUT of the whole list: routes have no calls of their own).
async fn set_routes(cx: &Context, router_id: &str, routes: &[neutron::Route]) -> Result<()> {
    let routes: Vec<Value> = routes
        .iter()
        .map(|r| json!({"destination": r.destination, "nexthop": r.nexthop}))
        .collect();
    let _: neutron::Router = cx
        .cloud
        .admin()
        .network()
        .update(ROUTERS, router_id, json!({ "routes": routes }))
        .await?;
    Ok(())
}

async fn converge_gateway(
    cx: &Context,
    addr: &Address,
    router: &neutron::Router,
    links: &Links,
) -> Result<()> {
    let want = links.gateway.unwrap_or(router.has_gateway());
    let snat_differs = links
        .enable_snat
        .is_some_and(|snat| router.enable_snat() != Some(snat));
    let ips_differ = links
        .external_ips
        .as_ref()
        .is_some_and(|ips| *ips != router.external_ips());
    let settings_differ = want && (snat_differs || ips_differ);
    if want == router.has_gateway() && !settings_differ {
        return Ok(());
    }
    let api = cx.cloud.admin().network();
    if !want {
        let _ = api.set_router_gateway(&router.id, None).await?;
        return Ok(());
    }
    let network = match &links.external {
        Some(id) => id.clone(),
        // Only the gateway's settings change: it stays on its network.
        None if router.has_gateway() => router
            .external_gateway_info
            .as_ref()
            .and_then(|info| info.get("network_id"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        None => external_network_id(cx, addr).await?,
    };
    let mut info = json!({ "network_id": network });
    if let Some(snat) = links.enable_snat {
        info["enable_snat"] = json!(snat);
    }
    if let Some(ips) = &links.external_ips {
        info["external_fixed_ips"] = ips.iter().map(|ip| json!({ "ip_address": ip })).collect();
    }
    let _: neutron::Router = api
        .update(ROUTERS, &router.id, json!({ "external_gateway_info": info }))
        .await?;
    Ok(())
}

/// Removes the interfaces `live` has beyond `links`, adds those it lacks: the ports' first,
/// so that a subnet reached by a port and by a subnet interface moves from one to the other.
async fn converge_interfaces(
    cx: &Context,
    addr: &Address,
    router_id: &str,
    live: &Interfaces,
    links: &Links,
) -> Result<()> {
    let api = cx.cloud.admin().network();
    if let Some(desired) = &links.ports {
        // The port's own delete (it is replaced or gone) usually removed it already.
        for port in live.ports.difference(desired) {
            gone_ok(api.remove_router_interface_port(router_id, port).await)?;
        }
    }
    if let Some(desired) = &links.subnets {
        for subnet in live.subnets.difference(desired) {
            gone_ok(api.remove_router_interface(router_id, subnet).await)?;
        }
    }
    if let Some(desired) = &links.ports {
        for port in desired.difference(&live.ports) {
            if let Err(error) = api.add_router_interface_port(router_id, port).await {
                // A repeat after a lost reply gets 409 PortInUse naming this router.
                let attached: neutron::Port = api.get(PORTS, port).await?;
                if attached.device_id != router_id || !attached.is_router_interface() {
                    return Err(error.into());
                }
                tracing::info!("{addr}: the interface on port {port} is there ({error})");
            }
        }
    }
    let Some(desired) = &links.subnets else {
        return Ok(());
    };
    for subnet in desired.difference(&live.subnets) {
        if let Err(error) = api.add_router_interface(router_id, subnet).await {
            // The client repeats this PUT after a lost reply, and real Neutron answers the
            // repeat with 400 "Router already has a port on subnet": the first one worked.
            // So whatever failed, the router's ports say whether the interface is there.
            let query = neutron::query(&[("device_id", router_id)]);
            let ports: Vec<neutron::Port> = api.list(PORTS, &query).await?;
            let now = interfaces(router_id, &ports, &common::lineage_tag(cx));
            if !now.subnets.contains(subnet) {
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
            |r, _, o| {
                let interfaces = interfaces(&r.id, o.ports_of_device(&r.id), &o.lineage_tag);
                observe(r, &interfaces, &o.names)
            },
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
        let none = Interfaces::default();
        converge_interfaces(cx, &res.addr, &router.id, &none, &links).await?;
        add_missing_routes(cx, &router.id, &router.routes, &links).await?;
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
        // A route keeps the interface its nexthop is on: routes go first.
        let has_routes = current
            .attrs
            .get("routes")
            .and_then(Value::as_array)
            .is_some_and(|r| !r.is_empty());
        if has_routes {
            let cleared = api
                .update::<neutron::Router>(ROUTERS, &current.id, json!({ "routes": [] }))
                .await;
            gone_ok(cleared.map(|_| ()))?;
        }
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
        // Each goes with its port (Neutron's rule): a port the spec keeps is replaced.
        let seen_ports: Vec<&str> = current
            .attrs
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter_map(|name| dep_id(ids, Kind::Port, name).ok())
            .collect();
        for port in seen_ports {
            gone_ok(api.remove_router_interface_port(&current.id, port).await)?;
        }
        match api.delete(ROUTERS, &current.id).await {
            Err(e) if e.is_conflict() => {}
            other => return gone_ok(other),
        }
        let query = neutron::query(&[("device_id", &current.id)]);
        let ports: Vec<neutron::Port> = api.list(PORTS, &query).await?;
        let left = interfaces(&current.id, &ports, &common::lineage_tag(cx));
        for subnet in &left.subnets {
            gone_ok(api.remove_router_interface(&current.id, subnet).await)?;
        }
        for port in &left.ports {
            gone_ok(api.remove_router_interface_port(&current.id, port).await)?;
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
        names.insert(Kind::Port, "p-vip", "vip");
        let mut vip = port("r1", "network:router_interface", "s-c");
        vip.id = "p-vip".into();
        vip.tags = vec!["stackform-lineage:L".into(), "stackform:port.vip".into()];
        // Another lineage's port is no port of this spec: its subnet is what shows.
        let mut foreign = port("r1", "network:router_interface", "s-d");
        foreign.tags = vec!["stackform-lineage:OTHER".into(), "stackform:port.x".into()];
        let ports = [
            vip,
            foreign,
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
            external_gateway_info: Some(json!({"network_id": "ext", "enable_snat": false,
                "external_fixed_ips": [{"subnet_id": "s-ext", "ip_address": "172.24.4.9"}]})),
            routes: vec![
                neutron::Route {
                    destination: "192.168.9.0/24".into(),
                    nexthop: "10.0.0.7".into(),
                },
                neutron::Route {
                    destination: "10.8.0.0/16".into(),
                    nexthop: "10.0.0.7".into(),
                },
            ],
            ..neutron::Router::default()
        };
        let expected: Attrs = [
            ("name".to_string(), json!("edge")),
            ("description".to_string(), json!("")),
            ("tenant".to_string(), json!("demo")),
            ("admin_state_up".to_string(), json!(true)),
            ("external_gateway".to_string(), json!(true)),
            ("enable_snat".to_string(), json!(false)),
            ("external_fixed_ips".to_string(), json!(["172.24.4.9"])),
            (
                "routes".to_string(),
                json!([{"destination": "10.8.0.0/16", "nexthop": "10.0.0.7"},
                       {"destination": "192.168.9.0/24", "nexthop": "10.0.0.7"}]),
            ),
            ("subnets".to_string(), json!(["a", "b", "s-d", "s-foreign"])),
            ("ports".to_string(), json!(["vip"])),
        ]
        .into();
        let interfaces = interfaces("r1", &ports, "stackform-lineage:L");
        assert_eq!(observe(&router, &interfaces, &names), expected);
    }
}
