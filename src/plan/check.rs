//! Checks a plan needs the cloud for: flavors and images that exist, and tenant quotas that
//! hold what the spec asks for. Run before any call is made, so a plan that cannot succeed
//! fails early and points at the spec line to change.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::addr::Kind;
use crate::diag::{Diagnostic, Diagnostics};
use crate::resources::{Flavor, Observed};
use crate::spec::{Desired, DesiredResource};

pub fn check(desired: &Desired, observed: &Observed) -> Diagnostics {
    let mut out = Diagnostics::default();
    for instance in desired.of_kind(Kind::Instance) {
        let flavors: Vec<&String> = observed.flavors.keys().collect();
        check_exists(instance, "flavor", "flavors", &flavors, &mut out);
        let images: Vec<&String> = observed.images.keys().collect();
        check_exists(instance, "image", "images", &images, &mut out);
    }
    for tenant in desired.of_kind(Kind::Tenant) {
        check_quotas(tenant, desired, &observed.flavors, &mut out);
    }
    check_disabled_tenants(desired, observed, &mut out);
    out
}

/// The tenant a resource lives in: its `tenant`, or (a subnet) its network's.
fn tenant_of<'a>(desired: &'a Desired, resource: &'a DesiredResource) -> Option<&'a str> {
    if let Some(tenant) = resource.attrs.get("tenant").and_then(Value::as_str) {
        return Some(tenant);
    }
    let network = resource.attrs.get("network").and_then(Value::as_str)?;
    desired
        .of_kind(Kind::Network)
        .find(|n| n.addr.name == network)
        .and_then(|n| n.attrs.get("tenant"))
        .and_then(Value::as_str)
}

/// Creating in a tenant needs a token scoped to it, and real Keystone issues none for a
/// disabled project (401 on POST /v3/auth/tokens): such a create can only fail, midway
/// through an apply. Updates and deletes go through the admin session and are fine.
fn check_disabled_tenants(desired: &Desired, observed: &Observed, out: &mut Diagnostics) {
    let disabled: Vec<&DesiredResource> = desired
        .of_kind(Kind::Tenant)
        .filter(|t| t.attrs.get("enabled") == Some(&Value::Bool(false)))
        .collect();
    for tenant in disabled {
        let creates: Vec<String> = desired
            .resources
            .values()
            .filter(|r| r.addr.kind != Kind::Tenant)
            .filter(|r| tenant_of(desired, r) == Some(tenant.addr.name.as_str()))
            .filter(|r| !observed.resources.contains_key(&r.addr))
            .map(|r| r.addr.to_string())
            .collect();
        if creates.is_empty() {
            continue;
        }
        out.push(
            Diagnostic::error(format!(
                "{}: is disabled (enabled = false), so {} cannot be created in it",
                tenant.addr,
                creates.join(", ")
            ))
            .at(span_of(tenant, "enabled"))
            .help(
                "OpenStack gives no token for a disabled project: apply with enabled = true \
                 first, then disable the tenant",
            ),
        );
    }
}

fn check_exists(
    instance: &DesiredResource,
    attr: &str,
    plural: &str,
    available: &[&String],
    out: &mut Diagnostics,
) {
    let Some(wanted) = instance.attrs.get(attr).and_then(Value::as_str) else {
        return;
    };
    if available.iter().any(|name| name.as_str() == wanted) {
        return;
    }
    let help = if available.is_empty() {
        format!("the cloud has no {plural}")
    } else {
        let names: Vec<&str> = available.iter().map(|s| s.as_str()).collect();
        format!("available {plural}: {}", names.join(", "))
    };
    out.push(
        Diagnostic::error(format!(
            "{}: {attr} `{wanted}` does not exist in the cloud",
            instance.addr
        ))
        .at(span_of(instance, attr))
        .help(help),
    );
}

fn span_of(resource: &DesiredResource, attr: &str) -> crate::diag::Span {
    resource
        .attr_spans
        .get(attr)
        .unwrap_or(&resource.span)
        .clone()
}

/// What the desired instances of one tenant consume.
#[derive(Default)]
struct Usage {
    instances: u64,
    vcpus: u64,
    ram_mb: u64,
}

fn check_quotas(
    tenant: &DesiredResource,
    desired: &Desired,
    flavors: &BTreeMap<String, Flavor>,
    out: &mut Diagnostics,
) {
    let Some(Value::Object(quotas)) = tenant.attrs.get("quotas") else {
        return;
    };
    let mut usage = Usage::default();
    for instance in desired.of_kind(Kind::Instance) {
        if instance.attrs.get("tenant").and_then(Value::as_str) != Some(&tenant.addr.name) {
            continue;
        }
        usage.instances += 1;
        // An unknown flavor is reported on its own; it consumes nothing here.
        let flavor = instance.attrs.get("flavor").and_then(Value::as_str);
        if let Some(f) = flavor.and_then(|name| flavors.get(name)) {
            usage.vcpus += f.vcpus;
            usage.ram_mb += f.ram_mb;
        }
    }
    let limit = |key: &str| -> Option<u64> {
        // Negative (-1) is unlimited.
        quotas
            .get(key)
            .and_then(Value::as_i64)
            .and_then(|l| u64::try_from(l).ok())
    };
    let addr = &tenant.addr;
    let instances = count(usage.instances, "instance", "instances");
    let mut over = Vec::new();
    if let Some(l) = limit("instances").filter(|l| usage.instances > *l) {
        over.push((
            format!("{addr}: {instances} but quotas.instances is {l}"),
            format!("raise quotas.instances to at least {}", usage.instances),
        ));
    }
    if let Some(l) = limit("vcpu").filter(|l| usage.vcpus > *l) {
        over.push((
            format!(
                "{addr}: {instances} {} {} but quotas.vcpu is {l}",
                need(usage.instances),
                count(usage.vcpus, "vCPU", "vCPUs")
            ),
            format!(
                "raise quotas.vcpu to at least {}, or use smaller flavors",
                usage.vcpus
            ),
        ));
    }
    if let Some(l) = limit("ram").filter(|l| usage.ram_mb > *l) {
        over.push((
            format!(
                "{addr}: {instances} {} {} MiB of RAM but quotas.ram is {l}",
                need(usage.instances),
                usage.ram_mb
            ),
            format!(
                "raise quotas.ram to at least {}, or use smaller flavors",
                usage.ram_mb
            ),
        ));
    }
    for (message, help) in over {
        out.push(
            Diagnostic::error(message)
                .at(span_of(tenant, "quotas"))
                .help(help),
        );
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
                    Some("available flavors: m1.small, m1.tiny".to_string()),
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

    #[test]
    fn unlimited_unset_and_sufficient_quotas_pass() {
        let spec = desired(vec![
            tenant(json!({"instances": -1, "vcpu": 2, "networks": 1})),
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
