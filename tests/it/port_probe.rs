//! The `port` kind against the embedded cloud: created tagged in its network's project with
//! its security group, converged, changed in place, destroyed. The instance's own port (tagged
//! `stackform:instance.vm`) is never taken for one of this kind.

use serde_json::Value;

use crate::cloud_api::CloudApi;
use crate::support::{SimProcess, run_env, write_specs};

const SPEC: &str = r#"
[provider]
cloud = "env"
external_network = "public"

[tenant.probe]
quotas = { vcpu = 8, instances = 4 }

[network.net]
tenant = "probe"

[subnet.sub]
network = "net"
cidr = "10.30.0.0/24"

[router.r]
tenant = "probe"
external_gateway = true
subnets = ["sub"]

[security_group.ssh]
tenant = "probe"
rules = [ { protocol = "tcp", port_range = "22", cidr = "10.0.0.0/8" } ]

[security_group.web]
tenant = "probe"
rules = [ { protocol = "tcp", port_range = "443", cidr = "0.0.0.0/0" } ]

[instance.vm]
tenant = "probe"
flavor = "m1.tiny"
image = "cirros"
subnet = "sub"
security_groups = ["ssh"]

[port.vip]
network = "net"
subnet = "sub"
description = "a virtual IP"
security_groups = ["GROUPS"]
"#;

fn spec(groups: &str) -> String {
    SPEC.replace("\"GROUPS\"", groups)
}

fn tags(port: &Value) -> Vec<&str> {
    port["tags"]
        .as_array()
        .map(|t| t.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn ids(values: &Value) -> Vec<String> {
    let mut ids: Vec<String> = values
        .as_array()
        .map(|t| {
            t.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_is_created_converged_updated_and_destroyed() {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimProcess::start(&dir.path().join("cloud"));
    let api = CloudApi::admin(sim.auth_url()).await;
    write_specs(dir.path(), &[("all.toml", &spec("\"ssh\""))]);
    let (code, out, err) = run_env(dir.path(), &["apply", "--auto-approve"], &sim.env);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("port.vip"), "{out}");

    let net = api.one("network", "/networks", "networks", "net").await;
    let sub = api.one("network", "/subnets", "subnets", "sub").await;
    let ssh = api
        .one("network", "/security-groups", "security_groups", "ssh")
        .await;
    let web = api
        .one("network", "/security-groups", "security_groups", "web")
        .await;
    let port = api.one("network", "/ports", "ports", "vip").await;
    assert_eq!(port["network_id"], net["id"]);
    assert_eq!(
        port["project_id"], net["project_id"],
        "in its network's project"
    );
    assert_eq!(port["fixed_ips"][0]["subnet_id"], sub["id"]);
    assert_eq!(port["description"], "a virtual IP");
    assert_eq!(port["admin_state_up"], true);
    assert_eq!(
        ids(&port["security_groups"]),
        ids(&serde_json::json!([ssh["id"]]))
    );
    let port_tags = tags(&port);
    assert!(port_tags.contains(&"stackform:port.vip"), "{port_tags:?}");
    assert!(
        port_tags
            .iter()
            .any(|t| t.starts_with("stackform-lineage:")),
        "{port_tags:?}"
    );

    // The instance's port is stackform's too, under the instance's address.
    let all = api.list("network", "/ports", "ports").await;
    let instance_ports: Vec<&Value> = all
        .iter()
        .filter(|p| tags(p).contains(&"stackform:instance.vm"))
        .collect();
    assert_eq!(instance_ports.len(), 1, "{all:?}");
    let port_kind: Vec<&Value> = all
        .iter()
        .filter(|p| tags(p).iter().any(|t| t.starts_with("stackform:port.")))
        .collect();
    assert_eq!(port_kind.len(), 1, "{all:?}");

    let (code, out, err) = run_env(dir.path(), &["plan", "--detailed-exitcode"], &sim.env);
    assert_eq!(code, 0, "converged after apply:\n{out}\n{err}");

    // security_groups change in place.
    write_specs(dir.path(), &[("all.toml", &spec("\"ssh\", \"web\""))]);
    let (code, out, err) = run_env(dir.path(), &["plan", "--detailed-exitcode"], &sim.env);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(out.contains("port.vip"), "{out}");
    assert!(
        out.contains("0 to add, 1 to change, 0 to destroy"),
        "only the port changes, in place:\n{out}"
    );
    let (code, out, err) = run_env(dir.path(), &["apply", "--auto-approve"], &sim.env);
    assert_eq!(code, 0, "{out}\n{err}");
    let updated = api.one("network", "/ports", "ports", "vip").await;
    assert_eq!(updated["id"], port["id"], "updated, not replaced");
    assert_eq!(
        ids(&updated["security_groups"]),
        ids(&serde_json::json!([ssh["id"], web["id"]]))
    );
    let (code, out, err) = run_env(dir.path(), &["plan", "--detailed-exitcode"], &sim.env);
    assert_eq!(code, 0, "converged after the update:\n{out}\n{err}");

    let (code, out, err) = run_env(dir.path(), &["destroy", "--auto-approve"], &sim.env);
    assert_eq!(code, 0, "{out}\n{err}");
    let left = api.list("network", "/ports?name=vip", "ports").await;
    assert!(left.is_empty(), "{left:?}");
    let left = api.list("network", "/networks?name=net", "networks").await;
    assert!(left.is_empty(), "{left:?}");

    // A subnet of another network fails the plan, before the old port is destroyed.
    let other = spec("\"ssh\"").replace(
        "[port.vip]\nnetwork = \"net\"",
        "[network.other]\ntenant = \"probe\"\n\n[subnet.osub]\nnetwork = \"other\"\ncidr = \"10.31.0.0/24\"\n\n[port.vip]\nnetwork = \"other\"",
    );
    write_specs(dir.path(), &[("all.toml", &other)]);
    let (code, out, err) = run_env(dir.path(), &["plan"], &sim.env);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains("port.vip: subnet.sub is on network.net, not on the port's network.other"),
        "{err}"
    );
}
