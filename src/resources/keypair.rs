//! Nova keypairs: an OpenSSH public key that instances boot with (`instance.keypair`).
//!
//! Nova keeps keypairs per *user*, not per project, and looks a server's `key_name` up among
//! the keypairs of the user who creates the server. So stackform makes each keypair as its
//! tenant's own user (a project-scoped password token from the sealed credentials, see
//! `tenant_user`), and boots the instances that name one with that user's token too: two
//! tenants each have their own keypair of a name, and a tenant's servers see its keys only.
//!
//! Nova keeps no tags on keypairs and cannot change one: a keypair is named after its address,
//! adopted by that name among the tenant user's keypairs (a create whose reply was lost, a
//! recovered state), and replaced when its key changes. Its id is `<user id>:<name>` (a name
//! cannot hold a colon), which the admin lists and deletes with (`?user_id=`, 2.10+).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Value, json};

use super::common::{self, Names, gone_ok};
use super::schema::{Api, Attr, AttrType, KindSchema, ListScope, Ownership, Ref, Service};
use super::{Context, Error, Ids, KindOps, Listed, ObservedResource, Result, Scope, tenant_user};
use crate::addr::{Address, Kind};
use crate::diag::{Diagnostic, Diagnostics};
use crate::openstack::keypair::Keypair as NovaKeypair;
use crate::openstack::{ApiError, Session};
use crate::spec::{Attrs, DesiredResource};

pub struct Keypair;

/// Nova's keypair names: `^[_\-@. a-zA-Z0-9]+$`, at most 255 characters.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '@' | '.' | ' '))
}

const SCHEMA: KindSchema = KindSchema {
    spec_check: Some(spec_check),
    ..KindSchema::new(
        "keypair",
        "a Nova keypair (an OpenSSH public key) of its tenant's own user, named after its address; instances boot with it through `keypair`",
        Api {
            service: Service::Compute,
            collection: "/os-keypairs",
            scope: ListScope::Tenant,
            ownership: Ownership::Name,
        },
        &[
            Attr::new("tenant", AttrType::Reference(Ref::to(Kind::Tenant))).forces_replacement(),
            // Nova cannot change a keypair's key: a new key is a new keypair.
            Attr::new(
                "public_key",
                AttrType::PublicKey {
                    file: "public_key_file",
                },
            )
            .forces_replacement(),
        ],
    )
    .parent("tenant")
    .quota_usage(|_, _| vec![("key_pairs", 1)])
};

/// The name must be one Nova takes, and the tenant must have its own user to own the key.
fn spec_check(
    keypair: &DesiredResource,
    resources: &BTreeMap<Address, DesiredResource>,
    out: &mut Diagnostics,
) {
    if !valid_name(&keypair.addr.name) {
        out.push(
            Diagnostic::error(format!(
                "{}: Nova's keypair names are letters, digits, spaces and `_-@.` only",
                keypair.addr
            ))
            .at(keypair.span_of("tenant"))
            .help("rename the keypair's table"),
        );
    }
    let Some(tenant) = keypair.attrs.get("tenant").and_then(Value::as_str) else {
        return;
    };
    let own_user = resources
        .get(&Address::new(Kind::Tenant, tenant))
        .and_then(|t| t.attrs.get("own_user"))
        .and_then(Value::as_bool);
    if own_user == Some(false) {
        out.push(
            Diagnostic::error(format!(
                "{}: tenant.{tenant} has `own_user = false`, but Nova keeps keypairs per user: stackform makes them as the tenant's own user",
                keypair.addr
            ))
            .at(keypair.span_of("tenant"))
            .help(format!("remove `own_user = false` from tenant.{tenant}")),
        );
    }
}

/// Normalized attributes.
fn observe(keypair: &NovaKeypair, project_id: &str, names: &Names) -> Attrs {
    let mut attrs = Attrs::new();
    attrs.insert("tenant".into(), json!(names.name(Kind::Tenant, project_id)));
    attrs.insert("public_key".into(), json!(keypair.public_key.trim()));
    attrs
}

fn id_of(user_id: &str, name: &str) -> String {
    format!("{user_id}:{name}")
}

/// `<user id>:<name>` → its parts.
fn parts(addr: &Address, id: &str) -> Result<(String, String)> {
    id.split_once(':')
        .map(|(user, name)| (user.to_string(), name.to_string()))
        .ok_or_else(|| Error::Failed {
            addr: addr.clone(),
            message: format!("`{id}` is not a keypair id (<user id>:<name>)"),
        })
}

/// The session's user's keypair `name` with `public_key`: the one a lost create made, or
/// one made before the state knew it. Another key under that name is not ours to take.
async fn find(session: &Session, name: &str, public_key: &str) -> Result<Option<String>, ApiError> {
    let keypairs = session.compute().list_keypairs(None).await?;
    Ok(keypairs
        .into_iter()
        .find(|k| k.name == name && k.public_key.trim() == public_key)
        .map(|k| k.name))
}

impl KindOps for Keypair {
    const SCHEMA: KindSchema = SCHEMA;

    /// The keypairs of the users whose keypairs the state records (their ids name the user),
    /// one admin call per user: Nova has no list across users, and a refresh must not cost a
    /// call per tenant for a kind the state does not have. A keypair of the spec the state
    /// does not record is found by its create instead (409: adopted when its key is the same).
    async fn list(cx: &Context, scope: Scope<'_>) -> Result<Vec<Listed>> {
        let Scope::Projects(projects) = scope else {
            return Ok(Vec::new());
        };
        let users: BTreeSet<&str> = projects
            .known(Kind::Keypair)
            .iter()
            .filter_map(|id| id.split_once(':').map(|(user, _)| user))
            .collect();
        let Some(vault) = cx.credentials.as_deref().filter(|_| !users.is_empty()) else {
            return Ok(Vec::new());
        };
        // The user's project: where the tenant's own user lives.
        let project_of: HashMap<String, String> = vault
            .users()
            .map_err(|e| Error::Failed {
                addr: Address::new(Kind::Keypair, "*"),
                message: format!("cannot read the tenant users' credentials: {e}"),
            })?
            .into_iter()
            .map(|(project, user)| (user, project))
            .collect();
        let admin = cx.cloud.admin();
        let mut listed = Vec::new();
        for user_id in users {
            let Some(project_id) = project_of.get(user_id).filter(|p| projects.contains(p)) else {
                continue;
            };
            let keypairs = match admin.compute().list_keypairs(Some(user_id)).await {
                Err(e) if e.is_not_found() => Vec::new(),
                other => other?,
            };
            for keypair in keypairs {
                let claim = valid_name(&keypair.name)
                    .then(|| Address::new(Kind::Keypair, &keypair.name));
                let project_id = project_id.clone();
                listed.push(Listed::new(
                    id_of(user_id, &keypair.name),
                    claim,
                    None,
                    move |_, o| observe(&keypair, &project_id, &o.names),
                ));
            }
        }
        Ok(listed)
    }

    /// Imported as the tenant's own user. A 409 (the name is taken) is ours when the key is
    /// the same: adopted.
    async fn create(cx: &Context, res: &DesiredResource, ids: &Ids) -> Result<String> {
        let session = tenant_user::session(cx, res, ids).await?;
        let public_key = common::str_attr(res, "public_key")?;
        let addr = &res.addr;
        let name = addr.name.as_str();
        let made = common::create_or_adopt(
            addr,
            || async { Ok(session.compute().create_keypair(name, public_key).await?.name) },
            || find(&session, name, public_key),
        )
        .await;
        let made = match made {
            Err(Error::Api(e)) if e.is_conflict() => match find(&session, name, public_key).await? {
                Some(found) => found,
                None => {
                    return Err(Error::Failed {
                        addr: addr.clone(),
                        message: format!(
                            "the tenant's user already has a keypair `{name}` with another key: delete it, or rename this keypair"
                        ),
                    });
                }
            },
            other => other?,
        };
        Ok(id_of(&session.user_id(), &made))
    }

    /// Every attribute forces a replacement: Nova cannot change a keypair.
    async fn update(
        _: &Context,
        _: &DesiredResource,
        _: &ObservedResource,
        _: &Ids,
    ) -> Result<()> {
        Ok(())
    }

    async fn delete(cx: &Context, current: &ObservedResource, _ids: &Ids) -> Result<()> {
        let (user_id, name) = parts(&current.addr, &current.id)?;
        gone_ok(
            cx.cloud
                .admin()
                .compute()
                .delete_keypair(&name, Some(&user_id))
                .await,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observes_tenant_and_key_and_names_ids_by_user() {
        let mut names = Names::default();
        names.insert(Kind::Tenant, "p1", "demo");
        let keypair = NovaKeypair {
            name: "deploy".into(),
            public_key: "ssh-ed25519 AAAA x@y\n".into(),
            ..NovaKeypair::default()
        };
        let expected: Attrs = [
            ("tenant".to_string(), json!("demo")),
            ("public_key".to_string(), json!("ssh-ed25519 AAAA x@y")),
        ]
        .into();
        assert_eq!(observe(&keypair, "p1", &names), expected);
        let addr = Address::new(Kind::Keypair, "deploy");
        assert_eq!(
            parts(&addr, &id_of("u1", "deploy")).ok(),
            Some(("u1".to_string(), "deploy".to_string()))
        );
        assert!(valid_name("me@host.x y_z-1"));
        assert!(!valid_name("a/b"));
    }
}
