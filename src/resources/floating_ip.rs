//! Floating IPs (Neutron): an address of an external network allocated to a tenant, and its
//! association with an instance, made, moved and removed in place (PUT port_id), so that the
//! address survives a move from one instance to another.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::common::{self, Names, allocate_floating_ip, associate_floating_ip, dep_id, gone_ok};
use super::schema::{Api, Attr, AttrType, Implied, KindSchema, Ref, View};
use super::{
    Context, Error, Ids, KindOps, Listed, Observation, Observed, ObservedResource, Result, Scope,
};
use crate::addr::{Address, Kind};
use crate::diag::{Diagnostic, Diagnostics};
use crate::openstack::network::{self as neutron, FLOATINGIPS, PORTS};
use crate::spec::{Attrs, Desired, DesiredResource};

pub struct FloatingIp;

/// `network` is empty for the provider's external network (the usual case), so that a spec
/// need not repeat it; `instance` is null when the address is not associated.
const SCHEMA: KindSchema = KindSchema {
    implicit_dependencies: Some(routers_to_instance),
    plan_check: Some(plan_check),
    quota_usage: Some(quota_usage),
    shown: &["address", "public_address"],
    ..KindSchema::new(
        "floating_ip",
        "a floating IP of an external network, associated with an instance or not",
        Api::neutron("/v2.0/floatingips"),
        &[
            Attr::new("tenant", AttrType::Reference(Ref::to(Kind::Tenant))).forces_replacement(),
            Attr::new("network", AttrType::Text { default: "" })
                .forces_replacement()
                .own_calls(),
            Attr::new("address", AttrType::IpAddressIn { within: "network" })
                .forces_replacement()
                .own_calls(),
            Attr::new("description", AttrType::Text { default: "" }),
            Attr::new(
                "instance",
                AttrType::OptionalReference(
                    Ref::to(Kind::Instance)
                        .same_tenant(
                            "associate",
                            "a floating IP is associated with instances of its own tenant \
                             only: pick an instance of",
                        )
                        .link("association"),
                ),
            )
            .own_calls(),
            Attr::new(
                "port",
                AttrType::OptionalReference(
                    Ref::to(Kind::Port)
                        .same_tenant(
                            "associate",
                            "a floating IP is associated with ports of its own tenant only: \
                             pick a port of",
                        )
                        .link("association"),
                ),
            )
            .own_calls(),
            // What users reach the address as, from `[provider] ipv4_external_ip_mapping`.
            Attr::new("public_address", AttrType::Derived).own_calls(),
        ],
    )
    .parent("tenant")
};

/// A floating IP can only be associated once a router connects the instance's subnet to the
/// external network: it waits for the routers on that subnet (and they are removed after it).
fn routers_to_instance(fip: &Address, view: &View<'_>, nodes: &BTreeSet<Address>) -> Vec<Implied> {
    if let Some(port) = view
        .attrs(fip)
        .and_then(|attrs| attrs.get("port"))
        .and_then(Value::as_str)
    {
        return routers_to_port(&Address::new(Kind::Port, port), view, nodes);
    }
    let Some(instance) = view
        .attrs(fip)
        .and_then(|attrs| attrs.get("instance"))
        .and_then(Value::as_str)
    else {
        return Vec::new();
    };
    let instance = Address::new(Kind::Instance, instance);
    let Some(subnet) = view
        .attrs(&instance)
        .and_then(|attrs| attrs.get("subnet"))
        .and_then(Value::as_str)
    else {
        return Vec::new();
    };
    super::router::routers_on_subnet(view, &Address::new(Kind::Subnet, subnet))
        .into_iter()
        .filter(|router| nodes.contains(router))
        .map(|router| Implied {
            dependency: router,
            attr: "instance",
            via: instance.clone(),
            relation: "the router on the subnet of",
        })
        .collect()
}

/// The routers on the subnets of a port's fixed IPs.
fn routers_to_port(port: &Address, view: &View<'_>, nodes: &BTreeSet<Address>) -> Vec<Implied> {
    let subnets: BTreeSet<&str> = view
        .attrs(port)
        .and_then(|attrs| attrs.get("fixed_ips"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|ip| ip.get("subnet").and_then(Value::as_str))
        .collect();
    subnets
        .into_iter()
        .flat_map(|subnet| super::router::routers_on_subnet(view, &Address::new(Kind::Subnet, subnet)))
        .filter(|router| nodes.contains(router))
        .map(|router| Implied {
            dependency: router,
            attr: "port",
            via: port.clone(),
            relation: "the router on a subnet of",
        })
        .collect()
}

fn quota_usage(_: &DesiredResource, _: &Observed) -> Vec<(&'static str, u64)> {
    vec![("floating_ip_count", 1)]
}

/// The network a floating IP comes from must be an external network the cloud has; with no
/// `network`, the provider's `external_network` must be set.
fn plan_check(res: &DesiredResource, desired: &Desired, observed: &Observed, out: &mut Diagnostics) {
    let associated = |attr: &str| res.attrs.get(attr).is_some_and(|v| !v.is_null());
    if associated("instance") && associated("port") {
        out.push(
            Diagnostic::error(format!(
                "{}: a floating IP is associated with one instance or one port, not both",
                res.addr
            ))
            .at(res.span_of("port"))
            .help("keep `instance` (its own port) or `port` (a port of the spec)"),
        );
    }
    check_one_per_port(res, desired, out);
    let network = res.attrs.get("network").and_then(Value::as_str).unwrap_or("");
    let provider = desired.provider.external_network.as_deref();
    if network.is_empty() {
        if provider.is_none() {
            out.push(
                Diagnostic::error(format!(
                    "{}: no external network to allocate the address from",
                    res.addr
                ))
                .at(res.span.clone())
                .help(
                    "set `external_network` in the [provider] table, or `network = \"<external \
                     network>\"` here",
                ),
            );
        }
        return;
    }
    if Some(network) == provider {
        out.push(
            Diagnostic::error(format!(
                "{}: network `{network}` is the provider's external_network",
                res.addr
            ))
            .at(res.span_of("network"))
            .help("leave `network` out: the provider's external network is the default"),
        );
        return;
    }
    if let Err(problem) = super::find_external_network(&observed.external_networks, network) {
        out.push(
            Diagnostic::error(format!("{}: network {problem}", res.addr))
                .at(res.span_of("network"))
                .help("floating IPs come from external networks (router:external)"),
        );
    }
}

/// Neutron gives a fixed IP one floating IP per external network (a second association is
/// refused with 409 FloatingIPPortAlreadyAssociated): two floating IPs of one network on one
/// instance, or one beside the instance's own `floating_ip = true`, cannot both be applied.
fn check_one_per_port(res: &DesiredResource, desired: &Desired, out: &mut Diagnostics) {
    let Some(instance) = res.attrs.get("instance").and_then(Value::as_str) else {
        return;
    };
    let network = res.attrs.get("network");
    let instance_addr = Address::new(Kind::Instance, instance);
    let shorthand = desired
        .get(&instance_addr)
        .and_then(|i| i.attrs.get("floating_ip"))
        == Some(&Value::Bool(true));
    let on_provider_network = network.and_then(Value::as_str).unwrap_or("").is_empty();
    let earlier = desired.of_kind(res.addr.kind).find(|other| {
        other.addr < res.addr
            && other.attrs.get("instance") == res.attrs.get("instance")
            && other.attrs.get("network") == network
    });
    let clash = match (earlier, shorthand && on_provider_network) {
        (Some(other), _) => Some(format!("{} is associated with it already", other.addr)),
        (None, true) => Some(format!("{instance_addr} has its own (floating_ip = true)")),
        (None, false) => None,
    };
    if let Some(clash) = clash {
        out.push(
            Diagnostic::error(format!(
                "{}: {instance_addr} can take one floating IP of this network: {clash}",
                res.addr
            ))
            .at(res.span_of("instance"))
            .help("associate this one with another instance, or remove one of the two"),
        );
    }
}

/// Normalized attributes. `port` is the associated port, where it is known.
pub fn observe(
    fip: &neutron::FloatingIp,
    port: Option<&neutron::Port>,
    names: &Names,
    o: &Observation,
    mapping: &std::collections::BTreeMap<String, String>,
) -> Attrs {
    let mut attrs = Attrs::new();
    attrs.insert(
        "tenant".into(),
        json!(names.name(Kind::Tenant, &fip.project_id)),
    );
    let network = if o.external_network_id.as_deref() == Some(fip.floating_network_id.as_str()) {
        String::new()
    } else {
        o.external_network_names
            .get(&fip.floating_network_id)
            .cloned()
            .unwrap_or_else(|| fip.floating_network_id.clone())
    };
    attrs.insert("network".into(), json!(network));
    attrs.insert("address".into(), json!(fip.floating_ip_address));
    attrs.insert(
        "description".into(),
        json!(fip.description.clone().unwrap_or_default()),
    );
    let device = fip.port_id.as_ref().map(|port_id| {
        fip.port_details
            .as_ref()
            .map(|d| d.device_id.clone())
            .or_else(|| port.map(|p| p.device_id.clone()))
            .filter(|d| !d.is_empty())
            // An address on a port with no device is shown by the port's id.
            .unwrap_or_else(|| port_id.clone())
    });
    // A port of the spec is named as such; any other port by its instance.
    let spec_port = fip
        .port_id
        .as_deref()
        .map(|id| names.name(Kind::Port, id))
        .filter(|name| Some(name.as_str()) != fip.port_id.as_deref());
    match spec_port {
        Some(port) => {
            attrs.insert("instance".into(), Value::Null);
            attrs.insert("port".into(), json!(port));
        }
        None => {
            attrs.insert(
                "instance".into(),
                json!(device.map(|d| names.name(Kind::Instance, &d))),
            );
            attrs.insert("port".into(), Value::Null);
        }
    }
    if let Some(public) = mapping.get(&fip.floating_ip_address) {
        attrs.insert("public_address".into(), json!(public));
    }
    attrs
}

/// What a floating IP is associated with, as the spec says it: an instance's port is found
/// at apply time.
pub(super) enum Target {
    /// The server id of an instance: its stackform port is the one associated.
    Instance { addr: Address, server_id: String },
    /// A port of the spec, by id.
    Port { port_id: String },
}

/// The association `res` asks for (None: not associated).
fn target(res: &DesiredResource, ids: &Ids) -> Result<Option<Target>> {
    if let Some(name) = res.attrs.get("port").and_then(Value::as_str) {
        return Ok(Some(Target::Port {
            port_id: dep_id(ids, Kind::Port, name)?.to_string(),
        }));
    }
    let Some(name) = res.attrs.get("instance").and_then(Value::as_str) else {
        return Ok(None);
    };
    Ok(Some(Target::Instance {
        addr: Address::new(Kind::Instance, name),
        server_id: dep_id(ids, Kind::Instance, name)?.to_string(),
    }))
}

/// The port id a target stands for, found the way the instance kind finds its port.
pub(super) async fn target_port(cx: &Context, addr: &Address, target: &Target) -> Result<String> {
    match target {
        Target::Port { port_id } => Ok(port_id.clone()),
        Target::Instance {
            addr: instance,
            server_id,
        } => {
            let query = neutron::query(&[("device_id", server_id)]);
            let ports: Vec<neutron::Port> = cx.cloud.admin().network().list(PORTS, &query).await?;
            let lineage = common::lineage_tag(cx);
            super::instance::port_of(&lineage, instance, Some(server_id), &ports)
                .map(|p| p.id.clone())
                .ok_or_else(|| Error::Failed {
                    addr: addr.clone(),
                    message: format!("{instance} has no port to associate the address with"),
                })
        }
    }
}

impl KindOps for FloatingIp {
    const SCHEMA: KindSchema = SCHEMA;

    async fn list(cx: &Context, scope: Scope<'_>) -> Result<Vec<Listed>> {
        let Scope::Projects(projects) = scope else {
            return Ok(Vec::new());
        };
        let items: Vec<neutron::FloatingIp> =
            common::list_in_projects(cx, FLOATINGIPS, projects).await?;
        // Kept for the instances' `floating_ip` shorthand, observed once every list is in.
        cx.record_listed(|listed| listed.floating_ips = Some(items.clone()));
        let lineage = common::lineage_tag(cx);
        let mapping = std::sync::Arc::new(cx.ipv4_external_ip_mapping.clone());
        Ok(items
            .into_iter()
            .map(|fip| {
                let claim = common::tagged_address(&lineage, &fip.tags);
                let foreign = common::foreign_claim(&lineage, &fip.tags);
                let mapping = mapping.clone();
                Listed::new(fip.id.clone(), claim, None, move |_, o| {
                    let port = fip
                        .port_id
                        .as_deref()
                        .and_then(|id| o.ports.iter().find(|p| p.id == id));
                    observe(&fip, port, &o.names, o, &mapping)
                })
                .foreign(foreign)
            })
            .collect())
    }

    async fn create(cx: &Context, res: &DesiredResource, ids: &Ids) -> Result<String> {
        let addr = &res.addr;
        let project = common::ref_id(res, ids, "tenant", Kind::Tenant)?;
        let network = res.attrs.get("network").and_then(Value::as_str).unwrap_or("");
        let network_id = common::external_network_id(cx, addr, network).await?;
        let port = match target(res, ids)? {
            Some(target) => Some(target_port(cx, addr, &target).await?),
            None => None,
        };
        let mut body = json!({
            "floating_network_id": network_id,
            "description": res.attrs.get("description").and_then(Value::as_str).unwrap_or(""),
        });
        if let Some(address) = res.attrs.get("address").and_then(Value::as_str) {
            body["floating_ip_address"] = json!(address);
        }
        let tags = common::ownership_tags(cx, addr);
        let created = allocate_floating_ip(cx, addr, project, body, port.as_deref(), &tags).await?;
        // The address is known from this reply: the state has it before any refresh.
        let mut shown = Attrs::new();
        shown.insert("address".into(), json!(created.floating_ip_address));
        if let Some(public) = cx.ipv4_external_ip_mapping.get(&created.floating_ip_address) {
            shown.insert("public_address".into(), json!(public));
        }
        cx.record_listed(|listed| listed.created_shown.insert(addr.clone(), shown));
        Ok(created.id)
    }

    async fn update(
        cx: &Context,
        res: &DesiredResource,
        current: &ObservedResource,
        ids: &Ids,
    ) -> Result<()> {
        let changes = common::body_changes(&SCHEMA, res, current);
        if !changes.is_empty() {
            let _: neutron::FloatingIp = cx
                .cloud
                .admin()
                .network()
                .update(FLOATINGIPS, &current.id, Value::Object(changes))
                .await?;
        }
        let association = |attrs: &Attrs| (attrs.get("instance").cloned(), attrs.get("port").cloned());
        if association(&res.attrs) != association(&current.attrs) {
            // One PUT moves the address from one port to another: it stays allocated.
            let port = match target(res, ids)? {
                Some(target) => Some(target_port(cx, &res.addr, &target).await?),
                None => None,
            };
            associate_floating_ip(cx, &res.addr, &current.id, port.as_deref()).await?;
        }
        Ok(())
    }

    async fn delete(cx: &Context, current: &ObservedResource, _ids: &Ids) -> Result<()> {
        gone_ok(cx.cloud.admin().network().delete(FLOATINGIPS, &current.id).await)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::openstack::network::FloatingIpPortDetails;
    use crate::plan::fixtures::{desired, resource};

    fn fip(network: &str, port: Option<&str>) -> neutron::FloatingIp {
        neutron::FloatingIp {
            id: "f1".into(),
            project_id: "p1".into(),
            floating_ip_address: "172.24.4.10".into(),
            floating_network_id: network.into(),
            port_id: port.map(str::to_string),
            port_details: port.map(|_| FloatingIpPortDetails {
                device_id: "vm1".into(),
                device_owner: "compute:nova".into(),
            }),
            ..neutron::FloatingIp::default()
        }
    }

    fn observation() -> Observation {
        let mut names = Names::default();
        names.insert(Kind::Tenant, "p1", "demo");
        names.insert(Kind::Instance, "vm1", "web");
        Observation {
            names,
            external_network_names: [
                ("ext-1".to_string(), "public".to_string()),
                ("ext-2".to_string(), "other".to_string()),
            ]
            .into(),
            external_network_id: Some("ext-1".into()),
            ..Observation::default()
        }
    }

    #[test]
    fn observes_the_network_the_instance_and_the_public_address() {
        let o = observation();
        let mapping: BTreeMap<String, String> =
            [("172.24.4.10".to_string(), "203.0.113.10".to_string())].into();
        let attrs = observe(&fip("ext-1", Some("port-1")), None, &o.names, &o, &mapping);
        let expected: Attrs = [
            ("tenant".to_string(), json!("demo")),
            ("network".to_string(), json!("")),
            ("address".to_string(), json!("172.24.4.10")),
            ("description".to_string(), json!("")),
            ("instance".to_string(), json!("web")),
            ("port".to_string(), Value::Null),
            ("public_address".to_string(), json!("203.0.113.10")),
        ]
        .into();
        assert_eq!(attrs, expected);

        let attrs = observe(&fip("ext-2", None), None, &o.names, &o, &BTreeMap::new());
        assert_eq!(attrs["network"], json!("other"));
        assert_eq!(attrs["instance"], Value::Null);
        assert_eq!(attrs["port"], Value::Null);
        assert_eq!(attrs.get("public_address"), None);

        // On a port of the spec: named as the port, not by the port's instance.
        let mut names = o.names.clone();
        names.insert(Kind::Port, "port-1", "vip");
        let attrs = observe(&fip("ext-1", Some("port-1")), None, &names, &o, &mapping);
        assert_eq!(attrs["port"], json!("vip"));
        assert_eq!(attrs["instance"], Value::Null);
    }

    fn problems(res: DesiredResource, provider: Option<&str>) -> Vec<String> {
        let mut d = desired(vec![res.clone()]);
        d.provider.external_network = provider.map(str::to_string);
        let observed = Observed {
            external_networks: vec![super::super::ExternalNetwork {
                id: "ext-1".into(),
                name: "public".into(),
            }],
            ..Observed::default()
        };
        let mut out = Diagnostics::default();
        plan_check(&res, &d, &observed, &mut out);
        out.iter().map(|d| d.message.clone()).collect()
    }

    #[test]
    fn the_network_must_be_an_external_one() {
        let default = resource("floating_ip.web", json!({"tenant": "demo", "network": ""}));
        assert!(problems(default.clone(), Some("public")).is_empty());
        assert_eq!(
            problems(default, None),
            ["floating_ip.web: no external network to allocate the address from"]
        );
        let named = |n: &str| resource("floating_ip.web", json!({"tenant": "demo", "network": n}));
        assert_eq!(
            problems(named("private"), Some("public")),
            [
                "floating_ip.web: network `private` is not an external network of the cloud \
                 (external networks: public)"
            ]
        );
        assert_eq!(
            problems(named("public"), Some("public")),
            ["floating_ip.web: network `public` is the provider's external_network"]
        );
        assert!(problems(named("ext-1"), None).is_empty(), "by id");
    }

    #[test]
    fn one_floating_ip_per_instance_and_network() {
        let vm = |flag: bool| resource("instance.vm", json!({"tenant": "demo", "floating_ip": flag}));
        let fip = |name: &str| {
            resource(
                &format!("floating_ip.{name}"),
                json!({"tenant": "demo", "network": "", "instance": "vm"}),
            )
        };
        let messages = |resources: Vec<DesiredResource>| {
            let d = desired(resources);
            let mut out = Diagnostics::default();
            for res in d.of_kind(Kind::FloatingIp) {
                check_one_per_port(res, &d, &mut out);
            }
            out.iter().map(|d| d.message.clone()).collect::<Vec<_>>()
        };
        assert!(messages(vec![vm(false), fip("a")]).is_empty());
        assert_eq!(
            messages(vec![vm(false), fip("a"), fip("b")]),
            [
                "floating_ip.b: instance.vm can take one floating IP of this network: \
                 floating_ip.a is associated with it already"
            ]
        );
        assert_eq!(
            messages(vec![vm(true), fip("a")]),
            [
                "floating_ip.a: instance.vm can take one floating IP of this network: \
                 instance.vm has its own (floating_ip = true)"
            ]
        );
    }

    /// The address waits for the router that connects its instance's subnet (and goes first).
    #[test]
    fn a_floating_ip_depends_on_the_router_of_its_instances_subnet() {
        let d = desired(vec![
            resource("router.edge", json!({"tenant": "demo", "subnets": ["sub"]})),
            resource("router.other", json!({"tenant": "demo", "subnets": ["elsewhere"]})),
            resource("instance.vm", json!({"tenant": "demo", "subnet": "sub"})),
            resource("floating_ip.web", json!({"tenant": "demo", "instance": "vm"})),
            resource("floating_ip.idle", json!({"tenant": "demo", "instance": null})),
        ]);
        let observed = Observed::default();
        let view = View::new(&d, &observed);
        let nodes: BTreeSet<Address> = d.resources.keys().cloned().collect();
        let web = Address::new(Kind::FloatingIp, "web");
        assert_eq!(
            routers_to_instance(&web, &view, &nodes),
            [Implied {
                dependency: Address::new(Kind::Router, "edge"),
                attr: "instance",
                via: Address::new(Kind::Instance, "vm"),
                relation: "the router on the subnet of",
            }]
        );
        let idle = Address::new(Kind::FloatingIp, "idle");
        assert!(routers_to_instance(&idle, &view, &nodes).is_empty());
    }

    #[test]
    fn floating_ips_count_against_the_tenants_quota() {
        let tenant = resource(
            "tenant.demo",
            json!({"name": "demo", "quotas": {"floating_ip_count": 1}}),
        );
        let one = resource("floating_ip.a", json!({"tenant": "demo", "network": ""}));
        let two = resource("floating_ip.b", json!({"tenant": "demo", "network": ""}));
        let mut d = desired(vec![tenant, one, two]);
        d.provider.external_network = Some("ext-1".into());
        let observed = Observed {
            external_networks: vec![super::super::ExternalNetwork {
                id: "ext-1".into(),
                name: "public".into(),
            }],
            ..Observed::default()
        };
        let messages: Vec<String> = crate::plan::check(&d, &observed)
            .iter()
            .map(|d| d.message.clone())
            .collect();
        assert_eq!(
            messages,
            ["tenant.demo: the spec makes 2 floating IPs but quotas.floating_ip_count is 1"]
        );
    }
}
