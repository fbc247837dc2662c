//! A tenant's own Keystone user: made with the tenant, with a random password and the member
//! role on it, so that what belongs to a user in OpenStack (keypairs) belongs to the tenant.
//! Its credentials are kept sealed in the state folder ([`CredentialVault`]), never printed.

use serde_json::json;

use super::common::{self, gone_ok};
use super::{Context, Error, Result};
use crate::addr::Address;
use crate::openstack::identity::Project;
use crate::store::credentials::{self, CredentialVault, TenantCredentials};

/// How many hex digits of the project id follow `<tenant>-user-`. Derived, not random: a
/// create whose reply was lost, or a state rebuilt by `state recover`, finds the user again by
/// name (see [`adopt`]); two tenants of the same name on one cloud (other states) still differ.
const SUFFIX_LEN: usize = 8;

fn vault_error(addr: &Address, e: crate::store::StoreError) -> Error {
    Error::Failed {
        addr: addr.clone(),
        message: format!("cannot keep the tenant user's credentials: {e}"),
    }
}

/// The own user's name of `project`: `<tenant>-user-<first hex digits of the project id>`.
pub fn user_name(project: &Project) -> String {
    let suffix: String = project
        .id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(SUFFIX_LEN)
        .collect::<String>()
        .to_ascii_lowercase();
    format!("{}-user-{suffix}", project.name)
}

/// Makes `project`'s own user and grants it `role_id`, unless the state already keeps one for
/// this project. A user of that name whose default project is this one, but whose password
/// the state does not keep (a create whose reply was lost, a recovered state), is adopted:
/// its password is reset, since the old one was never kept.
pub async fn create(
    cx: &Context,
    vault: &CredentialVault,
    addr: &Address,
    project: &Project,
    role_id: &str,
) -> Result<()> {
    let key = addr.to_string();
    let kept = vault.get(&key).map_err(|e| vault_error(addr, e))?;
    if let Some(kept) = kept.filter(|c| c.project_id == project.id) {
        return grant(cx, &project.id, &kept.user_id, role_id).await;
    }
    let admin = cx.cloud.admin();
    let password = credentials::random_password().map_err(|e| vault_error(addr, e))?;
    let user_name = user_name(project);
    let domain = project
        .domain_id
        .clone()
        .or_else(|| admin.project_domain_id());
    let mut body = json!({
        "name": user_name,
        "password": password,
        "default_project_id": project.id,
        "enabled": true,
        "description": format!("the own user of stackform's {addr} (lineage {})", cx.lineage),
    });
    if let Some(domain) = &domain {
        body["domain_id"] = json!(domain);
    }
    // Made straight away (the name is new with the project); a lost reply is resolved by the
    // name, which is this project's alone, and the user the lost create made has the password
    // sent with it.
    let created = common::create_or_adopt(
        addr,
        || async { Ok(admin.identity().create_user(body.clone()).await?.id) },
        || find(cx, &user_name, domain.as_deref(), &project.id),
    )
    .await;
    let user_id = match created {
        Ok(id) => id,
        // The name is taken: by the user an earlier run made for this project (the state lost
        // its password: a lost reply, a recovered state), which is adopted with a new
        // password; by anyone else's, which is not.
        Err(Error::Api(conflict)) if conflict.is_conflict() => {
            match find(cx, &user_name, domain.as_deref(), &project.id).await? {
                Some(found) => {
                    tracing::info!(
                        "{addr}: adopting its own user {user_name}, with a new password"
                    );
                    admin
                        .identity()
                        .update_user(&found, json!({ "password": password }))
                        .await?;
                    found
                }
                None => return Err(Error::Api(conflict)),
            }
        }
        Err(e) => return Err(e),
    };
    // Kept before anything else can fail: a user the state does not know would be orphaned.
    let kept = TenantCredentials {
        user_id: user_id.clone(),
        user_name,
        project_id: project.id.clone(),
        project_name: project.name.clone(),
        auth_url: cx.cloud.auth_url().to_string(),
        password,
    };
    if let Err(e) = vault.put(&key, &kept) {
        // Without its password the user is of no use: take it back.
        let _ = admin.identity().delete_user(&user_id).await;
        return Err(vault_error(addr, e));
    }
    grant(cx, &project.id, &user_id, role_id).await
}

/// The id of the user named `name` (in `domain`, where known) whose default project is
/// `project_id`: the tenant's own user. A user of that name made for anything else is not it.
async fn find(
    cx: &Context,
    name: &str,
    domain: Option<&str>,
    project_id: &str,
) -> Result<Option<String>, crate::openstack::ApiError> {
    let users = cx.cloud.admin().identity().find_users(name).await?;
    Ok(users
        .into_iter()
        .filter(|u| u.name == name)
        .filter(|u| domain.is_none() || u.domain_id.as_deref() == domain)
        .find(|u| u.default_project_id.as_deref() == Some(project_id))
        .map(|u| u.id))
}

async fn grant(cx: &Context, project_id: &str, user_id: &str, role_id: &str) -> Result<()> {
    Ok(cx
        .cloud
        .admin()
        .identity()
        .grant_project_role(project_id, user_id, role_id)
        .await?)
}

/// Records in a tenant's observed attributes whether the state keeps its own user
/// (`own_user`). Where nothing keeps credentials, or they cannot be read, it is reported as
/// there: no plan should then try to make one.
pub fn observe(
    attrs: &mut crate::spec::Attrs,
    vault: Option<&CredentialVault>,
    addr: &Address,
    project_id: &str,
) {
    let kept = match vault.map(|v| v.get(&addr.to_string())) {
        None => true,
        Some(Ok(kept)) => kept.is_some_and(|c| c.project_id == project_id),
        Some(Err(e)) => {
            tracing::warn!("{addr}: cannot read the tenant user's credentials: {e}");
            true
        }
    };
    attrs.insert("own_user".into(), serde_json::Value::Bool(kept));
}

/// Deletes the tenant's own user, if the state keeps one, and forgets its credentials.
pub async fn delete(cx: &Context, addr: &Address) -> Result<()> {
    let Some(vault) = &cx.credentials else {
        return Ok(());
    };
    let key = addr.to_string();
    let Some(kept) = vault.get(&key).map_err(|e| vault_error(addr, e))? else {
        return Ok(());
    };
    gone_ok(cx.cloud.admin().identity().delete_user(&kept.user_id).await)?;
    vault.remove(&key).map_err(|e| vault_error(addr, e))
}

/// A session of the own user of `res`'s tenant, in the tenant's project: what belongs to a
/// user in Nova (keypairs, and the servers booted with one) is made with it.
pub async fn session(
    cx: &Context,
    res: &crate::spec::DesiredResource,
    ids: &super::Ids,
) -> Result<crate::openstack::Session> {
    let tenant = common::str_attr(res, "tenant")?;
    let project_id = common::ref_id(res, ids, "tenant", crate::addr::Kind::Tenant)?;
    let tenant_addr = Address::new(crate::addr::Kind::Tenant, tenant);
    let kept = match &cx.credentials {
        Some(vault) => vault
            .get(&tenant_addr.to_string())
            .map_err(|e| vault_error(&res.addr, e))?,
        None => None,
    };
    let Some(kept) = kept.filter(|c| c.project_id == project_id) else {
        return Err(Error::Failed {
            addr: res.addr.clone(),
            message: format!(
                "{tenant_addr} has no own user whose credentials the state keeps (`own_user = false`?): \
                 Nova keeps keypairs per user, so stackform makes them as the tenant's own user"
            ),
        });
    };
    Ok(cx
        .cloud
        .user_session(&kept.user_id, &kept.password, project_id)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_user_name_is_derived_from_the_project_id() {
        let project = Project {
            id: "1A2B3C4D5e6f77889900aabbccddeeff".into(),
            name: "demo".into(),
            ..Project::default()
        };
        assert_eq!(user_name(&project), "demo-user-1a2b3c4d");
    }
}
