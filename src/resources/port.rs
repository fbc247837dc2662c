//! Ports (Neutron), created in their network's project with one fixed IP on a subnet of it.
//!
//! The ports stackform makes for instances carry `stackform:instance.NAME` tags: they are
//! listed here too, but the matcher keeps only claims of this kind, so they are never ports.

use serde_json::{Value, json};

use super::common::{self, Names, dep_id, gone_ok, name_of, neutron_create_tagged, ref_id};
use super::schema::{Api, Attr, AttrType, KindSchema, Ref, View};
use super::{Context, Ids, KindOps, Listed, Observed, ObservedResource, Result, Scope};
use crate::addr::{Address, Kind};
use crate::diag::{Diagnostic, Diagnostics};
use crate::openstack::network::{self as neutron, NETWORKS, PORTS};
use crate::spec::{Attrs, Desired, DesiredResource};

pub struct Port;

/// A port belongs to its network's tenant; it has no `tenant` attribute of its own.
const SCHEMA: KindSchema = KindSchema {
    plan_check: Some(plan_check),
    ..KindSchema::new(
        "port",
        "a Neutron port with a fixed IP on a subnet, in its network's project",
        Api::neutron("/v2.0/ports"),
        &[
            Attr::new("name", AttrType::Name { max: super::schema::NAME_MAX }),
            Attr::new("description", AttrType::Text { default: "" }),
            Attr::new("network", AttrType::Reference(Ref::to(Kind::Network))).forces_replacement(),
            Attr::new(
                "subnet",
                AttrType::Reference(Ref::to(Kind::Subnet).same_tenant(
                    "use",
                    "a port uses subnets of its own tenant only: pick a subnet of",
                )),
            )
            .forces_replacement(),
            Attr::new(
                "security_groups",
                AttrType::ReferenceSet {
                    to: Ref::to(Kind::SecurityGroup).same_tenant(
                        "use",
                        "a port uses security groups of its own tenant only: pick one of",
                    ),
                    default_empty: false,
                },
            )
            .own_calls(),
            Attr::new("admin_state_up", AttrType::Bool { default: true }),
        ],
    )
    .parent("network")
};

/// The fixed IP's subnet must be on the port's network: Neutron refuses it (400 "fixed_ips
/// included invalid subnet") only once the old port, when replaced, is already gone.
fn plan_check(port: &DesiredResource, desired: &Desired, observed: &Observed, out: &mut Diagnostics) {
    let (Some(network), Some(subnet)) = (
        port.attrs.get("network").and_then(Value::as_str),
        port.attrs.get("subnet").and_then(Value::as_str),
    ) else {
        return;
    };
    let subnet_addr = Address::new(Kind::Subnet, subnet);
    let view = View { desired, observed };
    let Some(on) = view
        .attrs(&subnet_addr)
        .and_then(|a| a.get("network"))
        .and_then(Value::as_str)
    else {
        return;
    };
    if on != network {
        out.push(
            Diagnostic::error(format!(
                "{}: {subnet_addr} is on network.{on}, not on the port's network.{network}",
                port.addr
            ))
            .at(port.span_of("subnet"))
            .help(format!(
                "a port's fixed IP is on a subnet of its network: pick a subnet of \
                 network.{network}, or set network = \"{on}\""
            )),
        );
    }
}

/// Normalized attributes.
pub fn observe(port: &neutron::Port, names: &Names) -> Attrs {
    let mut attrs = Attrs::new();
    attrs.insert("name".into(), json!(port.name));
    attrs.insert(
        "description".into(),
        json!(port.description.clone().unwrap_or_default()),
    );
    attrs.insert(
        "network".into(),
        json!(names.name(Kind::Network, &port.network_id)),
    );
    if let Some(ip) = port.fixed_ips.first() {
        attrs.insert(
            "subnet".into(),
            json!(names.name(Kind::Subnet, &ip.subnet_id)),
        );
    }
    let groups = port
        .security_groups
        .iter()
        .map(|id| names.name(Kind::SecurityGroup, id))
        .collect();
    attrs.insert("security_groups".into(), common::sorted_names(groups));
    attrs.insert(
        "admin_state_up".into(),
        json!(port.admin_state_up.unwrap_or(true)),
    );
    attrs
}

/// The ids of the security groups `res` names.
fn group_ids(res: &DesiredResource, ids: &Ids) -> Result<Vec<String>> {
    common::list_attr(res, "security_groups")
        .iter()
        .map(|name| dep_id(ids, Kind::SecurityGroup, name).map(str::to_string))
        .collect()
}

impl KindOps for Port {
    const SCHEMA: KindSchema = SCHEMA;

    async fn list(cx: &Context, scope: Scope<'_>) -> Result<Vec<Listed>> {
        let Scope::Project(project) = scope else {
            return Ok(Vec::new());
        };
        let no_status = |_: &neutron::Port| None;
        common::list_neutron(cx, PORTS, project, no_status, |p, _, o| observe(p, &o.names)).await
    }

    async fn create(cx: &Context, res: &DesiredResource, ids: &Ids) -> Result<String> {
        let network_id = ref_id(res, ids, "network", Kind::Network)?;
        let subnet_id = ref_id(res, ids, "subnet", Kind::Subnet)?;
        // A port lives in its network's project; the network says which.
        let network: neutron::Network =
            cx.cloud.admin().network().get(NETWORKS, network_id).await?;
        let session = cx.cloud.project_session(&network.project_id).await?;
        let mut body = json!({
            "network_id": network_id,
            "name": name_of(res),
            "description": res.attrs.get("description").and_then(Value::as_str).unwrap_or(""),
            "admin_state_up": common::bool_attr(res, "admin_state_up", true),
            "fixed_ips": [{ "subnet_id": subnet_id }],
        });
        if res.attrs.contains_key("security_groups") {
            body["security_groups"] = json!(group_ids(res, ids)?);
        }
        let tags = common::ownership_tags(cx, &res.addr);
        let port: neutron::Port =
            neutron_create_tagged(&session, PORTS, &res.addr, body, &tags).await?;
        Ok(port.id)
    }

    async fn update(
        cx: &Context,
        res: &DesiredResource,
        current: &ObservedResource,
        ids: &Ids,
    ) -> Result<()> {
        let mut changes = common::body_changes(&SCHEMA, res, current);
        if res.attrs.contains_key("security_groups")
            && res.attrs.get("security_groups") != current.attrs.get("security_groups")
        {
            changes.insert("security_groups".into(), json!(group_ids(res, ids)?));
        }
        if changes.is_empty() {
            return Ok(());
        }
        let _: neutron::Port = cx
            .cloud
            .admin()
            .network()
            .update(PORTS, &current.id, Value::Object(changes))
            .await?;
        Ok(())
    }

    async fn delete(cx: &Context, current: &ObservedResource, _ids: &Ids) -> Result<()> {
        gone_ok(cx.cloud.admin().network().delete(PORTS, &current.id).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observes_references_by_name_and_sorts_groups() {
        let mut names = Names::default();
        names.insert(Kind::Network, "n1", "web");
        names.insert(Kind::Subnet, "s1", "web-v4");
        names.insert(Kind::SecurityGroup, "g1", "ssh");
        names.insert(Kind::SecurityGroup, "g2", "http");
        let port = neutron::Port {
            id: "p1".into(),
            name: "vip".into(),
            network_id: "n1".into(),
            fixed_ips: vec![neutron::FixedIp {
                subnet_id: "s1".into(),
                ip_address: Some("10.0.0.5".into()),
            }],
            security_groups: vec!["g1".into(), "g2".into()],
            ..neutron::Port::default()
        };
        let expected: Attrs = [
            ("name".to_string(), json!("vip")),
            ("description".to_string(), json!("")),
            ("network".to_string(), json!("web")),
            ("subnet".to_string(), json!("web-v4")),
            ("security_groups".to_string(), json!(["http", "ssh"])),
            ("admin_state_up".to_string(), json!(true)),
        ]
        .into();
        assert_eq!(observe(&port, &names), expected);
    }
}
