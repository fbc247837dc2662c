//! Nova server groups: a scheduling policy (affinity, anti-affinity and their soft forms) that
//! the servers booted into the group follow. Instances join one at boot (`instance.server_group`,
//! the scheduler hint `group`).
//!
//! Nova keeps no tags and no metadata on a group, and has no update of one: every change
//! replaces it. So stackform names the group after its address, and a group the state does
//! not record is adopted by that name within the spec's projects (a create whose reply was
//! lost, a lost state). Deleting a group with members is allowed by Nova (its members keep
//! running, in no group), so a replaced group replaces its members too: the plan says so
//! through their `server_group`, which forces a new server.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::common::{self, Names, gone_ok};
use super::schema::{Api, Attr, AttrType, KindSchema, ListScope, Ownership, Ref, Service};
use super::{Context, Ids, KindOps, Listed, Observed, ObservedResource, Result, Scope};
use crate::addr::{Address, Kind};
use crate::diag::{Diagnostic, Diagnostics};
use crate::openstack::server_group::ServerGroup as NovaGroup;
use crate::spec::{Attrs, Desired, DesiredResource};

pub struct ServerGroup;

/// Nova's policies (2.64+: one per group).
pub const POLICIES: &[&str] = &["affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity"];

const SCHEMA: KindSchema = KindSchema {
    spec_check: Some(spec_check),
    plan_check: Some(plan_check),
    ..KindSchema::new(
        "server_group",
        "a Nova server group (named after its address: Nova keeps no tags on groups) whose policy the instances booted into it follow",
        Api {
            service: Service::Compute,
            collection: "/os-server-groups",
            scope: ListScope::Tenant,
            ownership: Ownership::Name,
        },
        &[
            Attr::new("tenant", AttrType::Reference(Ref::to(Kind::Tenant))).forces_replacement(),
            // `openstack server group create` defaults to affinity too.
            Attr::new(
                "policy",
                AttrType::Choice {
                    values: POLICIES,
                    default: "affinity",
                },
            )
            .forces_replacement(),
            Attr::new(
                "max_server_per_host",
                AttrType::Integer {
                    min: 1,
                    max: i32::MAX as i64,
                    help: "Nova's anti-affinity rule: how many of the group's servers one host may run (1 when absent)",
                },
            )
            .forces_replacement(),
        ],
    )
    .parent("tenant")
    .quota_usage(|_, _| vec![("server_groups", 1)])
};

/// Nova takes rules only with anti-affinity ("Only anti-affinity policy supports rules."):
/// refused when the spec is read rather than in the middle of an apply.
fn spec_check(
    group: &DesiredResource,
    _: &std::collections::BTreeMap<Address, DesiredResource>,
    out: &mut Diagnostics,
) {
    let policy = group.attrs.get("policy").and_then(Value::as_str);
    if group.attrs.contains_key("max_server_per_host") && policy != Some("anti-affinity") {
        out.push(
            Diagnostic::error(format!(
                "{}: max_server_per_host is a rule of the anti-affinity policy only, not of {}",
                group.addr,
                policy.unwrap_or("affinity")
            ))
            .at(group.span_of("max_server_per_host"))
            .help("set policy = \"anti-affinity\", or remove max_server_per_host"),
        );
    }
}

/// Nova counts `server_group_members` per group: more instances of the spec in one group than
/// the tenant's quota allows would fail at the first server over it.
fn plan_check(group: &DesiredResource, desired: &Desired, _: &Observed, out: &mut Diagnostics) {
    let Some(tenant) = group.attrs.get("tenant").and_then(Value::as_str) else {
        return;
    };
    let Some(limit) = desired
        .resources
        .get(&Address::new(Kind::Tenant, tenant))
        .and_then(|t| t.attrs.get("quotas")?.get("server_group_members")?.as_i64())
        .filter(|l| *l >= 0)
    else {
        return;
    };
    let members = desired
        .resources
        .values()
        .filter(|r| r.addr.kind == Kind::Instance)
        .filter(|r| r.attrs.get("server_group").and_then(Value::as_str) == Some(&group.addr.name))
        .count() as i64;
    if members > limit {
        out.push(
            Diagnostic::error(format!(
                "{}: the spec boots {members} instances into it but tenant.{tenant}'s quotas.server_group_members is {limit}",
                group.addr
            ))
            .at(group.span_of("tenant"))
            .help(format!("raise quotas.server_group_members to at least {members}")),
        );
    }
}

/// Normalized attributes.
pub fn observe(group: &NovaGroup, names: &Names) -> Attrs {
    let mut attrs = Attrs::new();
    attrs.insert(
        "tenant".into(),
        json!(names.name(Kind::Tenant, &group.project_id)),
    );
    attrs.insert("policy".into(), json!(group.policy));
    if let Some(max) = group.max_server_per_host() {
        attrs.insert("max_server_per_host".into(), json!(max));
    }
    attrs
}

/// The address a group of the spec's projects answers to: its name, where that is a server
/// group's address name (see the module's doc: Nova keeps no tags on groups).
fn claim(group: &NovaGroup) -> Option<Address> {
    (!group.name.is_empty()).then(|| Address::new(Kind::ServerGroup, &group.name))
}

/// Server id → the group it was booted into, from the groups' members: the instances read
/// their `server_group` from it (Nova shows a server's groups in its GET only, not in lists).
pub fn members_of(groups: &[NovaGroup]) -> HashMap<String, String> {
    groups
        .iter()
        .flat_map(|g| g.members.iter().map(|m| (m.clone(), g.id.clone())))
        .collect()
}

/// The group named after `addr` in the session's project, for a create whose reply was lost.
async fn find_group(
    session: &crate::openstack::Session,
    addr: &Address,
) -> Result<Option<String>, crate::openstack::ApiError> {
    let groups = session.compute().list_server_groups(false).await?;
    Ok(groups
        .into_iter()
        .find(|g| g.name == addr.name && g.project_id == session.project_id().as_str())
        .map(|g| g.id))
}

impl KindOps for ServerGroup {
    const SCHEMA: KindSchema = SCHEMA;

    async fn list(cx: &Context, scope: Scope<'_>) -> Result<Vec<Listed>> {
        let Scope::Projects(projects) = scope else {
            return Ok(Vec::new());
        };
        if projects.ids().is_empty() {
            return Ok(Vec::new());
        }
        let mut groups = cx.cloud.admin().compute().list_server_groups(true).await?;
        groups.retain(|g| projects.contains(&g.project_id));
        let members = members_of(&groups);
        cx.record_listed(|l| l.server_group_members = Some(members));
        Ok(groups
            .into_iter()
            .map(|group| {
                Listed::new(group.id.clone(), claim(&group), None, move |_, o| {
                    observe(&group, &o.names)
                })
            })
            .collect())
    }

    async fn create(cx: &Context, res: &DesiredResource, ids: &Ids) -> Result<String> {
        let session = common::tenant_session(cx, res, ids).await?;
        let policy = common::str_attr(res, "policy")?;
        let rules = match res.attrs.get("max_server_per_host") {
            Some(max) => json!({ "max_server_per_host": max }),
            None => json!({}),
        };
        let addr = &res.addr;
        common::create_or_adopt(
            addr,
            || async {
                Ok(session
                    .compute()
                    .create_server_group(&addr.name, policy, rules.clone())
                    .await?
                    .id)
            },
            || find_group(&session, addr),
        )
        .await
    }

    /// Every attribute forces a replacement: Nova cannot change a group.
    async fn update(
        _: &Context,
        _: &DesiredResource,
        _: &ObservedResource,
        _: &Ids,
    ) -> Result<()> {
        Ok(())
    }

    async fn delete(cx: &Context, current: &ObservedResource, _ids: &Ids) -> Result<()> {
        gone_ok(
            cx.cloud
                .admin()
                .compute()
                .delete_server_group(&current.id)
                .await,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observes_policy_rules_and_tenant_and_claims_by_name() {
        let mut names = Names::default();
        names.insert(Kind::Tenant, "p1", "demo");
        let group = NovaGroup {
            id: "g1".into(),
            name: "spread".into(),
            policy: "anti-affinity".into(),
            rules: [("max_server_per_host".to_string(), json!(2))].into(),
            members: vec!["s1".into(), "s2".into()],
            project_id: "p1".into(),
        };
        let expected: Attrs = [
            ("tenant".to_string(), json!("demo")),
            ("policy".to_string(), json!("anti-affinity")),
            ("max_server_per_host".to_string(), json!(2)),
        ]
        .into();
        assert_eq!(observe(&group, &names), expected);
        assert_eq!(claim(&group), Some(Address::new(Kind::ServerGroup, "spread")));
        let members = members_of(std::slice::from_ref(&group));
        assert_eq!(members.get("s2").map(String::as_str), Some("g1"));
    }
}
