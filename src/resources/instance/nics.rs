//! How an instance is attached to networks: the port stackform makes for it on its `subnet`
//! (tagged with the instance's address), or the `ports` of the spec it boots on; which
//! routers it waits for, and what it observes of them.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::super::common::{self, dep_id, name_of, ref_id};
use super::super::schema::{self, Implied, View};
use super::super::{Context, Ids, Observation, Result};
use crate::addr::{Address, Kind};
use crate::openstack::Session;
use crate::openstack::network::{self as neutron, PORTS, SUBNETS};
use crate::spec::DesiredResource;

/// An instance can only boot with a working network once every router serving its subnet (or
/// its ports' subnets) has its interface there, so it waits for those routers.
pub(super) fn routers_of_subnet(instance: &Address, view: &View<'_>, nodes: &BTreeSet<Address>) -> Vec<Implied> {
    let Some(attrs) = view.attrs(instance) else {
        return Vec::new();
    };
    let mut subnets: Vec<(&'static str, String)> = attrs
        .get("subnet")
        .and_then(Value::as_str)
        .map(|s| ("subnet", s.to_string()))
        .into_iter()
        .collect();
    for port in schema::referenced_names(attrs.get("ports"), Kind::Port) {
        let port_attrs = view.attrs(&Address::new(Kind::Port, port));
        for subnet in
            schema::referenced_names(port_attrs.and_then(|a| a.get("fixed_ips")), Kind::Subnet)
        {
            subnets.push(("ports", subnet.to_string()));
        }
    }
    let mut implied: Vec<Implied> = Vec::new();
    for (attr, subnet) in subnets {
        let via = Address::new(Kind::Subnet, subnet);
        for router in super::super::router::routers_on_subnet(view, &via) {
            if nodes.contains(&router) && !implied.iter().any(|i| i.dependency == router) {
                implied.push(Implied {
                    dependency: router,
                    attr,
                    via: via.clone(),
                    relation: "the router of",
                });
            }
        }
    }
    implied
}

/// An instance boots either on a port stackform makes on `subnet`, or on `ports` of the spec,
/// whose security groups are theirs: anything else has no single meaning.
pub(super) fn spec_check(
    instance: &DesiredResource,
    _resources: &std::collections::BTreeMap<Address, DesiredResource>,
    out: &mut crate::diag::Diagnostics,
) {
    super::server_attrs::check(instance, out);
    let addr = &instance.addr;
    let has = |attr: &str| instance.attrs.contains_key(attr);
    let problem = match (has("subnet"), has("ports")) {
        (true, true) => Some((
            "subnet",
            format!("{addr}: sets both `subnet` and `ports`"),
            "an instance boots on a port stackform makes on `subnet`, or on `ports` of the \
             spec: keep one of them",
        )),
        (false, false) => Some((
            "",
            format!("{addr}: needs `subnet` or `ports`"),
            "add `subnet = \"<subnet name>\"`, or `ports = [\"<port name>\"]` to boot on \
             ports of the spec",
        )),
        _ => None,
    };
    if let Some((attr, message, help)) = problem {
        out.push(
            crate::diag::Diagnostic::error(message)
                .at(instance.span_of(attr))
                .help(help),
        );
    }
    if has("ports") && has("security_groups") {
        out.push(
            crate::diag::Diagnostic::error(format!(
                "{addr}: `security_groups` applies to the port stackform makes on `subnet`, and \
                 this instance boots on `ports`"
            ))
            .at(instance.span_of("security_groups"))
            .help("set security_groups on each [port.NAME] instead"),
        );
    }
}

/// The `ports` of the spec a server is bound to (its own port aside), by name.
pub(super) fn booted_ports(o: &Observation, server_id: &str) -> Value {
    let names = o
        .ports_of_device(server_id)
        .filter(|p| is_port_of_the_spec(&o.lineage_tag, p))
        .map(|p| o.names.name(Kind::Port, &p.id))
        .collect();
    common::sorted_names(names)
}

/// A port that is a `[port.NAME]` of this lineage, not one an instance made for itself.
fn is_port_of_the_spec(lineage_tag: &str, port: &neutron::Port) -> bool {
    common::tagged_address(lineage_tag, &port.tags).is_some_and(|a| a.kind == Kind::Port)
}

/// The instance's port among `ports`: the one tagged with its address, else the first one
/// bound to the server.
pub fn port_of<'a>(
    lineage_tag: &str,
    addr: &Address,
    server_id: Option<&str>,
    ports: &'a [neutron::Port],
) -> Option<&'a neutron::Port> {
    let tags = [lineage_tag.to_string(), common::address_tag(addr)];
    ports
        .iter()
        .find(|p| common::has_tags(&p.tags, &tags))
        .or_else(|| server_id.and_then(|id| ports.iter().find(|p| p.device_id == id)))
}

/// [`port_of`] through the observation's port indexes.
pub(super) fn observed_port<'a>(o: &'a Observation, addr: &Address, server_id: &str) -> Option<&'a neutron::Port> {
    o.ports_tagged(&common::address_tag(addr))
        .find(|p| p.tags.contains(&o.lineage_tag))
        .or_else(|| {
            o.ports_of_device(server_id)
                .find(|p| !is_port_of_the_spec(&o.lineage_tag, p))
        })
}

/// The ports stackform made for `addr` in the session's project.
async fn tagged_ports(
    cx: &Context,
    session: &Session,
    addr: &Address,
) -> Result<Vec<neutron::Port>> {
    let tags = common::ownership_tags(cx, addr);
    // What refresh listed is enough: a port left by an earlier run was there before it.
    let listed = cx.listed(|listed| {
        let ports = listed.ports.as_ref()?;
        Some(
            ports
                .iter()
                .filter(|p| common::has_tags(&p.tags, &tags))
                .cloned()
                .collect::<Vec<_>>(),
        )
    });
    if let Some(ports) = listed {
        return Ok(ports);
    }
    let project = session.project_id();
    let query = neutron::query(&[("tags", &tags.join(",")), ("project_id", &project)]);
    let ports: Vec<neutron::Port> = session.network().list(PORTS, &query).await?;
    Ok(ports
        .into_iter()
        .filter(|p| common::has_tags(&p.tags, &tags))
        .collect())
}

/// The port stackform makes for an instance on its `subnet`, carrying its security groups and
/// the instance's tags.
pub(super) async fn own_port(cx: &Context, session: &Session, res: &DesiredResource, ids: &Ids) -> Result<String> {
    let addr = &res.addr;
    let subnet_id = ref_id(res, ids, "subnet", Kind::Subnet)?;
    let group_ids: Vec<&str> = common::list_attr(res, "security_groups")
        .iter()
        .map(|name| dep_id(ids, Kind::SecurityGroup, name))
        .collect::<Result<_>>()?;
    // A port left by an earlier attempt (made, then the server create failed) is reused.
    // The subnet (for its network) is read at the same time: both are on the way to
    // every server.
    let (existing, network_id) = tokio::try_join!(tagged_ports(cx, session, addr), async {
        if let Some(subnet) = cx.listed(|l| l.object::<neutron::Subnet>(subnet_id)) {
            return Ok(subnet.network_id.clone());
        }
        let subnet: neutron::Subnet =
            cx.cloud.admin().network().get(SUBNETS, subnet_id).await?;
        Ok(subnet.network_id)
    })?;
    let port_id = match existing.iter().find(|p| p.device_id.is_empty()) {
        Some(port) => port.id.clone(),
        None => {
            let mut body = json!({
                "network_id": network_id,
                "name": name_of(res),
                "fixed_ips": [{ "subnet_id": subnet_id }],
            });
            if res.attrs.contains_key("security_groups") {
                body["security_groups"] = json!(group_ids);
            }
            let tags = common::ownership_tags(cx, addr);
            let port: neutron::Port =
                common::neutron_create_tagged(session, PORTS, addr, body, &tags).await?;
            port.id
        }
    };

    Ok(port_id)
}
