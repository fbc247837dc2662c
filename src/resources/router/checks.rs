//! What Neutron would refuse of a router, found before any call: interface ports it would
//! not take, gateway settings without a gateway, routes off the router's subnets.

use ipnet::IpNet;
use serde_json::Value;

use super::super::{common, schema};
use crate::addr::{Address, Kind};
use crate::spec::DesiredResource;

/// What Neutron would refuse of an interface by port, found when the spec is read: a port
/// without a fixed IP (400 "Router port must have at least one fixed IP"), a port on a subnet
/// the router also attaches by subnet or by another port (400 "Router already has a port on
/// subnet"), and a port another router or an instance of the spec also uses (409 PortInUse).
pub(super) fn check_interface_ports(
    router: &DesiredResource,
    resources: &std::collections::BTreeMap<Address, DesiredResource>,
    out: &mut crate::diag::Diagnostics,
) {
    use crate::diag::Diagnostic;
    let by_subnet = common::list_attr(router, "subnets");
    let mut seen_subnets: Vec<(String, String)> = Vec::new();
    for name in common::list_attr(router, "ports") {
        let addr = Address::new(Kind::Port, &name);
        let Some(port) = resources.get(&addr) else {
            continue;
        };
        let subnets = schema::referenced_names(port.attrs.get("fixed_ips"), Kind::Subnet);
        let fixed_ips_empty = port
            .attrs
            .get("fixed_ips")
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty);
        let problem = if fixed_ips_empty {
            Some((
                format!("{}: {addr} has no fixed IP", router.addr),
                "a router's interface port needs a fixed IP: give the port a `fixed_ips` entry"
                    .to_string(),
            ))
        } else if let Some(subnet) = subnets.iter().find(|s| by_subnet.iter().any(|b| b == *s)) {
            Some((
                format!(
                    "{}: {addr} is on subnet.{subnet}, which the router attaches in `subnets` too",
                    router.addr
                ),
                "a router has one interface per subnet: keep the subnet or the port".to_string(),
            ))
        } else if let Some((subnet, other)) = subnets
            .iter()
            .find_map(|s| seen_subnets.iter().find(|(seen, _)| seen == s))
        {
            Some((
                format!(
                    "{}: {addr} and port.{other} are both on subnet.{subnet}",
                    router.addr
                ),
                "a router has one interface per subnet: keep one of the ports".to_string(),
            ))
        } else {
            resources
                .values()
                .filter(|r| r.addr != router.addr)
                .find(|r| {
                    (r.addr.kind == Kind::Router || r.addr.kind == Kind::Instance)
                        && schema::referenced_names(r.attrs.get("ports"), Kind::Port)
                            .contains(&name.as_str())
                })
                .map(|other| {
                    (
                        format!("{}: {addr} is {}'s too", router.addr, other.addr),
                        "a port is bound to one device: give each its own port".to_string(),
                    )
                })
        };
        seen_subnets.extend(subnets.iter().map(|s| (s.to_string(), name.clone())));
        if let Some((message, help)) = problem {
            out.push(
                Diagnostic::error(message)
                    .at(router.span_of("ports"))
                    .help(help),
            );
        }
    }
}

/// What Neutron would refuse, found before any call: gateway settings without a gateway, and
/// a route whose nexthop is on none of the router's subnets (400 InvalidRoutes).
pub(super) fn check_gateway_and_routes(
    res: &DesiredResource,
    desired: &crate::spec::Desired,
    _observed: &super::super::Observed,
    diags: &mut crate::diag::Diagnostics,
) {
    use crate::diag::Diagnostic;
    let gateway = res.attrs.get("external_gateway").and_then(Value::as_bool) == Some(true);
    for attr in ["enable_snat", "external_fixed_ips"] {
        if !gateway && res.attrs.contains_key(attr) {
            diags.push(
                Diagnostic::error(format!("{}: `{attr}` needs an external gateway", res.addr))
                    .at(res.span_of(attr))
                    .help("set `external_gateway = true`, or remove the setting"),
            );
        }
    }
    let subnets: Vec<IpNet> = common::list_attr(res, "subnets")
        .iter()
        .filter_map(|name| desired.resources.get(&Address::new(Kind::Subnet, name)))
        .filter_map(|subnet| subnet.attrs.get("cidr")?.as_str()?.parse().ok())
        .collect();
    let routes = res.attrs.get("routes").and_then(Value::as_array);
    for route in routes.into_iter().flatten() {
        let Some(nexthop) = route
            .get("nexthop")
            .and_then(Value::as_str)
            .and_then(|n| n.parse::<std::net::IpAddr>().ok())
        else {
            continue;
        };
        if !subnets.iter().any(|net| net.contains(&nexthop)) {
            let on: Vec<String> = subnets.iter().map(IpNet::to_string).collect();
            let help = if on.is_empty() {
                "add the subnet the nexthop is on to the router's `subnets`".to_string()
            } else {
                format!(
                    "the router is on {}: pick a nexthop there, or add its subnet to `subnets`",
                    on.join(", ")
                )
            };
            diags.push(
                Diagnostic::error(format!(
                    "{}: the nexthop {nexthop} of the route to {} is on none of the router's subnets",
                    res.addr,
                    route.get("destination").and_then(Value::as_str).unwrap_or("?")
                ))
                .at(res.span_of("routes"))
                .help(help),
            );
        }
    }
}
