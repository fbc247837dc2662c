//! Networks (Neutron), created in their tenant's project.

use serde_json::{Value, json};

use super::common::{self, Names, gone_ok, name_of, neutron_create_tagged, tenant_session};
use super::schema::{Api, Attr, AttrType, Grant, KindSchema, Ref};
use super::{Context, Ids, KindOps, Listed, ObservedResource, Result, Scope};
use crate::addr::{Address, Kind};
use crate::openstack::network::{self as neutron, NETWORKS, PORTS};
use super::Observed;
use crate::diag::{Diagnostic, Diagnostics};
use crate::spec::{Attrs, Desired, DesiredResource};

pub struct Network;

const SCHEMA: KindSchema = KindSchema {
    plan_check: Some(plan_check),
    grant: Some(Grant {
        grants: shared_with_everyone,
        missing: missing_share,
    }),
    ..KindSchema::new(
    "network",
    "a Neutron network in its tenant's project",
    Api::neutron("/v2.0/networks"),
    &[
        Attr::new("name", AttrType::Name { max: super::schema::NAME_MAX }),
        Attr::new("description", AttrType::Text { default: "" }),
        Attr::new("tenant", AttrType::Reference(Ref::to(Kind::Tenant))).forces_replacement(),
        Attr::new("admin_state_up", AttrType::Bool { default: true }),
        // Setting it is admin-only in Neutron: the network is created without it, and admin
        // sets it (which makes or removes Neutron's wildcard access_as_shared RBAC policy).
        Attr::new("shared", AttrType::Bool { default: false }),
        // Ports made on the network inherit it.
        Attr::new("port_security_enabled", AttrType::Bool { default: true }),
        // Only on clouds with Neutron's dns-integration extension (checked in plan).
        Attr::new(
            "dns_domain",
            AttrType::OptionalText {
                what: "a DNS domain ending in a dot, where the cloud has dns-integration",
            },
        ),
        Attr::new(
            "mtu",
            AttrType::Integer {
                min: 68,
                max: 9000,
                help: "68 is the IPv4 minimum and 9000 the usual jumbo frame size; 1500 is standard Ethernet",
            },
        ),
    ],
)
.parent("tenant")
.statuses(&["ACTIVE"], &["ERROR"])
.quota_usage(|_, _| vec![("network_count", 1)])
};

/// The extension a network's `dns_domain` needs.
const DNS_INTEGRATION: &str = "dns-integration";

/// `dns_domain` exists only where Neutron has dns-integration: elsewhere the create would be
/// refused ("Unrecognized attribute(s) 'dns_domain'") in the middle of an apply.
fn plan_check(network: &DesiredResource, _: &Desired, observed: &Observed, out: &mut Diagnostics) {
    if network.attrs.contains_key("dns_domain")
        && !observed.network_extensions.contains(DNS_INTEGRATION)
    {
        out.push(
            Diagnostic::error(format!(
                "{}: dns_domain needs Neutron's {DNS_INTEGRATION} extension, which this cloud does not have",
                network.addr
            ))
            .at(network.span_of("dns_domain"))
            .help("remove dns_domain, or ask the cloud's operator to enable dns-integration"),
        );
    }
}

/// A shared network is usable by every project.
fn shared_with_everyone(network: &Address, attrs: &Attrs) -> Option<(Address, String)> {
    (attrs.get("shared") == Some(&Value::Bool(true))).then(|| (network.clone(), "*".to_string()))
}

fn missing_share(network: &Address, tenant: &str) -> String {
    format!(
        "share {network} with tenant.{tenant}: add a [network_rbac.NAME] with network = \"{}\" \
         and target_tenant = \"{tenant}\", or set shared = true on {network}",
        network.name
    )
}

/// Normalized attributes.
pub fn observe(network: &neutron::Network, names: &Names) -> Attrs {
    let mut attrs = Attrs::new();
    attrs.insert("name".into(), json!(network.name));
    attrs.insert(
        "description".into(),
        json!(network.description.clone().unwrap_or_default()),
    );
    attrs.insert(
        "tenant".into(),
        json!(names.name(Kind::Tenant, &network.project_id)),
    );
    attrs.insert(
        "admin_state_up".into(),
        json!(network.admin_state_up.unwrap_or(true)),
    );
    if let Some(mtu) = network.mtu {
        attrs.insert("mtu".into(), json!(mtu));
    }
    attrs.insert("shared".into(), json!(network.shared.unwrap_or(false)));
    if let Some(domain) = &network.dns_domain {
        attrs.insert("dns_domain".into(), json!(domain));
    }
    attrs.insert(
        "port_security_enabled".into(),
        json!(network.port_security_enabled.unwrap_or(true)),
    );
    attrs
}

/// Keeps a network as listed or created, so that its subnets' creates know its project
/// without asking Neutron again.
fn keep_network(listings: &std::sync::RwLock<super::Listings>, network: &neutron::Network) {
    listings
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .keep(&network.id, network.clone());
}

/// The project of network `id`: as this run listed or created it, else as Neutron says.
pub async fn project_of(cx: &Context, id: &str) -> Result<String> {
    let kept = cx
        .listings
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .object::<neutron::Network>(id);
    Ok(match kept {
        Some(network) => network.project_id.clone(),
        None => {
            let network: neutron::Network = cx.cloud.admin().network().get(NETWORKS, id).await?;
            network.project_id
        }
    })
}

impl KindOps for Network {
    const SCHEMA: KindSchema = SCHEMA;

    async fn list(cx: &Context, scope: Scope<'_>) -> Result<Vec<Listed>> {
        let listings = cx.listings.clone();
        common::list_neutron(
            cx,
            NETWORKS,
            scope,
            |n: &neutron::Network| Some(&n.status),
            move |n, _, o| {
                keep_network(&listings, n);
                observe(n, &o.names)
            },
        )
        .await
    }

    async fn create(cx: &Context, res: &DesiredResource, ids: &Ids) -> Result<String> {
        let session = tenant_session(cx, res, ids).await?;
        let mut body = json!({
            "name": name_of(res),
            "description": res.attrs.get("description").and_then(Value::as_str).unwrap_or(""),
            "admin_state_up": common::bool_attr(res, "admin_state_up", true),
            "port_security_enabled": common::bool_attr(res, "port_security_enabled", true),
        });
        if let Some(mtu) = res.attrs.get("mtu") {
            body["mtu"] = mtu.clone();
        }
        if let Some(domain) = res.attrs.get("dns_domain") {
            body["dns_domain"] = domain.clone();
        }
        let tags = common::ownership_tags(cx, &res.addr);
        let network: neutron::Network =
            neutron_create_tagged(&session, NETWORKS, &res.addr, body, &tags).await?;
        keep_network(&cx.listings, &network);
        // A project member may not create a shared network (403 "create_network:shared").
        if common::bool_attr(res, "shared", false) {
            let _: neutron::Network = cx
                .cloud
                .admin()
                .network()
                .update(NETWORKS, &network.id, json!({ "shared": true }))
                .await?;
        }
        Ok(network.id)
    }

    async fn update(
        cx: &Context,
        res: &DesiredResource,
        current: &ObservedResource,
        _ids: &Ids,
    ) -> Result<()> {
        let changes = common::body_changes(&SCHEMA, res, current);
        if changes.is_empty() {
            return Ok(());
        }
        let _: neutron::Network = cx
            .cloud
            .admin()
            .network()
            .update(NETWORKS, &current.id, Value::Object(changes))
            .await?;
        Ok(())
    }

    /// Unbound ports stackform made for instances on the network (one left by a failed
    /// create) would block the delete: remove them first. A `[port.NAME]` is the planner's
    /// to delete, never removed behind its back. Bound ones are left, so a port in
    /// use makes Neutron refuse with its own clear message.
    async fn delete(cx: &Context, current: &ObservedResource, _ids: &Ids) -> Result<()> {
        let api = cx.cloud.admin().network();
        // Asked at once: with its subnets gone, the network has no port left in a destroy.
        match api.delete(NETWORKS, &current.id).await {
            Err(e) if e.is_conflict() => {}
            other => return gone_ok(other),
        }
        let lineage = common::lineage_tag(cx);
        let query = neutron::query(&[("network_id", &current.id), ("tags", &lineage)]);
        let ports: Vec<neutron::Port> = match api.list(PORTS, &query).await {
            Err(e) if e.is_not_found() => return Ok(()),
            other => other?,
        };
        for port in ports.iter().filter(|p| {
            p.network_id == current.id
                && common::is_instance_port(&lineage, p)
                && p.device_id.is_empty()
        }) {
            common::delete_port(cx, &port.id).await?;
        }
        gone_ok(api.delete(NETWORKS, &current.id).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observes_references_by_name_and_defaults() {
        let mut names = Names::default();
        names.insert(Kind::Tenant, "p1", "demo");
        let network = neutron::Network {
            id: "n1".into(),
            name: "web".into(),
            description: None,
            project_id: "p1".into(),
            admin_state_up: Some(true),
            mtu: Some(1450),
            ..neutron::Network::default()
        };
        let expected: Attrs = [
            ("name".to_string(), json!("web")),
            ("description".to_string(), json!("")),
            ("tenant".to_string(), json!("demo")),
            ("admin_state_up".to_string(), json!(true)),
            ("mtu".to_string(), json!(1450)),
            ("shared".to_string(), json!(false)),
            ("port_security_enabled".to_string(), json!(true)),
        ]
        .into();
        assert_eq!(observe(&network, &names), expected);

        let foreign = neutron::Network {
            project_id: "other-project".into(),
            ..network
        };
        assert_eq!(observe(&foreign, &names)["tenant"], json!("other-project"));
    }
}
