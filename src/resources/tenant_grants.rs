//! A tenant's `users`: Keystone role grants of existing users on the tenant's project.
//!
//! stackform manages exactly the (user, role) pairs of the users the spec lists, and of the
//! users it granted roles before (the state's record of the tenant remembers them): a user
//! removed from the list has its roles revoked. Assignments of any other user (the admin, the
//! tenant's own user) are never read into the plan, so never touched.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::common::gone_ok;
use super::{Context, Error, Observed, Result};
use crate::addr::Address;
use crate::diag::{Diagnostic, Diagnostics};
use crate::openstack::ApiError;
use crate::openstack::identity::User;
use crate::spec::grant_fields::role_span_key;
use crate::spec::port_fields::entry_span_key;
use crate::spec::{Desired, DesiredResource};
use crate::store::Record;

/// The tenant attribute holding the grants.
pub const ATTR: &str = "users";

/// Keystone's user and role names, pulled when the spec grants roles: the plan checks the
/// names it writes against them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KeystoneNames {
    pub users: BTreeSet<String>,
    pub roles: BTreeSet<String>,
}

/// (user, role) pairs.
type Pairs = BTreeSet<(String, String)>;

/// The pairs of a normalized `users` value (`[{ name, roles }]`).
pub fn pairs(value: Option<&Value>) -> Pairs {
    let mut out = Pairs::new();
    for entry in value.and_then(Value::as_array).into_iter().flatten() {
        let Some(user) = entry.get("name").and_then(Value::as_str) else {
            continue;
        };
        for role in entry
            .get("roles")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(role) = role.as_str() {
                out.insert((user.to_string(), role.to_string()));
            }
        }
    }
    out
}

/// The normalized `users` value of some pairs: sorted by user, each user's roles sorted.
fn value_of(pairs: &Pairs) -> Value {
    let mut users: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (user, role) in pairs {
        users.entry(user).or_default().push(role);
    }
    Value::Array(
        users
            .into_iter()
            .map(|(name, roles)| json!({ "name": name, "roles": roles }))
            .collect(),
    )
}

fn user_names(value: Option<&Value>) -> BTreeSet<String> {
    pairs(value).into_iter().map(|(user, _)| user).collect()
}

/// The users the state says stackform granted roles to, per tenant.
pub fn remembered(records: &[Record]) -> BTreeMap<Address, BTreeSet<String>> {
    let tenant = super::schema::tenant_kind();
    records
        .iter()
        .filter(|r| r.addr.kind == tenant)
        .map(|r| (r.addr.clone(), user_names(r.attrs.get(ATTR))))
        .filter(|(_, users)| !users.is_empty())
        .collect()
}

/// After refresh: a tenant that no longer lists users it granted roles before manages an
/// empty list (so their roles are revoked); each tenant that manages grants gets the
/// observed grants of its managed users (those listed, and those remembered); Keystone's
/// user and role names are pulled when the spec grants any.
pub async fn observe(
    cx: &Context,
    desired: &mut Desired,
    observed: &mut Observed,
    remembered: &BTreeMap<Address, BTreeSet<String>>,
) -> Result<(), ApiError> {
    let tenant_kind = super::schema::tenant_kind();
    let mut managed: Vec<(Address, BTreeSet<String>)> = Vec::new();
    for resource in desired.resources.values_mut() {
        if resource.addr.kind != tenant_kind {
            continue;
        }
        let before = remembered.get(&resource.addr).cloned().unwrap_or_default();
        if !resource.attrs.contains_key(ATTR) {
            if before.is_empty() {
                continue;
            }
            resource.attrs.insert(ATTR.to_string(), json!([]));
        }
        let mut users = user_names(resource.attrs.get(ATTR));
        users.extend(before);
        managed.push((resource.addr.clone(), users));
    }
    let admin = cx.cloud.admin();
    let reads = managed.iter().filter_map(|(addr, users)| {
        let project = observed.resources.get(addr)?.id.clone();
        Some(async move {
            let assignments = admin.identity().project_assignments(&project).await?;
            let held: Pairs = assignments
                .into_iter()
                .filter_map(|a| Some((a.user?.name?, a.role.name?)))
                .filter(|(user, _)| users.contains(user))
                .collect();
            Ok::<_, ApiError>((addr.clone(), value_of(&held)))
        })
    });
    for (addr, value) in futures_util::future::try_join_all(reads).await? {
        if let Some(resource) = observed.resources.get_mut(&addr) {
            resource.attrs.insert(ATTR.to_string(), value);
        }
    }
    let grants_any = desired
        .of_kind(tenant_kind)
        .any(|t| !pairs(t.attrs.get(ATTR)).is_empty());
    if grants_any {
        let (users, roles) = tokio::try_join!(
            admin.identity().list_users(&[]),
            admin.identity().list_roles()
        )?;
        observed.keystone_names = Some(KeystoneNames {
            users: users.into_iter().map(|u| u.name).collect(),
            roles: roles.into_iter().map(|r| r.name).collect(),
        });
    }
    Ok(())
}

/// Users and roles the tenant names must exist in Keystone: else a located error listing
/// the known ones, closest first. Without the names (not pulled) nothing is checked.
pub fn check(tenant: &DesiredResource, observed: &Observed, out: &mut Diagnostics) {
    let Some(known) = &observed.keystone_names else {
        return;
    };
    let mut users_seen = BTreeSet::new();
    for (user, role) in pairs(tenant.attrs.get(ATTR)) {
        if users_seen.insert(user.clone()) && !known.users.contains(&user) {
            out.push(
                Diagnostic::error(format!(
                    "{}: user `{user}` is not a Keystone user",
                    tenant.addr
                ))
                .at(tenant.span_of(&entry_span_key(ATTR, &user, "name")))
                .help(listed("Keystone users", &user, &known.users)),
            );
        }
        if !known.roles.contains(&role) {
            out.push(
                Diagnostic::error(format!(
                    "{}: role `{role}` (for user `{user}`) is not a Keystone role",
                    tenant.addr
                ))
                .at(tenant.span_of(&role_span_key(ATTR, &user, &role)))
                .help(listed("Keystone roles", &role, &known.roles)),
            );
        }
    }
}

/// "Keystone roles: member, reader, admin": the known names, closest to `wanted` first.
fn listed(what: &str, wanted: &str, known: &BTreeSet<String>) -> String {
    let mut closest: Vec<&str> = known.iter().map(String::as_str).collect();
    closest.sort_by_key(|candidate| (strsim::osa_distance(wanted, candidate), *candidate));
    if closest.is_empty() {
        return format!("the cloud has no {what}");
    }
    format!("{what}: {}", closest.join(", "))
}

/// The plan's words for a change of grants: "grant member to alice", "revoke reader from bob".
pub fn describe(before: Option<&Value>, after: Option<&Value>) -> Vec<String> {
    let (had, wants) = (pairs(before), pairs(after));
    let grants = wants
        .difference(&had)
        .map(|(user, role)| format!("grant {role} to {user}"));
    let revokes = had
        .difference(&wants)
        .map(|(user, role)| format!("revoke {role} from {user}"));
    grants.chain(revokes).collect()
}

/// Grants what `desired` lists and `current` lacks, and revokes what `current` holds and
/// `desired` no longer lists. `desired` None: the grants are not managed.
pub async fn apply(
    cx: &Context,
    addr: &Address,
    project: &str,
    desired: Option<&Value>,
    current: Option<&Value>,
) -> Result<()> {
    if desired.is_none() {
        return Ok(());
    }
    let (wants, had) = (pairs(desired), pairs(current));
    let grants: Vec<&(String, String)> = wants.difference(&had).collect();
    let revokes: Vec<&(String, String)> = had.difference(&wants).collect();
    if grants.is_empty() && revokes.is_empty() {
        return Ok(());
    }
    let identity = cx.cloud.admin().identity();
    let names: BTreeSet<&str> = grants
        .iter()
        .chain(&revokes)
        .map(|(user, _)| user.as_str())
        .collect();
    let domain = cx.cloud.admin().project_domain_id();
    let lookups = names.iter().map(|name| async {
        let query = [("name".to_string(), name.to_string())];
        let found = identity.list_users(&query).await?;
        Ok::<_, ApiError>((name.to_string(), pick_user(found, domain.as_deref())))
    });
    let (users, roles) = tokio::try_join!(
        futures_util::future::try_join_all(lookups),
        identity.list_roles()
    )?;
    let users: BTreeMap<String, Option<User>> = users.into_iter().collect();
    let roles: BTreeMap<String, String> = roles.into_iter().map(|r| (r.name, r.id)).collect();
    let resolve = |user: &str, role: &str| -> Result<(String, String)> {
        let user_id = users
            .get(user)
            .and_then(|u| u.as_ref())
            .map(|u| u.id.clone())
            .ok_or_else(|| Error::Failed {
                addr: addr.clone(),
                message: format!("Keystone has no user `{user}` to grant or revoke roles"),
            })?;
        let role_id = roles.get(role).cloned().ok_or_else(|| Error::Failed {
            addr: addr.clone(),
            message: format!("Keystone has no role `{role}`"),
        })?;
        Ok((user_id, role_id))
    };
    for (user, role) in grants {
        let (user_id, role_id) = resolve(user, role)?;
        identity
            .grant_project_role(project, &user_id, &role_id)
            .await?;
    }
    for (user, role) in revokes {
        // A user or role deleted since holds nothing left to revoke.
        let Ok((user_id, role_id)) = resolve(user, role) else {
            continue;
        };
        gone_ok(
            identity
                .revoke_project_role(project, &user_id, &role_id)
                .await,
        )?;
    }
    Ok(())
}

/// The user of that name: the one in the domain stackform's project lives in when several
/// domains hold the name.
fn pick_user(found: Vec<User>, domain: Option<&str>) -> Option<User> {
    let in_domain = found.iter().position(|u| u.domain_id.as_deref() == domain);
    match in_domain {
        Some(i) => found.into_iter().nth(i),
        None => found.into_iter().next(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_grants_then_revocations() {
        let before = json!([{ "name": "alice", "roles": ["reader"] }, { "name": "bob", "roles": ["member", "reader"] }]);
        let after = json!([{ "name": "alice", "roles": ["member", "reader"] }, { "name": "bob", "roles": ["member"] }]);
        assert_eq!(
            describe(Some(&before), Some(&after)),
            ["grant member to alice", "revoke reader from bob"]
        );
    }

    #[test]
    fn normalized_value_sorts_users_and_roles() {
        let pairs: Pairs = [("bob", "reader"), ("alice", "reader"), ("alice", "member")]
            .into_iter()
            .map(|(u, r)| (u.to_string(), r.to_string()))
            .collect();
        assert_eq!(
            value_of(&pairs),
            json!([{ "name": "alice", "roles": ["member", "reader"] }, { "name": "bob", "roles": ["reader"] }])
        );
    }

    #[test]
    fn lists_known_names_closest_first() {
        let known: BTreeSet<String> = ["admin", "member", "reader"].map(String::from).into();
        assert_eq!(
            listed("Keystone roles", "membr", &known),
            "Keystone roles: member, admin, reader"
        );
    }
}
