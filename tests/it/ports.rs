//! The `port` kind and `instance.ports`, from TOML, on both targets: the embedded cloud (a
//! `stackform sim` process) and the real OpenStack of `REAL_OS_OPENRC` (the `real_*` tests).
//! A port with a fixed IP, security groups and allowed address pairs is created, changed in
//! place, put back after a change behind stackform's back, has an instance booted on it, is
//! kept (detached) when that instance goes, and is destroyed after it. Bad fixed IPs and
//! address pairs fail in plan, located, before any call.

use reqwest::Method;
use serde_json::{Value, json};

pub(crate) use crate::scenario::Target;
use crate::scenario::{Scenario, Setup};

pub(crate) struct Cloud(Scenario);

impl std::ops::Deref for Cloud {
    type Target = Scenario;
    fn deref(&self) -> &Scenario {
        &self.0
    }
}

impl std::ops::DerefMut for Cloud {
    fn deref_mut(&mut self) -> &mut Scenario {
        &mut self.0
    }
}

impl Cloud {
    pub(crate) async fn start(target: Target) -> Option<Cloud> {
        Scenario::start(target, Setup::new("ports", "sf-port"))
            .await
            .map(Cloud)
    }

    /// The spec: `body` after the provider, tenant, network, subnet, router and groups.
    pub(crate) fn spec(&self, body: &str) {
        let head = format!(
            r#"[provider]
cloud = "env"
external_network = "{ext}"
timeout = "300s"

[tenant.t]
name = "{tenant}"
quotas = {{ instances = 4, vcpu = 8, ram = 16384, port_count = 20 }}

[network.net]
tenant = "t"

[subnet.sub]
network = "net"
cidr = "10.40.0.0/24"

[router.r]
tenant = "t"
external_gateway = true
subnets = ["sub"]

[security_group.ssh]
tenant = "t"
rules = [ {{ protocol = "tcp", port_range = "22", cidr = "10.0.0.0/8" }} ]

[security_group.web]
tenant = "t"
rules = [ {{ protocol = "tcp", port_range = "443", cidr = "0.0.0.0/0" }} ]
"#,
            ext = self.external_network,
            tenant = self.tenant,
        );
        self.write(&[("all.toml", &format!("{head}\n{body}"))]);
    }

    pub(crate) async fn port(&self, project: &str, name: &str) -> Value {
        self.owned(project, "ports", "ports", name).await
    }
}

fn vip(ip: &str, pairs: &str, description: &str, up: bool) -> String {
    format!(
        r#"
[port.vip]
network = "net"
description = "{description}"
fixed_ips = [ {{ subnet = "sub", ip_address = "{ip}" }} ]
security_groups = ["ssh"]
allowed_address_pairs = [ {pairs} ]
admin_state_up = {up}
"#
    )
}

fn instance(flavor: &str) -> String {
    format!(
        r#"
[instance.vm]
tenant = "t"
flavor = "{flavor}"
image = "cirros"
ports = ["vip"]
"#
    )
}

const PAIRS: &str = r#"{ ip_address = "10.40.0.100" }, { ip_address = "10.41.0.0/24", mac_address = "fa:16:3e:00:00:01" }"#;

/// (ip_address, mac_address) of a port's pairs, sorted.
fn pairs(port: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = port["allowed_address_pairs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            (
                p["ip_address"].as_str().unwrap_or_default().to_string(),
                p["mac_address"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

fn fixed_ips(port: &Value) -> Vec<String> {
    port["fixed_ips"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|ip| ip["ip_address"].as_str().map(str::to_string))
        .collect()
}

async fn lifecycle(target: Target) {
    let Some(mut cloud) = Cloud::start(target).await else {
        return;
    };
    let body = format!(
        "{}{}",
        vip("10.40.0.10", PAIRS, "a virtual IP", true),
        instance(cloud.flavor)
    );
    cloud.spec(&body);
    let out = cloud.apply();
    assert!(out.contains("port.vip"), "{out}");
    let project = cloud.project_id().await;
    let net = cloud.owned(&project, "networks", "networks", "net").await;
    let sub = cloud.owned(&project, "subnets", "subnets", "sub").await;
    let ssh = cloud
        .owned(&project, "security-groups", "security_groups", "ssh")
        .await;
    let port = cloud.port(&project, "vip").await;
    assert_eq!(port["network_id"], net["id"]);
    assert_eq!(
        port["project_id"],
        json!(project),
        "in its network's project"
    );
    assert_eq!(
        port["fixed_ips"],
        json!([{"subnet_id": sub["id"], "ip_address": "10.40.0.10"}])
    );
    assert_eq!(port["security_groups"], json!([ssh["id"]]));
    assert_eq!(port["description"], "a virtual IP");
    let mac = port["mac_address"].as_str().unwrap_or_default().to_string();
    assert_eq!(
        pairs(&port),
        [
            ("10.40.0.100".to_string(), mac.clone()),
            ("10.41.0.0/24".to_string(), "fa:16:3e:00:00:01".to_string())
        ]
    );
    let tags: Vec<&str> = port["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    assert!(tags.contains(&"stackform:port.vip"), "{tags:?}");
    // The instance booted on the port, and has no port of its own.
    let servers = cloud
        .api
        .list(
            "compute",
            &format!("/servers?all_tenants=1&project_id={project}&name=vm"),
            "servers",
        )
        .await;
    assert_eq!(servers.len(), 1, "{servers:?}");
    let server_id = servers[0]["id"].clone();
    assert_eq!(port["device_id"], server_id, "{port}");
    let bound = cloud
        .api
        .list(
            "network",
            &format!(
                "/ports?device_id={}",
                server_id.as_str().unwrap_or_default()
            ),
            "ports",
        )
        .await;
    assert_eq!(bound.len(), 1, "only the port of the spec: {bound:?}");
    cloud.assert_converged("after the first apply");
    // A pair written with the port's own MAC (in any case) is the pair written without one.
    let own_mac_pairs = PAIRS.replace(
        r#"{ ip_address = "10.40.0.100" }"#,
        &format!(
            r#"{{ ip_address = "10.40.0.100", mac_address = "{}" }}"#,
            mac.to_ascii_uppercase()
        ),
    );
    assert_ne!(own_mac_pairs, PAIRS);
    cloud.spec(&format!(
        "{}{}",
        vip("10.40.0.10", &own_mac_pairs, "a virtual IP", true),
        instance(cloud.flavor)
    ));
    cloud.assert_converged("with the port's own MAC written in a pair");

    // Changed in place: the address, the pairs, the groups, the description, the state.
    let moved = format!(
        "{}{}",
        vip(
            "10.40.0.11",
            r#"{ ip_address = "10.40.0.101" }"#,
            "moved",
            false
        ),
        instance(cloud.flavor)
    )
    .replace(
        "security_groups = [\"ssh\"]",
        "security_groups = [\"ssh\", \"web\"]",
    );
    cloud.spec(&moved);
    let (code, out, err) = cloud.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        out.contains("0 to add, 1 to change, 0 to destroy"),
        "only the port changes, in place:\n{out}"
    );
    for attr in [
        "fixed_ips",
        "allowed_address_pairs",
        "security_groups",
        "description",
        "admin_state_up",
    ] {
        assert!(out.contains(attr), "{attr} in the plan:\n{out}");
    }
    cloud.apply();
    let after = cloud.port(&project, "vip").await;
    assert_eq!(after["id"], port["id"], "updated, not replaced");
    assert_eq!(fixed_ips(&after), ["10.40.0.11"]);
    assert_eq!(pairs(&after), [("10.40.0.101".to_string(), mac.clone())]);
    assert_eq!(after["security_groups"].as_array().map(Vec::len), Some(2));
    assert_eq!(after["admin_state_up"], false);
    assert_eq!(after["device_id"], server_id, "still the instance's");
    cloud.assert_converged("after the change");

    // Drift: changed behind stackform's back, shown and put back.
    cloud
        .api
        .send(
            Method::PUT,
            "network",
            &format!("/ports/{}", port["id"].as_str().unwrap_or_default()),
            json!({"port": {"description": "by hand", "allowed_address_pairs": []}}),
            &[200],
        )
        .await;
    let (code, out, err) = cloud.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(out.contains("port.vip"), "{out}");
    assert!(out.contains("by hand"), "the drift is shown:\n{out}");
    assert!(out.contains("0 to add, 1 to change, 0 to destroy"), "{out}");
    cloud.apply();
    let corrected = cloud.port(&project, "vip").await;
    assert_eq!(corrected["description"], "moved");
    assert_eq!(
        pairs(&corrected),
        [("10.40.0.101".to_string(), mac.clone())]
    );
    cloud.assert_converged("after the drift is corrected");

    // The instance goes, the port stays: Nova detaches a port it did not make.
    let without_vm = vip(
        "10.40.0.11",
        r#"{ ip_address = "10.40.0.101" }"#,
        "moved",
        false,
    )
    .replace(
        "security_groups = [\"ssh\"]",
        "security_groups = [\"ssh\", \"web\"]",
    );
    cloud.spec(&without_vm);
    let out = cloud.apply();
    assert!(out.contains("0 added, 0 changed, 1 destroyed"), "{out}");
    let kept = cloud.port(&project, "vip").await;
    assert_eq!(kept["id"], port["id"], "kept");
    assert_eq!(kept["device_id"], "", "detached: {kept}");
    assert_eq!(fixed_ips(&kept), ["10.40.0.11"], "with its address");
    cloud.assert_converged("after the instance is gone");

    // Booted again, then everything destroyed: the instance before its port.
    cloud.spec(&format!("{without_vm}{}", instance(cloud.flavor)));
    cloud.apply();
    let (code, out, err) = cloud.run(&["destroy", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    cloud.destroyed = true;
    let vm_gone = out.find("instance.vm: Destroying...");
    let port_gone = out.find("port.vip: Destroying...");
    assert!(
        vm_gone.is_some() && vm_gone < port_gone,
        "the instance goes before its port:\n{out}"
    );
    let left = cloud
        .api
        .list(
            "network",
            &format!("/ports?project_id={project}&name=vip"),
            "ports",
        )
        .await;
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_is_created_changed_in_place_corrected_booted_on_and_destroyed() {
    lifecycle(Target::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_a_port_is_created_changed_in_place_corrected_booted_on_and_destroyed() {
    lifecycle(Target::Real).await;
}

/// Each bad spec fails `plan` (and `validate`) at its line and column, and nothing is made.
async fn bad_addresses_fail_in_plan(target: Target) {
    let Some(mut cloud) = Cloud::start(target).await else {
        return;
    };
    cloud.destroyed = true;
    let other = r#"
[port.other]
network = "net"
fixed_ips = [ { subnet = "sub", ip_address = "10.40.0.10" } ]
"#;
    let cases: [(&str, String, &str); 6] = [
        (
            "the router's gateway",
            vip("10.40.0.1", PAIRS, "x", true),
            "port.vip: fixed IP 10.40.0.1 is subnet.sub's gateway, which router.r's interface takes",
        ),
        (
            "outside its subnet",
            vip("10.99.0.10", PAIRS, "x", true),
            "port.vip: fixed IP 10.99.0.10 is outside subnet.sub's 10.40.0.0/24",
        ),
        (
            "taken by another port",
            format!("{other}{}", vip("10.40.0.10", PAIRS, "x", true)),
            "port.vip: fixed IP 10.40.0.10 on subnet.sub is already port.other's",
        ),
        (
            "an invalid pair address",
            vip("10.40.0.10", r#"{ ip_address = "10.0.0.1/33" }"#, "x", true),
            "invalid address `10.0.0.1/33` in `allowed_address_pairs`",
        ),
        (
            "an invalid pair MAC",
            vip(
                "10.40.0.10",
                r#"{ ip_address = "10.0.0.1", mac_address = "zz" }"#,
                "x",
                true,
            ),
            "invalid MAC address `zz` in `allowed_address_pairs`",
        ),
        (
            "port security off with groups",
            vip("10.40.0.10", "", "x", true).replace(
                "admin_state_up = true",
                "admin_state_up = true\nport_security_enabled = false",
            ),
            "port.vip: port_security_enabled = false leaves no room for security groups",
        ),
    ];
    for (what, body, message) in cases {
        cloud.spec(&body);
        let text =
            std::fs::read_to_string(cloud.dir.path().join("specs/all.toml")).unwrap_or_default();
        for command in [&["plan"][..], &["validate"]] {
            let (code, out, err) = cloud.run(command);
            assert_eq!(code, 1, "{what}: {command:?}\n{out}\n{err}");
            assert!(err.contains(message), "{what}: {command:?}\n{err}");
            // Located: the file, and the line of the offending value.
            let (needle, last) = match what {
                "outside its subnet" => ("10.99.0.10", false),
                "the router's gateway" => ("\"10.40.0.1\"", false),
                "taken by another port" => ("ip_address = \"10.40.0.10\"", true),
                "an invalid pair address" => ("10.0.0.1/33", false),
                "an invalid pair MAC" => ("\"zz\"", false),
                _ => ("security_groups = [\"ssh\"]", false),
            };
            let at = if last {
                text.rfind(needle)
            } else {
                text.find(needle)
            };
            let line = at.map_or(0, |at| text[..at].matches('\n').count() + 1);
            assert!(
                err.contains(&format!("all.toml:{line}:")),
                "{what}: at line {line}:\n{err}"
            );
        }
    }
    // Nothing was made: no project of that name, so nothing in it.
    let projects = cloud
        .api
        .list(
            "identity",
            &format!("/projects?name={}", cloud.tenant),
            "projects",
        )
        .await;
    assert!(projects.is_empty(), "{projects:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_fixed_ips_and_address_pairs_fail_in_plan_located() {
    bad_addresses_fail_in_plan(Target::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_bad_fixed_ips_and_address_pairs_fail_in_plan_located() {
    bad_addresses_fail_in_plan(Target::Real).await;
}

/// `subnet` and `ports` are exclusive, and a tenant's `ports` quota counts ports of the spec
/// and the instances' own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_ports_and_the_ports_quota_are_checked_in_plan() {
    let Some(mut cloud) = Cloud::start(Target::Embedded).await else {
        return;
    };
    cloud.destroyed = true;
    let both = format!(
        "{}{}subnet = \"sub\"\n",
        vip("10.40.0.10", "", "x", true),
        instance("m1.tiny")
    );
    cloud.spec(&both);
    let (code, _, err) = cloud.run(&["validate"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("instance.vm: sets both `subnet` and `ports`"),
        "{err}"
    );
    let neither = instance("m1.tiny").replace("ports = [\"vip\"]\n", "");
    cloud.spec(&neither);
    let (code, _, err) = cloud.run(&["validate"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("instance.vm: needs `subnet` or `ports`"),
        "{err}"
    );

    let over = format!(
        "{}\n[instance.other]\ntenant = \"t\"\nflavor = \"m1.tiny\"\nimage = \"cirros\"\nsubnet = \"sub\"\n",
        vip("10.40.0.10", "", "x", true)
    );
    cloud.spec(&over);
    let spec = std::fs::read_to_string(cloud.dir.path().join("specs/all.toml")).unwrap_or_default();
    std::fs::write(
        cloud.dir.path().join("specs/all.toml"),
        spec.replace("port_count = 20", "port_count = 1"),
    )
    .unwrap();
    let (code, out, err) = cloud.run(&["plan"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains("tenant.t: the spec makes 2 ports but quotas.port_count is 1"),
        "{err}"
    );
}

/// Moving a port to another network replaces it, and the instance booted on it with it: the
/// instance goes first, the new port comes before the new instance.
async fn moved_port(target: Target) {
    let Some(cloud) = Cloud::start(target).await else {
        return;
    };
    let second = r#"
[network.net2]
tenant = "t"

[subnet.sub2]
network = "net2"
cidr = "10.42.0.0/24"
"#;
    let on_first = format!(
        "{second}{}{}",
        vip("10.40.0.10", "", "x", true),
        instance(cloud.flavor)
    );
    cloud.spec(&on_first);
    cloud.apply();
    let project = cloud.project_id().await;
    let before = cloud.port(&project, "vip").await;
    let on_second = on_first
        .replace(
            "network = \"net\"\ndescription",
            "network = \"net2\"\ndescription",
        )
        .replace(
            "{ subnet = \"sub\", ip_address = \"10.40.0.10\" }",
            "{ subnet = \"sub2\", ip_address = \"10.42.0.10\" }",
        );
    cloud.spec(&on_second);
    let (code, out, err) = cloud.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(out.contains("2 to add, 0 to change, 2 to destroy"), "{out}");
    let out = cloud.apply();
    let vm_gone = out.find("instance.vm: Destroying...");
    let port_gone = out.find("port.vip: Destroying...");
    assert!(
        vm_gone.is_some() && vm_gone < port_gone,
        "the instance goes before its port:\n{out}"
    );
    let after = cloud.port(&project, "vip").await;
    assert_ne!(after["id"], before["id"]);
    assert_eq!(fixed_ips(&after), ["10.42.0.10"]);
    let server = cloud
        .api
        .list(
            "compute",
            &format!("/servers?all_tenants=1&project_id={project}&name=vm"),
            "servers",
        )
        .await;
    assert_eq!(server.len(), 1, "{server:?}");
    assert_eq!(
        after["device_id"], server[0]["id"],
        "booted on the new port"
    );
    cloud.assert_converged("after the move");

    // Drift of `ports`: the port detached from the server behind stackform's back. Nova
    // detaches asynchronously: the port is unbound once it is done.
    let (server_id, port_id) = (
        server[0]["id"].as_str().unwrap_or_default(),
        after["id"].as_str().unwrap_or_default(),
    );
    let (status, answer) = cloud
        .api
        .request(
            Method::DELETE,
            "compute",
            &format!("/servers/{server_id}/os-interface/{port_id}"),
            None,
        )
        .await;
    assert_eq!(status, 202, "{answer}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while cloud.port(&project, "vip").await["device_id"] != "" {
        assert!(
            std::time::Instant::now() < deadline,
            "the port never came off"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let (code, out, err) = cloud.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(out.contains("instance.vm must be replaced"), "{out}");
    assert!(out.contains("ports"), "{out}");
    assert!(out.contains("1 to add, 0 to change, 1 to destroy"), "{out}");
    cloud.apply();
    let rebooted = cloud.port(&project, "vip").await;
    assert_ne!(rebooted["device_id"], "", "booted on it again: {rebooted}");
    cloud.assert_converged("after the detached port is booted on again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_moved_to_another_network_replaces_its_instance_too() {
    moved_port(Target::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_a_port_moved_to_another_network_replaces_its_instance_too() {
    moved_port(Target::Real).await;
}

/// A lost state is rebuilt from the ownership tags: the port is adopted as `port.vip` (not
/// taken for the instance's), the instance as booted on it, and the plan is empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_state_adopts_the_port_and_the_instance_on_it_by_tag() {
    let Some(mut cloud) = Cloud::start(Target::Embedded).await else {
        return;
    };
    cloud.destroyed = true;
    cloud.spec(&format!(
        "{}{}",
        vip("10.40.0.10", PAIRS, "x", true),
        instance("m1.tiny")
    ));
    cloud.apply();
    let project = cloud.project_id().await;
    let port = cloud.port(&project, "vip").await;
    let lineage = port["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .find_map(|t| t.strip_prefix("stackform-lineage:"))
        .unwrap_or_default()
        .to_string();
    std::fs::remove_dir_all(cloud.dir.path().join("state")).unwrap();
    let (code, out, err) = cloud.run(&["state", "recover", "--lineage", &lineage]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) = cloud.run(&["state", "list"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("port.vip") && out.contains("instance.vm"),
        "{out}"
    );
    // The tenant user's password went with the state folder: the first apply adopts the user
    // with a new one (state_safety shows that plan), and nothing else changes.
    let out = cloud.apply();
    assert!(out.contains("0 added, 1 changed, 0 destroyed"), "{out}");
    cloud.assert_converged("after the recovery");

    // `security_groups` belongs to the ports of an instance booted on ports.
    cloud.spec(&format!(
        "{}{}security_groups = [\"ssh\"]\n",
        vip("10.40.0.10", PAIRS, "x", true),
        instance("m1.tiny")
    ));
    let (code, _, err) = cloud.run(&["validate"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("instance.vm: `security_groups` applies to the port stackform makes"),
        "{err}"
    );
}
