//! Security groups and their rules (Neutron). Rules are compared in normalized form and
//! converged by difference: undesired rules deleted, missing ones created in bulk, others
//! untouched. The live rules come from refresh: converging reads nothing more.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};

use ipnet::IpNet;
use serde_json::{Map, Value, json};

use super::common::{self, Names, gone_ok, name_of, neutron_create_tagged, tenant_session};
use super::schema::{Api, Attr, AttrType, Implied, KindSchema, Ref, View};
use super::{Context, Error, Ids, KindOps, Listed, ObservedResource, Result, Scope};
use crate::addr::{Address, Kind};
use crate::openstack::ApiError;
use crate::openstack::network::{
    self as neutron, Neutron, PORTS, SECURITY_GROUP_RULES, SECURITY_GROUPS,
};
use crate::spec::{Attrs, DesiredResource};

pub struct SecurityGroup;

/// `rules` is a sorted list of rule objects (see [`RULE_FIELDS`]); rules are added and removed
/// one by one, never touching the unchanged ones.
const SCHEMA: KindSchema = KindSchema {
    implicit_dependencies: Some(remote_groups),
    deferrable: Some("rules"),
    ..KindSchema::new(
    "security_group",
    "a Neutron security group and its rules",
    Api::neutron("/v2.0/security-groups"),
    &[
        Attr::new("name", AttrType::Name { max: super::schema::NAME_MAX }),
        Attr::new("description", AttrType::Text { default: "" }),
        Attr::new("tenant", AttrType::Reference(Ref::to(Kind::Tenant))).forces_replacement(),
        Attr::new(
            "rules",
            AttrType::Rules {
                default_egress: "default_egress",
            },
        )
        .own_calls(),
        Attr::new("default_egress", AttrType::Input { default: true }),
    ],
)
.parent("tenant")
.quota_usage(|_, _| vec![("security_group_count", 1)])
};

/// A rule admitting another group's ports needs that group first (and, destroyed, goes
/// before it). A group naming itself needs nothing.
///
/// Two groups whose rules name each other (web admits app, app admits web), or any cycle of
/// such rules, are what Neutron takes: the rules are `deferrable`, so the graph breaks the
/// cycle there. Each group is made with the rules it can have, and the apply adds those naming
/// a group of the cycle in a follow-up update once that group exists ([`with_group_ids`]).
/// Deleting a group drops the rules of other groups that name it (Neutron cascades, no 409),
/// so such groups go in any order.
fn remote_groups(group: &Address, view: &View<'_>, nodes: &BTreeSet<Address>) -> Vec<Implied> {
    let Some(rules) = view
        .attrs(group)
        .and_then(|attrs| attrs.get("rules"))
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    let mut implied: Vec<Implied> = rules
        .iter()
        .filter_map(|rule| rule.get("remote_group")?.as_str())
        .filter(|name| *name != group.name)
        .map(|name| Address::new(group.kind, name))
        .filter(|remote| nodes.contains(remote))
        .map(|remote| Implied {
            dependency: remote,
            attr: "rules",
            via: group.clone(),
            relation: "the remote group of a rule of",
        })
        .collect();
    implied.dedup();
    implied
}

/// The fields of one normalized security group rule, all present (null where unset).
const RULE_FIELDS: &[&str] = &[
    "direction",
    "ethertype",
    "protocol",
    "port_range_min",
    "port_range_max",
    "remote_ip_prefix",
];

/// The protocol in the spec's canonical form (numbers named, IPv6 ICMP as `ipv6-icmp`), so
/// that a rule Neutron stored as `6` or `58` equals the spec's `tcp` or `icmpv6`.
fn protocol_name(protocol: &Value, ethertype: &str) -> Value {
    let text = match protocol {
        Value::Null => return Value::Null,
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match text.to_ascii_lowercase().as_str() {
        "" | "any" => Value::Null,
        _ => json!(crate::spec::canonical_protocol(&text, ethertype)),
    }
}

/// One rule in the normalized form, all keys present, plus `remote_group` (the group's
/// address name, or its id when stackform does not know it) for a rule whose remote is a group.
pub fn observe_rule(rule: &neutron::SecurityGroupRule, names: &Names) -> Value {
    let prefix = rule.remote_ip_prefix.as_deref().map(|p| {
        p.parse::<IpNet>()
            .map(|net| net.trunc().to_string())
            .unwrap_or_else(|_| p.to_string())
    });
    let mut object = json!({
        "direction": rule.direction,
        "ethertype": rule.ethertype,
        "protocol": protocol_name(rule.protocol.as_ref().unwrap_or(&Value::Null), &rule.ethertype),
        "port_range_min": rule.port_range_min,
        "port_range_max": rule.port_range_max,
        "remote_ip_prefix": prefix,
    });
    if let Some(group) = &rule.remote_group_id {
        object["remote_group"] = json!(names.name(Kind::SecurityGroup, group));
    }
    object
}

/// Rules sorted by their JSON text (the form `spec` writes them in), duplicates kept once.
fn sorted_rules(mut rules: Vec<Value>) -> Value {
    // Each rule's text is made once: `sort_by_key` made it at every comparison, which was a
    // fifth of a big no-op plan's CPU.
    rules.sort_by_cached_key(|r| r.to_string());
    rules.dedup();
    Value::Array(rules)
}

/// Normalized attributes.
pub fn observe(group: &neutron::SecurityGroup, names: &Names) -> Attrs {
    let mut attrs = Attrs::new();
    attrs.insert("name".into(), json!(group.name));
    attrs.insert(
        "description".into(),
        json!(group.description.clone().unwrap_or_default()),
    );
    attrs.insert(
        "tenant".into(),
        json!(names.name(Kind::Tenant, &group.project_id)),
    );
    let rules = group
        .security_group_rules
        .iter()
        .map(|r| observe_rule(r, names))
        .collect();
    attrs.insert("rules".into(), sorted_rules(rules));
    attrs
}

/// The create body of one desired rule (its remote group already an id: [`with_group_ids`]).
fn rule_body(group_id: &str, rule: &Value) -> Value {
    let mut body = Map::new();
    body.insert("security_group_id".into(), json!(group_id));
    for key in RULE_FIELDS {
        if let Some(value) = rule.get(*key).filter(|v| !v.is_null()) {
            body.insert(key.to_string(), value.clone());
        }
    }
    if let Some(remote) = rule.get("remote_group") {
        body.insert("remote_group_id".into(), remote.clone());
    }
    Value::Object(body)
}

/// The desired rules with each remote group named by its id, the form live rules are read in
/// (the group itself by `group_id`, others by the ids the apply made or found). A rule naming
/// a group that has no id yet is left out: the graph deferred it to break a cycle
/// ([`remote_groups`]), and the apply's follow-up update of this group adds it.
fn with_group_ids(res: &DesiredResource, group_id: &str, rules: &[Value], ids: &Ids) -> Vec<Value> {
    rules
        .iter()
        .filter_map(|rule| {
            let Some(name) = rule.get("remote_group").and_then(Value::as_str) else {
                return Some(rule.clone());
            };
            let id = if name == res.addr.name {
                group_id
            } else {
                common::dep_id(ids, res.addr.kind, name).ok()?
            };
            let mut rule = rule.clone();
            rule["remote_group"] = json!(id);
            Some(rule)
        })
        .collect()
}

/// Which live rules to delete and which desired rules to create.
fn plan_rules<'a>(
    live: &'a [neutron::SecurityGroupRule],
    desired: &'a [Value],
) -> (Vec<&'a neutron::SecurityGroupRule>, Vec<&'a Value>) {
    let names = Names::default();
    let mut kept: Vec<Value> = Vec::new();
    let mut delete = Vec::new();
    for rule in live {
        let form = observe_rule(rule, &names);
        // A duplicate of a rule already kept is deleted too.
        if desired.contains(&form) && !kept.contains(&form) {
            kept.push(form);
        } else {
            delete.push(rule);
        }
    }
    let mut create: Vec<&Value> = Vec::new();
    for rule in desired {
        if !kept.contains(rule) && !create.contains(&rule) {
            create.push(rule);
        }
    }
    (delete, create)
}

/// Rules per bulk create. Neutron takes any number in one POST, but makes them in one
/// transaction under one quota reservation: pages keep each request (and the API worker's
/// time on it) bounded for groups of thousands of rules.
const RULES_PER_CREATE: usize = 500;

/// Makes the group's rules those of the spec, given its `live` rules: deletes the undesired
/// ones one by one (Neutron has no bulk delete) and creates the missing ones in bulk.
async fn converge_rules(
    cx: &Context,
    res: &DesiredResource,
    group_id: &str,
    live: &[neutron::SecurityGroupRule],
    ids: &Ids,
) -> Result<()> {
    let Some(desired) = res.attrs.get("rules").and_then(Value::as_array) else {
        return Ok(());
    };
    let desired = with_group_ids(res, group_id, desired, ids);
    let api = cx.cloud.admin().network();
    let (delete, create) = plan_rules(live, &desired);
    for rule in delete {
        gone_ok(api.delete(SECURITY_GROUP_RULES, &rule.id).await)?;
    }
    for page in create.chunks(RULES_PER_CREATE) {
        create_rules(api, &res.addr, group_id, page).await?;
    }
    Ok(())
}

/// The group's live rules: those refresh listed, else (a group refresh did not see) read.
async fn live_rules(
    cx: &Context,
    group_id: &str,
) -> Result<Arc<Vec<neutron::SecurityGroupRule>>> {
    if let Some(rules) = cx.listed(|listed| listed.object(group_id)) {
        return Ok(rules);
    }
    let group: neutron::SecurityGroup = cx
        .cloud
        .admin()
        .network()
        .get(SECURITY_GROUPS, group_id)
        .await?;
    Ok(Arc::new(group.security_group_rules))
}

/// Which of `rules` the group does not have yet, read from the cloud.
async fn missing_rules<'a>(
    api: Neutron<'_>,
    group_id: &str,
    rules: &[&'a Value],
) -> Result<Vec<&'a Value>, ApiError> {
    let group: neutron::SecurityGroup = api.get(SECURITY_GROUPS, group_id).await?;
    let names = Names::default();
    let present: Vec<Value> = group
        .security_group_rules
        .iter()
        .map(|live| observe_rule(live, &names))
        .collect();
    Ok(rules
        .iter()
        .filter(|rule| !present.contains(rule))
        .copied()
        .collect())
}

/// Creates `rules` in the group with one bulk POST, which Neutron makes all or none of.
///
/// A rule carries no tags, so a create whose answer was lost (or a 503 from a proxy in front
/// of Neutron, which may have passed it on) is looked up by content: the group's rules in
/// normalized form, and only the missing ones are sent again. Sending all of them again would
/// make real Neutron answer 409 SecurityGroupRuleExists and, the request being atomic, create
/// none. The same 409 when the rules were read at refresh means someone added one since: the
/// group is read again, and only what is still missing is sent.
async fn create_rules(
    api: Neutron<'_>,
    addr: &Address,
    group_id: &str,
    rules: &[&Value],
) -> Result<()> {
    let unsent = Mutex::new(rules.to_vec());
    let pending = || {
        unsent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    };
    let create = || async {
        let bodies = pending().iter().map(|r| rule_body(group_id, r)).collect();
        let _: Vec<neutron::SecurityGroupRule> =
            api.create_many(SECURITY_GROUP_RULES, bodies).await?;
        Ok(())
    };
    let find = || async {
        let missing = missing_rules(api, group_id, &pending()).await?;
        let all_there = missing.is_empty();
        *unsent.lock().unwrap_or_else(PoisonError::into_inner) = missing;
        Ok(all_there.then_some(()))
    };
    match common::create_or_adopt(addr, create, find).await {
        Err(Error::Api(error)) if error.is_conflict() => {
            let missing = missing_rules(api, group_id, rules).await?;
            if missing.len() == rules.len() {
                // Nothing of the page is there: the conflict is not about these rules (a
                // quota, for one), and sending them again would meet it again.
                return Err(error.into());
            }
            *unsent.lock().unwrap_or_else(PoisonError::into_inner) = missing;
            if pending().is_empty() {
                return Ok(());
            }
            common::create_or_adopt(addr, create, find).await
        }
        other => other,
    }
}

/// stackform's ports (by lineage tag) that use `group_id`, each with its other groups.
fn ports_to_release(
    ports: &[neutron::Port],
    group_id: &str,
    lineage_tag: &str,
) -> Vec<(String, Vec<String>)> {
    ports
        .iter()
        .filter(|p| p.tags.iter().any(|t| t == lineage_tag))
        .filter(|p| p.security_groups.iter().any(|g| g == group_id))
        .map(|p| {
            let rest = p
                .security_groups
                .iter()
                .filter(|g| *g != group_id)
                .cloned()
                .collect();
            (p.id.clone(), rest)
        })
        .collect()
}

impl KindOps for SecurityGroup {
    const SCHEMA: KindSchema = SCHEMA;

    async fn list(cx: &Context, scope: Scope<'_>) -> Result<Vec<Listed>> {
        let no_status = |_: &neutron::SecurityGroup| None;
        // The rules' ids are kept for the apply that follows: a rule is deleted by its id.
        let listings = cx.listings.clone();
        common::list_neutron(cx, SECURITY_GROUPS, scope, no_status, move |g, _, o| {
            listings
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .keep(&g.id, g.security_group_rules.clone());
            observe(g, &o.names)
        })
        .await
    }

    async fn create(cx: &Context, res: &DesiredResource, ids: &Ids) -> Result<String> {
        let session = tenant_session(cx, res, ids).await?;
        let body = json!({
            "name": name_of(res),
            "description": res.attrs.get("description").and_then(Value::as_str).unwrap_or(""),
        });
        let tags = common::ownership_tags(cx, &res.addr);
        let group: neutron::SecurityGroup =
            neutron_create_tagged(&session, SECURITY_GROUPS, &res.addr, body, &tags).await?;
        // The reply (or the group adopted by its tags) carries the rules Neutron made with
        // it: the default egress ones.
        converge_rules(cx, res, &group.id, &group.security_group_rules, ids).await?;
        Ok(group.id)
    }

    async fn update(
        cx: &Context,
        res: &DesiredResource,
        current: &ObservedResource,
        ids: &Ids,
    ) -> Result<()> {
        let changes = common::body_changes(&SCHEMA, res, current);
        if !changes.is_empty() {
            let _: neutron::SecurityGroup = cx
                .cloud
                .admin()
                .network()
                .update(SECURITY_GROUPS, &current.id, Value::Object(changes))
                .await?;
        }
        if res.attrs.get("rules") != current.attrs.get("rules") {
            let live = live_rules(cx, &current.id).await?;
            converge_rules(cx, res, &current.id, &live, ids).await?;
        }
        Ok(())
    }

    async fn delete(cx: &Context, current: &ObservedResource, _ids: &Ids) -> Result<()> {
        let api = cx.cloud.admin().network();
        match api.delete(SECURITY_GROUPS, &current.id).await {
            Err(error) if error.is_conflict() => {}
            other => return gone_ok(other),
        }
        // Real Neutron refuses to delete a group a port still uses (409 "Security Group ...
        // in use"). When the spec drops a group but keeps an instance that used it, the
        // group's delete runs before the instance's update (deletes go first), so take the
        // group off stackform's own ports and try again; anyone else's port still blocks it.
        let lineage_tag = common::lineage_tag(cx);
        let query = neutron::query(&[("tags", &lineage_tag)]);
        let ports: Vec<neutron::Port> = api.list(PORTS, &query).await?;
        for (port, remaining) in ports_to_release(&ports, &current.id, &lineage_tag) {
            let _: neutron::Port = api
                .update(PORTS, &port, json!({ "security_groups": remaining }))
                .await?;
        }
        gone_ok(api.delete(SECURITY_GROUPS, &current.id).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(
        id: &str,
        direction: &str,
        ethertype: &str,
        protocol: Option<&str>,
        ports: Option<(i64, i64)>,
        prefix: Option<&str>,
    ) -> neutron::SecurityGroupRule {
        neutron::SecurityGroupRule {
            id: id.into(),
            security_group_id: "g1".into(),
            direction: direction.into(),
            ethertype: ethertype.into(),
            protocol: protocol.map(|p| json!(p)),
            port_range_min: ports.map(|p| p.0),
            port_range_max: ports.map(|p| p.1),
            remote_ip_prefix: prefix.map(str::to_string),
            remote_group_id: None,
        }
    }

    fn egress(ethertype: &str) -> Value {
        json!({"direction": "egress", "ethertype": ethertype, "protocol": null,
               "port_range_min": null, "port_range_max": null, "remote_ip_prefix": null})
    }

    fn ssh() -> Value {
        json!({"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp",
               "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "0.0.0.0/0"})
    }

    #[test]
    fn observes_rules_sorted_with_protocol_numbers_named() {
        let mut names = Names::default();
        names.insert(Kind::Tenant, "p1", "demo");
        let group = neutron::SecurityGroup {
            id: "g1".into(),
            name: "web".into(),
            description: Some("web servers".into()),
            project_id: "p1".into(),
            security_group_rules: vec![
                rule("r1", "egress", "IPv6", None, None, None),
                rule(
                    "r2",
                    "ingress",
                    "IPv4",
                    Some("6"),
                    Some((22, 22)),
                    Some("0.0.0.0/0"),
                ),
                rule("r3", "egress", "IPv4", None, None, None),
            ],
            tags: vec![],
        };
        let mut expected_rules = vec![egress("IPv6"), ssh(), egress("IPv4")];
        expected_rules.sort_by_key(|r| r.to_string());
        let expected: Attrs = [
            ("name".to_string(), json!("web")),
            ("description".to_string(), json!("web servers")),
            ("tenant".to_string(), json!("demo")),
            ("rules".to_string(), Value::Array(expected_rules)),
        ]
        .into();
        assert_eq!(observe(&group, &names), expected);
    }

    #[test]
    fn ipv6_icmp_is_observed_as_neutron_stores_it() {
        // Real Neutron answers `ipv6-icmp` for a rule created as `icmpv6`, and keeps numbers.
        let names = Names::default();
        for stored in ["ipv6-icmp", "58", "icmp", "1"] {
            let observed = observe_rule(
                &rule("r", "ingress", "IPv6", Some(stored), None, None),
                &names,
            );
            assert_eq!(observed["protocol"], "ipv6-icmp", "stored as {stored}");
        }
        let v4 = observe_rule(&rule("r", "ingress", "IPv4", Some("1"), None, None), &names);
        assert_eq!(v4["protocol"], "icmp");
    }

    #[test]
    fn only_stackforms_ports_are_released_from_a_deleted_group() {
        let port = |id: &str, groups: &[&str], tags: &[&str]| neutron::Port {
            id: id.into(),
            security_groups: groups.iter().map(|g| g.to_string()).collect(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            ..neutron::Port::default()
        };
        let ours = "stackform-lineage:L";
        let ports = [
            port("p1", &["web", "ssh"], &[ours]),
            port("p2", &["ssh"], &[ours]),
            port("p3", &["web"], &["stackform-lineage:other"]),
            port("p4", &["web"], &[ours]),
        ];
        assert_eq!(
            ports_to_release(&ports, "web", ours),
            [
                ("p1".to_string(), vec!["ssh".to_string()]),
                ("p4".to_string(), vec![])
            ]
        );
    }

    #[test]
    fn remote_group_rules_never_equal_a_spec_rule() {
        let mut names = Names::default();
        names.insert(Kind::SecurityGroup, "g1", "web");
        let mut from_group = rule("r9", "ingress", "IPv4", None, None, None);
        from_group.remote_group_id = Some("g1".into());
        assert_eq!(
            observe_rule(&from_group, &names),
            json!({"direction": "ingress", "ethertype": "IPv4", "protocol": null,
                   "port_range_min": null, "port_range_max": null, "remote_ip_prefix": null,
                   "remote_group": "web"})
        );
    }

    #[test]
    fn converging_rules_touches_only_differences() {
        let live = vec![
            rule("r1", "egress", "IPv4", None, None, None),
            rule("r2", "egress", "IPv6", None, None, None),
            rule(
                "r3",
                "ingress",
                "IPv4",
                Some("tcp"),
                Some((80, 80)),
                Some("0.0.0.0/0"),
            ),
        ];
        let desired = vec![egress("IPv4"), egress("IPv6"), ssh()];
        let (delete, create) = plan_rules(&live, &desired);
        assert_eq!(
            delete.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            vec!["r3"]
        );
        assert_eq!(create, vec![&ssh()]);
        assert_eq!(
            rule_body("g1", &ssh()),
            json!({"security_group_id": "g1", "direction": "ingress", "ethertype": "IPv4",
                   "protocol": "tcp", "port_range_min": 22, "port_range_max": 22,
                   "remote_ip_prefix": "0.0.0.0/0"})
        );
        assert_eq!(
            rule_body("g1", &egress("IPv6")),
            json!({"security_group_id": "g1", "direction": "egress", "ethertype": "IPv6"})
        );
    }
}
