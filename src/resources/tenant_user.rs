//! A tenant's own Keystone user: made with the tenant, with a random password and the member
//! role on it, so that what belongs to a user in OpenStack (keypairs) belongs to the tenant.
//! Its credentials are kept sealed in the state folder ([`CredentialVault`]), never printed.

use serde_json::json;

use super::common::gone_ok;
use super::{Context, Error, Result};
use crate::addr::Address;
use crate::openstack::identity::Project;
use crate::store::credentials::{self, CredentialVault, TenantCredentials};

/// How many random characters follow `<tenant>-user-`: names stay unique across states that
/// make tenants of the same name on one cloud.
const SUFFIX_LEN: usize = 4;

fn vault_error(addr: &Address, e: crate::store::StoreError) -> Error {
    Error::Failed {
        addr: addr.clone(),
        message: format!("cannot keep the tenant user's credentials: {e}"),
    }
}

/// Makes `project`'s own user and grants it `role_id`, unless the state already keeps one for
/// this project (a create retried after its reply was lost).
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
    let suffix = credentials::random_suffix(SUFFIX_LEN).map_err(|e| vault_error(addr, e))?;
    let password = credentials::random_password().map_err(|e| vault_error(addr, e))?;
    let user_name = format!("{}-user-{suffix}", project.name);
    let mut body = json!({
        "name": user_name,
        "password": password,
        "default_project_id": project.id,
        "enabled": true,
        "description": format!("the own user of stackform's {addr} (lineage {})", cx.lineage),
    });
    if let Some(domain) = project
        .domain_id
        .clone()
        .or_else(|| admin.project_domain_id())
    {
        body["domain_id"] = json!(domain);
    }
    let user = admin.identity().create_user(body).await?;
    // Kept before anything else can fail: a user the state does not know would be orphaned.
    let kept = TenantCredentials {
        user_id: user.id.clone(),
        user_name,
        project_id: project.id.clone(),
        project_name: project.name.clone(),
        auth_url: cx.cloud.auth_url().to_string(),
        password,
    };
    if let Err(e) = vault.put(&key, &kept) {
        // Without its password the user is of no use: take it back.
        let _ = admin.identity().delete_user(&user.id).await;
        return Err(vault_error(addr, e));
    }
    grant(cx, &project.id, &user.id, role_id).await
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
