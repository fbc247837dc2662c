//! Router interfaces by port (`[router.X] ports = [...]`), on both targets: a second router
//! attached to a subnet whose gateway address the first router holds, through a port of the
//! spec. Neutron deletes such a port when the interface is removed: the plan says the port is
//! made again when the spec keeps it, and removing the port and its interface in one apply
//! works.

use serde_json::Value;

use crate::ports::{Cloud, Target};
use crate::support::{run_in, write_specs};

const SECOND: &str = r#"
[port.second]
network = "net"
name = "second-router"
fixed_ips = [ { subnet = "sub", ip_address = "10.40.0.2" } ]
"#;

fn second_router(ports: &str) -> String {
    format!(
        r#"
[router.r2]
tenant = "t"
ports = [{ports}]
"#
    )
}

/// The router interface ports of the router named `name`.
async fn interfaces(cloud: &Cloud, project: &str, name: &str) -> Vec<Value> {
    let router = cloud.owned(project, "routers", "routers", name).await;
    let id = router["id"].as_str().unwrap_or_default();
    cloud
        .api
        .list("network", &format!("/ports?device_id={id}"), "ports")
        .await
        .into_iter()
        .filter(|p| p["device_owner"] == "network:router_interface")
        .collect()
}

async fn lifecycle(target: Target) {
    let Some(mut cloud) = Cloud::start(target).await else {
        return;
    };
    cloud.spec(&format!("{SECOND}{}", second_router("\"second\"")));
    cloud.apply();
    let project = cloud.project_id().await;
    let port = cloud.port(&project, "second-router").await;
    let r2 = cloud.owned(&project, "routers", "routers", "r2").await;
    assert_eq!(port["device_id"], r2["id"], "{port}");
    assert_eq!(port["device_owner"], "network:router_interface");
    let on_r2 = interfaces(&cloud, &project, "r2").await;
    assert_eq!(on_r2.len(), 1, "{on_r2:?}");
    assert_eq!(
        on_r2[0]["id"], port["id"],
        "the port of the spec is the interface"
    );
    assert_eq!(
        on_r2[0]["fixed_ips"][0]["ip_address"], "10.40.0.2",
        "{on_r2:?}"
    );
    let on_r = interfaces(&cloud, &project, "r").await;
    assert_eq!(
        on_r[0]["fixed_ips"][0]["ip_address"], "10.40.0.1",
        "the first router keeps the gateway address: {on_r:?}"
    );
    cloud.assert_converged("after the port is attached");

    // The interface goes, the port stays in the spec: Neutron deletes the port with the
    // interface, so the plan makes it again and says why.
    cloud.spec(&format!("{SECOND}{}", second_router("")));
    let (code, out, err) = cloud.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        out.contains("router.r2 lets go of it (`ports`) and Neutron deletes a port removed from a router's interfaces: it is made again"),
        "the port's replacement and its reason:\n{out}"
    );
    assert!(out.contains("1 to add, 1 to change, 1 to destroy"), "{out}");
    cloud.apply();
    let again = cloud.port(&project, "second-router").await;
    assert_ne!(again["id"], port["id"], "made again");
    assert_eq!(again["device_id"], "", "bound to nothing: {again}");
    assert_eq!(again["fixed_ips"][0]["ip_address"], "10.40.0.2");
    assert!(interfaces(&cloud, &project, "r2").await.is_empty());
    cloud.assert_converged("after the interface is removed");

    // Attached again, then the port and its interface removed in one apply.
    cloud.spec(&format!("{SECOND}{}", second_router("\"second\"")));
    cloud.apply();
    assert_eq!(interfaces(&cloud, &project, "r2").await.len(), 1);
    cloud.spec(&second_router(""));
    let out = cloud.apply();
    assert!(out.contains("0 added, 1 changed, 1 destroyed"), "{out}");
    let left = cloud
        .api
        .list(
            "network",
            &format!("/ports?project_id={project}&name=second-router"),
            "ports",
        )
        .await;
    assert!(left.is_empty(), "{left:?}");
    assert!(interfaces(&cloud, &project, "r2").await.is_empty());
    cloud.assert_converged("after the port and its interface are gone");

    // Destroyed with the interface in place: the router lets the port go first.
    cloud.spec(&format!("{SECOND}{}", second_router("\"second\"")));
    cloud.apply();
    let (code, out, err) = cloud.run(&["destroy", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    cloud.destroyed = true;
    let left = cloud
        .api
        .list("network", &format!("/ports?project_id={project}"), "ports")
        .await;
    assert_eq!(left, Vec::<Value>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_router_attaches_a_port_of_the_spec_and_letting_go_replaces_it() {
    lifecycle(Target::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_a_second_router_attaches_a_port_of_the_spec_and_letting_go_replaces_it() {
    lifecycle(Target::Real).await;
}

/// A floating IP and an instance on a subnet that only a router attached by port reaches wait
/// for that router, as they do for a router attached by subnet.
#[test]
fn a_router_attached_by_port_orders_the_floating_ips_and_instances_behind_it() {
    let dir = tempfile::tempdir().unwrap();
    let spec = r#"
[provider]
external_network = "public"

[tenant.t]

[network.net]
tenant = "t"

[subnet.sub]
network = "net"
cidr = "10.40.0.0/24"

[port.gw]
network = "net"
fixed_ips = [ { subnet = "sub", ip_address = "10.40.0.1" } ]

[router.edge]
tenant = "t"
external_gateway = true
ports = ["gw"]

[port.vip]
network = "net"
fixed_ips = [ { subnet = "sub" } ]

[floating_ip.f]
tenant = "t"
port = "vip"

[instance.vm]
tenant = "t"
flavor = "m1.tiny"
image = "cirros"
subnet = "sub"
"#;
    write_specs(dir.path(), &[("all.toml", spec)]);
    let (code, out, err) = run_in(dir.path(), &["graph"]);
    assert_eq!(code, 0, "{err}");
    for edge in [
        "\"port.gw\" -> \"router.edge\"",
        "\"router.edge\" -> \"floating_ip.f\"",
        "\"router.edge\" -> \"instance.vm\"",
    ] {
        assert!(out.contains(edge), "{edge} missing:\n{out}");
    }
}

/// An interface port Neutron would refuse fails `validate` at the router's `ports`.
#[test]
fn interface_ports_neutron_refuses_are_located_errors() {
    let head = r#"
[tenant.t]

[network.net]
tenant = "t"

[subnet.sub]
network = "net"
cidr = "10.40.0.0/24"

[port.p]
network = "net"
fixed_ips = [ { subnet = "sub", ip_address = "10.40.0.2" } ]

[port.q]
network = "net"
fixed_ips = [ { subnet = "sub", ip_address = "10.40.0.3" } ]

[port.none]
network = "net"
fixed_ips = []
"#;
    let cases = [
        ("ports = [\"none\"]", "router.r: port.none has no fixed IP"),
        (
            "subnets = [\"sub\"]\nports = [\"p\"]",
            "router.r: port.p is on subnet.sub, which the router attaches in `subnets` too",
        ),
        (
            "ports = [\"p\", \"q\"]",
            "router.r: port.q and port.p are both on subnet.sub",
        ),
        (
            "ports = [\"p\"]\n\n[router.s]\ntenant = \"t\"\nports = [\"p\"]",
            "router.r: port.p is router.s's too",
        ),
    ];
    for (router, message) in cases {
        let dir = tempfile::tempdir().unwrap();
        let spec = format!("{head}\n[router.r]\ntenant = \"t\"\n{router}\n");
        write_specs(dir.path(), &[("all.toml", &spec)]);
        let (code, out, err) = run_in(dir.path(), &["validate"]);
        assert_eq!(code, 1, "{router}\n{out}\n{err}");
        assert!(err.contains(message), "{message}:\n{err}");
        let at = spec.find("ports = [").unwrap_or_default();
        let line = spec[..at].matches('\n').count() + 1;
        assert!(
            err.contains(&format!("all.toml:{line}:")),
            "at line {line}:\n{err}"
        );
    }
}
