//! Checks a plan needs the cloud for, run before any call is made, so a plan that cannot
//! succeed fails early and points at the spec line to change: names the cloud must know
//! (flavors, images) exist, and each kind's own plan checks (a tenant's quotas hold what the
//! spec puts in it, nothing is created in a disabled tenant).

use serde_json::Value;

use crate::diag::{Diagnostic, Diagnostics};
use crate::resources::Observed;
use crate::resources::compute_zones::closest_first;
use crate::resources::schema::{self, AttrType, Catalog};
use crate::spec::{Desired, DesiredResource};

pub fn check(desired: &Desired, observed: &Observed) -> Diagnostics {
    let mut out = Diagnostics::default();
    for resource in desired.resources.values() {
        for attr in resource.addr.kind.schema().attrs {
            if let AttrType::CloudName { catalog, .. }
            | AttrType::OptionalCloudName { catalog, .. } = attr.ty
            {
                check_exists(resource, attr.name, catalog, desired, observed, &mut out);
            }
        }
    }
    for resource in desired.resources.values() {
        if let Some(kind_check) = resource.addr.kind.schema().plan_check {
            kind_check(resource, desired, observed, &mut out);
        }
    }
    for resource in desired.resources.values() {
        check_not_foreign(resource, observed, &mut out);
        check_sources_defined(resource, desired, observed, &mut out);
    }
    check_external_network(desired, observed, &mut out);
    out
}

/// `[provider] external_network` must name one of the cloud's external networks: routers
/// take their gateway there and floating IPs their addresses, and a typo would otherwise
/// fail only after the resources before them were made.
fn check_external_network(desired: &Desired, observed: &Observed, out: &mut Diagnostics) {
    let provider = &desired.provider;
    let Some(wanted) = provider.external_network.as_deref() else {
        return;
    };
    if let Err(problem) =
        crate::resources::find_external_network(&observed.external_networks, wanted)
    {
        let mut diagnostic = Diagnostic::error(format!("[provider] external_network {problem}"))
            .help("name a network with router:external = true, by its name or id");
        if let Some(span) = provider
            .external_network_span
            .clone()
            .or_else(|| provider.span.clone())
        {
            diagnostic = diagnostic.at(span);
        }
        out.push(diagnostic);
    }
}

/// A resource still to be made needs what it is copied from ([`schema::made_from`]: a
/// backup's volume): the spec loader leaves those references to the plan, since a copy that
/// exists keeps no tie to its source (a Cinder backup outlives its volume).
fn check_sources_defined(
    resource: &DesiredResource,
    desired: &Desired,
    observed: &Observed,
    out: &mut Diagnostics,
) {
    let addr = &resource.addr;
    if observed.resources.contains_key(addr) {
        return;
    }
    for reference in &resource.refs {
        if !schema::made_from(addr.kind, &reference.field)
            || desired.get(&reference.target).is_some()
        {
            continue;
        }
        let target = &reference.target;
        out.push(
            Diagnostic::error(format!("{target} is not defined"))
                .at(reference.span.clone())
                .help(format!(
                    "{addr} is made from it: define it with a [{target}] table (once {addr} \
                     exists, {target} may leave the spec)"
                )),
        );
    }
}

/// A resource to create that another state already made: the same spec applied from a second
/// state folder. The create would fail half-way (Keystone answers 409 for a project name
/// taken) or duplicate what the other state manages, so the plan stops and says whose it is.
fn check_not_foreign(resource: &DesiredResource, observed: &Observed, out: &mut Diagnostics) {
    let addr = &resource.addr;
    if observed.resources.contains_key(addr) {
        return;
    }
    // Where the cloud keeps names unique (projects), only the same name collides: another
    // state may well have its own `tenant.demo` under another name (on a shared cloud, every
    // state of every team).
    let wanted = resource
        .attrs
        .get("name")
        .and_then(serde_json::Value::as_str);
    let Some(foreign) = observed.foreign.get(addr).and_then(|all| {
        all.iter()
            .find(|f| f.unique_name.is_none() || f.unique_name.as_deref() == wanted)
    }) else {
        return;
    };
    out.push(
        Diagnostic::error(format!(
            "{addr} exists in the cloud (id {}), owned by lineage {} (another state)",
            foreign.id, foreign.lineage
        ))
        .at(resource.span.clone())
        .help(format!(
            "manage it from that state: run `stackform state recover --lineage {}` in that \
             state's folder, or delete it from the cloud to create it here",
            foreign.lineage
        )),
    );
}

fn check_exists(
    resource: &DesiredResource,
    attr: &str,
    catalog: Catalog,
    desired: &Desired,
    observed: &Observed,
    out: &mut Diagnostics,
) {
    let Some(wanted) = resource.attrs.get(attr).and_then(Value::as_str) else {
        return;
    };
    // A resource of the spec that joins the catalog (an `[image.NAME]`), named by address.
    let joins = |kind: crate::addr::Kind| kind.schema().catalog == Some(catalog);
    if crate::addr::Kind::ALL
        .into_iter()
        .filter(|k| joins(*k))
        .any(|k| desired.get(&crate::addr::Address::new(k, wanted)).is_some())
    {
        return;
    }
    // Flavors and images are listed closest to the name asked first: a typo's fix leads.
    let available: Vec<&str> = match catalog {
        Catalog::Flavors => closest_first(wanted, observed.flavors.keys().map(String::as_str)),
        Catalog::Images => closest_first(wanted, observed.images.keys().map(String::as_str)),
        Catalog::VolumeTypes => observed.volume_types.iter().map(String::as_str).collect(),
        Catalog::VolumeZones => observed.volume_zones.iter().map(String::as_str).collect(),
    };
    if available.contains(&wanted) {
        return;
    }
    let plural = catalog.plural();
    let help = if available.is_empty() {
        format!("the cloud has no {plural}")
    } else {
        format!("available {plural}: {}", available.join(", "))
    };
    out.push(
        Diagnostic::error(format!(
            "{}: {attr} `{wanted}` does not exist in the cloud",
            resource.addr
        ))
        .at(resource.span_of(attr))
        .help(help),
    );
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::plan::fixtures::{desired, flavors, resource, span_at};

    fn cloud() -> Observed {
        Observed {
            flavors: flavors(),
            images: [
                ("cirros".to_string(), "img-1".to_string()),
                ("alpine".to_string(), "img-2".to_string()),
            ]
            .into(),
            ..Observed::default()
        }
    }

    fn instance(name: &str, flavor: &str, image: &str) -> DesiredResource {
        resource(
            &format!("instance.{name}"),
            json!({"tenant": "demo", "flavor": flavor, "image": image, "subnet": "s"}),
        )
    }

    fn messages(d: &Diagnostics) -> Vec<(String, Option<String>, Option<usize>)> {
        d.iter()
            .map(|d| {
                (
                    d.message.clone(),
                    d.help.clone(),
                    d.span.as_ref().map(|s| s.range.start),
                )
            })
            .collect()
    }

    /// Regression (issue 7): the same spec applied from a second state folder planned
    /// creates, then failed on Keystone's 409 for the project name.
    #[test]
    fn a_resource_of_another_lineage_is_named_with_its_owner() {
        let mut observed = cloud();
        let foreign = |id: &str, name: &str| crate::resources::Foreign {
            id: id.into(),
            lineage: "L-OTHER".into(),
            unique_name: Some(name.into()),
        };
        // Another state's `tenant.demo` under another project name is no collision.
        observed.foreign.insert(
            crate::plan::fixtures::addr("tenant.demo"),
            vec![foreign("p-0", "someone-else"), foreign("p-1", "demo")],
        );
        let spec = desired(vec![resource("tenant.demo", json!({"name": "demo"}))]);
        let found = messages(&check(&spec, &observed));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            found[0].0,
            "tenant.demo exists in the cloud (id p-1), owned by lineage L-OTHER (another state)"
        );
        assert!(
            found[0]
                .1
                .as_deref()
                .is_some_and(|h| h.contains("state recover --lineage L-OTHER")),
            "{found:?}"
        );
        // Once this state manages it (by id or by its own tag), the other claim is moot.
        let mut ours = observed.clone();
        ours.resources = crate::plan::fixtures::observed_as_applied(&spec).resources;
        assert_eq!(check(&spec, &ours), Diagnostics::default());
    }

    #[test]
    fn known_flavors_and_images_pass() {
        let spec = desired(vec![instance("a", "m1.small", "cirros")]);
        assert_eq!(check(&spec, &cloud()), Diagnostics::default());
    }

    #[test]
    fn unknown_flavor_and_image_point_at_their_attribute_and_list_the_choices() {
        let mut bad = instance("a", "m1.huge", "ubuntu");
        bad.attr_spans.insert("flavor".into(), span_at(40));
        bad.attr_spans.insert("image".into(), span_at(60));
        let d = check(&desired(vec![bad]), &cloud());
        assert_eq!(
            messages(&d),
            [
                (
                    "instance.a: flavor `m1.huge` does not exist in the cloud".to_string(),
                    Some("available flavors: m1.tiny, m1.small".to_string()),
                    Some(40)
                ),
                (
                    "instance.a: image `ubuntu` does not exist in the cloud".to_string(),
                    Some("available images: alpine, cirros".to_string()),
                    Some(60)
                ),
            ]
        );
    }

    #[test]
    fn an_empty_catalog_says_so() {
        let d = check(
            &desired(vec![instance("a", "m1.tiny", "cirros")]),
            &Observed::default(),
        );
        assert_eq!(d.0[0].help.as_deref(), Some("the cloud has no flavors"));
        assert_eq!(d.0[1].help.as_deref(), Some("the cloud has no images"));
    }

    fn tenant(quotas: Value) -> DesiredResource {
        let mut t = resource("tenant.demo", json!({"name": "demo", "quotas": quotas}));
        t.attr_spans.insert("quotas".into(), span_at(77));
        t
    }

    #[test]
    fn quotas_are_checked_per_tenant_against_the_flavors_of_its_instances() {
        let spec = desired(vec![
            tenant(json!({"instances": 2, "vcpu": 4, "ram": 4096})),
            instance("a", "m1.small", "cirros"),
            instance("b", "m1.small", "cirros"),
            instance("c", "m1.small", "cirros"),
            resource(
                "instance.elsewhere",
                json!({"tenant": "other", "flavor": "m1.small", "image": "cirros"}),
            ),
        ]);
        let d = check(&spec, &cloud());
        assert_eq!(
            messages(&d),
            [
                (
                    "tenant.demo: 3 instances but quotas.instances is 2".to_string(),
                    Some("raise quotas.instances to at least 3".to_string()),
                    Some(77)
                ),
                (
                    "tenant.demo: 3 instances need 6 vCPUs but quotas.vcpu is 4".to_string(),
                    Some("raise quotas.vcpu to at least 6, or use smaller flavors".to_string()),
                    Some(77)
                ),
                (
                    "tenant.demo: 3 instances need 6144 MiB of RAM but quotas.ram is 4096"
                        .to_string(),
                    Some("raise quotas.ram to at least 6144, or use smaller flavors".to_string()),
                    Some(77)
                ),
            ]
        );
    }

    /// A server made by hand in the tenant takes its share of the quota: the plan counts
    /// what the cloud says is in use beyond what the spec's existing resources take.
    #[test]
    fn quotas_count_what_runs_in_the_tenant_outside_the_spec() {
        let quotas = tenant(json!({"instances": 3, "vcpu": 8, "port_count": 10}));
        let existing = instance("a", "m1.small", "cirros");
        let spec = desired(vec![
            quotas.clone(),
            existing.clone(),
            instance("b", "m1.small", "cirros"),
        ]);
        let mut observed = cloud();
        observed.resources =
            crate::plan::fixtures::observed_as_applied(&desired(vec![quotas, existing])).resources;
        // instance.a (2 vCPUs, one port) and two servers of one vCPU made by hand, with
        // their ports and a DHCP port.
        observed.quota_in_use.insert(
            "id-demo".into(),
            [
                ("instances".to_string(), 3),
                ("vcpu".to_string(), 4),
                ("port_count".to_string(), 4),
            ]
            .into(),
        );
        assert_eq!(
            messages(&check(&spec, &observed)),
            [(
                "tenant.demo: 4 instances (2 outside the spec) but quotas.instances is 3"
                    .to_string(),
                Some("raise quotas.instances to at least 4".to_string()),
                Some(77)
            )]
        );
        // Once the servers made by hand are gone, the spec fits.
        observed.quota_in_use.insert(
            "id-demo".into(),
            [("instances".to_string(), 1), ("vcpu".to_string(), 2)].into(),
        );
        assert_eq!(check(&spec, &observed), Diagnostics::default());
    }

    #[test]
    fn unlimited_unset_and_sufficient_quotas_pass() {
        let spec = desired(vec![
            tenant(json!({"instances": -1, "vcpu": 2, "network_count": 1})),
            instance("a", "m1.small", "cirros"),
        ]);
        assert_eq!(check(&spec, &cloud()), Diagnostics::default());
    }

    #[test]
    fn creating_in_a_disabled_tenant_is_refused_before_any_call() {
        let mut off = resource("tenant.demo", json!({"name": "demo", "enabled": false}));
        off.attr_spans.insert("enabled".into(), span_at(33));
        let existing = resource("network.net", json!({"tenant": "demo"}));
        let spec = desired(vec![
            off,
            existing.clone(),
            resource(
                "subnet.sub",
                json!({"network": "net", "cidr": "10.0.0.0/24"}),
            ),
            instance("a", "m1.small", "cirros"),
            resource("network.other", json!({"tenant": "elsewhere"})),
        ]);
        let mut observed = cloud();
        let net = crate::plan::fixtures::observed_as_applied(&desired(vec![existing]));
        observed.resources = net.resources;
        assert_eq!(
            messages(&check(&spec, &observed)),
            [(
                "tenant.demo: is disabled (enabled = false), so subnet.sub, instance.a cannot be created in it"
                    .to_string(),
                Some(
                    "OpenStack gives no token for a disabled project: apply with enabled = true first, then disable the tenant"
                        .to_string()
                ),
                Some(33)
            )]
        );
        // Once everything exists, a disabled tenant is fine.
        let mut all = cloud();
        all.resources = crate::plan::fixtures::observed_as_applied(&spec).resources;
        assert_eq!(check(&spec, &all), Diagnostics::default());
    }

    #[test]
    fn neutron_quotas_count_the_networks_and_rbac_policies_of_the_tenant() {
        let spec = desired(vec![
            tenant(json!({"network_count": 1, "rbac_policies": 1, "subnet_count": 5})),
            resource("network.n", json!({"tenant": "demo"})),
            resource("network.m", json!({"tenant": "demo"})),
            resource(
                "network_rbac.a",
                json!({"network": "n", "target_tenant": "p-guest", "action": "access_as_shared"}),
            ),
            resource(
                "network_rbac.b",
                json!({"network": "m", "target_tenant": "p-guest", "action": "access_as_shared"}),
            ),
        ]);
        let mut observed = cloud();
        observed.projects.insert("p-guest".into());
        assert_eq!(
            messages(&check(&spec, &observed)),
            [
                (
                    "tenant.demo: the spec makes 2 networks but quotas.network_count is 1"
                        .to_string(),
                    Some("raise quotas.network_count to at least 2".to_string()),
                    Some(77)
                ),
                (
                    "tenant.demo: the spec makes 2 RBAC policies but quotas.rbac_policies is 1"
                        .to_string(),
                    Some("raise quotas.rbac_policies to at least 2".to_string()),
                    Some(77)
                ),
            ]
        );
    }

    #[test]
    fn an_rbac_target_must_be_a_tenant_a_project_or_everyone_through_shared() {
        let mut nowhere = resource(
            "network_rbac.a",
            json!({"network": "n", "target_tenant": "nobody", "action": "access_as_shared"}),
        );
        nowhere
            .attr_spans
            .insert("target_tenant".into(), span_at(12));
        let mut everyone = resource(
            "network_rbac.b",
            json!({"network": "n", "target_tenant": "*", "action": "access_as_shared"}),
        );
        everyone
            .attr_spans
            .insert("target_tenant".into(), span_at(34));
        let fine = [
            resource(
                "network_rbac.c",
                json!({"network": "n", "target_tenant": "demo", "action": "access_as_shared"}),
            ),
            resource(
                "network_rbac.d",
                json!({"network": "n", "target_tenant": "p-1", "action": "access_as_shared"}),
            ),
            resource(
                "network_rbac.e",
                json!({"network": "n", "target_tenant": "*", "action": "access_as_external"}),
            ),
        ];
        let mut all = vec![
            resource("tenant.demo", json!({"name": "demo"})),
            resource("network.n", json!({"tenant": "demo"})),
            nowhere,
            everyone,
        ];
        all.extend(fine);
        let mut observed = cloud();
        observed.projects.insert("p-1".into());
        let found = messages(&check(&desired(all), &observed));
        assert_eq!(
            found,
            [
                (
                    "network_rbac.a: target_tenant `nobody` is neither a tenant of the spec nor a project of the cloud"
                        .to_string(),
                    Some("write the name of a [tenant.NAME] of the spec, the id of an existing project, or \"*\" for every project".to_string()),
                    Some(12)
                ),
                (
                    "network_rbac.b: sharing a network with every project is the network's `shared` flag"
                        .to_string(),
                    Some("remove this policy and write shared = true on the network".to_string()),
                    Some(34)
                ),
            ]
        );
    }

    #[test]
    fn one_instance_reads_in_the_singular() {
        let spec = desired(vec![
            tenant(json!({"vcpu": 1})),
            instance("a", "m1.small", "cirros"),
        ]);
        assert_eq!(
            check(&spec, &cloud()).0[0].message,
            "tenant.demo: 1 instance needs 2 vCPUs but quotas.vcpu is 1"
        );
    }
}
