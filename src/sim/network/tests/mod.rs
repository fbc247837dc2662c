//! Unit tests of the Neutron data layer, driven without HTTP: shared fixtures here, the tests
//! by resource in the sub-modules.

mod floating_ips;
mod lists;
mod networks;
mod nova;
mod rbac;
mod routers_and_groups;

use serde_json::{Map, Value, json};

use super::model::{Actor, Kind, Method, NeutronError, check_attributes};
use super::query::ListQuery;
use super::*;

const ADMIN_PROJECT: &str = "adminproject";
const ALICE: &str = "aliceproject";
const BOB: &str = "bobproject";

fn admin() -> Actor {
    Actor {
        project_id: ADMIN_PROJECT.into(),
        admin: true,
    }
}

fn user(project: &str) -> Actor {
    Actor {
        project_id: project.into(),
        admin: false,
    }
}

fn obj(value: Value) -> Map<String, Value> {
    value.as_object().cloned().expect("test bodies are objects")
}

fn seeded() -> NetworkData {
    let mut data = NetworkData::default();
    data.seed(ADMIN_PROJECT);
    data
}

fn public_id(data: &NetworkData) -> String {
    data.networks
        .values()
        .find(|n| n.meta.name == "public")
        .map(|n| n.meta.id.clone())
        .expect("seeded")
}

fn public_subnet_id(data: &NetworkData) -> String {
    data.subnets
        .values()
        .find(|s| s.meta.name == "public-subnet")
        .map(|s| s.meta.id.clone())
        .expect("seeded")
}

/// A network with one subnet for `project`; returns (network id, subnet id).
fn net_with_subnet(data: &mut NetworkData, project: &str, cidr: &str) -> (String, String) {
    let actor = user(project);
    let net = data
        .create_network(&actor, &obj(json!({"name": "net"})))
        .expect("network");
    let subnet = data
        .create_subnet(
            &actor,
            &obj(json!({"network_id": net, "ip_version": 4, "cidr": cidr, "name": "sub"})),
        )
        .expect("subnet");
    (net, subnet)
}

fn port_ips(data: &NetworkData, port_id: &str) -> Vec<String> {
    data.ports[port_id]
        .fixed_ips
        .iter()
        .map(|ip| ip.ip_address.to_string())
        .collect()
}

fn err(status: u16, kind: &'static str, message: &str) -> NeutronError {
    NeutronError::new(
        axum::http::StatusCode::from_u16(status).expect("valid status"),
        kind,
        message,
    )
}
