//! A tenant's Cinder quotas: how the spec writes them (`storage`, or one quota per volume
//! type under `volume_types`, as `[provider] storage_mode` says), how they map to Cinder's
//! quota set (`gigabytes`, `gigabytes_<type>`...), and the plan's check that the volumes a
//! plan creates and grows fit in them, counting what the tenant already uses.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use super::Observed;
use crate::addr::Kind;
use crate::diag::{Diagnostic, Diagnostics};
use crate::openstack::block_storage::QuotaUse;
use crate::spec::{Desired, DesiredResource, StorageMode};

/// Spec quota key → Cinder quota key.
pub const CINDER_QUOTAS: &[(&str, &str)] = &[
    ("storage", "gigabytes"),
    ("volumes", "volumes"),
    ("snapshots", "snapshots"),
    ("backups", "backups"),
    ("backup_gigabytes", "backup_gigabytes"),
];

/// The quota written as a table: volume type name → gigabytes (`gigabytes_<type>`).
pub const VOLUME_TYPES: &str = "volume_types";

/// The type Cinder gives a volume made without one (its `default_volume_type`, which a
/// cloud keeps as `__DEFAULT__` unless its operator names another): such a volume counts
/// against that type's quota.
pub(crate) const DEFAULT_VOLUME_TYPE: &str = "__DEFAULT__";

/// Cinder's per-type gigabytes quota of `volume_type`.
fn per_type(volume_type: &str) -> String {
    format!("gigabytes_{volume_type}")
}

/// Writes Cinder's limits into `quotas` under the spec's keys.
pub fn observe(quotas: &mut Map<String, Value>, usage: &BTreeMap<String, QuotaUse>) {
    for (spec_key, cinder_key) in CINDER_QUOTAS {
        if let Some(q) = usage.get(*cinder_key) {
            quotas.insert(spec_key.to_string(), json!(q.limit));
        }
    }
    let types: Map<String, Value> = usage
        .iter()
        .filter_map(|(k, q)| Some((k.strip_prefix("gigabytes_")?.to_string(), json!(q.limit))))
        .collect();
    if !types.is_empty() {
        quotas.insert(VOLUME_TYPES.into(), Value::Object(types));
    }
}

/// The Cinder quota changes to send: desired keys whose value differs from the current one.
/// With `volume_types`, `gigabytes` becomes their sum (-1 if any is unlimited), so that the
/// total never stops a volume the per-type quota allows.
pub fn changes(
    desired: &Map<String, Value>,
    current: Option<&Map<String, Value>>,
) -> BTreeMap<String, i64> {
    let have = |key: &str| current.and_then(|c| c.get(key));
    let mut out: BTreeMap<String, i64> = CINDER_QUOTAS
        .iter()
        .filter_map(|(spec_key, cinder_key)| {
            let want = desired.get(*spec_key)?.as_i64()?;
            (have(spec_key).and_then(Value::as_i64) != Some(want))
                .then(|| (cinder_key.to_string(), want))
        })
        .collect();
    if let Some(types) = desired.get(VOLUME_TYPES).and_then(Value::as_object) {
        let current_types = have(VOLUME_TYPES).and_then(Value::as_object);
        for (name, limit) in types {
            let Some(limit) = limit.as_i64() else {
                continue;
            };
            if current_types
                .and_then(|c| c.get(name))
                .and_then(Value::as_i64)
                != Some(limit)
            {
                out.insert(per_type(name), limit);
            }
        }
        let limits: Vec<i64> = types.values().filter_map(Value::as_i64).collect();
        let total = if limits.contains(&-1) {
            -1
        } else {
            limits.iter().sum()
        };
        if have("storage").and_then(Value::as_i64) != Some(total) {
            out.insert("gigabytes".into(), total);
        }
    }
    out
}

/// The tenants whose Cinder quota set refresh reads: those whose spec sets a storage quota,
/// and those holding volumes (their snapshots and backups count against the volume's
/// tenant), whose usage the plan's check needs even when they set no quota.
pub fn tenants_to_read(desired: &Desired) -> BTreeSet<String> {
    let sets_storage = |tenant: &DesiredResource| {
        tenant
            .attrs
            .get("quotas")
            .and_then(Value::as_object)
            .is_some_and(|quotas| {
                quotas.contains_key(VOLUME_TYPES)
                    || CINDER_QUOTAS
                        .iter()
                        .any(|(spec, _)| quotas.contains_key(*spec))
            })
    };
    let setting = desired
        .of_kind(Kind::Tenant)
        .filter(|t| sets_storage(t))
        .map(|t| t.addr.name.clone());
    let holding = desired
        .of_kind(Kind::Volume)
        .chain(
            desired
                .of_kind(Kind::Instance)
                .filter(|i| i.attrs.contains_key("boot_volume_size")),
        )
        .filter_map(|v| v.attrs.get("tenant").and_then(Value::as_str))
        .map(str::to_string);
    setting.chain(holding).collect()
}

/// What the plan does to one quota of a tenant.
#[derive(Default)]
struct Demand {
    /// Added by creates and growths, per resource ("volume.a" → 5).
    adds: Vec<(String, u64)>,
    /// Freed by the deletes of the plan.
    frees: u64,
}

/// The storage quotas of `tenant` hold what the plan creates and grows: the limit (the
/// spec's, else the cloud's) against what the tenant uses now, less what the plan deletes,
/// plus what it adds. Each quota over its limit is one error, naming all of it.
pub fn check(
    tenant: &DesiredResource,
    desired: &Desired,
    observed: &Observed,
    out: &mut Diagnostics,
) {
    let quotas = tenant.attrs.get("quotas").and_then(Value::as_object);
    check_mode(tenant, desired, quotas, out);
    let project = observed.resources.get(&tenant.addr).map(|r| r.id.as_str());
    let usage = project.and_then(|p| observed.storage_usage.get(p));
    let demands = demands(tenant, desired, observed);
    for (cinder_key, demand) in demands {
        let spec_key = spec_key_of(&cinder_key);
        let limit = quota_limit(quotas, &cinder_key)
            .or_else(|| usage.and_then(|u| u.get(&cinder_key)).map(|q| q.limit));
        let Some(limit) = limit.filter(|l| *l >= 0) else {
            continue;
        };
        let in_use = usage
            .and_then(|u| u.get(&cinder_key))
            .map_or(0, |q| (q.in_use + q.reserved).max(0) as u64);
        let added: u64 = demand.adds.iter().map(|(_, n)| n).sum();
        let after = (in_use.saturating_sub(demand.frees)) + added;
        if added == 0 || after <= limit as u64 {
            continue;
        }
        let what: Vec<String> = demand
            .adds
            .iter()
            .map(|(addr, n)| format!("{addr} {n}"))
            .collect();
        let freed = if demand.frees > 0 {
            format!(" ({} freed by the plan's deletes)", demand.frees)
        } else {
            String::new()
        };
        out.push(
            Diagnostic::error(format!(
                "{}: quota {cinder_key} ({spec_key}) is {limit}, {in_use} in use{freed}, and the \
                 plan adds {added} ({}): {after} would exceed it",
                tenant.addr,
                what.join(", ")
            ))
            .at(tenant.span_of("quotas"))
            .help(format!(
                "raise {spec_key} to at least {after}, or make less of it"
            )),
        );
    }
}

/// How the spec names a Cinder quota key.
fn spec_key_of(cinder_key: &str) -> String {
    if let Some((spec, _)) = CINDER_QUOTAS.iter().find(|(_, c)| *c == cinder_key) {
        return format!("quotas.{spec}");
    }
    match cinder_key.strip_prefix("gigabytes_") {
        Some(ty) => format!("quotas.{VOLUME_TYPES}.{ty}"),
        None => format!("quotas.{cinder_key}"),
    }
}

/// The limit the spec writes for a Cinder quota key.
fn quota_limit(quotas: Option<&Map<String, Value>>, cinder_key: &str) -> Option<i64> {
    let quotas = quotas?;
    if let Some(ty) = cinder_key.strip_prefix("gigabytes_") {
        return quotas.get(VOLUME_TYPES)?.get(ty)?.as_i64();
    }
    if let Some(types) = quotas
        .get(VOLUME_TYPES)
        .filter(|_| cinder_key == "gigabytes")
    {
        // What `changes` sets the total to.
        let gigabytes = changes(
            &Map::from_iter([(VOLUME_TYPES.to_string(), types.clone())]),
            None,
        );
        return gigabytes.get("gigabytes").copied();
    }
    let (spec, _) = CINDER_QUOTAS.iter().find(|(_, c)| *c == cinder_key)?;
    quotas.get(*spec)?.as_i64()
}

/// `storage` belongs to the fixed mode, `volume_types` to the dynamic one.
fn check_mode(
    tenant: &DesiredResource,
    desired: &Desired,
    quotas: Option<&Map<String, Value>>,
    out: &mut Diagnostics,
) {
    let Some(quotas) = quotas else { return };
    let (wrong, help) = match desired.provider.storage_mode {
        StorageMode::Fixed => (
            VOLUME_TYPES,
            "per-type quotas need `storage_mode = \"dynamic\"` in [provider]; in the fixed mode \
             write one `storage` quota (GB)",
        ),
        StorageMode::Dynamic => (
            "storage",
            "in the dynamic mode storage is the sum of `volume_types = { TYPE = GB }`: write \
             those, or set `storage_mode = \"fixed\"` in [provider]",
        ),
    };
    if quotas.contains_key(wrong) {
        out.push(
            Diagnostic::error(format!(
                "{}: quotas.{wrong} does not apply in storage_mode \"{}\"",
                tenant.addr,
                match desired.provider.storage_mode {
                    StorageMode::Fixed => "fixed",
                    StorageMode::Dynamic => "dynamic",
                }
            ))
            .at(tenant.span_of("quotas"))
            .help(help),
        );
    }
}

/// What the plan adds to and frees of each Cinder quota of `tenant`, from its volumes.
fn demands(
    tenant: &DesiredResource,
    desired: &Desired,
    observed: &Observed,
) -> BTreeMap<String, Demand> {
    let in_tenant = |attrs: &crate::spec::Attrs| {
        attrs.get("tenant").and_then(Value::as_str) == Some(tenant.addr.name.as_str())
    };
    let dynamic = desired.provider.storage_mode == StorageMode::Dynamic;
    let mut out: BTreeMap<String, Demand> = BTreeMap::new();
    for volume in desired
        .of_kind(Kind::Volume)
        .filter(|v| in_tenant(&v.attrs))
    {
        let size = super::volume::planned_size(volume, desired, observed);
        let seen = observed.resources.get(&volume.addr);
        let had = seen
            .and_then(|s| s.attrs.get("size"))
            .and_then(Value::as_u64);
        let (count, gigabytes) = match had {
            None => (1, size),
            Some(had) => (0, size.saturating_sub(had)),
        };
        let ty = volume
            .attrs
            .get("type")
            .or_else(|| seen.and_then(|s| s.attrs.get("type")))
            .and_then(Value::as_str)
            .unwrap_or(DEFAULT_VOLUME_TYPE);
        let addr = volume.addr.to_string();
        if count > 0 {
            out.entry("volumes".into())
                .or_default()
                .adds
                .push((addr.clone(), count));
        }
        if gigabytes > 0 {
            out.entry("gigabytes".into())
                .or_default()
                .adds
                .push((addr.clone(), gigabytes));
            if dynamic {
                out.entry(per_type(ty))
                    .or_default()
                    .adds
                    .push((addr, gigabytes));
            }
        }
    }
    // A server booted from a new volume has Nova make it in the tenant: one volume of the
    // default type, `boot_volume_size` GB.
    for instance in desired
        .of_kind(Kind::Instance)
        .filter(|i| in_tenant(&i.attrs) && !observed.resources.contains_key(&i.addr))
    {
        let Some(size) = instance
            .attrs
            .get("boot_volume_size")
            .and_then(Value::as_u64)
        else {
            continue;
        };
        let addr = instance.addr.to_string();
        out.entry("volumes".into())
            .or_default()
            .adds
            .push((addr.clone(), 1));
        out.entry("gigabytes".into())
            .or_default()
            .adds
            .push((addr.clone(), size));
        if dynamic {
            out.entry(per_type(DEFAULT_VOLUME_TYPE))
                .or_default()
                .adds
                .push((addr, size));
        }
    }
    // A snapshot takes its volume's size of the gigabytes quota (Cinder's default), a backup
    // of the backup ones.
    for copy in desired
        .resources
        .values()
        .filter(|r| matches!(r.addr.kind, Kind::Snapshot | Kind::Backup))
        .filter(|r| !observed.resources.contains_key(&r.addr))
    {
        let Some(volume) = copy
            .attrs
            .get("volume")
            .and_then(Value::as_str)
            .and_then(|name| desired.get(&crate::addr::Address::new(Kind::Volume, name)))
            .filter(|v| in_tenant(&v.attrs))
        else {
            continue;
        };
        let size = super::volume::planned_size(volume, desired, observed);
        let addr = copy.addr.to_string();
        let (count_key, gigabytes_key) = match copy.addr.kind {
            Kind::Snapshot => ("snapshots", "gigabytes"),
            _ => ("backups", "backup_gigabytes"),
        };
        out.entry(count_key.into())
            .or_default()
            .adds
            .push((addr.clone(), 1));
        out.entry(gigabytes_key.into())
            .or_default()
            .adds
            .push((addr.clone(), size));
        let ty = volume
            .attrs
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or(DEFAULT_VOLUME_TYPE);
        if dynamic && copy.addr.kind == Kind::Snapshot {
            out.entry(per_type(ty)).or_default().adds.push((addr, size));
        }
    }
    for seen in observed.resources.values() {
        if seen.addr.kind != Kind::Volume
            || desired.resources.contains_key(&seen.addr)
            || !in_tenant(&seen.attrs)
        {
            continue;
        }
        let size = seen.attrs.get("size").and_then(Value::as_u64).unwrap_or(0);
        out.entry("volumes".into()).or_default().frees += 1;
        out.entry("gigabytes".into()).or_default().frees += size;
        if dynamic {
            let ty = seen
                .attrs
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or(DEFAULT_VOLUME_TYPE);
            out.entry(per_type(ty)).or_default().frees += size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_type_quotas_set_their_sum_as_the_total() {
        let desired = json!({"volume_types": {"ssd": 100, "hdd": 500}, "volumes": 20});
        let current =
            json!({"volume_types": {"ssd": 100, "hdd": -1}, "storage": 1000, "volumes": 10});
        let sent = changes(desired.as_object().unwrap(), current.as_object());
        assert_eq!(
            sent,
            [
                ("gigabytes".to_string(), 600),
                ("gigabytes_hdd".to_string(), 500),
                ("volumes".to_string(), 20),
            ]
            .into()
        );
    }

    #[test]
    fn a_volume_without_a_type_counts_against_the_default_types_quota() {
        let text = "[provider]\nstorage_mode = \"dynamic\"\n\n[tenant.t]\nquotas = { volume_types = { __DEFAULT__ = 3, ssd = 100 } }\n\n[volume.a]\ntenant = \"t\"\nsize = 5\n";
        let desired = match crate::spec::load_str(text) {
            Ok(d) => d,
            Err(diags) => panic!("should load:\n{diags}"),
        };
        let Some(tenant) = desired.get(&crate::addr::Address::new(Kind::Tenant, "t")) else {
            panic!("no tenant.t");
        };
        let mut out = Diagnostics::default();
        check(tenant, &desired, &Observed::default(), &mut out);
        let messages: Vec<&str> = out.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "tenant.t: quota gigabytes___DEFAULT__ (quotas.volume_types.__DEFAULT__) is 3, 0 \
                 in use, and the plan adds 5 (volume.a 5): 5 would exceed it"
            ]
        );
    }

    #[test]
    fn observes_cinder_keys_as_the_spec_writes_them() {
        let usage: BTreeMap<String, QuotaUse> = [
            (
                "gigabytes".to_string(),
                QuotaUse {
                    limit: 1000,
                    in_use: 2,
                    reserved: 0,
                },
            ),
            (
                "gigabytes_ssd".to_string(),
                QuotaUse {
                    limit: 100,
                    in_use: 0,
                    reserved: 0,
                },
            ),
            (
                "volumes".to_string(),
                QuotaUse {
                    limit: 10,
                    in_use: 1,
                    reserved: 0,
                },
            ),
            (
                "groups".to_string(),
                QuotaUse {
                    limit: 10,
                    in_use: 0,
                    reserved: 0,
                },
            ),
        ]
        .into();
        let mut quotas = Map::new();
        observe(&mut quotas, &usage);
        assert_eq!(
            Value::Object(quotas),
            json!({"storage": 1000, "volumes": 10, "volume_types": {"ssd": 100}})
        );
    }
}
