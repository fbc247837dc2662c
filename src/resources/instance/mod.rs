//! Instances: a Neutron port on the instance's subnet (carrying its security groups and the
//! instance's tags), or the `ports` of the spec, then a Nova server on them (`nics`). Power
//! state is driven with os-start/os-stop.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::PoisonError;

use serde_json::{Value, json};

mod boot;
mod floating;
mod nics;
mod power;
mod refs;
mod resize;
mod server_attrs;
pub mod user_data;
mod volumes;

use floating::{ensure_floating_ip, observe_floating_ip, release_floating_ips};
use nics::{booted_ports, observed_port, own_port, routers_of_subnet, spec_check};
pub use nics::port_of;
use power::{power_state, set_power};
use refs::{flavor_id, image_id};
#[cfg(test)]
use refs::pick_image;

use super::common::{self, ADDRESS_METADATA, Names, dep_id, name_of};
use super::schema::{
    Api, Attr, AttrType, Catalog, Implied, KindSchema, ListScope, Ownership, Ref, Service, View,
};
use super::{
    Context, Error, Ids, KindOps, Listed, Observed, ObservedResource, Projects, Result,
    Scope,
};
use crate::addr::{Address, Kind};

use crate::openstack::Session;
use crate::openstack::compute::Server;
use crate::openstack::network::{self as neutron, PORTS};
use crate::spec::{Attrs, DesiredResource};

pub struct Instance;

/// An instance sits on one subnet through a port stackform creates for it; its security groups
/// are that port's, so changing them is in place. Or it boots on `ports` of the spec.
const SCHEMA: KindSchema = KindSchema {
    // A server in ERROR cannot be brought to a power state: real Nova answers 409 ("Instance
    // ... is not ready") to os-start and os-stop in vm_state error, so an in-place update
    // would fail on every apply. Its power_state change forces a new server instead.
    // Nor does real Nova resize a server in ERROR (409, vm_state error): a new flavor for it
    // is a new server.
    replace_in_status: &[("power_state", "ERROR"), ("flavor", "ERROR")],
    implicit_dependencies: Some(implied),
    quota_usage: Some(quota_usage),
    spec_check: Some(|instance, resources, out| {
        spec_check(instance, resources, out);
        boot::spec_check(instance, out);
    }),
    shown: &["floating_ip_address", "public_address"],
    plan_check: Some(plan_check),
    ..KindSchema::new(
        "instance",
        "a Nova server on a port stackform makes on its subnet, or on ports of the spec",
        Api {
            service: Service::Compute,
            collection: "/servers",
            scope: ListScope::Tenant,
            ownership: Ownership::LineageTagAddressMetadata,
        },
        &[
            Attr::new("name", AttrType::Name { max: super::schema::NAME_MAX }).own_calls(),
            Attr::new("tenant", AttrType::Reference(Ref::to(Kind::Tenant))).forces_replacement(),
            // Resized in place (resize, then confirmResize): the server keeps its id, its
            // ports and its volumes (see `resize`).
            Attr::new(
                "flavor",
                AttrType::CloudName {
                    example: "\"<flavor name>\"",
                    catalog: Catalog::Flavors,
                },
            )
            .own_calls()
            .in_place_as("resized in place"),
            // Required unless the server boots from `boot_volume` (see `boot`).
            Attr::new(
                "image",
                AttrType::OptionalCloudName {
                    example: "\"<image name>\"",
                    catalog: Catalog::Images,
                },
            )
            .forces_replacement(),
            Attr::new(
                "subnet",
                AttrType::Reference(
                    Ref::to(Kind::Subnet)
                        .same_tenant(
                            "use",
                            "an instance uses subnets of its own tenant (or of a network shared with it) only: pick a subnet of",
                        )
                        .unless_granted()
                        .optional(),
                ),
            )
            .forces_replacement(),
            // Nova can attach and detach interfaces, but a server's first NICs are what it
            // booted with (its addresses, its config drive): a change boots a new server.
            Attr::new(
                "ports",
                AttrType::ReferenceSet {
                    to: Ref::to(Kind::Port).same_tenant(
                        "use",
                        "an instance uses ports of its own tenant only: pick one of",
                    ),
                    default_empty: false,
                },
            )
            .forces_replacement(),
            Attr::new(
                "security_groups",
                AttrType::ReferenceSet {
                    to: Ref::to(Kind::SecurityGroup).same_tenant(
                        "use",
                        "an instance uses security groups of its own tenant only: pick one of",
                    ),
                    default_empty: false,
                },
            )
            .own_calls(),
            Attr::new(
                "power_state",
                AttrType::Choice {
                    values: &["running", "stopped"],
                    default: "running",
                },
            )
            .own_calls(),
            // A floating IP of the provider's external network, the instance's own: allocated
            // and associated with its port, released with it or when the flag goes.
            Attr::new("floating_ip", AttrType::Bool { default: false }).own_calls(),
            // Cinder volumes of the spec, attached and detached in place through Nova, in the
            // listed order; a new order alone plans nothing (see `volumes`).
            Attr::new(
                "volumes",
                AttrType::ReferenceSet {
                    to: Ref::to(Kind::Volume)
                        .same_tenant(
                            "attach",
                            "an instance attaches volumes of its own tenant only: pick one of",
                        )
                        .link("attachment"),
                    default_empty: false,
                },
            )
            .own_calls(),
            // The user's server metadata and description, changed in place (see
            // `server_attrs`): stackform's address mark stays beside them.
            Attr::new("metadata", AttrType::Metadata).own_calls(),
            Attr::new("description", AttrType::Text { default: "" }).own_calls(),
            // Nova's limits: 50 tags per server (the lineage mark takes one), of 1 to 60
            // characters, no '/' or ','.
            Attr::new(
                "tags",
                AttrType::Tags {
                    max_len: 60,
                    max_count: 49,
                    forbidden: "/,",
                },
            )
            .own_calls(),
            // What the server boots with (see `boot`): a change boots a new server.
            Attr::new(
                "boot_volume",
                AttrType::Reference(
                    Ref::to(Kind::Volume)
                        .same_tenant(
                            "boot from",
                            "an instance boots from volumes of its own tenant only: pick one of",
                        )
                        .optional(),
                ),
            )
            .forces_replacement()
            .own_calls(),
            Attr::new(
                "boot_volume_size",
                AttrType::Integer {
                    min: 1,
                    max: boot::MAX_VOLUME_GB,
                    help: "the size in GB of the volume Nova makes from `image` to boot from",
                },
            )
            .forces_replacement()
            .own_calls(),
            Attr::new("delete_on_termination", AttrType::OptionalBool)
                .forces_replacement()
                .own_calls(),
            Attr::new(
                "user_data",
                AttrType::Payload {
                    file: "user_data_file",
                    max_encoded: user_data::MAX_ENCODED,
                },
            )
            .forces_replacement()
            .own_calls(),
            Attr::new("config_drive", AttrType::Bool { default: false })
                .forces_replacement()
                .own_calls(),
            Attr::new(
                "availability_zone",
                AttrType::OptionalText {
                    what: "Nova's choice; one of the cloud's compute availability zones",
                },
            )
            .forces_replacement()
            .own_calls(),
            // Nova places a server in a group only at boot (scheduler hint `group`): a change
            // boots a new server in the new group.
            Attr::new(
                "server_group",
                AttrType::OptionalReference(Ref::to(Kind::ServerGroup).same_tenant(
                    "join",
                    "an instance joins server groups of its own tenant only: pick one of",
                )),
            )
            .forces_replacement(),
            // The tenant's keypair the server boots with (see `boot::creating_session`).
            Attr::new("keypair", AttrType::OptionalReference(Ref::to(Kind::Keypair).same_tenant("boot with", "an instance boots with keypairs of its own tenant only: pick one of")))
                .forces_replacement(),
            Attr::new("floating_ip_address", AttrType::Derived).own_calls(),
            Attr::new("public_address", AttrType::Derived).own_calls(),
        ],
    )
    .parent("tenant")
    .statuses(&["ACTIVE", "SHUTOFF"], &["ERROR"])
    // Nova's statuses of work under way. A server adopted after a killed apply is often still
    // in BUILD, and real Nova answers os-start with 409 "task_state spawning". RESIZE ends in
    // VERIFY_RESIZE rather than ACTIVE, so the wait is for "none of these", not for `ready`.
    .settling(&[
        "BUILD",
        "REBOOT",
        "HARD_REBOOT",
        "REBUILD",
        "RESIZE",
        "REVERT_RESIZE",
        "MIGRATING",
        "PASSWORD",
    ])
};

fn implied(instance: &Address, view: &View<'_>, nodes: &BTreeSet<Address>) -> Vec<Implied> {
    let mut implied = routers_of_subnet(instance, view, nodes);
    implied.extend(policies_sharing_subnet(instance, view, nodes));
    implied.extend(volumes::moves(instance, view, nodes));
    implied.extend(image_of_spec(instance, view, nodes));
    implied
}

/// An instance booting from an `[image.NAME]` of the spec (named by its address name) is
/// made after the image and deleted before it.
fn image_of_spec(instance: &Address, view: &View<'_>, nodes: &BTreeSet<Address>) -> Option<Implied> {
    let name = view.attrs(instance)?.get("image")?.as_str()?;
    let image = Address::new(Kind::Image, name);
    nodes.contains(&image).then(|| Implied {
        dependency: image.clone(),
        attr: "image",
        via: image,
        relation: "the image",
    })
}

/// An instance on a subnet of another tenant's network needs the RBAC policy that shares the
/// network with its tenant: made before it, removed after it (real Neutron refuses to remove a
/// policy while the target has ports there: 409 RbacPolicyInUse).
fn policies_sharing_subnet(
    instance: &Address,
    view: &View<'_>,
    nodes: &BTreeSet<Address>,
) -> Vec<Implied> {
    let Some(attrs) = view.attrs(instance) else {
        return Vec::new();
    };
    let (Some(subnet), Some(tenant)) = (
        attrs.get("subnet").and_then(Value::as_str),
        attrs.get("tenant").and_then(Value::as_str),
    ) else {
        return Vec::new();
    };
    let subnet = Address::new(Kind::Subnet, subnet);
    let Some(network) = view
        .attrs(&subnet)
        .and_then(|a| a.get("network"))
        .and_then(Value::as_str)
    else {
        return Vec::new();
    };
    let network = Address::new(Kind::Network, network);
    if view
        .attrs(&network)
        .and_then(|a| a.get("tenant"))
        .and_then(Value::as_str)
        == Some(tenant)
    {
        return Vec::new();
    }
    view.referrers(&network, Kind::NetworkRbac, "network")
        .into_iter()
        .filter(|policy| nodes.contains(*policy))
        .filter(|policy| {
            view.attrs(policy).is_some_and(|p| {
                p.get("action").and_then(Value::as_str) == Some("access_as_shared")
                    && matches!(p.get("target_tenant").and_then(Value::as_str), Some(t) if t == tenant || t == "*")
            })
        })
        .map(|policy| Implied {
            dependency: policy.clone(),
            attr: "subnet",
            via: subnet.clone(),
            relation: "the RBAC policy sharing the network of",
        })
        .collect()
}

/// One server, and what its flavor takes (an unknown flavor is reported on its own and
/// consumes nothing here), and the port stackform makes for it on its subnet.
fn quota_usage(instance: &DesiredResource, observed: &Observed) -> Vec<(&'static str, u64)> {
    let flavor = instance
        .attrs
        .get("flavor")
        .and_then(Value::as_str)
        .and_then(|name| observed.flavors.get(name));
    let mut usage = vec![("instances", 1)];
    if instance.attrs.contains_key("subnet") {
        usage.push(("port_count", 1));
    }
    if let Some(f) = flavor {
        usage.extend([("vcpu", f.vcpus), ("ram", f.ram_mb)]);
    }
    if instance.attrs.get("floating_ip") == Some(&Value::Bool(true)) {
        usage.push(("floating_ip_count", 1));
    }
    usage
}

/// `floating_ip = true` takes its address from the provider's external network: without one
/// the apply would fail after the server was built. A volume of several instances must be
/// multiattach.
fn plan_check(
    instance: &DesiredResource,
    desired: &crate::spec::Desired,
    observed: &Observed,
    out: &mut crate::diag::Diagnostics,
) {
    volumes::shared_check(instance, desired, observed, out);
    super::compute_zones::check(instance, observed, out);
    if instance.attrs.get("floating_ip") == Some(&Value::Bool(true))
        && desired.provider.external_network.is_none()
    {
        out.push(
            crate::diag::Diagnostic::error(format!(
                "{}: floating_ip = true needs an external network",
                instance.addr
            ))
            .at(instance.span_of("floating_ip"))
            .help("set `external_network` in the [provider] table"),
        );
    }
}

/// Nova tags hold 60 characters, too few for the address tag: a server is claimed by the
/// lineage tag and its address metadata.
fn server_claim(lineage_tag: &str, server: &Server) -> Option<Address> {
    if !server.tags.iter().any(|t| t == lineage_tag) {
        return None;
    }
    server.metadata.get(ADDRESS_METADATA)?.parse().ok()
}

/// Normalized attributes. `port` is the instance's stackform port;
/// `flavor_names` and `image_names` map ids to names.
pub fn observe(
    server: &Server,
    port: Option<&neutron::Port>,
    names: &Names,
    flavor_names: &HashMap<String, String>,
    image_names: &HashMap<String, String>,
) -> Attrs {
    let mut attrs = Attrs::new();
    attrs.insert("name".into(), json!(server.name));
    attrs.insert(
        "tenant".into(),
        json!(names.name(Kind::Tenant, &server.tenant_id)),
    );
    let flavor = server.flavor.original_name.clone().or_else(|| {
        let id = server.flavor.id.as_ref()?;
        Some(flavor_names.get(id).cloned().unwrap_or_else(|| id.clone()))
    });
    attrs.insert("flavor".into(), json!(flavor));
    // An image of the spec is named by its address name, as the spec names it.
    let image = server.image_id().map(|id| {
        names
            .get(Kind::Image, id)
            .map(str::to_string)
            .or_else(|| image_names.get(id).cloned())
            .unwrap_or_else(|| id.to_string())
    });
    let image = image.or_else(|| {
        let id = server.boot_volume.as_ref()?.image_id.as_ref()?;
        Some(image_names.get(id).cloned().unwrap_or_else(|| id.clone()))
    });
    attrs.insert("image".into(), json!(image));
    boot::observe(server, names, &mut attrs);
    if let Some(port) = port {
        let subnet = port
            .fixed_ips
            .first()
            .map(|ip| names.name(Kind::Subnet, &ip.subnet_id));
        attrs.insert("subnet".into(), json!(subnet));
        let groups = port
            .security_groups
            .iter()
            .map(|id| names.name(Kind::SecurityGroup, id))
            .collect();
        attrs.insert("security_groups".into(), common::sorted_names(groups));
    }
    attrs.insert("power_state".into(), json!(power_state(&server.status)));
    server_attrs::observe(server, &mut attrs);
    // The volume the server boots from is not one of its attached `volumes`.
    let boot_volume = server.boot_volume.as_ref().map(|b| b.id.as_str());
    let volumes = server
        .volumes_attached
        .iter()
        .filter(|v| Some(v.id.as_str()) != boot_volume)
        .map(|v| names.name(Kind::Volume, &v.id))
        .collect();
    attrs.insert("volumes".into(), common::sorted_names(volumes));
    attrs
}

/// The create request of `res` on `nics`, with the flavor and image ids known now.
async fn server_body(
    cx: &Context,
    res: &DesiredResource,
    ids: &Ids,
    nics: &[Value],
) -> Result<Value> {
    let addr = &res.addr;
    let flavor = flavor_id(cx, addr, common::str_attr(res, "flavor")?).await?;
    let image = match res.attrs.get("image").and_then(Value::as_str) {
        Some(name) => match ids.get(&Address::new(Kind::Image, name)) {
            Some(own) => Some(own.clone()),
            None => Some(image_id(cx, addr, name).await?),
        },
        None => None,
    };
    let mut body = json!({
        "name": name_of(res),
        "flavorRef": flavor,
        "networks": nics,
        "metadata": server_attrs::full_metadata(res, addr),
        "tags": server_attrs::full_tags(res, &[common::lineage_tag(cx)]),
    });
    if let Some(description) = server_attrs::description(res) {
        body["description"] = json!(description);
    }
    boot::create_fields(res, ids, image, &mut body)?;
    Ok(body)
}

/// The servers stackform made for `addr` in the session's project (by lineage tag and
/// address metadata).
async fn find_server(
    cx: &Context,
    session: &Session,
    addr: &Address,
) -> Result<Option<Server>, crate::openstack::ApiError> {
    let lineage = common::lineage_tag(cx);
    let query = [("tags".to_string(), lineage.clone())];
    let servers = session.compute().list_servers(&query).await?;
    let address = addr.to_string();
    Ok(servers
        .into_iter()
        .find(|s| s.tags.contains(&lineage) && s.metadata.get(ADDRESS_METADATA) == Some(&address)))
}

/// The servers of the spec's projects that are this state's: Nova lists across projects but
/// filters by one project only, so the list is by the lineage tag (one call, whatever the
/// number of tenants). A server the state records whose tag was removed by hand is not in that
/// list: it is fetched by id, so that it is never taken for deleted and created again. Other
/// lineages' servers in these projects are not listed (they could only be told apart as
/// another state's, and Nova does not refuse a second server of a name anyway).
async fn list_servers(cx: &Context, projects: &Projects) -> Result<Vec<Server>> {
    if projects.ids().is_empty() {
        return Ok(Vec::new());
    }
    let admin = cx.cloud.admin();
    let lineage = common::lineage_tag(cx);
    let query = neutron::query(&[("all_tenants", "1"), ("tags", &lineage)]);
    let mut servers = admin.compute().list_servers(&query).await?;
    boot::find_boot_volumes(cx, &mut servers).await?;
    let listed: HashSet<String> = servers.iter().map(|s| s.id.clone()).collect();
    for id in projects.known(Kind::Instance) {
        if listed.contains(id) {
            continue;
        }
        match admin.compute().get_server(id).await {
            Ok(server) => servers.push(server),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
    }
    servers.retain(|s| projects.contains(&s.tenant_id));
    Ok(servers)
}

impl KindOps for Instance {
    const SCHEMA: KindSchema = SCHEMA;

    async fn list(cx: &Context, scope: Scope<'_>) -> Result<Vec<Listed>> {
        let Scope::Projects(projects) = scope else {
            return Ok(Vec::new());
        };
        let servers = list_servers(cx, projects).await?;
        let lineage = common::lineage_tag(cx);
        // The floating IPs are listed by their own kind at the same time; each instance reads
        // its shorthand's from there once every list is in (observing comes after listing).
        let listings = cx.listings.clone();
        let mapping = std::sync::Arc::new(cx.ipv4_external_ip_mapping.clone());
        Ok(servers
            .into_iter()
            .map(|server| {
                let claim = server_claim(&lineage, &server);
                // Nova tags are short, so the address is in the metadata, not a tag.
                let foreign = server.metadata.get(ADDRESS_METADATA).and_then(|a| {
                    let tags = [server.tags.clone(), vec![format!("stackform:{a}")]].concat();
                    common::foreign_claim(&lineage, &tags)
                });
                let status = server.status.clone();
                let (listings, mapping) = (listings.clone(), mapping.clone());
                Listed::new(server.id.clone(), claim, Some(&status), move |addr, o| {
                    let port = observed_port(o, addr, &server.id);
                    let mut attrs =
                        observe(&server, port, &o.names, &o.flavor_names, &o.image_names);
                    attrs.insert("ports".into(), booted_ports(o, &server.id));
                    let tags = [o.lineage_tag.clone(), common::address_tag(addr)];
                    let listings = listings.read().unwrap_or_else(PoisonError::into_inner);
                    let own: Vec<&neutron::FloatingIp> = listings
                        .floating_ips
                        .iter()
                        .flatten()
                        .filter(|f| common::has_tags(&f.tags, &tags))
                        .collect();
                    observe_floating_ip(&mut attrs, port, &own, &mapping);
                    let group = listings
                        .server_group_members
                        .as_ref()
                        .and_then(|members| members.get(&server.id))
                        .map(|id| o.names.name(Kind::ServerGroup, id));
                    attrs.insert("server_group".into(), json!(group));
                    attrs
                })
                .foreign(foreign)
            })
            .collect())
    }

    async fn create(cx: &Context, res: &DesiredResource, ids: &Ids) -> Result<String> {
        let addr = &res.addr;
        let session = common::tenant_session(cx, res, ids).await?;
        let nics = if res.attrs.contains_key("ports") {
            common::list_attr(res, "ports")
                .iter()
                .map(|name| Ok(json!({ "port": dep_id(ids, Kind::Port, name)? })))
                .collect::<Result<Vec<Value>>>()?
        } else {
            vec![json!({ "port": own_port(cx, &session, res, ids).await? })]
        };
        let group = match res.attrs.get("server_group").and_then(Value::as_str) {
            Some(name) => Some(dep_id(ids, Kind::ServerGroup, name)?),
            None => None,
        };
        let creator = boot::creating_session(cx, res, ids, &session).await?;
        let mut looked_up_afresh = false;
        let server_id = loop {
            let server_body = &server_body(cx, res, ids, &nics).await?;
            let created = common::create_or_adopt(
                addr,
                || async {
                    let compute = creator.compute();
                    let created = match group {
                        Some(group) => {
                            compute
                                .create_server_in_group(server_body.clone(), group)
                                .await?
                        }
                        None => compute.create_server(server_body.clone()).await?,
                    };
                    Ok(created.id)
                },
                || async { Ok(find_server(cx, &session, addr).await?.map(|s| s.id)) },
            )
            .await;
            match created {
                Err(e) if !looked_up_afresh && refs::refused_for_catalog(&e) => {
                    tracing::info!(
                        "{addr}: Nova refused the catalog's flavor or image ({e}): looking \
                         them up again"
                    );
                    refs::forget_catalog(cx);
                    looked_up_afresh = true;
                }
                other => break other?,
            }
        };
        let lineage = common::lineage_tag(cx);
        let server = cx
            .cloud
            .admin()
            .compute()
            .wait_status(Some(&lineage), &server_id, SCHEMA.ready, cx.timeout)
            .await
            .map_err(|e| common::wait_error(addr, "ACTIVE", e))?;
        let want = res
            .attrs
            .get("power_state")
            .and_then(Value::as_str)
            .unwrap_or("running");
        if power_state(&server.status) != want {
            set_power(cx, addr, &server_id, &server.status, want).await?;
        }
        if common::bool_attr(res, "floating_ip", false) {
            ensure_floating_ip(cx, addr, session.project_id().as_str(), &server_id).await?;
        }
        let want = volumes::wanted(res, ids)?;
        let have = boot::attached_volumes(cx, &server).await?;
        let project = session.project_id();
        volumes::converge(cx, addr, &server_id, &want, &have, ids, &project).await?;
        Ok(server_id)
    }

    async fn update(
        cx: &Context,
        res: &DesiredResource,
        current: &ObservedResource,
        ids: &Ids,
    ) -> Result<()> {
        let addr = &res.addr;
        let compute = cx.cloud.admin().compute();
        let lineage = common::lineage_tag(cx);
        // Work under way is waited out before anything is asked of the server; what it
        // settles in (ACTIVE after a build) decides the power action, not what the plan saw.
        let mut status = current.status.clone();
        if SCHEMA.is_settling(status.as_deref()) {
            let settled = compute
                .wait_settled(Some(&lineage), &current.id, SCHEMA.settling, cx.timeout)
                .await
                .map_err(|e| common::wait_error(addr, "the end of its work under way", e))?;
            status = Some(settled.status);
        }
        if let Some(settled) = resize::converge_flavor(cx, res, current, status.as_deref()).await? {
            status = Some(settled);
        }
        if let Some(name) = res.attrs.get("name").and_then(Value::as_str)
            && current.attrs.get("name").and_then(Value::as_str) != Some(name)
        {
            compute.rename_server(&current.id, name).await?;
        }
        server_attrs::converge(cx, res, current).await?;
        if res.attrs.contains_key("security_groups")
            && res.attrs.get("security_groups") != current.attrs.get("security_groups")
        {
            let group_ids: Vec<&str> = common::list_attr(res, "security_groups")
                .iter()
                .map(|name| dep_id(ids, Kind::SecurityGroup, name))
                .collect::<Result<_>>()?;
            let api = cx.cloud.admin().network();
            let query = neutron::query(&[("device_id", &current.id)]);
            let ports: Vec<neutron::Port> = api.list(PORTS, &query).await?;
            let port = port_of(&common::lineage_tag(cx), addr, Some(&current.id), &ports)
                .ok_or_else(|| Error::Failed {
                    addr: addr.clone(),
                    message: "the instance has no port to set security groups on".into(),
                })?;
            let _: neutron::Port = api
                .update(PORTS, &port.id, json!({ "security_groups": group_ids }))
                .await?;
        }
        let now = match status.as_deref() {
            Some(status) => power_state(status),
            None => current
                .attrs
                .get("power_state")
                .and_then(Value::as_str)
                .unwrap_or("running")
                .to_string(),
        };
        if let Some(want) = res.attrs.get("power_state").and_then(Value::as_str)
            && now != want
        {
            let status = match status.as_deref() {
                Some(status) => status,
                None if now == "stopped" => "SHUTOFF",
                None => "ACTIVE",
            };
            set_power(cx, addr, &current.id, status, want).await?;
        }
        // Compared by id, not by name: a listed volume the plan replaces keeps its name but
        // is a new volume, to be attached in this same apply.
        if res.attrs.contains_key("volumes") {
            let want = volumes::wanted(res, ids)?;
            let server = compute.get_server(&current.id).await?;
            let have = boot::attached_volumes(cx, &server).await?;
            volumes::converge(cx, addr, &current.id, &want, &have, ids, &server.tenant_id)
                .await?;
        }
        if let Some(want) = res.attrs.get("floating_ip").and_then(Value::as_bool)
            && current.attrs.get("floating_ip").and_then(Value::as_bool) != Some(want)
        {
            if want {
                let project = common::ref_id(res, ids, "tenant", Kind::Tenant)?;
                ensure_floating_ip(cx, addr, project, &current.id).await?;
            } else {
                release_floating_ips(cx, addr).await?;
            }
        }
        Ok(())
    }

    async fn delete(cx: &Context, current: &ObservedResource, _ids: &Ids) -> Result<()> {
        let addr = &current.addr;
        let admin = cx.cloud.admin();
        let lineage = common::lineage_tag(cx);
        // Its floating IP is released first: the address goes back to the pool rather than
        // staying allocated, unassociated, once the port is gone.
        if current.attrs.contains_key("floating_ip_address") {
            release_floating_ips(cx, addr).await?;
        }
        // Nova leaves the port stackform made for the server (it deletes only its own): once
        // unbound, only the tags say it was this instance's. Looked up while the server goes.
        let tags = common::ownership_tags(cx, addr);
        // The ports refresh listed, when it did: a list of its own per instance would be one
        // more call per server for a single neutron-server worker to answer.
        let listed = cx.listed(|l| {
            l.ports.as_ref().map(|all| {
                all.iter()
                    .filter(|p| common::has_tags(&p.tags, &tags))
                    .cloned()
                    .collect::<Vec<_>>()
            })
        });
        let tagged_ports = async {
            if let Some(ports) = listed {
                return Ok(ports);
            }
            let query = neutron::query(&[("tags", &tags.join(","))]);
            let ports: Vec<neutron::Port> = admin.network().list(PORTS, &query).await?;
            Ok::<_, Error>(ports)
        };
        let server_gone = async {
            match admin.compute().delete_server(&current.id).await {
                Err(e) if e.is_not_found() => {}
                other => other?,
            }
            admin
                .compute()
                .wait_deleted(Some(&lineage), &current.id, cx.timeout)
                .await
                .map_err(|e| common::wait_error(addr, "deletion", e))
        };
        let (ports, ()) = tokio::try_join!(tagged_ports, server_gone)?;
        for port in ports.iter().filter(|p| common::has_tags(&p.tags, &tags)) {
            common::delete_port(cx, &port.id).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
