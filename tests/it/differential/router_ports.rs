//! Router interfaces by port: a port of the user's made an interface of a second router on a
//! subnet whose gateway address `{router}` holds, and Neutron's rules around it (a port needs a
//! fixed IP, is bound once, cannot be deleted while it is an interface, and goes with it).

use serde_json::json;

use super::recorder::{Recorder, Svc};
use super::script::{delete, get, post, put};

/// Runs on `{net}` and `{subnet}` (10.77.0.0/24), with `{router}` attached to `{subnet}`.
pub(super) async fn interfaces_by_port(rec: &mut Recorder, run: &str) {
    use Svc::Network as N;
    let reply = rec
        .call(post(
            "neutron.router.create.second",
            N,
            "/v2.0/routers",
            json!({"router": {"name": format!("sfd-router2-{run}")}}),
        ))
        .await;
    rec.bind("router2", reply.str_at("/router/id"));
    rec.on_cleanup(N, "/v2.0/routers/{router2}");
    let reply = rec
        .call(post(
            "neutron.port.create.no_fixed_ip",
            N,
            "/v2.0/ports",
            json!({"port": {"name": format!("sfd-noip-{run}"), "network_id": "{net}",
                "fixed_ips": []}}),
        ))
        .await;
    rec.bind("noip", reply.str_at("/port/id"));
    rec.on_cleanup(N, "/v2.0/ports/{noip}");
    rec.call(put(
        "neutron.router.interface.add_port.no_fixed_ip",
        N,
        "/v2.0/routers/{router2}/add_router_interface",
        json!({"port_id": "{noip}"}),
    ))
    .await;
    let reply = rec
        .call(post(
            "neutron.port.create.for_router",
            N,
            "/v2.0/ports",
            json!({"port": {"name": format!("sfd-rport-{run}"), "network_id": "{net}",
                "fixed_ips": [{"subnet_id": "{subnet}", "ip_address": "10.77.0.240"}]}}),
        ))
        .await;
    rec.bind("rport", reply.str_at("/port/id"));
    rec.on_cleanup(N, "/v2.0/ports/{rport}");
    // `{router}` already has its interface on the subnet.
    rec.call(put(
        "neutron.router.interface.add_port.subnet_taken",
        N,
        "/v2.0/routers/{router}/add_router_interface",
        json!({"port_id": "{rport}"}),
    ))
    .await;
    rec.call(put(
        "neutron.router.interface.add_port.both",
        N,
        "/v2.0/routers/{router2}/add_router_interface",
        json!({"port_id": "{rport}", "subnet_id": "{subnet}"}),
    ))
    .await;
    rec.call(put(
        "neutron.router.interface.add_port",
        N,
        "/v2.0/routers/{router2}/add_router_interface",
        json!({"port_id": "{rport}"}),
    ))
    .await;
    rec.call(put(
        "neutron.router.interface.add_port.again",
        N,
        "/v2.0/routers/{router2}/add_router_interface",
        json!({"port_id": "{rport}"}),
    ))
    .await;
    // Its groups and port security stay as they were.
    rec.call(get(
        "neutron.port.show.router_interface",
        N,
        "/v2.0/ports/{rport}",
    ))
    .await;
    rec.call(delete(
        "neutron.port.delete.router_interface",
        N,
        "/v2.0/ports/{rport}",
    ))
    .await;
    rec.call(delete(
        "neutron.router.delete.second.in_use",
        N,
        "/v2.0/routers/{router2}",
    ))
    .await;
    rec.call(put(
        "neutron.router.interface.remove_port.other_router",
        N,
        "/v2.0/routers/{router}/remove_router_interface",
        json!({"port_id": "{rport}"}),
    ))
    .await;
    rec.call(put(
        "neutron.router.interface.remove_port",
        N,
        "/v2.0/routers/{router2}/remove_router_interface",
        json!({"port_id": "{rport}"}),
    ))
    .await;
    // Neutron deleted the port with its interface.
    rec.call(get(
        "neutron.port.show.removed_interface",
        N,
        "/v2.0/ports/{rport}",
    ))
    .await;
    rec.call(put(
        "neutron.router.interface.remove_port.again",
        N,
        "/v2.0/routers/{router2}/remove_router_interface",
        json!({"port_id": "{rport}"}),
    ))
    .await;
    rec.call(delete(
        "neutron.router.delete.second",
        N,
        "/v2.0/routers/{router2}",
    ))
    .await;
}
