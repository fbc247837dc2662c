//! Tenants: Keystone projects, with Nova and Neutron quotas. stackform grants its own user
//! the `member` role on each tenant it creates, so it can act inside with a project token,
//! and gives each tenant a user of its own ([`tenant_user`]).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::common::{self, bool_attr, create_or_adopt, gone_ok, name_of};
use super::schema::{
    Api, Attr, AttrType, KindSchema, ListScope, Ownership, QUOTA_MAX, Service, tenant_holder,
};
use super::storage_quota::{self, CINDER_QUOTAS};
use super::tenant_user;
use super::tenant_grants;
use super::{Context, Error, Ids, KindOps, Listed, Observed, ObservedResource, Result, Scope};
use crate::diag::{Diagnostic, Diagnostics};
use crate::openstack::block_storage::QuotaUse;
use crate::openstack::identity::Project;
use crate::openstack::network::{self as neutron, SECURITY_GROUPS};
use crate::spec::{Attrs, Desired, DesiredResource};

pub struct Tenant;

const SCHEMA: KindSchema = KindSchema {
    plan_check: Some(plan_check),
    ..KindSchema::new(
        "tenant",
        "a Keystone project, with its Nova, Neutron and Cinder quotas",
        Api {
            service: Service::Identity,
            collection: "/v3/projects",
            scope: ListScope::Cloud,
            ownership: Ownership::Tags,
        },
        &[
            // Keystone's project names are 64 characters at most.
            Attr::new("name", AttrType::Name { max: 64 }),
            Attr::new("description", AttrType::Text { default: "" }),
            Attr::new("enabled", AttrType::Bool { default: true }),
            // Absent means "not managed"; set on Nova and Neutron by calls of their own.
            Attr::new(
                "quotas",
                AttrType::Quotas {
                    keys: &QUOTA_KEYS,
                    maps: &[storage_quota::VOLUME_TYPES],
                    aliases: &[("cores", "Nova's `cores` quota is written `vcpu` here")],
                    renamed: RENAMED_QUOTAS,
                    max: QUOTA_MAX,
                },
            )
            .own_calls(),
            // The tenant's own Keystone user (see `tenant_user`): a tenant of an older state
            // gets one on the next apply, as an in-place change of this attribute.
            Attr::new("own_user", AttrType::Bool { default: true }).own_calls(),
            // Role grants of existing Keystone users, made by calls of their own.
            Attr::new(tenant_grants::ATTR, AttrType::Grants).own_calls(),
        ],
    )
};

/// The role stackform gives itself on the tenants it creates.
pub(super) const MEMBER_ROLE: &str = "member";

/// Spec quota key → Nova quota-set key (`ram` in MiB).
const NOVA_QUOTAS: &[(&str, &str)] = &[
    ("instances", "instances"),
    ("vcpu", "cores"),
    ("ram", "ram"),
    ("key_pairs", "key_pairs"),
    ("server_groups", "server_groups"),
    ("server_group_members", "server_group_members"),
];

/// Spec quota key → Neutron quota key. `rbac_policies` keeps its name: the issue that named
/// the others gives it none, and renaming it would only deprecate what works.
const NEUTRON_QUOTAS: &[(&str, &str)] = &[
    ("floating_ip_count", "floatingip"),
    ("network_count", "network"),
    ("subnet_count", "subnet"),
    ("port_count", "port"),
    ("router_count", "router"),
    ("security_group_count", "security_group"),
    ("security_group_rule_count", "security_group_rule"),
    ("rbac_policies", "rbac_policy"),
];

/// The Neutron quota names specs wrote before the full mapping (old → current): still read,
/// with a warning from `validate`, so that existing specs keep applying unchanged.
const RENAMED_QUOTAS: &[(&str, &str)] = &[
    ("networks", "network_count"),
    ("subnets", "subnet_count"),
    ("routers", "router_count"),
    ("ports", "port_count"),
    ("security_groups", "security_group_count"),
    ("security_group_rules", "security_group_rule_count"),
    ("floatingips", "floating_ip_count"),
];

const QUOTA_KEY_COUNT: usize = NOVA_QUOTAS.len() + NEUTRON_QUOTAS.len() + CINDER_QUOTAS.len();

/// The quota keys a spec writes: Nova's (`vcpu` is Nova's `cores`), Neutron's, then Cinder's
/// (`storage` is Cinder's `gigabytes`).
const QUOTA_KEYS: [&str; QUOTA_KEY_COUNT] = {
    let mut keys = [""; QUOTA_KEY_COUNT];
    let mut i = 0;
    while i < NOVA_QUOTAS.len() {
        keys[i] = NOVA_QUOTAS[i].0;
        i += 1;
    }
    while i < NOVA_QUOTAS.len() + NEUTRON_QUOTAS.len() {
        keys[i] = NEUTRON_QUOTAS[i - NOVA_QUOTAS.len()].0;
        i += 1;
    }
    while i < keys.len() {
        keys[i] = CINDER_QUOTAS[i - NOVA_QUOTAS.len() - NEUTRON_QUOTAS.len()].0;
        i += 1;
    }
    keys
};

/// Normalized attributes of a project and its quotas.
pub fn observe(
    project: &Project,
    nova_quotas: Option<&BTreeMap<String, i64>>,
    neutron_quotas: Option<&BTreeMap<String, i64>>,
    cinder_quotas: Option<&BTreeMap<String, QuotaUse>>,
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
    if let Some(cinder) = cinder_quotas {
        storage_quota::observe(&mut quotas, cinder);
    }
    if !quotas.is_empty() {
        attrs.insert("quotas".into(), Value::Object(quotas));
    }
    attrs
}

/// The limits of a quota set with usage.
fn limits(quotas: Option<&BTreeMap<String, QuotaUse>>) -> Option<BTreeMap<String, i64>> {
    quotas.map(|q| q.iter().map(|(k, v)| (k.clone(), v.limit)).collect())
}

/// What a project uses of Nova's and Neutron's quotas (in use plus reserved), by spec key.
fn in_use(
    nova: Option<&BTreeMap<String, QuotaUse>>,
    neutron: Option<&BTreeMap<String, QuotaUse>>,
) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for (table, service) in [(NOVA_QUOTAS, nova), (NEUTRON_QUOTAS, neutron)] {
        let Some(service) = service else { continue };
        for (spec_key, service_key) in table {
            if let Some(q) = service.get(*service_key) {
                let used = u64::try_from(q.in_use.max(0) + q.reserved.max(0)).unwrap_or(0);
                out.insert(spec_key.to_string(), used);
            }
        }
    }
    out
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
    let cinder = storage_quota::changes(desired, current);
    if !cinder.is_empty() {
        admin
            .block_storage()
            .update_quotas(project_id, &cinder)
            .await?;
    }
    Ok(())
}

/// Every project; the quotas are read only for those matched as stackform's whose spec sets
/// quotas (a Nova and a Neutron GET), Cinder's quota set only for those whose storage the
/// plan checks (one GET).
async fn list(cx: &Context) -> Result<Vec<Listed>> {
    let admin = cx.cloud.admin().clone();
    let lineage = common::lineage_tag(cx);
    let projects = admin.identity().list_projects(&[]).await?;
    Ok(projects
        .into_iter()
        .map(|project| {
            let claim = common::tagged_address(&lineage, &project.tags);
            let foreign = common::foreign_claim(&lineage, &project.tags);
            let name = project.name.clone();
            let admin = admin.clone();
            let quotas_of = cx.quotas_of.clone();
            let listings = cx.listings.clone();
            let vault = cx.credentials.clone();
            Listed::reading(project.id.clone(), claim, None, move |addr, _| async move {
                let mut attrs = async {
                    let read_quotas = quotas_of.includes(&addr);
                    let read_storage = quotas_of.includes_storage(&addr);
                    if !read_quotas && !read_storage {
                        return observe(&project, None, None, None);
                    }
                    let (nova, neutron, cinder) = tokio::join!(
                        // The details carry what the project uses: the plan's quota check
                        // counts what runs there outside the spec.
                        async {
                            match read_quotas {
                                true => admin.compute().quota_details(&project.id).await.map(Some),
                                false => Ok(None),
                            }
                        },
                        async {
                            match read_quotas {
                                true => admin.network().quota_details(&project.id).await.map(Some),
                                false => Ok(None),
                            }
                        },
                        async {
                            match read_storage {
                                true => admin
                                    .block_storage()
                                    .quota_usage(&project.id)
                                    .await
                                    .map(Some),
                                false => Ok(None),
                            }
                        },
                    );
                    // A cloud without Cinder (no endpoint: a Config error) has no storage quotas
                    // to manage; any other failure is worth a warning.
                    let cinder = cinder
                        .inspect_err(|e| {
                            if !matches!(e, crate::openstack::ApiError::Config(_)) {
                                tracing::warn!("{addr}: cannot read Cinder quotas: {e}")
                            }
                        })
                        .ok()
                        .flatten();
                    if let Some(usage) = &cinder {
                        listings
                            .write()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .storage_usage
                            .insert(project.id.clone(), usage.clone());
                    }
                    if !read_quotas {
                        // Read for the plan's storage check only: the quotas stay unmanaged.
                        return observe(&project, None, None, None);
                    }
                    // Quotas are unmanaged unless desired; a cloud that hides them must not stop
                    // refresh.
                    let nova = nova
                        .inspect_err(|e| tracing::warn!("{addr}: cannot read Nova quotas: {e}"))
                        .ok()
                        .flatten();
                    let neutron = neutron
                        .inspect_err(|e| tracing::warn!("{addr}: cannot read Neutron quotas: {e}"))
                        .ok()
                        .flatten();
                    let in_use = in_use(nova.as_ref(), neutron.as_ref());
                    listings
                        .write()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .quota_in_use
                        .insert(project.id.clone(), in_use);
                    let (nova, neutron) = (limits(nova.as_ref()), limits(neutron.as_ref()));
                    observe(&project, nova.as_ref(), neutron.as_ref(), cinder.as_ref())
                }
                .await;
                tenant_user::observe(&mut attrs, vault.as_deref(), &addr, &project.id);
                attrs
            })
            .foreign(foreign)
            .unique_name(&name)
        })
        .collect())
}

impl KindOps for Tenant {
    const SCHEMA: KindSchema = SCHEMA;

    async fn list(cx: &Context, scope: Scope<'_>) -> Result<Vec<Listed>> {
        match scope {
            Scope::Cloud => list(cx).await,
            Scope::Projects(_) => Ok(Vec::new()),
        }
    }

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
        // The role is looked up while the project is made: one round trip less before the
        // tenant's resources can start.
        let (project, role) = tokio::try_join!(
            create_or_adopt(
                &res.addr,
                || admin.identity().create_project(body.clone()),
                find,
            ),
            async { Ok(admin.identity().find_role(MEMBER_ROLE).await?) },
        )?;
        let role = role.ok_or_else(|| Error::Failed {
            addr: res.addr.clone(),
            message: format!(
                "Keystone has no `{MEMBER_ROLE}` role to grant stackform's user on the new project"
            ),
        })?;
        // The tenant's own user is made while stackform's role is granted and the project's
        // token obtained with it, which every resource of the tenant waits for: two round
        // trips instead of five before they can start.
        let access = async {
            admin
                .identity()
                .grant_project_role(&project.id, &admin.user_id(), &role.id)
                .await?;
            cx.cloud.project_session(&project.id).await?;
            Ok(())
        };
        let own_user = async {
            match cx.credentials.as_deref().filter(|_| wants_own_user(res)) {
                Some(vault) => tenant_user::create(cx, vault, &res.addr, &project, &role.id).await,
                None => Ok(()),
            }
        };
        tokio::try_join!(access, own_user)?;
        set_quotas(cx, &project.id, res.attrs.get("quotas"), None).await?;
        let users = res.attrs.get(tenant_grants::ATTR);
        tenant_grants::apply(cx, &res.addr, &project.id, users, None).await?;
        Ok(project.id)
    }

    async fn update(
        cx: &Context,
        res: &DesiredResource,
        current: &ObservedResource,
        _ids: &Ids,
    ) -> Result<()> {
        let changes = common::body_changes(&SCHEMA, res, current);
        let admin = cx.cloud.admin();
        if !changes.is_empty() {
            admin
                .identity()
                .update_project(&current.id, Value::Object(changes))
                .await?;
        }
        let had_user = current.attrs.get("own_user") != Some(&Value::Bool(false));
        match (wants_own_user(res), had_user, cx.credentials.as_deref()) {
            (true, false, Some(vault)) => {
                let role = admin
                    .identity()
                    .find_role(MEMBER_ROLE)
                    .await?
                    .ok_or_else(|| Error::Failed {
                        addr: res.addr.clone(),
                        message: format!(
                            "Keystone has no `{MEMBER_ROLE}` role to grant the tenant's own user"
                        ),
                    })?;
                let project = Project {
                    id: current.id.clone(),
                    name: name_of(res).to_string(),
                    ..Project::default()
                };
                tenant_user::create(cx, vault, &res.addr, &project, &role.id).await?;
            }
            (false, true, _) => tenant_user::delete(cx, &res.addr).await?,
            _ => {}
        }
        set_quotas(
            cx,
            &current.id,
            res.attrs.get("quotas"),
            current.attrs.get("quotas"),
        )
        .await?;
        let (users, had) = (
            res.attrs.get(tenant_grants::ATTR),
            current.attrs.get(tenant_grants::ATTR),
        );
        tenant_grants::apply(cx, &res.addr, &current.id, users, had).await
    }

    async fn delete(cx: &Context, current: &ObservedResource, _ids: &Ids) -> Result<()> {
        // Neutron creates a `default` security group for every project that uses it and never
        // removes it when the project goes (seen on real Neutron 2026.2): without this, each
        // destroyed tenant would leave an orphan group behind.
        // The group goes while the project does: admin may delete a deleted project's group.
        let admin = cx.cloud.admin();
        let default_group_gone = async {
            let query = neutron::query(&[("project_id", &current.id), ("name", "default")]);
            let groups: Vec<neutron::SecurityGroup> =
                admin.network().list(SECURITY_GROUPS, &query).await?;
            for group in groups.iter().filter(|g| g.project_id == current.id) {
                gone_ok(admin.network().delete(SECURITY_GROUPS, &group.id).await)?;
            }
            Ok::<_, Error>(())
        };
        let project_gone = async { gone_ok(admin.identity().delete_project(&current.id).await) };
        let user_gone = tenant_user::delete(cx, &current.addr);
        tokio::try_join!(default_group_gone, project_gone, user_gone)?;
        cx.cloud.forget_project(&current.id).await;
        Ok(())
    }
}

/// `own_user` (default true): whether the tenant has a Keystone user of its own.
fn wants_own_user(res: &DesiredResource) -> bool {
    bool_attr(res, "own_user", true)
}

/// A plan fails early when the tenant cannot hold what the spec puts in it.
fn plan_check(
    tenant: &DesiredResource,
    desired: &Desired,
    observed: &Observed,
    out: &mut Diagnostics,
) {
    check_quotas(tenant, desired, observed, out);
    storage_quota::check(tenant, desired, observed, out);
    check_disabled(tenant, desired, observed, out);
    tenant_grants::check(tenant, observed, out);
}

/// The tenant a desired resource lives in.
fn tenant_of<'a>(desired: &'a Desired, resource: &DesiredResource) -> Option<&'a str> {
    let attrs_of = |a: &crate::addr::Address| desired.get(a).map(|r| &r.attrs);
    tenant_holder(&resource.addr, &attrs_of).map(|(_, tenant)| tenant)
}

/// Creating in a tenant needs a token scoped to it, and real Keystone issues none for a
/// disabled project (401 on POST /v3/auth/tokens): such a create can only fail, midway
/// through an apply. Updates and deletes go through the admin session and are fine.
fn check_disabled(
    tenant: &DesiredResource,
    desired: &Desired,
    observed: &Observed,
    out: &mut Diagnostics,
) {
    if tenant.attrs.get("enabled") != Some(&Value::Bool(false)) {
        return;
    }
    let creates: Vec<String> = desired
        .resources
        .values()
        .filter(|r| r.addr != tenant.addr)
        .filter(|r| tenant_of(desired, r) == Some(tenant.addr.name.as_str()))
        .filter(|r| !observed.resources.contains_key(&r.addr))
        .map(|r| r.addr.to_string())
        .collect();
    if creates.is_empty() {
        return;
    }
    out.push(
        Diagnostic::error(format!(
            "{}: is disabled (enabled = false), so {} cannot be created in it",
            tenant.addr,
            creates.join(", ")
        ))
        .at(tenant.span_of("enabled"))
        .help(
            "OpenStack gives no token for a disabled project: apply with enabled = true \
             first, then disable the tenant",
        ),
    );
}

/// Sums what the tenant's resources consume (each kind says what one of its resources
/// takes) and compares it with the quotas the spec sets.
fn check_quotas(
    tenant: &DesiredResource,
    desired: &Desired,
    observed: &Observed,
    out: &mut Diagnostics,
) {
    let Some(Value::Object(quotas)) = tenant.attrs.get("quotas") else {
        return;
    };
    let mut usage: BTreeMap<&str, u64> = BTreeMap::new();
    // What the spec's resources that already exist take: the cloud counts it in use too.
    let mut existing: BTreeMap<&str, u64> = BTreeMap::new();
    for resource in desired.resources.values() {
        let Some(consumes) = resource.addr.kind.schema().quota_usage else {
            continue;
        };
        if tenant_of(desired, resource) != Some(tenant.addr.name.as_str()) {
            continue;
        }
        let exists = observed.resources.contains_key(&resource.addr);
        for (key, amount) in consumes(resource, observed) {
            *usage.entry(key).or_default() += amount;
            if exists {
                *existing.entry(key).or_default() += amount;
            }
        }
    }
    // What runs in the tenant outside the spec (a server made by hand) takes its share too.
    let project = observed.resources.get(&tenant.addr).map(|r| r.id.as_str());
    let in_use = project.and_then(|p| observed.quota_in_use.get(p));
    let outside: BTreeMap<&str, u64> = in_use
        .into_iter()
        .flatten()
        .filter_map(|(key, n)| {
            let key = QUOTA_KEYS.iter().find(|k| **k == key.as_str())?;
            let beyond = n.saturating_sub(existing.get(key).copied().unwrap_or(0));
            (beyond > 0).then_some((*key, beyond))
        })
        .collect();
    for (key, n) in &outside {
        if usage.contains_key(key) {
            *usage.entry(key).or_default() += n;
        }
    }
    let beyond = |key: &str| match outside.get(key).filter(|_| usage.contains_key(key)) {
        Some(n) => format!(" ({n} outside the spec)"),
        None => String::new(),
    };
    let used = |key: &str| usage.get(key).copied().unwrap_or(0);
    let limit = |key: &str| -> Option<u64> {
        // Negative (-1) is unlimited.
        quotas
            .get(key)
            .and_then(Value::as_i64)
            .and_then(|l| u64::try_from(l).ok())
    };
    let addr = &tenant.addr;
    let count_instances = used("instances");
    let instances = count(count_instances, "instance", "instances");
    let mut over = Vec::new();
    if let Some(l) = limit("instances").filter(|l| count_instances > *l) {
        over.push((
            format!(
                "{addr}: {instances}{} but quotas.instances is {l}",
                beyond("instances")
            ),
            format!("raise quotas.instances to at least {count_instances}"),
        ));
    }
    if let Some(l) = limit("vcpu").filter(|l| used("vcpu") > *l) {
        over.push((
            format!(
                "{addr}: {instances} {} {}{} but quotas.vcpu is {l}",
                need(count_instances),
                count(used("vcpu"), "vCPU", "vCPUs"),
                beyond("vcpu")
            ),
            format!(
                "raise quotas.vcpu to at least {}, or use smaller flavors",
                used("vcpu")
            ),
        ));
    }
    if let Some(l) = limit("ram").filter(|l| used("ram") > *l) {
        over.push((
            format!(
                "{addr}: {instances} {} {} MiB of RAM{} but quotas.ram is {l}",
                need(count_instances),
                used("ram"),
                beyond("ram")
            ),
            format!(
                "raise quotas.ram to at least {}, or use smaller flavors",
                used("ram")
            ),
        ));
    }
    // Every other key counts what each kind says it takes (ports: a `[port.NAME]`, an
    // instance's own port; floatingips: a floating IP, an instance's shorthand one).
    for (key, count_used) in &usage {
        if matches!(*key, "instances" | "vcpu" | "ram") {
            continue;
        }
        if let Some(l) = limit(key).filter(|l| count_used > l) {
            over.push((
                match outside.contains_key(key) {
                    true => format!(
                        "{addr}: would hold {count_used} {}{} but quotas.{key} is {l}",
                        counted(key),
                        beyond(key)
                    ),
                    false => format!(
                        "{addr}: the spec makes {count_used} {} but quotas.{key} is {l}",
                        counted(key)
                    ),
                },
                format!("raise quotas.{key} to at least {count_used}"),
            ));
        }
    }
    for (message, help) in over {
        out.push(
            Diagnostic::error(message)
                .at(tenant.span_of("quotas"))
                .help(help),
        );
    }
}

/// What a quota key counts, as a sentence says it.
fn counted(key: &str) -> &str {
    match key {
        "floating_ip_count" => "floating IPs",
        "network_count" => "networks",
        "subnet_count" => "subnets",
        "port_count" => "ports",
        "router_count" => "routers",
        "security_group_count" => "security groups",
        "security_group_rule_count" => "security group rules",
        "rbac_policies" => "RBAC policies",
        other => other,
    }
}

fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn need(instances: u64) -> &'static str {
    if instances == 1 { "needs" } else { "need" }
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
        let neutron: BTreeMap<String, i64> = [
            ("network".to_string(), 5),
            ("floatingip".to_string(), -1),
            ("rbac_policy".to_string(), 10),
        ]
        .into();
        let attrs = observe(&project, Some(&nova), Some(&neutron), None);
        let expected: Attrs = [
            ("name".to_string(), json!("demo")),
            ("description".to_string(), json!("")),
            ("enabled".to_string(), json!(true)),
            (
                "quotas".to_string(),
                json!({"instances": 10, "vcpu": 20, "ram": 51200, "key_pairs": 100,
                       "network_count": 5, "floating_ip_count": -1, "rbac_policies": 10}),
            ),
        ]
        .into();
        assert_eq!(attrs, expected);
    }

    #[test]
    fn quota_changes_send_only_differing_keys_with_service_names() {
        let desired = json!({"vcpu": 8, "instances": 10, "network_count": 3});
        let current = json!({"vcpu": 20, "instances": 10, "network_count": 10});
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
