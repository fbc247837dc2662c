//! Tenants: Keystone projects, with Nova and Neutron quotas. stackform grants its own user
//! the `member` role on each tenant it creates, so it can act inside with a project token.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::common::{self, bool_attr, create_or_adopt, gone_ok, name_of};
use super::{Context, Error, Ids, KindOps, ObservedResource, Result};
use crate::openstack::identity::Project;
use crate::openstack::network::{self as neutron, SECURITY_GROUPS};
use crate::spec::{Attrs, DesiredResource};

pub struct Tenant;

/// The role stackform gives itself on the tenants it creates.
const MEMBER_ROLE: &str = "member";

/// Spec quota key → Nova quota-set key.
const NOVA_QUOTAS: &[(&str, &str)] = &[
    ("instances", "instances"),
    ("vcpu", "cores"),
    ("ram", "ram"),
    ("key_pairs", "key_pairs"),
];

/// Spec quota key → Neutron quota key.
const NEUTRON_QUOTAS: &[(&str, &str)] = &[
    ("networks", "network"),
    ("subnets", "subnet"),
    ("routers", "router"),
    ("ports", "port"),
    ("security_groups", "security_group"),
    ("security_group_rules", "security_group_rule"),
    ("floatingips", "floatingip"),
];

/// Normalized attributes of a project and its quotas (ATTRS.md "tenant").
pub fn observe(
    project: &Project,
    nova_quotas: Option<&BTreeMap<String, i64>>,
    neutron_quotas: Option<&BTreeMap<String, i64>>,
) -> Attrs {
    let mut attrs = Attrs::new();
    attrs.insert("name".into(), json!(project.name));
    attrs.insert(
        "description".into(),
        json!(project.description.clone().unwrap_or_default()),
    );
    attrs.insert("enabled".into(), json!(project.enabled.unwrap_or(true)));
    let mut quotas = Map::new();
    for (table, service) in [(NOVA_QUOTAS, nova_quotas), (NEUTRON_QUOTAS, neutron_quotas)] {
        let Some(service) = service else { continue };
        for (spec_key, service_key) in table {
            if let Some(limit) = service.get(*service_key) {
                quotas.insert(spec_key.to_string(), json!(limit));
            }
        }
    }
    if !quotas.is_empty() {
        attrs.insert("quotas".into(), Value::Object(quotas));
    }
    attrs
}

/// The quota changes to send, per service: desired keys whose value differs from current.
fn quota_changes(
    desired: &Map<String, Value>,
    current: Option<&Map<String, Value>>,
    table: &[(&str, &str)],
) -> BTreeMap<String, i64> {
    table
        .iter()
        .filter_map(|(spec_key, service_key)| {
            let want = desired.get(*spec_key)?.as_i64()?;
            let have = current
                .and_then(|c| c.get(*spec_key))
                .and_then(Value::as_i64);
            (have != Some(want)).then(|| (service_key.to_string(), want))
        })
        .collect()
}

async fn set_quotas(
    cx: &Context,
    project_id: &str,
    desired: Option<&Value>,
    current: Option<&Value>,
) -> Result<()> {
    let Some(desired) = desired.and_then(Value::as_object) else {
        return Ok(());
    };
    let current = current.and_then(Value::as_object);
    let admin = cx.cloud.admin();
    let nova = quota_changes(desired, current, NOVA_QUOTAS);
    if !nova.is_empty() {
        admin.compute().update_quotas(project_id, &nova).await?;
    }
    let neutron = quota_changes(desired, current, NEUTRON_QUOTAS);
    if !neutron.is_empty() {
        admin.network().update_quotas(project_id, &neutron).await?;
    }
    Ok(())
}

impl KindOps for Tenant {
    async fn create(cx: &Context, res: &DesiredResource, _ids: &Ids) -> Result<String> {
        let admin = cx.cloud.admin();
        let tags = common::ownership_tags(cx, &res.addr);
        let mut body = json!({
            "name": name_of(res),
            "description": res.attrs.get("description").and_then(Value::as_str).unwrap_or(""),
            "enabled": bool_attr(res, "enabled", true),
            "tags": tags,
        });
        if let Some(domain) = admin.project_domain_id() {
            body["domain_id"] = json!(domain);
        }
        let find = || async {
            let query = [("tags".to_string(), tags.join(","))];
            let found = admin.identity().list_projects(&query).await?;
            Ok(found.into_iter().find(|p| common::has_tags(&p.tags, &tags)))
        };
        let project = create_or_adopt(
            &res.addr,
            || admin.identity().create_project(body.clone()),
            find,
        )
        .await?;

        let role = admin
            .identity()
            .find_role(MEMBER_ROLE)
            .await?
            .ok_or_else(|| Error::Failed {
                addr: res.addr.clone(),
                message: format!(
                    "Keystone has no `{MEMBER_ROLE}` role to grant stackform's user on the new project"
                ),
            })?;
        admin
            .identity()
            .grant_project_role(&project.id, &admin.user_id(), &role.id)
            .await?;
        set_quotas(cx, &project.id, res.attrs.get("quotas"), None).await?;
        Ok(project.id)
    }

    async fn update(
        cx: &Context,
        res: &DesiredResource,
        current: &ObservedResource,
        _ids: &Ids,
    ) -> Result<()> {
        let changes: Map<String, Value> = common::changed(
            &res.attrs,
            &current.attrs,
            &["name", "description", "enabled"],
        )
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
        let admin = cx.cloud.admin();
        if !changes.is_empty() {
            admin
                .identity()
                .update_project(&current.id, Value::Object(changes))
                .await?;
        }
        set_quotas(
            cx,
            &current.id,
            res.attrs.get("quotas"),
            current.attrs.get("quotas"),
        )
        .await
    }

    async fn delete(cx: &Context, current: &ObservedResource, _ids: &Ids) -> Result<()> {
        // Neutron creates a `default` security group for every project that uses it and never
        // removes it when the project goes (seen on real Neutron 2026.2): without this, each
        // destroyed tenant would leave an orphan group behind.
        let admin = cx.cloud.admin();
        let query = neutron::query(&[("project_id", &current.id), ("name", "default")]);
        let groups: Vec<neutron::SecurityGroup> =
            admin.network().list(SECURITY_GROUPS, &query).await?;
        for group in groups.iter().filter(|g| g.project_id == current.id) {
            gone_ok(admin.network().delete(SECURITY_GROUPS, &group.id).await)?;
        }
        gone_ok(
            cx.cloud
                .admin()
                .identity()
                .delete_project(&current.id)
                .await,
        )?;
        cx.cloud.forget_project(&current.id).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observes_project_and_quotas_with_spec_keys() {
        let project = Project {
            id: "p1".into(),
            name: "demo".into(),
            description: None,
            enabled: Some(true),
            domain_id: Some("default".into()),
            tags: vec![],
        };
        let nova: BTreeMap<String, i64> = [
            ("cores".to_string(), 20),
            ("instances".to_string(), 10),
            ("ram".to_string(), 51200),
            ("key_pairs".to_string(), 100),
            ("metadata_items".to_string(), 128),
        ]
        .into();
        let neutron: BTreeMap<String, i64> =
            [("network".to_string(), 5), ("floatingip".to_string(), -1)].into();
        let attrs = observe(&project, Some(&nova), Some(&neutron));
        let expected: Attrs = [
            ("name".to_string(), json!("demo")),
            ("description".to_string(), json!("")),
            ("enabled".to_string(), json!(true)),
            (
                "quotas".to_string(),
                json!({"instances": 10, "vcpu": 20, "ram": 51200, "key_pairs": 100,
                       "networks": 5, "floatingips": -1}),
            ),
        ]
        .into();
        assert_eq!(attrs, expected);
    }

    #[test]
    fn quota_changes_send_only_differing_keys_with_service_names() {
        let desired = json!({"vcpu": 8, "instances": 10, "networks": 3});
        let current = json!({"vcpu": 20, "instances": 10, "networks": 10});
        let nova = quota_changes(
            desired.as_object().unwrap(),
            current.as_object(),
            NOVA_QUOTAS,
        );
        assert_eq!(nova, [("cores".to_string(), 8)].into());
        let neutron = quota_changes(
            desired.as_object().unwrap(),
            current.as_object(),
            NEUTRON_QUOTAS,
        );
        assert_eq!(neutron, [("network".to_string(), 3)].into());
    }
}
