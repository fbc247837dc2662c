//! Ports (Neutron), created in their network's project: fixed IPs on subnets of that network,
//! security groups, allowed address pairs, port security. Instances boot on them with
//! `instance.ports`.
//!
//! The ports stackform makes for instances carry `stackform:instance.NAME` tags: they are
//! listed here too, but the matcher keeps only claims of this kind, so they are never ports.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use serde_json::{Value, json};

use super::common::{self, Names, dep_id, gone_ok, name_of, neutron_create_tagged, ref_id};
use super::schema::{self, Api, Attr, AttrType, KindSchema, Ref};
use super::{Context, Ids, KindOps, Listed, ObservedResource, Result, Scope};
use crate::addr::{Address, Kind};
use crate::diag::{Diagnostic, Diagnostics};
use crate::openstack::network::{self as neutron, PORTS};
use crate::spec::port_fields::{
    entry_span_key, fixed_ip_entry, managed_addresses, pairs_as_observed, sort_entries,
};
use crate::spec::{Attrs, DesiredResource};

pub struct Port;

/// A port belongs to its network's tenant; it has no `tenant` attribute of its own. Neutron
/// changes everything but the network in place, fixed IPs included (PUT fixed_ips).
const SCHEMA: KindSchema = KindSchema {
    spec_check: Some(spec_check),
    quota_usage: Some(|_, _| vec![("port_count", 1)]),
    ..KindSchema::new(
        "port",
        "a Neutron port on a network of the spec, in its network's project",
        Api::neutron("/v2.0/ports"),
        &[
            Attr::new("name", AttrType::Name { max: super::schema::NAME_MAX }),
            Attr::new("description", AttrType::Text { default: "" }),
            Attr::new("network", AttrType::Reference(Ref::to(Kind::Network))).forces_replacement(),
            Attr::new(
                "fixed_ips",
                AttrType::FixedIps {
                    to: Ref::to(Kind::Subnet),
                },
            )
            .own_calls(),
            Attr::new(
                "security_groups",
                AttrType::ReferenceSet {
                    to: Ref::to(Kind::SecurityGroup).same_tenant(
                        "use",
                        "a port uses security groups of its own tenant only: pick one of",
                    ),
                    default_empty: false,
                },
            )
            .own_calls(),
            Attr::new("allowed_address_pairs", AttrType::AddressPairs).own_calls(),
            Attr::new("port_security_enabled", AttrType::Bool { default: true }),
            Attr::new("admin_state_up", AttrType::Bool { default: true }),
            // The port's own MAC: a pair written with it is a pair written without a MAC.
            Attr::new("mac_address", AttrType::Derived).own_calls(),
        ],
    )
    .parent("network")
};

type Resources = BTreeMap<Address, DesiredResource>;

/// What Neutron would refuse, found when the spec is read: a fixed IP on a subnet of another
/// network ("fixed_ips included invalid subnet"), outside its subnet (400
/// InvalidIpForSubnet), or taken by another port of the spec (409 IpAddressAlreadyAllocated);
/// port security off with security groups (400 PortSecurityAndIPRequiredForSecurityGroups) or
/// address pairs (409 AddressPairAndPortSecurityRequired). Each would fail midway through an
/// apply, after the resources before it were made.
fn spec_check(port: &DesiredResource, resources: &Resources, out: &mut Diagnostics) {
    let addr = &port.addr;
    let network = port.attrs.get("network").and_then(Value::as_str);
    for (subnet, ip) in fixed_ips(&port.attrs) {
        let entry = fixed_ip_entry(subnet, ip);
        let subnet_addr = Address::new(Kind::Subnet, subnet);
        let Some(subnet_attrs) = resources.get(&subnet_addr).map(|r| &r.attrs) else {
            continue;
        };
        let on = subnet_attrs.get("network").and_then(Value::as_str);
        if let (Some(on), Some(network)) = (on, network)
            && on != network
        {
            out.push(
                Diagnostic::error(format!(
                    "{addr}: {subnet_addr} is on network.{on}, not on the port's network.{network}"
                ))
                .at(port.span_of(&entry_span_key("fixed_ips", &entry, "subnet")))
                .help(format!(
                    "a port's fixed IPs are on subnets of its network: pick a subnet of \
                     network.{network}, or set network = \"{on}\""
                )),
            );
            continue;
        }
        let Some(ip) = ip else {
            continue;
        };
        let at = port.span_of(&entry_span_key("fixed_ips", &entry, "ip_address"));
        let cidr = subnet_attrs
            .get("cidr")
            .and_then(Value::as_str)
            .and_then(|c| c.parse::<IpNet>().ok());
        if let (Some(cidr), Ok(parsed)) = (cidr, ip.parse::<IpAddr>())
            && !is_host_of(cidr, parsed)
        {
            let why = if cidr.contains(&parsed) {
                format!("is not a host address of {subnet_addr}'s {cidr}")
            } else {
                format!("is outside {subnet_addr}'s {cidr}")
            };
            out.push(
                Diagnostic::error(format!("{addr}: fixed IP {ip} {why}"))
                    .at(at)
                    .help(format!(
                        "use an address inside {cidr} other than its network and broadcast \
                         addresses, or leave ip_address out to let Neutron pick one"
                    )),
            );
            continue;
        }
        // A router's interface on the subnet takes its gateway address (409
        // IpAddressAlreadyAllocated once the router is attached).
        let gateway = subnet_attrs
            .get("gateway_ip")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| Some(cidr?.hosts().next()?.to_string()));
        let router = resources.values().find(|r| {
            r.addr.kind == Kind::Router
                && schema::referenced_names(r.attrs.get("subnets"), Kind::Subnet).contains(&subnet)
        });
        if let (Some(gateway), Some(router)) = (gateway, router)
            && gateway == ip
        {
            out.push(
                Diagnostic::error(format!(
                    "{addr}: fixed IP {ip} is {subnet_addr}'s gateway, which {}'s interface takes",
                    router.addr
                ))
                .at(at)
                .help("pick another address of the subnet, or leave ip_address out"),
            );
            continue;
        }
        // Reported once, on the port whose address sorts later.
        let taken_by = resources
            .values()
            .filter(|other| other.addr.kind == Kind::Port && other.addr < *addr)
            .find(|other| fixed_ips(&other.attrs).contains(&(subnet, Some(ip))));
        if let Some(other) = taken_by {
            out.push(
                Diagnostic::error(format!(
                    "{addr}: fixed IP {ip} on {subnet_addr} is already {}'s",
                    other.addr
                ))
                .at(at)
                .note(
                    "taken here",
                    other.span_of(&entry_span_key("fixed_ips", &entry, "ip_address")),
                )
                .help("give each port its own address, or leave ip_address out"),
            );
        }
    }
    if port.attrs.get("port_security_enabled") == Some(&Value::Bool(false)) {
        let held = |attr: &str| {
            port.attrs
                .get(attr)
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty())
        };
        for (attr, needs) in [
            ("security_groups", "security groups"),
            ("allowed_address_pairs", "allowed address pairs"),
        ] {
            if held(attr) {
                out.push(
                    Diagnostic::error(format!(
                        "{addr}: port_security_enabled = false leaves no room for {needs}"
                    ))
                    .at(port.span_of(attr))
                    .help(format!(
                        "Neutron applies {needs} only with port security: remove `{attr}`, \
                         or set port_security_enabled = true"
                    )),
                );
            }
        }
    }
}

/// `ip` is an address a port may take on `cidr`: inside it, and neither its network nor (IPv4)
/// its broadcast address, except in /31 and /32 (and /127, /128) networks.
fn is_host_of(cidr: IpNet, ip: IpAddr) -> bool {
    if !cidr.contains(&ip) {
        return false;
    }
    if cidr.prefix_len() + 1 >= cidr.max_prefix_len() {
        return true;
    }
    ip != cidr.network() && (matches!(cidr, IpNet::V6(_)) || ip != cidr.broadcast())
}

/// The (subnet, address) of each fixed IP entry.
fn fixed_ips(attrs: &Attrs) -> Vec<(&str, Option<&str>)> {
    attrs
        .get("fixed_ips")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| {
            Some((
                e.get("subnet")?.as_str()?,
                e.get("ip_address").and_then(Value::as_str),
            ))
        })
        .collect()
}

/// Normalized attributes. A pair's MAC is left out when it is the port's own, which is what
/// Neutron fills in for a pair written without one.
pub fn observe(port: &neutron::Port, names: &Names) -> Attrs {
    let mut attrs = Attrs::new();
    attrs.insert("name".into(), json!(port.name));
    attrs.insert(
        "description".into(),
        json!(port.description.clone().unwrap_or_default()),
    );
    attrs.insert(
        "network".into(),
        json!(names.name(Kind::Network, &port.network_id)),
    );
    let mut ips: Vec<Value> = port
        .fixed_ips
        .iter()
        .map(|ip| {
            let mut entry = json!({ "subnet": names.name(Kind::Subnet, &ip.subnet_id) });
            if let Some(address) = &ip.ip_address {
                entry["ip_address"] = json!(address);
            }
            entry
        })
        .collect();
    sort_entries(&mut ips, "subnet", "ip_address");
    attrs.insert("fixed_ips".into(), Value::Array(ips));
    let groups = port
        .security_groups
        .iter()
        .map(|id| names.name(Kind::SecurityGroup, id))
        .collect();
    attrs.insert("security_groups".into(), common::sorted_names(groups));
    let mut pairs: Vec<Value> = port
        .allowed_address_pairs
        .iter()
        .map(|pair| {
            let mut entry = json!({ "ip_address": pair.ip_address });
            if let Some(mac) = pair
                .mac_address
                .as_ref()
                .filter(|m| !m.eq_ignore_ascii_case(&port.mac_address))
            {
                entry["mac_address"] = json!(mac.to_ascii_lowercase());
            }
            entry
        })
        .collect();
    sort_entries(&mut pairs, "ip_address", "mac_address");
    attrs.insert("allowed_address_pairs".into(), Value::Array(pairs));
    attrs.insert(
        "port_security_enabled".into(),
        json!(port.port_security_enabled.unwrap_or(true)),
    );
    attrs.insert(
        "admin_state_up".into(),
        json!(port.admin_state_up.unwrap_or(true)),
    );
    attrs.insert(
        "mac_address".into(),
        json!(port.mac_address.to_ascii_lowercase()),
    );
    attrs
}

/// The ids of the security groups `res` names.
fn group_ids(res: &DesiredResource, ids: &Ids) -> Result<Vec<String>> {
    common::list_attr(res, "security_groups")
        .iter()
        .map(|name| dep_id(ids, Kind::SecurityGroup, name).map(str::to_string))
        .collect()
}

/// The `fixed_ips` body of `res`. An entry without an address keeps the one the port has on
/// that subnet (`current`), so that changing another entry never renumbers it.
fn fixed_ips_body(res: &DesiredResource, ids: &Ids, current: Option<&Attrs>) -> Result<Value> {
    let mut kept: Vec<(String, String)> = current
        .map(|attrs| {
            let named = fixed_ips(&res.attrs);
            fixed_ips(attrs)
                .into_iter()
                .filter(|(s, ip)| !named.contains(&(*s, *ip)))
                .filter_map(|(s, ip)| Some((s.to_string(), ip?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let mut body = Vec::new();
    for (subnet, ip) in fixed_ips(&res.attrs) {
        let subnet_id = dep_id(ids, Kind::Subnet, subnet)?;
        let ip = match ip {
            Some(ip) => Some(ip.to_string()),
            None => kept
                .iter()
                .position(|(s, _)| s == subnet)
                .map(|at| kept.remove(at).1),
        };
        body.push(match ip {
            Some(ip) => json!({ "subnet_id": subnet_id, "ip_address": ip }),
            None => json!({ "subnet_id": subnet_id }),
        });
    }
    Ok(Value::Array(body))
}

/// The `allowed_address_pairs` body: the spec's entries as they are.
fn pairs_body(res: &DesiredResource) -> Value {
    res.attrs
        .get("allowed_address_pairs")
        .cloned()
        .unwrap_or(json!([]))
}

impl KindOps for Port {
    const SCHEMA: KindSchema = SCHEMA;

    /// The refresh's one list of the projects' ports, shared with the kinds that read them.
    async fn list(cx: &Context, scope: Scope<'_>) -> Result<Vec<Listed>> {
        let Scope::Projects(projects) = scope else {
            return Ok(Vec::new());
        };
        let ports = projects.ports(cx).await?.to_vec();
        let no_status = |_: &neutron::Port| None;
        Ok(common::listed(cx, ports, no_status, |p, _, o| observe(p, &o.names)))
    }

    async fn create(cx: &Context, res: &DesiredResource, ids: &Ids) -> Result<String> {
        let network_id = ref_id(res, ids, "network", Kind::Network)?;
        // A port lives in its network's project; the network says which.
        let project_id = super::network::project_of(cx, network_id).await?;
        let session = common::project_session(cx, &project_id).await?;
        let mut body = json!({
            "network_id": network_id,
            "name": name_of(res),
            "description": res.attrs.get("description").and_then(Value::as_str).unwrap_or(""),
            "admin_state_up": common::bool_attr(res, "admin_state_up", true),
            "port_security_enabled": common::bool_attr(res, "port_security_enabled", true),
        });
        if res.attrs.contains_key("fixed_ips") {
            body["fixed_ips"] = fixed_ips_body(res, ids, None)?;
        }
        if res.attrs.contains_key("security_groups") {
            body["security_groups"] = json!(group_ids(res, ids)?);
        }
        let pairs = pairs_body(res);
        if pairs.as_array().is_some_and(|p| !p.is_empty()) {
            body["allowed_address_pairs"] = pairs;
        }
        let tags = common::ownership_tags(cx, &res.addr);
        let port: neutron::Port =
            neutron_create_tagged(&session, PORTS, &res.addr, body, &tags).await?;
        Ok(port.id)
    }

    /// One PUT. Turning port security off clears the groups and pairs in the same body:
    /// Neutron refuses it while the port holds either (the default group counts).
    async fn update(
        cx: &Context,
        res: &DesiredResource,
        current: &ObservedResource,
        ids: &Ids,
    ) -> Result<()> {
        let mut changes = common::body_changes(&SCHEMA, res, current);
        let differs = |attr: &str| {
            res.attrs.contains_key(attr) && res.attrs.get(attr) != current.attrs.get(attr)
        };
        if differs("security_groups") {
            changes.insert("security_groups".into(), json!(group_ids(res, ids)?));
        }
        let own_mac = current.attrs.get("mac_address").and_then(Value::as_str);
        let pairs_differ = res.attrs.get("allowed_address_pairs").is_some_and(|wanted| {
            current.attrs.get("allowed_address_pairs")
                != Some(&pairs_as_observed(wanted, own_mac))
        });
        if pairs_differ {
            changes.insert("allowed_address_pairs".into(), pairs_body(res));
        }
        if let (Some(wanted), Some(seen)) = (res.attrs.get("fixed_ips"), current.attrs.get("fixed_ips"))
            && managed_addresses(seen, wanted, "subnet") != *wanted
        {
            changes.insert(
                "fixed_ips".into(),
                fixed_ips_body(res, ids, Some(&current.attrs))?,
            );
        }
        if changes.get("port_security_enabled") == Some(&Value::Bool(false)) {
            changes
                .entry("security_groups")
                .or_insert_with(|| json!([]));
            changes
                .entry("allowed_address_pairs")
                .or_insert_with(|| json!([]));
        }
        if changes.is_empty() {
            return Ok(());
        }
        let _: neutron::Port = cx
            .cloud
            .admin()
            .network()
            .update(PORTS, &current.id, Value::Object(changes))
            .await?;
        Ok(())
    }

    /// The graph deletes the instances booted on the port first (they name it in `ports`). A
    /// port that is a router's interface cannot be deleted (409 ServicePortInUse): removing
    /// the interface deletes it, which is how a port a router lets go of is replaced.
    async fn delete(cx: &Context, current: &ObservedResource, _ids: &Ids) -> Result<()> {
        let api = cx.cloud.admin().network();
        match api.delete(PORTS, &current.id).await {
            Err(error) if error.is_conflict() => {
                let port: neutron::Port = match api.get(PORTS, &current.id).await {
                    Err(gone) if gone.is_not_found() => return Ok(()),
                    other => other?,
                };
                if !port.is_router_interface() {
                    return Err(error.into());
                }
                gone_ok(
                    api.remove_router_interface_port(&port.device_id, &current.id)
                        .await,
                )
            }
            other => gone_ok(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observes_references_by_name_sorted_and_pairs_without_the_own_mac() {
        let mut names = Names::default();
        names.insert(Kind::Network, "n1", "web");
        names.insert(Kind::Subnet, "s1", "web-v4");
        names.insert(Kind::Subnet, "s2", "web-v6");
        names.insert(Kind::SecurityGroup, "g1", "ssh");
        names.insert(Kind::SecurityGroup, "g2", "http");
        let port = neutron::Port {
            id: "p1".into(),
            name: "vip".into(),
            network_id: "n1".into(),
            mac_address: "fa:16:3e:00:00:09".into(),
            fixed_ips: vec![
                neutron::FixedIp {
                    subnet_id: "s2".into(),
                    ip_address: Some("2001:db8::5".into()),
                },
                neutron::FixedIp {
                    subnet_id: "s1".into(),
                    ip_address: Some("10.0.0.5".into()),
                },
            ],
            security_groups: vec!["g1".into(), "g2".into()],
            allowed_address_pairs: vec![
                neutron::AddressPair {
                    ip_address: "10.0.0.100".into(),
                    mac_address: Some("fa:16:3e:00:00:09".into()),
                },
                neutron::AddressPair {
                    ip_address: "10.0.0.0/24".into(),
                    mac_address: Some("FA:16:3E:00:00:01".into()),
                },
            ],
            port_security_enabled: Some(true),
            ..neutron::Port::default()
        };
        let expected: Attrs = [
            ("name".to_string(), json!("vip")),
            ("description".to_string(), json!("")),
            ("network".to_string(), json!("web")),
            (
                "fixed_ips".to_string(),
                json!([{"subnet": "web-v4", "ip_address": "10.0.0.5"},
                       {"subnet": "web-v6", "ip_address": "2001:db8::5"}]),
            ),
            ("security_groups".to_string(), json!(["http", "ssh"])),
            (
                "allowed_address_pairs".to_string(),
                json!([{"ip_address": "10.0.0.0/24", "mac_address": "fa:16:3e:00:00:01"},
                       {"ip_address": "10.0.0.100"}]),
            ),
            ("port_security_enabled".to_string(), json!(true)),
            ("admin_state_up".to_string(), json!(true)),
            ("mac_address".to_string(), json!("fa:16:3e:00:00:09")),
        ]
        .into();
        assert_eq!(observe(&port, &names), expected);
    }

    #[test]
    fn host_addresses() {
        let net = |s: &str| s.parse::<IpNet>().expect("a network");
        let ip = |s: &str| s.parse::<IpAddr>().expect("an address");
        assert!(is_host_of(net("10.0.0.0/24"), ip("10.0.0.5")));
        assert!(!is_host_of(net("10.0.0.0/24"), ip("10.0.0.0")));
        assert!(!is_host_of(net("10.0.0.0/24"), ip("10.0.0.255")));
        assert!(!is_host_of(net("10.0.0.0/24"), ip("10.0.1.5")));
        assert!(is_host_of(net("10.0.0.0/31"), ip("10.0.0.0")));
        assert!(is_host_of(net("2001:db8::/64"), ip("2001:db8::ffff")));
    }
}
