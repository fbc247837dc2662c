//! Network RBAC policies (Neutron `rbac-policies`): a network of one tenant made usable by
//! another tenant of the spec, by a project of the cloud, or by every project (`*`).
//!
//! Real Neutron (2026.2) gives RBAC policies no standard attributes: a POST with `tags` is
//! refused (400 "Unrecognized attribute(s) 'tags'"), `/rbac-policies/{id}/tags` is 404 and
//! `?tags=` is "invalid attribute for filtering". A policy is therefore known by the id the
//! state records, and a create whose answer was lost is adopted by its content: Neutron keeps
//! one policy per (object, action, target) and answers a second POST with 409
//! DuplicateRbacPolicy, after which the existing one is looked up and taken.
//!
//! Only `target_tenant` changes in place (PUT); `action` and `object_id` are read-only
//! ("Cannot update read-only attribute action").

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::common::{self, Names, gone_ok, ref_id};
use super::schema::{Api, Attr, AttrType, Grant, Implied, KindSchema, Ref, View};
use super::{Context, Error, Ids, KindOps, Listed, Observed, ObservedResource, Result, Scope};
use crate::addr::{Address, Kind};
use crate::diag::{Diagnostic, Diagnostics};
use crate::openstack::network::{self as neutron, RBAC_POLICIES};
use crate::spec::{Attrs, Desired, DesiredResource};

pub struct NetworkRbac;

/// Every project, in `target_tenant`.
pub const WILDCARD: &str = "*";

/// The action that lets the target put ports (and so instances) on the network.
const SHARED: &str = "access_as_shared";

const SCHEMA: KindSchema = KindSchema {
    implicit_dependencies: Some(target_tenant_first),
    plan_check: Some(plan_check),
    quota_usage: Some(|_, _| vec![("rbac_policies", 1)]),
    grant: Some(Grant {
        grants: granted,
        missing: missing_grant,
    }),
    ..KindSchema::new(
        "network_rbac",
        "a Neutron RBAC policy sharing a network with another tenant, a project or everyone",
        Api::neutron("/v2.0/rbac-policies"),
        &[
            Attr::new("network", AttrType::Reference(Ref::to(Kind::Network))).forces_replacement(),
            // A tenant of the spec by name, a project id of the cloud, or `*`: checked in plan.
            Attr::new(
                "target_tenant",
                AttrType::Required {
                    example: "\"<tenant name, project id or *>\"",
                    what: "a tenant of the spec, a project id of the cloud, or \"*\"",
                },
            )
            .own_calls(),
            Attr::new(
                "action",
                AttrType::Choice {
                    values: &[SHARED, "access_as_external"],
                    default: SHARED,
                },
            )
            .forces_replacement()
            .own_calls(),
        ],
    )
    .parent("network")
};

/// The target tenant, when it is one of the spec.
fn target_tenant_addr(attrs: &Attrs) -> Option<Address> {
    let target = attrs.get("target_tenant")?.as_str()?;
    (target != WILDCARD && !target.is_empty()).then(|| Address::new(Kind::Tenant, target))
}

/// A policy naming a tenant of the spec is made once that tenant exists (its id is the
/// policy's target), and removed before it.
fn target_tenant_first(policy: &Address, view: &View<'_>, nodes: &BTreeSet<Address>) -> Vec<Implied> {
    let Some(tenant) = view.attrs(policy).and_then(target_tenant_addr) else {
        return Vec::new();
    };
    if !nodes.contains(&tenant) {
        return Vec::new();
    }
    vec![Implied {
        dependency: tenant.clone(),
        attr: "target_tenant",
        via: tenant,
        relation: "the target of",
    }]
}

/// The network this policy lets `target_tenant` (a tenant name or `*`) use.
fn granted(_: &Address, policy: &Attrs) -> Option<(Address, String)> {
    if policy.get("action").and_then(Value::as_str) != Some(SHARED) {
        return None;
    }
    let network = policy.get("network")?.as_str()?;
    let target = policy.get("target_tenant")?.as_str()?;
    Some((Address::new(Kind::Network, network), target.to_string()))
}

fn missing_grant(network: &Address, tenant: &str) -> String {
    format!(
        "share it with a policy: [network_rbac.NAME] with network = \"{}\", target_tenant = \
         \"{tenant}\" (action \"{SHARED}\" is the default)",
        network.name
    )
}

/// A target that is neither a tenant of the spec, nor a project of the cloud, nor `*` would
/// only fail in the middle of an apply: refused here, before any call.
fn plan_check(policy: &DesiredResource, desired: &Desired, observed: &Observed, out: &mut Diagnostics) {
    let target = policy
        .attrs
        .get("target_tenant")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let action = policy.attrs.get("action").and_then(Value::as_str);
    if target == WILDCARD && action == Some(SHARED) {
        // Neutron's `shared` flag *is* the wildcard access_as_shared policy (setting it makes
        // one, clearing it removes it): two declarations of one thing would fight.
        out.push(
            Diagnostic::error(format!(
                "{}: sharing a network with every project is the network's `shared` flag",
                policy.addr
            ))
            .at(policy.span_of("target_tenant"))
            .help("remove this policy and write shared = true on the network"),
        );
        return;
    }
    if target == WILDCARD
        || desired.get(&Address::new(Kind::Tenant, target)).is_some()
        || observed.projects.contains(target)
    {
        return;
    }
    let problem = if target.is_empty() {
        "has no target_tenant".to_string()
    } else {
        format!("target_tenant `{target}` is neither a tenant of the spec nor a project of the cloud")
    };
    out.push(
        Diagnostic::error(format!("{}: {problem}", policy.addr))
            .at(policy.span_of("target_tenant"))
            .help(
                "write the name of a [tenant.NAME] of the spec, the id of an existing project, \
                 or \"*\" for every project",
            ),
    );
}

/// Normalized attributes: the target as a tenant name when it is one of the spec's.
pub fn observe(policy: &neutron::RbacPolicy, names: &Names) -> Attrs {
    let mut attrs = Attrs::new();
    attrs.insert(
        "network".into(),
        json!(names.name(Kind::Network, &policy.object_id)),
    );
    let target = if policy.target_tenant == WILDCARD {
        WILDCARD.to_string()
    } else {
        names.name(Kind::Tenant, &policy.target_tenant)
    };
    attrs.insert("target_tenant".into(), json!(target));
    attrs.insert("action".into(), json!(policy.action));
    attrs
}

/// The project id `target_tenant` stands for.
fn target_id(res: &DesiredResource, ids: &Ids) -> Result<String> {
    let target = common::str_attr(res, "target_tenant")?;
    if target == WILDCARD {
        return Ok(WILDCARD.to_string());
    }
    let tenant = Address::new(Kind::Tenant, target);
    Ok(ids.get(&tenant).cloned().unwrap_or_else(|| target.to_string()))
}

/// The policy of these values, if the network's project holds one.
async fn find(
    cx: &Context,
    project: &str,
    network_id: &str,
    action: &str,
    target: &str,
) -> Result<Option<neutron::RbacPolicy>, crate::openstack::ApiError> {
    let query = neutron::query(&[
        ("object_id", network_id),
        ("action", action),
        ("target_tenant", target),
        ("project_id", project),
    ]);
    let found: Vec<neutron::RbacPolicy> = cx.cloud.admin().network().list(RBAC_POLICIES, &query).await?;
    Ok(found.into_iter().find(|p| {
        p.object_id == network_id && p.action == action && p.target_tenant == target
    }))
}

impl KindOps for NetworkRbac {
    const SCHEMA: KindSchema = SCHEMA;

    async fn list(cx: &Context, scope: Scope<'_>) -> Result<Vec<Listed>> {
        let Scope::Projects(projects) = scope else {
            return Ok(Vec::new());
        };
        let policies: Vec<neutron::RbacPolicy> =
            common::list_in_projects(cx, RBAC_POLICIES, projects).await?;
        // No tags: only the ids the state records are ours (refresh matches by id).
        Ok(policies
            .into_iter()
            .filter(|p| p.object_type == "network")
            .map(|policy| {
                Listed::new(policy.id.clone(), None, None, move |_, o| {
                    observe(&policy, &o.names)
                })
            })
            .collect())
    }

    /// Made in the network's project by admin (non-admins may not target `*`: 403 on real
    /// Neutron), so the policy counts against the network owner's `rbac_policy` quota.
    async fn create(cx: &Context, res: &DesiredResource, ids: &Ids) -> Result<String> {
        let network_id = ref_id(res, ids, "network", Kind::Network)?;
        let project_id = super::network::project_of(cx, network_id).await?;
        let action = res
            .attrs
            .get("action")
            .and_then(Value::as_str)
            .unwrap_or(SHARED)
            .to_string();
        let target = target_id(res, ids)?;
        let body = json!({
            "object_type": "network",
            "object_id": network_id,
            "action": action,
            "target_tenant": target,
            "project_id": project_id,
        });
        let lookup = || find(cx, &project_id, network_id, &action, &target);
        let created = common::create_or_adopt(
            &res.addr,
            || cx.cloud.admin().network().create::<neutron::RbacPolicy>(RBAC_POLICIES, body.clone()),
            lookup,
        )
        .await;
        match created {
            Ok(policy) => Ok(policy.id),
            // One policy per (network, action, target): the one there is taken.
            Err(Error::Api(e)) if e.is_conflict() && e.message().contains("already exists") => {
                match lookup().await? {
                    Some(policy) => Ok(policy.id),
                    None => Err(Error::Api(e)),
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn update(
        cx: &Context,
        res: &DesiredResource,
        current: &ObservedResource,
        ids: &Ids,
    ) -> Result<()> {
        if res.attrs.get("target_tenant") == current.attrs.get("target_tenant") {
            return Ok(());
        }
        let target = target_id(res, ids)?;
        let _: neutron::RbacPolicy = cx
            .cloud
            .admin()
            .network()
            .update(RBAC_POLICIES, &current.id, json!({ "target_tenant": target }))
            .await?;
        Ok(())
    }

    /// While the target still has ports on the network Neutron refuses (409 RbacPolicyInUse);
    /// the graph removes the target's instances first.
    async fn delete(cx: &Context, current: &ObservedResource, _ids: &Ids) -> Result<()> {
        gone_ok(cx.cloud.admin().network().delete(RBAC_POLICIES, &current.id).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observes_targets_by_tenant_name_else_as_written() {
        let mut names = Names::default();
        names.insert(Kind::Network, "n1", "shared");
        names.insert(Kind::Tenant, "p2", "guest");
        let policy = neutron::RbacPolicy {
            id: "r1".into(),
            project_id: "p1".into(),
            object_type: "network".into(),
            object_id: "n1".into(),
            action: SHARED.into(),
            target_tenant: "p2".into(),
            tags: Vec::new(),
        };
        let expected: Attrs = [
            ("network".to_string(), json!("shared")),
            ("target_tenant".to_string(), json!("guest")),
            ("action".to_string(), json!(SHARED)),
        ]
        .into();
        assert_eq!(observe(&policy, &names), expected);
        let foreign = neutron::RbacPolicy {
            target_tenant: "0123abcd".into(),
            ..policy.clone()
        };
        assert_eq!(observe(&foreign, &names)["target_tenant"], json!("0123abcd"));
        let everyone = neutron::RbacPolicy {
            target_tenant: WILDCARD.into(),
            ..policy
        };
        assert_eq!(observe(&everyone, &names)["target_tenant"], json!("*"));
    }

    #[test]
    fn only_shared_access_grants_use_of_the_network() {
        let attrs = |action: &str| -> Attrs {
            [
                ("network".to_string(), json!("n")),
                ("target_tenant".to_string(), json!("guest")),
                ("action".to_string(), json!(action)),
            ]
            .into()
        };
        assert_eq!(
            granted(&Address::new(Kind::NetworkRbac, "p"), &attrs(SHARED)),
            Some((Address::new(Kind::Network, "n"), "guest".to_string()))
        );
        assert_eq!(
            granted(&Address::new(Kind::NetworkRbac, "p"), &attrs("access_as_external")),
            None
        );
    }
}
