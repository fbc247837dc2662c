//! Subnets (Neutron), created in their network's project. Deleting one first detaches it from
//! any router and removes stackform's unbound ports on it, which Neutron requires.

use ipnet::IpNet;
use serde_json::{Value, json};

use super::common::{self, Names, gone_ok, name_of, neutron_create_tagged, ref_id};
use super::schema::{Api, Attr, AttrType, KindSchema, Ref};
use super::{Context, Ids, KindOps, Listed, ObservedResource, Result, Scope};
use crate::addr::Kind;
use crate::openstack::network::{self as neutron, PORTS, SUBNETS};
use crate::spec::{Attrs, DesiredResource};

pub struct Subnet;

/// A subnet belongs to its network's tenant; it has no `tenant` attribute of its own.
const SCHEMA: KindSchema = KindSchema::new(
    "subnet",
    "a Neutron subnet, in its network's project",
    Api::neutron("/v2.0/subnets"),
    &[
        Attr::new("name", AttrType::Name { max: super::schema::NAME_MAX }),
        Attr::new("description", AttrType::Text { default: "" }),
        Attr::new("network", AttrType::Reference(Ref::to(Kind::Network))).forces_replacement(),
        Attr::new(
            "cidr",
            AttrType::Cidr {
                example: "\"192.168.42.0/24\"",
                version_attr: "ip_version",
            },
        )
        .forces_replacement(),
        Attr::new("ip_version", AttrType::Derived).forces_replacement(),
        Attr::new("gateway_ip", AttrType::IpAddressIn { within: "cidr" }),
        Attr::new("enable_dhcp", AttrType::Bool { default: true }),
        Attr::new(
            "dns_nameservers",
            AttrType::IpAddresses {
                default_empty: true,
            },
        ),
    ],
)
.parent("network")
.quota_usage(|_, _| vec![("subnet_count", 1)]);

/// `cidr` in canonical network form; anything unparsable is kept as the cloud wrote it.
fn canonical_cidr(cidr: &str) -> String {
    cidr.parse::<IpNet>()
        .map(|net| net.trunc().to_string())
        .unwrap_or_else(|_| cidr.to_string())
}

/// Normalized attributes.
pub fn observe(subnet: &neutron::Subnet, names: &Names) -> Attrs {
    let mut attrs = Attrs::new();
    attrs.insert("name".into(), json!(subnet.name));
    attrs.insert(
        "description".into(),
        json!(subnet.description.clone().unwrap_or_default()),
    );
    attrs.insert(
        "network".into(),
        json!(names.name(Kind::Network, &subnet.network_id)),
    );
    attrs.insert("cidr".into(), json!(canonical_cidr(&subnet.cidr)));
    attrs.insert("ip_version".into(), json!(subnet.ip_version));
    attrs.insert("gateway_ip".into(), json!(subnet.gateway_ip));
    attrs.insert(
        "enable_dhcp".into(),
        json!(subnet.enable_dhcp.unwrap_or(true)),
    );
    attrs.insert("dns_nameservers".into(), json!(subnet.dns_nameservers));
    attrs
}

/// The allocation pools Neutron gives a subnet created without any (ipam `generate_pools`):
/// every host address except the gateway, the network address and, in IPv4, the broadcast.
fn default_pools(cidr: &str, gateway_ip: Option<&str>) -> Option<Vec<neutron::AllocationPool>> {
    let net: IpNet = cidr.parse().ok()?;
    let (first, last, v4) = match net {
        IpNet::V4(n) => (
            u128::from(u32::from(n.network())),
            u128::from(u32::from(n.broadcast())),
            true,
        ),
        IpNet::V6(n) => (u128::from(n.network()), u128::from(n.broadcast()), false),
    };
    let text = |n: u128| -> String {
        if v4 {
            std::net::Ipv4Addr::from(n as u32).to_string()
        } else {
            std::net::Ipv6Addr::from(n).to_string()
        }
    };
    let pool = |start: u128, end: u128| neutron::AllocationPool {
        start: text(start),
        end: text(end),
    };
    if first == last {
        return Some(vec![pool(first, last)]);
    }
    let (low, high) = (first + 1, last - u128::from(v4));
    if low >= high {
        return Some(Vec::new());
    }
    let gateway = gateway_ip
        .and_then(|g| g.parse::<std::net::IpAddr>().ok())
        .map(|ip| match ip {
            std::net::IpAddr::V4(a) => u128::from(u32::from(a)),
            std::net::IpAddr::V6(a) => u128::from(a),
        });
    Some(match gateway {
        Some(g) if (low..=high).contains(&g) => {
            let mut pools = Vec::new();
            if g > low {
                pools.push(pool(low, g - 1));
            }
            if g < high {
                pools.push(pool(g + 1, high));
            }
            pools
        }
        _ => vec![pool(low, high)],
    })
}

/// The routers whose interface on `subnet_id` holds `gateway_ip`.
fn gateway_holders(ports: &[neutron::Port], subnet_id: &str, gateway_ip: &str) -> Vec<String> {
    let mut routers: Vec<String> = ports
        .iter()
        .filter(|p| p.is_router_interface())
        .filter(|p| {
            p.fixed_ips
                .iter()
                .any(|ip| ip.subnet_id == subnet_id && ip.ip_address.as_deref() == Some(gateway_ip))
        })
        .map(|p| p.device_id.clone())
        .collect();
    routers.sort();
    routers.dedup();
    routers
}

fn keep_subnet(listings: &std::sync::RwLock<super::Listings>, subnet: &neutron::Subnet) {
    listings
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .keep(&subnet.id, subnet.clone());
}

impl KindOps for Subnet {
    const SCHEMA: KindSchema = SCHEMA;

    async fn list(cx: &Context, scope: Scope<'_>) -> Result<Vec<Listed>> {
        let no_status = |_: &neutron::Subnet| None;
        // Kept for the apply that follows: a port on a subnet is made on its network.
        let listings = cx.listings.clone();
        common::list_neutron(cx, SUBNETS, scope, no_status, move |s, _, o| {
            keep_subnet(&listings, s);
            observe(s, &o.names)
        })
        .await
    }

    async fn create(cx: &Context, res: &DesiredResource, ids: &Ids) -> Result<String> {
        let network_id = ref_id(res, ids, "network", Kind::Network)?;
        // A subnet lives in its network's project; the network says which.
        let project_id = super::network::project_of(cx, network_id).await?;
        let session = common::project_session(cx, &project_id).await?;
        let cidr = common::str_attr(res, "cidr")?;
        let ip_version = match res.attrs.get("ip_version").and_then(Value::as_i64) {
            Some(v) => v,
            None => match cidr.parse::<IpNet>() {
                Ok(IpNet::V6(_)) => 6,
                _ => 4,
            },
        };
        let mut body = json!({
            "network_id": network_id,
            "cidr": cidr,
            "ip_version": ip_version,
            "name": name_of(res),
            "description": res.attrs.get("description").and_then(Value::as_str).unwrap_or(""),
            "enable_dhcp": common::bool_attr(res, "enable_dhcp", true),
            "dns_nameservers": common::list_attr(res, "dns_nameservers"),
        });
        if let Some(gateway) = res.attrs.get("gateway_ip") {
            body["gateway_ip"] = gateway.clone();
        }
        let tags = common::ownership_tags(cx, &res.addr);
        let subnet: neutron::Subnet =
            neutron_create_tagged(&session, SUBNETS, &res.addr, body, &tags).await?;
        keep_subnet(&cx.listings, &subnet);
        Ok(subnet.id)
    }

    async fn update(
        cx: &Context,
        res: &DesiredResource,
        current: &ObservedResource,
        _ids: &Ids,
    ) -> Result<()> {
        let changes = common::body_changes(&SCHEMA, res, current);
        if changes.is_empty() {
            return Ok(());
        }
        let api = cx.cloud.admin().network();
        let mut changes = changes;
        let mut holders = Vec::new();
        if let Some(new_gateway) = changes.get("gateway_ip").cloned() {
            let subnet: neutron::Subnet = api.get(SUBNETS, &current.id).await?;
            // Real Neutron refuses a new gateway_ip while a router interface holds the old
            // one (409 "Current gateway ip ... already in use by port"): detach those routers,
            // move the gateway, attach them again (their interface takes the new address).
            if let Some(old) = &subnet.gateway_ip {
                let query = neutron::query(&[("network_id", &subnet.network_id)]);
                let ports: Vec<neutron::Port> = api.list(PORTS, &query).await?;
                holders = gateway_holders(&ports, &current.id, old);
            }
            // Neutron keeps the pools computed from the old gateway and refuses a gateway
            // inside them (409 "Gateway ip ... conflicts with allocation pool"). The spec does
            // not manage pools: when they are still Neutron's defaults, move them with it.
            let old_defaults = default_pools(&subnet.cidr, subnet.gateway_ip.as_deref());
            if old_defaults.as_ref() == Some(&subnet.allocation_pools)
                && let Some(pools) = default_pools(&subnet.cidr, new_gateway.as_str())
            {
                changes.insert("allocation_pools".into(), json!(pools));
            }
        }
        for router in &holders {
            gone_ok(api.remove_router_interface(router, &current.id).await)?;
        }
        let updated: std::result::Result<neutron::Subnet, _> = api
            .update(SUBNETS, &current.id, Value::Object(changes))
            .await;
        // Reattach even when the update failed, so the router is not left cut off.
        for router in &holders {
            api.add_router_interface(router, &current.id).await?;
        }
        updated?;
        Ok(())
    }

    async fn delete(cx: &Context, current: &ObservedResource, _ids: &Ids) -> Result<()> {
        let api = cx.cloud.admin().network();
        // Asked at once: in a destroy the subnet's ports are gone by now, so one call does it.
        match api.delete(SUBNETS, &current.id).await {
            Err(e) if e.is_conflict() => {}
            other => return gone_ok(other),
        }
        let subnet: neutron::Subnet = match api.get(SUBNETS, &current.id).await {
            Err(e) if e.is_not_found() => return Ok(()),
            other => other?,
        };
        // Neutron refuses to delete a subnet that still has ports: detach it from routers, and
        // remove unbound ports stackform made there for instances (one left by a failed
        // create); a `[port.NAME]` is the planner's to delete.
        let query = neutron::query(&[("network_id", &subnet.network_id)]);
        let ports: Vec<neutron::Port> = api.list(PORTS, &query).await?;
        let lineage = common::lineage_tag(cx);
        let on_subnet = |p: &&neutron::Port| p.fixed_ips.iter().any(|ip| ip.subnet_id == subnet.id);
        for port in ports.iter().filter(on_subnet) {
            if port.is_router_interface() {
                gone_ok(
                    api.remove_router_interface(&port.device_id, &subnet.id)
                        .await,
                )?;
            } else if port.device_id.is_empty() && common::is_instance_port(&lineage, port) {
                common::delete_port(cx, &port.id).await?;
            }
        }
        gone_ok(api.delete(SUBNETS, &current.id).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observes_canonical_cidr_and_keeps_dns_order() {
        let mut names = Names::default();
        names.insert(Kind::Network, "n1", "web");
        let subnet = neutron::Subnet {
            id: "s1".into(),
            name: "web-v4".into(),
            network_id: "n1".into(),
            cidr: "192.168.42.0/24".into(),
            ip_version: 4,
            gateway_ip: Some("192.168.42.1".into()),
            enable_dhcp: Some(false),
            dns_nameservers: vec!["9.9.9.9".into(), "1.1.1.1".into()],
            ..neutron::Subnet::default()
        };
        let expected: Attrs = [
            ("name".to_string(), json!("web-v4")),
            ("description".to_string(), json!("")),
            ("network".to_string(), json!("web")),
            ("cidr".to_string(), json!("192.168.42.0/24")),
            ("ip_version".to_string(), json!(4)),
            ("gateway_ip".to_string(), json!("192.168.42.1")),
            ("enable_dhcp".to_string(), json!(false)),
            ("dns_nameservers".to_string(), json!(["9.9.9.9", "1.1.1.1"])),
        ]
        .into();
        assert_eq!(observe(&subnet, &names), expected);
    }

    #[test]
    fn only_router_interfaces_on_the_gateway_address_hold_it() {
        let port = |device: &str, owner: &str, subnet: &str, ip: &str| neutron::Port {
            device_id: device.into(),
            device_owner: owner.into(),
            fixed_ips: vec![neutron::FixedIp {
                subnet_id: subnet.into(),
                ip_address: Some(ip.into()),
            }],
            ..neutron::Port::default()
        };
        let ports = [
            port("r1", "network:router_interface", "s1", "10.0.0.1"),
            port("r1", "network:router_interface", "s1", "10.0.0.1"),
            port("r2", "network:router_interface", "s1", "10.0.0.7"),
            port("r3", "network:router_interface", "s2", "10.0.0.1"),
            port("vm", "compute:nova", "s1", "10.0.0.1"),
        ];
        assert_eq!(gateway_holders(&ports, "s1", "10.0.0.1"), ["r1"]);
        assert_eq!(
            gateway_holders(&ports, "s1", "10.0.0.9"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn default_pools_are_neutrons() {
        let pools = |cidr: &str, gateway: Option<&str>| -> Vec<(String, String)> {
            default_pools(cidr, gateway)
                .unwrap_or_default()
                .into_iter()
                .map(|p| (p.start, p.end))
                .collect()
        };
        let range = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(
            pools("192.168.50.0/24", Some("192.168.50.1")),
            [range("192.168.50.2", "192.168.50.254")]
        );
        assert_eq!(
            pools("192.168.50.0/24", Some("192.168.50.254")),
            [range("192.168.50.1", "192.168.50.253")]
        );
        assert_eq!(
            pools("192.168.50.0/24", Some("192.168.50.100")),
            [
                range("192.168.50.1", "192.168.50.99"),
                range("192.168.50.101", "192.168.50.254")
            ]
        );
        assert_eq!(
            pools("192.168.50.0/24", None),
            [range("192.168.50.1", "192.168.50.254")]
        );
        assert_eq!(
            pools("2001:db8::/64", Some("2001:db8::1")),
            [range("2001:db8::2", "2001:db8::ffff:ffff:ffff:ffff")]
        );
        assert_eq!(pools("10.0.0.0/31", None), Vec::<(String, String)>::new());
    }

    #[test]
    fn canonicalizes_cidrs() {
        assert_eq!(canonical_cidr("10.0.0.5/8"), "10.0.0.0/8");
        assert_eq!(canonical_cidr("2001:db8::1/64"), "2001:db8::/64");
        assert_eq!(canonical_cidr("garbage"), "garbage");
    }
}
